// The garbage collector's pure decisions: discovery parsing, owner classification, what happens
// to a dependent, and the patches that orphan dependents and drop finalizers.

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "controllers/gc/gc_logic.hpp"
#include "kube/object.hpp"

namespace kedge::controllers::gc {
namespace {
namespace json = boost::json;

json::object obj(std::string_view text) { return json::parse(text).as_object(); }

json::object owned_cm(std::string_view refs, std::string_view extra_md = "") {
    return obj(std::string(R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"d",)"
                           R"("namespace":"ns","uid":"d-uid","resourceVersion":"7",)") +
               std::string(extra_md) + R"("ownerReferences":)" + std::string(refs) + "}}");
}

kube::OwnerReference ref(std::string uid, bool block = false) {
    return kube::OwnerReference{.api_version = "v1",
                                .kind = "ConfigMap",
                                .name = "owner-" + uid,
                                .uid = uid,
                                .controller = false,
                                .block_owner_deletion = block};
}

TEST(GcDiscovery, ParsesResourceListsSkippingSubresources) {
    auto list = obj(R"({"kind":"APIResourceList","groupVersion":"apps/v1","resources":[
        {"name":"deployments","namespaced":true,"kind":"Deployment",
         "verbs":["create","delete","get","list","watch"]},
        {"name":"deployments/scale","namespaced":true,"kind":"Scale","verbs":["get"]},
        {"name":"controllerrevisions","namespaced":true,"kind":"ControllerRevision",
         "verbs":["get","list"]}]})");
    auto rs = parse_resource_list(list);
    ASSERT_EQ(rs.size(), 2u);
    EXPECT_EQ(rs[0].resource.group, "apps");
    EXPECT_EQ(rs[0].resource.version, "v1");
    EXPECT_EQ(rs[0].resource.resource, "deployments");
    EXPECT_EQ(rs[0].resource.kind, "Deployment");
    EXPECT_TRUE(rs[0].resource.namespaced);
    EXPECT_EQ(rs[0].id(), "apps/deployments");
    EXPECT_TRUE(gc_follows(rs[0]));
    EXPECT_FALSE(gc_follows(rs[1]));  // no watch, no delete

    auto core = parse_resource_list(obj(R"({"groupVersion":"v1","resources":[
        {"name":"nodes","namespaced":false,"kind":"Node","verbs":["list","watch","delete"]}]})"));
    ASSERT_EQ(core.size(), 1u);
    EXPECT_EQ(core[0].resource.group, "");
    EXPECT_FALSE(core[0].resource.namespaced);
    EXPECT_EQ(core[0].id(), "/nodes");

    EXPECT_TRUE(parse_resource_list(obj(R"({"resources":"nope"})")).empty());
}

TEST(GcDiscovery, PreferredGroupVersions) {
    auto groups = obj(R"({"kind":"APIGroupList","groups":[
        {"name":"apps","versions":[{"groupVersion":"apps/v1","version":"v1"}],
         "preferredVersion":{"groupVersion":"apps/v1","version":"v1"}},
        {"name":"example.com","versions":[{"groupVersion":"example.com/v2","version":"v2"},
                                          {"groupVersion":"example.com/v1","version":"v1"}]},
        {"name":"broken"}]})");
    EXPECT_EQ(preferred_group_versions(groups),
              (std::vector<std::string>{"apps/v1", "example.com/v2"}));
}

TEST(GcDiscovery, FindKindFallsBackToAnotherVersionOfTheGroup) {
    std::vector<DiscoveredResource> rs = {
        {{"apps", "v1", "replicasets", "ReplicaSet", true}, {}},
        {{"example.com", "v2", "widgets", "Widget", true}, {}},
        {{"", "v1", "configmaps", "ConfigMap", true}, {}},
    };
    ASSERT_NE(find_kind(rs, "apps/v1", "ReplicaSet"), nullptr);
    EXPECT_EQ(find_kind(rs, "example.com/v1", "Widget")->resource.resource, "widgets");
    EXPECT_EQ(find_kind(rs, "v1", "ConfigMap")->resource.resource, "configmaps");
    EXPECT_EQ(find_kind(rs, "extensions/v1beta1", "ReplicaSet"), nullptr);  // other group
    EXPECT_EQ(find_kind(rs, "v1", "Pod"), nullptr);
}

TEST(GcOwners, ClassifyByUidAndForegroundDeletion) {
    auto owner = obj(R"({"metadata":{"name":"owner-a","uid":"a"}})");
    EXPECT_EQ(classify_owner(ref("a"), &owner), OwnerState::kSolid);
    EXPECT_EQ(classify_owner(ref("a"), nullptr), OwnerState::kDangling);
    // Same name, new object: the owner the reference meant is gone.
    EXPECT_EQ(classify_owner(ref("old"), &owner), OwnerState::kDangling);
    auto fg =
        obj(R"({"metadata":{"name":"owner-a","uid":"a","deletionTimestamp":"2024-01-01T00:00:00Z",
                      "finalizers":["foregroundDeletion"]}})");
    EXPECT_EQ(classify_owner(ref("a"), &fg), OwnerState::kWaitingForDependentsDeletion);
    // Being deleted without foregroundDeletion (orphan, or another finalizer): still solid.
    auto orphaning =
        obj(R"({"metadata":{"name":"owner-a","uid":"a","deletionTimestamp":"2024-01-01T00:00:00Z",
                      "finalizers":["orphan"]}})");
    EXPECT_EQ(classify_owner(ref("a"), &orphaning), OwnerState::kSolid);
}

