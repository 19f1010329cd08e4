// Deployments in kedge-apiserver, driven with kubectl as a user would: create on edge nodes,
// scale, rolling update within maxSurge/maxUnavailable with `kubectl rollout status`,
// `kubectl rollout undo`/`history`, Recreate, and deletion cascading to ReplicaSets and Pods.
// Nodes come from the fake kubelet, which makes bound pods Running+Ready.

#include "controllers_fixture.hpp"

#include <atomic>
#include <set>
#include <thread>

namespace kedge::controllers::test {
namespace {

namespace json = boost::json;

std::string str_at(const json::object& o, std::initializer_list<const char*> path) {
    const json::value* v = nullptr;
    const json::object* cur = &o;
    for (const char* k : path) {
        if (!cur) return "";
        v = cur->if_contains(k);
        if (!v) return "";
        cur = v->if_object();
    }
    if (!v) return "";
    if (v->is_string()) return std::string(v->as_string());
    if (v->is_int64()) return std::to_string(v->as_int64());
    return "";
}

bool terminating(const json::object& o) {
    return !str_at(o, {"metadata", "deletionTimestamp"}).empty();
}

std::string image_of(const json::object& pod) {
    auto* cs = pod.at("spec").as_object().if_contains("containers");
    if (!cs || !cs->is_array() || cs->as_array().empty()) return "";
    return str_at(cs->as_array()[0].as_object(), {"image"});
}

class DeploymentTest : public ControllersFixture {
protected:
    void SetUp() override {
        ControllersFixture::SetUp();
        start_kubelet(
            {FakeNode::edge("edge-1"), FakeNode::edge("edge-2"), FakeNode::cloud("cloud-1")});
    }

    // A deployment "web" of `replicas` pods running `image` (container "c").
    std::string manifest(int replicas, const std::string& image, const std::string& strategy,
                         int min_ready_seconds = 0) {
        return R"({"apiVersion":"apps/v1","kind":"Deployment",
                   "metadata":{"name":"web","namespace":"default"},
                   "spec":{"replicas":)" +
               std::to_string(replicas) + R"(,"minReadySeconds":)" +
               std::to_string(min_ready_seconds) + R"(,"selector":{"matchLabels":{"app":"web"}},
                   "strategy":)" +
               strategy + R"(,
                   "template":{"metadata":{"labels":{"app":"web"}},
                               "spec":{"containers":[{"name":"c","image":")" +
               image + R"("}]}}}})";
    }

    std::vector<json::object> pods() { return get_items("pods -n default -l app=web"); }
    std::vector<json::object> active_pods() {
        std::vector<json::object> out;
        for (auto& p : pods())
            if (!terminating(p)) out.push_back(p);
        return out;
    }
    std::vector<json::object> replica_sets() { return get_items("rs -n default -l app=web"); }

    bool rollout_status_ok() {
        auto r = kubectl("rollout status deployment/web -n default --timeout=60s");
        EXPECT_EQ(r.exit_code, 0) << r.output;
        return r.exit_code == 0 && r.output.find("successfully rolled out") != std::string::npos;
    }

    // Every active pod runs `image`, is Running and Ready, and there are `n` of them.
    bool settled(std::size_t n, const std::string& image) {
        auto ps = active_pods();
        if (ps.size() != n) return false;
        for (auto& p : ps) {
            if (image_of(p) != image || str_at(p, {"status", "phase"}) != "Running") return false;
        }
        return true;
    }
};

