#include "controllers/deployment/deployment_logic.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "kube/object.hpp"
#include "kube/time.hpp"

namespace kedge::controllers::deployment {
namespace {

namespace json = boost::json;

json::object parse(std::string_view s) { return json::parse(s).as_object(); }

json::object make_deploy(std::int64_t replicas, std::string_view strategy = "{}") {
    auto d = parse(R"({
      "apiVersion": "apps/v1", "kind": "Deployment",
      "metadata": {"name": "web", "namespace": "ns", "uid": "d-uid", "generation": 2,
                   "annotations": {"kubernetes.io/change-cause": "v2",
                                   "deployment.kubernetes.io/revision": "9"}},
      "spec": {"selector": {"matchLabels": {"app": "web"}},
               "template": {"metadata": {"labels": {"app": "web"}, "creationTimestamp": null},
                            "spec": {"containers": [{"name": "c", "image": "x:1"}]}}},
      "status": {}
    })");
    d["spec"].as_object()["replicas"] = replicas;
    d["spec"].as_object()["strategy"] = json::parse(strategy);
    return d;
}

// A ReplicaSet with spec/status sizes; created `age` seconds before a fixed time.
json::object make_rs(std::string name, std::int64_t spec, std::int64_t available, int age_seconds,
                     std::int64_t revision = 1) {
    json::object rs = parse(R"({"apiVersion": "apps/v1", "kind": "ReplicaSet",
                                "metadata": {"namespace": "ns"}, "spec": {}, "status": {}})");
    kube::set_name(rs, name);
    kube::set_creation_timestamp(
        rs,
        kube::format_time(Clock::time_point(std::chrono::seconds(1'700'000'000 - age_seconds))));
    kube::set_annotation(rs, kRevisionAnnotation, std::to_string(revision));
    rs["spec"].as_object()["replicas"] = spec;
    rs["status"].as_object()["replicas"] = spec;
    rs["status"].as_object()["availableReplicas"] = available;
    rs["status"].as_object()["readyReplicas"] = available;
    return rs;
}

Strategy strategy_of(const json::object& d) {
    auto s = resolve_strategy(d);
    EXPECT_TRUE(s) << s.error().message();
    return s ? *s : Strategy{};
}

// ---- hash and templates ----

TEST(TemplateHash, StableAndIgnoresHashLabelOrderAndNulls) {
    auto d = make_deploy(3);
    const auto& t = d["spec"].as_object()["template"];
    std::string h = compute_hash(t, std::nullopt);
    EXPECT_FALSE(h.empty());
    EXPECT_LE(h.size(), 10u);
    EXPECT_EQ(h.find_first_not_of("bcdfghjklmnpqrstvwxz2456789"), std::string::npos);
    EXPECT_EQ(h, compute_hash(t, std::nullopt));

    auto reordered = json::parse(R"({"spec": {"containers": [{"image": "x:1", "name": "c"}]},
                                     "metadata": {"labels": {"app": "web",
                                                             "pod-template-hash": "zzz"}}})");
    EXPECT_EQ(compute_hash(reordered, std::nullopt), h);
    EXPECT_TRUE(equal_ignore_hash(reordered, t));

    auto changed = json::parse(R"({"metadata": {"labels": {"app": "web"}},
                                   "spec": {"containers": [{"name": "c", "image": "x:2"}]}})");
    EXPECT_NE(compute_hash(changed, std::nullopt), h);
    EXPECT_FALSE(equal_ignore_hash(changed, t));
    // The collision count changes the hash (and so the ReplicaSet's name).
    EXPECT_NE(compute_hash(t, 1), h);
    EXPECT_NE(compute_hash(t, 1), compute_hash(t, 2));
}

TEST(NewReplicaSet, NameSelectorLabelsOwnerAnnotations) {
    auto d = make_deploy(4);
    auto s = strategy_of(d);
    auto rs = new_replica_set(d, s, 2, 3);
    std::string hash = compute_hash(d["spec"].as_object()["template"], std::nullopt);
    EXPECT_EQ(kube::name(rs), "web-" + hash);
    EXPECT_EQ(kube::label(rs, "pod-template-hash").value_or(""), hash);
    EXPECT_EQ(kube::get_path_string(rs, "spec.selector.matchLabels.pod-template-hash").value_or(""),
              hash);
    EXPECT_EQ(
        kube::get_path_string(rs, "spec.template.metadata.labels.pod-template-hash").value_or(""),
        hash);
    EXPECT_EQ(kube::get_path_string(rs, "spec.selector.matchLabels.app").value_or(""), "web");
    EXPECT_EQ(kube::get_path_string(rs, "spec.replicas").value_or(""), "2");
    auto ctl = kube::controller_of(rs);
    ASSERT_TRUE(ctl);
    EXPECT_EQ(ctl->uid, "d-uid");
    EXPECT_EQ(ctl->kind, "Deployment");
    EXPECT_EQ(kube::annotation(rs, kRevisionAnnotation).value_or(""), "3");
    EXPECT_EQ(kube::annotation(rs, kDesiredReplicasAnnotation).value_or(""), "4");
    EXPECT_EQ(kube::annotation(rs, kMaxReplicasAnnotation).value_or(""), "5");  // 4 + 25% up
    EXPECT_EQ(kube::annotation(rs, "kubernetes.io/change-cause").value_or(""), "v2");
    // The template it stores is still "the same" as the deployment's.
    EXPECT_TRUE(
        equal_ignore_hash(*kube::get_path(rs, "spec.template"), d["spec"].as_object()["template"]));
}

TEST(Revisions, ReuseForRollbackRecordsHistory) {
    auto d = make_deploy(1);
    auto rs = make_rs("web-a", 0, 0, 100, 1);
    EXPECT_TRUE(set_new_rs_annotations(d, rs, 3, true));
    EXPECT_EQ(kube::annotation(rs, kRevisionAnnotation).value_or(""), "3");
    EXPECT_EQ(kube::annotation(rs, kRevisionHistoryAnnotation).value_or(""), "1");
    EXPECT_TRUE(set_new_rs_annotations(d, rs, 5, true));
    EXPECT_EQ(kube::annotation(rs, kRevisionHistoryAnnotation).value_or(""), "1,3");
    // Nothing new: unchanged, and a lower revision never lowers it.
    EXPECT_FALSE(set_new_rs_annotations(d, rs, 5, true));
    EXPECT_FALSE(set_new_rs_annotations(d, rs, 2, true));
    EXPECT_EQ(kube::annotation(rs, kRevisionAnnotation).value_or(""), "5");

    auto a = make_rs("a", 0, 0, 10, 2), b = make_rs("b", 0, 0, 10, 7);
    EXPECT_EQ(max_revision({&a, &b}), 7);
    EXPECT_EQ(revision_of(parse(R"({"metadata": {}})")), 0);
}

TEST(FindNewRs, OldestWithTheSameTemplate) {
    auto d = make_deploy(1);
    auto same_new = make_rs("web-new", 1, 1, 10);
    same_new["spec"].as_object()["template"] = d["spec"].as_object()["template"];
    auto same_old = same_new;
    kube::set_name(same_old, "web-old");
    kube::set_creation_timestamp(same_old, "2000-01-01T00:00:00Z");
    auto other = make_rs("web-other", 1, 1, 5);
    other["spec"].as_object()["template"] = json::parse(R"({"metadata": {"labels": {"x": "y"}}})");
    const json::object* found = find_new_rs(d, {&other, &same_new, &same_old});
    ASSERT_NE(found, nullptr);
    EXPECT_EQ(kube::name(*found), "web-old");
    EXPECT_EQ(find_new_rs(d, {&other}), nullptr);
}

// ---- strategy arithmetic ----

TEST(Strategy, DefaultsAndRounding) {
    auto s = strategy_of(make_deploy(10));  // 25%/25%
    EXPECT_EQ(s.max_surge, 3);              // 2.5 rounded up
    EXPECT_EQ(s.max_unavailable, 2);        // 2.5 rounded down
    s = strategy_of(make_deploy(3, R"({"type": "RollingUpdate",
                                       "rollingUpdate": {"maxSurge": 1, "maxUnavailable": "50%"}})"));
    EXPECT_EQ(s.max_surge, 1);
    EXPECT_EQ(s.max_unavailable, 1);
    // Both zero cannot progress: maxUnavailable becomes 1.
    s = strategy_of(
        make_deploy(3, R"({"rollingUpdate": {"maxSurge": 0, "maxUnavailable": "10%"}})"));
    EXPECT_EQ(s.max_surge, 0);
    EXPECT_EQ(s.max_unavailable, 1);
    // maxUnavailable never exceeds replicas.
    s = strategy_of(make_deploy(2, R"({"rollingUpdate": {"maxUnavailable": 5}})"));
    EXPECT_EQ(s.max_unavailable, 2);
    s = strategy_of(make_deploy(3, R"({"type": "Recreate"})"));
    EXPECT_TRUE(s.recreate);
    EXPECT_EQ(s.max_surge, 0);

    EXPECT_FALSE(resolve_strategy(make_deploy(3, R"({"rollingUpdate": {"maxSurge": "x"}})")));
    EXPECT_FALSE(resolve_strategy(make_deploy(3, R"({"rollingUpdate": {"maxSurge": "1"}})")));
    EXPECT_FALSE(resolve_strategy(make_deploy(3, R"({"type": "BlueGreen"})")));
    auto bad = resolve_strategy(make_deploy(3, R"({"rollingUpdate": {"maxUnavailable": true}})"));
    ASSERT_FALSE(bad);
    EXPECT_NE(bad.error().detail.find("maxUnavailable"), std::string::npos);
}

TEST(Rolling, NewReplicaSetGrowsWithinSurge) {
    auto d = make_deploy(3, R"({"rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}})");
    auto s = strategy_of(d);
    auto old = make_rs("web-old", 3, 3, 100);
    auto neu = make_rs("web-new", 0, 0, 1);
    auto steps = plan_rolling(d, s, &neu, {&old});
    EXPECT_EQ(steps, (std::vector<ScaleStep>{{"web-new", 1}}));
    // Surge used up and the new pod not available: old ones may not go yet.
    neu = make_rs("web-new", 1, 0, 1);
    EXPECT_TRUE(plan_rolling(d, s, &neu, {&old}).empty());
    // New pod available: one old goes (4 available > 3 minimum).
    neu = make_rs("web-new", 1, 1, 1);
    steps = plan_rolling(d, s, &neu, {&old});
    EXPECT_EQ(steps, (std::vector<ScaleStep>{{"web-old", 2}}));
}

