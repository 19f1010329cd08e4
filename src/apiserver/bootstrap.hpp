#pragma once
// First-start material of kedge-apiserver: its serving CA and certificate, a client CA and the
// admin client certificate (CN=kedge-admin, O=system:masters) under <data-dir>/pki, reused on
// later starts, and the admin kubeconfig. Blocking file I/O: call at start-up.

#include <filesystem>
#include <string>
#include <vector>

#include "base/error.hpp"

namespace kedge::apiserver {

// PEM paths of the server's PKI.
struct ServerPki {
    std::string serving_ca_cert;  // what kubeconfigs trust
    std::string serving_cert, serving_key;
    std::string client_ca_cert;  // client certificates must chain to this
    std::string client_ca_key;   // empty when the client CA came from --client-ca-file
    std::string admin_cert, admin_key;  // empty when there is no client CA key to sign with
};

// Settings of ensure_pki.
struct PkiOptions {
    std::filesystem::path dir;  // <data-dir>/pki
    std::vector<std::string> ips;  // serving SANs besides 127.0.0.1 (e.g. the bind address)
    std::vector<std::string> dns_names;  // besides localhost
    std::string tls_cert_file, tls_key_file;  // use these instead of a generated serving cert
    std::string client_ca_file;               // use this client CA instead of a generated one
};

// Creates what is missing and returns the paths. A serving cert made by an earlier start is
// reissued when it lacks one of the requested SANs.
Result<ServerPki> ensure_pki(const PkiOptions& options);

// An admin kubeconfig for https://<host>:<port> with the CA and client credentials embedded.
Result<std::string> admin_kubeconfig(const ServerPki& pki, const std::string& host,
                                     unsigned short port);

}  // namespace kedge::apiserver
