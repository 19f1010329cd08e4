#include "controllers/replicaset/replicaset_logic.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "kube/object.hpp"
#include "kube/patch.hpp"
#include "kube/time.hpp"

namespace kedge::controllers::replicaset {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;

json::object parse(std::string_view s) { return json::parse(s).as_object(); }

json::object make_rs(std::int64_t replicas = 3, std::int64_t min_ready = 0) {
    auto rs = parse(R"({
      "apiVersion": "apps/v1", "kind": "ReplicaSet",
      "metadata": {"name": "web-abc", "namespace": "ns", "uid": "rs-uid", "generation": 4},
      "spec": {"selector": {"matchLabels": {"app": "web"}},
               "template": {"metadata": {"labels": {"app": "web", "tier": "fe"},
                                         "annotations": {"a": "b"}},
                            "spec": {"containers": [{"name": "c", "image": "x"}]}}},
      "status": {}
    })");
    rs["spec"].as_object()["replicas"] = replicas;
    rs["spec"].as_object()["minReadySeconds"] = min_ready;
    return rs;
}

const Clock::time_point kNow = Clock::time_point(std::chrono::seconds(1'700'000'000));

struct PodSpec {
    std::string name;
    std::string node;
    std::string phase = "Running";
    bool ready = true;
    Clock::time_point ready_since = kNow - 1h;
    Clock::time_point created = kNow - 2h;
    int restarts = 0;
};

json::object make_pod(const PodSpec& p) {
    json::object pod = parse(R"({"apiVersion": "v1", "kind": "Pod",
                                 "metadata": {"namespace": "ns", "labels": {"app": "web"}},
                                 "spec": {}, "status": {}})");
    kube::set_name(pod, p.name);
    kube::set_creation_timestamp(pod, kube::format_time(p.created));
    if (!p.node.empty()) pod["spec"].as_object()["nodeName"] = p.node;
    auto& st = pod["status"].as_object();
    st["phase"] = p.phase;
    st["conditions"] =
        json::array{json::object{{"type", "Ready"},
                                 {"status", p.ready ? "True" : "False"},
                                 {"lastTransitionTime", kube::format_time(p.ready_since)}}};
    st["containerStatuses"] =
        json::array{json::object{{"name", "c"}, {"restartCount", p.restarts}}};
    return pod;
}

std::vector<std::string> names(const std::vector<const json::object*>& pods) {
    std::vector<std::string> out;
    for (const auto* p : pods) out.emplace_back(kube::name(*p));
    return out;
}

// ---- pods ----

TEST(PodState, ActiveExcludesTerminatedAndTerminating) {
    EXPECT_TRUE(is_pod_active(make_pod({.name = "a"})));
    EXPECT_TRUE(is_pod_active(make_pod({.name = "a", .phase = "Pending"})));
    EXPECT_FALSE(is_pod_active(make_pod({.name = "a", .phase = "Succeeded"})));
    EXPECT_FALSE(is_pod_active(make_pod({.name = "a", .phase = "Failed"})));
    auto terminating = make_pod({.name = "a"});
    kube::set_deletion_timestamp(terminating, "2023-01-01T00:00:00Z");
    EXPECT_FALSE(is_pod_active(terminating));
}

TEST(PodState, AvailableNeedsReadyForMinReadySeconds) {
    auto pod = make_pod({.name = "a", .ready_since = kNow - 10s});
    EXPECT_TRUE(is_pod_ready(pod));
    EXPECT_TRUE(is_pod_available(pod, 0, kNow));
    EXPECT_TRUE(is_pod_available(pod, 10, kNow));
    EXPECT_FALSE(is_pod_available(pod, 11, kNow));
    EXPECT_FALSE(is_pod_available(make_pod({.name = "b", .ready = false}), 0, kNow));
    EXPECT_FALSE(
        is_pod_ready(parse(R"({"metadata": {"name": "x"}, "status": {"conditions": 7}})")));
}

// ---- ownership ----

TEST(Claim, OwnedAdoptReleaseIgnore) {
    auto rs = make_rs();
    auto sel = kube::LabelSelector::from_json(json::parse(R"({"matchLabels": {"app": "web"}})"));
    ASSERT_TRUE(sel);

    auto orphan = make_pod({.name = "orphan"});
    EXPECT_EQ(claim(rs, *sel, orphan), ClaimAction::kAdopt);

    auto ours = orphan;
    ours["metadata"].as_object()["ownerReferences"] = json::array{controller_ref(rs)};
    EXPECT_EQ(claim(rs, *sel, ours), ClaimAction::kOwned);

    auto relabelled = ours;
    kube::set_label(relabelled, "app", "other");
    EXPECT_EQ(claim(rs, *sel, relabelled), ClaimAction::kRelease);

    auto theirs = orphan;
    auto ref = controller_ref(rs);
    ref["uid"] = "someone-else";
    theirs["metadata"].as_object()["ownerReferences"] = json::array{ref};
    EXPECT_EQ(claim(rs, *sel, theirs), ClaimAction::kIgnore);

    auto non_matching_orphan = relabelled;
    non_matching_orphan["metadata"].as_object().erase("ownerReferences");
    EXPECT_EQ(claim(rs, *sel, non_matching_orphan), ClaimAction::kIgnore);

    auto deleting_orphan = orphan;
    kube::set_deletion_timestamp(deleting_orphan, "2023-01-01T00:00:00Z");
    EXPECT_EQ(claim(rs, *sel, deleting_orphan), ClaimAction::kIgnore);

    auto deleting_rs = rs;
    kube::set_deletion_timestamp(deleting_rs, "2023-01-01T00:00:00Z");
    EXPECT_EQ(claim(deleting_rs, *sel, orphan), ClaimAction::kIgnore);
    EXPECT_EQ(claim(deleting_rs, *sel, relabelled), ClaimAction::kIgnore);
}

TEST(Claim, AdoptAndReleasePatchesApplyAsStrategicMerge) {
    auto rs = make_rs();
    auto pod = make_pod({.name = "p"});
    auto other = json::object{
        {"apiVersion", "v1"}, {"kind", "ConfigMap"}, {"name", "cm"}, {"uid", "cm-uid"}};
    pod["metadata"].as_object()["ownerReferences"] = json::array{other};

    auto adopted = kube::apply_patch(kube::PatchType::kStrategicMergePatch, pod, adopt_patch(rs));
    ASSERT_TRUE(adopted) << adopted.error().message();
    auto refs = kube::owner_references(adopted->as_object());
    ASSERT_EQ(refs.size(), 2u);
    auto ctl = kube::controller_of(adopted->as_object());
    ASSERT_TRUE(ctl);
    EXPECT_EQ(ctl->uid, "rs-uid");
    EXPECT_EQ(ctl->kind, "ReplicaSet");
    EXPECT_TRUE(ctl->block_owner_deletion);

    auto released =
        kube::apply_patch(kube::PatchType::kStrategicMergePatch, *adopted, release_patch(rs));
    ASSERT_TRUE(released) << released.error().message();
    refs = kube::owner_references(released->as_object());
    ASSERT_EQ(refs.size(), 1u);
    EXPECT_EQ(refs[0].uid, "cm-uid");
}

// ---- pod from template ----

TEST(PodFromTemplate, CopiesTemplateAndSetsOwner) {
    auto rs = make_rs();
    auto pod = pod_from_template(rs);
    EXPECT_EQ(kube::generate_name(pod), "web-abc-");
    EXPECT_EQ(kube::namespace_of(pod), "ns");
    EXPECT_EQ(kube::label(pod, "tier").value_or(""), "fe");
    EXPECT_EQ(kube::annotation(pod, "a").value_or(""), "b");
    EXPECT_TRUE(kube::name(pod).empty());
    auto ctl = kube::controller_of(pod);
    ASSERT_TRUE(ctl);
    EXPECT_EQ(ctl->name, "web-abc");
    EXPECT_EQ(ctl->api_version, "apps/v1");
    EXPECT_EQ(kube::get_path_string(pod, "spec.containers.0.image").value_or(""), "x");
}

// ---- scale-down order ----

TEST(PodsToDelete, UnscheduledPendingNotReadyGoFirst) {
    auto running = make_pod({.name = "running", .node = "n1"});
    auto unscheduled = make_pod({.name = "unscheduled", .phase = "Pending", .ready = false});
    auto pending = make_pod({.name = "pending", .node = "n2", .phase = "Pending", .ready = false});
    auto not_ready = make_pod({.name = "notready", .node = "n3", .ready = false});
    std::vector<const json::object*> pods{&running, &not_ready, &pending, &unscheduled};
    EXPECT_EQ(names(pods_to_delete(pods, pods, 4)),
              (std::vector<std::string>{"unscheduled", "pending", "notready", "running"}));
    EXPECT_EQ(names(pods_to_delete(pods, pods, 1)), (std::vector<std::string>{"unscheduled"}));
    EXPECT_TRUE(pods_to_delete(pods, pods, 0).empty());
}

TEST(PodsToDelete, DoubledUpThenRecentlyReadyThenRestartsThenNewer) {
    // Two on n1: one of them goes before the lone pods on n2/n3.
    auto a = make_pod({.name = "a", .node = "n1"});
    auto b = make_pod({.name = "b", .node = "n1", .created = kNow - 3h});
    auto c = make_pod({.name = "c", .node = "n2"});
    std::vector<const json::object*> pods{&c, &b, &a};
    auto first = names(pods_to_delete(pods, pods, 1));
    EXPECT_EQ(first, (std::vector<std::string>{"a"}));  // doubled up, and newer than b

    auto old_ready = make_pod({.name = "old-ready", .node = "n1", .ready_since = kNow - 2h});
    auto new_ready = make_pod({.name = "new-ready", .node = "n2", .ready_since = kNow - 1min});
    std::vector<const json::object*> two{&old_ready, &new_ready};
    EXPECT_EQ(names(pods_to_delete(two, two, 1)), (std::vector<std::string>{"new-ready"}));

    auto stable = make_pod({.name = "stable", .node = "n1"});
    auto crashy = make_pod({.name = "crashy", .node = "n2", .restarts = 5});
    std::vector<const json::object*> r{&stable, &crashy};
    EXPECT_EQ(names(pods_to_delete(r, r, 1)), (std::vector<std::string>{"crashy"}));

    auto older = make_pod({.name = "older", .node = "n1", .created = kNow - 5h});
    auto newer = make_pod({.name = "newer", .node = "n2", .created = kNow - 1h});
    std::vector<const json::object*> age{&older, &newer};
    EXPECT_EQ(names(pods_to_delete(age, age, 1)), (std::vector<std::string>{"newer"}));
}

TEST(PodsToDelete, RelatedPodsOfSiblingsCountForCrowding) {
    auto mine1 = make_pod({.name = "mine1", .node = "n1", .created = kNow - 9h});
    auto mine2 = make_pod({.name = "mine2", .node = "n2"});
    auto sibling = make_pod({.name = "sibling", .node = "n1"});
    std::vector<const json::object*> mine{&mine1, &mine2};
    std::vector<const json::object*> related{&mine1, &mine2, &sibling};
    // mine1 is older, but shares n1 with a sibling's pod.
    EXPECT_EQ(names(pods_to_delete(mine, related, 1)), (std::vector<std::string>{"mine1"}));
    EXPECT_EQ(names(pods_to_delete(mine, mine, 1)), (std::vector<std::string>{"mine2"}));
}

// ---- status ----

TEST(Status, CountsReadyAvailableAndFullyLabeled) {
    auto rs = make_rs(3, 30);
    auto a = make_pod({.name = "a", .node = "n1"});
    kube::set_label(a, "tier", "fe");
    auto b = make_pod({.name = "b", .node = "n1", .ready_since = kNow - 5s});
    auto c = make_pod({.name = "c", .ready = false});
    auto counts = compute_counts(rs, {&a, &b, &c}, kNow);
    EXPECT_EQ(counts.replicas, 3);
    EXPECT_EQ(counts.fully_labeled_replicas, 1);
    EXPECT_EQ(counts.ready_replicas, 2);
    EXPECT_EQ(counts.available_replicas, 1);
    EXPECT_EQ(counts.observed_generation, 4);

    auto status = next_status(rs, counts, std::nullopt, kNow);
    EXPECT_EQ(status.at("replicas").as_int64(), 3);
    EXPECT_EQ(status.at("fullyLabeledReplicas").as_int64(), 1);
    EXPECT_EQ(status.at("readyReplicas").as_int64(), 2);
    EXPECT_EQ(status.at("availableReplicas").as_int64(), 1);
    EXPECT_EQ(status.at("observedGeneration").as_int64(), 4);
    EXPECT_FALSE(status.contains("conditions"));
    EXPECT_TRUE(status_changed(rs, status));
    rs["status"] = status;
    EXPECT_FALSE(status_changed(rs, next_status(rs, counts, std::nullopt, kNow)));
}

TEST(Status, ReplicaFailureConditionComesAndGoes) {
    auto rs = make_rs();
    ReplicaSetCounts counts;
    auto failed = next_status(rs, counts, ReplicaFailure{"FailedCreate", "quota"}, kNow);
    ASSERT_TRUE(failed.contains("conditions"));
    const auto& cond = failed.at("conditions").as_array().at(0).as_object();
    EXPECT_EQ(cond.at("type").as_string(), "ReplicaFailure");
    EXPECT_EQ(cond.at("reason").as_string(), "FailedCreate");
    rs["status"] = failed;
    // Still failing later: the transition time stays.
    auto again = next_status(rs, counts, ReplicaFailure{"FailedCreate", "quota"}, kNow + 1h);
    EXPECT_EQ(again.at("conditions").as_array().at(0).as_object().at("lastTransitionTime"),
              cond.at("lastTransitionTime"));
    auto healed = next_status(rs, counts, std::nullopt, kNow);
    EXPECT_FALSE(healed.contains("conditions"));
}

TEST(Readers, IntAtToleratesOddJson) {
    auto o = parse(R"({"spec": {"a": 3, "b": 4.0, "c": "5", "d": 1.5}})");
    EXPECT_EQ(int_at(o, "spec.a"), 3);
    EXPECT_EQ(int_at(o, "spec.b"), 4);
    EXPECT_EQ(int_at(o, "spec.c", -1), -1);
    EXPECT_EQ(int_at(o, "spec.d", -1), -1);
    EXPECT_EQ(int_at(o, "spec.missing", 7), 7);
    EXPECT_EQ(spec_replicas(parse(R"({"spec": {}})")), 1);
    EXPECT_EQ(spec_replicas(parse(R"({"spec": {"replicas": 0}})")), 0);
}

}  // namespace
}  // namespace kedge::controllers::replicaset
