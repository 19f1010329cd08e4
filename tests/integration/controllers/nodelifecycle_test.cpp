// The node lifecycle controller inside kedge-apiserver, against nodes whose heartbeats fake
// kubelets drive: a silent node goes Ready=Unknown with the unreachable taints, pods on a cloud
// node are evicted once their tolerationSeconds run out, pods on an edge node stay (edge
// autonomy), and resumed heartbeats lift the taints.

#include "controllers_fixture.hpp"

#include <optional>

namespace kedge::controllers::test {
namespace {

namespace json = boost::json;

std::string str(const json::object& o, std::string_view key) {
    const auto* v = o.if_contains(key);
    return v && v->is_string() ? std::string(v->as_string()) : std::string();
}

class NodeLifecycleTest : public ControllersFixture {
protected:
    // A pod bound straight to `node` that tolerates not-ready/unreachable for `seconds`.
    static std::string bound_pod(const std::string& name, const std::string& node, int seconds) {
        std::string tol;
        for (const char* key : {"node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"})
            tol += std::string(tol.empty() ? "" : ",") + R"({"key":")" + key +
                   R"(","operator":"Exists","effect":"NoExecute","tolerationSeconds":)" +
                   std::to_string(seconds) + "}";
        return R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":")" + name +
               R"(","namespace":"default"},"spec":{"nodeName":")" + node +
               R"(","containers":[{"name":"c","image":"busybox"}],"tolerations":[)" + tol + "]}}";
    }

    std::optional<json::object> object(const std::string& what) {
        auto v = get_json(what);
        if (!v.is_object()) return std::nullopt;
        return v.as_object();
    }

    // (status, reason) of the node's Ready condition.
    std::pair<std::string, std::string> ready_of(const std::string& node) {
        auto n = object("node " + node);
        if (!n) return {};
        const auto* conds = kube_path(*n, {"status", "conditions"});
        if (!conds || !conds->is_array()) return {};
        for (const auto& c : conds->as_array())
            if (c.is_object() && str(c.as_object(), "type") == "Ready")
                return {str(c.as_object(), "status"), str(c.as_object(), "reason")};
        return {};
    }

    // "key:effect" of each taint, with whether it has timeAdded.
    std::vector<std::string> taints_of(const std::string& node, bool* all_timed = nullptr) {
        std::vector<std::string> out;
        auto n = object("node " + node);
        if (!n) return out;
        const auto* taints = kube_path(*n, {"spec", "taints"});
        if (all_timed) *all_timed = true;
        if (!taints || !taints->is_array()) return out;
        for (const auto& t : taints->as_array()) {
            const auto& o = t.as_object();
            out.push_back(str(o, "key") + ":" + str(o, "effect"));
            if (all_timed && str(o, "timeAdded").empty()) *all_timed = false;
        }
        std::sort(out.begin(), out.end());
        return out;
    }

    // The pod's uid and whether it is being deleted; nullopt when it is gone.
    struct PodState {
        std::string uid;
        std::string node;
        bool terminating = false;
        bool ready = false;
    };
    std::optional<PodState> pod_state(const std::string& name) {
        auto p = object("pod " + name);
        if (!p) return std::nullopt;
        PodState s;
        const auto& md = p->at("metadata").as_object();
        s.uid = str(md, "uid");
        s.terminating = md.contains("deletionTimestamp");
        if (const auto* n = kube_path(*p, {"spec", "nodeName"}); n && n->is_string())
            s.node = std::string(n->as_string());
        if (const auto* conds = kube_path(*p, {"status", "conditions"}); conds && conds->is_array())
            for (const auto& c : conds->as_array())
                if (str(c.as_object(), "type") == "Ready")
                    s.ready = str(c.as_object(), "status") == "True";
        return s;
    }

    std::vector<std::string> event_lines(const std::string& ns, const std::string& involved) {
        std::vector<std::string> out;
        for (auto& e :
             get_items("events -n " + ns + " --field-selector involvedObject.name=" + involved))
            out.push_back(str(e, "reason") + " " + str(e, "message"));
        return out;
    }

    static const json::value* kube_path(const json::object& o,
                                        std::initializer_list<const char*> path) {
        const json::value* v = nullptr;
        const json::object* cur = &o;
        for (const char* k : path) {
            if (!cur) return nullptr;
            v = cur->if_contains(k);
            if (!v) return nullptr;
            cur = v->is_object() ? &v->as_object() : nullptr;
        }
        return v;
    }

    static bool contains(const std::vector<std::string>& v, const std::string& prefix) {
        return std::any_of(v.begin(), v.end(),
                           [&](const std::string& s) { return s.rfind(prefix, 0) == 0; });
    }
};

