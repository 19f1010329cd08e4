// kedge-apiserver: parses flags and runs the API server (src/apiserver/app.hpp).

#include <CLI/CLI.hpp>

#include <exception>
#include <iostream>

#include "apiserver/app.hpp"
#include "base/log.hpp"

int main(int argc, char** argv) {
    kedge::apiserver::AppConfig f;
    std::string log_level = "info";
    CLI::App app{"kedge-apiserver: a Kubernetes-compatible API server"};
    app.set_version_flag("--version", "kedge-apiserver v" KEDGE_VERSION " (kedge)");
    app.add_option("--data-dir", f.data_dir, "state directory (database, pki)")->required();
    app.add_option("--bind-address", f.bind_address, "address to listen on");
    app.add_option("--secure-port", f.secure_port, "HTTPS port (0 picks a free one)");
    app.add_option("--write-kubeconfig", f.write_kubeconfig, "write an admin kubeconfig here");
    app.add_option("--storage", f.storage, "storage backend: sqlite or etcd");
    app.add_option("--etcd-servers", f.etcd_servers, "etcd endpoints (with --storage etcd)");
    app.add_option("--token-auth-file", f.token_auth_file, "static token CSV file");
    app.add_option("--client-ca-file", f.client_ca_file, "CA for client certificates");
    app.add_option("--tls-cert-file", f.tls_cert_file, "serving certificate");
    app.add_option("--tls-private-key-file", f.tls_key_file, "serving key");
    app.add_option("--authorization-mode", f.authorization_mode, "AlwaysAllow or Node,RBAC");
    app.add_option("--watch-cache-size", f.watch_cache_size, "events kept per resource type");
    app.add_option("--bookmark-interval-ms", f.bookmark_interval_ms, "watch BOOKMARK period");
    app.add_option("--controllers", f.controllers,
                   "in-process controllers: * = all, -name disables one, empty = none");
    app.add_option("--node-monitor-period", f.node_monitor_period, "node health check period");
    app.add_option("--node-monitor-grace-period", f.node_monitor_grace_period,
                   "heartbeat age after which a node is Unknown");
    app.add_option("--default-unreachable-toleration", f.default_unreachable_toleration,
                   "eviction delay for pods without an unreachable/not-ready toleration");
    app.add_option("--log-level", log_level, "log spec, e.g. info or debug,apiserver=trace");
    CLI11_PARSE(app, argc, argv);
    if (f.tls_cert_file.empty() != f.tls_key_file.empty()) {
        std::cerr << "--tls-cert-file and --tls-private-key-file go together\n";
        return 2;
    }
    kedge::log::init();
    kedge::log::apply_spec(log_level);
    try {
        return kedge::apiserver::run_app(f);
    } catch (const std::exception& e) {
        std::cerr << "kedge-apiserver: " << e.what() << "\n";
        return 1;
    }
}
