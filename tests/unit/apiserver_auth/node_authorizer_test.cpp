#include <gtest/gtest.h>

#include <atomic>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <thread>

#include "apiserver/auth/node_authorizer.hpp"

namespace kedge::apiserver::auth {
namespace {

boost::json::object obj(std::string_view json) { return boost::json::parse(json).as_object(); }

// p1 on node-a uses configmap cm1 (volume), secret s1 (env), pull secret "pull", claim "claim",
// service account sa1; p2 on node-b uses secret s2.
const char* const kPodA = R"({"apiVersion":"v1","kind":"Pod",
  "metadata":{"name":"p1","namespace":"ns"},
  "spec":{"nodeName":"node-a","serviceAccountName":"sa1",
    "imagePullSecrets":[{"name":"pull"}],
    "volumes":[{"name":"v","configMap":{"name":"cm1"}},
               {"name":"d","persistentVolumeClaim":{"claimName":"claim"}}],
    "containers":[{"name":"c","image":"i",
      "env":[{"name":"E","valueFrom":{"secretKeyRef":{"name":"s1","key":"k"}}}]}]}})";
const char* const kPodB = R"({"apiVersion":"v1","kind":"Pod",
  "metadata":{"name":"p2","namespace":"ns"},
  "spec":{"nodeName":"node-b",
    "volumes":[{"name":"v","secret":{"secretName":"s2"}}],
    "containers":[{"name":"c","image":"i"}]}})";

UserInfo node_user(std::string_view n) {
    return UserInfo{
        "system:node:" + std::string(n), "", {"system:nodes", "system:authenticated"}, {}};
}

class NodeAuthorizerTest : public ::testing::Test {
protected:
    NodeAuthorizerTest() : graph_(std::make_shared<InMemoryNodeGraph>()), authz_(graph_) {
        graph_->on_pod_event(obj(kPodA), false);
        graph_->on_pod_event(obj(kPodB), false);
    }
    Decision a(const Attributes& attrs) const {
        return authz_.authorize(node_user("node-a"), attrs);
    }

    std::shared_ptr<InMemoryNodeGraph> graph_;
    NodeAuthorizer authz_;
};

Attributes res(std::string_view verb, std::string_view group, std::string_view ns,
               std::string_view resource, std::string_view sub = {}, std::string_view name = {}) {
    return resource_attributes(verb, group, ns, resource, sub, name);
}

TEST_F(NodeAuthorizerTest, IgnoresUsersThatAreNotNodes) {
    UserInfo alice{"alice", "", {"system:authenticated"}, {}};
    EXPECT_TRUE(authz_.authorize(alice, res("get", "", "ns", "secrets", "", "s1")).is_no_opinion());
    // The name alone is not enough: kube also requires group system:nodes.
    UserInfo fake{"system:node:node-a", "", {"system:authenticated"}, {}};
    EXPECT_TRUE(authz_.authorize(fake, res("get", "", "ns", "secrets", "", "s1")).is_no_opinion());
    UserInfo nameless{"system:node:", "", {"system:nodes"}, {}};
    Decision d = authz_.authorize(nameless, res("get", "", "", "nodes"));
    EXPECT_TRUE(d.is_no_opinion());
    EXPECT_NE(d.reason.find("unknown node"), std::string::npos);
}

TEST_F(NodeAuthorizerTest, ReadsWhatEveryNodeNeeds) {
    for (auto verb : {"get", "list", "watch"}) {
        EXPECT_TRUE(
            a(res(verb, "", "", "nodes", "", verb == std::string("get") ? "node-b" : "")).allowed())
            << verb;
        EXPECT_TRUE(a(res(verb, "", "ns", "pods")).allowed()) << verb;
        EXPECT_TRUE(a(res(verb, "", "", "pods")).allowed()) << verb;
        EXPECT_TRUE(a(res(verb, "", "ns", "services")).allowed()) << verb;
        EXPECT_TRUE(a(res(verb, "", "ns", "endpoints")).allowed()) << verb;
    }
    EXPECT_TRUE(a(res("create", "", "ns", "events")).allowed());
    EXPECT_TRUE(a(res("patch", "events.k8s.io", "ns", "events", "", "e")).allowed());
    EXPECT_TRUE(a(non_resource_attributes("get", "/healthz")).is_no_opinion());
    // Not in the node rules: left to RBAC.
    EXPECT_TRUE(a(res("delete", "", "ns", "services", "", "x")).is_no_opinion());
    EXPECT_TRUE(a(res("list", "", "", "namespaces")).is_no_opinion());
    EXPECT_TRUE(a(res("get", "", "ns", "pods", "log", "p1")).is_no_opinion());
}

