// EdgeHub against an in-process WSS server standing in for cloudcore (mTLS with our CA): what
// goes on the wire, what reaches the modules, heartbeats, dead links, rate limit, offline.
// The same behaviours against the real cloudcore are in tests/integration/edge_hub.

#include <gtest/gtest.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <future>
#include <map>
#include <mutex>
#include <thread>

#include "bus/codec.hpp"
#include "bus/context.hpp"
#include "edge/edgehub/edge_hub.hpp"
#include "net/ws_server.hpp"
#include "support/test_support.hpp"
#include "test_identity.hpp"

namespace kedge::edge {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;

// What the fake cloud saw and what it should do.
struct CloudState {
    std::mutex mu;
    std::vector<std::string> frames;  // every frame from the edge, in order
    std::vector<std::chrono::steady_clock::time_point> arrival;
    std::vector<std::map<std::string, std::string>> upgrades;  // headers + target
    std::vector<std::shared_ptr<net::WsConnection>> conns;
    int sessions = 0;
    int silent_sessions = 0;  // the first N sessions never read (a stuck cloud)

    std::vector<boost::json::object> messages() {
        std::lock_guard lock(mu);
        std::vector<boost::json::object> out;
        for (auto& f : frames) out.push_back(boost::json::parse(f).as_object());
        return out;
    }
    std::size_t count(std::string_view op) {
        std::size_t n = 0;
        for (auto& m : messages())
            if (m.at("route").as_object().at("operation").as_string() == op) ++n;
        return n;
    }
};

asio::awaitable<void> serve(std::shared_ptr<CloudState> st, std::shared_ptr<net::WsConnection> c) {
    bool silent;
    {
        std::lock_guard lock(st->mu);
        silent = ++st->sessions <= st->silent_sessions;
        st->conns.push_back(c);
    }
    if (silent) {
        // Never reads, so never answers the edge's pings either.
        asio::steady_timer t(c->get_executor(), 30s);
        co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
        co_return;
    }
    for (;;) {
        auto f = co_await c->read();
        if (!f) co_return;
        std::lock_guard lock(st->mu);
        st->frames.push_back(*f);
        st->arrival.push_back(std::chrono::steady_clock::now());
    }
}

class EdgeHubTest : public ::testing::Test {
protected:
    void SetUp() override {
        paths_ = {dir_.file("ca/rootCA.crt"), dir_.file("certs/server.crt"),
                  dir_.file("certs/server.key")};
        ASSERT_TRUE(store_identity(paths_, pki_.ca.cert, pki_.node_cert("edge1")));
        io_thread_ = std::thread([this] { ioc_.run(); });
    }

    void TearDown() override {
        if (ctx_) ctx_->shutdown();
        if (server_) server_->stop();
        work_.reset();
        ioc_.stop();
        io_thread_.join();
    }

    void start_cloud() {
        net::ServerTlsOptions t;
        t.ca = net::PemSource::from_pem(pki_.ca.cert.to_pem());
        t.cert = net::PemSource::from_pem(pki_.server.cert.to_pem());
        t.key = net::PemSource::from_pem(pki_.server.key.to_pem());
        auto tls = net::TlsContext::make_server(t);
        ASSERT_TRUE(tls);
        net::WsServerOptions o;
        o.tls = *tls;
        auto s = net::WsServer::create(ioc_.get_executor(), o);
        ASSERT_TRUE(s);
        server_ = *s;
        auto st = cloud_;
        server_->set_authorizer([st](const net::WsUpgradeRequest& r) -> Result<void> {
            std::map<std::string, std::string> h{{"target", r.target}};
            for (auto& [k, v] : r.headers) h[k] = v;
            h["cn"] = r.peer.common_name;
            std::lock_guard lock(st->mu);
            st->upgrades.push_back(std::move(h));
            return {};
        });
        server_->set_handler([st](std::shared_ptr<net::WsConnection> c) { return serve(st, c); });
        ASSERT_TRUE(server_->start());
    }

    EdgeHubOptions options() {
        EdgeHubOptions o;
        o.node = "edge1";
        o.server =
            "127.0.0.1:" + std::to_string(server_ ? server_->port() : kedge::test::free_port());
        o.http_server = "https://127.0.0.1:1";  // never reached: the identity is on disk
        o.certs = paths_;
        o.heartbeat = 200ms;
        o.read_deadline = 300ms;
        o.reconnect = {50ms, 200ms, 2.0, net::Jitter::none};
        o.rotate_certificates = false;
        return o;
    }

