// The cloud hub over real mutual TLS on loopback: certificates from the pki library (a CA, node
// certificates CN=system:node:<n>), edges dialing with net::ws_connect and, as an independent
// client, Python's websocket-client. The hub runs on a two-thread io_context as in cloudcore.
#include "cloud/hub/cloud_hub.hpp"

#include <gtest/gtest.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <sys/wait.h>

#include <thread>

#include "bus/constants.hpp"
#include "hub/message_stream.hpp"
#include "pki/issue.hpp"
#include "ws_test_util.hpp"

namespace kedge::cloud {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using kedge::test::wait_until;
using net::test::LogCapture;

constexpr const char* kPython = "/usr/bin/python3";

// Records what the hub tells the modules.
class RecordingObserver final : public HubObserver {
public:
    void node_connected(const std::string& node) override {
        std::lock_guard lock(mu_);
        events_.push_back("connected " + node);
    }
    void node_disconnected(const std::string& node) override {
        std::lock_guard lock(mu_);
        events_.push_back("disconnected " + node);
    }
    void upstream(const std::string& node, bus::Message msg) override {
        std::lock_guard lock(mu_);
        upstream_.emplace_back(node, std::move(msg));
    }
    void acked(const std::string& node, const bus::Message& msg) override {
        std::lock_guard lock(mu_);
        acked_.emplace_back(node, msg.header.msg_id);
    }
    std::vector<std::string> events() const {
        std::lock_guard lock(mu_);
        return events_;
    }
    std::vector<std::pair<std::string, bus::Message>> upstream() const {
        std::lock_guard lock(mu_);
        return upstream_;
    }
    std::vector<std::pair<std::string, std::string>> acked() const {
        std::lock_guard lock(mu_);
        return acked_;
    }
    std::size_t count(const std::string& event) const {
        auto e = events();
        return static_cast<std::size_t>(std::count(e.begin(), e.end(), event));
    }
    // The upstream message with this msg_id, if it arrived.
    std::optional<std::pair<std::string, bus::Message>> find(const std::string& id) const {
        for (auto& u : upstream())
            if (u.second.header.msg_id == id) return u;
        return std::nullopt;
    }

private:
    mutable std::mutex mu_;
    std::vector<std::string> events_;
    std::vector<std::pair<std::string, bus::Message>> upstream_;
    std::vector<std::pair<std::string, std::string>> acked_;
};

struct NodeCredentials {
    std::string cert_pem, key_pem;
    std::shared_ptr<net::TlsContext> client;
};

class CloudHubTest : public ::testing::Test {
protected:
    CloudHubTest() : work_(asio::make_work_guard(ioc_)) {
        ca_ = pki::create_ca().value();
        auto server = pki::issue_server_cert(ca_->cert, ca_->key, {"KubeEdge", {"KubeEdge"}},
                                             {{"127.0.0.1"}, {"localhost"}})
                          .value();
        ca_pem_ = ca_->cert.to_pem();
        server_tls_ =
            net::TlsContext::make_server(
                {net::PemSource::from_pem(ca_pem_), net::PemSource::from_pem(server.cert.to_pem()),
                 net::PemSource::from_pem(server.key.to_pem()), net::ClientAuth::require})
                .value();
        for (int i = 0; i < 2; ++i) threads_.emplace_back([this] { ioc_.run(); });
    }
    ~CloudHubTest() override {
        if (hub_) {
            hub_->stop();
            wait_until([&] { return hub_->connected_nodes().empty(); }, 5s);
            hub_.reset();
        }
        work_.reset();
        ioc_.stop();
        for (auto& t : threads_) t.join();
    }

    CloudHubOptions default_options() {
        CloudHubOptions o;
        o.address = "127.0.0.1";
        o.port = 0;
        o.tls = server_tls_;
        o.handshake_timeout = 5s;
        o.max_message_bytes = 64 * 1024;
        return o;
    }

    void start_hub(CloudHubOptions o) {
        hub_ = CloudHub::make(ioc_.get_executor(), std::move(o), observer_).value();
        ASSERT_TRUE(hub_->start());
    }

