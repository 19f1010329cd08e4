// Self-test of the real-containerd harness: what CRI tests rely on (containerd answers, the
// registry serves both images, pulls work, restarts keep containers) and that teardown leaves
// nothing behind on the host, also when containerd was already down.
#include <gtest/gtest.h>

#include <dirent.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <sstream>
#include <string>

#include "support/cri_env.hpp"
#include "support/test_support.hpp"

namespace kedge::test {
namespace {

namespace fs = std::filesystem;

bool alive(int pid) {
    if (pid <= 0) return false;
    std::string stat = read_file("/proc/" + std::to_string(pid) + "/stat");
    auto close = stat.rfind(')');
    return close != std::string::npos && close + 2 < stat.size() && stat[close + 2] != 'Z';
}

// The pid of a RUNNING task, from `ctr tasks ls` ("TASK PID STATUS"), or -1.
int task_pid(const CriEnv& env, const std::string& id) {
    auto r = env.ctr("tasks ls");
    std::istringstream in(r.output);
    std::string task, pid, status;
    while (in >> task >> pid >> status) {
        if (task == id && status == "RUNNING") return std::atoi(pid.c_str());
    }
    return -1;
}

// Shims serving this env's containerd (they outlive it when containerd is stopped).
std::vector<int> shim_pids(const CriEnv& env) {
    std::vector<int> pids;
    for (const auto& e : fs::directory_iterator("/proc")) {
        std::string n = e.path().filename();
        if (n.find_first_not_of("0123456789") != std::string::npos) continue;
        std::error_code ec;
        auto exe = fs::read_symlink(e.path() / "exe", ec).string();
        if (ec || exe.find("containerd-shim") == std::string::npos) continue;
        std::string cmd = read_file(e.path() / "cmdline");
        if (cmd.find(env.socket_path()) != std::string::npos) pids.push_back(std::stoi(n));
    }
    return pids;
}

std::vector<std::string> cgroup_dirs(const std::string& parent) {
    std::vector<std::string> dirs;
    for (const auto& e : fs::directory_iterator("/sys/fs/cgroup")) {
        std::error_code ec;
        if (fs::is_directory(e.path().string() + parent, ec))
            dirs.push_back(e.path().string() + parent);
    }
    return dirs;
}

// Runs the bridge CNI plugin (as containerd would) for a netns under the node's state dir and
// returns the address it assigned.
std::string cni_add(const CriEnv& env, const std::string& id) {
    std::string dir = env.node_dir() + "/state/netns";
    fs::create_directories(dir);
    std::string ns = dir + "/cni-" + id;
    write_file(ns, "");
    auto made = run_command("unshare --net=" + ns + " true");
    if (made.exit_code != 0) {
        ADD_FAILURE() << made.output;
        return {};
    }
    std::string conf = env.node_dir() + "/cni-" + id + ".json";
    write_file(conf, R"({"cniVersion":"1.0.0","name":"kedge-test","type":"bridge","bridge":")" +
                         env.bridge() +
                         R"(","isGateway":true,"ipMasq":false,"ipam":{"type":"host-local",)"
                         R"("ranges":[[{"subnet":")" +
                         env.subnet() + R"("}]],"dataDir":")" + env.node_dir() + R"(/cni/ipam"}})");
    auto add = run_command("CNI_COMMAND=ADD CNI_CONTAINERID=" + id + " CNI_NETNS=" + ns +
                           " CNI_IFNAME=eth0 CNI_PATH=/usr/lib/cni /usr/lib/cni/bridge < " + conf);
    auto at = add.output.find("\"address\": \"");
    if (add.exit_code != 0 || at == std::string::npos) {
        ADD_FAILURE() << add.output;
        return {};
    }
    at += 12;
    return add.output.substr(at, add.output.find('/', at) - at);
}

void pull_and_run(CriEnv& env, const std::string& id) {
    auto pull = env.ctr("images pull --plain-http " + env.busybox_image());
    ASSERT_EQ(pull.exit_code, 0) << pull.output;
    auto run =
        env.ctr("run -d --runc-root " + env.node_dir() + "/runc --cgroup " + env.cgroup_parent() +
                "/" + id + " " + env.busybox_image() + " " + id + " sleep 600");
    ASSERT_EQ(run.exit_code, 0) << run.output;
    ASSERT_TRUE(wait_until([&] { return task_pid(env, id) > 0; })) << env.ctr("tasks ls").output;
}

