#include <gtest/gtest.h>

#include <boost/json/parse.hpp>

#include <algorithm>

#include "kube/client/informer.hpp"

namespace kedge::kube::client {
namespace {

ObjectPtr pod(const std::string& ns, const std::string& name, const std::string& node,
              const std::string& owner_uid = {}, bool controller = true,
              const std::string& rv = "1") {
    boost::json::object o;
    o["apiVersion"] = "v1";
    o["kind"] = "Pod";
    boost::json::object md{{"name", name}, {"namespace", ns}, {"resourceVersion", rv}};
    if (!owner_uid.empty()) {
        md["ownerReferences"] = boost::json::array{boost::json::object{{"apiVersion", "apps/v1"},
                                                                       {"kind", "ReplicaSet"},
                                                                       {"name", "rs"},
                                                                       {"uid", owner_uid},
                                                                       {"controller", controller}}};
    }
    o["metadata"] = std::move(md);
    if (!node.empty()) o["spec"] = boost::json::object{{"nodeName", node}};
    return std::make_shared<const boost::json::object>(std::move(o));
}

std::vector<std::string> names(std::vector<ObjectPtr> objs) {
    std::vector<std::string> out;
    for (auto& o : objs) out.emplace_back(o->at("metadata").at("name").as_string());
    std::sort(out.begin(), out.end());
    return out;
}

using Names = std::vector<std::string>;

TEST(Store, PutGetErase) {
    Store s;
    EXPECT_EQ(s.put(pod("default", "a", "edge1")), nullptr);
    EXPECT_EQ(s.size(), 1u);
    ASSERT_NE(s.get("default/a"), nullptr);
    EXPECT_EQ(s.get("default", "a"), s.get("default/a"));
    EXPECT_EQ(s.get("default/b"), nullptr);

    auto v2 = pod("default", "a", "edge1", {}, true, "2");
    auto prev = s.put(v2);
    ASSERT_NE(prev, nullptr);
    EXPECT_EQ(prev->at("metadata").at("resourceVersion").as_string(), "1");
    EXPECT_EQ(s.get("default/a"), v2);
    EXPECT_EQ(s.size(), 1u);

    EXPECT_EQ(s.erase("default/a"), v2);
    EXPECT_EQ(s.erase("default/a"), nullptr);
    EXPECT_EQ(s.size(), 0u);
}

TEST(Store, ClusterScopedKeyIsTheName) {
    Store s;
    boost::json::object node{{"metadata", boost::json::object{{"name", "edge1"}}}};
    s.put(std::make_shared<const boost::json::object>(node));
    EXPECT_NE(s.get("edge1"), nullptr);
    EXPECT_NE(s.get("", "edge1"), nullptr);
}

TEST(Store, NamespaceIndexAlwaysPresent) {
    Store s;
    s.put(pod("a", "p1", ""));
    s.put(pod("a", "p2", ""));
    s.put(pod("b", "p3", ""));
    EXPECT_EQ(names(s.by_index(indexers::kNamespace, "a")), (Names{"p1", "p2"}));
    EXPECT_EQ(names(s.by_index(indexers::kNamespace, "b")), (Names{"p3"}));
    s.erase("a/p1");
    EXPECT_EQ(names(s.by_index(indexers::kNamespace, "a")), (Names{"p2"}));
    EXPECT_TRUE(s.by_index("no-such-index", "a").empty());
}

TEST(Store, NodeNameIndexFollowsUpdatesAndDeletes) {
    Store s;
    s.add_index("node", indexers::by_node_name());
    s.put(pod("default", "a", "edge1"));
    s.put(pod("default", "b", "edge1"));
    s.put(pod("default", "c", "edge2"));
    s.put(pod("default", "unbound", ""));
    EXPECT_EQ(names(s.by_index("node", "edge1")), (Names{"a", "b"}));
    EXPECT_EQ(names(s.by_index("node", "edge2")), (Names{"c"}));
    EXPECT_TRUE(s.by_index("node", "").empty());  // unbound pods are not indexed

    // Moving a pod removes it from the old value's bucket.
    s.put(pod("default", "b", "edge2", {}, true, "2"));
    EXPECT_EQ(names(s.by_index("node", "edge1")), (Names{"a"}));
    EXPECT_EQ(names(s.by_index("node", "edge2")), (Names{"b", "c"}));

    s.erase("default/a");
    EXPECT_TRUE(s.by_index("node", "edge1").empty());
    s.put(pod("default", "c", "", {}, true, "3"));  // unbound again
    EXPECT_EQ(names(s.by_index("node", "edge2")), (Names{"b"}));
}

TEST(Store, ControllerAndOwnerUidIndexes) {
    Store s;
    s.add_index("controller", indexers::by_controller_uid());
    s.add_index("owner", indexers::by_owner_uid());
    s.put(pod("default", "a", "", "uid-1", true));
    s.put(pod("default", "b", "", "uid-1", false));  // owned, not controlled
    s.put(pod("default", "c", "", "uid-2", true));
    EXPECT_EQ(names(s.by_index("controller", "uid-1")), (Names{"a"}));
    EXPECT_EQ(names(s.by_index("owner", "uid-1")), (Names{"a", "b"}));
    EXPECT_EQ(names(s.by_index("controller", "uid-2")), (Names{"c"}));
    // Adoption by another controller.
    s.put(pod("default", "a", "", "uid-2", true, "2"));
    EXPECT_TRUE(s.by_index("controller", "uid-1").empty());
    EXPECT_EQ(names(s.by_index("controller", "uid-2")), (Names{"a", "c"}));
    s.erase("default/c");
    EXPECT_EQ(names(s.by_index("controller", "uid-2")), (Names{"a"}));
}

TEST(Store, IndexAddedLaterCoversExistingObjects) {
    Store s;
    s.put(pod("default", "a", "edge1"));
    s.add_index("node", indexers::by_node_name());
    EXPECT_EQ(names(s.by_index("node", "edge1")), (Names{"a"}));
}

TEST(Store, CustomMultiValueIndex) {
    Store s;
    s.add_index("labels", [](const boost::json::object& o) {
        std::vector<std::string> out;
        if (auto* md = o.if_contains("metadata"))
            if (auto* l = md->as_object().if_contains("labels"))
                for (auto& [k, v] : l->as_object()) out.push_back(std::string(k));
        return out;
    });
    auto obj = boost::json::parse(
                   R"({"metadata":{"name":"x","namespace":"n","labels":{"a":"1","b":"2"}}})")
                   .as_object();
    s.put(std::make_shared<const boost::json::object>(obj));
    EXPECT_EQ(s.by_index("labels", "a").size(), 1u);
    EXPECT_EQ(s.by_index("labels", "b").size(), 1u);
    s.erase("n/x");
    EXPECT_TRUE(s.by_index("labels", "a").empty());
}

}  // namespace
}  // namespace kedge::kube::client
