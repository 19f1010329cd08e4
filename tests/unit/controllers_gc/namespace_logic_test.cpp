// The namespace controller's pure parts: status conditions while content remains, and the
// finalize request.

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "controllers/gc/namespace_logic.hpp"
#include "kube/object.hpp"

namespace kedge::controllers::gc {
namespace {
namespace json = boost::json;

json::object ns(std::string_view extra = "") {
    return json::parse(
               std::string(R"({"apiVersion":"v1","kind":"Namespace","metadata":{"name":"x",)"
                           R"("resourceVersion":"5","deletionTimestamp":"2024-01-01T00:00:00Z"},)"
                           R"("spec":{"finalizers":["kubernetes","example.com/f"]},)"
                           R"("status":{"phase":"Terminating")") +
               std::string(extra) + "}}")
        .as_object();
}

const json::object& condition(const json::array& cs, std::string_view type) {
    for (const auto& c : cs)
        if (c.at("type").as_string() == type) return c.as_object();
    static json::object none;
    ADD_FAILURE() << "no condition " << type;
    return none;
}

TEST(NamespaceLogic, ConditionsNameWhatRemains) {
    NamespaceContent c;
    c.remaining["pods."] = 2;
    c.remaining["widgets.example.com"] = 1;
    c.finalizers["example.com/keep"] = 1;
    auto cs = namespace_conditions(ns(), c, "2024-01-01T00:00:10Z");
    ASSERT_EQ(cs.size(), 5u);
    const auto& rem = condition(cs, "NamespaceContentRemaining");
    EXPECT_EQ(rem.at("status"), "True");
    EXPECT_EQ(rem.at("reason"), "SomeResourcesRemain");
    EXPECT_EQ(rem.at("message"),
              "Some resources are remaining: pods. has 2 resource instances, "
              "widgets.example.com has 1 resource instances");
    const auto& fin = condition(cs, "NamespaceFinalizersRemaining");
    EXPECT_EQ(fin.at("status"), "True");
    EXPECT_EQ(fin.at("message"),
              "Some content in the namespace has finalizers remaining: example.com/keep in 1 "
              "resource instances");
    EXPECT_EQ(condition(cs, "NamespaceDeletionDiscoveryFailure").at("status"), "False");
    EXPECT_EQ(condition(cs, "NamespaceDeletionContentFailure").at("reason"), "ContentDeleted");
}

TEST(NamespaceLogic, TransitionTimeKeptWhileStatusStays) {
    NamespaceContent c;
    c.remaining["pods."] = 1;
    auto first = namespace_conditions(ns(), c, "2024-01-01T00:00:10Z");
    auto with = ns(R"(,"conditions":)" + json::serialize(first) + R"(,"other":1)");
    c.remaining["pods."] = 3;  // message changes, status does not
    auto second = namespace_conditions(with, c, "2024-01-01T00:00:20Z");
    EXPECT_EQ(condition(second, "NamespaceContentRemaining").at("lastTransitionTime"),
              "2024-01-01T00:00:10Z");
    c.remaining.clear();
    auto third = namespace_conditions(with, c, "2024-01-01T00:00:30Z");
    const auto& rem = condition(third, "NamespaceContentRemaining");
    EXPECT_EQ(rem.at("status"), "False");
    EXPECT_EQ(rem.at("reason"), "ContentRemoved");
    EXPECT_EQ(rem.at("lastTransitionTime"), "2024-01-01T00:00:30Z");
}

TEST(NamespaceLogic, FailuresAreReported) {
    NamespaceContent c;
    c.discovery_failures = {"example.com/v1"};
    c.delete_failures = {"configmaps.: boom"};
    auto cs = namespace_conditions(ns(), c, "t");
    EXPECT_EQ(condition(cs, "NamespaceDeletionDiscoveryFailure").at("message"),
              "Discovery failed for some groups, 1 failing: example.com/v1");
    EXPECT_EQ(condition(cs, "NamespaceDeletionContentFailure").at("status"), "True");
}

TEST(NamespaceLogic, FinalizeDropsOnlyKubernetes) {
    auto req = finalize_request(ns());
    ASSERT_TRUE(req);
    EXPECT_EQ(req->at("spec").at("finalizers"), json::array{"example.com/f"});
    EXPECT_EQ(kube::name(*req), "x");
    EXPECT_FALSE(finalize_request(*req));  // nothing left for this controller
}

TEST(NamespaceLogic, NeedsContentDeletionOnlyWhileTerminatingWithTheFinalizer) {
    EXPECT_TRUE(needs_content_deletion(ns()));
    auto active = json::parse(R"({"metadata":{"name":"x"},"spec":{"finalizers":["kubernetes"]}})")
                      .as_object();
    EXPECT_FALSE(needs_content_deletion(active));
    EXPECT_FALSE(needs_content_deletion(*finalize_request(ns())));
}

}  // namespace
}  // namespace kedge::controllers::gc