TEST_F(DeploymentTest, CreateOnEdgeNodesScaleUpAndDown) {
    kubectl_ok("create deployment web --image=localhost:5000/x --replicas=3 -n default");
    kubectl_ok(
        R"(patch deployment web -n default -p '{"spec":{"template":{"spec":{"nodeSelector":{"node-role.kubernetes.io/edge":""}}}}}')");
    ASSERT_TRUE(rollout_status_ok());
    ASSERT_TRUE(eventually([&] { return settled(3, "localhost:5000/x"); }));
    for (auto& p : active_pods()) {
        std::string node = str_at(p, {"spec", "nodeName"});
        EXPECT_TRUE(node == "edge-1" || node == "edge-2") << "pod on " << node;
        EXPECT_FALSE(str_at(p, {"metadata", "labels", "pod-template-hash"}).empty());
    }
    auto d = get_json("deployment web -n default").as_object();
    EXPECT_EQ(str_at(d, {"status", "readyReplicas"}), "3");
    EXPECT_EQ(str_at(d, {"status", "availableReplicas"}), "3");
    EXPECT_EQ(str_at(d, {"status", "updatedReplicas"}), "3");
    EXPECT_EQ(str_at(d, {"metadata", "annotations", "deployment.kubernetes.io/revision"}), "2");

    kubectl_ok("scale deployment web -n default --replicas=5");
    EXPECT_TRUE(rollout_status_ok());
    EXPECT_TRUE(eventually([&] { return settled(5, "localhost:5000/x"); }));
    kubectl_ok("scale deployment web -n default --replicas=1");
    EXPECT_TRUE(eventually([&] { return settled(1, "localhost:5000/x"); }));
    EXPECT_TRUE(rollout_status_ok());

    // The ReplicaSet of the current template carries the hash in its name and selector.
    auto d2 = get_json("deployment web -n default").as_object();
    bool found = false;
    for (auto& rs : replica_sets()) {
        std::string hash = str_at(rs, {"metadata", "labels", "pod-template-hash"});
        EXPECT_EQ(str_at(rs, {"metadata", "name"}), "web-" + hash);
        EXPECT_EQ(str_at(rs, {"spec", "selector", "matchLabels", "pod-template-hash"}), hash);
        if (str_at(rs, {"spec", "replicas"}) == "1") {
            found = true;
            EXPECT_EQ(str_at(rs, {"metadata", "annotations",
                                  "deployment.kubernetes.io/desired-replicas"}),
                      "1");
        }
    }
    EXPECT_TRUE(found);
    auto events =
        kubectl_ok("get events -n default --field-selector involvedObject.kind=Deployment");
    EXPECT_NE(events.find("ScalingReplicaSet"), std::string::npos) << events;
    EXPECT_NE(events.find("Scaled up replica set web-"), std::string::npos) << events;
    EXPECT_NE(events.find("Scaled down replica set web-"), std::string::npos) << events;
    EXPECT_EQ(str_at(d2, {"status", "observedGeneration"}), str_at(d2, {"metadata", "generation"}));
}

TEST_F(DeploymentTest, RollingUpdateStaysWithinBoundsAndUndoRestores) {
    // minReadySeconds slows each step down enough for the sampler to see it.
    apply(manifest(4, "localhost:5000/x:1",
                   R"({"type":"RollingUpdate","rollingUpdate":{"maxSurge":1,"maxUnavailable":1}})",
                   1));
    ASSERT_TRUE(rollout_status_ok());
    ASSERT_TRUE(eventually([&] { return settled(4, "localhost:5000/x:1"); }));

    // Watch pod and ReplicaSet counts while the update runs.
    std::atomic<bool> stop{false};
    std::atomic<int> max_active{0}, min_ready{100}, max_rs_total{0}, samples{0};
    std::thread sampler([&] {
        while (!stop) {
            auto ps = pods();
            int active = 0, ready = 0;
            for (auto& p : ps) {
                if (terminating(p)) continue;
                ++active;
                auto* cs = p.at("status").as_object().if_contains("conditions");
                if (cs && cs->is_array())
                    for (auto& c : cs->as_array())
                        if (str_at(c.as_object(), {"type"}) == "Ready" &&
                            str_at(c.as_object(), {"status"}) == "True")
                            ++ready;
            }
            int rs_total = 0;
            for (auto& rs : replica_sets())
                rs_total += std::stoi("0" + str_at(rs, {"spec", "replicas"}));
            if (!ps.empty()) {
                max_active = std::max(max_active.load(), active);
                min_ready = std::min(min_ready.load(), ready);
                max_rs_total = std::max(max_rs_total.load(), rs_total);
                ++samples;
            }
        }
    });
    kubectl_ok("set image deployment/web c=localhost:5000/x:2 -n default");
    bool ok = rollout_status_ok();
    stop = true;
    sampler.join();
    ASSERT_TRUE(ok);
    EXPECT_TRUE(eventually([&] { return settled(4, "localhost:5000/x:2"); }));
    EXPECT_GT(samples.load(), 5);
    EXPECT_LE(max_rs_total.load(), 5) << "ReplicaSets sized beyond replicas + maxSurge";
    EXPECT_LE(max_active.load(), 5) << "more pods than replicas + maxSurge";
    EXPECT_GE(min_ready.load(), 3) << "fewer ready pods than replicas - maxUnavailable";

    auto history = kubectl_ok("rollout history deployment/web -n default");
    EXPECT_NE(history.find("1 "), std::string::npos) << history;
    EXPECT_NE(history.find("2 "), std::string::npos) << history;

    kubectl_ok("rollout undo deployment/web -n default");
    ASSERT_TRUE(rollout_status_ok());
    EXPECT_TRUE(eventually([&] { return settled(4, "localhost:5000/x:1"); }));
    auto d = get_json("deployment web -n default").as_object();
    EXPECT_EQ(image_of(d.at("spec").as_object().at("template").as_object()), "localhost:5000/x:1");
    EXPECT_EQ(str_at(d, {"metadata", "annotations", "deployment.kubernetes.io/revision"}), "3");
    // The first ReplicaSet was reused: two in total, the reused one remembers revision 1.
    auto rss = replica_sets();
    EXPECT_EQ(rss.size(), 2u);
    for (auto& rs : rss) {
        if (image_of(rs.at("spec").as_object().at("template").as_object()) ==
            "localhost:5000/x:1") {
            EXPECT_EQ(str_at(rs, {"metadata", "annotations", "deployment.kubernetes.io/revision"}),
                      "3");
            EXPECT_EQ(str_at(rs, {"metadata", "annotations",
                                  "deployment.kubernetes.io/revision-history"}),
                      "1");
        }
    }
    auto conds =
        kubectl_ok("get deployment web -n default -o jsonpath={.status.conditions[*].reason}");
    EXPECT_NE(conds.find("MinimumReplicasAvailable"), std::string::npos) << conds;
    EXPECT_NE(conds.find("NewReplicaSetAvailable"), std::string::npos) << conds;
}

