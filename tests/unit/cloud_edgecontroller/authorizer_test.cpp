#include "cloud/edgecontroller/authorizer.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <map>

#include "bus/constants.hpp"

namespace kedge::cloud::edgecontroller {
namespace {

namespace json = boost::json;

// A cluster: pods ns/a-web (on A, uses cm ns/cfg, sa "robot"), ns/b-web (on B).
class Facts : public AuthzFacts {
public:
    std::optional<std::string> pod_node(std::string_view ns, std::string_view name) const override {
        auto it = pods.find(std::string(ns) + "/" + std::string(name));
        if (it == pods.end()) return std::nullopt;
        return it->second;
    }
    bool node_references(std::string_view node, const ObjectKey& o) const override {
        return node == "A" && o == ObjectKey{"configmap", "ns/cfg"};
    }
    bool node_uses_service_account(std::string_view node, std::string_view ns,
                                   std::string_view name) const override {
        return node == "A" && ns == "ns" && name == "robot";
    }
    std::map<std::string, std::string> pods{{"ns/a-web", "A"}, {"ns/b-web", "B"}};
};

Decision decide(std::string_view node, std::string op, std::string resource,
                json::value content = nullptr) {
    static Facts facts;
    auto msg = bus::Message::make("edged", "resource", op, resource,
                                  bus::Content::from_value(std::move(content)));
    auto ref = bus::parse_resource(resource);
    EXPECT_TRUE(ref) << resource;
    return authorize(node, msg, *ref, facts);
}

TEST(Authorize, OwnNodeAndLeaseOnly) {
    EXPECT_TRUE(decide("A", "insert", "null/node/A").allowed());
    EXPECT_TRUE(decide("A", "patch", "null/nodepatch/A").allowed());
    EXPECT_TRUE(decide("A", "update", "null/nodestatus/A").allowed());
    EXPECT_TRUE(decide("A", "query", "null/node/A").allowed());
    EXPECT_FALSE(decide("A", "patch", "null/nodepatch/B").allowed());
    EXPECT_FALSE(decide("A", "insert", "null/node/B").allowed());
    EXPECT_FALSE(decide("A", "query", "null/node/B").allowed());
    EXPECT_TRUE(decide("A", "update", "kube-node-lease/lease/A").allowed());
    EXPECT_FALSE(decide("A", "update", "kube-node-lease/lease/B").allowed());
    EXPECT_FALSE(decide("A", "update", "default/lease/A").allowed());
}

TEST(Authorize, PodStatusOnlyForPodsBoundToTheNode) {
    EXPECT_TRUE(decide("A", "patch", "ns/podpatch/a-web").allowed());
    auto d = decide("A", "patch", "ns/podpatch/b-web");
    EXPECT_EQ(d.verdict, Verdict::kDeny);
    EXPECT_NE(d.reason.find("not bound to this node"), std::string::npos) << d.reason;
    EXPECT_NE(d.reason.find("\"A\""), std::string::npos) << d.reason;
    EXPECT_EQ(decide("A", "patch", "ns/podpatch/missing").verdict, Verdict::kNotFound);
    EXPECT_FALSE(decide("A", "update", "ns/podstatus/b-web").allowed());
    EXPECT_TRUE(decide("A", "delete", "ns/pod/a-web").allowed());
    EXPECT_FALSE(decide("A", "delete", "ns/pod/b-web").allowed());
}

TEST(Authorize, OnlyMirrorPodsBoundToItselfMayBeCreated) {
    auto pod = [](std::string node, bool mirror, bool secret = false) {
        json::object p{{"apiVersion", "v1"},
                       {"kind", "Pod"},
                       {"metadata", json::object{{"name", "static-A"}, {"namespace", "ns"}}},
                       {"spec", json::object{{"nodeName", node},
                                             {"containers", json::array{json::object{
                                                                {"name", "c"}, {"image", "x"}}}}}}};
        if (mirror)
            p["metadata"].as_object()["annotations"] =
                json::object{{"kubernetes.io/config.mirror", "abc"}};
        if (secret)
            p["spec"].as_object()["volumes"] = json::array{json::object{
                {"name", "s"}, {"secret", json::object{{"secretName", "other"}}}}};
        return json::value(p);
    };
    EXPECT_TRUE(decide("A", "insert", "ns/pod/static-A", pod("A", true)).allowed());
    auto other = decide("A", "insert", "ns/pod/static-A", pod("B", true));
    EXPECT_FALSE(other.allowed());
    EXPECT_NE(other.reason.find("bound to itself"), std::string::npos) << other.reason;
    auto plain = decide("A", "insert", "ns/pod/static-A", pod("A", false));
    EXPECT_FALSE(plain.allowed());
    EXPECT_NE(plain.reason.find("mirror"), std::string::npos) << plain.reason;
    EXPECT_FALSE(decide("A", "insert", "ns/pod/static-A", pod("A", true, true)).allowed());
    EXPECT_FALSE(decide("A", "insert", "ns/pod/renamed", pod("A", true)).allowed());
}

TEST(Authorize, ReadsOnlyWhatItsPodsReference) {
    EXPECT_TRUE(decide("A", "query", "ns/configmap/cfg").allowed());
    EXPECT_FALSE(decide("B", "query", "ns/configmap/cfg").allowed());
    EXPECT_FALSE(decide("A", "query", "ns/secret/other").allowed());
    EXPECT_FALSE(decide("A", "update", "ns/configmap/cfg").allowed());  // read only
    EXPECT_TRUE(decide("A", "query", "ns/serviceaccounttoken/robot").allowed());
    EXPECT_FALSE(decide("B", "query", "ns/serviceaccounttoken/robot").allowed());
    // A token bound to another node's pod.
    json::object tr{{"spec", json::object{{"boundObjectRef",
                                           json::object{{"kind", "Pod"}, {"name", "b-web"}}}}}};
    EXPECT_FALSE(decide("A", "query", "ns/serviceaccounttoken/robot", tr).allowed());
}

TEST(Authorize, EventsOnlyAboutItselfAndItsPods) {
    auto ev = [](std::string kind, std::string name) {
        return json::object{
            {"metadata", json::object{{"namespace", "ns"}}},
            {"involvedObject", json::object{{"kind", kind}, {"name", name}, {"namespace", "ns"}}}};
    };
    EXPECT_TRUE(decide("A", "insert", "ns/event/e1", ev("Node", "A")).allowed());
    EXPECT_TRUE(decide("A", "insert", "ns/event/e1", ev("Pod", "a-web")).allowed());
    EXPECT_FALSE(decide("A", "insert", "ns/event/e1", ev("Node", "B")).allowed());
    EXPECT_FALSE(decide("A", "insert", "ns/event/e1", ev("Pod", "b-web")).allowed());
    EXPECT_FALSE(decide("A", "insert", "ns/event/e1", ev("Secret", "x")).allowed());
    EXPECT_FALSE(decide("A", "insert", "ns/event/e1", "not an object").allowed());
}

TEST(Authorize, UnknownTypesAreDenied) {
    EXPECT_FALSE(decide("A", "insert", "ns/deployment/x").allowed());
    EXPECT_FALSE(decide("A", "update", "ns/pod/a-web").allowed());
    EXPECT_FALSE(decide("A", "delete", "ns/service/s").allowed());
}

}  // namespace
}  // namespace kedge::cloud::edgecontroller