TEST(Rolling, MaxUnavailableLetsOldShrinkFirst) {
    auto d = make_deploy(4, R"({"rollingUpdate": {"maxSurge": 0, "maxUnavailable": 2}})");
    auto s = strategy_of(d);
    auto old = make_rs("web-old", 4, 4, 100);
    auto neu = make_rs("web-new", 0, 0, 1);
    // No surge: the new ReplicaSet cannot grow; two old ones may go.
    EXPECT_EQ(plan_rolling(d, s, &neu, {&old}), (std::vector<ScaleStep>{{"web-old", 2}}));
    old = make_rs("web-old", 2, 2, 100);
    EXPECT_EQ(plan_rolling(d, s, &neu, {&old}), (std::vector<ScaleStep>{{"web-new", 2}}));
}

TEST(Rolling, UnhealthyOldReplicasGoFirstOldestFirst) {
    auto d = make_deploy(4, R"({"rollingUpdate": {"maxSurge": 0, "maxUnavailable": 1}})");
    auto s = strategy_of(d);
    auto oldest = make_rs("web-1", 2, 2, 300);
    auto older = make_rs("web-2", 2, 0, 200);  // both unavailable
    auto neu = make_rs("web-3", 0, 0, 1);
    // maxScaledDown = 4 - 3 - 0 = 1: the unhealthy one, not the healthy older one.
    EXPECT_EQ(plan_rolling(d, s, &neu, {&oldest, &older}), (std::vector<ScaleStep>{{"web-2", 1}}));
}

