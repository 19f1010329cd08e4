// The DaemonSet controller inside kedge-apiserver (with the scheduler binding its pods), driven
// with kubectl against nodes registered by fake kubelets: one pod per matching node that follows
// nodes joining, relabelled and leaving; ControllerRevisions; a RollingUpdate that `kubectl
// rollout status` follows to the end without exceeding maxUnavailable.

#include "controllers_fixture.hpp"

#include <algorithm>
#include <set>

namespace kedge::controllers::test {
namespace {

namespace json = boost::json;

std::string str(const json::object& o, std::string_view key) {
    const auto* v = o.if_contains(key);
    return v && v->is_string() ? std::string(v->as_string()) : std::string();
}

class DaemonSetTest : public ControllersFixture {
protected:
    static std::string daemonset(const std::string& name, const std::string& image,
                                 const std::string& spec_extra = "") {
        return R"({"apiVersion":"apps/v1","kind":"DaemonSet","metadata":{"name":")" + name +
               R"(","namespace":"default"},"spec":{"selector":{"matchLabels":{"app":")" + name +
               R"("}},"updateStrategy":{"type":"RollingUpdate","rollingUpdate":{"maxUnavailable":1}},
               "template":{"metadata":{"labels":{"app":")" +
               name + R"("}},"spec":{"containers":[{"name":"c","image":")" + image + R"("}])" +
               spec_extra + "}}}}";
    }

    struct DaemonPod {
        std::string name;
        std::string node;  // spec.nodeName ("" while unbound)
        std::string hash;
        std::string image;
        bool terminating = false;
        bool ready = false;
    };
    std::vector<DaemonPod> pods_of(const std::string& app) {
        std::vector<DaemonPod> out;
        for (auto& p : get_items("pods -n default -l app=" + app)) {
            DaemonPod d;
            const auto& md = p.at("metadata").as_object();
            d.name = str(md, "name");
            d.terminating = md.contains("deletionTimestamp");
            if (const auto* l = md.if_contains("labels"); l && l->is_object())
                d.hash = str(l->as_object(), "controller-revision-hash");
            const auto& spec = p.at("spec").as_object();
            d.node = str(spec, "nodeName");
            d.image = str(spec.at("containers").as_array()[0].as_object(), "image");
            if (const auto* st = p.if_contains("status"); st && st->is_object())
                if (const auto* conds = st->as_object().if_contains("conditions"))
                    for (const auto& c : conds->as_array())
                        if (str(c.as_object(), "type") == "Ready")
                            d.ready = str(c.as_object(), "status") == "True";
            out.push_back(std::move(d));
        }
        return out;
    }
    // Nodes that have a live (not terminating) pod of the app, optionally only ready ones.
    std::multiset<std::string> live_nodes(const std::string& app, bool ready_only = false) {
        std::multiset<std::string> out;
        for (const auto& p : pods_of(app))
            if (!p.terminating && (!ready_only || p.ready)) out.insert(p.node);
        return out;
    }
    json::object status_of(const std::string& ds) {
        auto v = get_json("ds " + ds + " -n default");
        if (!v.is_object()) return {};
        const auto* st = v.as_object().if_contains("status");
        return st && st->is_object() ? st->as_object() : json::object{};
    }
    static std::int64_t num(const json::object& o, std::string_view key) {
        const auto* v = o.if_contains(key);
        return v && v->is_int64() ? v->as_int64() : -1;
    }
};

TEST_F(DaemonSetTest, OnePodPerMatchingNodeFollowingNodes) {
    start_kubelet({FakeNode::edge("edge-1"), FakeNode::cloud("cloud-1")});
    apply(
        daemonset("agent", "busybox:1", R"(,"nodeSelector":{"node-role.kubernetes.io/edge":""})"));
    ASSERT_TRUE(eventually([&] {
        return live_nodes("agent", true) == std::multiset<std::string>{"edge-1"};
    })) << "no ready daemon pod on edge-1";
    auto out = kubectl_ok("rollout status ds/agent -n default --timeout=60s");
    EXPECT_NE(out.find("successfully rolled out"), std::string::npos) << out;
    auto st = status_of("agent");
    EXPECT_EQ(num(st, "desiredNumberScheduled"), 1);
    EXPECT_EQ(num(st, "numberReady"), 1);

    // The pod is pinned with matchFields, carries the revision hash, and a revision exists.
    auto pod = get_items("pods -n default -l app=agent").at(0);
    EXPECT_NE(json::serialize(pod.at("spec").as_object().at("affinity"))
                  .find(R"({"key":"metadata.name","operator":"In","values":["edge-1"]})"),
              std::string::npos);
    const std::string hash = pods_of("agent").at(0).hash;
    EXPECT_FALSE(hash.empty());
    auto revs = get_items("controllerrevisions -n default");
    ASSERT_EQ(revs.size(), 1u);
    EXPECT_EQ(str(revs[0].at("metadata").as_object(), "name"), "agent-" + hash);

    // A matching node joins: it gains a pod.
    start_kubelet({FakeNode::edge("edge-2")});
    EXPECT_TRUE(eventually([&] {
        return live_nodes("agent", true) == std::multiset<std::string>{"edge-1", "edge-2"};
    })) << "no daemon pod on the new edge node";
    // A node gains the label: it gains a pod; loses it: the pod goes.
    kubectl_ok("label node cloud-1 node-role.kubernetes.io/edge=");
    EXPECT_TRUE(eventually([&] {
        return live_nodes("agent") == std::multiset<std::string>{"cloud-1", "edge-1", "edge-2"};
    }));
    kubectl_ok("label node cloud-1 node-role.kubernetes.io/edge-");
    EXPECT_TRUE(eventually([&] {
        return live_nodes("agent") == std::multiset<std::string>{"edge-1", "edge-2"};
    }));
    // A node leaves: its pod goes.
    stop_kubelet(1);
    kubectl_ok("delete node edge-2");
    EXPECT_TRUE(eventually([&] {
        return live_nodes("agent") == std::multiset<std::string>{"edge-1"};
    })) << "the pod of the deleted node is still there";
    EXPECT_TRUE(eventually([&] { return num(status_of("agent"), "desiredNumberScheduled") == 1; }));

    auto events = kubectl_ok("get events -n default --field-selector involvedObject.name=agent");
    EXPECT_NE(events.find("SuccessfulCreate"), std::string::npos) << events;
    EXPECT_NE(events.find("SuccessfulDelete"), std::string::npos) << events;
}

TEST_F(DaemonSetTest, RollingUpdateReplacesPodsOneNodeAtATime) {
    start_kubelet({FakeNode::cloud("n1"), FakeNode::cloud("n2"), FakeNode::cloud("n3")});
    apply(daemonset("roll", "busybox:1"));
    kubectl_ok("rollout status ds/roll -n default --timeout=60s");
    ASSERT_EQ(live_nodes("roll", true), (std::multiset<std::string>{"n1", "n2", "n3"}));
    const std::string old_hash = pods_of("roll").at(0).hash;

    kubectl_ok("set image ds/roll c=busybox:2 -n default");
    // maxUnavailable 1: at every look, at least two nodes have a ready pod.
    int min_ready = 3;
    bool done = eventually(
        [&] {
            auto pods = pods_of("roll");
            std::set<std::string> ready_nodes;
            bool all_new = pods.size() == 3;
            for (const auto& p : pods) {
                if (!p.terminating && p.ready) ready_nodes.insert(p.node);
                all_new = all_new && !p.terminating && p.ready && p.image == "busybox:2";
            }
            min_ready = std::min<int>(min_ready, static_cast<int>(ready_nodes.size()));
            return all_new;
        },
        std::chrono::seconds(90));
    ASSERT_TRUE(done) << "the rolling update did not finish";
    EXPECT_GE(min_ready, 2) << "more than maxUnavailable nodes were without a ready pod";
    auto out = kubectl_ok("rollout status ds/roll -n default --timeout=60s");
    EXPECT_NE(out.find("successfully rolled out"), std::string::npos) << out;

    std::set<std::string> hashes;
    for (const auto& p : pods_of("roll")) hashes.insert(p.hash);
    ASSERT_EQ(hashes.size(), 1u);
    EXPECT_NE(*hashes.begin(), old_hash);
    EXPECT_EQ(get_items("controllerrevisions -n default").size(), 2u);
    auto st = status_of("roll");
    EXPECT_EQ(num(st, "updatedNumberScheduled"), 3);
    EXPECT_EQ(num(st, "numberAvailable"), 3);
    EXPECT_EQ(num(st, "numberUnavailable"), 0);
    auto v = get_json("ds roll -n default");
    EXPECT_EQ(num(st, "observedGeneration"),
              v.as_object().at("metadata").as_object().at("generation").as_int64());

    // `kubectl rollout undo` applies the previous ControllerRevision: the old template (and
    // hash) come back, and that revision is reused rather than copied.
    kubectl_ok("rollout undo ds/roll -n default");
    EXPECT_TRUE(eventually(
        [&] {
            auto pods = pods_of("roll");
            return pods.size() == 3 && std::all_of(pods.begin(), pods.end(), [&](auto& p) {
                       return !p.terminating && p.ready && p.image == "busybox:1" &&
                              p.hash == old_hash;
                   });
        },
        std::chrono::seconds(90)))
        << "rollout undo did not bring busybox:1 back";
    kubectl_ok("rollout status ds/roll -n default --timeout=60s");
    EXPECT_EQ(get_items("controllerrevisions -n default").size(), 2u);
}

}  // namespace
}  // namespace kedge::controllers::test
