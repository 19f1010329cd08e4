#include "controllers/scheduler/scheduler_logic.hpp"

#include <gtest/gtest.h>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <deque>

namespace kedge::controllers::scheduler {
namespace {

namespace json = boost::json;

json::object parse(std::string_view s) { return json::parse(s).as_object(); }

// A Ready node with 4 cpu, 8Gi, 110 pods, plus whatever `extra` merges in at the top level.
json::object node(std::string_view name, std::string_view labels = "{}",
                  std::string_view spec = "{}", std::string_view allocatable = "") {
    std::string alloc(allocatable.empty() ? R"({"cpu":"4","memory":"8Gi","pods":"110"})"
                                          : allocatable);
    return parse(R"({"apiVersion":"v1","kind":"Node","metadata":{"name":")" + std::string(name) +
                 R"(","labels":)" + std::string(labels) + R"(},"spec":)" + std::string(spec) +
                 R"(,"status":{"allocatable":)" + alloc +
                 R"(,"conditions":[{"type":"Ready","status":"True"}]}})");
}

json::object pod(std::string_view spec) {
    return parse(R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","namespace":"default",)"
                 R"("uid":"u-p"},"spec":)" +
                 std::string(spec) + "}");
}

// Keeps JSON alive for the raw pointers inside PodInfo/NodeInfo.
struct World {
    std::deque<json::object> objects;
    const json::object& keep(json::object o) { return objects.emplace_back(std::move(o)); }
    PodInfo pod_info(std::string_view spec) {
        auto r = make_pod_info(keep(pod(spec)));
        EXPECT_TRUE(r) << (r ? "" : r.error().detail);
        return r ? *r : PodInfo{};
    }
    NodeInfo node_info(json::object n) { return make_node_info(keep(std::move(n))); }
};

constexpr std::string_view kBusybox = R"({"containers":[{"name":"c","image":"busybox"}]})";

// ---- pods ----

TEST(NeedsScheduling, OnlyUnassignedLivePodsOfThisScheduler) {
    EXPECT_TRUE(needs_scheduling(pod(kBusybox)));
    EXPECT_TRUE(needs_scheduling(pod(R"({"schedulerName":"default-scheduler"})")));
    EXPECT_FALSE(needs_scheduling(pod(R"({"schedulerName":"other"})")));
    EXPECT_FALSE(needs_scheduling(pod(R"({"nodeName":"n1"})")));
    auto deleting = pod(kBusybox);
    deleting["metadata"].as_object()["deletionTimestamp"] = "2024-01-01T00:00:00Z";
    EXPECT_FALSE(needs_scheduling(deleting));
    auto done = pod(kBusybox);
    done["status"] = json::object{{"phase", "Succeeded"}};
    EXPECT_FALSE(needs_scheduling(done));
    EXPECT_TRUE(is_terminated(done));
}

TEST(PodRequests, SumsContainersAndAddsOverhead) {
    auto r = pod_requests(pod(R"({"containers":[
        {"name":"a","resources":{"requests":{"cpu":"100m","memory":"64Mi"}}},
        {"name":"b","resources":{"requests":{"cpu":"0.2","nvidia.com/gpu":"1"}}}],
        "overhead":{"cpu":"10m"}})"));
    ASSERT_TRUE(r);
    EXPECT_EQ(r->at("cpu"), 310);
    EXPECT_EQ(r->at("memory"), 64LL * 1024 * 1024 * 1000);
    EXPECT_EQ(r->at("nvidia.com/gpu"), 1000);
}

TEST(PodRequests, InitContainersTakeTheMax) {
    auto r = pod_requests(pod(R"({
        "initContainers":[{"name":"i1","resources":{"requests":{"cpu":"2","memory":"1Gi"}}},
                          {"name":"i2","resources":{"requests":{"cpu":"500m"}}}],
        "containers":[{"name":"a","resources":{"requests":{"cpu":"1","memory":"2Gi"}}},
                      {"name":"b","resources":{"requests":{"cpu":"500m"}}}]})"));
    ASSERT_TRUE(r);
    EXPECT_EQ(r->at("cpu"), 2000);                                // max(2, 1.5)
    EXPECT_EQ(r->at("memory"), 2LL * 1024 * 1024 * 1024 * 1000);  // max(1Gi, 2Gi)
}

