#include "cloud/hub/hub_authorizer.hpp"

#include <algorithm>

#include "kube/validation.hpp"

namespace kedge::cloud {
namespace {

// The node named by a "/<project>/<node>/events" target, "" for any other shape.
std::string_view node_in_path(std::string_view target) {
    target = target.substr(0, target.find('?'));
    constexpr std::string_view kSuffix = "/events";
    if (target.size() < 2 || target.front() != '/' || !target.ends_with(kSuffix)) return {};
    auto middle = target.substr(1, target.size() - 1 - kSuffix.size());  // "<project>/<node>"
    auto slash = middle.find('/');
    if (slash == std::string_view::npos || middle.find('/', slash + 1) != std::string_view::npos)
        return {};
    return middle.substr(slash + 1);
}

}  // namespace

HubAdmission HubAdmission::refuse(std::string reason, errc code, std::string detail) {
    HubAdmission a;
    a.reason = std::move(reason);
    a.error = Error(code, std::move(detail));
    return a;
}

HubAdmission authorize_hub_upgrade(const net::WsUpgradeRequest& request,
                                   bool allow_legacy_certificates) {
    std::string node(request.header("node_id"));
    if (node.empty())
        return HubAdmission::refuse("missing_node_id", errc::invalid_argument,
                                    "the upgrade request has no node_id header");
    if (auto valid = kube::validate_dns1123_subdomain(node); !valid)
        return HubAdmission::refuse("invalid_node_id", errc::invalid_argument,
                                    "node_id \"" + node.substr(0, 64) +
                                        "\" is not a valid node name: " + valid.error().detail);

    auto use = request.header("ConnectionUse");
    if (!use.empty() && use != kConnectionUseMessage)
        return HubAdmission::refuse("connection_use", errc::invalid_argument,
                                    "ConnectionUse \"" + std::string(use.substr(0, 32)) +
                                        "\" is not served here (only \"msg\")");

    auto path_node = node_in_path(request.target);
    if (!path_node.empty() && path_node != node)
        return HubAdmission::refuse("path_mismatch", errc::forbidden,
                                    "the path names node \"" +
                                        std::string(path_node.substr(0, 64)) +
                                        "\" but node_id is \"" + node + "\"");

    const auto& peer = request.peer;
    if (!peer.has_certificate)
        return HubAdmission::refuse("no_certificate", errc::unauthorized,
                                    "no verified client certificate for node " + node);
    if (peer.common_name == kLegacyNodeCommonName) {
        if (!allow_legacy_certificates)
            return HubAdmission::refuse(
                "legacy_certificate", errc::forbidden,
                "node " + node +
                    " presented a legacy CN=kubeedge.io certificate, which does not "
                    "name the node (allow_legacy_node_certificates is off)");
        HubAdmission a;
        a.node = std::move(node);
        a.legacy_certificate = true;
        return a;
    }
    std::string expected = std::string(kNodeCommonNamePrefix) + node;
    if (peer.common_name != expected)
        return HubAdmission::refuse("cn_mismatch", errc::forbidden,
                                    "certificate CN \"" + peer.common_name.substr(0, 128) +
                                        "\" does not match node_id \"" + node + "\" (want \"" +
                                        expected + "\")");
    const auto& orgs = peer.organizations;
    if (std::find(orgs.begin(), orgs.end(), kNodesOrganization) == orgs.end())
        return HubAdmission::refuse("organization_mismatch", errc::forbidden,
                                    "certificate for " + expected + " lacks O=system:nodes");
    HubAdmission a;
    a.node = std::move(node);
    return a;
}

}  // namespace kedge::cloud