TEST(CriEnv, StartsContainerdAndServesImages) {
    KEDGE_START_CRI_ENV(env, "selftest");
    auto version = env->ctr("version");
    EXPECT_EQ(version.exit_code, 0) << version.output;
    EXPECT_NE(version.output.find("Server:"), std::string::npos) << version.output;

    auto catalog = run_command("curl -sf http://" + env->registry() + "/v2/_catalog");
    ASSERT_EQ(catalog.exit_code, 0) << catalog.output;
    EXPECT_NE(catalog.output.find("test/busybox"), std::string::npos) << catalog.output;
    EXPECT_NE(catalog.output.find("test/pause"), std::string::npos) << catalog.output;
    EXPECT_EQ(env->registry().rfind("127.0.0.1:", 0), 0u) << env->registry();

    for (const auto& image : {env->busybox_image(), env->pause_image()}) {
        EXPECT_EQ(image.rfind("localhost:", 0), 0u) << image;
        auto pull = env->ctr("images pull --plain-http " + image);
        EXPECT_EQ(pull.exit_code, 0) << pull.output;
    }
    auto images = env->ctr("images ls -q");
    EXPECT_NE(images.output.find(env->busybox_image()), std::string::npos) << images.output;

    // What CRI clients are handed.
    EXPECT_EQ(env->endpoint(), "unix://" + env->socket_path());
    EXPECT_LE(env->bridge().size(), 15u);
    EXPECT_EQ(env->subnet().rfind("10.", 0), 0u) << env->subnet();
    EXPECT_EQ(cgroup_dirs(env->cgroup_parent()).size(), cgroup_dirs("").size())
        << "cgroup parent " << env->cgroup_parent() << " must exist in every hierarchy";
    EXPECT_EQ(read_file("/sys/fs/cgroup/cpuset" + env->cgroup_parent() + "/cpuset.cpus"),
              read_file("/sys/fs/cgroup/cpuset/cpuset.cpus"));
    auto route = run_command("ip route show 10.80.0.0/12");
    EXPECT_NE(route.output.find("unreachable"), std::string::npos) << route.output;
    // The claimed subnet is routed nowhere but the safety route until CNI makes the bridge.
    EXPECT_FALSE(env->routes_via_bridge("10.80.0.1"));
}

TEST(CriEnv, ContainersKeepRunningWhileContainerdIsDown) {
    KEDGE_START_CRI_ENV(env, "restart");
    pull_and_run(*env, "keep1");
    int pid = task_pid(*env, "keep1");
    int old_containerd = env->containerd_pid();

    env->stop_containerd();
    EXPECT_FALSE(env->containerd_running());
    EXPECT_FALSE(alive(old_containerd));
    EXPECT_NE(env->ctr("version").exit_code, 0);
    EXPECT_TRUE(alive(pid)) << "the container must survive containerd going away";

    std::string reason;
    ASSERT_TRUE(env->start_containerd(&reason)) << reason;
    EXPECT_NE(env->containerd_pid(), old_containerd);
    EXPECT_TRUE(wait_until([&] { return task_pid(*env, "keep1") == pid; }))
        << env->ctr("tasks ls").output;
}

// Starts an env with a running container and a bridge, optionally stops containerd first (a
// test that failed mid-restart), destroys it and checks the host is as before.
void check_teardown(bool containerd_down) {
    KEDGE_START_CRI_ENV(env, "teardown");
    pull_and_run(*env, "gone1");
    int pod = task_pid(*env, "gone1");
    auto shims = shim_pids(*env);
    ASSERT_FALSE(shims.empty());
    // What a sandbox leaves on the host: a netns bind mount under the state dir and the bridge
    // with a veth, made by the real bridge plugin with the node's own settings.
    std::string pod_ip = cni_add(*env, "gone1");
    ASSERT_FALSE(pod_ip.empty());
    EXPECT_TRUE(env->routes_via_bridge(pod_ip)) << run_command("ip route get " + pod_ip).output;
    if (containerd_down) env->stop_containerd();

    int containerd = env->containerd_pid();
    int registry = env->registry_pid();
    EXPECT_GT(registry, 0);
    std::string base = env->base_dir();
    std::string bridge = env->bridge();
    std::string cgroup = env->cgroup_parent();
    ASSERT_FALSE(cgroup_dirs(cgroup).empty());
    ASSERT_NE(read_file("/proc/self/mounts").find(" " + base + "/"), std::string::npos)
        << "the container's rootfs should be mounted under the base dir";

    env.reset();

    EXPECT_FALSE(alive(pod)) << "pod process " << pod;
    for (int s : shims) EXPECT_FALSE(alive(s)) << "shim " << s;
    EXPECT_FALSE(alive(containerd)) << "containerd " << containerd;
    EXPECT_FALSE(alive(registry)) << "registry " << registry;
    EXPECT_EQ(read_file("/proc/self/mounts").find(" " + base + "/"), std::string::npos);
    EXPECT_FALSE(fs::exists(base));
    EXPECT_NE(run_command("ip link show " + bridge).exit_code, 0) << "bridge " << bridge;
    EXPECT_TRUE(cgroup_dirs(cgroup).empty()) << cgroup;
}

TEST(CriEnv, TeardownLeavesNothingBehind) { check_teardown(false); }

TEST(CriEnv, TeardownAfterContainerdWasStoppedLeavesNothingBehind) { check_teardown(true); }

