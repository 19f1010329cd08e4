// The default scheduler inside kedge-apiserver, driven with kubectl against nodes registered by
// fake kubelets: nodeSelector, taints, resources, host ports, spreading, and what a user sees
// (`kubectl describe pod`) when a pod cannot be placed.

#include "controllers_fixture.hpp"

#include <set>

namespace kedge::controllers::test {
namespace {

namespace json = boost::json;

class SchedulerTest : public ControllersFixture {
protected:
    // A pod manifest (JSON) with one busybox container; `spec_extra` and `container_extra` are
    // JSON members merged into the pod spec and the container.
    static std::string pod(const std::string& name, const std::string& spec_extra = "",
                           const std::string& container_extra = "",
                           const std::string& metadata_extra = "") {
        std::string container = R"({"name":"c","image":"busybox")" +
                                (container_extra.empty() ? "" : "," + container_extra) + "}";
        return R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":")" + name +
               R"(","namespace":"default")" + (metadata_extra.empty() ? "" : "," + metadata_extra) +
               R"(},"spec":{"containers":[)" + container + "]" +
               (spec_extra.empty() ? "" : "," + spec_extra) + "}}";
    }
    // Several manifests in one `kubectl apply` (a v1 List: JSON has no "---" separator).
    static std::string list(const std::vector<std::string>& items) {
        std::string out = R"({"apiVersion":"v1","kind":"List","items":[)";
        for (std::size_t i = 0; i < items.size(); ++i) out += (i ? "," : "") + items[i];
        return out + "]}";
    }
    static std::string requests(const std::string& cpu, const std::string& memory = "") {
        std::string r = R"("resources":{"requests":{"cpu":")" + cpu + "\"";
        if (!memory.empty()) r += R"(,"memory":")" + memory + "\"";
        return r + "}}";
    }

    // spec.nodeName of a pod, "" while unbound or when it cannot be read.
    std::string node_of(const std::string& pod_name) {
        auto v = get_json("pod " + pod_name);
        if (!v.is_object()) return "";
        auto* n = v.as_object().if_contains("spec");
        if (!n || !n->is_object()) return "";
        auto* name = n->as_object().if_contains("nodeName");
        return name && name->is_string() ? std::string(name->as_string()) : "";
    }
    bool bound_within(const std::string& pod_name, std::chrono::milliseconds deadline) {
        return eventually([&] { return !node_of(pod_name).empty(); }, deadline);
    }

    // The PodScheduled condition's (status, reason, message).
    std::tuple<std::string, std::string, std::string> pod_scheduled(const std::string& pod_name) {
        auto v = get_json("pod " + pod_name);
        if (!v.is_object()) return {};
        auto* st = v.as_object().if_contains("status");
        if (!st || !st->is_object()) return {};
        auto* conds = st->as_object().if_contains("conditions");
        if (!conds || !conds->is_array()) return {};
        for (auto& c : conds->as_array()) {
            if (!c.is_object()) continue;
            auto field = [&](const char* k) {
                auto* f = c.as_object().if_contains(k);
                return f && f->is_string() ? std::string(f->as_string()) : std::string();
            };
            if (field("type") == "PodScheduled")
                return {field("status"), field("reason"), field("message")};
        }
        return {};
    }

    // Events about a pod, as "<type> <reason> <message>" lines.
    std::vector<std::string> events_of(const std::string& pod_name) {
        std::vector<std::string> out;
        for (auto& e :
             get_items("events -n default --field-selector involvedObject.name=" + pod_name)) {
            auto s = [&](const char* k) {
                auto* f = e.if_contains(k);
                return f && f->is_string() ? std::string(f->as_string()) : std::string();
            };
            out.push_back(s("type") + " " + s("reason") + " " + s("message"));
        }
        return out;
    }
    bool has_event(const std::string& pod_name, const std::string& line) {
        for (auto& e : events_of(pod_name))
            if (e == line) return true;
        return false;
    }
};

