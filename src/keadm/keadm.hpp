#pragma once
// keadm: installs kedge (PROTOCOL.md §11 flags). Every command works under a root directory
// (`--root-dir`, default "/") so tests install several nodes side by side; every path below is
// relative to it:
//   etc/kubeedge/                     config/{cloudcore,edgecore}.yaml, ca/, certs/, manifests/
//   var/lib/kubeedge/                 edgecore.db, apiserver/ (the embedded API server's data)
//   var/log/kubeedge/                 <component>.log
//   var/run/kubeedge/                 <component>.pid (supervised processes)
// Commands print what each step did and how long it took ("[init] CA and certificates: created
// (12 ms)"), return 0 on success, 1 on a failure (with what to fix), 2 on bad flags.
// Processes keadm starts run under systemd when it runs (a unit per component), otherwise as a
// supervised background process (`keadm supervise`, a hidden command that restarts the child with
// back-off and keeps the pid file), or in the foreground with --foreground.

#include <chrono>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace kedge::keadm {

// The layout under a root directory (see above).
struct Layout {
    std::filesystem::path root = "/";
    std::filesystem::path etc() const { return root / "etc/kubeedge"; }
    std::filesystem::path config_dir() const { return etc() / "config"; }
    std::filesystem::path data() const { return root / "var/lib/kubeedge"; }
    std::filesystem::path logs() const { return root / "var/log/kubeedge"; }
    std::filesystem::path run() const { return root / "var/run/kubeedge"; }
    std::filesystem::path pid_file(const std::string& component) const {
        return run() / (component + ".pid");
    }
    std::filesystem::path log_file(const std::string& component) const {
        return logs() / (component + ".log");
    }
};

struct CommonOptions {
    std::filesystem::path root_dir = "/";
    // Where the kedge binaries are (cloudcore, edgecore, kedge-apiserver); default: the
    // directory of the running keadm.
    std::filesystem::path bin_dir;
    bool foreground = false;          // run the component in this process's place
    bool force = false;               // redo steps even when their result exists
    bool skip_preflight_checks = false;
    std::vector<std::string> sets;    // --set key=value, merged into the component's yaml
};

struct InitOptions {
    CommonOptions common;
    std::vector<std::string> advertise_addresses;  // --advertise-address (comma separated)
    std::string kube_config;  // --kube-config: use this cluster; empty = embedded kedge-apiserver
    unsigned short hub_port = 10000, cert_port = 10002;
    unsigned short apiserver_port = 6443;  // the embedded API server (bound to 127.0.0.1 and
                                           // the advertise addresses)
    unsigned short metrics_port = 9091;
};
int run_init(const InitOptions& options);

struct GetTokenOptions {
    CommonOptions common;
    std::string kube_config;  // empty: the admin kubeconfig `init` wrote under the root dir
};
int run_gettoken(const GetTokenOptions& options);

struct JoinOptions {
    CommonOptions common;
    std::string cloudcore_ipport;  // required, "<ip>:<hub port>"
    std::string edgenode_name;     // default: host name
    std::string token;
    unsigned short certport = 10002;
    std::string remote_runtime_endpoint = "unix:///run/containerd/containerd.sock";
    std::string cgroupdriver = "cgroupfs";
    std::vector<std::string> labels;  // key=value
    std::string mqtt_broker = "tcp://127.0.0.1:1883";  // whose ports 1883/1884 may be taken
    std::chrono::seconds wait_ready{120};               // until the node is Ready
    // Local listeners of edgecore (0 = edgecore.yaml's default: 10550, 10350, 9092), so that
    // several nodes can run on one host (tests).
    unsigned short metaserver_port = 0;
    unsigned short kubelet_port = 0;
    unsigned short monitor_port = 0;
};
int run_join(const JoinOptions& options);

struct ResetOptions {
    CommonOptions common;
    std::string what;  // "cloud" or "edge"
    bool remove_containers = false;  // edge: also remove the pods' containers through CRI
};
int run_reset(const ResetOptions& options);

// keadm upgrade edge: run the edgecore of --bin-dir instead of the current one (backup first,
// roll back when the node does not come back Ready); keadm rollback edge: restore the latest
// backup and the binary it names.
struct UpgradeOptions {
    CommonOptions common;  // bin_dir: where the new edgecore is
    std::chrono::seconds wait_ready{120};
};
int run_upgrade(const UpgradeOptions& options);
int run_rollback(const UpgradeOptions& options);

int run_version();

struct DebugCheckOptions {
    CommonOptions common;
    std::vector<std::string> checks;  // empty = all: cpu, memory, disk, runtime, network, ports
    std::string remote_runtime_endpoint = "unix:///run/containerd/containerd.sock";
    std::string cloudcore_ipport;  // network check target (optional)
};
int run_debug_check(const DebugCheckOptions& options);

// `keadm supervise --pid-file F --log-file L -- <argv...>`: runs argv, restarts it with
// exponential back-off when it exits, stops it on SIGTERM. Hidden; used by init/join.
int run_supervise(const std::filesystem::path& pid_file, const std::filesystem::path& log_file,
                  const std::vector<std::string>& argv);

}  // namespace kedge::keadm
