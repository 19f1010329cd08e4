// Resource strings: build, parse, strip and re-add the node prefix, device forms.

#include "bus/resource.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "bus/constants.hpp"

namespace kedge::bus {
namespace {

TEST(Resource, NodeResourceRoundTrip) {
    ResourceRef pod{"default", std::string(kResPod), "nginx"};
    std::string s = node_resource("edge1", pod);
    EXPECT_EQ(s, "node/edge1/default/pod/nginx");
    std::string node;
    auto back = parse_node_resource(s, &node);
    ASSERT_TRUE(back) << back.error().message();
    EXPECT_EQ(node, "edge1");
    EXPECT_EQ(*back, pod);
}

TEST(Resource, ClusterScopedUsesNull) {
    ResourceRef n{"", std::string(kResNode), "edge1"};
    EXPECT_EQ(node_resource("edge1", n), "node/edge1/null/node/edge1");
    auto back = parse_resource("null/node/edge1");
    ASSERT_TRUE(back);
    EXPECT_TRUE(back->cluster_scoped());
    EXPECT_EQ(back->type, "node");
    EXPECT_EQ(back->name, "edge1");
    EXPECT_EQ(format_resource(*back), "null/node/edge1");
    EXPECT_EQ(format_resource("", kResNodePatch, "edge1"), "null/nodepatch/edge1");
}

TEST(Resource, StripAndReAddNodePrefix) {
    for (std::string rest : {"default/pod/nginx", "membership", "twin", "null/node/edge1",
                             "kube-node-lease/lease/edge1", "default/configmap/cfg.v1"}) {
        std::string full = add_node_prefix("edge-7", rest);
        auto split = split_node_resource(full);
        ASSERT_TRUE(split) << full;
        EXPECT_EQ(split->node, "edge-7");
        EXPECT_EQ(split->rest, rest);
        EXPECT_EQ(add_node_prefix(split->node, split->rest), full);
    }
    EXPECT_EQ(node_membership_resource("edge1"), "node/edge1/membership");
    EXPECT_EQ(node_twin_resource("edge1"), "node/edge1/twin");
}

TEST(Resource, EdgeSideForms) {
    auto list = parse_resource("default/pod");
    ASSERT_TRUE(list);
    EXPECT_EQ(list->ns, "default");
    EXPECT_EQ(list->type, "pod");
    EXPECT_TRUE(list->name.empty());
    EXPECT_EQ(format_resource(*list), "default/pod");

    auto patch = parse_resource("default/podpatch/nginx");
    ASSERT_TRUE(patch);
    EXPECT_EQ(patch->type, kResPodPatch);

    auto lease = parse_resource("kube-node-lease/lease/edge1");
    ASSERT_TRUE(lease);
    EXPECT_EQ(lease->ns, "kube-node-lease");
}

TEST(Resource, MultiSegmentTypes) {
    for (auto type : {kResK8sCaCrt, kResTwinEdgeUpdated, kResTwinCloudUpdated, kResStateUpdate,
                      kResMembershipDetail}) {
        ResourceRef ref{"ns1", std::string(type), "obj"};
        std::string s = format_resource(ref);
        auto back = parse_resource(s);
        ASSERT_TRUE(back) << s << ": " << back.error().message();
        EXPECT_EQ(*back, ref) << s;
        EXPECT_TRUE(is_multi_segment_type(type));
        // Also without a name.
        auto list = parse_resource("ns1/" + std::string(type));
        ASSERT_TRUE(list);
        EXPECT_EQ(list->type, type);
        EXPECT_TRUE(list->name.empty());
    }
    EXPECT_FALSE(is_multi_segment_type("pod"));
    // "k8s" alone is an ordinary single-segment type followed by a name.
    auto other = parse_resource("ns/k8s/other");
    ASSERT_TRUE(other);
    EXPECT_EQ(other->type, "k8s");
    EXPECT_EQ(other->name, "other");
}

TEST(Resource, DeviceIdsAndResources) {
    DeviceId id{"default", "thermo-1"};
    EXPECT_EQ(format_device_id(id), "default/thermo-1");
    EXPECT_EQ(parse_device_id("default/thermo-1").value(), id);

    DeviceResource twin{id, std::string(kResTwinEdgeUpdated)};
    EXPECT_EQ(format_device_resource(twin), "device/default/thermo-1/twin/edge_updated");
    EXPECT_EQ(parse_device_resource("device/default/thermo-1/twin/edge_updated").value(), twin);
    DeviceResource state{id, std::string(kResStateUpdate)};
    EXPECT_EQ(format_device_resource(state), "device/default/thermo-1/state/update");
    EXPECT_EQ(parse_device_resource(format_device_resource(state)).value(), state);
}

TEST(Resource, MalformedStringsAreErrors) {
    for (std::string bad : std::vector<std::string>{
             "", "/", "default", "default/", "/pod/x", "default//x", "default/pod/",
             "default/pod/a/b", "default/pod/x\n", std::string("default/pod/a\0b", 15),
             "membership", "membership/detail", "twin"}) {
        auto r = parse_resource(bad);
        ASSERT_FALSE(r) << "accepted: " << bad;
        EXPECT_TRUE(r.error().is(errc::invalid_argument));
        EXPECT_FALSE(r.error().detail.empty());
    }
    for (std::string bad : {"", "node", "node/", "node/edge1", "node/edge1/", "node//default/pod/x",
                            "nodes/edge1/default/pod/x", "default/pod/x"}) {
        EXPECT_FALSE(split_node_resource(bad)) << "accepted: " << bad;
    }
    EXPECT_FALSE(parse_node_resource("node/edge1/membership"));  // node-level, not <ns>/<t>/<n>
    for (std::string bad : {"", "default", "default/", "/x", "a/b/c"})
        EXPECT_FALSE(parse_device_id(bad)) << "accepted: " << bad;
    for (std::string bad : {"", "device/", "device/ns", "device/ns/name", "device/ns/name/",
                            "device/ns/name/twin/edge_updated/x", "dev/ns/name/twin"})
        EXPECT_FALSE(parse_device_resource(bad)) << "accepted: " << bad;
}

}  // namespace
}  // namespace kedge::bus
