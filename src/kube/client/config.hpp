#pragma once
// Where a Kubernetes client connects and with which credentials: read from a kubeconfig file
// (what kubectl uses) or from the in-cluster service-account mount. No network here.

#include <chrono>
#include <filesystem>
#include <string>
#include <string_view>

#include "base/error.hpp"

namespace kedge::kube::client {

// Everything Client needs. PEM material is held in memory (kubeconfig *-data fields, or the files
// the kubeconfig names, read at load time). Secrets (token, key) are never logged.
struct ClientConfig {
    std::string server;           // https://host:port (or http:// for tests)
    std::string ca_pem;           // trust anchor for the server; empty = system default
    std::string client_cert_pem;  // client certificate auth (with client_key_pem)
    std::string client_key_pem;
    std::string bearer_token;  // token auth (also tokenFile, read at load time)
    bool insecure_skip_tls_verify = false;
    std::string tls_server_name;  // overrides the name checked in the server certificate
    // Client-side rate limit of requests (token bucket, as client-go's QPS/Burst); qps <= 0 = off.
    double qps = 50;
    int burst = 100;
    std::chrono::milliseconds timeout = std::chrono::seconds(60);  // per request (not watches)
    std::string user_agent = "kedge/0.1";
};

// Reads a kubeconfig (YAML). context "" = current-context. Relative file paths in it resolve
// against the kubeconfig's directory. Errors name the file and the missing/bad entry.
Result<ClientConfig> load_kubeconfig(const std::filesystem::path& path,
                                     std::string_view context = {});
Result<ClientConfig> parse_kubeconfig(std::string_view yaml, const std::filesystem::path& base_dir,
                                      std::string_view context = {});

// The in-cluster config: KUBERNETES_SERVICE_HOST/PORT and the token and ca.crt under dir.
Result<ClientConfig> in_cluster_config(
    const std::filesystem::path& dir = "/var/run/secrets/kubernetes.io/serviceaccount");

}  // namespace kedge::kube::client
