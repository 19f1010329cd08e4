// HttpServer and HttpClient against each other on loopback (plain HTTP), plus raw sockets for
// input no client library would send.
#include "net/http_server.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "net/http_client.hpp"
#include "support/test_support.hpp"
#include "unit/net_http/http_test_util.hpp"

namespace kedge::net {
namespace {

namespace asio = boost::asio;
using asio::awaitable;
using namespace std::chrono_literals;

awaitable<void> sleep_for(std::chrono::milliseconds d) {
    asio::steady_timer t(co_await asio::this_coro::executor, d);
    co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
}

class HttpServerTest : public ::testing::Test {
  protected:
    void start(HttpServerOptions opts = {}) {
        server_ = HttpServer::make(io_.executor(), std::move(opts));
        server_->handle("GET", "/hello",
                        [](HttpRequest& req, HttpResponder& res) -> awaitable<void> {
                            co_await res.respond(200, "hello " + req.remote_address.substr(0, 9));
                        });
        server_->handle(
            "POST", "/echo", [](HttpRequest& req, HttpResponder& res) -> awaitable<void> {
                co_await res.respond(200, req.body, req.header("content-type").value_or(""));
            });
        register_routes();
        auto r = server_->start();
        ASSERT_TRUE(r) << r.error().message();
        ASSERT_NE(server_->port(), 0);
    }
    virtual void register_routes() {}

    HttpClientOptions client_options() {
        HttpClientOptions o;
        o.base_url = "http://127.0.0.1:" + std::to_string(server_->port());
        return o;
    }

    Result<HttpResponse> get(HttpClient& c, std::string target) {
        return io_.run(c.request({"GET", std::move(target), {}, {}, {}}));
    }

    void TearDown() override {
        if (server_) server_->stop();
    }

    test::IoThread io_;
    std::shared_ptr<HttpServer> server_;
};

TEST_F(HttpServerTest, RoutesExactPrefixPatternsAnd404And405) {
    server_ = nullptr;
    HttpServerOptions opts;
    auto s = HttpServer::make(io_.executor(), opts);
    s->handle("GET", "/ca.crt", [](HttpRequest&, HttpResponder& res) -> awaitable<void> {
        co_await res.respond(200, "ca", "application/octet-stream");
    });
    s->handle("*", "/api/", [](HttpRequest& req, HttpResponder& res) -> awaitable<void> {
        co_await res.respond(200, "api " + req.method + " " + req.path);
    });
    s->handle("GET", "/nodes/{name}/status",
              [](HttpRequest& req, HttpResponder& res) -> awaitable<void> {
                  co_await res.respond_json(200, "{\"node\":\"" + req.route_param("name") + "\"}");
              });
    ASSERT_TRUE(s->start());
    server_ = s;
    HttpClient c(io_.executor(), client_options());

    auto r = get(c, "/ca.crt");
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->body, "ca");
    EXPECT_EQ(r->header("Content-Type").value_or(""), "application/octet-stream");
    // Every response carries Date (IMF-fixdate, RFC 9110), e.g. "Wed, 25 Nov 2026 02:50:00 GMT".
    auto date = r->header("Date").value_or("");
    EXPECT_EQ(date.size(), 29u) << date;
    EXPECT_TRUE(date.ends_with(" GMT")) << date;
    EXPECT_EQ(date[3], ',') << date;

    r = io_.run(c.request({"DELETE", "/api/v1/namespaces/a%20b", {}, {}, {}}));
    ASSERT_TRUE(r);
    EXPECT_EQ(r->body, "api DELETE /api/v1/namespaces/a b");

    r = get(c, "/nodes/edge-1/status");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->body, "{\"node\":\"edge-1\"}");
    EXPECT_EQ(r->header("content-type").value_or(""), "application/json");

    r = get(c, "/nope");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 404);

    r = io_.run(c.request({"POST", "/ca.crt", {}, "x", {}}));
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 405);
    EXPECT_EQ(r->header("allow").value_or(""), "GET");

    s->set_fallback([](HttpRequest&, HttpResponder& res) -> awaitable<void> {
        co_await res.respond(418, "teapot");
    });
    r = get(c, "/nope");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 418);
}

class QueryTest : public HttpServerTest {
    void register_routes() override {
        server_->handle("GET", "/q",
                        [this](HttpRequest& req, HttpResponder& res) -> awaitable<void> {
                            seen_ = req;
                            co_await res.respond(204);
                        });
    }

  protected:
    HttpRequest seen_;
};