TEST(PodRequests, SidecarsKeepRunning) {
    // A restartable init container (sidecar) adds to the containers and to later init steps.
    auto r = pod_requests(pod(R"({
        "initContainers":[{"name":"s","restartPolicy":"Always",
                           "resources":{"requests":{"cpu":"1"}}},
                          {"name":"i","resources":{"requests":{"cpu":"2"}}}],
        "containers":[{"name":"a","resources":{"requests":{"cpu":"500m"}}}]})"));
    ASSERT_TRUE(r);
    EXPECT_EQ(r->at("cpu"), 3000);  // max(1+2 during init, 1+0.5 running)
}

TEST(PodRequests, LimitsStandInForMissingRequests) {
    auto r = pod_requests(pod(R"({"containers":[{"name":"a","resources":{
        "limits":{"cpu":"1","memory":"1Gi"},"requests":{"cpu":"250m"}}}]})"));
    ASSERT_TRUE(r);
    EXPECT_EQ(r->at("cpu"), 250);
    EXPECT_EQ(r->at("memory"), 1024LL * 1024 * 1024 * 1000);
}

TEST(PodRequests, BadQuantityNamesTheField) {
    auto r = pod_requests(pod(R"({"containers":[{"name":"web","resources":{
        "requests":{"cpu":"lots"}}}]})"));
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().detail.find("web"), std::string::npos) << r.error().detail;
    EXPECT_NE(r.error().detail.find("requests.cpu"), std::string::npos) << r.error().detail;
    EXPECT_NE(r.error().detail.find("lots"), std::string::npos) << r.error().detail;
}

TEST(PodInfo, NonZeroDefaultsAndOwner) {
    World w;
    auto p = pod(R"({"containers":[{"name":"a"},
        {"name":"b","resources":{"requests":{"cpu":"1"}}}]})");
    p["metadata"].as_object()["ownerReferences"] =
        json::parse(R"([{"apiVersion":"apps/v1","kind":"ReplicaSet","name":"rs","uid":"rs-1",
                         "controller":true}])");
    auto info = make_pod_info(w.keep(std::move(p)));
    ASSERT_TRUE(info);
    EXPECT_EQ(info->non_zero_milli_cpu, kDefaultMilliCpuRequest + 1000);
    EXPECT_EQ(info->non_zero_memory, 2 * kDefaultMemoryRequestMilli);
    EXPECT_EQ(info->owner_uid, "rs-1");
}

// ---- filters ----

TEST(Tolerations, Matching) {
    Taint t{"dedicated", "edge", "NoSchedule"};
    EXPECT_TRUE(tolerates({"dedicated", "Equal", "edge", "NoSchedule"}, t));
    EXPECT_TRUE(tolerates({"dedicated", "", "edge", ""}, t));  // operator defaults to Equal
    EXPECT_FALSE(tolerates({"dedicated", "Equal", "cloud", "NoSchedule"}, t));
    EXPECT_TRUE(tolerates({"dedicated", "Exists", "", ""}, t));
    EXPECT_FALSE(tolerates({"dedicated", "Exists", "", "NoExecute"}, t));
    EXPECT_FALSE(tolerates({"other", "Exists", "", ""}, t));
    EXPECT_TRUE(tolerates({"", "Exists", "", ""}, t));  // tolerates everything
    EXPECT_FALSE(tolerates({"", "Equal", "", ""}, t));  // empty key needs Exists
    EXPECT_FALSE(tolerates({"dedicated", "Bogus", "edge", ""}, t));
}

TEST(Filters, TaintsBlockUnlessTolerated) {
    World w;
    auto n = w.node_info(node("n1", "{}",
                              R"({"taints":[{"key":"soft","effect":"PreferNoSchedule"},
        {"key":"node.kubernetes.io/unreachable","effect":"NoExecute"}]})"));
    auto plain = w.pod_info(kBusybox);
    EXPECT_EQ(check_taints(plain, n),
              "node(s) had untolerated taint {node.kubernetes.io/unreachable: }");
    auto tolerant = w.pod_info(R"({"containers":[{"name":"c"}],"tolerations":[
        {"key":"node.kubernetes.io/unreachable","operator":"Exists","effect":"NoExecute",
         "tolerationSeconds":300}]})");
    EXPECT_EQ(check_taints(tolerant, n), std::nullopt);

    auto valued = w.node_info(
        node("n2", "{}", R"({"taints":[{"key":"team","value":"a","effect":"NoSchedule"}]})"));
    EXPECT_EQ(check_taints(plain, valued), "node(s) had untolerated taint {team: a}");
}

