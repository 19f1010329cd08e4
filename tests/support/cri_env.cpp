#include "support/cri_env.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <sstream>
#include <vector>

#ifndef KEDGE_CRI_ENV_SCRIPT
#error "KEDGE_CRI_ENV_SCRIPT must name tests/support/cri-env.sh"
#endif

namespace kedge::test {

namespace {

namespace fs = std::filesystem;

constexpr int kSubnetSlots = 4096;  // /24s in 10.80.0.0/12
constexpr const char* kSlotDir = "/tmp/kedge-cri-subnets";

std::atomic<int> g_env_counter{0};

std::string tail(const std::string& text, size_t max = 3000) {
    return text.size() <= max ? text : "..." + text.substr(text.size() - max);
}

std::map<std::string, std::string> parse_kv(const std::string& out) {
    std::map<std::string, std::string> kv;
    std::istringstream in(out);
    std::string line;
    while (std::getline(in, line)) {
        auto eq = line.find('=');
        if (eq != std::string::npos && eq > 0) kv[line.substr(0, eq)] = line.substr(eq + 1);
    }
    return kv;
}

std::vector<std::string> split_words(const std::string& s) {
    std::vector<std::string> words;
    std::istringstream in(s);
    std::string w;
    while (in >> w) words.push_back(w);
    return words;
}

// A process that exists and is not a zombie (PID 1 on these VMs does not reap orphans).
bool pid_alive(int pid) {
    if (pid <= 0) return false;
    std::string stat = read_file("/proc/" + std::to_string(pid) + "/stat");
    auto close = stat.rfind(')');
    if (close == std::string::npos || close + 2 >= stat.size()) return false;
    return stat[close + 2] != 'Z';
}

// Claims a /24 inside 10.80.0.0/12 that no other live test process holds and that no route on
// this host already uses. Slots are files named by index holding the owner's pid; a flock makes
// the check-and-claim atomic across processes, and slots of dead owners are reclaimed.
int claim_subnet_slot(int hint) {
    ::mkdir(kSlotDir, 0755);
    std::string lock_path = std::string(kSlotDir) + "/.lock";
    int lock = ::open(lock_path.c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0644);
    if (lock < 0) return -1;
    ::flock(lock, LOCK_EX);
    int claimed = -1;
    for (int i = 0; i < kSubnetSlots - 1 && claimed < 0; ++i) {
        int slot = 1 + (hint + i) % (kSubnetSlots - 1);
        std::string path = std::string(kSlotDir) + "/" + std::to_string(slot);
        std::string owner = read_file(path);
        if (!owner.empty() && pid_alive(std::atoi(owner.c_str()))) continue;
        std::string subnet =
            "10." + std::to_string(80 + slot / 256) + "." + std::to_string(slot % 256) + ".0/24";
        auto routes = run_command("ip -4 route show root " + subnet);
        if (routes.exit_code != 0 || !routes.output.empty()) continue;
        write_file(path, std::to_string(::getpid()) + "\n");
        claimed = slot;
    }
    ::flock(lock, LOCK_UN);
    ::close(lock);
    return claimed;
}

void release_subnet_slot(int slot) {
    if (slot < 0) return;
    std::string path = std::string(kSlotDir) + "/" + std::to_string(slot);
    if (std::atoi(read_file(path).c_str()) == ::getpid()) ::unlink(path.c_str());
}

std::string slot_subnet(int slot) {
    return "10." + std::to_string(80 + slot / 256) + "." + std::to_string(slot % 256) + ".0/24";
}

bool mounts_under(const std::string& dir) {
    return read_file("/proc/self/mounts").find(" " + dir + "/") != std::string::npos;
}

std::string sanitize_label(const std::string& label) {
    std::string out;
    for (char c : label) {
        if (out.size() >= 12) break;
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
        out += ok ? c : '-';
    }
    return out.empty() ? "node" : out;
}

// Tears down envs whose test process died without running the destructor (a ctest timeout
// kills with SIGKILL): their base dir names a dead owner. Only our own kedge-cri-XXXXXX dirs.
void sweep_dead_envs(const std::string& root, const std::string& script) {
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(root, ec)) {
        std::string name = e.path().filename();
        if (name.size() != 16 || name.rfind("kedge-cri-", 0) != 0) continue;
        std::string owner_file = e.path().string() + "/owner.pid";
        if (!fs::exists(owner_file)) continue;
        if (pid_alive(std::atoi(read_file(owner_file).c_str()))) continue;
        std::string base = e.path().string();
        auto down = run_command(shell_quote(script) + " down " + shell_quote(base));
        std::fprintf(stderr, "CriEnv: swept %s left by a dead test process\n%s", base.c_str(),
                     down.output.c_str());
        if (!mounts_under(base)) fs::remove_all(base, ec);
    }
}

}  // namespace

