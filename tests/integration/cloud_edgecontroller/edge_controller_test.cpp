// The edge controller against the real kedge-apiserver, with a recording MessageSink standing in
// for the cloud hub: what reaches which node, upstream writes and denials, the inventory delta
// resync (no relist, no watch restart) and the ObjectSync path of upstream edges.
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <map>
#include <mutex>
#include <set>

#include "bus/constants.hpp"
#include "bus/resource.hpp"
#include "cloud/edgecontroller/edge_controller.hpp"
#include "hub/inventory.hpp"
#include "integration/kube_client/kube_client_fixture.hpp"
#include "kube/object.hpp"

namespace kedge::cloud::edgecontroller {
namespace {

namespace json = boost::json;
namespace kc = kube::client;
using kc::test::KubeClientFixture;
using namespace std::chrono_literals;

// Records what the controller sends; nodes are "connected" when the test says so.
class RecordingSink : public MessageSink {
public:
    Result<void> send(const std::string& node, bus::Message msg) override {
        std::lock_guard lock(mu_);
        if (!connected_.count(node)) return Error(errc::unavailable, node + " not connected");
        sent_[node].push_back(std::move(msg));
        return {};
    }
    bool is_connected(const std::string& node) const override {
        std::lock_guard lock(mu_);
        return connected_.count(node) > 0;
    }
    void set_connected(const std::string& node, bool on) {
        std::lock_guard lock(mu_);
        if (on)
            connected_.insert(node);
        else
            connected_.erase(node);
    }
    std::vector<bus::Message> messages(const std::string& node) const {
        std::lock_guard lock(mu_);
        auto it = sent_.find(node);
        return it == sent_.end() ? std::vector<bus::Message>{} : it->second;
    }
    void clear(const std::string& node) {
        std::lock_guard lock(mu_);
        sent_.erase(node);
    }

private:
    mutable std::mutex mu_;
    std::set<std::string> connected_;
    std::map<std::string, std::vector<bus::Message>> sent_;
};

bool has(const std::vector<bus::Message>& msgs, std::string_view op, std::string_view resource) {
    for (const auto& m : msgs)
        if (m.operation() == op && m.resource() == resource) return true;
    return false;
}

bool mentions(const std::vector<bus::Message>& msgs, std::string_view resource) {
    for (const auto& m : msgs)
        if (m.resource() == resource) return true;
    return false;
}

const bus::Message* reply_to(const std::vector<bus::Message>& msgs, const bus::Message& req) {
    for (const auto& m : msgs)
        if (m.parent_id() == req.id()) return &m;
    return nullptr;
}

class EdgeControllerTest : public KubeClientFixture {
protected:
    void SetUp() override {
        KubeClientFixture::SetUp();
        if (HasFatalFailure()) return;
        for (const char* f : {"objectsync_v1alpha1.yaml", "clusterobjectsync_v1alpha1.yaml"}) {
            auto r = kedge::test::run_command(
                "kubectl --kubeconfig " + kubeconfig() + " --request-timeout=20s apply -f " +
                kedge::test::source_path(std::string("deploy/crds/reliablesyncs/") + f));
            ASSERT_EQ(r.exit_code, 0) << r.output;
        }
        client_ = make_client(1000, 2000);
        create_namespace(*client_, "ns");
        create_node("edge-a");
        create_node("edge-b");
        factory_ = std::make_unique<kc::InformerFactory>(loop_.executor(), client_);
        EdgeControllerOptions opts = options();
        controller_ = loop_.call(
            [&] { return EdgeController::make(loop_.executor(), client_, *factory_, opts); });
        controller_->attach(sink_);
        loop_.call([&] {
            factory_->start_all();
            return 0;
        });
        controller_->start();
        // The object-sync CRD informers may need a moment after the CRDs were applied.
        ASSERT_TRUE(loop_.run(factory_->wait_synced(30s)));
    }

    virtual EdgeControllerOptions options() const {
        EdgeControllerOptions opts;
        opts.cloudcore_id = "cc-1";
        opts.inventory_wait = 300ms;
        return opts;
    }