    // A node certificate signed by the hub CA with the subject given.
    NodeCredentials node_cert(const std::string& cn,
                              std::vector<std::string> orgs = {"system:nodes"}) {
        auto key = pki::PrivateKey::generate().value();
        auto csr = pki::CertificateRequest::create(key, {cn, std::move(orgs)}).value();
        auto cert = pki::sign_csr(ca_->cert, ca_->key, csr).value();
        NodeCredentials c{cert.to_pem(), key.to_pem(), nullptr};
        c.client = net::TlsContext::make_client({net::PemSource::from_pem(ca_pem_),
                                                 net::PemSource::from_pem(c.cert_pem),
                                                 net::PemSource::from_pem(c.key_pem)})
                       .value();
        return c;
    }

    template <class T>
    T await(asio::awaitable<T> aw, std::chrono::seconds limit = 20s) {
        auto fut = asio::co_spawn(ioc_, std::move(aw), asio::use_future);
        if (fut.wait_for(limit) != std::future_status::ready)
            throw std::runtime_error("coroutine did not finish within the test's time limit");
        return fut.get();
    }

    std::string url(const std::string& node) const {
        return "wss://127.0.0.1:" + std::to_string(hub_->port()) +
               "/e632aba927ea4ac2b575ec1603d56f10/" + node + "/events";
    }

    Result<std::shared_ptr<net::WsConnection>> dial(const std::string& node_id,
                                                    const NodeCredentials& creds) {
        net::WsClientOptions o;
        o.url = url(node_id);
        o.tls = creds.client;
        o.connect_timeout = 5s;
        o.ws.max_message_bytes = 1024 * 1024;
        if (!node_id.empty()) o.headers.emplace_back("node_id", node_id);
        o.headers.emplace_back("project_id", "e632aba927ea4ac2b575ec1603d56f10");
        o.headers.emplace_back("ConnectionUse", "msg");
        return await(net::ws_connect(ioc_.get_executor(), o));
    }

    // Dials as node with its own certificate and waits until the hub has the session.
    std::shared_ptr<net::WsConnection> connect(const std::string& node) {
        auto c = dial(node, node_cert("system:node:" + node));
        EXPECT_TRUE(c) << c.error().message();
        if (!c) return nullptr;
        EXPECT_TRUE(wait_until([&] { return hub_->is_connected(node); }, 5s));
        return *c;
    }

    Result<bus::Message> read(const std::shared_ptr<net::WsConnection>& c) {
        return await(hub::read_message(*c));
    }

    // A pod insert as the edge controller sends it: ACK mode, keyed by uid.
    static bus::Message pod(const std::string& name, const std::string& uid, int rv) {
        auto json = R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":")" + name +
                    R"(","namespace":"default","uid":")" + uid + R"(","resourceVersion":")" +
                    std::to_string(rv) + R"("}})";
        return bus::Message::make("edgecontroller", "resource", "insert", "default/pod/" + name,
                                  bus::Content::from_json(json).value())
            .with_resource_version(std::to_string(rv));
    }

    static bus::Message ack_of(const bus::Message& m) {
        return bus::make_response(m, bus::Content::from_string("OK"));
    }

    static bus::Message keepalive() {
        return bus::Message::make("websocket", "resource", "keepalive", "node",
                                  bus::Content::from_string("ping"));
    }

    // The edge side still works: a ping is answered with "ack".
    void expect_alive(const std::shared_ptr<net::WsConnection>& c) {
        auto ping = bus::Message::make("websocket", "resource", "ping", "node",
                                       bus::Content::from_string("ping"));
        ASSERT_TRUE(hub::send_message(*c, ping));
        auto answer = read(c);
        ASSERT_TRUE(answer) << answer.error().message();
        EXPECT_EQ(answer->header.parent_msg_id, ping.header.msg_id);
        EXPECT_TRUE(answer->content.string_equals("ack"));
    }

    // Sends a raw frame and expects the hub to close this connection with code.
    void expect_closed_with(const std::shared_ptr<net::WsConnection>& c, const std::string& frame,
                            std::uint16_t code) {
        ASSERT_TRUE(c->send(frame));
        auto r = await(c->read());
        ASSERT_FALSE(r) << "the hub answered a bad frame instead of closing";
        EXPECT_EQ(c->peer_close_code(), code) << r.error().message();
    }

    asio::io_context ioc_;
    asio::executor_work_guard<asio::io_context::executor_type> work_;
    std::vector<std::thread> threads_;
    std::optional<pki::CertAndKey> ca_;
    std::string ca_pem_;
    std::shared_ptr<net::TlsContext> server_tls_;
    std::shared_ptr<RecordingObserver> observer_ = std::make_shared<RecordingObserver>();
    std::shared_ptr<CloudHub> hub_;
    kedge::test::TempDir dir_;
};

