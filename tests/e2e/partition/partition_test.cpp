// The whole system through a network partition: kedge-apiserver (with its controllers: node
// lifecycle with a short grace period) and cloudcore on the host, bound to a bridge the test
// makes; two edge nodes A and B, each an edgecore plus its own containerd inside its own network
// namespace, linked to the bridge by a veth. A's link is cut for a while:
// - A's pods keep running and A's meta server keeps answering; B is unaffected;
// - the API marks A NotReady, but (edge autonomy) its pods are not evicted;
// - what changed in the cloud meanwhile reaches A after the link returns, as a delta;
// - what A reported while cut (a container restarting) reaches the cloud;
// - A is Ready again and its pods were not recreated (same container IDs).

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <filesystem>
#include <functional>
#include <map>
#include <regex>
#include <sstream>
#include <thread>

#include "support/cri_env.hpp"
#include "support/test_network.hpp"
#include "support/test_support.hpp"

namespace kedge::e2e {
namespace {

namespace json = boost::json;
using kedge::test::CriEnv;
using kedge::test::in_netns;
using kedge::test::Process;
using kedge::test::read_file;
using kedge::test::run_command;
using kedge::test::TestNetwork;
using kedge::test::write_file;
using namespace std::chrono_literals;

bool eventually(const std::function<bool()>& cond, std::chrono::milliseconds limit) {
    auto end = std::chrono::steady_clock::now() + limit;
    for (;;) {
        if (cond()) return true;
        if (std::chrono::steady_clock::now() >= end) return false;
        std::this_thread::sleep_for(200ms);
    }
}

struct EdgeNode {
    std::string name, dir, address;
    std::unique_ptr<CriEnv> cri;
    std::unique_ptr<Process> edgecore;
    int meta_port = 0, monitor_port = 0, kubelet_port = 0;
    std::string log() const { return dir + "/edgecore.log"; }
};

class PartitionTest : public ::testing::Test {
protected:
    void SetUp() override {
        std::string reason;
        if (!CriEnv::missing_capability().empty() && !kedge::test::cri_env_must_run())
            GTEST_SKIP() << "containerd cannot run here: " << CriEnv::missing_capability();
        net_ = TestNetwork::create(&reason);
        ASSERT_TRUE(net_) << reason;

        // The API server with the node lifecycle controller on a short grace period.
        apiserver_ = kedge::test::start_kedge_apiserver(
            {"--data-dir", dir_.file("apiserver"), "--bind-address", "127.0.0.1", "--secure-port",
             "0", "--controllers", "*", "--node-monitor-period", "1s",
             "--node-monitor-grace-period", "8s", "--log-level", "warn"},
            kubeconfig(), dir_.file("apiserver.log"), &reason);
        ASSERT_TRUE(apiserver_) << reason;
        kubectl_ok("apply -R -f " + kedge::test::source_path("deploy/crds"));

        // cloudcore on the bridge address (what the namespaces reach).
        hub_port_ = kedge::test::free_port();
        cert_port_ = kedge::test::free_port();
        std::ostringstream y;
        y << "apiVersion: cloudcore.config.kubeedge.io/v1alpha1\nkind: CloudCore\n"
          << "kubeAPIConfig:\n  kubeConfig: " << kubeconfig() << "\n"
          << "commonConfig:\n  monitorServer:\n    bindAddress: 127.0.0.1:"
          << kedge::test::free_port() << "\n"
          << "modules:\n  cloudHub:\n    advertiseAddress: [" << net_->host_address() << "]\n"
          << "    keepaliveInterval: 6\n"
          << "    websocket: {address: " << net_->host_address() << ", port: " << hub_port_
          << "}\n"
          << "    https: {address: " << net_->host_address() << ", port: " << cert_port_ << "}\n"
          << "    unixsocket: {enable: false}\n";
        write_file(dir_.file("cloudcore.yaml"), y.str());
        cloudcore_ = std::make_unique<Process>(
            std::vector<std::string>{kedge::test::build_path("apps/cloudcore/cloudcore"),
                                     "--config", dir_.file("cloudcore.yaml")},
            dir_.file("cloudcore.log"));
        ASSERT_TRUE(eventually(
            [&] { return read_file(dir_.file("cloudcore.log")).find("cloudcore serving") !=
                         std::string::npos; },
            30s))
            << read_file(dir_.file("cloudcore.log"));
    }

