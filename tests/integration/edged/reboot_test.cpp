// An offline reboot of an edge node, with real parts: kedge-apiserver + cloudcore + edgecore on a
// private containerd (CriEnv). While the cloud is unreachable the node "reboots": edgecore and
// containerd stop, every shim and pod process dies, and what lives on tmpfs after a real reboot
// (containerd's state dir with the sandboxes' network namespaces and rootfs mounts, runc's state,
// the CNI bridge) is gone. Only the disks survive: containerd's root and edgecore's SQLite store.
// edgecore must bring the pods back from its local store alone, serve them on its meta server,
// and report the new containers once the cloud returns.

#include <signal.h>
#include <sys/mount.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <set>

#include "cri/cri_client.hpp"
#include "integration/edged/edged_fixture.hpp"
#include "support/cri_env.hpp"

namespace kedge::edge::test {
namespace {

namespace fs = std::filesystem;
using kedge::test::read_file;
using namespace std::chrono_literals;

constexpr const char* kNode = "reboot-edge";
const std::vector<std::string> kPods = {"alpha", "beta"};

// One pod as the runtime holds it: its sandbox and its container "c".
struct RuntimePod {
    std::string sandbox_id;
    bool sandbox_ready = false;
    std::string container_id;
    bool container_running = false;
};

// Mount points under dir (from /proc/self/mounts, octal escapes decoded), deepest first.
std::vector<std::string> mounts_under(const std::string& dir) {
    std::vector<std::string> out;
    std::istringstream in(read_file("/proc/self/mounts"));
    std::string line;
    while (std::getline(in, line)) {
        std::istringstream fields(line);
        std::string source, target;
        fields >> source >> target;
        std::string decoded;
        for (std::size_t i = 0; i < target.size(); ++i) {
            if (target[i] == '\\' && i + 3 < target.size()) {
                decoded += static_cast<char>(std::stoi(target.substr(i + 1, 3), nullptr, 8));
                i += 3;
            } else {
                decoded += target[i];
            }
        }
        if (decoded.rfind(dir + "/", 0) == 0) out.push_back(decoded);
    }
    std::sort(out.begin(), out.end(),
              [](const auto& a, const auto& b) { return a.size() > b.size(); });
    return out;
}

// The cgroup hierarchies' mount points (v1 controllers and/or the v2 unified tree).
std::vector<std::string> cgroup_mounts() {
    std::vector<std::string> out;
    std::istringstream in(read_file("/proc/self/mounts"));
    std::string line;
    while (std::getline(in, line)) {
        std::istringstream fields(line);
        std::string source, target, type;
        fields >> source >> target >> type;
        if (type == "cgroup" || type == "cgroup2") out.push_back(target);
    }
    return out;
}

// Pids of every process in the cgroup parent's subtree, in every hierarchy.
std::set<int> pids_in_cgroup(const std::string& parent) {
    std::set<int> pids;
    for (const auto& mp : cgroup_mounts()) {
        fs::path root = fs::path(mp + parent);
        std::error_code ec;
        if (!fs::is_directory(root, ec)) continue;
        std::vector<fs::path> dirs{root};
        for (auto it = fs::recursive_directory_iterator(root, ec);
             !ec && it != fs::recursive_directory_iterator(); it.increment(ec))
            if (it->is_directory(ec)) dirs.push_back(it->path());
        for (const auto& d : dirs) {
            std::istringstream procs(read_file((d / "cgroup.procs").string()));
            int pid = 0;
            while (procs >> pid)
                if (pid > 0) pids.insert(pid);
        }
    }
    return pids;
}

// Removes the (now empty) child cgroups of parent, keeping parent itself: after a reboot only
// the node's configured cgroup root exists.
void remove_child_cgroups(const std::string& parent) {
    for (const auto& mp : cgroup_mounts()) {
        fs::path root = fs::path(mp + parent);
        std::error_code ec;
        if (!fs::is_directory(root, ec)) continue;
        std::vector<fs::path> dirs;
        for (auto it = fs::recursive_directory_iterator(root, ec);
             !ec && it != fs::recursive_directory_iterator(); it.increment(ec))
            if (it->is_directory(ec)) dirs.push_back(it->path());
        std::sort(dirs.begin(), dirs.end(), [](const auto& a, const auto& b) {
            return a.string().size() > b.string().size();
        });
        for (const auto& d : dirs) ::rmdir(d.c_str());
    }
}

// A process that exists and is not a zombie (PID 1 here does not reap orphans).
bool alive(int pid) {
    std::string stat = read_file("/proc/" + std::to_string(pid) + "/stat");
    auto close = stat.rfind(')');
    return close != std::string::npos && close + 2 < stat.size() && stat[close + 2] != 'Z';
}

// containerd-shim processes serving this socket (only the env's own shims match).
std::vector<int> shims_of(const std::string& socket) {
    std::vector<int> out;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator("/proc", ec)) {
        std::string name = e.path().filename();
        if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
        auto exe = fs::read_symlink(e.path() / "exe", ec);
        if (ec || exe.filename().string().find("containerd-shim") == std::string::npos) continue;
        std::string cmdline = read_file(e.path().string() + "/cmdline");
        std::replace(cmdline.begin(), cmdline.end(), '\0', ' ');
        if (cmdline.find("-address " + socket + " ") != std::string::npos)
            out.push_back(std::stoi(name));
    }
    return out;
}

class EdgedRebootTest : public EdgedFixture {
protected:

