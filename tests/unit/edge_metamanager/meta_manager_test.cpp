// The meta manager on a real bus::Context and a real MetaStore (SQLite in a TempDir); the edge
// hub is replaced by a recording module named "websocket" that plays the cloud.

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/json.hpp>

#include <functional>
#include <mutex>
#include <thread>

#include "bus/constants.hpp"
#include "bus/context.hpp"
#include "edge/edged/node_status.hpp"
#include "edge/edgehub/edge_hub.hpp"
#include "edge/metamanager/meta_manager.hpp"
#include "edge/metamanager/remote_write.hpp"
#include "support/bus_modules.hpp"
#include "support/test_support.hpp"

namespace kedge::edge {
namespace {

namespace asio = boost::asio;
namespace json = boost::json;
using namespace std::chrono_literals;

class MetaManagerTest : public ::testing::Test {
protected:
    void SetUp() override {
        store_ = MetaStore::open(dir_.file("edge.db")).value();
        ctx_ = std::make_unique<bus::Context>(ioc_.get_executor());
        hub_ = std::make_shared<kedge::test::RecordingModule>(std::string(bus::kModuleEdgeHub),
                                                              std::string(bus::kGroupHub));
        hub_->answer = [](const bus::Message& m) -> std::optional<bus::Message> {
            return bus::make_response(m, bus::Content::from_string("OK"));
        };
        MetaManagerOptions o;
        o.node = "edge-1";
        o.upstream_timeout = 2s;
        o.remote_query_timeout = 2s;
        meta_ = std::make_shared<MetaManager>(o, store_);
        ASSERT_TRUE(ctx_->add_module(hub_));
        ASSERT_TRUE(ctx_->add_module(meta_));
        ctx_->start_modules();
        runner_ = std::thread([this] { ioc_.run(); });
    }
    void TearDown() override {
        ctx_->shutdown();
        guard_.reset();
        ioc_.stop();
        runner_.join();
        ctx_.reset();
    }

    void to_meta(bus::Message m) { ASSERT_TRUE(ctx_->send(bus::kModuleMetaManager, std::move(m))); }
    void connection(std::string_view state) {
        to_meta(bus::Message::make("edgehub", "resource", "publish",
                                   std::string(kConnectionResource),
                                   bus::Content::from_string(state)));
        ASSERT_TRUE(kedge::test::wait_until(
            [&] { return meta_->cloud_connected() == (state == kCloudConnected); }, 5s));
    }
    static bus::Message pod_insert(const std::string& name, const std::string& rv = "10") {
        json::object pod{{"apiVersion", "v1"},
                         {"kind", "Pod"},
                         {"metadata", json::object{{"name", name},
                                                   {"namespace", "default"},
                                                   {"resourceVersion", rv}}}};
        return bus::Message::make("edgecontroller", "resource", "insert", "default/pod/" + name,
                                  bus::Content::encoded(pod))
            .with_resource_version(rv);
    }
    std::vector<bus::Message> hub_messages(std::string_view op, std::string_view resource = {}) {
        std::vector<bus::Message> out;
        for (auto& m : hub_->messages())
            if (m.operation() == op && (resource.empty() || m.resource() == resource))
                out.push_back(m);
        return out;
    }
    template <class T>
    T run(asio::awaitable<T> aw) {
        return asio::co_spawn(ioc_, std::move(aw), asio::use_future).get();
    }