TEST(Filters, UnschedulableNodeAndNotReady) {
    World w;
    auto cordoned = w.node_info(node("n1", "{}", R"({"unschedulable":true})"));
    auto plain = w.pod_info(kBusybox);
    EXPECT_EQ(check_unschedulable(plain, cordoned), std::string(kReasonUnschedulable));
    auto tolerant = w.pod_info(R"({"tolerations":[{"key":"node.kubernetes.io/unschedulable",
        "operator":"Exists","effect":"NoSchedule"}]})");
    EXPECT_EQ(check_unschedulable(tolerant, cordoned), std::nullopt);

    auto n = node("n2");
    n["status"].as_object()["conditions"] = json::parse(R"([{"type":"Ready","status":"Unknown"}])");
    EXPECT_EQ(check_ready(w.node_info(n)), std::string(kReasonNotReady));
    auto no_conditions = node("n3");
    no_conditions["status"].as_object().erase("conditions");
    EXPECT_EQ(check_ready(w.node_info(no_conditions)), std::string(kReasonNotReady));
    EXPECT_EQ(check_ready(w.node_info(node("n4"))), std::nullopt);
}

TEST(Affinity, NodeSelector) {
    auto edge = node("e1", R"({"node-role.kubernetes.io/edge":"","zone":"a"})");
    auto cloud = node("c1", R"({"zone":"a"})");
    auto p = pod(R"({"nodeSelector":{"node-role.kubernetes.io/edge":""}})");
    EXPECT_TRUE(matches_node_selector_and_affinity(p, edge));
    EXPECT_FALSE(matches_node_selector_and_affinity(p, cloud));
    EXPECT_TRUE(matches_node_selector_and_affinity(pod("{}"), cloud));
}

json::object affinity_pod(std::string_view terms) {
    return pod(R"({"affinity":{"nodeAffinity":{"requiredDuringSchedulingIgnoredDuringExecution":
        {"nodeSelectorTerms":)" +
               std::string(terms) + "}}}}");
}

TEST(Affinity, Operators) {
    auto n = node("n1", R"({"zone":"a","cores":"8"})");
    auto m = [&](std::string_view expr) {
        return matches_node_selector_and_affinity(
            affinity_pod("[{\"matchExpressions\":[" + std::string(expr) + "]}]"), n);
    };
    EXPECT_TRUE(m(R"({"key":"zone","operator":"In","values":["a","b"]})"));
    EXPECT_FALSE(m(R"({"key":"zone","operator":"In","values":["b"]})"));
    EXPECT_TRUE(m(R"({"key":"zone","operator":"NotIn","values":["b"]})"));
    EXPECT_FALSE(m(R"({"key":"zone","operator":"NotIn","values":["a"]})"));
    EXPECT_TRUE(m(R"({"key":"missing","operator":"NotIn","values":["a"]})"));
    EXPECT_TRUE(m(R"({"key":"zone","operator":"Exists"})"));
    EXPECT_FALSE(m(R"({"key":"missing","operator":"Exists"})"));
    EXPECT_TRUE(m(R"({"key":"missing","operator":"DoesNotExist"})"));
    EXPECT_FALSE(m(R"({"key":"zone","operator":"DoesNotExist"})"));
    EXPECT_TRUE(m(R"({"key":"cores","operator":"Gt","values":["4"]})"));
    EXPECT_FALSE(m(R"({"key":"cores","operator":"Gt","values":["8"]})"));
    EXPECT_TRUE(m(R"({"key":"cores","operator":"Lt","values":["16"]})"));
    EXPECT_FALSE(m(R"({"key":"zone","operator":"Gt","values":["1"]})"));  // not an integer
    EXPECT_FALSE(m(R"({"key":"cores","operator":"Gt","values":["1","2"]})"));
    EXPECT_FALSE(m(R"({"key":"zone","operator":"Near","values":["a"]})"));
}

TEST(Affinity, TermsOredExpressionsAnded) {
    auto n = node("n1", R"({"zone":"a","disk":"ssd"})");
    // Both expressions must hold within a term.
    EXPECT_FALSE(matches_node_selector_and_affinity(affinity_pod(R"([{"matchExpressions":[
        {"key":"zone","operator":"In","values":["a"]},
        {"key":"disk","operator":"In","values":["hdd"]}]}])"),
                                                    n));
    // One of the terms suffices.
    EXPECT_TRUE(matches_node_selector_and_affinity(affinity_pod(R"([
        {"matchExpressions":[{"key":"disk","operator":"In","values":["hdd"]}]},
        {"matchExpressions":[{"key":"zone","operator":"In","values":["a"]}]}])"),
                                                   n));
    // An empty term matches nothing; no terms match nothing.
    EXPECT_FALSE(matches_node_selector_and_affinity(affinity_pod("[{}]"), n));
    EXPECT_FALSE(matches_node_selector_and_affinity(affinity_pod("[]"), n));
}

