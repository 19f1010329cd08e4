// keadm: parses the subcommands and their flags (PROTOCOL.md §11) and runs src/keadm.

#include <CLI/CLI.hpp>

#include <exception>
#include <iostream>
#include <string>
#include <vector>

#include "base/log.hpp"
#include "keadm/keadm.hpp"

namespace {

using kedge::keadm::CommonOptions;

void add_root_dir(CLI::App* cmd, CommonOptions& c) {
    cmd->add_option("--root-dir", c.root_dir,
                    "install under this directory instead of / (etc/kubeedge, var/lib/kubeedge, "
                    "var/log/kubeedge, var/run/kubeedge below it)");
    cmd->add_option("--bin-dir", c.bin_dir,
                    "where cloudcore, edgecore and kedge-apiserver are (default: keadm's "
                    "directory, then PATH)");
}

// Splits "a,b" into its parts (flags that upstream takes comma separated).
std::vector<std::string> split_commas(const std::vector<std::string>& values) {
    std::vector<std::string> out;
    for (const auto& v : values) {
        std::size_t start = 0;
        while (start <= v.size()) {
            auto comma = v.find(',', start);
            if (comma == std::string::npos) comma = v.size();
            if (comma > start) out.push_back(v.substr(start, comma - start));
            start = comma + 1;
        }
    }
    return out;
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"keadm: installs kedge (KubeEdge-compatible) on the cloud and on edge nodes"};
    app.require_subcommand(1);

    kedge::keadm::InitOptions init;
    std::vector<std::string> advertise;
    std::string kubeedge_version;
    auto* init_cmd = app.add_subcommand(
        "init",
        "set up the cloud side: the API server (embedded unless --kube-config), CRDs, "
        "cloudcore");
    add_root_dir(init_cmd, init.common);
    init_cmd->add_option("--advertise-address", advertise,
                         "IPs the edge nodes use to reach cloudcore (comma separated; they go "
                         "into the server certificate)");
    init_cmd->add_option("--kube-config", init.kube_config,
                         "use this cluster instead of starting the embedded kedge-apiserver");
    init_cmd->add_option("--kubeedge-version", kubeedge_version,
                         "accepted for upstream compatibility; kedge installs its own binaries");
    init_cmd->add_option("--set", init.common.sets,
                         "cloudcore.yaml override, e.g. modules.cloudHub.nodeLimit=5000");
    init_cmd->add_flag("--force", init.common.force, "redo every step, restarting what runs");
    init_cmd->add_flag("--foreground", init.common.foreground,
                       "run cloudcore in this process (the embedded API server still runs in "
                       "the background)");
    init_cmd->add_flag("--skip-preflight-checks", init.common.skip_preflight_checks,
                       "do not check ports and directories first");
    init_cmd->add_option("--hub-port", init.hub_port, "cloudhub WebSocket port")
        ->capture_default_str();
    init_cmd->add_option("--cert-port", init.cert_port, "join (certificate) server port")
        ->capture_default_str();
    init_cmd->add_option("--apiserver-port", init.apiserver_port, "the embedded API server's port")
        ->capture_default_str();
    init_cmd->add_option("--metrics-port", init.metrics_port, "cloudcore metrics port (127.0.0.1)")
        ->capture_default_str();

    kedge::keadm::GetTokenOptions gettoken;
    auto* gettoken_cmd = app.add_subcommand("gettoken", "print the token edge nodes join with");
    add_root_dir(gettoken_cmd, gettoken.common);
    gettoken_cmd->add_option("--kube-config", gettoken.kube_config,
                             "the cluster (default: the admin kubeconfig init wrote)");

    kedge::keadm::JoinOptions join;
    std::vector<std::string> labels;
    int wait_ready_s = static_cast<int>(join.wait_ready.count());
    auto* join_cmd = app.add_subcommand("join", "set up this edge node and start edgecore");
    add_root_dir(join_cmd, join.common);
    join_cmd
        ->add_option("-e,--cloudcore-ipport", join.cloudcore_ipport,
                     "cloudcore's hub address, <ip>:<port>")
        ->required();
    join_cmd->add_option("-i,--edgenode-name", join.edgenode_name,
                         "node name (default: host name)");
    join_cmd->add_option("-t,--token", join.token, "the token from `keadm gettoken`");
    join_cmd->add_option("-s,--certport", join.certport, "cloudcore's certificate port")
        ->capture_default_str();
    join_cmd
        ->add_option("-p,--remote-runtime-endpoint", join.remote_runtime_endpoint, "CRI endpoint")
        ->capture_default_str();
    join_cmd->add_option("--cgroupdriver", join.cgroupdriver, "cgroupfs or systemd")
        ->capture_default_str();
    join_cmd->add_option("-l,--labels", labels, "node labels key=value (comma separated)");
    join_cmd->add_option("--set", join.common.sets, "edgecore.yaml override");
    join_cmd->add_option("--mqtt-broker", join.mqtt_broker, "the MQTT broker edgecore uses")
        ->capture_default_str();
    join_cmd->add_option("--metaserver-port", join.metaserver_port,
                         "the edge's local API port on 127.0.0.1 (0: 10550)");
    join_cmd->add_option("--kubelet-port", join.kubelet_port,
                         "the kubelet-compatible server's port on 127.0.0.1 (0: 10350)");
    join_cmd->add_option("--monitor-port", join.monitor_port,
                         "edgecore's metrics/health port on 127.0.0.1 (0: 9092)");
    join_cmd->add_option("--wait-ready", wait_ready_s, "seconds to wait for the node to be Ready")
        ->capture_default_str();
    join_cmd->add_flag("--foreground", join.common.foreground,
                       "run edgecore in this process instead of in the background");
    join_cmd->add_flag("--force", join.common.force, "redo every step");
    join_cmd->add_flag("--skip-preflight-checks", join.common.skip_preflight_checks,
                       "do not run the preflight checks");