TEST_F(DeploymentTest, RecreateRemovesOldPodsBeforeNewOnes) {
    apply(manifest(2, "localhost:5000/x:1", R"({"type":"Recreate"})"));
    ASSERT_TRUE(rollout_status_ok());
    ASSERT_TRUE(eventually([&] { return settled(2, "localhost:5000/x:1"); }));

    std::atomic<bool> stop{false}, mixed{false};
    std::atomic<int> samples{0};
    std::thread sampler([&] {
        while (!stop) {
            std::set<std::string> images;
            for (auto& p : pods()) images.insert(image_of(p));  // terminating ones too
            if (images.size() > 1) mixed = true;
            ++samples;
        }
    });
    kubectl_ok("set image deployment/web c=localhost:5000/x:2 -n default");
    bool ok = rollout_status_ok();
    stop = true;
    sampler.join();
    ASSERT_TRUE(ok);
    EXPECT_TRUE(eventually([&] { return settled(2, "localhost:5000/x:2"); }));
    EXPECT_GT(samples.load(), 3);
    EXPECT_FALSE(mixed.load()) << "old and new pods existed at the same time";
}

TEST_F(DeploymentTest, PausedDeploymentDoesNotRollOut) {
    apply(manifest(2, "localhost:5000/x:1", "{}"));
    ASSERT_TRUE(rollout_status_ok());
    kubectl_ok("rollout pause deployment/web -n default");
    kubectl_ok("set image deployment/web c=localhost:5000/x:2 -n default");
    EXPECT_TRUE(eventually([&] {
        auto d = get_json("deployment web -n default");
        return d.is_object() &&
               kubectl("get deployment web -n default -o jsonpath={.status.conditions[*].reason}")
                       .output.find("DeploymentPaused") != std::string::npos;
    }));
    EXPECT_EQ(replica_sets().size(), 1u);
    EXPECT_TRUE(settled(2, "localhost:5000/x:1"));
    kubectl_ok("rollout resume deployment/web -n default");
    ASSERT_TRUE(rollout_status_ok());
    EXPECT_TRUE(eventually([&] { return settled(2, "localhost:5000/x:2"); }));
}

TEST_F(DeploymentTest, DeletingADeploymentRemovesItsReplicaSetsAndPods) {
    apply(manifest(2, "localhost:5000/x:1", "{}"));
    ASSERT_TRUE(rollout_status_ok());
    ASSERT_TRUE(eventually([&] { return settled(2, "localhost:5000/x:1"); }));
    kubectl_ok("delete deployment web -n default");
    EXPECT_TRUE(eventually([&] { return replica_sets().empty() && pods().empty(); },
                           std::chrono::seconds(60)))
        << "left: " << replica_sets().size() << " replica sets, " << pods().size() << " pods";
}

}  // namespace
}  // namespace kedge::controllers::test
