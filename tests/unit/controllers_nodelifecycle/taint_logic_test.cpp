#include "controllers/nodelifecycle/taint_logic.hpp"

#include <gtest/gtest.h>
#include <boost/json/parse.hpp>

namespace kedge::controllers::nodelifecycle {
namespace {

namespace json = boost::json;

json::object obj(std::string_view text) { return json::parse(text).as_object(); }

TEST(TaintLogic, TolerationMatchingFollowsKubernetes) {
    Taint t{"dedicated", "gpu", "NoSchedule", {}};
    EXPECT_TRUE((Toleration{"dedicated", "Equal", "gpu", "NoSchedule", {}}).tolerates(t));
    EXPECT_FALSE((Toleration{"dedicated", "Equal", "cpu", "NoSchedule", {}}).tolerates(t));
    EXPECT_TRUE((Toleration{"dedicated", "Exists", "", "", {}}).tolerates(t));
    EXPECT_FALSE((Toleration{"dedicated", "Exists", "", "NoExecute", {}}).tolerates(t));
    EXPECT_FALSE((Toleration{"other", "Exists", "", "", {}}).tolerates(t));
    // An empty key with Exists tolerates everything.
    EXPECT_TRUE((Toleration{"", "Exists", "", "", {}}).tolerates(t));
    EXPECT_FALSE((Toleration{"dedicated", "Bogus", "gpu", "", {}}).tolerates(t));
}

TEST(TaintLogic, ParsesTaintsAndTolerationsSkippingMalformedEntries) {
    auto node = obj(R"({"spec":{"taints":[
        {"key":"a","value":"1","effect":"NoSchedule"},
        {"key":"node.kubernetes.io/unreachable","effect":"NoExecute",
         "timeAdded":"2026-01-02T03:04:05Z"},
        {"value":"no key","effect":"NoSchedule"}, 42, {"key":"noeffect"}]}})");
    auto taints = node_taints(node);
    ASSERT_EQ(taints.size(), 2u);
    EXPECT_EQ(taints[0].value, "1");
    EXPECT_FALSE(taints[0].time_added);
    ASSERT_TRUE(taints[1].time_added);

    auto pod = obj(R"({"spec":{"tolerations":[
        {"key":"a","operator":"Exists","effect":"NoExecute","tolerationSeconds":30},
        {"key":"b","value":"x"}, "junk"]}})");
    auto tols = pod_tolerations(pod);
    ASSERT_EQ(tols.size(), 2u);
    EXPECT_EQ(tols[0].seconds, 30);
    EXPECT_EQ(tols[1].op, "Equal");
    EXPECT_TRUE(pod_tolerations(obj(R"({"spec":{"tolerations":"nope"}})")).empty());
    EXPECT_TRUE(node_taints(obj(R"({"spec":[]})")).empty());
}

TEST(TaintLogic, FirstUntoleratedLooksOnlyAtTheGivenEffects) {
    std::vector<Taint> taints{{"soft", "", "PreferNoSchedule", {}},
                              {"hard", "", "NoSchedule", {}},
                              {"gone", "", "NoExecute", {}}};
    std::vector<Toleration> tols{{"hard", "Exists", "", "", {}}};
    auto t = first_untolerated(taints, tols, {kNoSchedule, kNoExecute});
    ASSERT_TRUE(t);
    EXPECT_EQ(t->key, "gone");
    EXPECT_FALSE(first_untolerated(taints, tols, {kNoSchedule}));
}

TEST(TaintLogic, JsonRoundTrip) {
    Taint t{"k", "v", "NoExecute", Clock::time_point(std::chrono::seconds(1'700'000'000))};
    auto back = node_taints(json::object{{"spec", {{"taints", json::array{t.to_json()}}}}});
    ASSERT_EQ(back.size(), 1u);
    EXPECT_EQ(back[0].time_added, t.time_added);
    Toleration tol{"k", "Exists", "", "NoExecute", 5};
    json::value arr = json::array{tol.to_json()};
    auto tb = tolerations_from_json(&arr);
    ASSERT_EQ(tb.size(), 1u);
    EXPECT_EQ(tb[0].seconds, 5);
    EXPECT_EQ(tb[0].op, "Exists");
}

}  // namespace
}  // namespace kedge::controllers::nodelifecycle
