#include "controllers/nodelifecycle/node_health_logic.hpp"

#include <gtest/gtest.h>
#include <boost/json/parse.hpp>

#include "controllers/nodelifecycle/taint_logic.hpp"
#include "kube/time.hpp"

namespace kedge::controllers::nodelifecycle {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;

constexpr auto kGrace = std::chrono::seconds(40);

json::object node_with(std::string name, std::string ready, Clock::time_point heartbeat,
                       Clock::time_point created) {
    json::object n{
        {"metadata", {{"name", name}, {"creationTimestamp", kube::format_time(created)}}},
        {"spec", json::object{}}};
    if (!ready.empty()) {
        json::array conds;
        for (auto type : {"MemoryPressure", "DiskPressure", "PIDPressure", "Ready"}) {
            bool is_ready = std::string_view(type) == "Ready";
            conds.push_back(json::object{{"type", type},
                                         {"status", is_ready ? ready : "False"},
                                         {"lastHeartbeatTime", kube::format_time(heartbeat)},
                                         {"lastTransitionTime", kube::format_time(created)},
                                         {"reason", "KubeletReady"}});
        }
        n["status"] = json::object{{"conditions", conds}};
    }
    return n;
}

json::object lease_renewed(Clock::time_point t) {
    return json::object{{"spec", {{"renewTime", kube::format_micro_time(t)}}}};
}

const json::object& condition(const json::array& conds, std::string_view type) {
    for (const auto& c : conds)
        if (c.as_object().at("type").as_string() == type) return c.as_object();
    throw std::runtime_error("no condition " + std::string(type));
}

TEST(NodeHealth, FreshHeartbeatIsHealthy) {
    FakeClock clock;
    NodeHealthTracker tracker;
    auto node = node_with("n1", "True", clock.now() - 5s, clock.now() - 1h);
    auto h = tracker.observe(node, nullptr, clock.now(), kGrace);
    EXPECT_FALSE(h.stale);
    EXPECT_EQ(h.ready, "True");
    EXPECT_FALSE(h.conditions);
}

TEST(NodeHealth, SilentNodeGoesUnknownOnlyWhenHeartbeatAndLeaseAreBothOld) {
    FakeClock clock;
    NodeHealthTracker tracker;
    const auto start = clock.now();
    auto node = node_with("n1", "True", start, start - 1h);
    auto lease = lease_renewed(start);
    EXPECT_FALSE(tracker.observe(node, &lease, clock.now(), kGrace).stale);

    // The status heartbeat stops but the Lease keeps being renewed: still healthy.
    for (int i = 0; i < 10; ++i) {
        clock.advance(10s);
        lease = lease_renewed(clock.now());
        auto h = tracker.observe(node, &lease, clock.now(), kGrace);
        EXPECT_FALSE(h.stale) << i;
    }
    // Now the Lease stops too: healthy until the grace period has passed, then Unknown.
    clock.advance(39s);
    EXPECT_FALSE(tracker.observe(node, &lease, clock.now(), kGrace).stale);
    clock.advance(2s);
    auto h = tracker.observe(node, &lease, clock.now(), kGrace);
    EXPECT_TRUE(h.stale);
    EXPECT_EQ(h.ready, "Unknown");
    EXPECT_EQ(h.observed_ready, "True");
    ASSERT_TRUE(h.conditions);
    for (auto type : {"Ready", "MemoryPressure", "DiskPressure", "PIDPressure"}) {
        const auto& c = condition(*h.conditions, type);
        EXPECT_EQ(c.at("status").as_string(), "Unknown") << type;
        EXPECT_EQ(c.at("reason").as_string(), kReasonStatusUnknown);
        EXPECT_EQ(c.at("message").as_string(), "Kubelet stopped posting node status.");
        EXPECT_EQ(c.at("lastTransitionTime").as_string(), kube::format_time(clock.now()));
        // The heartbeat stays what the kubelet last posted.
        EXPECT_EQ(c.at("lastHeartbeatTime").as_string(), kube::format_time(start));
    }
}

TEST(NodeHealth, AlreadyUnknownNeedsNoSecondWrite) {
    FakeClock clock;
    NodeHealthTracker tracker;
    auto node = node_with("n1", "Unknown", clock.now() - 5min, clock.now() - 1h);
    for (auto& c : node["status"].as_object()["conditions"].as_array())
        c.as_object()["status"] = "Unknown";
    auto h = tracker.observe(node, nullptr, clock.now(), kGrace);
    EXPECT_TRUE(h.stale);
    EXPECT_FALSE(h.conditions);
}

TEST(NodeHealth, FirstSightOfAnOldHeartbeatIsStaleAtOnce) {
    FakeClock clock;
    NodeHealthTracker tracker;
    auto node = node_with("n1", "True", clock.now() - 2min, clock.now() - 1h);
    EXPECT_TRUE(tracker.observe(node, nullptr, clock.now(), kGrace).stale);
}

TEST(NodeHealth, ChangesCountOnTheControllersClockNotTheNodes) {
    FakeClock clock;
    NodeHealthTracker tracker;
    // The node's clock is 10 minutes behind: its heartbeats look old but keep changing.
    auto skew = 10min;
    auto node = node_with("n1", "True", clock.now() - skew, clock.now() - 1h);
    tracker.observe(node, nullptr, clock.now(), kGrace);  // first sight: stale by its timestamp
    for (int i = 0; i < 5; ++i) {
        clock.advance(10s);
        node = node_with("n1", "True", clock.now() - skew, clock.now() - 1h);
        EXPECT_FALSE(tracker.observe(node, nullptr, clock.now(), kGrace).stale) << i;
    }
    clock.advance(41s);
    EXPECT_TRUE(tracker.observe(node, nullptr, clock.now(), kGrace).stale);
}

TEST(NodeHealth, NodeThatNeverReportedGetsAGracePeriodFromCreation) {
    FakeClock clock;
    NodeHealthTracker tracker;
    const auto created = clock.now();
    auto node = node_with("n1", "", created, created);
    auto h = tracker.observe(node, nullptr, clock.now(), kGrace);
    EXPECT_FALSE(h.stale);
    EXPECT_EQ(h.ready, "");
    EXPECT_FALSE(desired_taints(node, h.ready, clock.now()));  // nothing decided yet
    clock.advance(41s);
    h = tracker.observe(node, nullptr, clock.now(), kGrace);
    EXPECT_TRUE(h.stale);
    ASSERT_TRUE(h.conditions);
    ASSERT_EQ(h.conditions->size(), 4u);
    const auto& ready = condition(*h.conditions, "Ready");
    EXPECT_EQ(ready.at("status").as_string(), "Unknown");
    EXPECT_EQ(ready.at("reason").as_string(), kReasonNeverUpdated);
    EXPECT_EQ(ready.at("message").as_string(), "Kubelet never posted node status.");
}

TEST(NodeHealth, ForgetStartsOver) {
    FakeClock clock;
    NodeHealthTracker tracker;
    auto node = node_with("n1", "True", clock.now(), clock.now());
    tracker.observe(node, nullptr, clock.now(), kGrace);
    EXPECT_EQ(tracker.size(), 1u);
    tracker.forget("n1");
    EXPECT_EQ(tracker.size(), 0u);
}

std::vector<std::string> taint_strings(const json::array& taints) {
    std::vector<std::string> out;
    for (const auto& t : taints) {
        const auto& o = t.as_object();
        out.push_back(std::string(o.at("key").as_string()) + ":" +
                      std::string(o.at("effect").as_string()));
    }
    return out;
}

TEST(NodeTaints, FollowTheReadyCondition) {
    FakeClock clock;
    auto node = node_with("n1", "True", clock.now(), clock.now());
    node["spec"].as_object()["taints"] =
        json::array{json::object{{"key", "user"}, {"value", "x"}, {"effect", "NoSchedule"}}};
    EXPECT_FALSE(desired_taints(node, "True", clock.now()));

    auto unknown = desired_taints(node, "Unknown", clock.now());
    ASSERT_TRUE(unknown);
    EXPECT_EQ(
        taint_strings(*unknown),
        (std::vector<std::string>{"user:NoSchedule", "node.kubernetes.io/unreachable:NoSchedule",
                                  "node.kubernetes.io/unreachable:NoExecute"}));
    for (std::size_t i = 1; i < 3; ++i)
        EXPECT_EQ((*unknown)[i].as_object().at("timeAdded").as_string(),
                  kube::format_time(clock.now()));

    // Unknown -> False swaps unreachable for not-ready.
    node["spec"].as_object()["taints"] = *unknown;
    EXPECT_FALSE(desired_taints(node, "Unknown", clock.now() + 1min));  // unchanged, keeps time
    auto not_ready = desired_taints(node, "False", clock.now());
    ASSERT_TRUE(not_ready);
    EXPECT_EQ(
        taint_strings(*not_ready),
        (std::vector<std::string>{"user:NoSchedule", "node.kubernetes.io/not-ready:NoSchedule",
                                  "node.kubernetes.io/not-ready:NoExecute"}));

    // Healthy again: only the user's taint remains.
    node["spec"].as_object()["taints"] = *not_ready;
    auto healthy = desired_taints(node, "True", clock.now());
    ASSERT_TRUE(healthy);
    EXPECT_EQ(taint_strings(*healthy), (std::vector<std::string>{"user:NoSchedule"}));
}

TEST(NodeTaints, UnschedulableNodeGetsItsTaint) {
    FakeClock clock;
    auto node = node_with("n1", "True", clock.now(), clock.now());
    node["spec"].as_object()["unschedulable"] = true;
    auto t = desired_taints(node, "True", clock.now());
    ASSERT_TRUE(t);
    EXPECT_EQ(taint_strings(*t),
              (std::vector<std::string>{"node.kubernetes.io/unschedulable:NoSchedule"}));
    node["spec"].as_object()["taints"] = *t;
    EXPECT_FALSE(desired_taints(node, "True", clock.now()));
    node["spec"].as_object()["unschedulable"] = false;
    auto cleared = desired_taints(node, "True", clock.now());
    ASSERT_TRUE(cleared);
    EXPECT_TRUE(cleared->empty());
}

TEST(NodeTaints, EdgeLabel) {
    auto node =
        json::parse(R"({"metadata":{"name":"e","labels":{"node-role.kubernetes.io/edge":""}}})")
            .as_object();
    EXPECT_TRUE(is_edge_node(node, "node-role.kubernetes.io/edge"));
    EXPECT_FALSE(is_edge_node(node, "other"));
    EXPECT_FALSE(is_edge_node(node, ""));
}

}  // namespace
}  // namespace kedge::controllers::nodelifecycle