    void start_hub(EdgeHubOptions o, InventoryProvider inv = {}) {
        ctx_ = std::make_unique<bus::Context>(ioc_.get_executor());
        hub_ = std::make_shared<EdgeHub>(std::move(o), std::move(inv));
        ASSERT_TRUE(ctx_->add_module(hub_));
        ASSERT_TRUE(ctx_->add_module(std::make_shared<Recorder>("metamanager", "meta")));
        ASSERT_TRUE(ctx_->add_module(std::make_shared<Recorder>("twin", "twin")));
        ctx_->start_modules();
    }

    // A module that only queues: the test reads its queue with try_receive.
    struct Recorder : bus::Module {
        Recorder(std::string n, std::string g) : n_(std::move(n)), g_(std::move(g)) {}
        std::string name() const override { return n_; }
        std::string group() const override { return g_; }
        void start(bus::Context&) override {}
        std::string n_, g_;
    };

    // Waits for the next message of module that satisfies pred (others are consumed).
    std::optional<bus::Message> next_at(const std::string& module,
                                        std::function<bool(const bus::Message&)> pred,
                                        std::chrono::milliseconds deadline = 5s) {
        std::optional<bus::Message> found;
        kedge::test::wait_until(
            [&] {
                while (auto m = ctx_->try_receive(module))
                    if (pred(*m)) {
                        found = std::move(m);
                        return true;
                    }
                return false;
            },
            deadline);
        return found;
    }
    static auto connection_is(std::string_view content) {
        return [content](const bus::Message& m) {
            return m.resource() == kConnectionResource && m.content.string_equals(content);
        };
    }

