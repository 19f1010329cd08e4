#pragma once
// A TLS HttpServer (client certificates required) with a few routes, certificates made by the
// openssl CLI, and helpers to run curl / openssl against it.

#include <gtest/gtest.h>

#include <string>

#include "net/http_client.hpp"
#include "net/http_server.hpp"
#include "support/test_support.hpp"
#include "unit/net_http/http_test_util.hpp"

namespace kedge::net {

class TlsServerFixture : public ::testing::Test {
  protected:
    void SetUp() override {
        pki_ = test::make_test_pki(dir_.path());
        test::write_file(dir_.file("big.txt"), std::string(2000, 'b'));
    }

    void start(HttpServerOptions opts = {}, ClientAuth auth = ClientAuth::require) {
        auto tls = TlsContext::make_server({PemSource::from_file(pki_.ca_cert),
                                            PemSource::from_file(pki_.server_cert),
                                            PemSource::from_file(pki_.server_key), auth});
        ASSERT_TRUE(tls) << tls.error().message();
        opts.tls = *tls;
        opts.name = "tls-test";
        server_ = HttpServer::make(io_.executor(), opts);
        add_routes(*server_);
        ASSERT_TRUE(server_->start());
        opts.tls = nullptr;
        opts.name = "plain-test";
        plain_ = HttpServer::make(io_.executor(), opts);
        add_routes(*plain_);
        ASSERT_TRUE(plain_->start());
    }

    static void add_routes(HttpServer& s) {
        using boost::asio::awaitable;
        s.handle("GET", "/hello", [](HttpRequest& req, HttpResponder& res) -> awaitable<void> {
            co_await res.respond(200, "hello " + (req.peer.has_certificate ? req.peer.common_name
                                                                           : std::string("anon")));
        });
        s.handle("POST", "/upload", [](HttpRequest& req, HttpResponder& res) -> awaitable<void> {
            co_await res.respond(200, "got " + std::to_string(req.body.size()));
        });
        s.handle("GET", "/stream", [](HttpRequest&, HttpResponder& res) -> awaitable<void> {
            if (!co_await res.begin_stream(200, "application/json")) co_return;
            for (int i = 0; i < 100; ++i)
                if (!co_await res.write_line("{\"n\":" + std::to_string(i) + "}")) co_return;
            co_await res.end_stream();
        });
    }

    void TearDown() override {
        if (server_) server_->stop();
        if (plain_) plain_->stop();
    }

    std::string url(const std::string& path) const {
        return "https://127.0.0.1:" + std::to_string(server_->port()) + path;
    }
    std::string curl(const std::string& args) const {
        return "curl -sS --max-time 10 --cacert " + pki_.ca_cert + " " + args;
    }
    std::string client_cert_args() const {
        return "--cert " + pki_.client_cert + " --key " + pki_.client_key;
    }
    // openssl s_client sending `request` (printf escapes) and printing what comes back.
    std::string s_client(const std::string& request, const std::string& cert_args) const {
        return "printf '" + request + "' | timeout 10 openssl s_client -quiet -connect 127.0.0.1:" +
               std::to_string(server_->port()) + " -CAfile " + pki_.ca_cert + " " + cert_args;
    }

    // Our own client, used after each bad input to show the server still serves.
    Result<HttpResponse> good_request() {
        ClientTlsOptions o;
        o.ca = PemSource::from_file(pki_.ca_cert);
        o.cert = PemSource::from_file(pki_.client_cert);
        o.key = PemSource::from_file(pki_.client_key);
        auto tls = TlsContext::make_client(o);
        if (!tls) return tls.error();
        HttpClientOptions co;
        co.base_url = "https://127.0.0.1:" + std::to_string(server_->port());
        co.tls = *tls;
        HttpClient c(io_.executor(), co);
        return io_.run(c.request({"GET", "/hello", {}, {}, {}}));
    }

    test::TempDir dir_;
    test::TestPki pki_;
    test::IoThread io_;
    std::shared_ptr<HttpServer> server_;
    std::shared_ptr<HttpServer> plain_;
};

}  // namespace kedge::net