TEST(CriEnv, TwoEnvsSideBySide) {
    KEDGE_START_CRI_ENV(a, "sidea");
    KEDGE_START_CRI_ENV(b, "sideb");
    EXPECT_NE(a->name(), b->name());
    EXPECT_NE(a->socket_path(), b->socket_path());
    EXPECT_NE(a->registry(), b->registry());
    EXPECT_NE(a->bridge(), b->bridge());
    EXPECT_NE(a->subnet(), b->subnet());
    EXPECT_NE(a->cgroup_parent(), b->cgroup_parent());
    pull_and_run(*a, "side1");
    pull_and_run(*b, "side1");  // same id, separate containerds and runc roots
    EXPECT_NE(task_pid(*a, "side1"), task_pid(*b, "side1"));

    std::string a_base = a->base_dir();
    a.reset();
    EXPECT_FALSE(fs::exists(a_base));
    EXPECT_EQ(b->ctr("version").exit_code, 0);
    EXPECT_GT(task_pid(*b, "side1"), 0) << "tearing down one env must not touch the other";
}

TEST(CriEnv, BadSubnetFailsWithAReasonAndLeavesNothing) {
    if (!CriEnv::missing_capability().empty()) GTEST_SKIP() << CriEnv::missing_capability();
    TempDir tmp;  // CriEnv makes its base dir under $TMPDIR: it must be gone afterwards
    const char* old_tmpdir = std::getenv("TMPDIR");
    std::string saved = old_tmpdir ? old_tmpdir : "";
    ::setenv("TMPDIR", tmp.path().c_str(), 1);
    std::string reason;
    bool unsupported = true;
    CriEnvOptions options;
    options.subnet = "192.168.77.0/24";  // outside 10.80.0.0/12: must never be used
    auto env = CriEnv::start("badnet", &reason, &unsupported, options);
    EXPECT_EQ(env, nullptr);
    EXPECT_FALSE(unsupported) << "a broken env is a failure, not a missing capability";
    EXPECT_NE(reason.find("not inside 10.80.0.0/12"), std::string::npos) << reason;
    if (old_tmpdir)
        ::setenv("TMPDIR", saved.c_str(), 1);
    else
        ::unsetenv("TMPDIR");
    EXPECT_TRUE(fs::is_empty(tmp.path())) << "the half-started env's base dir must be removed";
    EXPECT_EQ(run_command("ip route show 192.168.77.0/24").output, "");
}

// A test process killed by a ctest timeout runs no destructor; the next CriEnv cleans up after it.
TEST(CriEnv, EnvOfADeadProcessIsSweptByTheNextStart) {
    if (!CriEnv::missing_capability().empty()) GTEST_SKIP() << CriEnv::missing_capability();
    TempDir tmp;
    std::string info = tmp.file("leaked");
    pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
        std::string reason;
        auto env = CriEnv::start("leak", &reason);
        if (env) {
            write_file(info, env->base_dir() + " " + std::to_string(env->containerd_pid()) + " " +
                                 std::to_string(env->registry_pid()) + " " + env->cgroup_parent());
        }
        ::_exit(0);  // like SIGKILL: no destructor runs
    }
    int status = 0;
    ASSERT_EQ(::waitpid(child, &status, 0), child);
    std::istringstream in(read_file(info));
    std::string base, cgroup;
    int containerd = -1, registry = -1;
    in >> base >> containerd >> registry >> cgroup;
    ASSERT_FALSE(base.empty()) << "the child could not start its env";
    ASSERT_TRUE(alive(containerd));
    ASSERT_TRUE(fs::exists(base));

    KEDGE_START_CRI_ENV(env, "sweeper");
    EXPECT_FALSE(fs::exists(base));
    EXPECT_FALSE(alive(containerd));
    EXPECT_FALSE(alive(registry));
    EXPECT_TRUE(cgroup_dirs(cgroup).empty()) << cgroup;
}

TEST(CriEnv, OwnNetnsNodeHasImagesAndGoesAway) {
    CriEnvOptions options;
    options.own_netns = true;
    KEDGE_START_CRI_ENV(env, "netns", options);
    ASSERT_FALSE(env->netns().empty());
    auto images = env->ctr("images ls -q");
    EXPECT_NE(images.output.find(env->busybox_image()), std::string::npos) << images.output;
    EXPECT_NE(images.output.find(env->pause_image()), std::string::npos) << images.output;
    // containerd runs in the node's netns, not the host's.
    std::string mine = fs::read_symlink("/proc/self/ns/net").string();
    std::string its =
        fs::read_symlink("/proc/" + std::to_string(env->containerd_pid()) + "/ns/net").string();
    EXPECT_NE(mine, its);

    std::string netns = env->netns();
    env.reset();
    EXPECT_FALSE(fs::exists("/var/run/netns/" + netns));
}

}  // namespace
}  // namespace kedge::test
