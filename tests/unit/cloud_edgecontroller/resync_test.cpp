#include "cloud/edgecontroller/resync.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "bus/constants.hpp"
#include "hub/inventory.hpp"
#include "kube/object.hpp"

namespace kedge::cloud::edgecontroller {
namespace {

namespace json = boost::json;

ObjectPtr obj(const std::string& kind, const std::string& ns, const std::string& name,
              const std::string& rv) {
    json::object md{{"name", name}, {"resourceVersion", rv}, {"uid", "u-" + name}};
    if (!ns.empty()) md["namespace"] = ns;
    return std::make_shared<const json::object>(
        json::object{{"apiVersion", "v1"}, {"kind", kind}, {"metadata", md}});
}

TEST(ComputeDelta, InsertsUpdatesDeletesAndUnchanged) {
    ExpectedSet want;
    want["pod"]["ns/same"] = obj("Pod", "ns", "same", "10");
    want["pod"]["ns/changed"] = obj("Pod", "ns", "changed", "12");
    want["pod"]["ns/new"] = obj("Pod", "ns", "new", "13");
    want["node"]["n1"] = obj("Node", "", "n1", "5");
    hub::Inventory inv;
    inv.resources["pod"]["ns/same"] = "10";
    inv.resources["pod"]["ns/changed"] = "11";
    inv.resources["pod"]["ns/gone"] = "9";
    inv.resources["node"]["n1"] = "5";
    inv.resources["configmap"]["ns/stale"] = "3";
    inv.resources["device"]["ns/d"] = "1";  // another controller's: left alone

    auto d = compute_delta(inv, want);
    ASSERT_EQ(d.inserts.size(), 1u);
    EXPECT_EQ(kube::name(*d.inserts[0].object), "new");
    ASSERT_EQ(d.updates.size(), 1u);
    EXPECT_EQ(kube::name(*d.updates[0].object), "changed");
    ASSERT_EQ(d.deletes.size(), 2u);
    std::set<std::pair<std::string, std::string>> dels;
    for (auto& x : d.deletes) dels.insert({x.type, x.key});
    EXPECT_EQ(dels, (std::set<std::pair<std::string, std::string>>{{"pod", "ns/gone"},
                                                                   {"configmap", "ns/stale"}}));
    EXPECT_EQ(d.unchanged, 2u);
    EXPECT_EQ(d.summary(), (hub::ResyncSummary{1, 1, 2, 2}));
}

TEST(ComputeDelta, LevelNodeGetsNothing) {
    ExpectedSet want;
    hub::Inventory inv;
    for (int i = 0; i < 100; ++i) {
        auto k = "ns/p" + std::to_string(i);
        want["pod"][k] = obj("Pod", "ns", "p" + std::to_string(i), "7");
        inv.resources["pod"][k] = "7";
    }
    auto d = compute_delta(inv, want);
    EXPECT_TRUE(d.inserts.empty() && d.updates.empty() && d.deletes.empty());
    EXPECT_EQ(d.unchanged, 100u);
}

TEST(ComputeDelta, EmptyInventoryIsEverythingAsInserts) {
    ExpectedSet want;
    want["service"]["ns/s"] = obj("Service", "ns", "s", "1");
    want["endpoints"]["ns/s"] = obj("Endpoints", "ns", "s", "1");
    auto d = compute_delta({}, want);
    EXPECT_EQ(d.inserts.size(), 2u);
    EXPECT_EQ(full_delta(want).inserts.size(), 2u);
    EXPECT_EQ(expected_size(want), 2u);
}

TEST(Messages, ObjectMessageHasUpstreamShape) {
    auto pod = obj("Pod", "ns", "web", "42");
    auto m = object_message(bus::kOpInsert, "pod", *pod);
    EXPECT_EQ(m.route.source, "edgecontroller");
    EXPECT_EQ(m.route.group, "resource");
    EXPECT_EQ(m.route.operation, "insert");
    EXPECT_EQ(m.route.resource, "ns/pod/web");
    EXPECT_TRUE(m.route.destination.empty());
    EXPECT_EQ(m.header.resource_version, "42");
    auto node = obj("Node", "", "edge1", "3");
    EXPECT_EQ(object_message(bus::kOpUpdate, "node", *node).route.resource, "null/node/edge1");
    auto del = delete_by_key("configmap", "ns/cfg");
    EXPECT_EQ(del.route.resource, "ns/configmap/cfg");
    EXPECT_EQ(del.route.operation, "delete");
    auto v = del.content.value();
    ASSERT_TRUE(v);
    EXPECT_EQ((*v)->at("kind").as_string(), "ConfigMap");
}

TEST(Messages, ObjectRespCarriesErrStatus) {
    Error e(errc::not_found, "gone");
    auto c = object_resp(nullptr, &e, "pods", "web");
    auto v = c.value();
    ASSERT_TRUE(v);
    EXPECT_TRUE((*v)->at("Object").is_null());
    EXPECT_EQ((*v)->at("Err").at("ErrStatus").at("code").to_number<int>(), 404);
    auto ok = object_resp(obj("Pod", "ns", "web", "1").get()).value();
    EXPECT_TRUE((*ok)->at("Err").is_null());
    EXPECT_EQ((*ok)->at("Object").at("kind").as_string(), "Pod");
}

}  // namespace
}  // namespace kedge::cloud::edgecontroller
