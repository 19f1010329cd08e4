// Messages over mutually authenticated WebSocket connections, as cloudhub and edgehub exchange
// them: a peer that sends something that is not a KubeEdge message loses only its own
// connection (closed with 1007 and a logged reason); a peer beside it keeps being served.

#include "hub/message_stream.hpp"

#include "bus/constants.hpp"
#include "ws_test_util.hpp"

#include <gtest/gtest.h>

namespace kedge::hub {
namespace {

using namespace kedge::net;
using namespace kedge::net::test;

class MessageStreamTest : public ::testing::Test {
protected:
    MessageStreamTest() : pki_(dir_.path()) {
        WsServerOptions o;
        o.tls = pki_.server;
        o.ws.max_message_bytes = 64 * 1024;
        server_ = WsServer::create(ioc_.get_executor(), o).value();
        // Answers every message with a `response` whose parent is the request (an ack).
        server_->set_handler([](std::shared_ptr<WsConnection> c) -> asio::awaitable<void> {
            for (;;) {
                auto msg = co_await read_message(*c);
                if (!msg) co_return;
                (void)send_message(*c, bus::make_response(*msg, bus::Content::from_string("OK")));
            }
        });
        EXPECT_TRUE(server_->start());
    }
    ~MessageStreamTest() override { server_->stop(); }

    std::shared_ptr<WsConnection> connect() {
        WsClientOptions o;
        o.url = "wss://127.0.0.1:" + std::to_string(server_->port()) + "/p/edge1/events";
        o.tls = pki_.client;
        o.connect_timeout = 5s;
        auto c = run(ioc_, ws_connect(ioc_.get_executor(), o));
        EXPECT_TRUE(c) << (c ? "" : c.error().detail);
        return c ? *c : nullptr;
    }

    // Sends a keepalive-style message and expects its ack.
    void expect_acked(const std::shared_ptr<WsConnection>& c) {
        auto msg = bus::Message::make("websocket", "resource", "keepalive", "node",
                                      bus::Content::from_string("ping"));
        ASSERT_TRUE(send_message(*c, msg));
        auto reply = run(ioc_, read_message(*c));
        ASSERT_TRUE(reply) << reply.error().message();
        EXPECT_EQ(reply->header.parent_msg_id, msg.header.msg_id);
        EXPECT_EQ(reply->route.operation, "response");
        EXPECT_TRUE(reply->content.string_equals("OK"));
    }

    // Sends a raw frame and expects the server to close this connection with `code`.
    void expect_closed_with(const std::string& frame, std::uint16_t code) {
        auto bad = connect();
        ASSERT_TRUE(bad);
        ASSERT_TRUE(bad->send(frame));
        auto r = run(ioc_, bad->read());
        ASSERT_FALSE(r) << "server answered a bad frame instead of closing";
        EXPECT_TRUE(r.error().is(errc::closed)) << r.error().message();
        EXPECT_EQ(bad->peer_close_code(), code) << r.error().message();
    }

    kedge::test::TempDir dir_;
    Pki pki_;
    asio::io_context ioc_;
    std::shared_ptr<WsServer> server_;
};

TEST_F(MessageStreamTest, MessageIsAcknowledgedWithParentId) {
    auto c = connect();
    ASSERT_TRUE(c);
    expect_acked(c);
}

TEST_F(MessageStreamTest, InvalidJsonClosesOnlyThatConnection) {
    LogCapture log("hub");
    auto good = connect();
    ASSERT_TRUE(good);
    expect_acked(good);

    expect_closed_with(R"({"header":{"msg_id":"x","timestamp":1},"route":{)", kWsCloseInvalidPayload);
    expect_closed_with("not json at all", kWsCloseInvalidPayload);
    expect_closed_with(R"([1,2,3])", kWsCloseInvalidPayload);
    expect_closed_with(R"({"header":{"timestamp":"yesterday"}})", kWsCloseInvalidPayload);
    EXPECT_NE(log.text().find("malformed message"), std::string::npos) << log.text();

    // The well-behaved peer is unaffected, and new peers are still served.
    expect_acked(good);
    auto fresh = connect();
    ASSERT_TRUE(fresh);
    expect_acked(fresh);
}

TEST_F(MessageStreamTest, OversizedMessageClosesOnlyThatConnection) {
    auto good = connect();
    ASSERT_TRUE(good);
    std::string huge = R"({"header":{"msg_id":"x","timestamp":1},"content":")" +
                       std::string(100 * 1024, 'a') + R"("})";
    expect_closed_with(huge, kWsCloseTooBig);
    expect_acked(good);
}

}  // namespace
}  // namespace kedge::hub