    void TearDown() override {
        if (controller_) controller_->stop();
        if (factory_)
            loop_.call([&] {
                factory_->stop_all();
                return 0;
            });
        KubeClientFixture::TearDown();
    }

    void create_node(const std::string& name, bool annotated = true) {
        json::object md{{"name", name},
                        {"labels", json::object{{"node-role.kubernetes.io/edge", ""}}}};
        if (annotated) md["annotations"] = json::object{{"kedge.io/cloudcore", "cc-1"}};
        auto r = loop_.run(client_->create(
            kc::resources::nodes(), {},
            json::object{{"apiVersion", "v1"}, {"kind", "Node"}, {"metadata", md}}));
        ASSERT_TRUE(r) << r.error().message();
    }

    json::object create(const kc::ApiResource& res, json::object obj) {
        auto r = loop_.run(client_->create(res, "ns", obj));
        EXPECT_TRUE(r) << r.error().message();
        return r ? *r : json::object{};
    }

    void remove_pod(const std::string& name) {
        kc::DeleteOptions o;
        o.grace_period_seconds = 0;
        auto r = loop_.run(client_->remove(kc::resources::pods(), "ns", name, o));
        ASSERT_TRUE(r) << r.error().message();
    }

    static json::object pod_using(const std::string& name, const std::string& node,
                                  const std::string& cm) {
        auto p = pod("ns", name, node);
        p["spec"].as_object()["volumes"] =
            json::array{json::object{{"name", "v"}, {"configMap", json::object{{"name", cm}}}}};
        return p;
    }

    // Connects node; with an inventory when one is given (a kedge edge).
    void connect(const std::string& node, const hub::Inventory* inventory = nullptr) {
        sink_->set_connected(node, true);
        controller_->node_connected(node);
        if (inventory) controller_->upstream(node, hub::make_inventory_message(node, *inventory));
    }
    void disconnect(const std::string& node) {
        sink_->set_connected(node, false);
        controller_->node_disconnected(node);
    }

    bool wait_for(const std::string& node, std::string_view op, std::string_view resource) {
        return kedge::test::wait_until([&] { return has(sink_->messages(node), op, resource); },
                                       20s);
    }

    // Sends an upstream message from node and waits for its reply.
    bus::Message request(const std::string& node, bus::Message msg) {
        controller_->upstream(node, msg);
        bus::Message out;
        bool got = kedge::test::wait_until(
            [&] {
                auto msgs = sink_->messages(node);
                if (auto* r = reply_to(msgs, msg)) {
                    out = *r;
                    return true;
                }
                return false;
            },
            20s);
        EXPECT_TRUE(got) << "no reply to " << msg.operation() << " " << msg.resource();
        return out;
    }

    // What an edge that stored every message node received would report.
    hub::Inventory inventory_of(const std::string& node) {
        hub::Inventory inv;
        for (const auto& m : sink_->messages(node)) {
            auto ref = bus::parse_resource(m.resource());
            if (!ref || ref->type == "inventory" || m.is_response()) continue;
            std::string key = ref->ns.empty() ? ref->name : ref->ns + "/" + ref->name;
            if (m.operation() == bus::kOpDelete)
                inv.resources[ref->type].erase(key);
            else
                inv.resources[ref->type][key] = m.header.resource_version;
        }
        return inv;
    }

