// keadm init / gettoken / reset cloud / version with the real binaries: kedge-apiserver and
// cloudcore run under `keadm supervise`, each test under its own --root-dir with free ports.
// kubectl, curl and sha256sum check the result independently of kedge's own code.

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <optional>
#include <regex>
#include <sstream>
#include <string>

#include "keadm/keadm.hpp"
#include "keadm/process.hpp"
#include "support/test_support.hpp"

namespace kedge::keadm::test {
namespace {

namespace fs = std::filesystem;
using kedge::test::build_path;
using kedge::test::CommandResult;
using kedge::test::free_port;
using kedge::test::run_command;
using kedge::test::TempDir;
using kedge::test::wait_until;
using namespace std::chrono_literals;

// Alive and not a zombie (a stopped supervisor's parent may be slow to reap it).
bool alive(int pid) {
    if (pid <= 0 || ::kill(pid, 0) != 0) return false;
    std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
    std::string stat;
    std::getline(in, stat);
    auto close = stat.rfind(')');
    return close != std::string::npos && close + 2 < stat.size() && stat[close + 2] != 'Z';
}

int pid_in(const std::string& file) {
    std::ifstream in(file);
    int pid = 0;
    in >> pid;
    return pid;
}

class KeadmCloudTest : public ::testing::Test {
protected:
    void TearDown() override {
        keadm("reset cloud --root-dir " + root_);
        // A safety net when reset itself is what failed.
        for (const char* name : {"cloudcore", "kedge-apiserver"})
            (void)stop_supervised(pid_file(name), 5s);
    }

    CommandResult keadm(const std::string& args) const {
        return run_command(build_path("apps/keadm/keadm") + " " + args);
    }
    std::string port_flags() const {
        return "--root-dir " + root_ + " --hub-port " + std::to_string(hub_port_) +
               " --cert-port " + std::to_string(cert_port_) + " --apiserver-port " +
               std::to_string(api_port_) + " --metrics-port " + std::to_string(metrics_port_);
    }
    CommandResult init(const std::string& extra = {}) const {
        return keadm("init " + port_flags() + " " + extra);
    }
    std::string pid_file(const std::string& name) const {
        return root_ + "/var/run/kubeedge/" + name + ".pid";
    }
    std::string child_pid_file(const std::string& name) const {
        return root_ + "/var/run/kubeedge/" + name + ".child.pid";
    }
    std::string kubeconfig() const { return root_ + "/etc/kubeedge/admin.kubeconfig"; }
    CommandResult kubectl(const std::string& args) const {
        return run_command("kubectl --kubeconfig " + kubeconfig() + " " + args);
    }
    // sha256 (hex) of the DER CA certificate the join server hands out; "" when it does not
    // answer.
    std::string ca_sha256() const {
        auto file = dir_.file("ca.der");
        auto r = run_command("rm -f " + file + " && curl -sfk --max-time 5 -o " + file +
                             " https://127.0.0.1:" + std::to_string(cert_port_) +
                             "/ca.crt && test -s " + file + " && sha256sum " + file);
        if (r.exit_code != 0) return {};
        return r.output.substr(0, r.output.find(' '));
    }
    // The four pids: supervisor and component of the API server and of cloudcore.
    std::vector<int> pids() const {
        return {pid_in(pid_file("kedge-apiserver")), pid_in(child_pid_file("kedge-apiserver")),
                pid_in(pid_file("cloudcore")), pid_in(child_pid_file("cloudcore"))};
    }
    static std::string token_in(const std::string& output) {
        std::smatch m;
        if (std::regex_search(output, m, std::regex("--token=(\\S+)"))) return m[1];
        return {};
    }

