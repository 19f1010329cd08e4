// Our WebSocket client against our WebSocket server over mutually authenticated TLS.
#include "ws_test_util.hpp"

#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <gtest/gtest.h>

#include <atomic>

namespace kedge::net::test {
namespace {

using Conn = std::shared_ptr<WsConnection>;
using ConnResult = Result<Conn>;

class WsTest : public ::testing::Test {
protected:
    WsTest() : pki_(dir_.path()) {}

    std::shared_ptr<WsServer> start_server(WsServer::Handler handler, WsOptions ws = {},
                                           std::string host = "127.0.0.1", bool tls = true) {
        WsServerOptions o;
        o.host = host;
        o.tls = tls ? pki_.server : nullptr;
        o.ws = ws;
        auto server = WsServer::create(ioc_.get_executor(), o).value();
        server->set_handler(std::move(handler));
        EXPECT_TRUE(server->start());
        return server;
    }

    WsClientOptions client_options(unsigned short port, std::shared_ptr<TlsContext> tls = nullptr) {
        WsClientOptions o;
        o.url = "wss://127.0.0.1:" + std::to_string(port) + "/e632aba9/edge1/events";
        o.tls = tls ? tls : pki_.client;
        o.headers = {{"node_id", "edge1"}, {"project_id", "e632aba9"}, {"ConnectionUse", "msg"}};
        o.connect_timeout = 5s;
        return o;
    }

    ConnResult connect(WsClientOptions o) {
        return run(ioc_, ws_connect(ioc_.get_executor(), std::move(o)));
    }
    Conn connect_ok(unsigned short port) {
        auto c = connect(client_options(port));
        EXPECT_TRUE(c) << (c ? "" : c.error().detail);
        return c ? *c : nullptr;
    }
    Result<std::string> read(const Conn& c) { return run(ioc_, c->read()); }