bool cri_env_must_run() { return in_ci(); }

std::string CriEnv::script_path() { return KEDGE_CRI_ENV_SCRIPT; }

std::string CriEnv::missing_capability() {
    if (::geteuid() != 0) return "not running as root (containerd, bridges and cgroups need it)";
    static const char* const kBinaries[] = {"/usr/bin/containerd",
                                            "/usr/bin/containerd-shim-runc-v2",
                                            "/usr/bin/ctr",
                                            "/usr/sbin/runc",
                                            "/usr/bin/docker-registry",
                                            "/usr/bin/skopeo",
                                            "/bin/busybox",
                                            "/usr/bin/gcc",
                                            "/usr/lib/cni/bridge",
                                            "/usr/lib/cni/host-local",
                                            "/usr/lib/cni/portmap",
                                            "/usr/bin/curl",
                                            "/usr/bin/flock",
                                            "/usr/bin/nsenter",
                                            "/usr/sbin/iptables"};
    std::string missing;
    for (const char* b : kBinaries) {
        if (::access(b, X_OK) != 0) missing += std::string(missing.empty() ? "" : ", ") + b;
    }
    if (::access("/sbin/ip", X_OK) != 0 && ::access("/usr/sbin/ip", X_OK) != 0 &&
        ::access("/usr/bin/ip", X_OK) != 0)
        missing += std::string(missing.empty() ? "" : ", ") + "ip (iproute2)";
    if (::access("/usr/lib/x86_64-linux-gnu/libc.a", R_OK) != 0 &&
        ::access("/usr/lib/aarch64-linux-gnu/libc.a", R_OK) != 0)
        missing += std::string(missing.empty() ? "" : ", ") + "libc.a (libc6-dev)";
    if (!missing.empty())
        return "missing " + missing + " (scripts/setup installs the Debian packages)";
    if (read_file("/proc/self/mounts").find(" cgroup") == std::string::npos)
        return "no cgroup filesystem mounted";
    if (::access(script_path().c_str(), X_OK) != 0)
        return "harness script not executable: " + script_path();
    return {};
}

std::unique_ptr<CriEnv> CriEnv::start(const std::string& name, std::string* reason,
                                      bool* unsupported, Options options) {
    std::string why;
    if (unsupported) *unsupported = false;
    why = missing_capability();
    if (!why.empty()) {
        if (unsupported) *unsupported = true;
        if (reason) *reason = why;
        return nullptr;
    }
    std::unique_ptr<CriEnv> env(new CriEnv());
    if (!env->start_impl(name, std::move(options), &why)) {
        if (reason) *reason = why;
        return nullptr;  // the destructor tears down whatever half started
    }
    return env;
}