    TempDir dir_;
    std::string root_ = dir_.file("root");
    int hub_port_ = free_port(), cert_port_ = free_port(), api_port_ = free_port(),
        metrics_port_ = free_port();
};

TEST_F(KeadmCloudTest, InitInstallsTheCloudAndARerunChangesNothing) {
    auto first = init();
    ASSERT_EQ(first.exit_code, 0) << first.output;
    EXPECT_NE(first.output.find("found in build tree"), std::string::npos) << first.output;
    EXPECT_NE(first.output.find("admin kubeconfig " + kubeconfig()), std::string::npos)
        << first.output;
    EXPECT_NE(
        first.output.find("keadm join --cloudcore-ipport=127.0.0.1:" + std::to_string(hub_port_) +
                          " --certport=" + std::to_string(cert_port_) + " --token="),
        std::string::npos)
        << first.output;

    // The printed kubeconfig works with kubectl; the CRDs and the token Secret are there.
    auto crds = kubectl("get crd -o name");
    ASSERT_EQ(crds.exit_code, 0) << crds.output;
    for (const char* crd :
         {"devices.devices.kubeedge.io", "devicemodels.devices.kubeedge.io",
          "objectsyncs.reliablesyncs.kubeedge.io", "clusterobjectsyncs.reliablesyncs.kubeedge.io"})
        EXPECT_NE(crds.output.find(crd), std::string::npos) << crds.output;
    auto secret = kubectl("get secret -n kubeedge tokensecret -o name");
    EXPECT_EQ(secret.exit_code, 0) << secret.output;

    // gettoken prints only the token; its hash prefix pins the CA cloudcore serves.
    auto token = keadm("gettoken --root-dir " + root_);
    ASSERT_EQ(token.exit_code, 0) << token.output;
    std::string tok = token.output.substr(0, token.output.find('\n'));
    EXPECT_EQ(token.output, tok + "\n");
    EXPECT_EQ(tok, token_in(first.output));
    auto sha = ca_sha256();
    ASSERT_EQ(sha.size(), 64u);
    EXPECT_EQ(tok.substr(0, tok.find('.')), sha);

    auto before = pids();
    for (int pid : before) EXPECT_TRUE(alive(pid)) << pid;

    // A second run finds everything in place and restarts nothing.
    auto second = init();
    ASSERT_EQ(second.exit_code, 0) << second.output;
    EXPECT_NE(second.output.find("embedded API server (kedge-apiserver): already done"),
              std::string::npos)
        << second.output;
    EXPECT_NE(second.output.find("KubeEdge CRDs: already done"), std::string::npos)
        << second.output;
    EXPECT_NE(second.output.find("cloudcore.yaml: already done"), std::string::npos)
        << second.output;
    EXPECT_NE(second.output.find("cloudcore: already done"), std::string::npos) << second.output;
    EXPECT_EQ(pids(), before);
    EXPECT_EQ(token_in(second.output), tok);
}

TEST_F(KeadmCloudTest, ForceRestartsTheComponentsAndKeepsTheCa) {
    auto first = init();
    ASSERT_EQ(first.exit_code, 0) << first.output;
    auto sha = ca_sha256();
    auto before = pids();

    auto forced = init("--force --set modules.cloudHub.nodeLimit=7");
    ASSERT_EQ(forced.exit_code, 0) << forced.output;
    auto config = kedge::test::read_file(root_ + "/etc/kubeedge/config/cloudcore.yaml");
    EXPECT_NE(config.find("nodeLimit: 7"), std::string::npos) << config;
    EXPECT_EQ(forced.output.find("already done"), std::string::npos) << forced.output;
    auto after = pids();
    for (std::size_t i = 0; i < before.size(); ++i) {
        EXPECT_NE(after[i], before[i]) << "pid " << i << " was not restarted";
        EXPECT_FALSE(alive(before[i])) << before[i];
        EXPECT_TRUE(alive(after[i])) << after[i];
    }
    // The cluster's data survives: the same CA, so joined nodes keep working.
    EXPECT_EQ(ca_sha256(), sha);
}

TEST_F(KeadmCloudTest, TheSupervisorRestartsAKilledComponent) {
    auto first = init();
    ASSERT_EQ(first.exit_code, 0) << first.output;
    int supervisor = pid_in(pid_file("cloudcore"));
    int child = pid_in(child_pid_file("cloudcore"));
    ASSERT_TRUE(alive(child));
    ASSERT_EQ(::kill(child, SIGKILL), 0);

    int restarted = 0;
    ASSERT_TRUE(wait_until(
        [&] {
            restarted = pid_in(child_pid_file("cloudcore"));
            return restarted != 0 && restarted != child && alive(restarted);
        },
        15s))
        << kedge::test::read_file(root_ + "/var/log/kubeedge/cloudcore.log");
    EXPECT_EQ(pid_in(pid_file("cloudcore")), supervisor);
    EXPECT_TRUE(wait_until([&] { return ca_sha256().size() == 64; }, 15s));
    auto log = kedge::test::read_file(root_ + "/var/log/kubeedge/cloudcore.log");
    EXPECT_NE(log.find("killed by signal 9"), std::string::npos) << log;
    auto rerun = init();
    EXPECT_NE(rerun.output.find("cloudcore: already done"), std::string::npos) << rerun.output;
}

TEST_F(KeadmCloudTest, ResetStopsEverythingAndRemovesWhatInitMade) {
    auto first = init();
    ASSERT_EQ(first.exit_code, 0) << first.output;
    auto running = pids();

    auto reset = keadm("reset cloud --root-dir " + root_);
    ASSERT_EQ(reset.exit_code, 0) << reset.output;
    EXPECT_NE(reset.output.find("stop cloudcore: stopped"), std::string::npos) << reset.output;
    EXPECT_NE(reset.output.find("stop kedge-apiserver: stopped"), std::string::npos)
        << reset.output;
    for (int pid : running) EXPECT_FALSE(alive(pid)) << pid;
    for (const char* dir :
         {"etc/kubeedge", "var/lib/kubeedge", "var/log/kubeedge", "var/run/kubeedge"})
        EXPECT_FALSE(fs::exists(root_ + "/" + dir)) << dir;
    auto port = run_command(
        "curl -sk --max-time 2 https://127.0.0.1:" + std::to_string(cert_port_) + "/ca.crt");
    EXPECT_NE(port.exit_code, 0);

    // Idempotent: nothing left to do, still success.
    auto again = keadm("reset cloud --root-dir " + root_);
    EXPECT_EQ(again.exit_code, 0) << again.output;
    EXPECT_NE(again.output.find("stop cloudcore: not running"), std::string::npos) << again.output;
    EXPECT_NE(again.output.find("nothing to remove"), std::string::npos) << again.output;

    // And init works again from scratch afterwards.
    auto reinit = init();
    EXPECT_EQ(reinit.exit_code, 0) << reinit.output;
}

TEST_F(KeadmCloudTest, PreflightRefusesAPortHeldByAnotherProcess) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    ASSERT_GE(fd, 0);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(static_cast<std::uint16_t>(hub_port_));
    ::inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0);
    ASSERT_EQ(::listen(fd, 1), 0);

