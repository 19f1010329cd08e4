// keadm join / reset edge / debug check with the real binaries: the real kedge-apiserver and
// cloudcore (CloudCoreFixture), a private containerd (CriEnv), and keadm joining an edge node
// under its own --root-dir with free ports. kubectl reads the result independently.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include "integration/cloudcore/cloudcore_fixture.hpp"
#include "keadm/keadm.hpp"
#include "keadm/process.hpp"
#include "support/cri_env.hpp"

namespace kedge::keadm::test {
namespace {

namespace fs = std::filesystem;
using kedge::test::build_path;
using kedge::test::CommandResult;
using kedge::test::free_port;
using kedge::test::read_file;
using ::testing::HasSubstr;
using namespace std::chrono_literals;

bool alive(int pid) {
    if (pid <= 0 || ::kill(pid, 0) != 0) return false;
    std::string stat = read_file("/proc/" + std::to_string(pid) + "/stat");
    auto close = stat.rfind(')');
    return close != std::string::npos && close + 2 < stat.size() && stat[close + 2] != 'Z';
}

// A listening socket on 127.0.0.1 held by this test process.
class HeldPort {
public:
    HeldPort() {
        fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in sa{};
        sa.sin_family = AF_INET;
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        ::bind(fd_, reinterpret_cast<sockaddr*>(&sa), sizeof sa);
        ::listen(fd_, 4);
        socklen_t len = sizeof sa;
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&sa), &len);
        port_ = ntohs(sa.sin_port);
    }
    ~HeldPort() { ::close(fd_); }
    int port() const { return port_; }

private:
    int fd_ = -1;
    int port_ = 0;
};

// The ports one edge node uses, all free on this machine.
struct NodePorts {
    int meta = free_port(), kubelet = free_port(), monitor = free_port(), mqtt = free_port(),
        mqtt_internal = free_port();
};

