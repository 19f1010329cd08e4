#include "edge/metaserver/resources.hpp"

#include <boost/json.hpp>

#include <algorithm>
#include <cctype>

namespace kedge::edge::metaserver {
namespace json = boost::json;

namespace {

std::string lower(std::string_view s) {
    std::string out(s);
    for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

std::string_view legacy(std::string_view group) { return group == "core" ? "" : group; }

KnownResource known(std::string group, std::string version, std::string resource,
                    std::string singular, std::string kind, bool namespaced, bool always,
                    std::vector<std::string> short_names = {}) {
    ApiResource r;
    r.group = std::move(group);
    r.version = std::move(version);
    r.resource = std::move(resource);
    r.singular = std::move(singular);
    r.type = lower(kind);
    r.kind = std::move(kind);
    r.namespaced = namespaced;
    r.short_names = std::move(short_names);
    return {std::move(r), always};
}

// Singular of a plural the simple English way, for resources nothing is known about.
std::string singular_of(std::string_view plural) {
    std::string s(plural);
    if (s.ends_with("ies") && s.size() > 3) return s.substr(0, s.size() - 3) + "y";
    if (s.ends_with("sses") || s.ends_with("xes") || s.ends_with("ches") || s.ends_with("shes"))
        return s.substr(0, s.size() - 2);
    if (s.ends_with("s") && !s.ends_with("ss")) return s.substr(0, s.size() - 1);
    return s;
}

json::array verbs() { return {"create", "delete", "get", "list", "patch", "update", "watch"}; }

json::object group_entry(std::string_view name, const std::vector<std::string>& versions) {
    json::array vs;
    for (const auto& v : versions)
        vs.push_back(json::object{{"groupVersion", std::string(name) + "/" + v}, {"version", v}});
    json::object preferred = vs.empty() ? json::object{} : vs.front().as_object();
    return {
        {"name", name}, {"versions", std::move(vs)}, {"preferredVersion", std::move(preferred)}};
}

}  // namespace

std::string ApiResource::group_version() const {
    return group.empty() ? version : group + "/" + version;
}

GroupVersionResource ApiResource::gvr() const {
    return {group.empty() ? "core" : group, version, resource};
}

const std::vector<KnownResource>& known_resources() {
    static const std::vector<KnownResource> table = [] {
        const std::string core, coord = "coordination.k8s.io", dev = "devices.kubeedge.io",
                                apps = "apps", storage = "storage.k8s.io",
                                rbac = "rbac.authorization.k8s.io";
        return std::vector<KnownResource>{
            // What every edge syncs: always advertised, so clients can list them when empty.
            known(core, "v1", "pods", "pod", "Pod", true, true, {"po"}),
            known(core, "v1", "nodes", "node", "Node", false, true, {"no"}),
            known(core, "v1", "configmaps", "configmap", "ConfigMap", true, true, {"cm"}),
            known(core, "v1", "secrets", "secret", "Secret", true, true),
            known(core, "v1", "services", "service", "Service", true, true, {"svc"}),
            known(core, "v1", "endpoints", "endpoints", "Endpoints", true, true, {"ep"}),
            known(core, "v1", "events", "event", "Event", true, true, {"ev"}),
            known(coord, "v1", "leases", "lease", "Lease", true, true),
            known(dev, "v1beta1", "devices", "device", "Device", true, true),
            known(dev, "v1beta1", "devicemodels", "devicemodel", "DeviceModel", true, true),
            // Known shapes (scope matters for paths), advertised only when stored.
            known(core, "v1", "namespaces", "namespace", "Namespace", false, false, {"ns"}),
            known(core, "v1", "persistentvolumes", "persistentvolume", "PersistentVolume", false,
                  false, {"pv"}),
            known(core, "v1", "persistentvolumeclaims", "persistentvolumeclaim",
                  "PersistentVolumeClaim", true, false, {"pvc"}),
            known(core, "v1", "serviceaccounts", "serviceaccount", "ServiceAccount", true, false,
                  {"sa"}),
            known(apps, "v1", "deployments", "deployment", "Deployment", true, false, {"deploy"}),
            known(apps, "v1", "daemonsets", "daemonset", "DaemonSet", true, false, {"ds"}),
            known(apps, "v1", "replicasets", "replicaset", "ReplicaSet", true, false, {"rs"}),
            known(apps, "v1", "statefulsets", "statefulset", "StatefulSet", true, false, {"sts"}),
            known(storage, "v1", "storageclasses", "storageclass", "StorageClass", false, false,
                  {"sc"}),
            known(storage, "v1", "csidrivers", "csidriver", "CSIDriver", false, false),
            known(storage, "v1", "csinodes", "csinode", "CSINode", false, false),
            known(storage, "v1", "volumeattachments", "volumeattachment", "VolumeAttachment", false,
                  false),
            known(rbac, "v1", "clusterroles", "clusterrole", "ClusterRole", false, false),
            known(rbac, "v1", "clusterrolebindings", "clusterrolebinding", "ClusterRoleBinding",
                  false, false),
            known(rbac, "v1", "roles", "role", "Role", true, false),
            known(rbac, "v1", "rolebindings", "rolebinding", "RoleBinding", true, false),
            known("apiextensions.k8s.io", "v1", "customresourcedefinitions",
                  "customresourcedefinition", "CustomResourceDefinition", false, false,
                  {"crd", "crds"}),
            known("scheduling.k8s.io", "v1", "priorityclasses", "priorityclass", "PriorityClass",
                  false, false, {"pc"}),
            known("node.k8s.io", "v1", "runtimeclasses", "runtimeclass", "RuntimeClass", false,
                  false),
            known("networking.k8s.io", "v1", "ingressclasses", "ingressclass", "IngressClass",
                  false, false),
            known("networking.k8s.io", "v1", "ingresses", "ingress", "Ingress", true, false,
                  {"ing"}),
            known("networking.k8s.io", "v1", "networkpolicies", "networkpolicy", "NetworkPolicy",
                  true, false, {"netpol"}),
            known("discovery.k8s.io", "v1", "endpointslices", "endpointslice", "EndpointSlice",
                  true, false),
            known("certificates.k8s.io", "v1", "certificatesigningrequests",
                  "certificatesigningrequest", "CertificateSigningRequest", false, false, {"csr"}),
            known("apps.kubeedge.io", "v1alpha1", "nodegroups", "nodegroup", "NodeGroup", false,
                  false),
            known("apps.kubeedge.io", "v1alpha1", "edgeapplications", "edgeapplication",
                  "EdgeApplication", true, false),
            known("rules.kubeedge.io", "v1", "rules", "rule", "Rule", true, false),
            known("rules.kubeedge.io", "v1", "ruleendpoints", "ruleendpoint", "RuleEndpoint", true,
                  false),
        };
    }();
    return table;
}

std::optional<ApiResource> find_known(std::string_view group, std::string_view version,
                                      std::string_view resource) {
    group = legacy(group);
    for (const auto& k : known_resources()) {
        const auto& r = k.resource;
        if (r.group == group && r.version == version && r.resource == resource) return r;
    }
    return std::nullopt;
}

ApiResource describe_unknown(const GroupVersionResource& gvr, std::string_view kind,
                             bool namespaced) {
    ApiResource r;
    r.group = std::string(legacy(gvr.group));
    r.version = gvr.version;
    r.resource = gvr.resource;
    r.singular = singular_of(gvr.resource);
    if (!kind.empty()) {
        r.kind = std::string(kind);
    } else {
        r.kind = r.singular;
        if (!r.kind.empty())
            r.kind[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(r.kind[0])));
    }
    r.namespaced = namespaced;
    r.type = type_for_resource(gvr.resource).value_or(lower(r.kind));
    return r;
}

ResourceCatalog::ResourceCatalog(std::vector<ApiResource> resources)
    : resources_(std::move(resources)) {}

const ApiResource* ResourceCatalog::find(std::string_view group, std::string_view version,
                                         std::string_view resource) const {
    group = legacy(group);
    for (const auto& r : resources_)
        if (r.group == group && r.version == version && r.resource == resource) return &r;
    return nullptr;
}

json::value ResourceCatalog::api_versions() const {
    return {{"kind", "APIVersions"},
            {"versions", json::array{"v1"}},
            {"serverAddressByClientCIDRs",
             json::array{json::object{{"clientCIDR", "0.0.0.0/0"}, {"serverAddress", ""}}}}};
}

json::value ResourceCatalog::api_group_list() const {
    std::vector<std::pair<std::string, std::vector<std::string>>> groups;
    for (const auto& r : resources_) {
        if (r.group.empty()) continue;
        auto it = std::find_if(groups.begin(), groups.end(),
                               [&](const auto& g) { return g.first == r.group; });
        if (it == groups.end()) it = groups.insert(groups.end(), {r.group, {}});
        if (std::find(it->second.begin(), it->second.end(), r.version) == it->second.end())
            it->second.push_back(r.version);
    }
    json::array list;
    for (const auto& [name, versions] : groups) list.push_back(group_entry(name, versions));
    return {{"kind", "APIGroupList"}, {"apiVersion", "v1"}, {"groups", std::move(list)}};
}

std::optional<json::value> ResourceCatalog::api_group(std::string_view group) const {
    std::vector<std::string> versions;
    for (const auto& r : resources_)
        if (r.group == group &&
            std::find(versions.begin(), versions.end(), r.version) == versions.end())
            versions.push_back(r.version);
    if (versions.empty() || group.empty()) return std::nullopt;
    json::object g = group_entry(group, versions);
    g["kind"] = "APIGroup";
    g["apiVersion"] = "v1";
    return g;
}

std::optional<json::value> ResourceCatalog::resource_list(std::string_view group,
                                                          std::string_view version) const {
    group = legacy(group);
    json::array list;
    for (const auto& r : resources_) {
        if (r.group != group || r.version != version) continue;
        json::object o{{"name", r.resource},
                       {"singularName", r.singular},
                       {"namespaced", r.namespaced},
                       {"kind", r.kind},
                       {"verbs", verbs()}};
        if (!r.short_names.empty()) {
            json::array names;
            for (const auto& s : r.short_names) names.push_back(json::string(s));
            o["shortNames"] = std::move(names);
        }
        list.push_back(std::move(o));
    }
    if (list.empty()) return std::nullopt;
    std::string gv =
        group.empty() ? std::string(version) : std::string(group) + "/" + std::string(version);
    return json::value{{"kind", "APIResourceList"},
                       {"apiVersion", "v1"},
                       {"groupVersion", gv},
                       {"resources", std::move(list)}};
}

}  // namespace kedge::edge::metaserver