bool CriEnv::start_impl(const std::string& label, Options options, std::string* reason) {
    int n = ++g_env_counter;
    name_ = sanitize_label(label) + "-" + std::to_string(::getpid()) + "-" + std::to_string(n);

    // The base stays short: containerd's socket paths must fit in sun_path (108 bytes).
    const char* tmp = std::getenv("TMPDIR");
    std::string root = tmp && *tmp && std::string(tmp).size() < 40 ? tmp : "/tmp";
    sweep_dead_envs(root, script_path());
    std::string tmpl = root + "/kedge-cri-XXXXXX";
    if (!::mkdtemp(tmpl.data())) {
        *reason = "mkdtemp " + tmpl + " failed";
        return false;
    }
    base_ = tmpl;
    owns_base_ = true;
    ::chmod(base_.c_str(), 0755);
    write_file(base_ + "/owner.pid", std::to_string(::getpid()) + "\n");

    auto images = run_command(shell_quote(script_path()) + " images");
    if (images.exit_code != 0) {
        *reason = "building the test images failed:\n" + tail(images.output);
        return false;
    }
    if (!start_registry(reason)) return false;

    subnet_ = options.subnet;
    if (subnet_.empty()) {
        subnet_slot_ = claim_subnet_slot(static_cast<int>(::getpid()) * 7 + n);
        if (subnet_slot_ < 0) {
            *reason = "no free /24 left in 10.80.0.0/12";
            return false;
        }
        subnet_ = slot_subnet(subnet_slot_);
    }
    auto config = run_command(shell_quote(script_path()) + " node-config " + shell_quote(base_) +
                              " " + std::to_string(port_) + " " + shell_quote(name_) + " " +
                              shell_quote(subnet_) + (options.own_netns ? " netns" : ""));
    if (config.exit_code != 0) {
        *reason = "cri-env.sh node-config failed:\n" + tail(config.output);
        return false;
    }
    auto kv = parse_kv(config.output);
    node_dir_ = kv["dir"];
    socket_ = kv["sock"];
    bridge_ = kv["bridge"];
    cgroup_parent_ = kv["cgroup_parent"];
    containerd_cmd_ = kv["containerd_cmd"];
    if (options.own_netns) netns_ = kv["netns"];
    if (node_dir_.empty() || socket_.empty() || containerd_cmd_.empty()) {
        *reason = "cri-env.sh node-config printed no node description:\n" + tail(config.output);
        return false;
    }
    if (!start_containerd(reason)) return false;
    if (options.own_netns) {
        auto imported = run_command(shell_quote(script_path()) + " import-images " +
                                    shell_quote(base_) + " " + shell_quote(name_));
        if (imported.exit_code != 0) {
            *reason = "importing images into the netns node failed:\n" + tail(imported.output);
            return false;
        }
    }
    return true;
}

bool CriEnv::start_registry(std::string* reason) {
    std::string last;
    // free_port() can race with another process taking the port: retry with a fresh one.
    for (int attempt = 0; attempt < 3; ++attempt) {
        port_ = free_port();
        auto config = run_command(shell_quote(script_path()) + " registry-config " +
                                  shell_quote(base_) + " " + std::to_string(port_));
        if (config.exit_code != 0) {
            *reason = "cri-env.sh registry-config failed:\n" + tail(config.output);
            return false;
        }
        auto kv = parse_kv(config.output);
        registry_proc_ = std::make_unique<Process>(split_words(kv["registry_cmd"]), kv["log"]);
        // `cri-env.sh down` (also from the sweeper, if this process dies) stops it by this file.
        write_file(base_ + "/registry/registry.pid", std::to_string(registry_proc_->pid()) + "\n");
        auto push = run_command(shell_quote(script_path()) + " registry-push " +
                                shell_quote(base_) + " " + std::to_string(port_));
        if (push.exit_code == 0 && registry_proc_->running()) {
            registry_ = kv["registry"];
            return true;
        }
        last = push.output + read_file(kv["log"]);
        registry_proc_.reset();
    }
    *reason = "the registry did not start:\n" + tail(last);
    return false;
}

bool CriEnv::start_containerd(std::string* reason) {
    if (containerd_running()) return true;
    containerd_proc_.reset();
    static std::atomic<int> restarts{0};
    std::string log = node_dir_ + "/containerd.log";
    if (fs::exists(log))
        log = node_dir_ + "/containerd.restart" + std::to_string(++restarts) + ".log";
    containerd_proc_ = std::make_unique<Process>(split_words(containerd_cmd_), log);
    // node-down (also when run by hand after a crashed test) stops containerd through this file.
    write_file(node_dir_ + "/containerd.pid", std::to_string(containerd_proc_->pid()) + "\n");
    bool up = wait_until(
        [&] {
            if (!containerd_proc_->running()) return true;
            return fs::exists(socket_) &&
                   run_command("ctr --connect-timeout 1s -a " + shell_quote(socket_) + " version")
                           .exit_code == 0;
        },
        std::chrono::seconds(30));
    if (up && containerd_proc_->running()) return true;
    if (reason)
        *reason = std::string(up ? "containerd exited" : "containerd did not answer in 30 s") +
                  "; log " + log + ":\n" + tail(read_file(log));
    containerd_proc_.reset();
    return false;
}