TEST(Affinity, MatchFieldsPinToNodeName) {
    // What the DaemonSet controller writes to pin a pod to one node.
    auto p = affinity_pod(R"([{"matchFields":[
        {"key":"metadata.name","operator":"In","values":["edge-2"]}]}])");
    EXPECT_TRUE(matches_node_selector_and_affinity(p, node("edge-2")));
    EXPECT_FALSE(matches_node_selector_and_affinity(p, node("edge-1")));
    auto not_in = affinity_pod(R"([{"matchFields":[
        {"key":"metadata.name","operator":"NotIn","values":["edge-2"]}]}])");
    EXPECT_TRUE(matches_node_selector_and_affinity(not_in, node("edge-1")));
    auto bad_field = affinity_pod(R"([{"matchFields":[
        {"key":"metadata.uid","operator":"In","values":["x"]}]}])");
    EXPECT_FALSE(matches_node_selector_and_affinity(bad_field, node("x")));
    // nodeSelector and affinity must both hold.
    auto both = pod(R"({"nodeSelector":{"zone":"b"},"affinity":{"nodeAffinity":{
        "requiredDuringSchedulingIgnoredDuringExecution":{"nodeSelectorTerms":[{"matchFields":[
        {"key":"metadata.name","operator":"In","values":["edge-2"]}]}]}}}})");
    EXPECT_FALSE(matches_node_selector_and_affinity(both, node("edge-2", R"({"zone":"a"})")));
    EXPECT_TRUE(matches_node_selector_and_affinity(both, node("edge-2", R"({"zone":"b"})")));
}

TEST(Filters, HostPorts) {
    EXPECT_TRUE(host_ports_conflict({"", "TCP", 80}, {"", "", 80}));
    EXPECT_FALSE(host_ports_conflict({"", "TCP", 80}, {"", "UDP", 80}));
    EXPECT_FALSE(host_ports_conflict({"", "TCP", 80}, {"", "TCP", 81}));
    EXPECT_TRUE(host_ports_conflict({"10.0.0.1", "TCP", 80}, {"0.0.0.0", "TCP", 80}));
    EXPECT_TRUE(host_ports_conflict({"10.0.0.1", "TCP", 80}, {"10.0.0.1", "TCP", 80}));
    EXPECT_FALSE(host_ports_conflict({"10.0.0.1", "TCP", 80}, {"10.0.0.2", "TCP", 80}));

    World w;
    auto n = w.node_info(node("n1"));
    auto existing = w.pod_info(R"({"nodeName":"n1","containers":[{"name":"c","ports":[
        {"containerPort":8080,"hostPort":80},{"containerPort":53,"protocol":"UDP"}]}]})");
    ASSERT_EQ(existing.host_ports.size(), 1u);  // containerPort alone takes no host port
    n.add_pod(existing);
    auto wants80 = w.pod_info(R"({"containers":[{"name":"c","ports":[
        {"containerPort":9000,"hostPort":80,"protocol":"TCP"}]}]})");
    EXPECT_EQ(check_host_ports(wants80, n), std::string(kReasonPorts));
    auto wants80udp = w.pod_info(R"({"containers":[{"name":"c","ports":[
        {"containerPort":9000,"hostPort":80,"protocol":"UDP"}]}]})");
    EXPECT_EQ(check_host_ports(wants80udp, n), std::nullopt);
}

TEST(Filters, ResourcesAgainstAllocatableMinusRequested) {
    World w;
    auto n = w.node_info(node("n1", "{}", "{}", R"({"cpu":"2","memory":"1Gi","pods":"3"})"));
    auto half = w.pod_info(R"({"containers":[{"name":"c","resources":{"requests":
        {"cpu":"1","memory":"512Mi"}}}]})");
    EXPECT_TRUE(check_resources(half, n).empty());
    n.add_pod(half);
    EXPECT_TRUE(check_resources(half, n).empty());  // exactly fills the node
    n.add_pod(half);
    EXPECT_EQ(check_resources(half, n),
              (std::vector<std::string>{"Insufficient cpu", "Insufficient memory"}));
    // A pod that asks nothing only needs a pod slot.
    auto nothing = w.pod_info(kBusybox);
    EXPECT_TRUE(check_resources(nothing, n).empty());
    n.add_pod(nothing);
    EXPECT_EQ(check_resources(nothing, n), std::vector<std::string>{"Too many pods"});

    auto gpu = w.pod_info(R"({"containers":[{"name":"c","resources":{"limits":
        {"example.com/gpu":"1"}}}]})");
    EXPECT_EQ(check_resources(gpu, w.node_info(node("n2"))),
              std::vector<std::string>{"Insufficient example.com/gpu"});
}