TEST_F(NodeAuthorizerTest, SecretsAndConfigMapsOnlyWhenReferencedByOwnPods) {
    EXPECT_TRUE(a(res("get", "", "ns", "secrets", "", "s1")).allowed());
    EXPECT_TRUE(a(res("get", "", "ns", "secrets", "", "pull")).allowed());
    EXPECT_TRUE(a(res("get", "", "ns", "configmaps", "", "cm1")).allowed());
    EXPECT_TRUE(a(res("watch", "", "ns", "configmaps", "", "cm1")).allowed());

    Decision other = a(res("get", "", "ns", "secrets", "", "s2"));
    EXPECT_TRUE(other.is_no_opinion());
    EXPECT_NE(other.reason.find("no relationship"), std::string::npos) << other.reason;
    EXPECT_TRUE(a(res("get", "", "other", "secrets", "", "s1")).is_no_opinion());

    Decision all = a(res("list", "", "ns", "secrets"));
    EXPECT_TRUE(all.is_no_opinion());
    EXPECT_NE(all.reason.find("individual"), std::string::npos) << all.reason;
    EXPECT_TRUE(a(res("update", "", "ns", "secrets", "", "s1")).is_no_opinion());
    EXPECT_TRUE(a(res("get", "", "", "secrets", "", "s1")).is_no_opinion());

    // node-b sees its own secret and not node-a's.
    EXPECT_TRUE(
        authz_.authorize(node_user("node-b"), res("get", "", "ns", "secrets", "", "s2")).allowed());
    EXPECT_FALSE(
        authz_.authorize(node_user("node-b"), res("get", "", "ns", "secrets", "", "s1")).allowed());
}

TEST_F(NodeAuthorizerTest, PvcsAndServiceAccountTokensOnlyWhenReferenced) {
    EXPECT_TRUE(a(res("get", "", "ns", "persistentvolumeclaims", "", "claim")).allowed());
    EXPECT_TRUE(a(res("get", "", "ns", "persistentvolumeclaims", "", "other")).is_no_opinion());
    EXPECT_TRUE(a(res("list", "", "ns", "persistentvolumeclaims")).is_no_opinion());
    EXPECT_TRUE(a(res("create", "", "ns", "serviceaccounts", "token", "sa1")).allowed());
    EXPECT_TRUE(a(res("create", "", "ns", "serviceaccounts", "token", "default")).is_no_opinion());
    EXPECT_TRUE(a(res("get", "", "ns", "serviceaccounts", "", "sa1")).is_no_opinion());
    // p2 has no serviceAccountName: it runs as "default".
    EXPECT_TRUE(authz_
                    .authorize(node_user("node-b"),
                               res("create", "", "ns", "serviceaccounts", "token", "default"))
                    .allowed());
}

TEST_F(NodeAuthorizerTest, OwnNodeObjectOnly) {
    EXPECT_TRUE(a(res("update", "", "", "nodes", "", "node-a")).allowed());
    EXPECT_TRUE(a(res("patch", "", "", "nodes", "status", "node-a")).allowed());
    EXPECT_TRUE(a(res("create", "", "", "nodes")).allowed());  // name checked at admission

    Decision d = a(res("update", "", "", "nodes", "", "node-b"));
    EXPECT_TRUE(d.denied());
    EXPECT_NE(d.reason.find("own Node"), std::string::npos) << d.reason;
    EXPECT_NE(d.reason.find("rule: nodes own object"), std::string::npos) << d.reason;

    d = a(res("patch", "", "", "nodes", "status", "node-b"));
    EXPECT_TRUE(d.denied());
    EXPECT_NE(d.reason.find("rule: nodes/status own object"), std::string::npos) << d.reason;

    EXPECT_TRUE(a(res("delete", "", "", "nodes", "", "node-a")).is_no_opinion());
}

