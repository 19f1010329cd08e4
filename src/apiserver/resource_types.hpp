#pragma once
// The table of API resources kedge-apiserver serves: built-in ones compiled in, custom ones added
// at runtime when a CustomResourceDefinition is established. Discovery documents (/api,
// /apis, /api/v1, /apis/<g>/<v>) are generated from it, so what kubectl discovers is exactly what
// the server routes.

#include <boost/json/value.hpp>

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace kedge::apiserver {

struct ResourceType {
    std::string group;     // "" for core
    std::string version;   // "v1"
    std::string resource;  // plural, "pods"
    std::string singular;  // "pod"
    std::string kind;      // "Pod"
    std::string list_kind; // "PodList"
    bool namespaced = true;
    std::vector<std::string> short_names;
    std::vector<std::string> subresources;  // "status", "binding", "scale"
    std::vector<std::string> categories;    // "all"
    bool custom = false;                    // defined by a CRD

    std::string group_version() const { return group.empty() ? version : group + "/" + version; }
    bool has_subresource(const std::string& s) const;
};

class ResourceTypes {
public:
    // The built-in types of core/v1, apps/v1, coordination.k8s.io/v1, apiextensions.k8s.io/v1,
    // rbac.authorization.k8s.io/v1 that kedge serves.
    static std::shared_ptr<ResourceTypes> with_builtins();

    std::optional<ResourceType> find(const std::string& group, const std::string& version,
                                     const std::string& resource) const;
    std::optional<ResourceType> find_kind(const std::string& group_version,
                                          const std::string& kind) const;
    void add(ResourceType type);  // replaces a type with the same group/version/resource
    void remove(const std::string& group, const std::string& version, const std::string& resource);

    // Discovery documents, as kube-apiserver shapes them.
    boost::json::value api_versions() const;                       // GET /api
    boost::json::value api_group_list() const;                     // GET /apis
    std::optional<boost::json::value> api_group(const std::string& group) const;  // GET /apis/<g>
    std::optional<boost::json::value> resource_list(const std::string& group,
                                                    const std::string& version) const;

private:
    mutable std::mutex mutex_;
    std::vector<ResourceType> types_;
};

}  // namespace kedge::apiserver