TEST(Filters, TerminatedPodsHoldNothing) {
    World w;
    auto n = w.node_info(node("n1", "{}", "{}", R"({"cpu":"1","memory":"1Gi","pods":"1"})"));
    auto p = pod(R"({"nodeName":"n1","containers":[{"name":"c","resources":{"requests":
        {"cpu":"1"}}}]})");
    p["status"] = json::object{{"phase", "Failed"}};
    auto done = make_pod_info(w.keep(std::move(p)));
    ASSERT_TRUE(done);
    n.add_pod(*done);
    EXPECT_EQ(n.pod_count, 0);
    EXPECT_TRUE(check_resources(w.pod_info(R"({"containers":[{"name":"c","resources":
        {"requests":{"cpu":"1"}}}]})"),
                                n)
                    .empty());
}

TEST(Filters, OrderStopsAtFirstFailure) {
    World w;
    // Tainted AND mismatching affinity: kube-scheduler reports the taint (it filters first).
    auto n = w.node_info(
        node("n1", "{}", R"({"taints":[{"key":"k","value":"v","effect":"NoSchedule"}]})"));
    auto p = w.pod_info(R"({"nodeSelector":{"zone":"x"}})");
    EXPECT_EQ(filter_node(p, n), std::vector<std::string>{"node(s) had untolerated taint {k: v}"});
}

// ---- message ----

TEST(FailureMessage, KubernetesShape) {
    std::map<std::string, int, std::less<>> reasons{
        {"node(s) had untolerated taint {node.kubernetes.io/unreachable: }", 2},
        {std::string(kReasonAffinity), 1}};
    EXPECT_EQ(failure_message(3, reasons),
              "0/3 nodes are available: 1 node(s) didn't match Pod's node affinity/selector, 2 "
              "node(s) had untolerated taint {node.kubernetes.io/unreachable: }.");
    EXPECT_EQ(failure_message(0, {}), "no nodes available to schedule pods");
    EXPECT_EQ(failure_message(2, {{"Insufficient cpu", 2}, {"Insufficient memory", 1}}),
              "0/2 nodes are available: 1 Insufficient memory, 2 Insufficient cpu.");
}

TEST(Schedule, ReportsEveryNodesReason) {
    World w;
    std::vector<NodeInfo> nodes;
    nodes.push_back(w.node_info(node("cloud", R"({"zone":"a"})")));
    nodes.push_back(w.node_info(
        node("e1", R"({"node-role.kubernetes.io/edge":""})",
             R"({"taints":[{"key":"node.kubernetes.io/unreachable","effect":"NoSchedule"}]})")));
    nodes.push_back(w.node_info(
        node("e2", R"({"node-role.kubernetes.io/edge":""})",
             R"({"taints":[{"key":"node.kubernetes.io/unreachable","effect":"NoExecute"}]})")));
    auto d = schedule(w.pod_info(R"({"nodeSelector":{"node-role.kubernetes.io/edge":""}})"), nodes);
    EXPECT_FALSE(d.node);
    EXPECT_EQ(d.message,
              "0/3 nodes are available: 1 node(s) didn't match Pod's node affinity/selector, 2 "
              "node(s) had untolerated taint {node.kubernetes.io/unreachable: }.");
    EXPECT_EQ(schedule(w.pod_info(kBusybox), {}).message, "no nodes available to schedule pods");
}

// ---- scoring ----

TEST(Schedule, NodeSelectorPicksOnlyMatchingNodes) {
    World w;
    std::vector<NodeInfo> nodes;
    nodes.push_back(w.node_info(node("a-cloud")));
    nodes.push_back(w.node_info(node("z-edge", R"({"node-role.kubernetes.io/edge":""})")));
    auto d = schedule(w.pod_info(R"({"nodeSelector":{"node-role.kubernetes.io/edge":""}})"), nodes);
    EXPECT_EQ(d.node, "z-edge");
}