TEST_F(NodeAuthorizerTest, OwnLeaseOnly) {
    for (auto verb : {"get", "update", "patch", "delete"}) {
        EXPECT_TRUE(a(res(verb, "coordination.k8s.io", "kube-node-lease", "leases", "", "node-a"))
                        .allowed())
            << verb;
    }
    EXPECT_TRUE(a(res("create", "coordination.k8s.io", "kube-node-lease", "leases")).allowed());

    Decision d = a(res("update", "coordination.k8s.io", "kube-node-lease", "leases", "", "node-b"));
    EXPECT_TRUE(d.denied());
    EXPECT_NE(d.reason.find("own Lease"), std::string::npos) << d.reason;
    EXPECT_NE(d.reason.find("rule: node lease"), std::string::npos) << d.reason;

    d = a(res("update", "coordination.k8s.io", "default", "leases", "", "node-a"));
    EXPECT_TRUE(d.denied());
    EXPECT_NE(d.reason.find("kube-node-lease"), std::string::npos) << d.reason;

    EXPECT_TRUE(a(res("list", "coordination.k8s.io", "kube-node-lease", "leases")).is_no_opinion());
}

TEST_F(NodeAuthorizerTest, PodStatusAndDeleteOnlyForBoundPods) {
    EXPECT_TRUE(a(res("patch", "", "ns", "pods", "status", "p1")).allowed());
    EXPECT_TRUE(a(res("update", "", "ns", "pods", "status", "p1")).allowed());
    EXPECT_TRUE(a(res("delete", "", "ns", "pods", "", "p1")).allowed());
    EXPECT_TRUE(a(res("create", "", "ns", "pods", "eviction", "p1")).allowed());

    Decision d = a(res("patch", "", "ns", "pods", "status", "p2"));
    EXPECT_TRUE(d.denied());
    EXPECT_NE(d.reason.find("bound to node \"node-b\""), std::string::npos) << d.reason;
    EXPECT_NE(d.reason.find("rule: pods/status update/patch"), std::string::npos) << d.reason;

    d = a(res("delete", "", "ns", "pods", "", "p2"));
    EXPECT_TRUE(d.denied());
    EXPECT_NE(d.reason.find("rule: pods delete"), std::string::npos) << d.reason;
    EXPECT_TRUE(a(res("create", "", "ns", "pods", "eviction", "p2")).denied());

    // Unknown pods relate to no node: no opinion, so RBAC (usually: nobody) decides.
    EXPECT_TRUE(a(res("patch", "", "ns", "pods", "status", "ghost")).is_no_opinion());
    EXPECT_TRUE(a(res("update", "", "ns", "pods", "", "p1")).is_no_opinion());
}

