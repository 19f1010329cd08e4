#include "apiserver/resource_types.hpp"

#include <boost/json.hpp>
#include <gtest/gtest.h>

namespace kedge::apiserver {
namespace {

namespace json = boost::json;

TEST(ResourceTypes, BuiltinsAreFoundByResourceAndKind) {
    auto types = ResourceTypes::with_builtins();
    auto pods = types->find("", "v1", "pods");
    ASSERT_TRUE(pods);
    EXPECT_EQ(pods->kind, "Pod");
    EXPECT_TRUE(pods->namespaced);
    EXPECT_TRUE(pods->has_subresource("status"));
    EXPECT_TRUE(pods->has_subresource("binding"));
    auto nodes = types->find_kind("v1", "Node");
    ASSERT_TRUE(nodes);
    EXPECT_FALSE(nodes->namespaced);
    EXPECT_TRUE(types->find("apps", "v1", "deployments"));
    EXPECT_TRUE(types->find("coordination.k8s.io", "v1", "leases"));
    EXPECT_FALSE(types->find("apps", "v1", "pods"));
}

TEST(ResourceTypes, CoreResourceListShape) {
    auto types = ResourceTypes::with_builtins();
    auto list = types->resource_list("", "v1");
    ASSERT_TRUE(list);
    const auto& obj = list->as_object();
    EXPECT_EQ(obj.at("kind"), "APIResourceList");
    EXPECT_EQ(obj.at("groupVersion"), "v1");
    bool saw_pods = false, saw_status = false;
    for (const auto& r : obj.at("resources").as_array()) {
        if (r.at("name") == "pods") {
            saw_pods = true;
            EXPECT_EQ(r.at("kind"), "Pod");
            EXPECT_EQ(r.at("namespaced"), true);
            EXPECT_EQ(r.at("shortNames").as_array().front(), "po");
        }
        if (r.at("name") == "pods/status") saw_status = true;
    }
    EXPECT_TRUE(saw_pods);
    EXPECT_TRUE(saw_status);
    EXPECT_FALSE(types->resource_list("nope", "v1"));
}

TEST(ResourceTypes, CustomTypesAppearInDiscoveryAndGoAway) {
    auto types = ResourceTypes::with_builtins();
    ResourceType device;
    device.group = "devices.kubeedge.io";
    device.version = "v1beta1";
    device.resource = "devices";
    device.singular = "device";
    device.kind = "Device";
    device.list_kind = "DeviceList";
    device.custom = true;
    device.subresources = {"status"};
    types->add(device);

    auto groups = types->api_group_list();
    bool found = false;
    for (const auto& g : groups.at("groups").as_array())
        if (g.at("name") == "devices.kubeedge.io") {
            found = true;
            EXPECT_EQ(g.at("preferredVersion").at("groupVersion"), "devices.kubeedge.io/v1beta1");
        }
    EXPECT_TRUE(found);
    EXPECT_TRUE(types->api_group("devices.kubeedge.io"));
    EXPECT_TRUE(types->resource_list("devices.kubeedge.io", "v1beta1"));

    types->remove("devices.kubeedge.io", "v1beta1", "devices");
    EXPECT_FALSE(types->api_group("devices.kubeedge.io"));
}

TEST(ResourceTypes, ApiVersionsListsV1) {
    auto v = ResourceTypes::with_builtins()->api_versions();
    EXPECT_EQ(v.at("kind"), "APIVersions");
    EXPECT_EQ(v.at("versions").as_array().front(), "v1");
}

}  // namespace
}  // namespace kedge::apiserver
