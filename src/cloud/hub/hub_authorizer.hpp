#pragma once
// The cloud hub's decision on a WebSocket upgrade (PROTOCOL.md §2, §12), as a pure function of
// the request's headers, path and verified client certificate, so that every refusal can be
// tested without a socket. The hub adds what needs its state (node_limit) on top.

#include <string>
#include <string_view>

#include "base/error.hpp"
#include "net/ws_server.hpp"

namespace kedge::cloud {

// CN of the certificates upstream edgecore v1.15 requests for every node (PROTOCOL.md §12).
inline constexpr std::string_view kLegacyNodeCommonName = "kubeedge.io";
// CN prefix and O of a node certificate bound to its node.
inline constexpr std::string_view kNodeCommonNamePrefix = "system:node:";
inline constexpr std::string_view kNodesOrganization = "system:nodes";
// The only ConnectionUse value whose sessions the hub reads.
inline constexpr std::string_view kConnectionUseMessage = "msg";

// What the hub decided about one upgrade request.
struct HubAdmission {
    std::string node;                 // the authenticated node when admitted
    bool legacy_certificate = false;  // admitted on a CN=kubeedge.io certificate
    // Refused: a short label for metrics and logs ("missing_node_id", "cn_mismatch", ...) and
    // an error whose errc the WebSocket server maps to the HTTP status (400/401/403/503).
    std::string reason;
    Error error;

    bool ok() const { return reason.empty(); }
    static HubAdmission refuse(std::string reason, errc code, std::string detail);
};

// Checks, in order: node_id present (400 missing_node_id) and a valid node name (400
// invalid_node_id); ConnectionUse absent or "msg" (400 connection_use); a path of the form
// /<project>/<node>/events names the same node (403 path_mismatch; other paths are ignored as
// upstream does); a verified client certificate (401 no_certificate) whose CN is
// system:node:<node_id> (403 cn_mismatch) and whose O includes system:nodes (403
// organization_mismatch). CN=kubeedge.io is admitted only with allow_legacy_certificates
// (else 403 legacy_certificate).
HubAdmission authorize_hub_upgrade(const net::WsUpgradeRequest& request,
                                   bool allow_legacy_certificates);

}  // namespace kedge::cloud