TEST_F(NodeAuthorizerTest, GraphFollowsPodEvents) {
    EXPECT_EQ(graph_->pods_on_node("node-a"), std::vector<std::string>{"ns/p1"});
    // p1 moves to node-b (e.g. a rebind after delete/recreate): node-a loses everything.
    auto moved = obj(kPodA);
    moved["spec"].as_object()["nodeName"] = "node-b";
    graph_->on_pod_event(moved, false);
    EXPECT_TRUE(a(res("get", "", "ns", "secrets", "", "s1")).is_no_opinion());
    EXPECT_TRUE(a(res("patch", "", "ns", "pods", "status", "p1")).denied());
    EXPECT_EQ(graph_->pods_on_node("node-b"), (std::vector<std::string>{"ns/p1", "ns/p2"}));

    graph_->on_pod_event(moved, true);
    EXPECT_EQ(graph_->pod_count(), 1U);
    EXPECT_FALSE(graph_->pod_node("ns", "p1"));
    EXPECT_FALSE(graph_->node_references("node-b", NodeObjectKind::kSecret, "ns", "s1"));

    // A secret used by two pods stays readable until the last one goes.
    auto twin = obj(kPodB);
    twin["metadata"].as_object()["name"] = "p3";
    graph_->on_pod_event(twin, false);
    graph_->on_pod_event(obj(kPodB), true);
    EXPECT_TRUE(graph_->node_references("node-b", NodeObjectKind::kSecret, "ns", "s2"));
    graph_->on_pod_event(twin, true);
    EXPECT_FALSE(graph_->node_references("node-b", NodeObjectKind::kSecret, "ns", "s2"));

    // Unscheduled pods relate to nothing; reset replaces all.
    auto pending = obj(kPodA);
    pending["spec"].as_object().erase("nodeName");
    graph_->on_pod_event(pending, false);
    EXPECT_EQ(graph_->pod_count(), 0U);
    graph_->reset({obj(kPodA), obj(kPodB)});
    EXPECT_EQ(graph_->pod_count(), 2U);
    EXPECT_TRUE(a(res("get", "", "ns", "configmaps", "", "cm1")).allowed());
}

TEST_F(NodeAuthorizerTest, ConcurrentUpdatesAndQueries) {
    std::atomic<bool> stop{false};
    std::thread writer([&] {
        auto pod = obj(kPodA);
        for (int i = 0; i < 2000; ++i) graph_->on_pod_event(pod, i % 2 == 1);
        graph_->on_pod_event(pod, false);
        stop = true;
    });
    // Readers see either state, never a torn one (run under the asan/tsan presets).
    while (!stop) {
        Decision d = a(res("get", "", "ns", "secrets", "", "s1"));
        ASSERT_TRUE(d.allowed() || d.is_no_opinion());
    }
    writer.join();
    EXPECT_TRUE(a(res("get", "", "ns", "secrets", "", "s1")).allowed());
}

TEST(NodeRestriction, CreatesAreLimitedToOwnObjects) {
    UserInfo a = node_user("node-a");
    auto node_create = res("create", "", "", "nodes");
    EXPECT_TRUE(
        node_restriction_admit(a, node_create, obj(R"({"metadata":{"name":"node-a"}})")).allowed());
    Decision d = node_restriction_admit(a, node_create, obj(R"({"metadata":{"name":"node-b"}})"));
    EXPECT_TRUE(d.denied());
    EXPECT_NE(d.reason.find("own Node"), std::string::npos) << d.reason;

    auto lease_create = res("create", "coordination.k8s.io", "kube-node-lease", "leases");
    EXPECT_TRUE(
        node_restriction_admit(a, lease_create, obj(R"({"metadata":{"name":"node-b"}})")).denied());
    EXPECT_TRUE(node_restriction_admit(a, lease_create, obj(R"({"metadata":{"name":"node-a"}})"))
                    .allowed());

    auto pod_create = res("create", "", "ns", "pods");
    d = node_restriction_admit(a, pod_create,
                               obj(R"({"metadata":{"name":"x"},"spec":{"nodeName":"node-a"}})"));
    EXPECT_TRUE(d.denied());
    EXPECT_NE(d.reason.find("mirror"), std::string::npos) << d.reason;
    EXPECT_TRUE(
        node_restriction_admit(
            a, pod_create,
            obj(R"({"metadata":{"name":"x","annotations":{"kubernetes.io/config.mirror":"h"}},
                            "spec":{"nodeName":"node-b"}})"))
            .denied());
    EXPECT_TRUE(
        node_restriction_admit(
            a, pod_create,
            obj(R"({"metadata":{"name":"x","annotations":{"kubernetes.io/config.mirror":"h"}},
                            "spec":{"nodeName":"node-a"}})"))
            .allowed());

    UserInfo admin{"admin", "", {"system:masters"}, {}};
    EXPECT_TRUE(
        node_restriction_admit(admin, node_create, obj(R"({"metadata":{"name":"n"}})")).allowed());
}

}  // namespace
}  // namespace kedge::apiserver::auth
