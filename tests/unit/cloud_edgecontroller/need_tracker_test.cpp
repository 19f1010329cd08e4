#include "cloud/edgecontroller/need_tracker.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>

namespace kedge::cloud::edgecontroller {
namespace {

namespace json = boost::json;

ObjectKey cm(const std::string& k) { return {"configmap", k}; }
ObjectKey sec(const std::string& k) { return {"secret", k}; }

TEST(PodReferences, VolumesEnvAndPullSecretsInThePodsNamespace) {
    auto pod = json::parse(R"({"metadata":{"name":"p","namespace":"ns1"},
      "spec":{"volumes":[{"name":"v","configMap":{"name":"cfg"}},
                         {"name":"s","secret":{"secretName":"tls"}}],
              "imagePullSecrets":[{"name":"pull"}],
              "containers":[{"name":"c","env":[{"name":"E","valueFrom":
                  {"configMapKeyRef":{"name":"envcfg","key":"k"}}}]}]}})")
                   .as_object();
    std::set<ObjectKey> want{cm("ns1/cfg"), cm("ns1/envcfg"), sec("ns1/tls"), sec("ns1/pull")};
    EXPECT_EQ(pod_references(pod), want);
}

TEST(NeedTracker, SharedObjectStaysUntilTheLastPodOnThatNodeGoes) {
    NeedTracker t;
    auto c1 = t.set_pod("ns/a", "n1", {cm("ns/cfg")});
    ASSERT_EQ(c1.size(), 1u);
    EXPECT_EQ(c1[0].node, "n1");
    EXPECT_EQ(c1[0].added, std::vector<ObjectKey>{cm("ns/cfg")});
    EXPECT_TRUE(t.set_pod("ns/b", "n1", {cm("ns/cfg")}).empty());  // already needed on n1
    EXPECT_TRUE(t.needs("n1", cm("ns/cfg")));
    EXPECT_FALSE(t.needs("n2", cm("ns/cfg")));

    EXPECT_TRUE(t.remove_pod("ns/a").empty());  // b still needs it
    auto gone = t.remove_pod("ns/b");
    ASSERT_EQ(gone.size(), 1u);
    EXPECT_EQ(gone[0].removed, std::vector<ObjectKey>{cm("ns/cfg")});
    EXPECT_FALSE(t.needs("n1", cm("ns/cfg")));
    EXPECT_TRUE(t.nodes_needing(cm("ns/cfg")).empty());
}

TEST(NeedTracker, ObjectGoesOnlyToNodesWithAPodUsingIt) {
    NeedTracker t;
    t.set_pod("ns/a", "n1", {cm("ns/cfg")});
    t.set_pod("ns/b", "n2", {sec("ns/s")});
    EXPECT_EQ(t.nodes_needing(cm("ns/cfg")), std::vector<std::string>{"n1"});
    EXPECT_EQ(t.nodes_needing(sec("ns/s")), std::vector<std::string>{"n2"});
    EXPECT_EQ(t.needed_by("n1"), std::vector<ObjectKey>{cm("ns/cfg")});
}

TEST(NeedTracker, ReferenceChangeAndRebindReportBothSides) {
    NeedTracker t;
    t.set_pod("ns/a", "n1", {cm("ns/old")});
    auto ch = t.set_pod("ns/a", "n1", {cm("ns/new")});
    ASSERT_EQ(ch.size(), 1u);
    EXPECT_EQ(ch[0].added, std::vector<ObjectKey>{cm("ns/new")});
    EXPECT_EQ(ch[0].removed, std::vector<ObjectKey>{cm("ns/old")});

    auto moved = t.set_pod("ns/a", "n2", {cm("ns/new")});
    ASSERT_EQ(moved.size(), 2u);
    EXPECT_EQ(moved[0].node, "n1");
    EXPECT_EQ(moved[0].removed, std::vector<ObjectKey>{cm("ns/new")});
    EXPECT_EQ(moved[1].node, "n2");
    EXPECT_EQ(moved[1].added, std::vector<ObjectKey>{cm("ns/new")});
    EXPECT_EQ(t.node_of("ns/a"), "n2");
}

TEST(NeedTracker, UnboundPodsAreNotTracked) {
    NeedTracker t;
    EXPECT_TRUE(t.set_pod("ns/a", "", {cm("ns/cfg")}).empty());
    EXPECT_EQ(t.pod_count(), 0u);
    EXPECT_TRUE(t.remove_pod("ns/a").empty());
    EXPECT_TRUE(t.remove_pod("ns/never").empty());
}

}  // namespace
}  // namespace kedge::cloud::edgecontroller