TEST_F(SchedulerTest, NodeSelectorPutsPodsOnlyOnEdgeNodes) {
    start_kubelet({FakeNode::edge("edge-1"), FakeNode::edge("edge-2"), FakeNode::cloud("cloud-1"),
                   FakeNode::cloud("cloud-2")});
    const std::string selector = R"("nodeSelector":{"node-role.kubernetes.io/edge":""})";
    for (int i = 0; i < 4; ++i) apply(pod("edge-pod-" + std::to_string(i), selector));
    apply(pod("anywhere"));
    std::set<std::string> used;
    for (int i = 0; i < 4; ++i) {
        std::string name = "edge-pod-" + std::to_string(i);
        ASSERT_TRUE(bound_within(name, std::chrono::seconds(20)))
            << kubectl("describe pod " + name).output;
        std::string node = node_of(name);
        EXPECT_TRUE(node == "edge-1" || node == "edge-2") << name << " went to " << node;
        used.insert(node);
        EXPECT_TRUE(has_event(
            name, "Normal Scheduled Successfully assigned default/" + name + " to " + node))
            << kubectl("describe pod " + name).output;
    }
    EXPECT_EQ(used.size(), 2u) << "pods were not spread over both edge nodes";
    ASSERT_TRUE(bound_within("anywhere", std::chrono::seconds(20)));
    auto [status, reason, message] = pod_scheduled("edge-pod-0");
    EXPECT_EQ(status, "True");
}

TEST_F(SchedulerTest, TaintWithoutTolerationKeepsPodOff) {
    FakeNode gpu = FakeNode::cloud("gpu-1");
    gpu.taints.push_back(
        json::parse(R"({"key":"dedicated","value":"gpu","effect":"NoSchedule"})").as_object());
    start_kubelet({gpu});
    apply(pod("intolerant"));
    apply(pod("tolerant", R"("tolerations":[{"key":"dedicated","operator":"Equal","value":"gpu",)"
                          R"("effect":"NoSchedule"}])"));
    ASSERT_TRUE(bound_within("tolerant", std::chrono::seconds(20)));
    EXPECT_EQ(node_of("tolerant"), "gpu-1");
    const std::string want =
        "0/1 nodes are available: 1 node(s) had untolerated taint {dedicated: gpu}.";
    ASSERT_TRUE(eventually([&] {
        return has_event("intolerant", "Warning FailedScheduling " + want);
    })) << kubectl("describe pod intolerant").output;
    EXPECT_EQ(node_of("intolerant"), "");
    auto [status, reason, message] = pod_scheduled("intolerant");
    EXPECT_EQ(status, "False");
    EXPECT_EQ(reason, "Unschedulable");
    EXPECT_EQ(message, want);
}

TEST_F(SchedulerTest, UnschedulablePodIsExplainedThenBoundWhenAFittingNodeAppears) {
    start_kubelet({FakeNode::cloud("cloud-1"), FakeNode::edge("edge-1")});
    apply(pod("needs-ssd", R"("nodeSelector":{"disk":"ssd"})"));
    const std::string want =
        "0/2 nodes are available: 2 node(s) didn't match Pod's node affinity/selector.";
    ASSERT_TRUE(eventually([&] {
        auto out = kubectl("describe pod needs-ssd").output;
        return out.find("FailedScheduling") != std::string::npos &&
               out.find(want) != std::string::npos &&
               out.find("default-scheduler") != std::string::npos;
    })) << kubectl("describe pod needs-ssd").output;
    EXPECT_EQ(std::get<1>(pod_scheduled("needs-ssd")), "Unschedulable");

    FakeNode ssd = FakeNode::edge("ssd-1");
    ssd.labels["disk"] = "ssd";
    start_kubelet({ssd});
    // Well under the periodic retry (10 s): the node's arrival is what requeues the pod.
    ASSERT_TRUE(bound_within("needs-ssd", std::chrono::seconds(8)))
        << kubectl("describe pod needs-ssd").output;
    EXPECT_EQ(node_of("needs-ssd"), "ssd-1");
    EXPECT_TRUE(has_event("needs-ssd",
                          "Normal Scheduled Successfully assigned default/needs-ssd to ssd-1"));

    // Relabelling an existing node is a change that counts too.
    apply(pod("needs-zone", R"("nodeSelector":{"zone":"west"})"));
    ASSERT_TRUE(
        eventually([&] { return std::get<1>(pod_scheduled("needs-zone")) == "Unschedulable"; }));
    kubectl_ok("label node cloud-1 zone=west");
    ASSERT_TRUE(bound_within("needs-zone", std::chrono::seconds(8)));
    EXPECT_EQ(node_of("needs-zone"), "cloud-1");
}