    // The runtime's view of our pods through CRI, by pod name: the READY sandbox (else the
    // newest) and the newest container of that sandbox. Empty when containerd does not answer.
    std::map<std::string, RuntimePod> runtime_pods() {
        std::map<std::string, RuntimePod> out;
        kedge::cri::CriClientOptions o;
        o.endpoint = env_->endpoint();
        o.timeout = 10s;
        auto cri = kedge::cri::CriClient::connect(o);
        if (!cri) return out;
        auto boxes = (*cri)->list_pod_sandboxes();
        auto cs = (*cri)->list_containers();
        if (!boxes || !cs) return out;
        std::map<std::string, std::int64_t> created;
        for (const auto& b : *boxes) {
            auto name = b.metadata().name();
            auto& p = out[name];
            bool ready = b.state() == kedge::cri::v1::SANDBOX_READY;
            if (p.sandbox_id.empty() || (ready && !p.sandbox_ready) ||
                (ready == p.sandbox_ready && b.created_at() > created[name])) {
                p.sandbox_id = b.id();
                p.sandbox_ready = ready;
                created[name] = b.created_at();
            }
        }
        for (auto& [name, p] : out) {
            std::int64_t newest = -1;
            for (const auto& c : *cs) {
                if (c.pod_sandbox_id() != p.sandbox_id || c.created_at() <= newest) continue;
                newest = c.created_at();
                p.container_id = c.id();
                p.container_running = c.state() == kedge::cri::v1::CONTAINER_RUNNING;
            }
        }
        return out;
    }