TEST_F(CloudHubTest, UpstreamMessagesReachTheObserverWithTheirNode) {
    LogCapture log("cloudhub");
    start_hub(default_options());
    auto a = connect("edge1");
    auto b = connect("edge2");
    ASSERT_TRUE(a && b);
    EXPECT_EQ(observer_->count("connected edge1"), 1u);

    auto patch = bus::Message::make("edged", "resource", "patch", "default/podpatch/p1",
                                    bus::Content::from_string(R"({"status":{}})"));
    auto lease = bus::Message::make("edged", "resource", "update", "kube-node-lease/lease/edge2",
                                    bus::Content::from_string("{}"));
    // Not routed: a keepalive, and a message claiming to come from a cloud module.
    auto spoofed = bus::Message::make("edgecontroller", "resource", "update", "null/node/edge1",
                                      bus::Content::from_string("{}"));
    ASSERT_TRUE(hub::send_message(*a, keepalive()));
    ASSERT_TRUE(hub::send_message(*a, spoofed));
    ASSERT_TRUE(hub::send_message(*a, patch));
    ASSERT_TRUE(hub::send_message(*b, lease));
    expect_alive(a);  // ping answered, not routed

    ASSERT_TRUE(wait_until([&] { return observer_->find(lease.header.msg_id).has_value(); }));
    ASSERT_TRUE(wait_until([&] { return observer_->find(patch.header.msg_id).has_value(); }));
    EXPECT_EQ(observer_->find(patch.header.msg_id)->first, "edge1");
    EXPECT_EQ(observer_->find(patch.header.msg_id)->second.route.resource, "default/podpatch/p1");
    EXPECT_EQ(observer_->find(lease.header.msg_id)->first, "edge2");
    EXPECT_FALSE(observer_->find(spoofed.header.msg_id)) << "a cloud-module source was routed";
    EXPECT_EQ(observer_->upstream().size(), 2u) << "keepalive or ping routed";
    EXPECT_NE(log.text().find("cloud module source"), std::string::npos) << log.text();

    // The answer to the ping is counted when its write completes, which may be just after the
    // client has read it.
    EXPECT_TRUE(wait_until([&] { return hub_->stats().messages_out["response"] == 1u; }));
    auto st = hub_->stats();
    EXPECT_EQ(st.connected_nodes, 2u);
    EXPECT_EQ(st.messages_in["keepalive"], 1u);
    EXPECT_EQ(st.messages_in["patch"], 1u);
    EXPECT_EQ(st.messages_in["ping"], 1u);
    EXPECT_EQ(st.messages_out["response"], 1u);
    EXPECT_GT(st.bytes_in, 0u);
    EXPECT_GT(st.bytes_out, 0u);
}

TEST_F(CloudHubTest, CertificateOfAnotherNodeIsRefusedWith403) {
    LogCapture log("cloudhub");
    start_hub(default_options());
    auto c = dial("edge1", node_cert("system:node:edge2"));
    ASSERT_FALSE(c) << "edge2's certificate was accepted for edge1";
    EXPECT_TRUE(c.error().is(errc::forbidden)) << c.error().message();
    EXPECT_NE(c.error().detail.find("403"), std::string::npos) << c.error().detail;
    EXPECT_EQ(hub_->stats().handshake_failures["cn_mismatch"], 1u);
    EXPECT_FALSE(hub_->is_connected("edge1"));
    EXPECT_TRUE(observer_->events().empty());
    EXPECT_NE(log.text().find("cn_mismatch"), std::string::npos) << log.text();

    // Legacy certificates are refused unless switched on.
    auto legacy = dial("edge1", node_cert("kubeedge.io", {"kubeEdge"}));
    ASSERT_FALSE(legacy);
    EXPECT_TRUE(legacy.error().is(errc::forbidden)) << legacy.error().message();
    EXPECT_EQ(hub_->stats().handshake_failures["legacy_certificate"], 1u);
}