    std::shared_ptr<kc::Client> client_;
    std::unique_ptr<kc::InformerFactory> factory_;
    std::shared_ptr<RecordingSink> sink_ = std::make_shared<RecordingSink>();
    std::shared_ptr<EdgeController> controller_;
};

TEST_F(EdgeControllerTest, PodAndItsConfigMapReachOnlyTheirNode) {
    hub::Inventory empty;
    connect("edge-a", &empty);
    connect("edge-b", &empty);
    ASSERT_TRUE(
        kedge::test::wait_until([&] { return controller_->stats().resyncs_inventory == 2; }, 20s));

    create(kc::resources::config_maps(), config_map("ns", "cfg-a", {{"k", "v"}}));
    create(kc::resources::pods(), pod_using("web", "edge-a", "cfg-a"));
    ASSERT_TRUE(wait_for("edge-a", "insert", "ns/pod/web"));
    ASSERT_TRUE(wait_for("edge-a", "insert", "ns/configmap/cfg-a"));
    // The configmap went before the pod that needs it.
    auto a = sink_->messages("edge-a");
    auto pos = [&](std::string_view res) {
        for (std::size_t i = 0; i < a.size(); ++i)
            if (a[i].resource() == res) return i;
        return a.size();
    };
    EXPECT_LT(pos("ns/configmap/cfg-a"), pos("ns/pod/web"));
    for (const auto& m : a) {
        if (m.resource() != "ns/pod/web") continue;
        EXPECT_EQ(m.source(), "edgecontroller");
        EXPECT_EQ(m.group(), "resource");
        EXPECT_FALSE(m.header.resource_version.empty());
        auto v = m.content.value();
        ASSERT_TRUE(v);
        EXPECT_EQ((*v)->at("kind").as_string(), "Pod");
        EXPECT_EQ((*v)->at("apiVersion").as_string(), "v1");
    }

    // A change of the configmap follows it to A only.
    auto upd = loop_.run(client_->patch(kc::resources::config_maps(), "ns", "cfg-a",
                                        kube::PatchType::kMergePatch, R"({"data":{"k":"v2"}})"));
    ASSERT_TRUE(upd);
    ASSERT_TRUE(wait_for("edge-a", "update", "ns/configmap/cfg-a"));

    remove_pod("web");
    ASSERT_TRUE(wait_for("edge-a", "delete", "ns/pod/web"));
    ASSERT_TRUE(wait_for("edge-a", "delete", "ns/configmap/cfg-a"));
    // Events for both nodes run on one executor in order: B's share would be there by now.
    auto b = sink_->messages("edge-b");
    EXPECT_FALSE(mentions(b, "ns/pod/web"));
    EXPECT_FALSE(mentions(b, "ns/configmap/cfg-a"));
}

TEST_F(EdgeControllerTest, EdgePatchesItsPodStatusButNotAnotherNodes) {
    create(kc::resources::pods(), pod("ns", "a-web", "edge-a"));
    create(kc::resources::pods(), pod("ns", "b-web", "edge-b"));
    hub::Inventory empty;
    connect("edge-a", &empty);
    ASSERT_TRUE(wait_for("edge-a", "insert", "ns/pod/a-web"));

    std::string patch =
        R"({"status":{"phase":"Running","conditions":[{"type":"Ready","status":"True"}]}})";
    auto req = bus::Message::make("edged", "resource", "patch", "ns/podpatch/a-web",
                                  bus::Content::from_string(patch));
    auto resp = request("edge-a", req);
    EXPECT_EQ(resp.operation(), "response");
    EXPECT_EQ(resp.resource(), "ns/podpatch/a-web");
    EXPECT_EQ(resp.source(), "edgecontroller");
    auto body = resp.content.value();
    ASSERT_TRUE(body);
    EXPECT_TRUE((*body)->at("Err").is_null()) << json::serialize(**body);
    EXPECT_EQ((*body)->at("Object").at("status").at("phase").as_string(), "Running");
    auto got = loop_.run(client_->get(kc::resources::pods(), "ns", "a-web"));
    ASSERT_TRUE(got);
    EXPECT_EQ(kube::get_path_string(*got, "status.phase"), "Running");
    EXPECT_EQ(resp.header.resource_version, std::string(kube::resource_version(*got)));

    auto evil = bus::Message::make("edged", "resource", "patch", "ns/podpatch/b-web",
                                   bus::Content::from_string(patch));
    auto denied = request("edge-a", evil);
    EXPECT_EQ(denied.operation(), "error");
    auto reason = denied.content.as_string();
    ASSERT_TRUE(reason);
    EXPECT_NE(reason->find("not bound to this node"), std::string::npos) << *reason;
    EXPECT_EQ(controller_->stats().denials, 1u);
    auto b = loop_.run(client_->get(kc::resources::pods(), "ns", "b-web"));
    ASSERT_TRUE(b);
    EXPECT_NE(kube::get_path_string(*b, "status.phase"), "Running");

    // A pod that does not exist: upstream's ObjectResp with a 404 ErrStatus.
    auto missing =
        request("edge-a", bus::Message::make("edged", "resource", "patch", "ns/podpatch/nope",
                                             bus::Content::from_string(patch)));
    auto mb = missing.content.value();
    ASSERT_TRUE(mb);
    EXPECT_EQ((*mb)->at("Err").at("ErrStatus").at("code").to_number<int>(), 404);
}

TEST_F(EdgeControllerTest, RegistrationLeaseAndNodeWritesAreScopedToTheNode) {
    sink_->set_connected("edge-c", true);
    controller_->node_connected("edge-c");
    json::object node{
        {"apiVersion", "v1"}, {"kind", "Node"}, {"metadata", json::object{{"name", "edge-c"}}}};
    auto reg =
        request("edge-c", bus::Message::make("edged", "resource", "insert", "null/node/edge-c",
                                             bus::Content::from_value(node)));
    EXPECT_EQ(reg.operation(), "response");
    EXPECT_TRUE(reg.content.string_equals("OK"));
    auto c = loop_.run(client_->get(kc::resources::nodes(), {}, "edge-c"));
    ASSERT_TRUE(c) << c.error().message();
    EXPECT_TRUE(kube::label(*c, "node-role.kubernetes.io/edge"));
    EXPECT_EQ(kube::annotation(*c, "kedge.io/cloudcore"), "cc-1");

    json::object lease{
        {"apiVersion", "coordination.k8s.io/v1"},
        {"kind", "Lease"},
        {"metadata", json::object{{"name", "edge-c"}, {"namespace", "kube-node-lease"}}},
        {"spec", json::object{{"holderIdentity", "edge-c"}, {"leaseDurationSeconds", 40}}}};
    for (int i = 0; i < 2; ++i) {  // create, then renew
        auto lr = request("edge-c", bus::Message::make("edged", "resource", "update",
                                                       "kube-node-lease/lease/edge-c",
                                                       bus::Content::from_value(lease)));
        auto lb = lr.content.value();
        ASSERT_TRUE(lb);
        EXPECT_TRUE((*lb)->at("Err").is_null()) << json::serialize(**lb);
        EXPECT_EQ((*lb)->at("Object").at("spec").at("holderIdentity").as_string(), "edge-c");
    }

    auto np = request(
        "edge-c",
        bus::Message::make("edged", "resource", "patch", "null/nodepatch/edge-c",
                           bus::Content::from_string(
                               R"({"status":{"conditions":[{"type":"Ready","status":"True"}]}})")));
    auto nb = np.content.value();
    ASSERT_TRUE(nb);
    EXPECT_TRUE((*nb)->at("Err").is_null()) << json::serialize(**nb);

    auto other =
        request("edge-c", bus::Message::make("edged", "resource", "patch", "null/nodepatch/edge-b",
                                             bus::Content::from_string("{}")));
    EXPECT_EQ(other.operation(), "error");
    auto lease_b = request(
        "edge-c", bus::Message::make("edged", "resource", "update", "kube-node-lease/lease/edge-b",
                                     bus::Content::from_value(lease)));
    EXPECT_EQ(lease_b.operation(), "error");
    auto secret =
        request("edge-c", bus::Message::make("edged", "resource", "query", "ns/secret/anything"));
    EXPECT_EQ(secret.operation(), "error");
    EXPECT_EQ(controller_->stats().denials, 3u);

    // A registered node that connects is annotated with the cloudcore holding it.
    create_node("edge-d", /*annotated=*/false);
    connect("edge-d");
    ASSERT_TRUE(kedge::test::wait_until(
        [&] {
            auto d = loop_.run(client_->get(kc::resources::nodes(), {}, "edge-d"));
            return d && kube::annotation(*d, "kedge.io/cloudcore") == "cc-1";
        },
        20s));
}

TEST_F(EdgeControllerTest, QueriesEventsAndBadInputFromANode) {
    create(kc::resources::config_maps(), config_map("ns", "cfg-a", {{"k", "v"}}));
    create(kc::resources::config_maps(), config_map("ns", "cfg-b", {{"k", "v"}}));
    create(kc::resources::pods(), pod_using("a-web", "edge-a", "cfg-a"));
    create(kc::resources::pods(), pod_using("b-web", "edge-b", "cfg-b"));
    hub::Inventory empty;
    connect("edge-a", &empty);
    ASSERT_TRUE(wait_for("edge-a", "insert", "ns/pod/a-web"));

    auto mine = request(
        "edge-a", bus::Message::make("metamanager", "resource", "query", "ns/configmap/cfg-a"));
    EXPECT_EQ(mine.operation(), "response");
    auto body = mine.content.value();
    ASSERT_TRUE(body);
    EXPECT_EQ((*body)->at("data").at("k").as_string(), "v");
    EXPECT_FALSE(mine.header.resource_version.empty());
    auto theirs = request(
        "edge-a", bus::Message::make("metamanager", "resource", "query", "ns/configmap/cfg-b"));
    EXPECT_EQ(theirs.operation(), "error");

    auto event = [](std::string name, std::string kind, std::string obj) {
        return json::object{
            {"apiVersion", "v1"},
            {"kind", "Event"},
            {"metadata", json::object{{"name", name}, {"namespace", "ns"}}},
            {"involvedObject", json::object{{"kind", kind}, {"name", obj}, {"namespace", "ns"}}},
            {"reason", "Started"},
            {"message", "started"}};
    };
    auto ok = request("edge-a",
                      bus::Message::make("edged", "resource", "insert", "ns/event/e1",
                                         bus::Content::from_value(event("e1", "Pod", "a-web"))));
    auto ob = ok.content.value();
    ASSERT_TRUE(ob);
    EXPECT_TRUE((*ob)->at("Err").is_null()) << json::serialize(**ob);
    EXPECT_TRUE(loop_.run(client_->get(kc::resources::events(), "ns", "e1")));
    auto bad = request("edge-a",
                       bus::Message::make("edged", "resource", "insert", "ns/event/e2",
                                          bus::Content::from_value(event("e2", "Pod", "b-web"))));
    EXPECT_EQ(bad.operation(), "error");
    EXPECT_FALSE(loop_.run(client_->get(kc::resources::events(), "ns", "e2")));

    // A malformed resource string and a cloud module as source: rejected, nothing else changes.
    auto garbage = request("edge-a", bus::Message::make("edged", "resource", "patch", "//",
                                                        bus::Content::from_string("{}")));
    EXPECT_EQ(garbage.operation(), "error");
    controller_->upstream(
        "edge-a", bus::Message::make("edgecontroller", "resource", "patch", "ns/podpatch/a-web"));
    ASSERT_TRUE(
        kedge::test::wait_until([&] { return controller_->stats().bad_messages == 2; }, 20s));
    auto again = request(
        "edge-a", bus::Message::make("metamanager", "resource", "query", "ns/configmap/cfg-a"));
    EXPECT_EQ(again.operation(), "response");
}

TEST_F(EdgeControllerTest, DeltaResyncSendsExactlyTheChangesWithoutRelisting) {
    hub::Inventory empty;
    connect("edge-a", &empty);
    ASSERT_TRUE(
        kedge::test::wait_until([&] { return controller_->stats().resyncs_inventory == 1; }, 20s));
    for (int i = 0; i < 100; ++i)
        create(kc::resources::pods(), pod("ns", "p" + std::to_string(i), "edge-a"));
    ASSERT_TRUE(wait_for("edge-a", "insert", "ns/pod/p99"));
    auto pods = factory_->get(kc::resources::pods());
    auto before = inventory_of("edge-a");
    ASSERT_GE(before.resources["pod"].size(), 100u);
    disconnect("edge-a");

    for (int i = 0; i < 5; ++i) {
        auto r = loop_.run(client_->patch(kc::resources::pods(), "ns", "p" + std::to_string(i),
                                          kube::PatchType::kMergePatch,
                                          R"({"metadata":{"labels":{"changed":"yes"}}})"));
        ASSERT_TRUE(r) << r.error().message();
    }
    remove_pod("p50");
    ASSERT_TRUE(kedge::test::wait_until(
        [&] {
            return loop_.call([&] {
                auto p4 = pods->store().get("ns/p4");
                return !pods->store().get("ns/p50") && p4 && kube::label(*p4, "changed");
            });
        },
        20s));
    auto stats = pods->stats();
    auto lists = client_->requests_sent("list");
    auto watches = client_->requests_sent("watch");

    sink_->clear("edge-a");
    connect("edge-a", &before);
    ASSERT_TRUE(
        kedge::test::wait_until([&] { return controller_->stats().resyncs_inventory == 2; }, 20s));
    auto msgs = sink_->messages("edge-a");
    ASSERT_FALSE(msgs.empty());
    ASSERT_TRUE(hub::is_resync_response(msgs.back()));
    auto sum = hub::parse_resync_response(msgs.back());
    ASSERT_TRUE(sum);
    EXPECT_EQ(sum->inserted, 0u);
    EXPECT_EQ(sum->updated, 5u);
    EXPECT_EQ(sum->deleted, 1u);
    EXPECT_EQ(sum->unchanged, hub::Inventory(before).size() - 6);
    ASSERT_EQ(msgs.size(), 7u);  // exactly 6 object messages + the response
    int updates = 0, deletes = 0;
    for (std::size_t i = 0; i + 1 < msgs.size(); ++i) {
        updates += msgs[i].operation() == "update";
        if (msgs[i].operation() == "delete") {
            ++deletes;
            EXPECT_EQ(msgs[i].resource(), "ns/pod/p50");
        }
    }
    EXPECT_EQ(updates, 5);
    EXPECT_EQ(deletes, 1);
    // Served from the cache: no list, no new watch.
    EXPECT_EQ(client_->requests_sent("list"), lists);
    EXPECT_EQ(client_->requests_sent("watch"), watches);
    EXPECT_EQ(pods->stats().lists, stats.lists);
    EXPECT_EQ(pods->stats().watches, stats.watches);
}

TEST_F(EdgeControllerTest, UpstreamEdgeWithoutInventoryConvergesThroughObjectSync) {
    auto p = create(kc::resources::pods(), pod("ns", "b-web", "edge-b"));
    connect("edge-b");  // no inventory: full sync after the wait
    ASSERT_TRUE(wait_for("edge-b", "insert", "ns/pod/b-web"));
    EXPECT_EQ(controller_->stats().resyncs_full, 1u);
    EXPECT_TRUE(mentions(sink_->messages("edge-b"), "null/node/edge-b"));
    // The edge acks everything it stored.
    for (const auto& m : sink_->messages("edge-b")) controller_->acked("edge-b", m);
    std::string name = "edge-b." + std::string(kube::uid(p));
    ASSERT_TRUE(kedge::test::wait_until(
        [&] {
            auto s = loop_.run(client_->get(kc::resources::object_syncs(), "ns", name));
            return s && kube::get_path_string(*s, "status.objectResourceVersion") ==
                            std::string(kube::resource_version(p));
        },
        20s))
        << "no ObjectSync " << name;
    auto sync = loop_.run(client_->get(kc::resources::object_syncs(), "ns", name));
    ASSERT_TRUE(sync);
    EXPECT_EQ(kube::get_path_string(*sync, "spec.objectKind"), "Pod");
    EXPECT_EQ(kube::get_path_string(*sync, "spec.objectName"), "b-web");
    EXPECT_EQ(kube::get_path_string(*sync, "spec.objectAPIVersion"), "v1");

    // Offline, the pod goes; on reconnect the edge is told to delete it (from the ObjectSync).
    disconnect("edge-b");
    remove_pod("b-web");
    auto syncs = factory_->get(kc::resources::object_syncs());
    ASSERT_TRUE(kedge::test::wait_until(
        [&] {
            return loop_.call([&] {
                return syncs->store().get("ns/" + name) != nullptr &&
                       !factory_->get(kc::resources::pods())->store().get("ns/b-web");
            });
        },
        20s));
    sink_->clear("edge-b");
    connect("edge-b");
    ASSERT_TRUE(wait_for("edge-b", "delete", "ns/pod/b-web"));
    EXPECT_EQ(controller_->stats().resyncs_full, 2u);
}

}  // namespace
}  // namespace kedge::cloud::edgecontroller