TEST(GcDependents, DeletedInBackgroundWhenAllOwnersAreGone) {
    auto dep = owned_cm(R"([{"uid":"a"},{"uid":"b"}])");
    auto d = decide_dependent(
        dep, {{ref("a"), OwnerState::kDangling}, {ref("b"), OwnerState::kDangling}});
    EXPECT_EQ(d.action, DependentDecision::Action::kDelete);
    EXPECT_EQ(d.propagation_policy, "Background");
}

TEST(GcDependents, KeptWhileOneOwnerIsSolidButLosesTheDanglingReference) {
    auto dep = owned_cm(R"([{"uid":"a"},{"uid":"b"}])");
    auto d =
        decide_dependent(dep, {{ref("a"), OwnerState::kSolid}, {ref("b"), OwnerState::kDangling}});
    EXPECT_EQ(d.action, DependentDecision::Action::kRemoveOwnerRefs);
    EXPECT_EQ(d.remove_owner_uids, std::vector<std::string>{"b"});

    d = decide_dependent(dep, {{ref("a"), OwnerState::kSolid}, {ref("b"), OwnerState::kSolid}});
    EXPECT_EQ(d.action, DependentDecision::Action::kKeep);
}

TEST(GcDependents, ForegroundOwnerDeletesDependentInForeground) {
    auto dep = owned_cm(R"([{"uid":"a"}])");
    auto d = decide_dependent(dep, {{ref("a", true), OwnerState::kWaitingForDependentsDeletion}});
    EXPECT_EQ(d.action, DependentDecision::Action::kDelete);
    EXPECT_EQ(d.propagation_policy, "Foreground");
}

TEST(GcDependents, OwnFinalizersChooseThePolicy) {
    auto orphan = owned_cm(R"([{"uid":"a"}])", R"("finalizers":["orphan"],)");
    EXPECT_EQ(decide_dependent(orphan, {{ref("a"), OwnerState::kDangling}}).propagation_policy,
              "Orphan");
    auto fg = owned_cm(R"([{"uid":"a"}])", R"("finalizers":["foregroundDeletion"],)");
    EXPECT_EQ(decide_dependent(fg, {{ref("a"), OwnerState::kDangling}}).propagation_policy,
              "Foreground");
}

TEST(GcDependents, NothingForObjectsWithoutOwnersOrAlreadyTerminating) {
    auto none = obj(R"({"metadata":{"name":"x","uid":"x"}})");
    EXPECT_EQ(decide_dependent(none, {}).action, DependentDecision::Action::kKeep);
    auto terminating =
        owned_cm(R"([{"uid":"a"}])", R"("deletionTimestamp":"2024-01-01T00:00:00Z",)");
    EXPECT_EQ(decide_dependent(terminating, {{ref("a"), OwnerState::kDangling}}).action,
              DependentDecision::Action::kKeep);
}

TEST(GcDependents, BlockOwnerDeletion) {
    auto dep = owned_cm(R"([{"uid":"a","blockOwnerDeletion":true},{"uid":"b"}])");
    EXPECT_TRUE(blocks_owner(dep, "a"));
    EXPECT_FALSE(blocks_owner(dep, "b"));
    EXPECT_FALSE(blocks_owner(dep, "c"));
    EXPECT_TRUE(has_owner(dep, "b"));
    EXPECT_FALSE(has_owner(dep, "c"));
}

TEST(GcPatches, RemoveOwnerRefsKeepsTheOthersAndCarriesTheResourceVersion) {
    auto dep = owned_cm(R"([{"uid":"a","kind":"ConfigMap"},{"uid":"b","kind":"Secret"}])");
    auto p = remove_owner_refs_patch(dep, {"a"});
    ASSERT_TRUE(p);
    auto v = json::parse(*p);
    EXPECT_EQ(v.at("metadata").at("resourceVersion"), "7");
    auto refs = v.at("metadata").at("ownerReferences").as_array();
    ASSERT_EQ(refs.size(), 1u);
    EXPECT_EQ(refs[0].at("uid"), "b");
    EXPECT_EQ(refs[0].at("kind"), "Secret");

    auto all = json::parse(*remove_owner_refs_patch(dep, {"a", "b"}));
    EXPECT_TRUE(all.at("metadata").at("ownerReferences").is_null());
    EXPECT_FALSE(remove_owner_refs_patch(dep, {"zzz"}));
}

TEST(GcPatches, RemoveFinalizer) {
    auto o = obj(R"({"metadata":{"name":"o","resourceVersion":"3",
                     "finalizers":["example.com/keep","foregroundDeletion"]}})");
    auto p = json::parse(*remove_finalizer_patch(o, kFinalizerForeground));
    EXPECT_EQ(p.at("metadata").at("finalizers"), json::array{"example.com/keep"});
    EXPECT_EQ(p.at("metadata").at("resourceVersion"), "3");
    EXPECT_FALSE(remove_finalizer_patch(o, kFinalizerOrphan));
    auto last = obj(R"({"metadata":{"name":"o","resourceVersion":"3","finalizers":["orphan"]}})");
    EXPECT_TRUE(json::parse(*remove_finalizer_patch(last, kFinalizerOrphan))
                    .at("metadata")
                    .at("finalizers")
                    .is_null());
}

}  // namespace
}  // namespace kedge::controllers::gc