TEST_F(CloudHubTest, LegacyCertificateIsAcceptedOnlyWithTheSwitchAndLogged) {
    LogCapture log("cloudhub");
    auto o = default_options();
    o.allow_legacy_node_certificates = true;
    start_hub(o);
    auto c = dial("edge1", node_cert("kubeedge.io", {"kubeEdge"}));
    ASSERT_TRUE(c) << c.error().message();
    ASSERT_TRUE(wait_until([&] { return hub_->is_connected("edge1"); }));
    EXPECT_NE(log.text().find("legacy CN=kubeedge.io"), std::string::npos) << log.text();
}

TEST_F(CloudHubTest, MissingNodeIdIsRefused) {
    start_hub(default_options());
    auto c = dial("", node_cert("system:node:edge1"));
    ASSERT_FALSE(c);
    EXPECT_NE(c.error().detail.find("400"), std::string::npos) << c.error().detail;
    EXPECT_EQ(hub_->stats().handshake_failures["missing_node_id"], 1u);
    EXPECT_TRUE(hub_->connected_nodes().empty());
}

TEST_F(CloudHubTest, SendReachesTheNodeAndItsAckCompletesIt) {
    start_hub(default_options());
    auto c = connect("edge1");
    ASSERT_TRUE(c);
    auto m = pod("p1", "uid-1", 10);
    ASSERT_TRUE(hub_->send("edge1", m));
    auto got = read(c);
    ASSERT_TRUE(got) << got.error().message();
    EXPECT_EQ(got->header.msg_id, m.header.msg_id);
    EXPECT_EQ(got->route.resource, "default/pod/p1");
    EXPECT_EQ(got->route.operation, "insert");
    EXPECT_EQ(hub_->stats().pending_acks, 1u);

    ASSERT_TRUE(hub::send_message(*c, ack_of(*got)));
    ASSERT_TRUE(wait_until([&] { return !observer_->acked().empty(); }));
    EXPECT_EQ(observer_->acked()[0], std::make_pair(std::string("edge1"), m.header.msg_id));
    EXPECT_TRUE(observer_->upstream().empty()) << "the ack was routed as well";
    auto st = hub_->stats();
    EXPECT_EQ(st.pending_acks, 0u);
    EXPECT_EQ(st.queue_depth, 0u);
    EXPECT_EQ(st.messages_out["insert"], 1u);
    EXPECT_EQ(st.messages_in["response"], 1u);
}

TEST_F(CloudHubTest, UnackedMessageIsResentWithTheSameMsgId) {
    auto o = default_options();
    o.queue.resend_interval = 200ms;
    start_hub(o);
    auto c = connect("edge1");
    ASSERT_TRUE(c);
    auto first = pod("p1", "uid-1", 10);
    auto second = pod("p2", "uid-2", 11);
    ASSERT_TRUE(hub_->send("edge1", first));
    ASSERT_TRUE(hub_->send("edge1", second));
    auto w1 = read(c);
    auto w2 = read(c);
    ASSERT_TRUE(w1 && w2);
    EXPECT_EQ(w1->header.msg_id, first.header.msg_id);
    EXPECT_EQ(w2->header.msg_id, first.header.msg_id) << "not a resend of the unacked message";
    EXPECT_EQ(w2->header.timestamp, first.header.timestamp);
    ASSERT_TRUE(hub::send_message(*c, ack_of(*w2)));
    // Once acked, the next object goes (one ACK message in flight at a time).
    auto w3 = read(c);
    ASSERT_TRUE(w3);
    EXPECT_EQ(w3->header.msg_id, second.header.msg_id);
    ASSERT_TRUE(hub::send_message(*c, ack_of(*w3)));
    ASSERT_TRUE(wait_until([&] { return observer_->acked().size() == 2; }));
    EXPECT_EQ(hub_->stats().pending_acks, 0u);
}