class KeadmJoinTest : public kedge::cloud::test::CloudCoreFixture {
protected:
    void TearDown() override {
        for (const auto& root : roots_) {
            auto r = keadm("reset edge --root-dir " + root);
            if (r.exit_code != 0) std::cerr << "reset edge failed:\n" << r.output;
            (void)stop_supervised(root + "/var/run/kubeedge/edgecore.pid", 5s);
            if (HasFailure())
                std::cerr << "---- edgecore log of " << root << " ----\n"
                          << tail(read_file(root + "/var/log/kubeedge/edgecore.log"), 6'000);
        }
        CloudCoreFixture::TearDown();
    }

    CommandResult keadm(const std::string& args) const {
        return kedge::test::run_command(build_path("apps/keadm/keadm") + " " + args + " 2>&1");
    }
    std::string root(const std::string& node) {
        std::string r = dir_.file("root-" + node);
        if (std::find(roots_.begin(), roots_.end(), r) == roots_.end()) roots_.push_back(r);
        return r;
    }
    // keadm join for node under its own root with its own ports. endpoint: a CRI endpoint
    // (default: a socket that does not exist).
    CommandResult join(const std::string& node, const NodePorts& p, const std::string& extra = {},
                       std::string token_override = {}, std::string endpoint = {}) {
        if (endpoint.empty()) endpoint = "unix://" + dir_.file("no-runtime.sock");
        std::string t = token_override.empty() ? token() : token_override;
        auto set = [](const std::string& kv) { return " --set " + kv; };
        return keadm(
            "join --root-dir " + root(node) + " --cloudcore-ipport 127.0.0.1:" +
            std::to_string(hub_port_) + " --certport " + std::to_string(cert_port_) + " --token " +
            t + " --edgenode-name " + node + " --remote-runtime-endpoint " + endpoint +
            " --mqtt-broker tcp://127.0.0.1:" + std::to_string(p.mqtt) +
            " --labels zone=test,tier=edge --wait-ready 60" +
            set("modules.eventBus.mqttServerInternal=tcp://127.0.0.1:" +
                std::to_string(p.mqtt_internal)) +
            set("modules.metaManager.metaServer.server=127.0.0.1:" + std::to_string(p.meta)) +
            set("modules.edged.tailoredKubeletConfig.readOnlyPort=" + std::to_string(p.kubelet)) +
            set("kedge.monitorServer.bindAddress=127.0.0.1:" + std::to_string(p.monitor)) +
            set("modules.edgeHub.heartbeat=2") + " " + extra);
    }
    std::string node_ready(const std::string& node) {
        auto r = kubectl("get node " + node +
                         " -o jsonpath='{.status.conditions[?(@.type==\"Ready\")].status}'");
        return r.exit_code == 0 ? r.output : "";
    }

    std::vector<std::string> roots_;
};

TEST_F(KeadmJoinTest, JoinsReadyRefusesASecondJoinAndResetsClean) {
    KEDGE_START_CRI_ENV(env, "keadm-join");
    NodePorts ports;
    const std::string node = "kj-edge-1";
    const std::string extra =
        "--set modules.edged.tailoredKubeletConfig.cgroupRoot=" + env->cgroup_parent() +
        " --set modules.edged.podSandboxImage=" + env->pause_image();
    auto r = join(node, ports, extra, {}, env->endpoint());
    ASSERT_EQ(r.exit_code, 0) << r.output;
    // Every preflight check ran and passed.
    for (const char* check : {"kubelet", "edgecore", "install directory", "MQTT ports",
                              "edgecore ports", "container runtime", "cloud", "node name", "clock"})
        EXPECT_THAT(r.output, HasSubstr(std::string("[preflight] ") + check + ": OK")) << r.output;
    EXPECT_THAT(r.output, HasSubstr("node " + node + " joined and Ready in "));
    EXPECT_THAT(r.output, HasSubstr("reset: keadm reset edge --root-dir " + root(node)));
    // The cloud agrees, seen through kubectl, with the labels given.
    EXPECT_EQ(node_ready(node), "True");
    EXPECT_EQ(kubectl_ok("get node " + node + " -o jsonpath='{.metadata.labels.zone}'"), "test");

    // edgecore.yaml keeps everything under the root dir and holds the token privately.
    const std::string config = root(node) + "/etc/kubeedge/config/edgecore.yaml";
    auto yaml = read_file(config);
    EXPECT_THAT(yaml, HasSubstr("hostnameOverride: " + node));
    EXPECT_THAT(yaml, HasSubstr("dataSource: " + root(node) + "/var/lib/kubeedge/edgecore.db"));
    EXPECT_THAT(yaml, HasSubstr("tlsCaFile: " + root(node) + "/etc/kubeedge/ca/rootCA.crt"));
    EXPECT_THAT(yaml, HasSubstr("server: 127.0.0.1:" + std::to_string(hub_port_)));
    EXPECT_EQ(fs::status(config).permissions() & fs::perms::others_read, fs::perms::none);
    EXPECT_TRUE(fs::exists(root(node) + "/etc/kubeedge/certs/server.key"));
    auto child = read_pid_file(root(node) + "/var/run/kubeedge/edgecore.child.pid");
    ASSERT_TRUE(child);
    EXPECT_TRUE(alive(*child));

    // debug check sees edgecore on its own ports and the runtime answering.
    auto check =
        keadm("debug check runtime ports disk --root-dir " + root(node) + " -p " + env->endpoint());
    EXPECT_EQ(check.exit_code, 0) << check.output;
    EXPECT_THAT(check.output, HasSubstr("[check] runtime: OK containerd"));
    EXPECT_THAT(check.output, HasSubstr(std::to_string(ports.meta) + " (meta server) held by "
                                                                     "edgecore"));

    // A second join into the same root refuses and says why; the running node is untouched.
    auto again = join(node, NodePorts{}, extra, {}, env->endpoint());
    EXPECT_EQ(again.exit_code, 1) << again.output;
    EXPECT_THAT(again.output, HasSubstr("[preflight] install directory: FAIL: " + root(node) +
                                        "/etc/kubeedge exists and is not empty"));
    EXPECT_THAT(again.output, HasSubstr("[preflight] edgecore: FAIL: edgecore already runs"));
    EXPECT_TRUE(alive(*child));

    // A pod runs on the node (its sandbox and container in containerd).
    apply(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: kj-pod\n  namespace: default\n"
        "spec:\n  nodeName: " +
        node + "\n  containers:\n  - name: c\n    image: " + env->busybox_image() +
        "\n    command: [sleep, '3600']\n");
    EXPECT_TRUE(eventually(
        [&] { return kubectl("get pod kj-pod -o jsonpath='{.status.phase}'").output == "Running"; },
        60s))
        << kubectl("get pod kj-pod -o yaml").output;
    EXPECT_NE(env->ctr("containers ls -q").output, "");

    // reset edge stops edgecore, removes the pod's sandbox through CRI and empties the root; a
    // second reset has nothing to do.
    auto reset = keadm("reset edge --remove-containers --root-dir " + root(node));
    EXPECT_EQ(reset.exit_code, 0) << reset.output;
    EXPECT_THAT(reset.output, HasSubstr("stop edgecore: stopped"));
    EXPECT_THAT(reset.output, HasSubstr("1 pod sandboxes removed"));
    EXPECT_EQ(env->ctr("containers ls -q").output, "");
    EXPECT_TRUE(kedge::test::wait_until([&] { return !alive(*child); }, 10s));
    EXPECT_FALSE(fs::exists(root(node) + "/etc/kubeedge"));
    EXPECT_FALSE(fs::exists(root(node) + "/var/lib/kubeedge"));
    EXPECT_FALSE(fs::exists(root(node) + "/var/run/kubeedge"));
    EXPECT_FALSE(fs::exists(root(node) + "/var/log/kubeedge"));
    reset = keadm("reset edge --root-dir " + root(node));
    EXPECT_EQ(reset.exit_code, 0) << reset.output;
    EXPECT_THAT(reset.output, HasSubstr("stop edgecore: not running"));
    EXPECT_THAT(reset.output, HasSubstr("remove files: nothing to remove"));

    // The node is still registered in the cloud: joining under its name again is refused.
    auto rejoin = join(node, NodePorts{}, extra, {}, env->endpoint());
    EXPECT_EQ(rejoin.exit_code, 1) << rejoin.output;
    EXPECT_THAT(rejoin.output, HasSubstr("[preflight] node name: FAIL: node " + node +
                                         " is already registered in the cloud"));
    EXPECT_FALSE(fs::exists(root(node) + "/etc/kubeedge"));
}

// The binary a supervised edgecore runs (/proc/<pid>/exe).
std::string running_binary(const std::string& root) {
    auto child = read_pid_file(root + "/var/run/kubeedge/edgecore.child.pid");
    if (!child) return {};
    std::error_code ec;
    return fs::read_symlink("/proc/" + std::to_string(*child) + "/exe", ec).string();
}

TEST_F(KeadmJoinTest, UpgradeSwapsTheBinaryKeepsThePodAndRollsBackABrokenRelease) {
    KEDGE_START_CRI_ENV(env, "keadm-upgrade");
    const std::string node = "kj-upgrade";
    const std::string extra =
        "--set modules.edged.tailoredKubeletConfig.cgroupRoot=" + env->cgroup_parent() +
        " --set modules.edged.podSandboxImage=" + env->pause_image();
    auto r = join(node, NodePorts{}, extra, {}, env->endpoint());
    ASSERT_EQ(r.exit_code, 0) << r.output;
    const std::string original = fs::canonical(build_path("apps/edgecore/edgecore")).string();
    EXPECT_EQ(running_binary(root(node)), original);
    apply("apiVersion: v1\nkind: Pod\nmetadata:\n  name: kj-up-pod\n  namespace: default\n"
          "spec:\n  nodeName: " + node + "\n  containers:\n  - name: c\n    image: " +
          env->busybox_image() + "\n    command: [sleep, '3600']\n");
    auto container_id = [&] {
        return kubectl("get pod kj-up-pod -o jsonpath='{.status.containerStatuses[0].containerID}'")
            .output;
    };
    ASSERT_TRUE(eventually([&] { return container_id().find("containerd://") == 0; }, 60s))
        << kubectl("get pod kj-up-pod -o yaml").output;
    const std::string before = container_id();

    // A "new release": a copy of edgecore in its own directory.
    const std::string next = dir_.file("release-next");
    fs::create_directories(next);
    fs::copy_file(original, next + "/edgecore");
    r = keadm("upgrade edge --root-dir " + root(node) + " --bin-dir " + next + " --wait-ready 60");
    ASSERT_EQ(r.exit_code, 0) << r.output;
    EXPECT_THAT(r.output, HasSubstr("[upgrade] back up edgecore.yaml and the store: " + root(node) +
                                    "/etc/kubeedge/backup/"));
    EXPECT_THAT(r.output, HasSubstr("node " + node + " upgraded: "));
    EXPECT_EQ(running_binary(root(node)), next + "/edgecore");
    EXPECT_EQ(node_ready(node), "True");
    // The pod was adopted, not recreated.
    EXPECT_EQ(container_id(), before);
    // Running it again: nothing to do.
    r = keadm("upgrade edge --root-dir " + root(node) + " --bin-dir " + next);
    EXPECT_EQ(r.exit_code, 0) << r.output;
    EXPECT_THAT(r.output, HasSubstr("nothing to do"));

    // A broken release answers --version but cannot run: keadm rolls back by itself.
    const std::string broken = dir_.file("release-broken");
    fs::create_directories(broken);
    kedge::test::write_file(broken + "/edgecore",
                            "#!/bin/sh\n[ \"$1\" = --version ] && { echo 'edgecore v9.9.9'; exit 0; }\n"
                            "echo 'broken build: cannot start' >&2\nexit 3\n");
    fs::permissions(broken + "/edgecore", fs::perms::owner_all);
    r = keadm("upgrade edge --root-dir " + root(node) + " --bin-dir " + broken +
              " --wait-ready 20");
    EXPECT_EQ(r.exit_code, 1) << r.output;
    EXPECT_THAT(r.output, HasSubstr("[upgrade] start the new edgecore: FAILED"));
    EXPECT_THAT(r.output, HasSubstr("broken build: cannot start"));  // its log, shown
    EXPECT_THAT(r.output, HasSubstr("rolled back to"));
    EXPECT_EQ(running_binary(root(node)), next + "/edgecore");
    EXPECT_TRUE(eventually([&] { return node_ready(node) == "True"; }, 30s));
    EXPECT_EQ(container_id(), before);

    // rollback: the failed upgrade's backup was used already, so back to the binary before the
    // first upgrade; then there is nothing left to roll back.
    r = keadm("rollback edge --root-dir " + root(node) + " --wait-ready 60");
    EXPECT_EQ(r.exit_code, 0) << r.output;
    EXPECT_EQ(running_binary(root(node)), original);
    EXPECT_EQ(node_ready(node), "True");
    EXPECT_EQ(container_id(), before);
    r = keadm("rollback edge --root-dir " + root(node));
    EXPECT_EQ(r.exit_code, 1) << r.output;
    EXPECT_THAT(r.output, HasSubstr("no backup"));
}

TEST_F(KeadmJoinTest, WrongTokenHashFailsClearlyAndChangesNothing) {
    // The token of another cloud: a different CA hash, a JWT of the right shape.
    std::string good = token();
    ASSERT_GT(good.size(), 65u);
    std::string wrong = std::string(64, '0') + good.substr(64);
    auto r = join("kj-wrong", NodePorts{}, {}, wrong);
    EXPECT_EQ(r.exit_code, 1) << r.output;
    EXPECT_THAT(r.output, HasSubstr("[preflight] cloud: FAIL: the CA that https://127.0.0.1:" +
                                    std::to_string(cert_port_) +
                                    "/ca.crt serves is not the one the token names"));
    EXPECT_THAT(r.output, HasSubstr("keadm gettoken"));
    EXPECT_THAT(r.output, HasSubstr("nothing was changed"));
    EXPECT_FALSE(fs::exists(root("kj-wrong") + "/etc/kubeedge"));
}

TEST_F(KeadmJoinTest, PreflightNamesEachProblem) {
    create_edge_node("kj-taken");
    NodePorts ports;
    HeldPort mqtt_internal, meta;
    ports.mqtt_internal = mqtt_internal.port();
    ports.meta = meta.port();
    auto r = join("kj-taken", ports);
    EXPECT_EQ(r.exit_code, 1) << r.output;
    const std::string self = " (pid " + std::to_string(::getpid()) + ")";
    EXPECT_THAT(r.output, HasSubstr("[preflight] node name: FAIL: node kj-taken is already "
                                    "registered in the cloud"));
    EXPECT_THAT(r.output, HasSubstr("[preflight] MQTT ports: FAIL: " +
                                    std::to_string(mqtt_internal.port()) + " is used by "));
    EXPECT_THAT(r.output, HasSubstr(self));
    EXPECT_THAT(r.output, HasSubstr("[preflight] edgecore ports: FAIL: " +
                                    std::to_string(meta.port()) + " (meta server) is used by"));
    EXPECT_THAT(r.output, HasSubstr("[preflight] container runtime: FAIL: CRI runtime at unix://" +
                                    dir_.file("no-runtime.sock") + " does not answer"));
    // The cloud itself is fine.
    EXPECT_THAT(r.output, HasSubstr("[preflight] cloud: OK"));
    EXPECT_THAT(r.output, HasSubstr("[preflight] clock: OK"));
    EXPECT_FALSE(fs::exists(root("kj-taken") + "/etc/kubeedge"));

    // --skip-preflight-checks goes on regardless (and then fails for real without a runtime:
    // only the certificate step is checked here).
    auto unreachable = keadm("join --root-dir " + root("kj-x") +
                             " --cloudcore-ipport 127.0.0.1:" + std::to_string(free_port()) +
                             " --certport " + std::to_string(free_port()) + " --token " + token() +
                             " --edgenode-name kj-x --skip-preflight-checks");
    EXPECT_EQ(unreachable.exit_code, 1) << unreachable.output;
    EXPECT_THAT(unreachable.output, HasSubstr("preflight checks skipped"));
    EXPECT_THAT(unreachable.output, HasSubstr("certificates: FAILED"));
}

TEST_F(KeadmJoinTest, BadFlagsExitTwo) {
    auto r = keadm("join --root-dir " + root("kj-bad") + " --cloudcore-ipport nonsense --token x");
    EXPECT_EQ(r.exit_code, 2) << r.output;
    r = keadm("join --root-dir " + root("kj-bad") + " --cloudcore-ipport 127.0.0.1:1");
    EXPECT_EQ(r.exit_code, 2) << r.output;
    EXPECT_THAT(r.output, HasSubstr("--token is required"));
    r = keadm("join --root-dir " + root("kj-bad") + " --cloudcore-ipport 127.0.0.1:1 --token x " +
              "--set modules.edgeHub.nope=1");
    EXPECT_EQ(r.exit_code, 2) << r.output;
    EXPECT_THAT(r.output, HasSubstr("nope"));
    r = keadm("debug check cpu memory disk --root-dir " + root("kj-bad"));
    EXPECT_EQ(r.exit_code, 0) << r.output;
    EXPECT_THAT(r.output, HasSubstr("[check] cpu: OK"));
    EXPECT_THAT(r.output, HasSubstr("[check] memory: OK"));
    r = keadm("debug check runtime -p unix://" + dir_.file("none.sock"));
    EXPECT_EQ(r.exit_code, 1) << r.output;
    EXPECT_THAT(r.output, HasSubstr("[check] runtime: FAIL"));
    r = keadm("debug check bogus");
    EXPECT_EQ(r.exit_code, 2) << r.output;
}

}  // namespace
}  // namespace kedge::keadm::test