void CriEnv::stop_containerd() {
    if (containerd_proc_) containerd_proc_->stop(std::chrono::seconds(10));
    containerd_proc_.reset();
}

bool CriEnv::containerd_running() const { return containerd_proc_ && containerd_proc_->running(); }

int CriEnv::containerd_pid() const { return containerd_running() ? containerd_proc_->pid() : -1; }

int CriEnv::registry_pid() const {
    return registry_proc_ && registry_proc_->running() ? registry_proc_->pid() : -1;
}

std::string CriEnv::busybox_image() const {
    return "localhost:" + std::to_string(port_) + "/test/busybox:1.35";
}

std::string CriEnv::pause_image() const {
    return "localhost:" + std::to_string(port_) + "/test/pause:3.9";
}

CommandResult CriEnv::ctr(const std::string& args) const {
    // Without a connect timeout ctr waits 10 s on a socket nobody serves (containerd stopped).
    return run_command("ctr --connect-timeout 5s -a " + shell_quote(socket_) + " -n k8s.io " +
                       args);
}

bool CriEnv::routes_via_bridge(const std::string& ip) const {
    if (ip.empty() || ip.find_first_not_of("0123456789.") != std::string::npos) return false;
    std::string ns = netns_.empty() ? "" : "-n " + shell_quote(netns_) + " ";
    auto r = run_command("ip " + ns + "route get " + ip);
    return r.exit_code == 0 && !bridge_.empty() &&
           r.output.find(" dev " + bridge_ + " ") != std::string::npos;
}

void CriEnv::teardown() {
    if (base_.empty()) return;
    std::string script = shell_quote(script_path());
    if (!node_dir_.empty()) {
        auto down =
            run_command(script + " node-down " + shell_quote(base_) + " " + shell_quote(name_));
        if (down.exit_code != 0)
            std::fprintf(stderr, "CriEnv %s: node-down failed:\n%s\n", name_.c_str(),
                         down.output.c_str());
    }
    containerd_proc_.reset();  // node-down already stopped it; this reaps it
    registry_proc_.reset();
    ::unlink((base_ + "/registry/registry.pid").c_str());  // the pid may be reused from now on
    ::unlink((node_dir_ + "/containerd.pid").c_str());
    auto down = run_command(script + " down " + shell_quote(base_));
    if (down.exit_code != 0)
        std::fprintf(stderr, "CriEnv %s: down failed:\n%s\n", name_.c_str(), down.output.c_str());
    release_subnet_slot(subnet_slot_);
    subnet_slot_ = -1;
    if (owns_base_) {
        if (mounts_under(base_)) {
            // Removing files through a live mount could reach outside the env: leave it.
            std::fprintf(stderr, "CriEnv %s: mounts remain under %s; not removing it\n",
                         name_.c_str(), base_.c_str());
        } else {
            std::error_code ec;
            fs::remove_all(base_, ec);
        }
    }
    base_.clear();
}

CriEnv::~CriEnv() { teardown(); }

std::unique_ptr<ClaimedSubnet> ClaimedSubnet::claim() {
    static std::atomic<int> n{0};
    int slot = claim_subnet_slot(static_cast<int>(::getpid()) * 13 + 101 + n++);
    if (slot < 0) return nullptr;
    std::unique_ptr<ClaimedSubnet> c(new ClaimedSubnet());
    c->slot_ = slot;
    c->cidr_ = slot_subnet(slot);
    return c;
}

ClaimedSubnet::~ClaimedSubnet() { release_subnet_slot(slot_); }

std::string ClaimedSubnet::address(int host) const {
    return cidr_.substr(0, cidr_.rfind(".0/24")) + "." + std::to_string(host);
}

}  // namespace kedge::test