TEST_F(SchedulerTest, ResourceRequestsBeyondAllocatableWait) {
    FakeNode small = FakeNode::cloud("small-1");
    small.capacity = {{"cpu", "2"}, {"memory", "4Gi"}, {"pods", "10"}};
    FakeNode small2 = FakeNode::cloud("small-2");
    small2.capacity = small.capacity;
    start_kubelet({small, small2});

    // Created back to back: the second must not land on the node the first took, even before
    // the informer reports the first binding.
    apply(list({pod("big-a", "", requests("1500m")), pod("big-b", "", requests("1.5"))}));
    ASSERT_TRUE(bound_within("big-a", std::chrono::seconds(20)));
    ASSERT_TRUE(bound_within("big-b", std::chrono::seconds(20)));
    EXPECT_NE(node_of("big-a"), node_of("big-b"));

    apply(pod("big-c", "", requests("1")));
    ASSERT_TRUE(eventually([&] {
        return has_event("big-c",
                         "Warning FailedScheduling 0/2 nodes are available: 2 Insufficient cpu.");
    })) << kubectl("describe pod big-c").output;
    apply(pod("huge-mem", "", requests("100m", "16Gi")));
    ASSERT_TRUE(eventually([&] {
        return has_event(
            "huge-mem", "Warning FailedScheduling 0/2 nodes are available: 2 Insufficient memory.");
    })) << kubectl("describe pod huge-mem").output;

    // Freeing cpu (the fake kubelet completes the deletion) lets big-c in.
    std::string freed = node_of("big-a");
    kubectl_ok("delete pod big-a --wait=false");
    ASSERT_TRUE(bound_within("big-c", std::chrono::seconds(20)))
        << kubectl("describe pod big-c").output;
    EXPECT_EQ(node_of("big-c"), freed);
    EXPECT_EQ(node_of("huge-mem"), "");
}

TEST_F(SchedulerTest, HostPortConflictsKeepSecondPodOff) {
    start_kubelet({FakeNode::cloud("cloud-1")});
    const std::string port = R"("ports":[{"containerPort":80,"hostPort":8080}])";
    apply(pod("web-1", "", port));
    ASSERT_TRUE(bound_within("web-1", std::chrono::seconds(20)));
    apply(pod("web-2", "", port));
    apply(pod("web-udp", "", R"("ports":[{"containerPort":80,"hostPort":8080,"protocol":"UDP"}])"));
    ASSERT_TRUE(bound_within("web-udp", std::chrono::seconds(20)));
    ASSERT_TRUE(eventually([&] {
        return has_event("web-2",
                         "Warning FailedScheduling 0/1 nodes are available: 1 node(s) didn't have "
                         "free ports for the requested pod ports.");
    })) << kubectl("describe pod web-2").output;
    EXPECT_EQ(node_of("web-2"), "");
}

TEST_F(SchedulerTest, ReplicasOfOneOwnerSpreadAcrossNodes) {
    start_kubelet({FakeNode::edge("edge-1"), FakeNode::edge("edge-2"), FakeNode::edge("edge-3")});
    // Any existing object can own pods; a ConfigMap keeps this test independent of the
    // workload controllers (and the garbage collector keeps pods whose owner exists).
    kubectl_ok("create configmap owner");
    auto cm = get_json("configmap owner");
    ASSERT_TRUE(cm.is_object());
    std::string uid(cm.as_object().at("metadata").as_object().at("uid").as_string());
    const std::string owner = R"("ownerReferences":[{"apiVersion":"v1","kind":"ConfigMap",)"
                              R"("name":"owner","uid":")" +
                              uid + R"(","controller":true}])";
    // Unrelated load on edge-1 that least-allocated alone would avoid forever.
    apply(pod("load", R"("nodeSelector":{"kubernetes.io/hostname":"edge-1"})", requests("1")));
    ASSERT_TRUE(bound_within("load", std::chrono::seconds(20)));
    std::vector<std::string> replicas;
    for (int i = 0; i < 6; ++i)
        replicas.push_back(pod("replica-" + std::to_string(i), "", "", owner));
    apply(list(replicas));
    std::map<std::string, int> per_node;
    for (int i = 0; i < 6; ++i) {
        std::string name = "replica-" + std::to_string(i);
        ASSERT_TRUE(bound_within(name, std::chrono::seconds(20)));
        ++per_node[node_of(name)];
    }
    EXPECT_EQ(per_node, (std::map<std::string, int>{{"edge-1", 2}, {"edge-2", 2}, {"edge-3", 2}}));
}

}  // namespace
}  // namespace kedge::controllers::test
