#include <gtest/gtest.h>

#include "kube/client/resource.hpp"

namespace kedge::kube::client {
namespace {

TEST(ApiResource, CoreNamespacedPaths) {
    auto pods = resources::pods();
    EXPECT_EQ(pods.api_version(), "v1");
    EXPECT_EQ(pods.path(), "/api/v1/pods");  // all namespaces
    EXPECT_EQ(pods.path("default"), "/api/v1/namespaces/default/pods");
    EXPECT_EQ(pods.path("default", "web"), "/api/v1/namespaces/default/pods/web");
    EXPECT_EQ(pods.path("default", "web", "status"), "/api/v1/namespaces/default/pods/web/status");
    EXPECT_EQ(pods.path("kube-system", "web", "binding"),
              "/api/v1/namespaces/kube-system/pods/web/binding");
}

TEST(ApiResource, GroupPaths) {
    auto d = resources::deployments();
    EXPECT_EQ(d.api_version(), "apps/v1");
    EXPECT_EQ(d.path(), "/apis/apps/v1/deployments");
    EXPECT_EQ(d.path("ns1", "app", "scale"), "/apis/apps/v1/namespaces/ns1/deployments/app/scale");
    auto leases = resources::leases();
    EXPECT_EQ(leases.path("kube-node-lease", "edge1"),
              "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/edge1");
    auto dev = resources::devices();
    EXPECT_EQ(dev.api_version(), "devices.kubeedge.io/v1beta1");
    EXPECT_EQ(dev.path("default", "thermo"),
              "/apis/devices.kubeedge.io/v1beta1/namespaces/default/devices/thermo");
}

TEST(ApiResource, ClusterScopedIgnoresNamespace) {
    auto nodes = resources::nodes();
    EXPECT_FALSE(nodes.namespaced);
    EXPECT_EQ(nodes.path(), "/api/v1/nodes");
    EXPECT_EQ(nodes.path("default", "edge1"), "/api/v1/nodes/edge1");
    EXPECT_EQ(nodes.path({}, "edge1", "status"), "/api/v1/nodes/edge1/status");
    EXPECT_EQ(resources::namespaces().path({}, "kube-system"), "/api/v1/namespaces/kube-system");
    EXPECT_EQ(resources::custom_resource_definitions().path({}, "devices.devices.kubeedge.io"),
              "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/"
              "devices.devices.kubeedge.io");
    EXPECT_EQ(resources::cluster_object_syncs().path("x", "n.uid"),
              "/apis/reliablesyncs.kubeedge.io/v1alpha1/clusterobjectsyncs/n.uid");
}

TEST(ApiResource, SubresourceNeedsAName) {
    // A subresource belongs to one object; without a name the collection is meant.
    EXPECT_EQ(resources::pods().path("default", {}, "status"), "/api/v1/namespaces/default/pods");
}

TEST(ApiResource, PredefinedKinds) {
    EXPECT_EQ(resources::config_maps().kind, "ConfigMap");
    EXPECT_EQ(resources::endpoints().resource, "endpoints");
    EXPECT_EQ(resources::jobs().api_version(), "batch/v1");
    EXPECT_EQ(resources::object_syncs().kind, "ObjectSync");
    EXPECT_TRUE(resources::object_syncs().namespaced);
    EXPECT_EQ(resources::device_models().resource, "devicemodels");
}

}  // namespace
}  // namespace kedge::kube::client
