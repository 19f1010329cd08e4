#include "apiserver/request_info.hpp"

#include <gtest/gtest.h>

namespace kedge::apiserver {
namespace {

RequestInfo parse(std::string_view method, std::string_view path, std::string_view watch = "") {
    auto r = parse_request_info(method, path, watch);
    EXPECT_TRUE(r) << path;
    return r ? *r : RequestInfo{};
}

TEST(RequestInfo, DiscoveryIsNotAResourceRequest) {
    for (auto p : {"/api", "/apis", "/api/v1", "/apis/apps", "/apis/apps/v1", "/version", "/healthz"}) {
        auto info = parse("GET", p);
        EXPECT_FALSE(info.is_resource_request) << p;
    }
    EXPECT_EQ(parse("GET", "/apis/apps/v1").api_group, "apps");
}

TEST(RequestInfo, NamespacedPods) {
    auto list = parse("GET", "/api/v1/namespaces/default/pods");
    EXPECT_TRUE(list.is_resource_request);
    EXPECT_EQ(list.verb, "list");
    EXPECT_EQ(list.namespace_, "default");
    EXPECT_EQ(list.resource, "pods");
    EXPECT_EQ(list.api_group, "");
    EXPECT_EQ(list.api_version, "v1");

    auto get = parse("GET", "/api/v1/namespaces/default/pods/nginx");
    EXPECT_EQ(get.verb, "get");
    EXPECT_EQ(get.name, "nginx");

    auto status = parse("PATCH", "/api/v1/namespaces/default/pods/nginx/status");
    EXPECT_EQ(status.verb, "patch");
    EXPECT_EQ(status.subresource, "status");

    EXPECT_EQ(parse("POST", "/api/v1/namespaces/default/pods/nginx/binding").verb, "create");
    EXPECT_EQ(parse("DELETE", "/api/v1/namespaces/default/pods").verb, "deletecollection");
    EXPECT_EQ(parse("DELETE", "/api/v1/namespaces/default/pods/x").verb, "delete");
    EXPECT_EQ(parse("PUT", "/api/v1/namespaces/default/pods/x").verb, "update");
}

TEST(RequestInfo, WatchForms) {
    EXPECT_EQ(parse("GET", "/api/v1/pods", "true").verb, "watch");
    EXPECT_EQ(parse("GET", "/api/v1/pods", "1").verb, "watch");
    EXPECT_EQ(parse("GET", "/api/v1/pods", "false").verb, "list");
    auto legacy = parse("GET", "/api/v1/watch/namespaces/kube-system/configmaps");
    EXPECT_EQ(legacy.verb, "watch");
    EXPECT_EQ(legacy.namespace_, "kube-system");
    EXPECT_EQ(legacy.resource, "configmaps");
}

TEST(RequestInfo, ClusterScopedAndNamespaceItself) {
    auto node = parse("PATCH", "/api/v1/nodes/edge1/status");
    EXPECT_EQ(node.resource, "nodes");
    EXPECT_EQ(node.name, "edge1");
    EXPECT_EQ(node.subresource, "status");
    EXPECT_EQ(node.namespace_, "");

    auto ns = parse("GET", "/api/v1/namespaces/kube-system");
    EXPECT_EQ(ns.resource, "namespaces");
    EXPECT_EQ(ns.name, "kube-system");
    EXPECT_EQ(ns.verb, "get");

    auto fin = parse("PUT", "/api/v1/namespaces/demo/finalize");
    EXPECT_EQ(fin.resource, "namespaces");
    EXPECT_EQ(fin.name, "demo");
    EXPECT_EQ(fin.subresource, "finalize");
}

TEST(RequestInfo, GroupedResources) {
    auto dep = parse("GET", "/apis/apps/v1/namespaces/default/deployments/web/scale");
    EXPECT_EQ(dep.api_prefix, "apis");
    EXPECT_EQ(dep.api_group, "apps");
    EXPECT_EQ(dep.resource, "deployments");
    EXPECT_EQ(dep.subresource, "scale");
    auto dev = parse("POST", "/apis/devices.kubeedge.io/v1beta1/namespaces/default/devices");
    EXPECT_EQ(dev.api_group, "devices.kubeedge.io");
    EXPECT_EQ(dev.api_version, "v1beta1");
    EXPECT_EQ(dev.verb, "create");
}

TEST(RequestInfo, RejectsTooDeepPaths) {
    auto r = parse_request_info("GET", "/api/v1/namespaces/a/pods/b/status/extra", "");
    ASSERT_FALSE(r);
    EXPECT_TRUE(r.error().is(errc::invalid_argument));
    EXPECT_FALSE(parse_request_info("GET", "/api/v1/watch", ""));
}

}  // namespace
}  // namespace kedge::apiserver
