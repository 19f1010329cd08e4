#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "controllers/deployment/deployment_logic.hpp"
#include "kube/object.hpp"
#include "kube/time.hpp"

namespace kedge::controllers::deployment {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;

const Clock::time_point kNow = Clock::time_point(std::chrono::seconds(1'700'000'000));

json::object make_deploy(std::int64_t replicas, std::int64_t deadline = 600) {
    auto d = json::parse(R"({
      "apiVersion": "apps/v1", "kind": "Deployment",
      "metadata": {"name": "web", "namespace": "ns", "uid": "d-uid", "generation": 3},
      "spec": {"selector": {"matchLabels": {"app": "web"}},
               "template": {"metadata": {"labels": {"app": "web"}}, "spec": {}}},
      "status": {}
    })")
                 .as_object();
    d["spec"].as_object()["replicas"] = replicas;
    d["spec"].as_object()["progressDeadlineSeconds"] = deadline;
    return d;
}

json::object make_rs(std::string name, std::int64_t spec, std::int64_t ready,
                     std::int64_t available) {
    json::object rs =
        json::parse(R"({"metadata": {"namespace": "ns"}, "spec": {}, "status": {}})").as_object();
    kube::set_name(rs, name);
    rs["spec"].as_object()["replicas"] = spec;
    auto& st = rs["status"].as_object();
    st["replicas"] = spec;
    st["readyReplicas"] = ready;
    st["availableReplicas"] = available;
    return rs;
}

std::string cond(const json::object& status, std::string_view type, std::string_view field) {
    const json::object* c = get_condition(status, type);
    if (!c) return "<none>";
    const json::value* v = c->if_contains(field);
    return v && v->is_string() ? std::string(v->get_string()) : "";
}

TEST(DeploymentStatus, CountsAndAvailability) {
    auto d = make_deploy(4);
    auto s = *resolve_strategy(d);  // maxUnavailable 1
    auto old = make_rs("old", 1, 1, 1);
    auto neu = make_rs("new", 3, 3, 2);
    auto status = calculate_status(d, s, {&old, &neu}, &neu, kNow);
    EXPECT_EQ(status.at("replicas").as_int64(), 4);
    EXPECT_EQ(status.at("updatedReplicas").as_int64(), 3);
    EXPECT_EQ(status.at("readyReplicas").as_int64(), 4);
    EXPECT_EQ(status.at("availableReplicas").as_int64(), 3);
    EXPECT_EQ(status.at("unavailableReplicas").as_int64(), 1);
    EXPECT_EQ(status.at("observedGeneration").as_int64(), 3);
    EXPECT_EQ(cond(status, "Available", "status"), "True");
    EXPECT_EQ(cond(status, "Available", "reason"), "MinimumReplicasAvailable");

    neu = make_rs("new", 3, 3, 1);  // 2 available < 4 - 1
    status = calculate_status(d, s, {&old, &neu}, &neu, kNow);
    EXPECT_EQ(cond(status, "Available", "status"), "False");
    EXPECT_EQ(cond(status, "Available", "reason"), "MinimumReplicasUnavailable");
}

TEST(DeploymentStatus, ProgressingThenCompleteThenStable) {
    auto d = make_deploy(2);
    auto s = *resolve_strategy(d);
    auto old = make_rs("old", 1, 1, 1);
    auto neu = make_rs("new", 2, 1, 1);
    auto status = rollout_status(d, s, {&old, &neu}, &neu, kNow);
    EXPECT_EQ(cond(status, "Progressing", "reason"), "ReplicaSetUpdated");
    EXPECT_EQ(cond(status, "Progressing", "message"), "ReplicaSet \"new\" is progressing.");
    EXPECT_FALSE(deployment_complete(d, status));
    d["status"] = status;

    old = make_rs("old", 0, 0, 0);
    neu = make_rs("new", 2, 2, 2);
    status = rollout_status(d, s, {&old, &neu}, &neu, kNow + 5s);
    EXPECT_TRUE(deployment_complete(d, status));
    EXPECT_EQ(cond(status, "Progressing", "status"), "True");
    EXPECT_EQ(cond(status, "Progressing", "reason"), "NewReplicaSetAvailable");
    EXPECT_EQ(cond(status, "Progressing", "message"),
              "ReplicaSet \"new\" has successfully progressed.");
    // Same status, same reason: the transition time is the first one.
    EXPECT_EQ(cond(status, "Progressing", "lastTransitionTime"), kube::format_time(kNow));
    d["status"] = status;
    EXPECT_FALSE(progress_recheck_after(d, status, kNow + 6s));
    // Nothing changed: the next status equals the stored one (no write).
    auto again = rollout_status(d, s, {&old, &neu}, &neu, kNow + 60s);
    EXPECT_FALSE(status_differs(status, again));
}

TEST(DeploymentStatus, ObservedGenerationGatesCompletion) {
    auto d = make_deploy(1);
    auto s = *resolve_strategy(d);
    auto neu = make_rs("new", 1, 1, 1);
    auto status = rollout_status(d, s, {&neu}, &neu, kNow);
    EXPECT_TRUE(deployment_complete(d, status));
    kube::set_generation(d, 4);  // spec changed since
    EXPECT_FALSE(deployment_complete(d, status));
}

TEST(DeploymentStatus, DeadlineExceededWithoutProgress) {
    auto d = make_deploy(2, 30);
    auto s = *resolve_strategy(d);
    auto neu = make_rs("new", 2, 0, 0);
    // Created, all pods made, none ready: no progress signal from here on.
    json::object before{{"observedGeneration", 3},
                        {"replicas", 2},
                        {"updatedReplicas", 2},
                        {"readyReplicas", 0},
                        {"availableReplicas", 0}};
    before["conditions"] =
        json::array{make_condition("Progressing", "True", "NewReplicaSetCreated", "Created", kNow)};
    d["status"] = before;
    json::object status = before;
    auto recheck = progress_recheck_after(d, status, kNow + 10s);
    ASSERT_TRUE(recheck);
    EXPECT_EQ(*recheck, 21s);
    status = rollout_status(d, s, {&neu}, &neu, kNow + 20s);
    EXPECT_EQ(cond(status, "Progressing", "reason"), "NewReplicaSetCreated");
    status = rollout_status(d, s, {&neu}, &neu, kNow + 31s);
    EXPECT_EQ(cond(status, "Progressing", "status"), "False");
    EXPECT_EQ(cond(status, "Progressing", "reason"), "ProgressDeadlineExceeded");
    EXPECT_EQ(cond(status, "Progressing", "message"),
              "ReplicaSet \"new\" has timed out progressing.");
}

TEST(DeploymentStatus, ProgressRefreshesLastUpdateTime) {
    auto d = make_deploy(3, 30);
    auto s = *resolve_strategy(d);
    auto neu = make_rs("new", 3, 1, 1);
    d["status"] = rollout_status(d, s, {&neu}, &neu, kNow);
    ASSERT_EQ(cond(d["status"].as_object(), "Progressing", "reason"), "ReplicaSetUpdated");
    neu = make_rs("new", 3, 2, 2);
    auto status = rollout_status(d, s, {&neu}, &neu, kNow + 25s);
    EXPECT_EQ(cond(status, "Progressing", "lastUpdateTime"), kube::format_time(kNow + 25s));
    EXPECT_EQ(cond(status, "Progressing", "lastTransitionTime"), kube::format_time(kNow));
}

TEST(DeploymentStatus, ReplicaFailureIsCopiedFromReplicaSets) {
    auto d = make_deploy(1);
    auto s = *resolve_strategy(d);
    auto neu = make_rs("new", 1, 0, 0);
    neu["status"].as_object()["conditions"] =
        json::array{json::object{{"type", "ReplicaFailure"},
                                 {"status", "True"},
                                 {"reason", "FailedCreate"},
                                 {"message", "quota"},
                                 {"lastTransitionTime", kube::format_time(kNow)}}};
    auto status = rollout_status(d, s, {&neu}, &neu, kNow);
    EXPECT_EQ(cond(status, "ReplicaFailure", "reason"), "FailedCreate");
    d["status"] = status;
    neu = make_rs("new", 1, 1, 1);
    status = rollout_status(d, s, {&neu}, &neu, kNow);
    EXPECT_EQ(cond(status, "ReplicaFailure", "reason"), "<none>");
}

TEST(DeploymentStatus, PausedAndResumed) {
    auto d = make_deploy(1);
    EXPECT_FALSE(paused_status(d, kNow));
    d["spec"].as_object()["paused"] = true;
    auto st = paused_status(d, kNow);
    ASSERT_TRUE(st);
    EXPECT_EQ(cond(*st, "Progressing", "reason"), "DeploymentPaused");
    EXPECT_EQ(cond(*st, "Progressing", "status"), "Unknown");
    d["status"] = *st;
    EXPECT_FALSE(paused_status(d, kNow));
    d["spec"].as_object()["paused"] = false;
    st = paused_status(d, kNow);
    ASSERT_TRUE(st);
    EXPECT_EQ(cond(*st, "Progressing", "reason"), "DeploymentResumed");
}

TEST(Conditions, SetKeepsTransitionTimeWhenStatusUnchanged) {
    json::object status;
    set_condition(status, make_condition("Available", "False", "A", "m", kNow));
    set_condition(status, make_condition("Available", "False", "B", "m", kNow + 10s));
    EXPECT_EQ(cond(status, "Available", "reason"), "B");
    EXPECT_EQ(cond(status, "Available", "lastTransitionTime"), kube::format_time(kNow));
    set_condition(status, make_condition("Available", "True", "C", "m", kNow + 20s));
    EXPECT_EQ(cond(status, "Available", "lastTransitionTime"), kube::format_time(kNow + 20s));
    EXPECT_EQ(status.at("conditions").as_array().size(), 1u);
    remove_condition(status, "Available");
    EXPECT_EQ(cond(status, "Available", "reason"), "<none>");
}

}  // namespace
}  // namespace kedge::controllers::deployment
