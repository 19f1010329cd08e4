// Bad input never crashes the server: it closes only that connection (with a log line that says
// why) and keeps serving everyone else.
#include "integration/net_http/http_fixture.hpp"

namespace kedge::net {
namespace {

using namespace std::chrono_literals;

class BadInputTest : public TlsServerFixture {
  protected:
    void SetUp() override {
        TlsServerFixture::SetUp();
        HttpServerOptions opts;
        opts.header_timeout = 1s;
        opts.max_body_bytes = 1024;
        start(opts);
    }
    test::LogCapture logs_{kedge::log::get("net.http")};
};

TEST_F(BadInputTest, TruncatedTlsHandshake) {
    {
        test::RawConn raw(server_->port());
        // The first bytes of a TLS 1.2 ClientHello record, then nothing.
        raw.send(std::string("\x16\x03\x01\x00\xc8\x01\x00\x00\xc4\x03\x03", 11));
    }
    EXPECT_TRUE(test::wait_until([&] { return logs_.contains("TLS handshake failed"); }))
        << logs_.all();
    auto r = good_request();
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(r->status, 200);
}

TEST_F(BadInputTest, GarbageTlsRecord) {
    {
        test::RawConn raw(server_->port());
        raw.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n");  // plain HTTP to a TLS port
        EXPECT_TRUE(raw.wait_closed(3s));
    }
    EXPECT_TRUE(test::wait_until([&] { return logs_.contains("TLS handshake failed"); }))
        << logs_.all();
    EXPECT_TRUE(good_request());
}

TEST_F(BadInputTest, SlowlorisIsClosedAtHeaderTimeout) {
    test::RawConn raw(plain_->port());
    ASSERT_TRUE(raw.send("GET /hello HTTP/1.1\r\nHost: x\r\n"));
    auto t0 = std::chrono::steady_clock::now();
    bool closed = false;
    // One header line every 200 ms, as a slowloris client does; wait_closed paces it.
    for (int i = 0; i < 25 && !closed; ++i) {
        if (!raw.send("X-Slow-" + std::to_string(i) + ": x\r\n")) break;
        closed = raw.wait_closed(200ms);
    }
    auto elapsed = std::chrono::steady_clock::now() - t0;
    EXPECT_TRUE(closed || raw.wait_closed(1s));
    EXPECT_LT(elapsed, 3s);
    EXPECT_TRUE(test::wait_until([&] {
        return logs_.contains("request head not complete within 1000 ms");
    })) << logs_.all();
    EXPECT_TRUE(good_request());
}

TEST_F(BadInputTest, GarbageRequestLineOverTls) {
    auto r = test::run_command(
        s_client("GARBAGE\\r\\n\\r\\n", "-cert " + pki_.client_cert + " -key " + pki_.client_key));
    EXPECT_NE(r.output.find("HTTP/1.1 400"), std::string::npos) << r.output;
    EXPECT_TRUE(logs_.contains("malformed request")) << logs_.all();
    EXPECT_TRUE(good_request());
}

TEST_F(BadInputTest, GarbageRequestLinePlain) {
    test::RawConn raw(plain_->port());
    raw.send(std::string("\x01\x02\xff garbage \x00\r\n\r\n", 17));
    auto reply = raw.read_all();
    EXPECT_EQ(reply.rfind("HTTP/1.1 400", 0), 0u) << reply;
    EXPECT_TRUE(raw.peer_closed());
    EXPECT_TRUE(good_request());
}

TEST_F(BadInputTest, BodyOverLimit) {
    auto r =
        test::run_command(curl(client_cert_args() + " -w '%{http_code}' -o /dev/null " +
                               "--data-binary @" + dir_.file("big.txt") + " " + url("/upload")));
    EXPECT_EQ(r.output, "413") << r.output;
    EXPECT_TRUE(logs_.contains("request body larger than 1024 bytes")) << logs_.all();
    EXPECT_TRUE(good_request());
}

TEST_F(BadInputTest, ManyBadConnectionsThenGoodOne) {
    for (int i = 0; i < 30; ++i) {
        test::RawConn raw(server_->port());
        raw.send(std::string("\x16\x03\x01\x00", 4));
    }
    EXPECT_TRUE(test::wait_until([&] { return server_->active_connections() == 0; }));
    EXPECT_TRUE(good_request());
}

}  // namespace
}  // namespace kedge::net