TEST_F(NodeLifecycleTest, SilentNodesGoUnknownAndOnlyCloudPodsAreEvicted) {
    start_kubelet({FakeNode::edge("edge-1"), FakeNode::cloud("cloud-1")});
    apply(bound_pod("edge-app", "edge-1", 3));
    apply(bound_pod("cloud-app", "cloud-1", 3));
    ASSERT_TRUE(eventually([&] {
        auto e = pod_state("edge-app"), c = pod_state("cloud-app");
        return e && e->ready && c && c->ready;
    })) << "the fake kubelet did not run the pods";
    EXPECT_EQ(ready_of("edge-1").first, "True");
    EXPECT_TRUE(taints_of("edge-1").empty());
    const std::string edge_uid = pod_state("edge-app")->uid;

    pause_heartbeat("edge-1");
    pause_heartbeat("cloud-1");
    // Grace period 4 s, monitor period 500 ms.
    for (const char* n : {"edge-1", "cloud-1"}) {
        ASSERT_TRUE(
            eventually([&] { return ready_of(n).first == "Unknown"; }, std::chrono::seconds(20)))
            << n << " never went Unknown";
        EXPECT_EQ(ready_of(n).second, "NodeStatusUnknown");
        bool timed = false;
        EXPECT_TRUE(eventually([&] {
            return taints_of(n, &timed) ==
                   std::vector<std::string>{"node.kubernetes.io/unreachable:NoExecute",
                                            "node.kubernetes.io/unreachable:NoSchedule"};
        })) << n;
        EXPECT_TRUE(timed) << "taints without timeAdded on " << n;
    }
    auto node_events = event_lines("default", "cloud-1");
    EXPECT_TRUE(contains(node_events, "NodeNotReady Node cloud-1 status is now: NodeNotReady"));

    // The cloud pod tolerates unreachable for 3 s: then it is deleted (the paused kubelet does
    // not finish the deletion, so it stays terminating).
    ASSERT_TRUE(eventually(
        [&] {
            auto c = pod_state("cloud-app");
            return !c || c->terminating;
        },
        std::chrono::seconds(20)))
        << "cloud pod was not evicted";
    EXPECT_TRUE(contains(event_lines("default", "cloud-app"),
                         "TaintManagerEviction Marking for deletion Pod default/cloud-app"));

    // The edge pod had the same toleration and is past it too, yet stays bound, undeleted and
    // ready (edge autonomy): watched for four more monitor periods, not just once.
    const auto watch_until = std::chrono::steady_clock::now() + std::chrono::seconds(2);
    std::optional<PodState> edge;
    do {
        edge = pod_state("edge-app");
        ASSERT_TRUE(edge) << "edge pod was deleted";
        ASSERT_FALSE(edge->terminating) << "edge pod was evicted";
        ASSERT_EQ(edge->node, "edge-1");
        ASSERT_EQ(edge->uid, edge_uid);
        ASSERT_TRUE(edge->ready) << "edge pod was marked not ready";
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
    } while (std::chrono::steady_clock::now() < watch_until);

    // Heartbeats resume: Ready again and the taints are lifted; the same edge pod runs on.
    resume_heartbeat("edge-1");
    resume_heartbeat("cloud-1");
    for (const char* n : {"edge-1", "cloud-1"}) {
        EXPECT_TRUE(eventually([&] { return ready_of(n).first == "True"; })) << n;
        EXPECT_TRUE(eventually([&] { return taints_of(n).empty(); })) << n << " still tainted";
    }
    edge = pod_state("edge-app");
    ASSERT_TRUE(edge);
    EXPECT_EQ(edge->uid, edge_uid);
    EXPECT_FALSE(edge->terminating);
}

TEST_F(NodeLifecycleTest, PodsOnAnUnreachableCloudNodeLoseReadiness) {
    start_kubelet({FakeNode::cloud("cloud-2")});
    apply(bound_pod("forever", "cloud-2", 3600));
    ASSERT_TRUE(eventually([&] {
        auto p = pod_state("forever");
        return p && p->ready;
    }));
    pause_heartbeat("cloud-2");
    ASSERT_TRUE(eventually([&] { return ready_of("cloud-2").first == "Unknown"; },
                           std::chrono::seconds(20)));
    // Pods on an unreachable cloud node are marked not ready, but a long toleration keeps them.
    EXPECT_TRUE(eventually([&] {
        auto p = pod_state("forever");
        return p && !p->ready;
    })) << "pod on an unreachable cloud node still Ready";
    EXPECT_FALSE(pod_state("forever")->terminating);

    resume_heartbeat("cloud-2");
    EXPECT_TRUE(eventually([&] { return taints_of("cloud-2").empty(); }));
}

}  // namespace
}  // namespace kedge::controllers::test
