// The owner/dependent graph: which uids an informer event puts on the GC's queue.

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <algorithm>

#include "controllers/gc/owner_graph.hpp"

namespace kedge::controllers::gc {
namespace {
namespace json = boost::json;

json::object object(const std::string& uid, const std::string& owners = "[]",
                    const std::string& extra_md = "") {
    return json::parse(R"({"metadata":{"name":")" + uid + R"(","namespace":"ns","uid":")" + uid +
                       R"(",)" + extra_md + R"("ownerReferences":)" + owners + "}}")
        .as_object();
}

std::vector<std::string> sorted(std::vector<std::string> v) {
    std::sort(v.begin(), v.end());
    return v;
}

constexpr std::string_view kDeleting = R"("deletionTimestamp":"2024-01-01T00:00:00Z",)";

TEST(OwnerGraph, DependentsAreIndexedByOwnerUid) {
    OwnerGraph g;
    EXPECT_TRUE(g.observe("/configmaps", object("owner")).empty());  // no owners: nothing to do
    EXPECT_EQ(g.observe("/configmaps", object("d1", R"([{"uid":"owner"}])")),
              std::vector<std::string>{"d1"});
    g.observe("/secrets", object("d2", R"([{"uid":"owner"},{"uid":"other"}])"));
    EXPECT_EQ(sorted(g.dependents("owner")), (std::vector<std::string>{"d1", "d2"}));
    EXPECT_EQ(g.dependents("other"), std::vector<std::string>{"d2"});
    ASSERT_NE(g.find("d2"), nullptr);
    EXPECT_EQ(g.find("d2")->resource_id, "/secrets");
    EXPECT_EQ(g.find("d2")->namespace_, "ns");
    EXPECT_EQ(g.size(), 3u);
}

TEST(OwnerGraph, UnchangedReferencesDoNotRequeue) {
    OwnerGraph g;
    g.observe("/configmaps", object("d", R"([{"uid":"o"}])"));
    // A heartbeat-like update with the same owners is no work for the GC.
    EXPECT_TRUE(g.observe("/configmaps", object("d", R"([{"uid":"o"}])")).empty());
    // New owners are.
    EXPECT_EQ(g.observe("/configmaps", object("d", R"([{"uid":"o2"}])")),
              std::vector<std::string>{"d"});
    EXPECT_TRUE(g.dependents("o").empty());
    EXPECT_EQ(g.dependents("o2"), std::vector<std::string>{"d"});
}

TEST(OwnerGraph, OwnerGoneRequeuesItsDependents) {
    OwnerGraph g;
    auto owner = object("o");
    g.observe("/configmaps", owner);
    g.observe("/configmaps", object("d1", R"([{"uid":"o"}])"));
    g.observe("/configmaps", object("d2", R"([{"uid":"o"}])"));
    EXPECT_EQ(sorted(g.forget(owner)), (std::vector<std::string>{"d1", "d2"}));
    EXPECT_EQ(g.find("o"), nullptr);
    // Dependents keep pointing at the owner uid until they are gone themselves.
    EXPECT_EQ(sorted(g.dependents("o")), (std::vector<std::string>{"d1", "d2"}));
    g.forget(object("d1", R"([{"uid":"o"}])"));
    EXPECT_EQ(g.dependents("o"), std::vector<std::string>{"d2"});
}

TEST(OwnerGraph, ForegroundDeletionQueuesOwnerAndDependents) {
    OwnerGraph g;
    g.observe("/configmaps", object("o"));
    g.observe("/configmaps", object("d", R"([{"uid":"o","blockOwnerDeletion":true}])"));
    auto q = g.observe(
        "/configmaps",
        object("o", "[]", std::string(kDeleting) + R"("finalizers":["foregroundDeletion"],)"));
    EXPECT_EQ(sorted(q), (std::vector<std::string>{"d", "o"}));
    EXPECT_TRUE(g.find("o")->gc_finalizer);
    // A dependent going away brings the waiting owner back.
    EXPECT_EQ(g.forget(object("d", R"([{"uid":"o"}])")), std::vector<std::string>{"o"});
}

TEST(OwnerGraph, OrphanFinalizerQueuesTheOwner) {
    OwnerGraph g;
    g.observe("/configmaps", object("o"));
    auto q = g.observe("/configmaps",
                       object("o", "[]", std::string(kDeleting) + R"("finalizers":["orphan"],)"));
    EXPECT_EQ(q, std::vector<std::string>{"o"});
    // Dependents changing (losing their reference) bring it back too.
    g.observe("/configmaps", object("d", R"([{"uid":"o"}])"));
    auto again = g.observe("/configmaps", object("d", "[]"));
    EXPECT_EQ(again, std::vector<std::string>{"o"});
}

TEST(OwnerGraph, InterestingIsEverythingWithOwnersOrGcFinalizers) {
    OwnerGraph g;
    g.observe("/configmaps", object("plain"));
    g.observe("/configmaps", object("d", R"([{"uid":"o"}])"));
    g.observe("/configmaps",
              object("f", "[]", std::string(kDeleting) + R"("finalizers":["orphan"],)"));
    g.observe("/configmaps",
              object("x", "[]", std::string(kDeleting) + R"("finalizers":["example.com/x"],)"));
    EXPECT_EQ(sorted(g.interesting()), (std::vector<std::string>{"d", "f"}));
}

}  // namespace
}  // namespace kedge::controllers::gc
