#include "bus/resource.hpp"

#include <array>

#include "bus/constants.hpp"

namespace kedge::bus {
namespace {

constexpr std::array<std::string_view, 5> kMultiSegmentTypes = {
    kResK8sCaCrt, kResMembershipDetail, kResTwinEdgeUpdated, kResTwinCloudUpdated, kResStateUpdate};

constexpr std::string_view kNodePrefix = "node/";
constexpr std::string_view kDevicePrefix = "device/";

Error bad(std::string_view what, std::string_view resource) {
    std::string d;
    d.reserve(what.size() + resource.size() + 32);
    d.append("resource \"").append(resource).append("\": ").append(what);
    return Error(errc::invalid_argument, std::move(d));
}

// A segment is non-empty and free of control characters (they would corrupt log lines and
// database keys; no Kubernetes name contains them).
bool valid_segment(std::string_view s) {
    if (s.empty()) return false;
    for (char c : s) {
        auto u = static_cast<unsigned char>(c);
        if (u < 0x20 || u == 0x7f || c == '/') return false;
    }
    return true;
}

// Takes the text up to the next '/' (or the end) from s.
std::string_view take_segment(std::string_view& s) {
    auto pos = s.find('/');
    std::string_view seg = s.substr(0, pos);
    s = pos == std::string_view::npos ? std::string_view{} : s.substr(pos + 1);
    return seg;
}

// The type at the start of s: a known multi-segment type when one matches a whole
// segment boundary, else the first segment.
std::string_view take_type(std::string_view& s) {
    for (auto t : kMultiSegmentTypes) {
        if (s.size() >= t.size() && s.substr(0, t.size()) == t &&
            (s.size() == t.size() || s[t.size()] == '/')) {
            s = s.size() == t.size() ? std::string_view{} : s.substr(t.size() + 1);
            return t;
        }
    }
    return take_segment(s);
}

bool valid_type(std::string_view t) { return is_multi_segment_type(t) || valid_segment(t); }

}  // namespace

bool is_multi_segment_type(std::string_view type) {
    for (auto t : kMultiSegmentTypes)
        if (t == type) return true;
    return false;
}

std::string format_resource(std::string_view ns, std::string_view type, std::string_view name) {
    std::string out;
    out.reserve(ns.size() + type.size() + name.size() + 8);
    out.append(ns.empty() ? kClusterScopedNamespace : ns).append("/").append(type);
    if (!name.empty()) out.append("/").append(name);
    return out;
}

std::string format_resource(const ResourceRef& ref) {
    return format_resource(ref.ns, ref.type, ref.name);
}

Result<ResourceRef> parse_resource(std::string_view resource) {
    if (resource.empty()) return bad("empty", resource);
    if (resource == kResMembership || resource == kResMembershipDetail || resource == kResTwin)
        return bad("a node-level resource, not <namespace>/<type>/<name>", resource);
    std::string_view rest = resource;
    std::string_view ns = take_segment(rest);
    if (!valid_segment(ns)) return bad("empty or invalid namespace segment", resource);
    if (rest.empty()) return bad("missing the type after the namespace", resource);
    std::string_view type = take_type(rest);
    if (!valid_type(type)) return bad("empty or invalid type segment", resource);
    // A trailing '/' leaves an empty name that the caller did not mean.
    if (rest.empty() && resource.back() == '/') return bad("ends with '/'", resource);
    if (!rest.empty() && !valid_segment(rest))
        return bad("the name is empty, has a '/' or a control character", resource);
    ResourceRef ref;
    if (ns != kClusterScopedNamespace) ref.ns = std::string(ns);
    ref.type = std::string(type);
    ref.name = std::string(rest);
    return ref;
}

std::string add_node_prefix(std::string_view node, std::string_view rest) {
    std::string out;
    out.reserve(kNodePrefix.size() + node.size() + 1 + rest.size());
    out.append(kNodePrefix).append(node).append("/").append(rest);
    return out;
}

std::string node_resource(std::string_view node, const ResourceRef& ref) {
    return add_node_prefix(node, format_resource(ref));
}

std::string node_membership_resource(std::string_view node) {
    return add_node_prefix(node, kResMembership);
}

std::string node_twin_resource(std::string_view node) { return add_node_prefix(node, kResTwin); }

Result<NodeResource> split_node_resource(std::string_view resource) {
    if (resource.substr(0, kNodePrefix.size()) != kNodePrefix)
        return bad("does not start with node/<node>/", resource);
    std::string_view rest = resource.substr(kNodePrefix.size());
    auto slash = rest.find('/');
    if (slash == std::string_view::npos) return bad("nothing after node/<node>", resource);
    std::string_view node = rest.substr(0, slash);
    rest = rest.substr(slash + 1);
    if (!valid_segment(node)) return bad("empty or invalid node name", resource);
    if (rest.empty()) return bad("nothing after node/<node>/", resource);
    return NodeResource{std::string(node), std::string(rest)};
}

Result<ResourceRef> parse_node_resource(std::string_view resource, std::string* node) {
    auto split = split_node_resource(resource);
    if (!split) return split.error();
    auto ref = parse_resource(split->rest);
    if (!ref) return bad(ref.error().detail, resource);
    if (node) *node = std::move(split->node);
    return ref;
}

std::string format_device_id(const DeviceId& id) {
    std::string out;
    out.reserve(id.ns.size() + id.name.size() + 1);
    out.append(id.ns).append("/").append(id.name);
    return out;
}

Result<DeviceId> parse_device_id(std::string_view id) {
    std::string_view rest = id;
    std::string_view ns = take_segment(rest);
    if (!valid_segment(ns)) return bad("device id: empty or invalid namespace", id);
    if (!valid_segment(rest)) return bad("device id is not <namespace>/<name>", id);
    return DeviceId{std::string(ns), std::string(rest)};
}

std::string format_device_resource(const DeviceResource& res) {
    std::string out;
    out.reserve(kDevicePrefix.size() + res.id.ns.size() + res.id.name.size() + res.type.size() + 2);
    out.append(kDevicePrefix).append(res.id.ns).append("/").append(res.id.name).append("/");
    out.append(res.type);
    return out;
}

Result<DeviceResource> parse_device_resource(std::string_view resource) {
    if (resource.substr(0, kDevicePrefix.size()) != kDevicePrefix)
        return bad("does not start with device/", resource);
    std::string_view rest = resource.substr(kDevicePrefix.size());
    std::string_view ns = take_segment(rest);
    std::string_view name = take_segment(rest);
    if (!valid_segment(ns) || !valid_segment(name))
        return bad("device resource is not device/<namespace>/<name>/<type>", resource);
    std::string_view type = take_type(rest);
    if (!valid_type(type) || !rest.empty())
        return bad("device resource has an empty, invalid or unknown type", resource);
    return DeviceResource{DeviceId{std::string(ns), std::string(name)}, std::string(type)};
}

}  // namespace kedge::bus