    void TearDown() override {
        for (auto& [name, n] : nodes_)
            if (n.edgecore) n.edgecore->stop();
        if (HasFailure())
            for (auto& [name, n] : nodes_)
                std::cerr << "---- edgecore " << name << " (tail) ----\n"
                          << tail(read_file(n.log()), 6000);
        nodes_.clear();  // CriEnvs: pods, containerd, netns
        if (cloudcore_) cloudcore_->stop();
        if (apiserver_) apiserver_->stop();
        net_.reset();
    }

    static std::string tail(const std::string& s, std::size_t n) {
        return s.size() <= n ? s : s.substr(s.size() - n);
    }
    std::string kubeconfig() const { return dir_.file("kubeconfig"); }
    kedge::test::CommandResult kubectl(const std::string& args) {
        return run_command("kubectl --kubeconfig " + kubeconfig() + " --request-timeout=20s " +
                           args + " 2>&1");
    }
    std::string kubectl_ok(const std::string& args) {
        auto r = kubectl(args);
        EXPECT_EQ(r.exit_code, 0) << "kubectl " << args << "\n" << r.output;
        return r.output;
    }
    json::value get_json(const std::string& what) {
        auto r = run_command("kubectl --kubeconfig " + kubeconfig() +
                             " --request-timeout=20s get " + what + " -o json 2>/dev/null");
        if (r.exit_code != 0) return nullptr;
        boost::system::error_code ec;
        auto v = json::parse(r.output, ec);
        return ec ? json::value(nullptr) : v;
    }
    std::string token() {
        return run_command("kubectl --kubeconfig " + kubeconfig() +
                           " get secret -n kubeedge tokensecret -o "
                           "jsonpath='{.data.tokendata}' | base64 -d")
            .output;
    }
    std::string node_ready(const std::string& node) {
        auto v = get_json("node " + node);
        if (!v.is_object()) return "";
        for (const auto& c : v.at("status").at("conditions").as_array())
            if (c.at("type") == "Ready") return std::string(c.at("status").as_string());
        return "";
    }
    json::value container_status(const std::string& pod) {
        auto p = get_json("pod " + pod);
        if (!p.is_object()) return nullptr;
        auto* cs = p.at("status").as_object().if_contains("containerStatuses");
        if (!cs || !cs->is_array() || cs->as_array().empty()) return nullptr;
        return cs->as_array()[0];
    }
    bool running(const std::string& pod) {
        auto cs = container_status(pod);
        return cs.is_object() && cs.at("state").as_object().contains("running");
    }
    void pod_on(const std::string& name, const std::string& node, const std::string& image,
                const std::string& command) {
        std::string path = dir_.file("pod-" + name + ".yaml");
        write_file(path, "apiVersion: v1\nkind: Pod\nmetadata:\n  name: " + name +
                             "\n  namespace: default\nspec:\n  nodeName: " + node +
                             "\n  terminationGracePeriodSeconds: 2\n  containers:\n  - name: c\n"
                             "    image: " + image + "\n    command: " + command + "\n");
        kubectl_ok("apply -f " + path);
    }