TEST_F(QueryTest, QueryAndHeadersAreDecoded) {
    start();
    HttpClient c(io_.executor(), client_options());
    HttpRequestSpec spec{
        "GET", "/q?labelSelector=app%3Dweb%2Ctier+in+(a)&b=1&b=2&flag&e=", {}, {}, {}};
    spec.headers = {{"X-Custom", "v1"}};
    auto r = io_.run(c.request(spec));
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(r->status, 204);
    EXPECT_EQ(seen_.path, "/q");
    EXPECT_EQ(seen_.query_param("labelSelector").value_or(""), "app=web,tier in (a)");
    EXPECT_EQ(seen_.query_param_all("b"), (std::vector<std::string>{"1", "2"}));
    EXPECT_EQ(seen_.query_param("flag").value_or("absent"), "");
    EXPECT_EQ(seen_.query_param("e").value_or("absent"), "");
    EXPECT_FALSE(seen_.query_param("missing"));
    EXPECT_EQ(seen_.header("x-custom").value_or(""), "v1");
    EXPECT_EQ(seen_.header("USER-AGENT").value_or(""), "kedge/0.1");
    EXPECT_EQ(seen_.method, "GET");
    EXPECT_FALSE(seen_.peer.has_certificate);
}

TEST_F(HttpServerTest, KeepAliveReusesOneConnection) {
    start();
    HttpClient c(io_.executor(), client_options());
    for (int i = 0; i < 10; ++i) {
        auto r = io_.run(
            c.request({"POST", "/echo", {{"Content-Type", "text/x"}}, std::to_string(i), {}}));
        ASSERT_TRUE(r) << r.error().message();
        EXPECT_EQ(r->body, std::to_string(i));
        EXPECT_EQ(r->header("content-type").value_or(""), "text/x");
    }
    EXPECT_EQ(server_->accepted_connections(), 1u);
    EXPECT_EQ(c.connections_opened(), 1u);
}

TEST_F(HttpServerTest, ClientReconnectsWhenServerClosedIdleConnection) {
    HttpServerOptions opts;
    opts.idle_timeout = 100ms;
    start(opts);
    HttpClient c(io_.executor(), client_options());
    ASSERT_TRUE(get(c, "/hello"));
    // The server drops the idle connection; the pooled one is dead and the client must notice.
    ASSERT_TRUE(test::wait_until([&] { return server_->active_connections() == 0; }));
    auto r = io_.run(c.request({"POST", "/echo", {}, "after idle", {}}));
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(r->body, "after idle");
    EXPECT_EQ(server_->accepted_connections(), 2u);
}

class StreamTest : public HttpServerTest {
    void register_routes() override {
        // 1000 lines cut into chunks that never align with line ends.
        server_->handle("GET", "/watch", [](HttpRequest&, HttpResponder& res) -> awaitable<void> {
            std::string all;
            for (int i = 0; i < 1000; ++i)
                all += "{\"type\":\"ADDED\",\"n\":" + std::to_string(i) + "}\n";
            all += "tail-without-newline";
            if (!co_await res.begin_stream(200, "application/json")) co_return;
            std::size_t off = 0, step = 1;
            while (off < all.size()) {
                auto n = std::min(step, all.size() - off);
                if (!co_await res.write_chunk(all.substr(off, n))) co_return;
                off += n;
                step = step * 7 % 97 + 1;
            }
            co_await res.end_stream();
        });
        server_->handle("GET", "/long", [](HttpRequest&, HttpResponder& res) -> awaitable<void> {
            co_await res.begin_stream(200, "text/plain");
            co_await res.write_line("short");
            for (int i = 0; i < 10; ++i) co_await res.write_chunk(std::string(50, 'x'));
            co_await res.write_line("");
            co_await res.end_stream();
        });
        server_->handle("GET", "/idle-watch",
                        [this](HttpRequest&, HttpResponder& res) -> awaitable<void> {
                            co_await res.begin_stream(200, "application/json");
                            co_await res.write_line("{\"first\":true}");
                            co_await res.wait_client_gone();
                            // Writes fail once the client is gone.
                            write_after_gone_failed_ = !co_await res.write_line("{}");
                            gone_ = true;
                        });
    }

  protected:
    std::atomic<bool> gone_{false};
    std::atomic<bool> write_after_gone_failed_{false};
};