    kedge::test::TempDir dir_;
    Pki pki_;
    asio::io_context ioc_;
};

TEST_F(WsTest, EchoRoundTripWithHeadersAndClientIdentity) {
    WsUpgradeRequest seen;
    auto server = start_server(echo);
    server->set_authorizer([&seen](const WsUpgradeRequest& r) -> Result<void> {
        seen = r;
        return {};
    });
    auto c = connect_ok(server->port());
    ASSERT_TRUE(c);
    ASSERT_TRUE(c->send("{\"hello\":1}"));
    auto m = read(c);
    ASSERT_TRUE(m) << m.error().detail;
    EXPECT_EQ(*m, "{\"hello\":1}");
    EXPECT_EQ(seen.target, "/e632aba9/edge1/events");
    EXPECT_EQ(seen.header("NODE_ID"), "edge1");
    EXPECT_EQ(seen.header("ConnectionUse"), "msg");
    EXPECT_TRUE(seen.peer.has_certificate);
    EXPECT_EQ(seen.peer.common_name, "system:node:edge1");
    ASSERT_EQ(seen.peer.organizations.size(), 1u);
    EXPECT_EQ(seen.peer.organizations[0], "system:nodes");
    EXPECT_EQ(c->peer().common_name, "kedge-test-server");  // client sees the server's cert
    EXPECT_EQ(server->connection_count(), 1u);
}

TEST_F(WsTest, ServerSideAccessorsSeeRequestHeaders) {
    std::atomic<bool> checked{false};
    auto server = start_server([&checked](Conn c) -> asio::awaitable<void> {
        // Not a coroutine lambda: it only inspects and hands over to echo().
        checked = c->request_header("project_id") == "e632aba9" &&
                  c->request_header("missing").empty() &&
                  c->target() == "/e632aba9/edge1/events" &&
                  c->peer().common_name == "system:node:edge1" &&
                  c->remote_address().rfind("127.0.0.1:", 0) == 0;
        return echo(std::move(c));
    });
    auto c = connect_ok(server->port());
    ASSERT_TRUE(c && c->send("x"));
    ASSERT_TRUE(read(c));
    EXPECT_TRUE(checked);
}

asio::awaitable<void> send_all_then_read_all(Conn c, int n, std::vector<std::string>* got) {
    for (int i = 0; i < n; ++i) {
        auto r = c->send(std::to_string(i));
        if (!r) throw std::runtime_error("send " + std::to_string(i) + ": " + r.error().detail);
    }
    for (int i = 0; i < n; ++i) {
        auto m = co_await c->read();
        if (!m) co_return;
        got->push_back(std::move(*m));
    }
}

TEST_F(WsTest, TenThousandMessagesArriveInOrder) {
    WsOptions big_queue;
    big_queue.max_queued_messages = 20000;
    auto server = start_server(echo, big_queue);
    auto o = client_options(server->port());
    o.ws = big_queue;
    auto c = connect(o).value();
    std::vector<std::string> got;
    run(ioc_, send_all_then_read_all(c, 10000, &got), 60s);
    ASSERT_EQ(got.size(), 10000u);
    for (int i = 0; i < 10000; ++i) ASSERT_EQ(got[static_cast<std::size_t>(i)], std::to_string(i));
}

TEST_F(WsTest, AuthorizerRefusalGivesTheClientTheHttpStatus) {
    LogCapture logs;
    auto server = start_server(echo);
    server->set_authorizer([](const WsUpgradeRequest& r) -> Result<void> {
        if (r.header("node_id") != "edge2")
            return Error(errc::forbidden, "certificate is not for node " + std::string(r.header("node_id")) + "?");
        return {};
    });
    auto c = connect(client_options(server->port()));
    ASSERT_FALSE(c);
    EXPECT_TRUE(c.error().is(errc::forbidden)) << c.error().message();
    EXPECT_NE(c.error().detail.find("HTTP 403"), std::string::npos) << c.error().detail;
    EXPECT_NE(c.error().detail.find("not for node edge1"), std::string::npos) << c.error().detail;
    EXPECT_TRUE(drive_until(ioc_, [&] { return server->connection_count() == 0; }));
    EXPECT_NE(logs.text().find("refused WebSocket upgrade"), std::string::npos);

    server->set_authorizer([](const WsUpgradeRequest&) -> Result<void> {
        return Error(errc::unauthorized, "no token");
    });
    c = connect(client_options(server->port()));
    ASSERT_FALSE(c);
    EXPECT_TRUE(c.error().is(errc::unauthorized)) << c.error().message();
    EXPECT_NE(c.error().detail.find("HTTP 401"), std::string::npos) << c.error().detail;
}

TEST_F(WsTest, ClientCertificateFromAnotherCaIsRefusedAtTheTlsLayer) {
    std::atomic<int> authorized{0};
    auto server = start_server(echo);
    server->set_authorizer([&authorized](const WsUpgradeRequest&) -> Result<void> {
        ++authorized;
        return {};
    });
    auto c = connect(client_options(server->port(), pki_.other_client));
    ASSERT_FALSE(c);
    EXPECT_TRUE(c.error().is(errc::crypto_error)) << c.error().message();
    EXPECT_EQ(authorized, 0);
    EXPECT_TRUE(drive_until(ioc_, [&] { return server->connection_count() == 0; }));
    // The server still serves a good client.
    auto good = connect_ok(server->port());
    ASSERT_TRUE(good && good->send("ok"));
    EXPECT_EQ(read(good).value(), "ok");
}

TEST_F(WsTest, ClientRefusesServerCertificateForAnotherAddress) {
    // The server certificate names 127.0.0.1 and localhost, not 127.0.0.2.
    auto server = start_server(echo, {}, "127.0.0.2");
    auto o = client_options(server->port());
    o.url = "wss://127.0.0.2:" + std::to_string(server->port()) + "/x";
    auto c = connect(o);
    ASSERT_FALSE(c);
    EXPECT_TRUE(c.error().is(errc::crypto_error)) << c.error().message();
    EXPECT_NE(c.error().detail.find("mismatch"), std::string::npos) << c.error().detail;
}

asio::awaitable<void> read_until_closed(Conn c, std::shared_ptr<Error> out) {
    for (;;) {
        auto m = co_await c->read();
        if (!m) {
            *out = m.error();
            co_return;
        }
    }
}

TEST_F(WsTest, OversizedMessageClosesWith1009AndServerKeepsServing) {
    LogCapture logs;
    WsOptions small;
    small.max_message_bytes = 1024;
    auto server = start_server(echo, small);
    auto bad = connect_ok(server->port());
    auto good = connect_ok(server->port());
    ASSERT_TRUE(bad && good);
    ASSERT_TRUE(bad->send(std::string(2000, 'x')));
    auto r = read(bad);
    ASSERT_FALSE(r);
    EXPECT_EQ(bad->peer_close_code(), kWsCloseTooBig) << r.error().detail;
    EXPECT_TRUE(drive_until(ioc_, [&] {
        return logs.text().find("message larger than 1024 bytes") != std::string::npos;
    }));
    ASSERT_TRUE(good->send(std::string(1000, 'y')));
    EXPECT_EQ(read(good).value(), std::string(1000, 'y'));
    EXPECT_TRUE(drive_until(ioc_, [&] { return server->connection_count() == 1; }));
}

asio::awaitable<void> flood(Conn c, std::shared_ptr<Error> stopped_by, std::shared_ptr<int> sent,
                            std::shared_ptr<std::size_t> queued_at_stop) {
    auto big = std::make_shared<const std::string>(64 * 1024, 'z');
    auto ex = co_await asio::this_coro::executor;
    for (int i = 0; i < 100000; ++i) {
        auto r = c->send(big);  // the same string every time: no copies
        if (!r) {
            *stopped_by = r.error();
            *queued_at_stop = c->queued();
            co_return;
        }
        ++*sent;
        co_await asio::post(ex, asio::use_awaitable);  // let the writer run
    }
}

TEST_F(WsTest, WriteQueueBoundReturnsQueueFullWhenThePeerDoesNotRead) {
    WsOptions o;
    o.max_queued_messages = 8;
    auto stopped_by = std::make_shared<Error>();
    auto sent = std::make_shared<int>(0);
    auto queued = std::make_shared<std::size_t>(0);
    auto server = start_server([=](Conn c) { return flood(c, stopped_by, sent, queued); }, o);
    auto c = connect_ok(server->port());  // never reads: the socket buffers fill up
    ASSERT_TRUE(c);
    ASSERT_TRUE(drive_until(ioc_, [&] { return stopped_by->code.failed(); }, 20s));
    EXPECT_TRUE(stopped_by->is(errc::queue_full)) << stopped_by->message();
    EXPECT_EQ(*queued, 8u);
    EXPECT_GT(*sent, 8);  // the kernel took some before the queue filled
}

TEST_F(WsTest, IdleTimeoutClosesASilentPeer) {
    WsOptions o;
    o.idle_timeout = 300ms;
    auto server_err = std::make_shared<Error>();
    auto server = start_server([server_err](Conn c) { return read_until_closed(c, server_err); }, o);
    auto c = connect_ok(server->port());
    ASSERT_TRUE(c);
    auto start = std::chrono::steady_clock::now();
    auto r = read(c);  // the client never sends anything
    ASSERT_FALSE(r);
    EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
    EXPECT_TRUE(drive_until(ioc_, [&] { return server_err->code.failed(); }));
    EXPECT_NE(server_err->detail.find("idle timeout"), std::string::npos) << server_err->detail;
}

TEST_F(WsTest, PingsKeepAnIdleButAlivePeerConnected) {
    WsOptions o;
    o.idle_timeout = 300ms;
    o.send_pings = true;
    auto server_err = std::make_shared<Error>();
    auto server = start_server([server_err](Conn c) { return read_until_closed(c, server_err); }, o);
    auto c = connect_ok(server->port());
    ASSERT_TRUE(c);
    auto client_err = std::make_shared<Error>();
    asio::co_spawn(ioc_, read_until_closed(c, client_err), asio::detached);
    // The client answers pings from inside its read: after 4 idle periods both are still open.
    asio::steady_timer t(ioc_, 1200ms);
    bool done = false;
    t.async_wait([&](auto) { done = true; });
    ASSERT_TRUE(drive_until(ioc_, [&] { return done; }));
    EXPECT_FALSE(server_err->code.failed()) << server_err->detail;
    EXPECT_TRUE(c->is_open());
}

TEST_F(WsTest, ClientInitiatedCloseHandshake) {
    auto server_err = std::make_shared<Error>();
    auto server = start_server([server_err](Conn c) { return read_until_closed(c, server_err); });
    auto c = connect_ok(server->port());
    ASSERT_TRUE(c);
    bool on_close = false;
    c->set_on_close([&on_close](const Error&) { on_close = true; });
    c->close(kWsCloseNormal, "bye");
    EXPECT_TRUE(c->send("late").error().is(errc::closed));
    auto r = read(c);
    ASSERT_FALSE(r);
    EXPECT_TRUE(r.error().is(errc::closed));
    EXPECT_NE(r.error().detail.find("closed locally"), std::string::npos) << r.error().detail;
    ASSERT_TRUE(drive_until(ioc_, [&] { return server_err->code.failed() && on_close; }));
    EXPECT_NE(server_err->detail.find("closed by peer (code 1000 \"bye\")"), std::string::npos)
        << server_err->detail;
    EXPECT_TRUE(drive_until(ioc_, [&] { return server->connection_count() == 0; }));
}

asio::awaitable<void> close_after_first(Conn c) {
    auto m = co_await c->read();
    if (m) c->close(4000, "go away");
    auto end = co_await c->read();  // completes when the client answered the close
    (void)end;
}

TEST_F(WsTest, ServerInitiatedCloseHandshake) {
    auto server = start_server(close_after_first);
    auto c = connect_ok(server->port());
    ASSERT_TRUE(c && c->send("hi"));
    auto r = read(c);
    ASSERT_FALSE(r);
    EXPECT_EQ(c->peer_close_code(), 4000);
    EXPECT_NE(r.error().detail.find("closed by peer (code 4000 \"go away\")"), std::string::npos)
        << r.error().detail;
    EXPECT_TRUE(drive_until(ioc_, [&] { return server->connection_count() == 0; }));
}

asio::awaitable<void> count_then_echo(Conn c, std::shared_ptr<std::atomic<int>> handlers) {
    ++*handlers;
    co_await echo(std::move(c));
}

TEST_F(WsTest, ServerStopClosesClientsWithGoingAway) {
    auto handlers = std::make_shared<std::atomic<int>>(0);
    auto server = start_server([handlers](Conn c) { return count_then_echo(c, handlers); });
    auto a = connect_ok(server->port());
    auto b = connect_ok(server->port());
    ASSERT_TRUE(a && b);
    // Both upgrades done server-side (a connection still handshaking is torn down instead).
    ASSERT_TRUE(drive_until(ioc_, [&] { return *handlers == 2; }));
    server->stop();
    auto ra = read(a);
    auto rb = read(b);
    EXPECT_FALSE(ra);
    EXPECT_FALSE(rb);
    EXPECT_EQ(a->peer_close_code(), kWsCloseGoingAway);
    EXPECT_EQ(b->peer_close_code(), kWsCloseGoingAway);
    EXPECT_TRUE(drive_until(ioc_, [&] { return server->connection_count() == 0; }));
    // No longer accepting.
    EXPECT_FALSE(connect(client_options(server->port())));
}

TEST_F(WsTest, SecondConnectionWithTheSameCredentialsIsIndependent) {
    auto server = start_server(echo);
    auto a = connect_ok(server->port());
    auto b = connect_ok(server->port());
    ASSERT_TRUE(a && b);
    EXPECT_NE(a->id(), b->id());
    ASSERT_TRUE(a->send("a1") && b->send("b1"));
    EXPECT_EQ(read(b).value(), "b1");
    EXPECT_EQ(read(a).value(), "a1");
    a->close();
    EXPECT_FALSE(read(a));
    ASSERT_TRUE(b->send("b2"));
    EXPECT_EQ(read(b).value(), "b2");
    EXPECT_TRUE(drive_until(ioc_, [&] { return server->connection_count() == 1; }));
}

TEST_F(WsTest, PlainWebSocketWithoutTls) {
    auto server = start_server(echo, {}, "127.0.0.1", /*tls=*/false);
    WsClientOptions o;
    o.url = "ws://127.0.0.1:" + std::to_string(server->port()) + "/plain";
    auto c = connect(o);
    ASSERT_TRUE(c) << c.error().detail;
    ASSERT_TRUE((*c)->send(std::string(100000, 'p')));
    EXPECT_EQ(read(*c).value(), std::string(100000, 'p'));
}

TEST_F(WsTest, ConnectErrorsSayWhatFailed) {
    auto o = client_options(static_cast<unsigned short>(kedge::test::free_port()));
    auto c = connect(o);
    ASSERT_FALSE(c);
    EXPECT_TRUE(c.error().is(errc::unavailable));
    EXPECT_NE(c.error().detail.find("cannot connect"), std::string::npos) << c.error().detail;

    o.url = "http://127.0.0.1:1/";
    c = connect(o);
    ASSERT_FALSE(c);
    EXPECT_TRUE(c.error().is(errc::invalid_argument));

    o.url = "wss://no-such-host.invalid:1/";
    c = connect(o);
    ASSERT_FALSE(c);
    EXPECT_NE(c.error().detail.find("cannot resolve"), std::string::npos) << c.error().detail;
}

TEST_F(WsTest, HandshakeTimeoutDropsAClientThatSendsNothing) {
    WsOptions o;
    o.handshake_timeout = 200ms;
    auto server = start_server(echo, o);
    asio::ip::tcp::socket raw(ioc_);
    raw.connect({asio::ip::make_address("127.0.0.1"), server->port()});
    ASSERT_TRUE(drive_until(ioc_, [&] { return server->connection_count() == 1; }));
    EXPECT_TRUE(drive_until(ioc_, [&] { return server->connection_count() == 0; }, 3s));
}

}  // namespace
}  // namespace kedge::net::test
