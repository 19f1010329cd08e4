#pragma once
// Build and parse the resource strings of route.resource (PROTOCOL.md §1 "Resource strings"):
// cloud-side `node/<node>/<ns>/<type>/<name>`, edge-side `<ns>/<type>[/<name>]`, node-level
// `node/<node>/membership` and `node/<node>/twin`, device ids and device resources.
// Resource types may contain a slash (`twin/edge_updated`, `k8s/ca.crt`); the known
// multi-segment types are matched before splitting. Parsers never trust their input.

#include <string>
#include <string_view>

#include "base/error.hpp"

namespace kedge::bus {

// An object reference in the edge-side form `<ns>/<type>[/<name>]`.
struct ResourceRef {
    std::string ns;    // empty for cluster-scoped objects (the wire literal "null")
    std::string type;  // e.g. "pod", "twin/edge_updated"
    std::string name;  // empty for list queries such as "default/pod"

    bool cluster_scoped() const { return ns.empty(); }
    bool operator==(const ResourceRef&) const = default;
};

// A cloud-side resource split into its node and the rest (what the edge sees).
struct NodeResource {
    std::string node;
    std::string rest;  // "default/pod/nginx", "membership", "twin", ...

    bool operator==(const NodeResource&) const = default;
};

// A device id `<ns>/<name>`.
struct DeviceId {
    std::string ns;
    std::string name;

    bool operator==(const DeviceId&) const = default;
};

// A device resource `device/<ns>/<name>/<type>` (type "twin/edge_updated", "state/update").
struct DeviceResource {
    DeviceId id;
    std::string type;

    bool operator==(const DeviceResource&) const = default;
};

// `<ns|null>/<type>[/<name>]`.
std::string format_resource(const ResourceRef& ref);
std::string format_resource(std::string_view ns, std::string_view type, std::string_view name);

// Parses the edge-side form. Node-level resources ("membership", "twin", "membership/detail")
// are not of this form and are rejected: match them by equality before parsing.
Result<ResourceRef> parse_resource(std::string_view resource);

// `node/<node>/<ns|null>/<type>[/<name>]`.
std::string node_resource(std::string_view node, const ResourceRef& ref);
// `node/<node>/membership` and `node/<node>/twin`.
std::string node_membership_resource(std::string_view node);
std::string node_twin_resource(std::string_view node);

// `node/<node>/<rest>`: what the cloud hub does on the way up.
std::string add_node_prefix(std::string_view node, std::string_view rest);
// Splits `node/<node>/<rest>`; what the cloud hub does before writing to a socket.
Result<NodeResource> split_node_resource(std::string_view resource);
// split_node_resource() and then parse_resource() of the rest.
Result<ResourceRef> parse_node_resource(std::string_view resource, std::string* node = nullptr);

// `<ns>/<name>`.
std::string format_device_id(const DeviceId& id);
Result<DeviceId> parse_device_id(std::string_view id);

// `device/<ns>/<name>/<type>`.
std::string format_device_resource(const DeviceResource& res);
Result<DeviceResource> parse_device_resource(std::string_view resource);

// True for the types that contain a slash (`k8s/ca.crt`, `twin/edge_updated`, ...).
bool is_multi_segment_type(std::string_view type);

}  // namespace kedge::bus