TEST(Rolling, OversizedNewReplicaSetShrinks) {
    auto d = make_deploy(2);
    auto s = strategy_of(d);
    auto neu = make_rs("web-new", 5, 5, 1);
    EXPECT_EQ(plan_rolling(d, s, &neu, {}), (std::vector<ScaleStep>{{"web-new", 2}}));
    neu = make_rs("web-new", 2, 2, 1);
    EXPECT_TRUE(plan_rolling(d, s, &neu, {}).empty());
}

TEST(Recreate, OldGoneBeforeNewScalesUp) {
    auto d = make_deploy(3, R"({"type": "Recreate"})");
    auto old = make_rs("web-old", 3, 3, 100);
    auto neu = make_rs("web-new", 0, 0, 1);
    EXPECT_EQ(plan_recreate(d, &neu, {&old}, true), (std::vector<ScaleStep>{{"web-old", 0}}));
    old = make_rs("web-old", 0, 0, 100);
    EXPECT_TRUE(plan_recreate(d, &neu, {&old}, true).empty());  // pods still terminating
    EXPECT_EQ(plan_recreate(d, &neu, {&old}, false), (std::vector<ScaleStep>{{"web-new", 3}}));
    EXPECT_TRUE(plan_recreate(d, nullptr, {&old}, false).empty());  // caller creates it
    auto s = strategy_of(d);
    auto fresh = new_replica_set(d, s, 0, 2);
    EXPECT_EQ(new_rs_new_replicas(d, s, {&old, &fresh}, fresh), 3);
}