    kedge::test::TempDir dir_;
    asio::io_context ioc_;
    asio::executor_work_guard<asio::io_context::executor_type> guard_{ioc_.get_executor()};
    std::shared_ptr<MetaStore> store_;
    std::unique_ptr<bus::Context> ctx_;
    std::shared_ptr<kedge::test::RecordingModule> hub_;
    std::shared_ptr<MetaManager> meta_;
    std::thread runner_;
};

TEST_F(MetaManagerTest, StoresACloudObjectBeforeAckingIt) {
    // When the ack reaches the hub, the object must already be committed.
    std::atomic<bool> stored_at_ack{false};
    hub_->on_message = [&](const bus::Message& m) {
        if (m.operation() == bus::kOpResponse && m.resource() == "default/pod/web")
            stored_at_ack = store_->get(MetaKey{"default", "pod", "web"}).value().has_value();
    };
    auto msg = pod_insert("web");
    to_meta(msg);
    ASSERT_TRUE(kedge::test::wait_until([&] { return !hub_messages("response").empty(); }, 5s));
    EXPECT_TRUE(stored_at_ack);
    // The ack's wire shape (PROTOCOL.md §3): response, parent = the cloud's msg_id, source and
    // group copied, content "OK".
    auto ack = hub_messages("response").front();
    EXPECT_EQ(ack.parent_id(), msg.id());
    EXPECT_EQ(ack.source(), "edgecontroller");
    EXPECT_EQ(ack.group(), "resource");
    EXPECT_EQ(ack.resource(), "default/pod/web");
    EXPECT_TRUE(ack.content.string_equals("OK"));
    EXPECT_NE(ack.id(), msg.id());
    EXPECT_EQ(meta_->stats().acked, 1u);

    // Deletes are stored (removed) and acked too.
    to_meta(bus::Message::make("edgecontroller", "resource", "delete", "default/pod/web",
                               bus::Content::encoded(json::object{})));
    ASSERT_TRUE(kedge::test::wait_until([&] { return hub_messages("response").size() == 2; }, 5s));
    EXPECT_FALSE(store_->get(MetaKey{"default", "pod", "web"}).value().has_value());
}

TEST_F(MetaManagerTest, AMalformedObjectIsNeitherStoredNorAckedAndTheRestGoesOn) {
    to_meta(bus::Message::make("edgecontroller", "resource", "insert", "default/pod/bad",
                               bus::Content::from_string("not an object")));
    to_meta(pod_insert("good"));
    ASSERT_TRUE(kedge::test::wait_until([&] { return !hub_messages("response").empty(); }, 5s));
    std::this_thread::sleep_for(100ms);
    auto acks = hub_messages("response");
    ASSERT_EQ(acks.size(), 1u);
    EXPECT_EQ(acks[0].resource(), "default/pod/good");
    EXPECT_FALSE(store_->get(MetaKey{"default", "pod", "bad"}).value().has_value());
}

TEST_F(MetaManagerTest, OfflineUpdatesAreKeptDurablyLatestPerObjectAndFlushedOnConnect) {
    auto patch = [](int n) {
        return bus::Message::make("edged", "meta", "patch", "null/nodepatch/edge-1",
                                  bus::Content::from_string("{\"status\":{\"n\":" +
                                                            std::to_string(n) + "}}"));
    };
    to_meta(patch(1));
    to_meta(patch(2));
    to_meta(bus::Message::make("edged", "meta", "update", "kube-node-lease/lease/edge-1",
                               bus::Content::encoded(json::object{{"kind", "Lease"}})));
    ASSERT_TRUE(kedge::test::wait_until(
        [&] { return store_->outbox_list().value().size() == 2; }, 5s));
    EXPECT_TRUE(hub_->messages().empty());  // nothing was tried while offline

    connection(kCloudConnected);
    ASSERT_TRUE(kedge::test::wait_until([&] { return store_->outbox_list().value().empty(); }, 5s));
    auto sent = hub_messages("patch", "null/nodepatch/edge-1");
    ASSERT_EQ(sent.size(), 1u);  // only the latest status
    EXPECT_EQ(sent[0].content.as_string().value(), "{\"status\":{\"n\":2}}");
    EXPECT_EQ(sent[0].group(), "resource");
    EXPECT_EQ(sent[0].source(), "edged");
    EXPECT_EQ(hub_messages("update", "kube-node-lease/lease/edge-1").size(), 1u);
    EXPECT_EQ(meta_->stats().flushed, 2u);
}

TEST_F(MetaManagerTest, AnUnansweredUpdateGoesToTheOutboxAndIsRetried) {
    connection(kCloudConnected);
    std::atomic<int> calls{0};
    hub_->answer = [&](const bus::Message& m) -> std::optional<bus::Message> {
        if (++calls == 1) return std::nullopt;  // the first attempt is lost
        return bus::make_response(m, bus::Content::from_string("OK"));
    };
    to_meta(bus::Message::make("edged", "meta", "patch", "default/podpatch/web",
                               bus::Content::from_string("{}")));
    ASSERT_TRUE(kedge::test::wait_until([&] { return meta_->stats().queued_offline == 1; }, 5s));
    // The periodic flush (10 s) delivers it.
    ASSERT_TRUE(kedge::test::wait_until([&] { return store_->outbox_list().value().empty(); }, 15s));
    EXPECT_GE(calls.load(), 2);
}

TEST_F(MetaManagerTest, QueriesFallBackToTheLocalCopy) {
    to_meta(pod_insert("web"));
    ASSERT_TRUE(kedge::test::wait_until([&] { return !hub_messages("response").empty(); }, 5s));
    auto q = bus::Message::make("edged", "meta", "query", "default/pod/web");
    auto reply = run(ctx_->request(std::string(bus::kModuleMetaManager), q, 5s));
    ASSERT_TRUE(reply) << reply.error().message();
    EXPECT_EQ(reply->operation(), "response");
    EXPECT_EQ((*reply->content.value().value()).at("metadata").at("name"), "web");

    auto missing = bus::Message::make("edged", "meta", "query", "default/pod/nope");
    auto r2 = run(ctx_->request(std::string(bus::kModuleMetaManager), missing, 5s));
    ASSERT_TRUE(r2);
    EXPECT_EQ(r2->operation(), "error");

    // A list query answers every stored pod of the namespace.
    auto list = bus::Message::make("edged", "meta", "query", "default/pod");
    auto r3 = run(ctx_->request(std::string(bus::kModuleMetaManager), list, 5s));
    ASSERT_TRUE(r3);
    EXPECT_EQ((*r3->content.value().value()).as_array().size(), 1u);
}

TEST_F(MetaManagerTest, RemoteQueryStoresWhatTheCloudAnswers) {
    connection(kCloudConnected);
    hub_->answer = [](const bus::Message& m) -> std::optional<bus::Message> {
        json::object cm{{"apiVersion", "v1"},
                        {"kind", "ConfigMap"},
                        {"metadata", json::object{{"name", "cfg"},
                                                  {"namespace", "default"},
                                                  {"resourceVersion", "7"}}}};
        return bus::make_response(m, bus::Content::encoded(cm));
    };
    auto q = bus::Message::make("edged", "meta", "query", "default/configmap/cfg");
    auto reply = run(ctx_->request(std::string(bus::kModuleMetaManager), q, 5s));
    ASSERT_TRUE(reply);
    EXPECT_EQ(reply->operation(), "response");
    EXPECT_TRUE(store_->get(MetaKey{"default", "configmap", "cfg"}).value().has_value());
    EXPECT_EQ(meta_->stats().remote_queries, 1u);
}

TEST_F(MetaManagerTest, MetaServerWritesNeedTheCloud) {
    auto writer = meta_->remote_writer();
    RemoteWrite w;
    w.verb = "patch";
    w.key = MetaKey{"default", "pod", "web"};
    w.gvr = GroupVersionResource{"core", "v1", "pods"};
    w.subresource = "status";
    w.body = R"({"status":{"phase":"Running"}})";
    w.patch_type = "application/strategic-merge-patch+json";
    auto offline = run(writer(w));
    ASSERT_FALSE(offline);
    EXPECT_TRUE(offline.error().is(errc::unavailable));

    connection(kCloudConnected);
    hub_->answer = [](const bus::Message& m) -> std::optional<bus::Message> {
        json::object resp{{"Object", json::object{{"kind", "Pod"}}}, {"Err", nullptr}};
        return bus::make_response(m, bus::Content::encoded(resp));
    };
    auto online = run(writer(w));
    ASSERT_TRUE(online) << online.error().message();
    EXPECT_EQ(online->http_status, 200);
    EXPECT_EQ(online->body, R"({"kind":"Pod"})");
    auto sent = hub_messages("patch", "default/podpatch/web");
    ASSERT_EQ(sent.size(), 1u);
    EXPECT_EQ(sent[0].content.as_string().value(), w.body);
}

TEST(RemoteWrite, MapsCloudAnswersToHttp) {
    RemoteWrite w;
    w.verb = "create";
    w.key = MetaKey{"default", "event", ""};
    w.gvr = GroupVersionResource{"core", "v1", "events"};
    w.body = R"({"metadata":{"generateName":"web-"},"reason":"Test"})";
    auto msg = remote_write_message(w, "edge-1");
    ASSERT_TRUE(msg);
    EXPECT_EQ(msg->operation(), "insert");
    EXPECT_TRUE(msg->resource().starts_with("default/event/web-")) << msg->resource();

    auto denied = bus::make_error_response(
        *msg, bus::Content::from_string("node \"edge-1\" may not write events about node \"x\""));
    auto r = remote_result(w, denied);
    EXPECT_EQ(r.http_status, 403);
    EXPECT_NE(r.body.find("\"reason\":\"Forbidden\""), std::string::npos) << r.body;

    json::object err{{"Object", nullptr},
                     {"Err", json::object{{"ErrStatus", json::object{{"kind", "Status"},
                                                                     {"code", 404},
                                                                     {"reason", "NotFound"}}}}}};
    auto nf = remote_result(w, bus::make_response(*msg, bus::Content::encoded(err)));
    EXPECT_EQ(nf.http_status, 404);

    RemoteWrite bad = w;
    bad.body = R"({"metadata":{}})";
    EXPECT_FALSE(remote_write_message(bad, "edge-1"));
}

TEST(NodeStatus, MessagesHaveTheUpstreamShapes) {
    asio::io_context ioc;
    bus::Context ctx(ioc.get_executor());
    NodeStatusOptions o;
    o.node = "edge-1";
    o.node_ip = "10.80.0.5";
    o.labels["zone"] = "a";
    MachineInfo m;
    m.cpus = 4;
    m.memory_kib = 8000000;
    m.architecture = "amd64";
    auto rep = NodeStatusReporter::start(ctx, o, m);
    auto node = json::parse(rep->node_object_json());
    EXPECT_EQ(node.at("kind"), "Node");
    auto& labels = node.at("metadata").at("labels").as_object();
    EXPECT_EQ(labels.at("node-role.kubernetes.io/edge"), "");
    EXPECT_EQ(labels.at("zone"), "a");
    EXPECT_EQ(node.at("status").at("capacity").at("cpu"), "4");
    EXPECT_EQ(node.at("status").at("capacity").at("memory"), "8000000Ki");
    EXPECT_EQ(node.at("status").at("addresses").at(0).at("address"), "10.80.0.5");
    // Until the container runtime is known to work the node is NotReady, as the kubelet says.
    auto patch = json::parse(rep->status_patch_json());
    auto& conds = patch.at("status").at("conditions").as_array();
    EXPECT_EQ(conds.at(0).at("type"), "Ready");
    EXPECT_EQ(conds.at(0).at("status"), "False");
    EXPECT_EQ(conds.at(0).at("reason"), "KubeletNotReady");
    rep->set_runtime_state(true, "");
    ioc.poll();
    patch = json::parse(rep->status_patch_json());
    auto& ready = patch.at("status").at("conditions").as_array().at(0);
    EXPECT_EQ(ready.at("status"), "True");
    EXPECT_EQ(ready.at("reason"), "EdgeReady");
    auto lease = json::parse(rep->lease_json());
    EXPECT_EQ(lease.at("metadata").at("namespace"), "kube-node-lease");
    EXPECT_EQ(lease.at("spec").at("holderIdentity"), "edge-1");
    EXPECT_EQ(lease.at("spec").at("leaseDurationSeconds"), 40);
    rep->stop();
    ctx.shutdown();
}

}  // namespace
}  // namespace kedge::edge
