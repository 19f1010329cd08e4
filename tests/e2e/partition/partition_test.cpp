// The whole system through a network partition, installed the way users install it: kedge-apiserver
// (with its controllers: node lifecycle with a short grace period) on the host, then
// `keadm init --kube-config` (CRDs, cloudcore bound to a bridge the test makes); two edge nodes A
// and B, each its own containerd inside its own network namespace, linked to the bridge by a veth,
// joined with `keadm join` run inside that namespace (preflight checks, certificates,
// edgecore.yaml, supervised edgecore, waits Ready). A's link is cut for a while:
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
    bool joined = false;
    int meta_port = 0, monitor_port = 0, kubelet_port = 0;
    std::string root() const { return dir + "/root"; }
    std::string log() const { return root() + "/var/log/kubeedge/edgecore.log"; }
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

        // keadm init against that cluster: CRDs, cloudcore.yaml, supervised cloudcore on the
        // bridge address (what the namespaces reach).
        hub_port_ = kedge::test::free_port();
        cert_port_ = kedge::test::free_port();
        auto init = keadm("init --root-dir " + cloud_root() + " --kube-config " + kubeconfig() +
                          " --advertise-address " + net_->host_address() + " --hub-port " +
                          std::to_string(hub_port_) + " --cert-port " +
                          std::to_string(cert_port_) + " --metrics-port " +
                          std::to_string(kedge::test::free_port()) +
                          " --set modules.cloudHub.keepaliveInterval=6");
        ASSERT_EQ(init.exit_code, 0) << init.output;
        cloud_installed_ = true;
    }

    void TearDown() override {
        for (auto& [name, n] : nodes_)
            if (n.joined) keadm("reset edge --root-dir " + n.root());
        if (HasFailure())
            for (auto& [name, n] : nodes_)
                std::cerr << "---- edgecore " << name << " (tail) ----\n"
                          << tail(read_file(n.log()), 6000);
        nodes_.clear();  // CriEnvs: pods, containerd, netns
        if (cloud_installed_) keadm("reset cloud --root-dir " + cloud_root());
        if (apiserver_) apiserver_->stop();
        net_.reset();
    }

    static std::string tail(const std::string& s, std::size_t n) {
        return s.size() <= n ? s : s.substr(s.size() - n);
    }
    std::string kubeconfig() const { return dir_.file("kubeconfig"); }
    std::string cloud_root() const { return dir_.file("cloud-root"); }
    kedge::test::CommandResult keadm(const std::string& args) {
        return run_command(kedge::test::build_path("apps/keadm/keadm") + " " + args + " 2>&1");
    }
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
        // keadm join inside the node's namespace, so the edgecore it starts lives there too.
        auto set = [](const std::string& kv) { return " --set " + kv; };
        auto join = run_command(
            "nsenter --net=/var/run/netns/" + n.cri->netns() + " " +
            kedge::test::build_path("apps/keadm/keadm") + " join --root-dir " + n.root() +
            " --cloudcore-ipport " + net_->host_address() + ":" + std::to_string(hub_port_) +
            " --certport " + std::to_string(cert_port_) + " --token " + token() +
            " --edgenode-name " + name + " --remote-runtime-endpoint " + n.cri->endpoint() +
            " --metaserver-port " + std::to_string(n.meta_port) + " --kubelet-port " +
            std::to_string(n.kubelet_port) + " --monitor-port " + std::to_string(n.monitor_port) +
            " --wait-ready 90" +
            set("modules.edged.tailoredKubeletConfig.cgroupRoot=" + n.cri->cgroup_parent()) +
            set("modules.edged.podSandboxImage=" + n.cri->pause_image()) +
            set("modules.edged.tailoredKubeletConfig.nodeStatusUpdateFrequency=1s") +
            set("modules.edgeHub.heartbeat=2") + set("modules.edgeHub.websocket.readDeadline=3") +
            set("modules.edgeHub.websocket.writeDeadline=3") +
            set("kedge.reconnect.initialBackoff=200ms") + set("kedge.reconnect.maxBackoff=1s") +
            set("kedge.containerBackoffInitial=1s") + set("kedge.containerBackoffMax=2s") +
            " 2>&1");
        n.joined = true;  // whatever happened, reset cleans up
        EXPECT_EQ(join.exit_code, 0) << join.output;
        EXPECT_NE(join.output.find("[preflight] container runtime: OK"), std::string::npos)
            << join.output;
        EXPECT_NE(join.output.find("node " + name + " joined and Ready"), std::string::npos)
            << join.output;
        // edgecore reaches the cloud from the node's own address on the bridge.
        EXPECT_NE(read_file(n.root() + "/etc/kubeedge/config/edgecore.yaml")
                      .find("nodeIP: " + n.address),
                  std::string::npos);
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
    std::unique_ptr<Process> apiserver_;
    bool cloud_installed_ = false;
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