    auto r = init();
    ::close(fd);
    EXPECT_EQ(r.exit_code, 1) << r.output;
    EXPECT_NE(r.output.find("hub port " + std::to_string(hub_port_)), std::string::npos)
        << r.output;
    EXPECT_NE(r.output.find("--hub-port"), std::string::npos) << r.output;
    EXPECT_FALSE(fs::exists(pid_file("kedge-apiserver")));
    EXPECT_FALSE(fs::exists(pid_file("cloudcore")));
}

TEST_F(KeadmCloudTest, GettokenBeforeInitSaysWhatIsMissing) {
    auto r = keadm("gettoken --root-dir " + root_);
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.output.find("run keadm init first"), std::string::npos) << r.output;
}

TEST_F(KeadmCloudTest, AnExistingClusterIsUsedAndLeftUntouchedByReset) {
    std::string api_kubeconfig = dir_.file("cluster.kubeconfig"), error;
    auto api = kedge::test::start_kedge_apiserver(
        {"--data-dir", dir_.file("cluster"), "--bind-address", "127.0.0.1", "--secure-port", "0"},
        api_kubeconfig, dir_.file("cluster.log"), &error);
    ASSERT_TRUE(api) << error;

    auto r = init("--kube-config " + api_kubeconfig);
    ASSERT_EQ(r.exit_code, 0) << r.output;
    EXPECT_NE(r.output.find("kedge-apiserver not started"), std::string::npos) << r.output;
    EXPECT_FALSE(fs::exists(pid_file("kedge-apiserver")));
    auto token = keadm("gettoken --root-dir " + root_);
    ASSERT_EQ(token.exit_code, 0) << token.output;
    EXPECT_EQ(token.output.substr(0, token.output.find('\n')), token_in(r.output));

    auto reset = keadm("reset cloud --root-dir " + root_);
    ASSERT_EQ(reset.exit_code, 0) << reset.output;
    EXPECT_NE(reset.output.find("left untouched"), std::string::npos) << reset.output;
    auto secret = run_command("kubectl --kubeconfig " + api_kubeconfig +
                              " get secret -n kubeedge tokensecret -o name");
    EXPECT_EQ(secret.exit_code, 0) << secret.output;
    auto crd = run_command("kubectl --kubeconfig " + api_kubeconfig +
                           " get crd devices.devices.kubeedge.io -o name");
    EXPECT_EQ(crd.exit_code, 0) << crd.output;
}

