#pragma once
// Names a REST resource of the Kubernetes API (group, version, plural, kind, scope) and builds
// its URL paths. The built-in resources kedge uses are predefined.

#include <string>
#include <string_view>

namespace kedge::kube::client {

struct ApiResource {
    std::string group;     // "" for core
    std::string version;   // "v1"
    std::string resource;  // plural, lower case: "pods"
    std::string kind;      // "Pod"
    bool namespaced = true;

    // "v1", "apps/v1".
    std::string api_version() const;
    // "/api/v1/namespaces/<ns>/pods/<name>/<subresource>"; ns ignored for cluster-scoped
    // resources; empty ns on a namespaced resource = all namespaces (list/watch); empty name =
    // the collection. Names are not escaped (Kubernetes names need no escaping).
    std::string path(std::string_view ns = {}, std::string_view name = {},
                     std::string_view subresource = {}) const;
};

namespace resources {
ApiResource pods();
ApiResource nodes();
ApiResource namespaces();
ApiResource config_maps();
ApiResource secrets();
ApiResource services();
ApiResource endpoints();
ApiResource events();  // core/v1 Event
ApiResource service_accounts();
ApiResource leases();  // coordination.k8s.io/v1
ApiResource deployments();
ApiResource replica_sets();
ApiResource daemon_sets();
ApiResource stateful_sets();
ApiResource jobs();
ApiResource controller_revisions();
ApiResource custom_resource_definitions();
ApiResource devices();        // devices.kubeedge.io/v1beta1
ApiResource device_models();  // devices.kubeedge.io/v1beta1
ApiResource object_syncs();          // reliablesyncs.kubeedge.io/v1alpha1
ApiResource cluster_object_syncs();  // reliablesyncs.kubeedge.io/v1alpha1
}  // namespace resources

}  // namespace kedge::kube::client