    kedge::keadm::ResetOptions reset;
    auto* reset_cmd = app.add_subcommand("reset", "undo init (cloud) or join (edge)");
    reset_cmd->require_subcommand(1);
    auto* reset_cloud = reset_cmd->add_subcommand("cloud",
                                                  "stop cloudcore (and the embedded API "
                                                  "server) and remove what init made");
    auto* reset_edge = reset_cmd->add_subcommand("edge", "stop edgecore and remove what join made");
    for (auto* cmd : {reset_cloud, reset_edge}) {
        add_root_dir(cmd, reset.common);
        cmd->add_flag("--force", reset.common.force, "do not ask, remove what is there");
    }
    reset_edge->add_flag("--remove-containers", reset.remove_containers,
                         "also remove the pods' containers through CRI");

    kedge::keadm::UpgradeOptions upgrade;
    int upgrade_wait_s = 120;
    auto* upgrade_cmd = app.add_subcommand("upgrade", "run newer binaries (edge: edgecore)");
    upgrade_cmd->require_subcommand(1);
    auto* upgrade_edge = upgrade_cmd->add_subcommand(
        "edge", "run the edgecore of --bin-dir: backup, restart, wait Ready, roll back on failure");
    auto* rollback_cmd = app.add_subcommand("rollback", "undo the last upgrade");
    rollback_cmd->require_subcommand(1);
    auto* rollback_edge = rollback_cmd->add_subcommand(
        "edge", "restore the last backup of keadm upgrade edge and the edgecore it ran");
    for (auto* cmd : {upgrade_edge, rollback_edge}) {
        add_root_dir(cmd, upgrade.common);
        cmd->add_option("--wait-ready", upgrade_wait_s, "seconds to wait for the node to be Ready")
            ->capture_default_str();
    }
    upgrade_edge->add_flag("--force", upgrade.common.force,
                           "go through the steps even when the binary is the same");

    auto* version_cmd = app.add_subcommand("version", "print the versions");

    kedge::keadm::DebugCheckOptions check;
    auto* debug_cmd = app.add_subcommand("debug", "troubleshooting");
    debug_cmd->require_subcommand(1);
    auto* check_cmd = debug_cmd->add_subcommand("check", "check this machine");
    add_root_dir(check_cmd, check.common);
    check_cmd->add_option("checks", check.checks,
                          "what to check: cpu, memory, disk, runtime, network, ports (default: "
                          "all)");
    check_cmd
        ->add_option("-p,--remote-runtime-endpoint", check.remote_runtime_endpoint, "CRI endpoint")
        ->capture_default_str();
    check_cmd->add_option("-e,--cloudcore-ipport", check.cloudcore_ipport,
                          "cloudcore address for the network check");

    std::string pid_file, log_file;
    std::vector<std::string> child_argv;
    auto* supervise_cmd = app.add_subcommand("supervise", "");  // hidden: no group
    supervise_cmd->group("");
    supervise_cmd->add_option("--pid-file", pid_file)->required();
    supervise_cmd->add_option("--log-file", log_file)->required();
    supervise_cmd->add_option("command", child_argv, "the component and its arguments, after --")
        ->required();

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        int code = app.exit(e);
        return code == 0 ? 0 : 2;
    }

    kedge::log::init();
    kedge::log::apply_spec("warn");
    try {
        if (*init_cmd) {
            init.advertise_addresses = split_commas(advertise);
            return kedge::keadm::run_init(init);
        }
        if (*gettoken_cmd) return kedge::keadm::run_gettoken(gettoken);
        if (*join_cmd) {
            join.labels = split_commas(labels);
            join.wait_ready = std::chrono::seconds(wait_ready_s);
            return kedge::keadm::run_join(join);
        }
        if (*reset_cmd) {
            reset.what = *reset_cloud ? "cloud" : "edge";
            return kedge::keadm::run_reset(reset);
        }
        if (*upgrade_cmd || *rollback_cmd) {
            upgrade.wait_ready = std::chrono::seconds(upgrade_wait_s);
            return *upgrade_cmd ? kedge::keadm::run_upgrade(upgrade)
                                : kedge::keadm::run_rollback(upgrade);
        }
        if (*version_cmd) return kedge::keadm::run_version();
        if (*check_cmd) return kedge::keadm::run_debug_check(check);
        if (*supervise_cmd) return kedge::keadm::run_supervise(pid_file, log_file, child_argv);
    } catch (const std::exception& e) {
        std::cerr << "keadm: " << e.what() << "\n";
        return 1;
    }
    return 2;
}
