#pragma once
// An edge node's identity towards the cloud (PROTOCOL.md §4): join with a token (fetch the CA
// from /ca.crt unverified, pin it with the token's sha256 prefix, CSR O=system:nodes,
// CN=system:node:<node>, GET /edge.crt), keep CA, certificate and key as PEM files, and rotate
// the certificate over mTLS before it expires. Shared by edgecore's edge hub and kedge-edgemark.

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <filesystem>
#include <optional>
#include <random>
#include <string>

#include "base/clock.hpp"
#include "base/error.hpp"
#include "pki/certificate.hpp"
#include "pki/private_key.hpp"

namespace kedge::edge {

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

// Rotation: a fresh key and CSR for the same node, authenticated by the current certificate
// (mTLS, no token), pinned to ca. base_url is "https://<cloud>:<cert port>".
boost::asio::awaitable<Result<NodeCredentials>> renew_node_cert(boost::asio::any_io_executor ex,
                                                                std::string base_url,
                                                                pki::Certificate ca,
                                                                NodeCredentials current,
                                                                std::string node);

// The three PEM files of edgeHub.{tlsCaFile, tlsCertFile, tlsPrivateKeyFile}.
struct CertPaths {
    std::filesystem::path ca;    // /etc/kubeedge/ca/rootCA.crt
    std::filesystem::path cert;  // /etc/kubeedge/certs/server.crt
    std::filesystem::path key;   // /etc/kubeedge/certs/server.key ("EC PRIVATE KEY", 0600)
};

// What is on disk and usable: the CA plus a certificate that chains to it, matches the key,
// names `node` (CN=system:node:<node>) and is valid at `now`. nullopt with a reason in *why
// (missing file, expired, other node, ...) when the node must (re)join.
struct StoredIdentity {
    pki::Certificate ca;
    NodeCredentials creds;
};
std::optional<StoredIdentity> load_identity(const CertPaths& paths, const std::string& node,
                                            Clock::time_point now, std::string* why = nullptr);
// Writes the files atomically (directories created; key 0600).
Result<void> store_identity(const CertPaths& paths, const pki::Certificate& ca,
                            const NodeCredentials& creds);

// When to rotate: a uniformly jittered point in [70 %, 90 %] of the certificate's lifetime.
Clock::time_point rotation_time(const pki::Certificate& cert, std::mt19937_64& rng);

}  // namespace kedge::edge
