#include "controllers/nodelifecycle/eviction_logic.hpp"

#include <gtest/gtest.h>
#include <boost/json/parse.hpp>

namespace kedge::controllers::nodelifecycle {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;

constexpr auto kDefault = std::chrono::seconds(300);

json::object pod_with_tolerations(std::string_view tolerations) {
    return json::parse(
               std::string(
                   R"({"metadata":{"name":"p","namespace":"default"},"spec":{"tolerations":)") +
               std::string(tolerations) + "}}")
        .as_object();
}

TEST(Eviction, NoNoExecuteTaintNeverEvicts) {
    FakeClock clock;
    auto pod = pod_with_tolerations("[]");
    std::vector<Taint> taints{{"x", "", "NoSchedule", clock.now()}};
    EXPECT_FALSE(eviction_time(pod, taints, false, kDefault, clock.now()));
}

TEST(Eviction, UntoleratedNoExecuteTaintEvictsAtOnce) {
    FakeClock clock;
    auto pod = pod_with_tolerations("[]");
    std::vector<Taint> taints{{"dedicated", "db", "NoExecute", clock.now() - 1s}};
    auto t = eviction_time(pod, taints, false, kDefault, clock.now());
    ASSERT_TRUE(t);
    EXPECT_LE(*t, clock.now());
}

TEST(Eviction, PodWithoutTolerationsGetsTheDefaultForUnreachable) {
    FakeClock clock;
    auto pod = pod_with_tolerations("[]");
    const auto added = clock.now() - 10s;
    std::vector<Taint> taints{{std::string(kTaintUnreachable), "", "NoExecute", added}};
    auto t = eviction_time(pod, taints, false, kDefault, clock.now());
    ASSERT_TRUE(t);
    EXPECT_EQ(*t, added + 300s);
}

TEST(Eviction, OwnTolerationSecondsCountFromTimeAdded) {
    FakeClock clock;
    auto pod = pod_with_tolerations(
        R"([{"key":"node.kubernetes.io/unreachable","operator":"Exists","effect":"NoExecute","tolerationSeconds":5}])");
    const auto added = clock.now() - 2s;
    std::vector<Taint> taints{{std::string(kTaintUnreachable), "", "NoExecute", added}};
    EXPECT_EQ(eviction_time(pod, taints, false, kDefault, clock.now()), added + 5s);
    // Without timeAdded the fallback (when the controller first saw the taint) counts.
    taints[0].time_added.reset();
    EXPECT_EQ(eviction_time(pod, taints, false, kDefault, clock.now() - 1s), clock.now() + 4s);
}

TEST(Eviction, SmallestSecondsWinsAndForeverMeansNever) {
    FakeClock clock;
    const auto added = clock.now();
    std::vector<Taint> taints{{std::string(kTaintUnreachable), "", "NoExecute", added}};
    auto two = pod_with_tolerations(
        R"([{"operator":"Exists","effect":"NoExecute","tolerationSeconds":60},
            {"key":"node.kubernetes.io/unreachable","operator":"Exists","tolerationSeconds":20}])");
    EXPECT_EQ(eviction_time(two, taints, false, kDefault, clock.now()), added + 20s);
    // A DaemonSet pod: tolerated without tolerationSeconds, never evicted.
    auto forever = pod_with_tolerations(
        R"([{"key":"node.kubernetes.io/unreachable","operator":"Exists","effect":"NoExecute"}])");
    EXPECT_FALSE(eviction_time(forever, taints, false, kDefault, clock.now()));
    // Negative seconds mean at once.
    auto negative = pod_with_tolerations(
        R"([{"key":"node.kubernetes.io/unreachable","operator":"Exists","effect":"NoExecute","tolerationSeconds":-3}])");
    EXPECT_EQ(eviction_time(negative, taints, false, kDefault, clock.now()), added);
}

TEST(Eviction, EarliestTaintDecides) {
    FakeClock clock;
    auto pod = pod_with_tolerations(
        R"([{"key":"slow","operator":"Exists","effect":"NoExecute","tolerationSeconds":100}])");
    std::vector<Taint> taints{{"slow", "", "NoExecute", clock.now()},
                              {std::string(kTaintNotReady), "", "NoExecute", clock.now() - 1h}};
    // not-ready uses the default 300 s from an hour ago: already due.
    EXPECT_EQ(eviction_time(pod, taints, false, kDefault, clock.now()), clock.now() - 1h + 300s);
}

TEST(Eviction, EdgeNodesNeverEvictForNotReadyOrUnreachable) {
    FakeClock clock;
    auto pod = pod_with_tolerations("[]");
    std::vector<Taint> taints{{std::string(kTaintUnreachable), "", "NoExecute", clock.now() - 1h},
                              {std::string(kTaintNotReady), "", "NoExecute", clock.now() - 1h}};
    EXPECT_FALSE(eviction_time(pod, taints, true, kDefault, clock.now()));
    EXPECT_TRUE(eviction_time(pod, taints, false, kDefault, clock.now()));
    // Other NoExecute taints still apply on edge nodes.
    taints.push_back({"maintenance", "", "NoExecute", clock.now()});
    auto t = eviction_time(pod, taints, true, kDefault, clock.now());
    ASSERT_TRUE(t);
    EXPECT_EQ(*t, clock.now());
}

TEST(Eviction, DefaultTolerationsOnlyWhenMissing) {
    auto none = effective_tolerations(pod_with_tolerations("[]"), kDefault);
    ASSERT_EQ(none.size(), 2u);
    EXPECT_EQ(none[0].key, kTaintNotReady);
    EXPECT_EQ(none[0].seconds, 300);
    EXPECT_EQ(none[1].key, kTaintUnreachable);
    auto all = effective_tolerations(pod_with_tolerations(R"([{"operator":"Exists"}])"), kDefault);
    EXPECT_EQ(all.size(), 1u);
    auto noschedule_only = effective_tolerations(
        pod_with_tolerations(
            R"([{"key":"node.kubernetes.io/not-ready","operator":"Exists","effect":"NoSchedule"}])"),
        kDefault);
    EXPECT_EQ(noschedule_only.size(), 3u);
}

TEST(Eviction, NotReadyConditions) {
    FakeClock clock;
    auto pod = json::parse(R"({"status":{"conditions":[
        {"type":"PodScheduled","status":"True"},{"type":"Ready","status":"True"}]}})")
                   .as_object();
    auto c = not_ready_conditions(pod, clock.now());
    ASSERT_TRUE(c);
    EXPECT_EQ((*c)[0].as_object().at("status").as_string(), "True");
    EXPECT_EQ((*c)[1].as_object().at("status").as_string(), "False");
    pod["status"].as_object()["conditions"] = *c;
    EXPECT_FALSE(not_ready_conditions(pod, clock.now()));
    EXPECT_FALSE(not_ready_conditions(json::object{}, clock.now()));
}

TEST(Eviction, TerminalOrDeletingPodsAreLeftAlone) {
    EXPECT_TRUE(pod_is_terminal_or_deleting(
        json::parse(R"({"metadata":{"deletionTimestamp":"2026-01-01T00:00:00Z"}})").as_object()));
    EXPECT_TRUE(pod_is_terminal_or_deleting(
        json::parse(R"({"status":{"phase":"Succeeded"}})").as_object()));
    EXPECT_FALSE(
        pod_is_terminal_or_deleting(json::parse(R"({"status":{"phase":"Running"}})").as_object()));
}

}  // namespace
}  // namespace kedge::controllers::nodelifecycle