TEST(Schedule, SpreadsReplicasOfOneOwner) {
    World w;
    auto owned = [&](std::string_view owner_uid) {
        auto p = pod(kBusybox);
        p["metadata"].as_object()["ownerReferences"] =
            json::array{json::object{{"apiVersion", "apps/v1"},
                                     {"kind", "ReplicaSet"},
                                     {"name", "rs"},
                                     {"uid", owner_uid},
                                     {"controller", true}}};
        return *make_pod_info(w.keep(std::move(p)));
    };
    std::vector<NodeInfo> nodes;
    for (auto name : {"n1", "n2", "n3"}) nodes.push_back(w.node_info(node(name)));
    // n1 is emptiest (others carry unrelated pods) but already has a replica of rs-1.
    nodes[0].add_pod(owned("rs-1"));
    nodes[1].add_pod(owned("other"));
    nodes[1].add_pod(owned("other"));
    nodes[2].add_pod(owned("other"));
    auto replica = owned("rs-1");
    auto d = schedule(replica, nodes);
    EXPECT_EQ(d.node, "n3");  // no replica there, and less loaded than n2
    // Three more replicas: each node without one first, then the least loaded.
    std::vector<std::string> order;
    for (int i = 0; i < 3; ++i) {
        auto pick = schedule(replica, nodes);
        ASSERT_TRUE(pick.node);
        order.push_back(*pick.node);
        for (auto& n : nodes)
            if (n.name == *pick.node) n.add_pod(replica);
    }
    EXPECT_EQ(order, (std::vector<std::string>{"n3", "n2", "n1"}));
}

TEST(Schedule, LeastAllocatedThenPreferNoSchedule) {
    World w;
    std::vector<NodeInfo> nodes;
    nodes.push_back(w.node_info(node("busy")));
    nodes.push_back(w.node_info(node("idle")));
    nodes[0].add_pod(w.pod_info(R"({"containers":[{"name":"c","resources":{"requests":
        {"cpu":"2","memory":"4Gi"}}}]})"));
    EXPECT_EQ(schedule(w.pod_info(kBusybox), nodes).node, "idle");
    // A PreferNoSchedule taint outweighs free capacity, but does not block.
    nodes[1] = w.node_info(
        node("idle", "{}", R"({"taints":[{"key":"soft","effect":"PreferNoSchedule"}]})"));
    EXPECT_EQ(schedule(w.pod_info(kBusybox), nodes).node, "busy");
    std::vector<NodeInfo> only_tainted{nodes[1]};
    EXPECT_EQ(schedule(w.pod_info(kBusybox), only_tainted).node, "idle");
}

TEST(Schedule, PreferredAffinityWeights) {
    World w;
    std::vector<NodeInfo> nodes;
    nodes.push_back(w.node_info(node("a", R"({"disk":"hdd"})")));
    nodes.push_back(w.node_info(node("b", R"({"disk":"ssd"})")));
    auto p = w.pod_info(
        R"({"affinity":{"nodeAffinity":{"preferredDuringSchedulingIgnoredDuringExecution":[
        {"weight":10,"preference":{"matchExpressions":[
            {"key":"disk","operator":"In","values":["ssd"]}]}}]}}})");
    EXPECT_EQ(schedule(p, nodes).node, "b");
}

TEST(NodeChanges, OnlySchedulingRelevantFieldsCount) {
    auto a = node("n1", R"({"zone":"a"})");
    auto heartbeat = a;
    heartbeat["status"].as_object()["conditions"] = json::parse(
        R"([{"type":"Ready","status":"True","lastHeartbeatTime":"2024-01-01T00:00:10Z"}])");
    EXPECT_FALSE(node_scheduling_changed(a, heartbeat));
    auto relabelled = node("n1", R"({"zone":"b"})");
    EXPECT_TRUE(node_scheduling_changed(a, relabelled));
    auto tainted =
        node("n1", R"({"zone":"a"})", R"({"taints":[{"key":"k","effect":"NoSchedule"}]})");
    EXPECT_TRUE(node_scheduling_changed(a, tainted));
    auto bigger = node("n1", R"({"zone":"a"})", "{}", R"({"cpu":"8","memory":"8Gi","pods":"110"})");
    EXPECT_TRUE(node_scheduling_changed(a, bigger));
    auto not_ready = a;
    not_ready["status"].as_object()["conditions"] =
        json::parse(R"([{"type":"Ready","status":"False"}])");
    EXPECT_TRUE(node_scheduling_changed(a, not_ready));
}

}  // namespace
}  // namespace kedge::controllers::scheduler