TEST_F(KeadmCloudTest, ForegroundRunsCloudcoreInKeadmsPlace) {
    std::vector<std::string> argv = {build_path("apps/keadm/keadm"), "init", "--foreground"};
    std::istringstream flags(port_flags());
    for (std::string f; flags >> f;) argv.push_back(f);
    kedge::test::Process fg(argv, dir_.file("foreground.log"));
    ASSERT_TRUE(
        wait_until([&] { return keadm("gettoken --root-dir " + root_).exit_code == 0; }, 60s))
        << kedge::test::read_file(dir_.file("foreground.log"));
    // keadm became cloudcore: no supervisor, and the process we started is the one serving.
    EXPECT_FALSE(fs::exists(pid_file("cloudcore")));
    auto cmdline = kedge::test::read_file("/proc/" + std::to_string(fg.pid()) + "/cmdline");
    EXPECT_EQ(cmdline.substr(0, cmdline.find('\0')), build_path("apps/cloudcore/cloudcore"));
    EXPECT_EQ(ca_sha256().size(), 64u);
    fg.stop();
    EXPECT_FALSE(wait_until([&] { return ca_sha256().size() == 64; }, 500ms));
}

TEST(RestartBackoff, DoublesUpToTheCapAndStartsOverAfterALongRun) {
    RestartBackoff b;
    EXPECT_EQ(b.after_exit(10ms), 1s);
    EXPECT_EQ(b.after_exit(10ms), 2s);
    EXPECT_EQ(b.after_exit(10ms), 4s);
    EXPECT_EQ(b.after_exit(10ms), 8s);
    EXPECT_EQ(b.after_exit(10ms), 16s);
    EXPECT_EQ(b.after_exit(10ms), 30s);
    EXPECT_EQ(b.after_exit(10ms), 30s);
    EXPECT_EQ(b.after_exit(5min), 1s);
}

TEST(KeadmCli, VersionAndBadFlags) {
    auto keadm = build_path("apps/keadm/keadm");
    TempDir dir;
    auto version = run_command(keadm + " version");
    EXPECT_EQ(version.exit_code, 0);
    EXPECT_EQ(version.output.rfind("keadm version: v0.1.0 (kedge)\n", 0), 0u) << version.output;
    EXPECT_NE(version.output.find("cloudcore:"), std::string::npos) << version.output;
    EXPECT_EQ(run_command(keadm + " init --no-such-flag").exit_code, 2);
    EXPECT_EQ(run_command(keadm).exit_code, 2);
    EXPECT_EQ(run_command(keadm + " reset").exit_code, 2);
    EXPECT_EQ(run_command(keadm + " init --advertise-address not-an-ip --root-dir " + dir.path())
                  .exit_code,
              2);
}

}  // namespace
}  // namespace kedge::keadm::test
