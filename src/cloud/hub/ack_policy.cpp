#include "cloud/hub/ack_policy.hpp"

#include <boost/json/value.hpp>
#include <charconv>

#include "bus/constants.hpp"
#include "bus/resource.hpp"

namespace kedge::cloud {
namespace {

bool ends_with(std::string_view s, std::string_view suffix) {
    return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

// The part after `node/<node>/` (what the edge sees), or the whole string when it has no node
// prefix.
std::string_view edge_side(std::string_view resource) {
    if (resource.substr(0, 5) != "node/") return resource;
    auto slash = resource.find('/', 5);
    return slash == std::string_view::npos ? std::string_view{} : resource.substr(slash + 1);
}

// Volume operations (CSI) and the metaserver's application responses are answers the edge
// asked for; upstream never waits for their ack.
bool is_no_ack_operation(std::string_view op) {
    return op == "createvolume" || op == "deletevolume" || op == "controllerpublishvolume" ||
           op == "controllerunpublishvolume" || op == bus::kOpApplicationResponse;
}

}  // namespace

std::string resource_type_of(std::string_view resource) {
    const std::string_view rest = edge_side(resource);
    if (rest == bus::kResMembership || rest == bus::kResMembershipDetail || rest == bus::kResTwin)
        return std::string(rest);
    if (auto ref = bus::parse_resource(rest)) return ref->type;
    return {};
}

AckMode ack_mode(const bus::Message& msg) {
    const std::string& res = msg.resource();
    const std::string type = resource_type_of(res);
    const std::string_view rest = edge_side(res);
    // Lists, memberships, twin pushes, tokens and CA bundles are re-sent or re-asked for in
    // full, so a lost one costs nothing. Device twin resources are matched by their suffix
    // because device ids contain a slash.
    if (type == bus::kResPodList || type == bus::kResServiceAccountToken ||
        type == bus::kResK8sCaCrt || type == bus::kResCertificateSigningRequest ||
        rest == bus::kResMembership || rest == bus::kResMembershipDetail ||
        type == bus::kResTwinCloudUpdated || ends_with(rest, "/twin/cloud_updated") ||
        ends_with(rest, "/membership")) {
        return AckMode::kNoAck;
    }
    if (is_no_ack_operation(msg.operation())) return AckMode::kNoAck;
    // The resync summary (hub/inventory.hpp) closes a delta the edge already acked piecewise.
    if (type == "inventory") return AckMode::kNoAck;
    if (msg.group() == bus::kGroupUser) return AckMode::kNoAck;
    if (msg.source() == bus::kModuleTaskManager) return AckMode::kNoAck;
    // Answers that carry no object: the edge asks again if one is lost.
    if (msg.operation() == bus::kOpError) return AckMode::kNoAck;
    if (msg.operation() == bus::kOpResponse && msg.content.string_equals(bus::kContentOk))
        return AckMode::kNoAck;
    if (msg.source() == bus::kModuleEdgeController) {
        if (type == bus::kResLease || type == bus::kResNodePatch || type == bus::kResPodPatch ||
            type == bus::kResPodStatus) {
            return AckMode::kNoAck;
        }
        // Node objects are acked only when the cloud pushes a changed node down.
        if (type == bus::kResNode && msg.operation() != bus::kOpUpdate) return AckMode::kNoAck;
        if (type == bus::kResPod && msg.operation() == bus::kOpResponse) return AckMode::kNoAck;
    }
    return AckMode::kAck;
}

std::optional<std::uint64_t> parse_resource_version(std::string_view rv) {
    if (rv.empty()) return std::nullopt;
    std::uint64_t v = 0;
    auto [ptr, ec] = std::from_chars(rv.data(), rv.data() + rv.size(), v);
    if (ec != std::errc{} || ptr != rv.data() + rv.size()) return std::nullopt;
    return v;
}

ObjectFacts object_facts(const bus::Message& msg) {
    ObjectFacts facts;
    facts.is_delete = msg.operation() == bus::kOpDelete;
    facts.resource_version = parse_resource_version(msg.header.resource_version);
    if (msg.content.is_null() || msg.content.is_string()) return facts;
    auto parsed = msg.content.value();
    if (!parsed) return facts;
    const auto* obj = (*parsed)->if_object();
    if (!obj) return facts;
    const auto* meta_v = obj->if_contains("metadata");
    const auto* meta = meta_v ? meta_v->if_object() : nullptr;
    if (!meta) return facts;
    if (const auto* uid = meta->if_contains("uid"); uid && uid->is_string())
        facts.uid = std::string(uid->get_string());
    if (!facts.resource_version) {
        if (const auto* rv = meta->if_contains("resourceVersion"); rv && rv->is_string())
            facts.resource_version = parse_resource_version(rv->get_string());
    }
    if (const auto* dt = meta->if_contains("deletionTimestamp"); dt && !dt->is_null())
        facts.is_delete = true;
    return facts;
}

}  // namespace kedge::cloud