TEST_F(CloudHubTest, SecondConnectionReplacesTheFirstAndTakesItsUnackedMessages) {
    auto o = default_options();
    o.queue.resend_interval = 30s;  // only the hand-over can bring it again
    start_hub(o);
    auto first = connect("edge1");
    ASSERT_TRUE(first);
    auto m = pod("p1", "uid-1", 10);
    ASSERT_TRUE(hub_->send("edge1", m));
    auto got = read(first);
    ASSERT_TRUE(got);  // written, not acked

    auto second = connect("edge1");
    ASSERT_TRUE(second);
    auto ended = await(first->read());
    ASSERT_FALSE(ended) << "the replaced connection was not closed";
    EXPECT_EQ(first->peer_close_code(), net::kWsClosePolicy) << ended.error().message();

    auto again = read(second);
    ASSERT_TRUE(again) << again.error().message();
    EXPECT_EQ(again->header.msg_id, m.header.msg_id);
    ASSERT_TRUE(hub::send_message(*second, ack_of(*again)));
    ASSERT_TRUE(wait_until([&] { return observer_->acked().size() == 1; }));

    EXPECT_EQ(hub_->connected_nodes(), std::vector<std::string>{"edge1"});
    EXPECT_EQ(observer_->count("connected edge1"), 2u);
    EXPECT_EQ(observer_->count("disconnected edge1"), 0u) << "a replaced session is no disconnect";
    auto st = hub_->stats();
    EXPECT_EQ(st.sessions_replaced, 1u);
    EXPECT_EQ(st.pending_acks, 0u);
    expect_alive(second);
}

TEST_F(CloudHubTest, KeepalivesKeepTheSessionAndSilenceClosesIt) {
    auto o = default_options();
    o.keepalive_interval = 600ms;
    start_hub(o);
    auto c = connect("edge1");
    ASSERT_TRUE(c);
    // Keepalives every 150 ms for three keepalive intervals.
    asio::steady_timer timer(ioc_);
    for (int i = 0; i < 12; ++i) {
        ASSERT_TRUE(hub::send_message(*c, keepalive()));
        timer.expires_after(150ms);
        await([&]() -> asio::awaitable<void> { co_await timer.async_wait(asio::use_awaitable); }());
    }
    EXPECT_TRUE(hub_->is_connected("edge1"));
    EXPECT_EQ(observer_->count("disconnected edge1"), 0u);
    // Then silence.
    auto ended = await(c->read());
    ASSERT_FALSE(ended);
    ASSERT_TRUE(wait_until([&] { return observer_->count("disconnected edge1") == 1; }));
    EXPECT_FALSE(hub_->is_connected("edge1"));
    EXPECT_EQ(hub_->stats().messages_in["keepalive"], 12u);
}

TEST_F(CloudHubTest, GarbageAndOversizedFramesCloseOnlyThatNodesSession) {
    LogCapture log("cloudhub");
    start_hub(default_options());
    auto good = connect("edge1");
    auto bad = connect("edge2");
    ASSERT_TRUE(good && bad);
    expect_closed_with(bad, "not json at all", hub::kWsCloseInvalidPayload);
    ASSERT_TRUE(wait_until([&] { return observer_->count("disconnected edge2") == 1; }));
    EXPECT_EQ(hub_->stats().malformed_frames, 1u);
    EXPECT_NE(log.text().find("malformed message"), std::string::npos) << log.text();

    auto big = connect("edge2");
    ASSERT_TRUE(big);
    expect_closed_with(big,
                       R"({"header":{"msg_id":"x","timestamp":1},"content":")" +
                           std::string(100 * 1024, 'a') + R"("})",
                       net::kWsCloseTooBig);

    // edge1 never noticed.
    expect_alive(good);
    auto m = pod("p1", "uid-1", 10);
    ASSERT_TRUE(hub_->send("edge1", m));
    auto got = read(good);
    ASSERT_TRUE(got);
    EXPECT_EQ(got->header.msg_id, m.header.msg_id);
    EXPECT_EQ(observer_->count("disconnected edge1"), 0u);
}