    // A node: containerd in its own netns, linked to the bridge, and edgecore inside it.
    EdgeNode& start_node(const std::string& name) {
        auto& n = nodes_[name];
        n.name = name;
        n.dir = dir_.file("node-" + name);
        std::filesystem::create_directories(n.dir);
        std::string reason;
        bool unsupported = false;
        CriEnv::Options o;
        o.own_netns = true;
        n.cri = CriEnv::start(name, &reason, &unsupported, o);
        EXPECT_TRUE(n.cri) << reason;
        if (!n.cri) return n;
        n.address = net_->attach(n.cri->netns(), &reason);
        EXPECT_FALSE(n.address.empty()) << reason;
        n.meta_port = kedge::test::free_port();
        n.monitor_port = kedge::test::free_port();
        n.kubelet_port = kedge::test::free_port();
        std::ostringstream y;
        y << "apiVersion: edgecore.config.kubeedge.io/v1alpha2\nkind: EdgeCore\n"
          << "database:\n  dataSource: " << n.dir << "/edgecore.db\n"
          << "modules:\n  edged:\n    hostnameOverride: " << name << "\n    nodeIP: " << n.address
          << "\n    rootDirectory: " << n.dir << "/kubelet\n"
          << "    tailoredKubeletConfig:\n      nodeStatusUpdateFrequency: 1s\n"
          << "      containerRuntimeEndpoint: " << n.cri->endpoint() << "\n"
          << "      cgroupRoot: " << n.cri->cgroup_parent() << "\n"
          << "      readOnlyPort: " << n.kubelet_port << "\n"
          << "      staticPodPath: " << n.dir << "/manifests\n"
          << "  edgeHub:\n    heartbeat: 2\n"
          << "    tlsCaFile: " << n.dir << "/ca/rootCA.crt\n"
          << "    tlsCertFile: " << n.dir << "/certs/server.crt\n"
          << "    tlsPrivateKeyFile: " << n.dir << "/certs/server.key\n"
          << "    token: " << token() << "\n"
          << "    httpServer: https://" << net_->host_address() << ":" << cert_port_ << "\n"
          << "    websocket:\n      server: " << net_->host_address() << ":" << hub_port_
          << "\n      readDeadline: 3\n      writeDeadline: 3\n"
          << "  metaManager:\n    metaServer:\n      server: 127.0.0.1:" << n.meta_port << "\n"
          << "kedge:\n  monitorServer:\n    bindAddress: 127.0.0.1:" << n.monitor_port << "\n"
          << "  reconnect:\n    initialBackoff: 200ms\n    maxBackoff: 1s\n"
          << "  containerBackoffInitial: 1s\n  containerBackoffMax: 2s\n"
          << "  podLogsDirectory: " << n.dir << "/log/pods\n"
          << "  containerLogsDirectory: " << n.dir << "/log/containers\n";
        write_file(n.dir + "/edgecore.yaml", y.str());
        n.edgecore = std::make_unique<Process>(
            std::vector<std::string>{"nsenter", "--net=/var/run/netns/" + n.cri->netns(),
                                     kedge::test::build_path("apps/edgecore/edgecore"), "--config",
                                     n.dir + "/edgecore.yaml"},
            n.log());
        return n;
    }

    std::string meta_get(const EdgeNode& n, const std::string& path) {
        return in_netns(n.cri->netns(), "curl -s -m 5 http://127.0.0.1:" +
                                            std::to_string(n.meta_port) + path)
            .output;
    }
    double edge_metric(const EdgeNode& n, const std::string& name) {
        auto text = in_netns(n.cri->netns(), "curl -s -m 5 http://127.0.0.1:" +
                                                 std::to_string(n.monitor_port) + "/metrics")
                        .output;
        std::istringstream in(text);
        std::string line;
        while (std::getline(in, line))
            if (line.rfind(name + " ", 0) == 0) return std::stod(line.substr(name.size() + 1));
        return -1;
    }