namespace kedge::cloud::edgecontroller {
namespace {

// modules.cloudHub.authorization.debug: denials are logged, not enforced (upstream's switch).
class EdgeControllerAuthzDebugTest : public EdgeControllerTest {
  protected:
    EdgeControllerOptions options() const override {
        auto o = EdgeControllerTest::options();
        o.authorization_debug = true;
        return o;
    }
};

TEST_F(EdgeControllerAuthzDebugTest, DenialsAreOnlyLogged) {
    create(kc::resources::pods(), pod("ns", "b-web", "edge-b"));
    hub::Inventory empty;
    connect("edge-b", &empty);
    ASSERT_TRUE(wait_for("edge-b", "insert", "ns/pod/b-web"));  // the controller has seen it
    connect("edge-a", &empty);
    std::string patch = R"({"status":{"phase":"Running"}})";
    auto resp = request("edge-a", bus::Message::make("edged", "resource", "patch",
                                                     "ns/podpatch/b-web",
                                                     bus::Content::from_string(patch)));
    EXPECT_EQ(resp.operation(), "response");
    EXPECT_EQ(controller_->stats().denials, 0u);
    auto b = loop_.run(client_->get(kc::resources::pods(), "ns", "b-web"));
    ASSERT_TRUE(b);
    EXPECT_EQ(kube::get_path_string(*b, "status.phase"), "Running");
}

}  // namespace
}  // namespace kedge::cloud::edgecontroller