TEST_F(CloudHubTest, NodeLimitRefusesNewNodesButNotAReconnect) {
    auto o = default_options();
    o.node_limit = 1;
    start_hub(o);
    auto a = connect("edge1");
    ASSERT_TRUE(a);
    auto b = dial("edge2", node_cert("system:node:edge2"));
    ASSERT_FALSE(b);
    EXPECT_TRUE(b.error().is(errc::unavailable)) << b.error().message();
    EXPECT_NE(b.error().detail.find("503"), std::string::npos) << b.error().detail;
    EXPECT_EQ(hub_->stats().handshake_failures["node_limit"], 1u);
    // The node that holds the slot may replace its session.
    auto again = dial("edge1", node_cert("system:node:edge1"));
    ASSERT_TRUE(again) << again.error().message();
    ASSERT_TRUE(wait_until([&] { return hub_->stats().sessions_replaced == 1; }));
    expect_alive(*again);
}

TEST_F(CloudHubTest, SendWithoutSessionIsUnavailableAndAFullQueueSaysSo) {
    auto o = default_options();
    o.queue.capacity = 2;
    start_hub(o);
    auto r = hub_->send("edge9", pod("p1", "uid-1", 1));
    ASSERT_FALSE(r);
    EXPECT_TRUE(r.error().is(errc::unavailable)) << r.error().message();

    auto c = connect("edge1");
    ASSERT_TRUE(c);
    // One in flight (never acked), two waiting, the fourth has no room.
    ASSERT_TRUE(hub_->send("edge1", pod("p1", "uid-1", 1)));
    auto got = read(c);
    ASSERT_TRUE(got);
    ASSERT_TRUE(hub_->send("edge1", pod("p2", "uid-2", 1)));
    ASSERT_TRUE(hub_->send("edge1", pod("p3", "uid-3", 1)));
    auto full = hub_->send("edge1", pod("p4", "uid-4", 1));
    ASSERT_FALSE(full);
    EXPECT_TRUE(full.error().is(errc::queue_full)) << full.error().message();
    // A newer version of a queued object still gets in: it replaces, it needs no room.
    EXPECT_TRUE(hub_->send("edge1", pod("p2", "uid-2", 2)));
    auto st = hub_->stats();
    EXPECT_EQ(st.send_unavailable, 1u);
    EXPECT_EQ(st.send_queue_full, 1u);
    EXPECT_EQ(st.queue_depth, 2u);
    EXPECT_EQ(st.pending_acks, 1u);
}

TEST_F(CloudHubTest, PythonEdgeConnectsSendsAndAcks) {
    start_hub(default_options());
    auto creds = node_cert("system:node:edge1");
    auto ca = dir_.file("ca.crt"), cert = dir_.file("edge1.crt"), key = dir_.file("edge1.key");
    kedge::test::write_file(ca, ca_pem_);
    kedge::test::write_file(cert, creds.cert_pem);
    kedge::test::write_file(key, creds.key_pem);
    auto script = kedge::test::source_path("tests/integration/cloud_hub/hub_edge.py");

    // The independent client is refused when it claims another node.
    auto refused =
        kedge::test::run_command(std::string(kPython) + " " + script + " " + url("edge2") + " " +
                                 ca + " " + cert + " " + key + " edge2");
    EXPECT_EQ(refused.exit_code, 3) << refused.output;
    EXPECT_NE(refused.output.find("REFUSED 403"), std::string::npos) << refused.output;

    auto out = dir_.file("edge.out");
    kedge::test::Process edge({kPython, script, url("edge1"), ca, cert, key, "edge1"}, out);
    ASSERT_TRUE(wait_until([&] { return observer_->find("py-patch-1").has_value(); }))
        << kedge::test::read_file(out);
    EXPECT_EQ(observer_->find("py-patch-1")->first, "edge1");
    ASSERT_TRUE(wait_until([&] {
        return kedge::test::read_file(out).find("PING-ANSWER ack py-ping-1") != std::string::npos;
    })) << kedge::test::read_file(out);

    auto m = pod("p1", "uid-1", 10);
    ASSERT_TRUE(hub_->send("edge1", m));
    ASSERT_TRUE(wait_until([&] { return observer_->acked().size() == 1; }))
        << kedge::test::read_file(out);
    EXPECT_EQ(observer_->acked()[0].second, m.header.msg_id);
    EXPECT_NE(kedge::test::read_file(out).find("GOT " + m.header.msg_id + " insert default/pod/p1"),
              std::string::npos)
        << kedge::test::read_file(out);
    EXPECT_EQ(hub_->stats().messages_in["keepalive"], 1u);
}

}  // namespace
}  // namespace kedge::cloud