// ---- scaling ----

TEST(Scale, SingleActiveReplicaSetTakesItAll) {
    auto d = make_deploy(5);
    auto s = strategy_of(d);
    auto neu = make_rs("web-new", 3, 3, 1);
    kube::set_annotation(neu, kDesiredReplicasAnnotation, "3");
    auto old = make_rs("web-old", 0, 0, 100);
    EXPECT_TRUE(is_scaling_event(d, {&neu, &old}));
    EXPECT_EQ(plan_scale(d, s, &neu, {&old}), (std::vector<ScaleStep>{{"web-new", 5}}));
    kube::set_annotation(neu, kDesiredReplicasAnnotation, "5");
    EXPECT_FALSE(is_scaling_event(d, {&neu, &old}));
}

TEST(Scale, ProportionalDuringRollout) {
    // 10 -> 20 replicas mid-rollout, maxSurge 3 (was 10+3=13 total): 8 old + 5 new.
    auto d = make_deploy(20, R"({"rollingUpdate": {"maxSurge": 3, "maxUnavailable": 2}})");
    auto s = strategy_of(d);
    auto old = make_rs("web-old", 8, 8, 100);
    auto neu = make_rs("web-new", 5, 0, 1);
    for (auto* rs : {&old, &neu}) {
        kube::set_annotation(*rs, kDesiredReplicasAnnotation, "10");
        kube::set_annotation(*rs, kMaxReplicasAnnotation, "13");
    }
    EXPECT_TRUE(is_scaling_event(d, {&old, &neu}));
    auto steps = plan_scale(d, s, &neu, {&old});
    std::int64_t total = 0;
    for (const auto& st : steps) total += st.replicas;
    EXPECT_EQ(total, 23);  // 20 + surge 3
    ASSERT_EQ(steps.size(), 2u);
    for (const auto& st : steps) {
        if (st.name == "web-old") EXPECT_EQ(st.replicas, 14);  // 8 * 23/13 = 14.15
        if (st.name == "web-new") EXPECT_EQ(st.replicas, 9);   // 5 * 23/13 = 8.8
    }
}

TEST(Scale, SaturatedNewReplicaSetRemovesOldOnes) {
    auto d = make_deploy(3);
    auto s = strategy_of(d);
    auto neu = make_rs("web-new", 3, 3, 1);
    kube::set_annotation(neu, kDesiredReplicasAnnotation, "3");
    auto old = make_rs("web-old", 1, 1, 100);
    EXPECT_EQ(plan_scale(d, s, &neu, {&old}), (std::vector<ScaleStep>{{"web-old", 0}}));
}

// ---- history ----

TEST(Cleanup, OldestRevisionsBeyondTheLimitThatAreScaledDown) {
    auto d = make_deploy(1);
    d["spec"].as_object()["revisionHistoryLimit"] = 1;
    auto r1 = make_rs("web-1", 0, 0, 300, 1);
    auto r2 = make_rs("web-2", 1, 1, 200, 2);  // still has pods: kept
    auto r3 = make_rs("web-3", 0, 0, 100, 3);
    auto out = cleanup_candidates(d, {&r3, &r2, &r1}, 10);
    EXPECT_EQ(out, (std::vector<std::string>{"web-1"}));
    d["spec"].as_object().erase("revisionHistoryLimit");
    EXPECT_TRUE(cleanup_candidates(d, {&r3, &r2, &r1}, 10).empty());
    EXPECT_EQ(cleanup_candidates(d, {&r3, &r2, &r1}, 0),
              (std::vector<std::string>{"web-1", "web-3"}));
}

}  // namespace
}  // namespace kedge::controllers::deployment