TEST_F(StreamTest, ThousandLinesWithOddChunkBoundaries) {
    start();
    HttpClient c(io_.executor(), client_options());
    auto lines = io_.run([&]() -> awaitable<Result<std::vector<std::string>>> {
        auto s = co_await c.stream({"GET", "/watch", {}, {}, {}});
        if (!s) co_return s.error();
        EXPECT_EQ((*s)->status(), 200);
        EXPECT_EQ((*s)->header("transfer-encoding").value_or(""), "chunked");
        std::vector<std::string> out;
        while (true) {
            auto line = co_await (*s)->read_line();
            if (!line) co_return line.error();
            if (!*line) break;
            out.push_back(std::move(**line));
        }
        co_return out;
    }());
    ASSERT_TRUE(lines) << lines.error().message();
    ASSERT_EQ(lines->size(), 1001u);
    for (int i = 0; i < 1000; ++i)
        ASSERT_EQ((*lines)[static_cast<std::size_t>(i)],
                  "{\"type\":\"ADDED\",\"n\":" + std::to_string(i) + "}");
    EXPECT_EQ(lines->back(), "tail-without-newline");
    // The finished stream went back to the pool.
    auto r = get(c, "/hello");
    ASSERT_TRUE(r);
    EXPECT_EQ(c.connections_opened(), 1u);
}

TEST_F(StreamTest, LineLongerThanLimitIsAnError) {
    start();
    auto o = client_options();
    o.max_line_bytes = 100;
    HttpClient c(io_.executor(), o);
    auto r = io_.run([&]() -> awaitable<Result<std::vector<std::string>>> {
        auto s = co_await c.stream({"GET", "/long", {}, {}, {}});
        if (!s) co_return s.error();
        std::vector<std::string> out;
        while (true) {
            auto line = co_await (*s)->read_line();
            if (!line) co_return line.error();
            if (!*line) break;
            out.push_back(**line);
        }
        co_return out;
    }());
    ASSERT_FALSE(r);
    EXPECT_TRUE(r.error().is(errc::too_large)) << r.error().message();
}

TEST_F(StreamTest, HandlerNoticesClientGoneWithoutWriting) {
    start();
    HttpClient c(io_.executor(), client_options());
    auto first = io_.run([&]() -> awaitable<Result<std::optional<std::string>>> {
        auto s = co_await c.stream({"GET", "/idle-watch", {}, {}, {}});
        if (!s) co_return s.error();
        auto line = co_await (*s)->read_line();
        (*s)->close();
        co_return line;
    }());
    ASSERT_TRUE(first) << first.error().message();
    EXPECT_EQ(**first, "{\"first\":true}");
    EXPECT_TRUE(test::wait_until([&] { return gone_.load(); }, 5s));
    EXPECT_TRUE(write_after_gone_failed_.load());
}

TEST_F(StreamTest, StopEndsOpenStreamsAndClosesIdleConnections) {
    start();
    HttpClient c(io_.executor(), client_options());
    HttpClient idle(io_.executor(), client_options());
    ASSERT_TRUE(get(idle, "/hello"));
    auto r = io_.run([&]() -> awaitable<Result<int>> {
        auto s = co_await c.stream({"GET", "/idle-watch", {}, {}, {}});
        if (!s) co_return s.error();
        co_await (*s)->read_line();
        server_->stop();
        int lines = 0;
        while (true) {
            auto line = co_await (*s)->read_line();
            if (!line || !*line) break;
            ++lines;
        }
        co_return lines;
    }());
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_TRUE(gone_.load());
    EXPECT_TRUE(test::wait_until([&] { return server_->active_connections() == 0; }, 5s));
    // Nothing listens any more.
    auto after = get(idle, "/hello");
    EXPECT_FALSE(after);
}

class FaultTest : public HttpServerTest {
    void register_routes() override {
        server_->handle("GET", "/throw", [](HttpRequest&, HttpResponder&) -> awaitable<void> {
            throw std::runtime_error("boom");
            co_return;
        });
        server_->handle("GET", "/silent",
                        [](HttpRequest&, HttpResponder&) -> awaitable<void> { co_return; });
        server_->handle("GET", "/slow", [](HttpRequest&, HttpResponder& res) -> awaitable<void> {
            co_await sleep_for(2s);
            co_await res.respond(200, "late");
        });
    }
};

TEST_F(FaultTest, ThrowingOrSilentHandlersGive500AndServerKeepsServing) {
    start();
    test::LogCapture logs(kedge::log::get("net.http"));
    HttpClient c(io_.executor(), client_options());
    auto r = get(c, "/throw");
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(r->status, 500);
    r = get(c, "/silent");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 500);
    r = get(c, "/hello");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    EXPECT_TRUE(logs.contains("threw: boom")) << logs.all();
    EXPECT_TRUE(logs.contains("returned without responding")) << logs.all();
}