    kedge::test::TempDir dir_;
    test::TestCa pki_ = test::TestCa::make();
    CertPaths paths_;
    asio::io_context ioc_;
    asio::executor_work_guard<asio::io_context::executor_type> work_{ioc_.get_executor()};
    std::thread io_thread_;
    std::shared_ptr<CloudState> cloud_ = std::make_shared<CloudState>();
    std::shared_ptr<net::WsServer> server_;
    std::unique_ptr<bus::Context> ctx_;
    std::shared_ptr<EdgeHub> hub_;
};

TEST_F(EdgeHubTest, DialsWithUpstreamHeadersAndSendsTheInventoryFirst) {
    start_cloud();
    start_hub(options(), [] {
        hub::Inventory inv;
        inv.resources["pod"]["default/nginx"] = "42";
        return Result<hub::Inventory>(inv);
    });
    ASSERT_TRUE(kedge::test::wait_until([&] { return !cloud_->messages().empty(); }));
    {
        std::lock_guard lock(cloud_->mu);
        auto& h = cloud_->upgrades.at(0);
        EXPECT_EQ(h["target"], "/e632aba927ea4ac2b575ec1603d56f10/edge1/events");
        EXPECT_EQ(h["node_id"], "edge1");
        EXPECT_EQ(h["project_id"], "e632aba927ea4ac2b575ec1603d56f10");
        EXPECT_EQ(h["ConnectionUse"], "msg");
        EXPECT_EQ(h["cn"], "system:node:edge1");
    }
    std::string first_frame;
    {
        std::lock_guard lock(cloud_->mu);
        first_frame = cloud_->frames.at(0);
    }
    auto first = bus::decode(first_frame);
    ASSERT_TRUE(first);
    EXPECT_TRUE(hub::is_inventory_message(*first));
    auto inv = hub::parse_inventory(*first);
    ASSERT_TRUE(inv);
    EXPECT_EQ(inv->resources["pod"]["default/nginx"], "42");
    EXPECT_TRUE(next_at("metamanager", connection_is(kCloudConnected)));
    EXPECT_TRUE(next_at("twin", connection_is(kCloudConnected)));
    EXPECT_TRUE(hub_->connected());
}

TEST_F(EdgeHubTest, InventoryOffBehavesLikeUpstream) {
    start_cloud();
    auto o = options();
    o.inventory_resync = false;
    start_hub(o, [] { return Result<hub::Inventory>(hub::Inventory{}); });
    ASSERT_TRUE(next_at("metamanager", connection_is(kCloudConnected)));
    ASSERT_TRUE(kedge::test::wait_until([&] { return cloud_->count("keepalive") >= 1; }));
    EXPECT_EQ(cloud_->count("resync"), 0u);
}

TEST_F(EdgeHubTest, KeepaliveHasExactlyTheUpstreamShape) {
    start_cloud();
    start_hub(options());
    ASSERT_TRUE(kedge::test::wait_until([&] { return cloud_->count("keepalive") >= 3; }));
    for (auto& m : cloud_->messages()) {
        auto& route = m.at("route").as_object();
        if (route.at("operation").as_string() != "keepalive") continue;
        EXPECT_EQ(route, (boost::json::object{{"source", "websocket"},
                                              {"group", "resource"},
                                              {"operation", "keepalive"},
                                              {"resource", "node"}}));
        EXPECT_EQ(m.at("content"), boost::json::value("ping"));
        EXPECT_TRUE(m.at("header").as_object().at("msg_id").is_string());
    }
}

TEST_F(EdgeHubTest, DownstreamRoutingAndTransportControl) {
    start_cloud();
    start_hub(options());
    ASSERT_TRUE(next_at("metamanager", connection_is(kCloudConnected)));
    std::shared_ptr<net::WsConnection> conn;
    {
        std::lock_guard lock(cloud_->mu);
        conn = cloud_->conns.at(0);
    }
    auto pod = bus::Message::make("edgecontroller", "resource", "insert", "default/pod/nginx",
                                  bus::Content::from_string("x"));
    auto twin = bus::Message::make("devicecontroller", "twin", "update", "membership");
    auto user = bus::Message::make("router_eventbus", "user", "publish", "topic");
    auto ping = bus::Message::make("cloudhub", "resource", "ping", "node");
    for (auto* m : {&ping, &pod, &twin, &user}) ASSERT_TRUE(conn->send(bus::encode(*m)));

    auto got =
        next_at("metamanager", [](const bus::Message& m) { return m.operation() == "insert"; });
    ASSERT_TRUE(got);
    EXPECT_EQ(got->id(), pod.id());
    auto got_twin =
        next_at("twin", [](const bus::Message& m) { return m.operation() == "update"; });
    ASSERT_TRUE(got_twin);
    EXPECT_EQ(got_twin->id(), twin.id());
    // ping is answered with "ack" and reaches no module.
    ASSERT_TRUE(kedge::test::wait_until([&] {
        for (auto& m : cloud_->messages()) {
            auto& h = m.at("header").as_object();
            if (h.contains("parent_msg_id") && h.at("parent_msg_id").as_string() == ping.id())
                return m.at("content") == boost::json::value("ack");
        }
        return false;
    }));
    EXPECT_FALSE(next_at(
        "metamanager", [](const bus::Message& m) { return m.operation() == "ping"; }, 300ms));
    // eventbus is not enabled: dropped, the hub keeps going.
    EXPECT_GE(hub_->stats().messages_down, 4u);
    EXPECT_TRUE(hub_->connected());
}

TEST_F(EdgeHubTest, ResponseToAPendingRequestCompletesIt) {
    start_cloud();
    start_hub(options());
    ASSERT_TRUE(next_at("metamanager", connection_is(kCloudConnected)));
    auto query = bus::Message::make("metamanager", "resource", "query", "default/configmap/c");
    auto fut = asio::co_spawn(ioc_, ctx_->request("websocket", query, 5s), asio::use_future);
    // The cloud answers whatever query it got.
    std::string id;
    ASSERT_TRUE(kedge::test::wait_until([&] {
        for (auto& m : cloud_->messages())
            if (m.at("route").as_object().at("operation").as_string() == "query")
                id = m.at("header").as_object().at("msg_id").as_string().c_str();
        return !id.empty();
    }));
    auto req = bus::decode(R"({"header":{"msg_id":")" + id + R"(","timestamp":1},"route":{}})");
    ASSERT_TRUE(req);
    auto resp = bus::make_response(*req, bus::Content::from_string("found"));
    {
        std::lock_guard lock(cloud_->mu);
        ASSERT_TRUE(cloud_->conns.at(0)->send(bus::encode(resp)));
    }
    ASSERT_EQ(fut.wait_for(5s), std::future_status::ready);
    auto r = fut.get();
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_TRUE(r->content.string_equals("found"));
}

TEST_F(EdgeHubTest, SyncRequestWhileDisconnectedGetsAnErrorAtOnce) {
    start_hub(options());  // no cloud listening
    auto query = bus::Message::make("metamanager", "resource", "query", "default/configmap/c");
    auto began = std::chrono::steady_clock::now();
    auto fut = asio::co_spawn(ioc_, ctx_->request("websocket", query, 10s), asio::use_future);
    ASSERT_EQ(fut.wait_for(5s), std::future_status::ready);
    auto r = fut.get();
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(r->operation(), "error");
    EXPECT_TRUE(r->content.string_equals("cloud not connected"));
    EXPECT_LT(std::chrono::steady_clock::now() - began, 2s);
    // Not sync: dropped and counted.
    ASSERT_TRUE(ctx_->send("websocket", bus::Message::make("edged", "resource", "update", "x")));
    EXPECT_TRUE(kedge::test::wait_until([&] { return hub_->stats().dropped_offline >= 2; }));
    EXPECT_GT(hub_->stats().connect_failures, 0u);
}

TEST_F(EdgeHubTest, DeadLinkIsNoticedAndTheHubReconnects) {
    cloud_->silent_sessions = 1;  // the first session never answers pings
    start_cloud();
    start_hub(options());
    ASSERT_TRUE(next_at("metamanager", connection_is(kCloudConnected)));
    // read_deadline + heartbeat = 500 ms of silence ends the first session.
    ASSERT_TRUE(next_at("metamanager", connection_is(kCloudDisconnected)));
    ASSERT_TRUE(next_at("metamanager", connection_is(kCloudConnected)));
    EXPECT_GE(hub_->stats().sessions, 2u);
    // The second (answering) session survives many deadlines.
    auto before = hub_->stats().sessions;
    ASSERT_TRUE(kedge::test::wait_until([&] { return cloud_->count("keepalive") >= 8; }));
    EXPECT_EQ(hub_->stats().sessions, before);
    EXPECT_TRUE(hub_->connected());
}

TEST_F(EdgeHubTest, UpstreamIsRateLimitedBurstThenQps) {
    start_cloud();
    auto o = options();
    o.heartbeat = 10s;  // keep keepalives out of the count
    o.read_deadline = 10s;
    o.message_qps = 20;
    o.message_burst = 5;
    start_hub(o);
    ASSERT_TRUE(next_at("metamanager", connection_is(kCloudConnected)));
    constexpr int kN = 25;
    auto began = std::chrono::steady_clock::now();
    for (int i = 0; i < kN; ++i)
        ASSERT_TRUE(
            ctx_->send("websocket", bus::Message::make("edged", "resource", "update",
                                                       "default/pod/p" + std::to_string(i))));
    ASSERT_TRUE(kedge::test::wait_until([&] { return cloud_->count("update") == kN; }));
    std::chrono::steady_clock::time_point last;
    {
        std::lock_guard lock(cloud_->mu);
        last = cloud_->arrival.back();
    }
    // (N - burst) / qps = 1 s; allow for scheduling slack below, none needed above.
    EXPECT_GE(last - began, 800ms);
    EXPECT_GE(hub_->stats().rate_limited, 15u);
    // Order is kept.
    int i = 0;
    for (auto& m : cloud_->messages()) {
        auto& r = m.at("route").as_object();
        if (r.at("operation").as_string() != "update") continue;
        EXPECT_EQ(r.at("resource").as_string(), "default/pod/p" + std::to_string(i++));
    }
}

TEST_F(EdgeHubTest, StopEndsTheSessionAndTheContextMayGoAway) {
    start_cloud();
    start_hub(options());
    ASSERT_TRUE(next_at("metamanager", connection_is(kCloudConnected)));
    hub_->stop();
    ctx_.reset();  // destroyed right after stop()
    EXPECT_TRUE(kedge::test::wait_until([&] { return server_->connection_count() == 0; }));
    EXPECT_FALSE(hub_->connected());
}

TEST_F(EdgeHubTest, MissingIdentityWithoutTokenRetriesUntilFilesAppear) {
    std::filesystem::remove_all(dir_.file("certs"));
    start_cloud();
    start_hub(options());
    EXPECT_FALSE(next_at("metamanager", connection_is(kCloudConnected), 500ms));
    // keadm (here: the test) writes the files; the hub picks them up on its next try.
    ASSERT_TRUE(store_identity(paths_, pki_.ca.cert, pki_.node_cert("edge1")));
    EXPECT_TRUE(next_at("metamanager", connection_is(kCloudConnected)));
    EXPECT_EQ(hub_->stats().joins, 0u);
}

}  // namespace
}  // namespace kedge::edge
