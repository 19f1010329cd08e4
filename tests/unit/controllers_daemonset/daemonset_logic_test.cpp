#include "controllers/daemonset/daemonset_logic.hpp"

#include <gtest/gtest.h>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <algorithm>
#include <deque>

#include "kube/object.hpp"
#include "kube/time.hpp"

namespace kedge::controllers::daemonset {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;

json::object obj(std::string_view text) { return json::parse(text).as_object(); }

json::object node(std::string name, json::object labels = {}, json::array taints = {}) {
    json::object n{{"apiVersion", "v1"},
                   {"kind", "Node"},
                   {"metadata", {{"name", name}, {"labels", labels}}},
                   {"spec", json::object{}}};
    if (!taints.empty()) n["spec"].as_object()["taints"] = taints;
    return n;
}

json::object daemonset(std::string_view spec_extra = "") {
    std::string text = R"({"apiVersion":"apps/v1","kind":"DaemonSet",
        "metadata":{"name":"agent","namespace":"default","uid":"ds-uid","generation":3},
        "spec":{"selector":{"matchLabels":{"app":"agent"}},
          "template":{"metadata":{"labels":{"app":"agent"}},
                      "spec":{"containers":[{"name":"a","image":"agent:1"}])" +
                       std::string(spec_extra) + "}}}}";
    return obj(text);
}

TEST(DaemonSetNodes, SelectorAndAffinity) {
    auto spec = obj(R"({"nodeSelector":{"role":"edge"},
        "affinity":{"nodeAffinity":{"requiredDuringSchedulingIgnoredDuringExecution":{
          "nodeSelectorTerms":[
            {"matchExpressions":[{"key":"zone","operator":"In","values":["a","b"]},
                                 {"key":"broken","operator":"DoesNotExist"}]},
            {"matchExpressions":[{"key":"cores","operator":"Gt","values":["8"]}]},
            {"matchFields":[{"key":"metadata.name","operator":"In","values":["special"]}]}]}}}})");
    EXPECT_TRUE(node_matches_pod_spec(spec, node("n", {{"role", "edge"}, {"zone", "a"}})));
    EXPECT_FALSE(node_matches_pod_spec(spec, node("n", {{"zone", "a"}})));  // nodeSelector
    EXPECT_FALSE(node_matches_pod_spec(
        spec, node("n", {{"role", "edge"}, {"zone", "a"}, {"broken", "yes"}})));
    EXPECT_FALSE(node_matches_pod_spec(spec, node("n", {{"role", "edge"}, {"zone", "c"}})));
    EXPECT_TRUE(node_matches_pod_spec(spec, node("n", {{"role", "edge"}, {"cores", "16"}})));
    EXPECT_FALSE(node_matches_pod_spec(spec, node("n", {{"role", "edge"}, {"cores", "4"}})));
    EXPECT_FALSE(node_matches_pod_spec(spec, node("n", {{"role", "edge"}, {"cores", "many"}})));
    EXPECT_TRUE(node_matches_pod_spec(spec, node("special", {{"role", "edge"}})));
    // No selector at all: every node; an empty term list or empty term: none.
    EXPECT_TRUE(node_matches_pod_spec(json::object{}, node("n")));
    EXPECT_FALSE(node_matches_pod_spec(
        obj(R"({"affinity":{"nodeAffinity":{"requiredDuringSchedulingIgnoredDuringExecution":{"nodeSelectorTerms":[{}]}}}})"),
        node("n")));
    EXPECT_TRUE(node_matches_pod_spec(
        obj(R"({"affinity":{"nodeAffinity":{"requiredDuringSchedulingIgnoredDuringExecution":{"nodeSelectorTerms":[{"matchExpressions":[{"key":"x","operator":"NotIn","values":["1"]}]}]}}}})"),
        node("n")));
}

TEST(DaemonSetNodes, TaintsDecideRunAndContinue) {
    auto ds = daemonset();
    auto taint = [](std::string key, std::string effect) {
        return json::object{{"key", key}, {"effect", effect}};
    };
    // The automatic tolerations cover an unreachable, unschedulable edge node.
    auto unreachable = node("e", {},
                            {taint("node.kubernetes.io/unreachable", "NoExecute"),
                             taint("node.kubernetes.io/unreachable", "NoSchedule"),
                             taint("node.kubernetes.io/unschedulable", "NoSchedule")});
    // unreachable:NoSchedule is not among the daemon tolerations (as in Kubernetes).
    auto fit = node_should_run_daemon_pod(ds, unreachable);
    EXPECT_FALSE(fit.should_run);
    EXPECT_TRUE(fit.should_continue_running);

    auto noexec = node("n", {},
                       {taint("node.kubernetes.io/not-ready", "NoExecute"),
                        taint("node.kubernetes.io/unschedulable", "NoSchedule")});
    fit = node_should_run_daemon_pod(ds, noexec);
    EXPECT_TRUE(fit.should_run);

    auto dedicated = node("d", {}, {taint("dedicated", "NoSchedule")});
    fit = node_should_run_daemon_pod(ds, dedicated);
    EXPECT_FALSE(fit.should_run);
    EXPECT_TRUE(fit.should_continue_running);  // only NoExecute evicts a running pod

    auto evicting = node("x", {}, {taint("dedicated", "NoExecute")});
    fit = node_should_run_daemon_pod(ds, evicting);
    EXPECT_FALSE(fit.should_run);
    EXPECT_FALSE(fit.should_continue_running);

    auto tolerant = daemonset(R"(,"tolerations":[{"key":"dedicated","operator":"Exists"}])");
    EXPECT_TRUE(node_should_run_daemon_pod(tolerant, dedicated).should_run);
    EXPECT_TRUE(node_should_run_daemon_pod(tolerant, evicting).should_run);

    // Network-unavailable only for hostNetwork pods.
    auto net = node("w", {}, {taint("node.kubernetes.io/network-unavailable", "NoSchedule")});
    EXPECT_FALSE(node_should_run_daemon_pod(ds, net).should_run);
    EXPECT_TRUE(node_should_run_daemon_pod(daemonset(R"(,"hostNetwork":true)"), net).should_run);

    // A DaemonSet being deleted wants nothing.
    auto deleting = ds;
    kube::set_deletion_timestamp(deleting, "2026-01-01T00:00:00Z");
    EXPECT_FALSE(node_should_run_daemon_pod(deleting, node("n")).should_continue_running);
}

TEST(DaemonSetPods, NewPodIsPinnedLabelledAndOwned) {
    auto ds = daemonset(
        R"(,"tolerations":[{"key":"node.kubernetes.io/not-ready","operator":"Exists","effect":"NoExecute","tolerationSeconds":5},{"key":"mine","operator":"Exists"}],
           "affinity":{"nodeAffinity":{"requiredDuringSchedulingIgnoredDuringExecution":{"nodeSelectorTerms":[{"matchExpressions":[{"key":"role","operator":"Exists"}]}]},
                                       "preferredDuringSchedulingIgnoredDuringExecution":[{"weight":1,"preference":{"matchExpressions":[{"key":"x","operator":"Exists"}]}}]}})");
    auto pod = new_daemon_pod(ds, "edge-1", "abc123");
    EXPECT_EQ(kube::generate_name(pod), "agent-");
    EXPECT_EQ(kube::namespace_of(pod), "default");
    EXPECT_EQ(kube::label(pod, "app"), "agent");
    EXPECT_EQ(kube::label(pod, kRevisionHashLabel), "abc123");
    EXPECT_EQ(kube::label(pod, kTemplateGenerationLabel), "3");
    auto owner = kube::controller_of(pod);
    ASSERT_TRUE(owner);
    EXPECT_EQ(owner->kind, "DaemonSet");
    EXPECT_EQ(owner->uid, "ds-uid");
    EXPECT_TRUE(owner->block_owner_deletion);
    EXPECT_EQ(target_node_name(pod), "edge-1");
    EXPECT_FALSE(kube::get_path(pod, "spec.nodeName"));
    // The pin replaced the template's required terms; preferences stay.
    const auto& terms = kube::get_path(pod,
                                       "spec.affinity.nodeAffinity."
                                       "requiredDuringSchedulingIgnoredDuringExecution."
                                       "nodeSelectorTerms")
                            ->as_array();
    ASSERT_EQ(terms.size(), 1u);
    EXPECT_EQ(json::serialize(terms[0]),
              R"({"matchFields":[{"key":"metadata.name","operator":"In","values":["edge-1"]}]})");
    EXPECT_TRUE(kube::get_path(pod,
                               "spec.affinity.nodeAffinity."
                               "preferredDuringSchedulingIgnoredDuringExecution"));
    // Tolerations: own kept, not-ready replaced by the one without seconds, defaults added.
    const auto& tols = kube::get_path(pod, "spec.tolerations")->as_array();
    EXPECT_EQ(tols.size(), 7u);
    int not_ready = 0;
    for (const auto& t : tols) {
        const auto& o = t.as_object();
        if (o.at("key").as_string() == "node.kubernetes.io/not-ready") {
            ++not_ready;
            EXPECT_FALSE(o.contains("tolerationSeconds"));
        }
    }
    EXPECT_EQ(not_ready, 1);
}

TEST(DaemonSetPods, ReadinessAndAvailability) {
    FakeClock clock;
    auto pod = obj(R"({"status":{"conditions":[{"type":"Ready","status":"True"}]}})");
    pod["status"].as_object()["conditions"].as_array()[0].as_object()["lastTransitionTime"] =
        kube::format_time(clock.now() - 5s);
    EXPECT_TRUE(pod_is_ready(pod));
    EXPECT_TRUE(pod_is_available(pod, 0, clock.now()));
    EXPECT_TRUE(pod_is_available(pod, 5, clock.now()));
    EXPECT_FALSE(pod_is_available(pod, 10, clock.now()));
    EXPECT_FALSE(
        pod_is_ready(obj(R"({"status":{"conditions":[{"type":"Ready","status":"False"}]}})")));
    EXPECT_FALSE(pod_is_ready(obj("{}")));
}

TEST(DaemonSetPods, MaxUnavailable) {
    EXPECT_EQ(resolve_max_unavailable(daemonset(), 10), 1);
    auto ds = daemonset();
    ds["spec"].as_object()["updateStrategy"] =
        obj(R"({"type":"RollingUpdate","rollingUpdate":{"maxUnavailable":"25%"}})");
    EXPECT_EQ(resolve_max_unavailable(ds, 10), 3);  // rounded up
    EXPECT_EQ(resolve_max_unavailable(ds, 0), 1);
    ds["spec"].as_object()["updateStrategy"] =
        obj(R"({"type":"RollingUpdate","rollingUpdate":{"maxUnavailable":0}})");
    EXPECT_EQ(resolve_max_unavailable(ds, 10), 1);
    ds["spec"].as_object()["updateStrategy"] = obj(R"({"type":"OnDelete"})");
    EXPECT_EQ(resolve_max_unavailable(ds, 10), 0);
}

// A tiny world: nodes, pods, and the controller's plan applied to it.
struct World {
    json::object ds = daemonset();
    std::deque<json::object> nodes;
    std::deque<json::object> pods;
    int next = 0;
    FakeClock clock;

    DaemonSetPlan plan(std::string hash) {
        DaemonSetInput in;
        in.ds = &ds;
        for (auto& n : nodes) in.nodes.push_back(&n);
        for (auto& p : pods) in.pods.push_back(&p);
        in.hash = std::move(hash);
        in.now = clock.now();
        return plan_daemonset(in);
    }
    // Applies a plan: created pods are bound and ready at once (unless ready = false).
    void apply(const DaemonSetPlan& p, std::string hash, bool ready = true) {
        for (const auto& name : p.delete_pods)
            std::erase_if(pods, [&](const json::object& x) { return kube::name(x) == name; });
        for (const auto& n : p.create_on) {
            auto pod = new_daemon_pod(ds, n, hash);
            kube::set_name(pod, "agent-" + std::to_string(next++));
            kube::set_creation_timestamp(pod, kube::format_time(clock.now()));
            pod["spec"].as_object()["nodeName"] = n;
            set_ready(pod, ready);
            pods.push_back(std::move(pod));
        }
    }
    void set_ready(json::object& pod, bool ready) {
        pod["status"] = json::object{
            {"phase", "Running"},
            {"conditions",
             json::array{json::object{{"type", "Ready"}, {"status", ready ? "True" : "False"}}}}};
    }
    std::int64_t status(const DaemonSetPlan& p, std::string_view key) {
        return p.status.at(key).as_int64();
    }
};

TEST(DaemonSetPlan, OnePodPerMatchingNodeFollowingNodes) {
    World w;
    w.ds["spec"].as_object()["template"].as_object()["spec"].as_object()["nodeSelector"] =
        json::object{{"node-role.kubernetes.io/edge", ""}};
    w.nodes.push_back(node("cloud-1"));
    w.nodes.push_back(node("edge-1", {{"node-role.kubernetes.io/edge", ""}}));
    w.nodes.push_back(node("edge-2", {{"node-role.kubernetes.io/edge", ""}}));
    auto p = w.plan("h1");
    EXPECT_EQ(p.create_on, (std::vector<std::string>{"edge-1", "edge-2"}));
    EXPECT_TRUE(p.delete_pods.empty());
    EXPECT_EQ(w.status(p, "desiredNumberScheduled"), 2);
    EXPECT_EQ(w.status(p, "currentNumberScheduled"), 0);
    EXPECT_EQ(w.status(p, "numberUnavailable"), 2);
    EXPECT_EQ(w.status(p, "observedGeneration"), 3);
    w.apply(p, "h1");

    p = w.plan("h1");
    EXPECT_TRUE(p.create_on.empty());
    EXPECT_TRUE(p.delete_pods.empty());
    EXPECT_EQ(w.status(p, "currentNumberScheduled"), 2);
    EXPECT_EQ(w.status(p, "numberReady"), 2);
    EXPECT_EQ(w.status(p, "numberAvailable"), 2);
    EXPECT_EQ(w.status(p, "updatedNumberScheduled"), 2);
    EXPECT_EQ(w.status(p, "numberUnavailable"), 0);

    // A node joins.
    w.nodes.push_back(node("edge-3", {{"node-role.kubernetes.io/edge", ""}}));
    p = w.plan("h1");
    EXPECT_EQ(p.create_on, (std::vector<std::string>{"edge-3"}));
    w.apply(p, "h1");
    // A node loses its label: its pod is misscheduled and deleted.
    w.nodes[1] = node("edge-1");
    p = w.plan("h1");
    ASSERT_EQ(p.delete_pods.size(), 1u);
    EXPECT_EQ(p.delete_pods[0], "agent-0");
    EXPECT_EQ(w.status(p, "numberMisscheduled"), 1);
    EXPECT_EQ(w.status(p, "desiredNumberScheduled"), 2);
    w.apply(p, "h1");
    // A node goes away: its pod is deleted.
    w.nodes.pop_back();
    p = w.plan("h1");
    ASSERT_EQ(p.delete_pods.size(), 1u);
    EXPECT_EQ(p.delete_pods[0], "agent-2");
}

TEST(DaemonSetPlan, ExpectationsAndTerminatingPodsPreventDuplicates) {
    World w;
    w.nodes.push_back(node("n1"));
    w.nodes.push_back(node("n2"));
    DaemonSetInput in;
    in.ds = &w.ds;
    for (auto& n : w.nodes) in.nodes.push_back(&n);
    in.hash = "h";
    in.creating = {"n1"};
    EXPECT_EQ(plan_daemonset(in).create_on, (std::vector<std::string>{"n2"}));

    // A terminating pod blocks a replacement until it is gone.
    w.apply(w.plan("h"), "h");
    kube::set_deletion_timestamp(w.pods[0], "2026-01-01T00:00:00Z");
    auto p = w.plan("h");
    EXPECT_TRUE(p.create_on.empty());
    EXPECT_TRUE(p.delete_pods.empty());
    EXPECT_EQ(w.status(p, "currentNumberScheduled"), 1);
}

TEST(DaemonSetPlan, DuplicatesAndFailedPodsAreCleanedUp) {
    World w;
    w.nodes.push_back(node("n1"));
    w.apply(w.plan("h"), "h");
    w.clock.advance(1s);
    // A second pod on the same node: the newer goes.
    DaemonSetPlan extra;
    extra.create_on = {"n1"};
    w.apply(extra, "h");
    auto p = w.plan("h");
    EXPECT_EQ(p.delete_pods, (std::vector<std::string>{"agent-1"}));
    w.apply(p, "h");
    // A failed pod is deleted (and replaced on a later sync).
    w.pods[0]["status"].as_object()["phase"] = "Failed";
    p = w.plan("h");
    EXPECT_EQ(p.delete_pods, (std::vector<std::string>{"agent-0"}));
    w.apply(p, "h");
    EXPECT_EQ(w.plan("h").create_on, (std::vector<std::string>{"n1"}));
}

TEST(DaemonSetPlan, RollingUpdateRespectsMaxUnavailable) {
    World w;
    for (int i = 0; i < 5; ++i) w.nodes.push_back(node("n" + std::to_string(i)));
    w.apply(w.plan("old"), "old");
    ASSERT_EQ(w.pods.size(), 5u);
    w.ds["spec"].as_object()["updateStrategy"] =
        obj(R"({"type":"RollingUpdate","rollingUpdate":{"maxUnavailable":2}})");

    int rounds = 0;
    for (; rounds < 20; ++rounds) {
        auto p = w.plan("new");
        if (p.delete_pods.empty() && p.create_on.empty()) break;
        // Never more than maxUnavailable nodes without an available pod at once.
        int available_after = 0;
        for (const auto& pod : w.pods) {
            bool deleted = std::find(p.delete_pods.begin(), p.delete_pods.end(), kube::name(pod)) !=
                           p.delete_pods.end();
            if (!deleted && pod_is_available(pod, 0, w.clock.now())) ++available_after;
        }
        EXPECT_GE(available_after, 3) << "round " << rounds;
        // New pods start unready; they become ready on the next round.
        w.apply(p, "new", /*ready=*/false);
        for (auto& pod : w.pods) w.set_ready(pod, true);
    }
    EXPECT_LT(rounds, 20);
    for (const auto& pod : w.pods) EXPECT_EQ(kube::label(pod, kRevisionHashLabel), "new");
    auto p = w.plan("new");
    EXPECT_EQ(w.status(p, "updatedNumberScheduled"), 5);
    EXPECT_EQ(w.status(p, "numberAvailable"), 5);
}

TEST(DaemonSetPlan, UnavailableOldPodsAreReplacedRegardlessOfBudget) {
    World w;
    for (int i = 0; i < 3; ++i) w.nodes.push_back(node("n" + std::to_string(i)));
    w.apply(w.plan("old"), "old", /*ready=*/false);
    auto p = w.plan("new");
    EXPECT_EQ(p.delete_pods.size(), 3u);
}

TEST(DaemonSetPlan, OnDeleteOnlyReplacesPodsTheUserDeleted) {
    World w;
    for (int i = 0; i < 3; ++i) w.nodes.push_back(node("n" + std::to_string(i)));
    w.apply(w.plan("old"), "old");
    w.ds["spec"].as_object()["updateStrategy"] = obj(R"({"type":"OnDelete"})");
    auto p = w.plan("new");
    EXPECT_TRUE(p.delete_pods.empty());
    EXPECT_EQ(w.status(p, "updatedNumberScheduled"), 0);
    w.pods.pop_front();  // the user deletes one
    p = w.plan("new");
    ASSERT_EQ(p.create_on.size(), 1u);
    w.apply(p, "new");
    EXPECT_EQ(w.status(w.plan("new"), "updatedNumberScheduled"), 1);
}

TEST(DaemonSetPlan, PodsTargetTheirPinnedNodeBeforeBinding) {
    World w;
    w.nodes.push_back(node("n1"));
    auto pod = new_daemon_pod(w.ds, "n1", "h");
    kube::set_name(pod, "unbound");
    w.pods.push_back(pod);
    auto p = w.plan("h");
    EXPECT_TRUE(p.create_on.empty());
    EXPECT_EQ(w.status(p, "currentNumberScheduled"), 1);
    EXPECT_EQ(w.status(p, "numberReady"), 0);
}

}  // namespace
}  // namespace kedge::controllers::daemonset