TEST_F(FaultTest, ClientRequestTimeout) {
    start();
    HttpClient c(io_.executor(), client_options());
    auto t0 = std::chrono::steady_clock::now();
    auto r = io_.run(c.request({"GET", "/slow", {}, {}, 200ms}));
    ASSERT_FALSE(r);
    EXPECT_TRUE(r.error().is(errc::timeout)) << r.error().message();
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 1500ms);
}

TEST_F(FaultTest, BodyOverLimitIs413) {
    HttpServerOptions opts;
    opts.max_body_bytes = 1024;
    start(opts);
    HttpClient c(io_.executor(), client_options());
    auto r = io_.run(c.request({"POST", "/echo", {}, std::string(2000, 'x'), {}}));
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(r->status, 413);
    r = io_.run(c.request({"POST", "/echo", {}, std::string(1000, 'y'), {}}));
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->body.size(), 1000u);

    // Expect: 100-continue with a body too large: 413 before the body is sent.
    test::RawConn raw(server_->port());
    raw.send(
        "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\nExpect: 100-continue\r\n\r\n");
    auto reply = raw.read_all();
    EXPECT_EQ(reply.rfind("HTTP/1.1 413", 0), 0u) << reply;
}

TEST_F(FaultTest, Expect100ContinueGetsInterimResponse) {
    start();
    test::RawConn raw(server_->port());
    raw.send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n");
    auto interim = raw.read_all(500ms);
    EXPECT_EQ(interim, "HTTP/1.1 100 Continue\r\n\r\n");
    raw.send("abc");
    auto reply = raw.read_all(500ms);
    EXPECT_EQ(reply.rfind("HTTP/1.1 200", 0), 0u) << reply;
    EXPECT_NE(reply.find("\r\n\r\nabc"), std::string::npos) << reply;
}

TEST_F(FaultTest, HeaderOverLimitIs431) {
    HttpServerOptions opts;
    opts.max_header_bytes = 4096;
    start(opts);
    HttpClient c(io_.executor(), client_options());
    auto r = io_.run(c.request({"GET", "/hello", {{"X-Big", std::string(8000, 'h')}}, {}, {}}));
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(r->status, 431);
    EXPECT_TRUE(get(c, "/hello"));
}

TEST_F(FaultTest, MalformedRequestIs400AndClosed) {
    start();
    for (std::string bad :
         {"GARBAGE\r\n\r\n", "GET /x HTTP/9.9\r\n\r\n",
          "GET /x HTTP/1.1\r\nbad header line\r\n\r\n", "GET nopath HTTP/1.1\r\nHost: x\r\n\r\n",
          "POST /echo HTTP/1.1\r\nContent-Length: abc\r\n\r\n"}) {
        test::RawConn raw(server_->port());
        raw.send(bad);
        auto reply = raw.read_all();
        EXPECT_EQ(reply.rfind("HTTP/1.1 400", 0), 0u) << bad << " -> " << reply;
        EXPECT_TRUE(raw.peer_closed()) << bad;
    }
    HttpClient c(io_.executor(), client_options());
    EXPECT_TRUE(get(c, "/hello"));
}

TEST_F(FaultTest, HeaderTimeoutClosesSlowClient) {
    HttpServerOptions opts;
    opts.header_timeout = 300ms;
    start(opts);
    test::LogCapture logs(kedge::log::get("net.http"));
    test::RawConn raw(server_->port());
    raw.send("GET /hello HTTP/1.1\r\nHost: x\r\n");
    EXPECT_TRUE(raw.wait_closed(3s));
    EXPECT_TRUE(test::wait_until(
        [&] { return logs.contains("request head not complete within 300 ms"); }, 2s))
        << logs.all();
}

TEST_F(FaultTest, Http10ClosesAfterResponse) {
    start();
    test::RawConn raw(server_->port());
    raw.send("GET /hello HTTP/1.0\r\n\r\n");
    auto reply = raw.read_all();
    EXPECT_EQ(reply.rfind("HTTP/1.0 200", 0), 0u) << reply;
    EXPECT_TRUE(raw.peer_closed());
}

TEST_F(FaultTest, PipelinedRequestsAreAnsweredInOrder) {
    start();
    test::RawConn raw(server_->port());
    raw.send(
        "GET /hello HTTP/1.1\r\nHost: x\r\n\r\nPOST /echo HTTP/1.1\r\nHost: x\r\n"
        "Content-Length: 2\r\nConnection: close\r\n\r\nok");
    auto reply = raw.read_all();
    auto second = reply.find("HTTP/1.1 200", 1);
    ASSERT_NE(second, std::string::npos) << reply;
    EXPECT_NE(reply.find("\r\n\r\nok", second), std::string::npos) << reply;
    EXPECT_TRUE(raw.peer_closed());
}

}  // namespace
}  // namespace kedge::net
