#pragma once
// Joining simulated nodes (PROTOCOL.md §4) with edgecore's join code (edge/certs), plus a disk
// cache of their certificates so that reruns against the same cloud do not re-join thousands
// of nodes.

#include <filesystem>
#include <optional>
#include <string>

#include "base/error.hpp"
#include "edge/certs/edge_certs.hpp"
#include "pki/certificate.hpp"
#include "pki/private_key.hpp"

namespace kedge::edgemark {

// The join itself lives in edge/certs (shared with edgecore's edge hub).
using edge::fetch_ca;
using edge::JoinTarget;
using edge::NodeCredentials;
using edge::request_node_cert;

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
