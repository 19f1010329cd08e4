#pragma once
// Everything kedge-apiserver does after flag parsing: storage, registry, PKI, authentication,
// authorization and the HTTP server wired together, run until SIGTERM/SIGINT.

#include <cstddef>
#include <string>

namespace kedge::apiserver {

// The binary's settings (one field per command-line flag).
struct AppConfig {
    std::string data_dir;
    std::string bind_address = "127.0.0.1";
    int secure_port = 6443;
    std::string write_kubeconfig;
    std::string storage = "sqlite";
    std::string etcd_servers;
    std::string token_auth_file;
    std::string client_ca_file;
    std::string tls_cert_file, tls_key_file;
    std::string authorization_mode = "AlwaysAllow";
    std::size_t watch_cache_size = 1'000;
    int bookmark_interval_ms = 30'000;
    // In-process controllers (src/controllers): kube-controller-manager's --controllers syntax
    // ("*", "*,-scheduler", "" = none) and their tunables as Go durations.
    std::string controllers = "*";
    std::string node_monitor_period = "5s";
    std::string node_monitor_grace_period = "40s";
    std::string default_unreachable_toleration = "300s";
};

// Runs the server; returns the process exit code. Throws std::runtime_error (with a message
// naming the flag or file) when start-up fails.
int run_app(const AppConfig& config);

}  // namespace kedge::apiserver