    // What a power cut does to the node's runtime: containerd, its shims and every pod process
    // die at once, and tmpfs (/run: containerd's state dir, runc's root, the sandboxes' netns
    // mounts) and network devices (the CNI bridge) are gone when the machine comes back.
    void power_off_node() {
        env_->stop_containerd();
        for (int pid : shims_of(env_->socket_path())) ::kill(pid, SIGKILL);
        ASSERT_TRUE(eventually(
            [&] {
                for (int pid : pids_in_cgroup(env_->cgroup_parent())) ::kill(pid, SIGKILL);
                auto shims = shims_of(env_->socket_path());
                return pids_in_cgroup(env_->cgroup_parent()).empty() &&
                       std::none_of(shims.begin(), shims.end(), alive);
            },
            20s))
            << "pod processes or shims survived SIGKILL";
        remove_child_cgroups(env_->cgroup_parent());
        for (const std::string sub : {"/state", "/runc"}) {
            std::string dir = env_->node_dir() + sub;
            for (const auto& m : mounts_under(dir))
                if (::umount(m.c_str()) != 0) ::umount2(m.c_str(), MNT_DETACH);
            ASSERT_TRUE(mounts_under(dir).empty()) << "mounts left under " << dir;
            std::error_code ec;
            fs::remove_all(dir, ec);
            ASSERT_FALSE(ec) << dir << ": " << ec.message();
        }
        kedge::test::run_command("ip link del " + env_->bridge() + " 2>/dev/null");
    }
};

TEST_F(EdgedRebootTest, PodsComeBackFromTheLocalStoreAfterAnOfflineReboot) {
    start_node(kNode, "reboot");
    if (IsSkipped() || HasFatalFailure()) return;
    for (const auto& name : kPods)
        apply("apiVersion: v1\nkind: Pod\nmetadata:\n  name: " + name +
              "\n  namespace: default\nspec:\n  nodeName: " + kNode +
              "\n  containers:\n  - name: c\n    image: " + env_->busybox_image() +
              "\n    command: [sleep, '3600']\n");
    for (const auto& name : kPods)
        ASSERT_TRUE(eventually([&] { return phase(name) == "Running"; }, 60s))
            << kubectl("get pod " + name + " -o yaml").output;
    auto before = runtime_pods();
    for (const auto& name : kPods) {
        ASSERT_TRUE(before[name].sandbox_ready && before[name].container_running) << name;
        ASSERT_EQ(container_status(name).at("restartCount"), 0);
    }

    // Cloud unreachable, then the node loses power.
    stop_cloudcore();
    edgecore(kNode).process->stop();
    power_off_node();
    if (HasFatalFailure()) return;
    ASSERT_TRUE(mounts_under(env_->node_dir()).empty());

    // The node boots: containerd first (as its systemd unit would), then edgecore; no cloud.
    std::string reason;
    ASSERT_TRUE(env_->start_containerd(&reason)) << reason;
    start_edgecore(kNode);
    ASSERT_FALSE(HasFailure());

    // Both pods run again: new sandboxes (the old ones lost their network) and new containers.
    std::map<std::string, RuntimePod> after;
    ASSERT_TRUE(eventually(
        [&] {
            after = runtime_pods();
            for (const auto& name : kPods) {
                const auto& p = after[name];
                if (!p.sandbox_ready || !p.container_running) return false;
            }
            return true;
        },
        60s))
        << env_->ctr("containers ls").output << env_->ctr("tasks ls").output
        << read_file(edgecore(kNode).log());
    for (const auto& name : kPods) {
        EXPECT_NE(after[name].sandbox_id, before[name].sandbox_id) << name;
        EXPECT_NE(after[name].container_id, before[name].container_id) << name;
    }
    EXPECT_NE(read_file(edgecore(kNode).log())
                  .find("2 pod(s) of node " + std::string(kNode) + " loaded from the local store"),
              std::string::npos)
        << read_file(edgecore(kNode).log());
    // The cloud really was away all along: the pods came from the local store.
    EXPECT_EQ(edge_metric(kNode, "edgecore_cloud_connected"), 0);

    // Local clients still see the pods through the edge's meta server.
    auto listed = kedge::test::run_command("kubectl --server " + edgecore(kNode).meta_url() +
                                           " get pods -n default -o name 2>&1");
    EXPECT_EQ(listed.exit_code, 0) << listed.output;
    for (const auto& name : kPods)
        EXPECT_NE(listed.output.find("pod/" + name), std::string::npos) << listed.output;

    // The cloud returns: the API shows what the node runs now, with restartCount as the
    // kubelet reports it after a reboot (the old container counts as one restart; its end, seen
    // by no one, shows as lastState.terminated).
    start_cloudcore();
    ASSERT_FALSE(HasFatalFailure());
    for (const auto& name : kPods) {
        std::string want_id = "containerd://" + after[name].container_id;
        EXPECT_TRUE(eventually(
            [&] {
                auto cs = container_status(name);
                return phase(name) == "Running" && cs.is_object() &&
                       cs.at("containerID") == want_id.c_str();
            },
            60s))
            << kubectl("get pod " + name + " -o yaml").output;
        auto cs = container_status(name);
        ASSERT_TRUE(cs.is_object()) << name;
        EXPECT_EQ(cs.at("ready"), true) << name;
        EXPECT_TRUE(cs.at("state").as_object().contains("running")) << name;
        EXPECT_EQ(cs.at("restartCount"), 1) << name << ": " << boost::json::serialize(cs);
        // lastState is the container that ran before the reboot.
        auto* last = cs.as_object().if_contains("lastState");
        auto* terminated =
            last && last->is_object() ? last->as_object().if_contains("terminated") : nullptr;
        ASSERT_TRUE(terminated && terminated->is_object())
            << name << ": " << boost::json::serialize(cs);
        EXPECT_EQ(terminated->at("containerID"),
                  ("containerd://" + before[name].container_id).c_str())
            << name << ": " << boost::json::serialize(cs);
    }
}

}  // namespace
}  // namespace kedge::edge::test
