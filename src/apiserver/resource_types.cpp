#include "apiserver/resource_types.hpp"

#include <boost/json.hpp>

#include <algorithm>
#include <set>

namespace kedge::apiserver {
namespace json = boost::json;

bool ResourceType::has_subresource(const std::string& s) const {
    return std::find(subresources.begin(), subresources.end(), s) != subresources.end();
}

namespace {

ResourceType make(std::string group, std::string resource, std::string singular, std::string kind,
                  bool namespaced, std::vector<std::string> short_names = {},
                  std::vector<std::string> subresources = {}, bool in_all = false) {
    ResourceType t;
    t.group = std::move(group);
    t.version = "v1";
    t.resource = std::move(resource);
    t.singular = std::move(singular);
    t.list_kind = kind + "List";
    t.kind = std::move(kind);
    t.namespaced = namespaced;
    t.short_names = std::move(short_names);
    t.subresources = std::move(subresources);
    if (in_all) t.categories = {"all"};
    return t;
}

json::array verbs_for(const ResourceType&) {
    return {"create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"};
}

}  // namespace

std::shared_ptr<ResourceTypes> ResourceTypes::with_builtins() {
    auto t = std::make_shared<ResourceTypes>();
    const std::string core, apps = "apps", coord = "coordination.k8s.io",
                            ext = "apiextensions.k8s.io", rbac = "rbac.authorization.k8s.io";
    t->types_ = {
        make(core, "namespaces", "namespace", "Namespace", false, {"ns"}, {"status", "finalize"}),
        make(core, "nodes", "node", "Node", false, {"no"}, {"status"}),
        make(core, "pods", "pod", "Pod", true, {"po"}, {"status", "binding", "log", "exec", "eviction"}, true),
        make(core, "configmaps", "configmap", "ConfigMap", true, {"cm"}),
        make(core, "secrets", "secret", "Secret", true),
        make(core, "services", "service", "Service", true, {"svc"}, {"status"}, true),
        make(core, "endpoints", "endpoints", "Endpoints", true, {"ep"}),
        make(core, "events", "event", "Event", true, {"ev"}),
        make(core, "serviceaccounts", "serviceaccount", "ServiceAccount", true, {"sa"}, {"token"}),
        make(coord, "leases", "lease", "Lease", true),
        make(apps, "deployments", "deployment", "Deployment", true, {"deploy"}, {"status", "scale"}, true),
        make(apps, "replicasets", "replicaset", "ReplicaSet", true, {"rs"}, {"status", "scale"}, true),
        make(apps, "daemonsets", "daemonset", "DaemonSet", true, {"ds"}, {"status"}, true),
        make(apps, "controllerrevisions", "controllerrevision", "ControllerRevision", true),
        make(ext, "customresourcedefinitions", "customresourcedefinition", "CustomResourceDefinition",
             false, {"crd", "crds"}, {"status"}),
        make(rbac, "roles", "role", "Role", true),
        make(rbac, "rolebindings", "rolebinding", "RoleBinding", true),
        make(rbac, "clusterroles", "clusterrole", "ClusterRole", false),
        make(rbac, "clusterrolebindings", "clusterrolebinding", "ClusterRoleBinding", false),
    };
    return t;
}

std::optional<ResourceType> ResourceTypes::find(const std::string& group,
                                                const std::string& version,
                                                const std::string& resource) const {
    std::lock_guard lock(mutex_);
    for (const auto& t : types_)
        if (t.group == group && t.version == version && t.resource == resource) return t;
    return std::nullopt;
}

std::optional<ResourceType> ResourceTypes::find_kind(const std::string& group_version,
                                                     const std::string& kind) const {
    std::lock_guard lock(mutex_);
    for (const auto& t : types_)
        if (t.group_version() == group_version && t.kind == kind) return t;
    return std::nullopt;
}

void ResourceTypes::add(ResourceType type) {
    std::lock_guard lock(mutex_);
    for (auto& t : types_) {
        if (t.group == type.group && t.version == type.version && t.resource == type.resource) {
            t = std::move(type);
            return;
        }
    }
    types_.push_back(std::move(type));
}

void ResourceTypes::remove(const std::string& group, const std::string& version,
                           const std::string& resource) {
    std::lock_guard lock(mutex_);
    std::erase_if(types_, [&](const ResourceType& t) {
        return t.group == group && t.version == version && t.resource == resource;
    });
}

json::value ResourceTypes::api_versions() const {
    return {{"kind", "APIVersions"},
            {"versions", json::array{"v1"}},
            {"serverAddressByClientCIDRs",
             json::array{json::object{{"clientCIDR", "0.0.0.0/0"}, {"serverAddress", ""}}}}};
}

namespace {

json::object group_entry(const std::string& name, const std::vector<std::string>& versions) {
    json::array vs;
    for (const auto& v : versions)
        vs.push_back(json::object{{"groupVersion", name + "/" + v}, {"version", v}});
    json::object preferred = vs.empty() ? json::object{} : vs.front().as_object();
    return {{"name", name}, {"versions", std::move(vs)}, {"preferredVersion", std::move(preferred)}};
}

}  // namespace

json::value ResourceTypes::api_group_list() const {
    std::map<std::string, std::vector<std::string>> groups;
    std::vector<std::string> order;
    {
        std::lock_guard lock(mutex_);
        for (const auto& t : types_) {
            if (t.group.empty()) continue;
            auto& vs = groups[t.group];
            if (vs.empty()) order.push_back(t.group);
            if (std::find(vs.begin(), vs.end(), t.version) == vs.end()) vs.push_back(t.version);
        }
    }
    json::array list;
    for (const auto& g : order) list.push_back(group_entry(g, groups[g]));
    return {{"kind", "APIGroupList"}, {"apiVersion", "v1"}, {"groups", std::move(list)}};
}

std::optional<json::value> ResourceTypes::api_group(const std::string& group) const {
    std::vector<std::string> versions;
    {
        std::lock_guard lock(mutex_);
        for (const auto& t : types_)
            if (t.group == group &&
                std::find(versions.begin(), versions.end(), t.version) == versions.end())
                versions.push_back(t.version);
    }
    if (versions.empty() || group.empty()) return std::nullopt;
    json::object g = group_entry(group, versions);
    g["kind"] = "APIGroup";
    g["apiVersion"] = "v1";
    return g;
}

std::optional<json::value> ResourceTypes::resource_list(const std::string& group,
                                                        const std::string& version) const {
    json::array resources;
    bool found = false;
    std::lock_guard lock(mutex_);
    for (const auto& t : types_) {
        if (t.group != group || t.version != version) continue;
        found = true;
        json::object r{{"name", t.resource},         {"singularName", t.singular},
                       {"namespaced", t.namespaced}, {"kind", t.kind},
                       {"verbs", verbs_for(t)}};
        if (!t.short_names.empty()) {
            json::array sn;
            for (const auto& s : t.short_names) sn.push_back(json::string(s));
            r["shortNames"] = std::move(sn);
        }
        if (!t.categories.empty()) {
            json::array cats;
            for (const auto& c : t.categories) cats.push_back(json::string(c));
            r["categories"] = std::move(cats);
        }
        resources.push_back(std::move(r));
        for (const auto& sub : t.subresources) {
            json::array verbs;
            if (sub == "binding" || sub == "eviction" || sub == "token")
                verbs = {"create"};
            else if (sub == "log" || sub == "exec")
                verbs = {"get"};
            else
                verbs = {"get", "patch", "update"};
            std::string kind = t.kind;
            if (sub == "scale") kind = "Scale";
            if (sub == "binding") kind = "Binding";
            resources.push_back(json::object{{"name", t.resource + "/" + sub},
                                             {"singularName", ""},
                                             {"namespaced", t.namespaced},
                                             {"kind", kind},
                                             {"verbs", std::move(verbs)}});
        }
    }
    if (!found) return std::nullopt;
    std::string gv = group.empty() ? version : group + "/" + version;
    return json::value{{"kind", "APIResourceList"},
                       {"apiVersion", "v1"},
                       {"groupVersion", gv},
                       {"resources", std::move(resources)}};
}

}  // namespace kedge::apiserver