namespace kedge::cloud::edgecontroller {
namespace {

// A node that floods upstream requests gets `error` answers beyond max_upstream_in_flight
// instead of an ever-growing pile of API calls; the requests it is allowed still work.
class EdgeControllerThrottleTest : public EdgeControllerTest {
  protected:
    EdgeControllerOptions options() const override {
        auto o = EdgeControllerTest::options();
        o.max_upstream_in_flight = 1;
        return o;
    }
};

TEST_F(EdgeControllerThrottleTest, FloodBeyondTheInFlightLimitIsRefusedNotQueued) {
    create(kc::resources::pods(), pod("ns", "a-web", "edge-a"));
    hub::Inventory empty;
    connect("edge-a", &empty);
    ASSERT_TRUE(wait_for("edge-a", "insert", "ns/pod/a-web"));
    std::string patch = R"({"status":{"phase":"Running"}})";
    std::vector<bus::Message> flood;
    for (int i = 0; i < 20; ++i) {
        flood.push_back(bus::Message::make("edged", "resource", "patch", "ns/podpatch/a-web",
                                           bus::Content::from_string(patch)));
        controller_->upstream("edge-a", flood.back());
    }
    // Every request is answered: served, or refused with the reason.
    ASSERT_TRUE(kedge::test::wait_until(
        [&] {
            auto msgs = sink_->messages("edge-a");
            for (const auto& m : flood)
                if (!reply_to(msgs, m)) return false;
            return true;
        },
        20s));
    auto msgs = sink_->messages("edge-a");
    int refused = 0, served = 0;
    for (const auto& m : flood) {
        const auto* r = reply_to(msgs, m);
        if (r->operation() == "error") {
            ++refused;
            auto reason = r->content.as_string();
            ASSERT_TRUE(reason);
            EXPECT_NE(reason->find("too many requests in flight"), std::string::npos) << *reason;
        } else {
            ++served;
        }
    }
    EXPECT_GT(refused, 0);
    EXPECT_GT(served, 0);
    EXPECT_EQ(controller_->stats().upstream_throttled, static_cast<std::uint64_t>(refused));
    auto got = loop_.run(client_->get(kc::resources::pods(), "ns", "a-web"));
    ASSERT_TRUE(got);
    EXPECT_EQ(kube::get_path_string(*got, "status.phase"), "Running");
}

}  // namespace
}  // namespace kedge::cloud::edgecontroller