    kedge::test::TempDir dir_;
    std::unique_ptr<TestNetwork> net_;
    std::unique_ptr<Process> apiserver_, cloudcore_;
    int hub_port_ = 0, cert_port_ = 0;
    std::map<std::string, EdgeNode> nodes_;
};

TEST_F(PartitionTest, AnEdgeNodeCutFromTheCloudKeepsWorkingAndCatchesUp) {
    auto& a = start_node("edge-a");
    auto& b = start_node("edge-b");
    ASSERT_FALSE(HasFailure());
    ASSERT_TRUE(eventually([&] { return node_ready("edge-a") == "True" &&
                                        node_ready("edge-b") == "True"; }, 90s))
        << kubectl("get nodes -o wide").output << read_file(a.log());

    const std::string image = a.cri->busybox_image();
    // Both envs run their own registry-less netns containerd with the images imported under the
    // same names as their own loopback registry's; use each node's own image name.
    pod_on("a-keep", "edge-a", image, "[sleep, '3600']");
    pod_on("a-tick", "edge-a", image, "[sh, -c, 'sleep 3; exit 1']");
    pod_on("b-keep", "edge-b", b.cri->busybox_image(), "[sleep, '3600']");
    ASSERT_TRUE(eventually([&] { return running("a-keep") && running("b-keep"); }, 90s))
        << kubectl("get pods -o wide").output;
    auto keep_id = container_status("a-keep").at("containerID");
    ASSERT_TRUE(eventually([&] { return container_status("a-tick").is_object(); }, 30s));
    auto tick_before = container_status("a-tick").at("restartCount").as_int64();

    // ---- the cut ----
    ASSERT_TRUE(net_->cut(a.cri->netns()));
    ASSERT_TRUE(eventually([&] { return edge_metric(a, "edgecore_cloud_connected") == 0; }, 30s))
        << read_file(a.log());
    // The API notices A is gone (edge autonomy: no eviction).
    ASSERT_TRUE(eventually([&] { return node_ready("edge-a") == "Unknown"; }, 60s))
        << kubectl("get node edge-a -o yaml").output;
    // A keeps working: its pods run, its meta server answers.
    EXPECT_NE(meta_get(a, "/api/v1/namespaces/default/pods/a-keep").find("\"a-keep\""),
              std::string::npos);
    auto tasks = in_netns(a.cri->netns(), "ctr -a " + a.cri->socket_path() +
                                              " -n k8s.io tasks ls");
    EXPECT_NE(tasks.output.find("RUNNING"), std::string::npos) << tasks.output;
    // B is unaffected.
    EXPECT_EQ(node_ready("edge-b"), "True");
    pod_on("b-new", "edge-b", b.cri->busybox_image(), "[sleep, '3600']");
    EXPECT_TRUE(eventually([&] { return running("b-new"); }, 60s))
        << kubectl("get pods -o wide").output;
    // The cloud changes what A should run meanwhile.
    pod_on("a-new", "edge-a", image, "[sleep, '3600']");
    kubectl_ok("label pod a-keep partition=seen");
    // A's ticking container restarts while cut (reported later).
    std::this_thread::sleep_for(8s);

    // ---- the link returns ----
    ASSERT_TRUE(net_->restore(a.cri->netns()));
    ASSERT_TRUE(eventually([&] { return node_ready("edge-a") == "True"; }, 60s))
        << kubectl("get node edge-a -o yaml").output << read_file(a.log());
    // The delta reached A: the new pod runs there, the label is in its local store.
    EXPECT_TRUE(eventually([&] { return running("a-new"); }, 60s))
        << kubectl("get pods -o wide").output;
    EXPECT_TRUE(eventually([&] {
        return meta_get(a, "/api/v1/namespaces/default/pods/a-keep").find("\"partition\":\"seen\"") !=
               std::string::npos;
    }, 30s));
    std::smatch m;
    std::string log = read_file(a.log());
    std::regex level(R"(level with the cloud: (\d+) inserted, (\d+) updated, (\d+) deleted, (\d+) unchanged)");
    std::string last;
    for (auto it = std::sregex_iterator(log.begin(), log.end(), level); it != std::sregex_iterator();
         ++it)
        last = it->str();
    ASSERT_TRUE(std::regex_search(last, m, level)) << log;
    EXPECT_GE(std::stoi(m[1]), 1) << last;  // a-new
    EXPECT_GE(std::stoi(m[4]), 1) << last;  // what did not change was not sent again
    // What A reported while cut reached the cloud.
    EXPECT_TRUE(eventually([&] {
        auto cs = container_status("a-tick");
        return cs.is_object() && cs.at("restartCount").as_int64() > tick_before;
    }, 30s)) << kubectl("get pod a-tick -o yaml").output;
    // Not recreated: same container, no restart.
    auto after = container_status("a-keep");
    EXPECT_EQ(after.at("containerID"), keep_id);
    EXPECT_EQ(after.at("restartCount"), 0);
    EXPECT_TRUE(running("b-keep"));
}

}  // namespace
}  // namespace kedge::e2e
