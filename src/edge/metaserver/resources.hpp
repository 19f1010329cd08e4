#pragma once
// The API resources the edge meta server serves: the built-in kinds an edge syncs, the
// cluster-scoped ones it must know about, and any other GVR found in the store. Discovery
// documents (/api, /apis, /api/v1, /apis/<g>/<v>) are generated from one catalog so that what
// kubectl discovers is exactly what the server routes. Pure: no Asio, no store access.

#include <boost/json/value.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "edge/metastore/meta_store.hpp"

namespace kedge::edge::metaserver {

// One served resource (a group/version/plural) with what discovery and list bodies need.
struct ApiResource {
    std::string group;     // "" for the legacy core group
    std::string version;   // "v1"
    std::string resource;  // plural, "pods"
    std::string singular;  // "pod"
    std::string kind;      // "Pod"
    bool namespaced = true;
    std::vector<std::string> short_names;
    std::string type;  // KubeEdge meta type used in store keys ("pod", "configmap", ...)

    // apiVersion form: "v1", "coordination.k8s.io/v1".
    std::string group_version() const;
    // The store's form (group "core" for the legacy group).
    GroupVersionResource gvr() const;
    std::string list_kind() const { return kind + "List"; }
};

// A resource the server knows by name; `always` ones are advertised even when nothing is stored.
struct KnownResource {
    ApiResource resource;
    bool always = false;
};

// Every resource the server knows without looking at the store.
const std::vector<KnownResource>& known_resources();
// The known resource of a group/version/plural (group "" or "core" for the legacy group).
std::optional<ApiResource> find_known(std::string_view group, std::string_view version,
                                      std::string_view resource);
// A best-effort description of a resource nothing is known about: kind from an object of it when
// given ("" = guessed from the plural), type from the store's mapping or the singular.
ApiResource describe_unknown(const GroupVersionResource& gvr, std::string_view kind,
                             bool namespaced);

// The served set: the always-advertised known resources plus whatever is stored.
class ResourceCatalog {
public:
    ResourceCatalog() = default;
    explicit ResourceCatalog(std::vector<ApiResource> resources);

    const std::vector<ApiResource>& resources() const { return resources_; }
    // group "" (or "core") for the legacy group.
    const ApiResource* find(std::string_view group, std::string_view version,
                            std::string_view resource) const;

    boost::json::value api_versions() const;                                    // GET /api
    boost::json::value api_group_list() const;                                  // GET /apis
    std::optional<boost::json::value> api_group(std::string_view group) const;  // /apis/<g>
    // GET /api/v1 (group "") or /apis/<g>/<v>; nullopt when nothing is served there.
    std::optional<boost::json::value> resource_list(std::string_view group,
                                                    std::string_view version) const;

private:
    std::vector<ApiResource> resources_;
};

}  // namespace kedge::edge::metaserver
