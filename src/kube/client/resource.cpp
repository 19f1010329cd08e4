#include "kube/client/resource.hpp"

namespace kedge::kube::client {

std::string ApiResource::api_version() const {
    return group.empty() ? version : group + "/" + version;
}

std::string ApiResource::path(std::string_view ns, std::string_view name,
                              std::string_view subresource) const {
    std::string out = group.empty() ? "/api/" + version : "/apis/" + group + "/" + version;
    if (namespaced && !ns.empty()) {
        out += "/namespaces/";
        out += ns;
    }
    out += "/";
    out += resource;
    if (!name.empty()) {
        out += "/";
        out += name;
        if (!subresource.empty()) {
            out += "/";
            out += subresource;
        }
    }
    return out;
}

namespace resources {
namespace {

ApiResource make(std::string group, std::string version, std::string resource, std::string kind,
                 bool namespaced = true) {
    return ApiResource{std::move(group), std::move(version), std::move(resource), std::move(kind),
                       namespaced};
}

}  // namespace

ApiResource pods() { return make("", "v1", "pods", "Pod"); }
ApiResource nodes() { return make("", "v1", "nodes", "Node", false); }
ApiResource namespaces() { return make("", "v1", "namespaces", "Namespace", false); }
ApiResource config_maps() { return make("", "v1", "configmaps", "ConfigMap"); }
ApiResource secrets() { return make("", "v1", "secrets", "Secret"); }
ApiResource services() { return make("", "v1", "services", "Service"); }
ApiResource endpoints() { return make("", "v1", "endpoints", "Endpoints"); }
ApiResource events() { return make("", "v1", "events", "Event"); }
ApiResource service_accounts() { return make("", "v1", "serviceaccounts", "ServiceAccount"); }
ApiResource leases() { return make("coordination.k8s.io", "v1", "leases", "Lease"); }
ApiResource deployments() { return make("apps", "v1", "deployments", "Deployment"); }
ApiResource replica_sets() { return make("apps", "v1", "replicasets", "ReplicaSet"); }
ApiResource daemon_sets() { return make("apps", "v1", "daemonsets", "DaemonSet"); }
ApiResource stateful_sets() { return make("apps", "v1", "statefulsets", "StatefulSet"); }
ApiResource jobs() { return make("batch", "v1", "jobs", "Job"); }
ApiResource controller_revisions() {
    return make("apps", "v1", "controllerrevisions", "ControllerRevision");
}
ApiResource custom_resource_definitions() {
    return make("apiextensions.k8s.io", "v1", "customresourcedefinitions",
                "CustomResourceDefinition", false);
}
ApiResource devices() { return make("devices.kubeedge.io", "v1beta1", "devices", "Device"); }
ApiResource device_models() {
    return make("devices.kubeedge.io", "v1beta1", "devicemodels", "DeviceModel");
}
ApiResource object_syncs() {
    return make("reliablesyncs.kubeedge.io", "v1alpha1", "objectsyncs", "ObjectSync");
}
ApiResource cluster_object_syncs() {
    return make("reliablesyncs.kubeedge.io", "v1alpha1", "clusterobjectsyncs", "ClusterObjectSync",
                false);
}

}  // namespace resources
}  // namespace kedge::kube::client
