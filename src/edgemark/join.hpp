#pragma once
// The edge join flow of PROTOCOL.md §4 for simulated nodes: fetch the CA from /ca.crt without
// trusting the server yet, pin it with the token's hash, then get each node's certificate from
// /edge.crt with a fresh ECDSA P-256 key and CSR. Certificates can be cached on disk so that
// reruns against the same cloud do not re-join thousands of nodes.

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <filesystem>
#include <optional>
#include <string>

#include "base/error.hpp"
#include "pki/certificate.hpp"
#include "pki/private_key.hpp"

namespace kedge::edgemark {

// A node's mTLS identity for the hub.
struct NodeCredentials {
    pki::Certificate cert;
    pki::PrivateKey key;
};

// Where the join server is: "https://<cloud>:<cert port>".
struct JoinTarget {
    std::string base_url;
    std::string token;  // "<sha256 of CA DER>.<jwt>"
};

// GET /ca.crt (server unverified) and check its sha256 against the token prefix.
// unauthorized when the hash does not match, parse_error for a malformed token or CA.
boost::asio::awaitable<Result<pki::Certificate>> fetch_ca(boost::asio::any_io_executor ex,
                                                          JoinTarget target);

// Makes a key and CSR (O=system:nodes, CN=system:node:<node>) and GETs /edge.crt with the
// token's JWT as bearer and the NodeName header, pinned to ca. The server's refusal comes back as
// unauthorized/forbidden/invalid_argument with the HTTP status and body in the detail.
boost::asio::awaitable<Result<NodeCredentials>> request_node_cert(boost::asio::any_io_executor ex,
                                                                  JoinTarget target,
                                                                  pki::Certificate ca,
                                                                  std::string node);

// Node certificates on disk: <dir>/ca.crt and <dir>/<node>.pem (key + certificate PEM, 0600).
// Entries are trusted only for the CA they were issued by.
class CertCache {
public:
    explicit CertCache(std::filesystem::path dir) : dir_(std::move(dir)) {}

    // A cached identity that chains to ca and is valid now; nullopt otherwise (never an error:
    // a bad cache entry just means joining again).
    std::optional<NodeCredentials> load(const pki::Certificate& ca, const std::string& node) const;
    Result<void> store(const pki::Certificate& ca, const std::string& node,
                       const NodeCredentials& creds) const;

    const std::filesystem::path& dir() const { return dir_; }

private:
    std::filesystem::path dir_;
};

}  // namespace kedge::edgemark
