// Our client against our server over TLS with client certificates made by the openssl CLI.
#include <gtest/gtest.h>

#include "net/http_client.hpp"
#include "net/http_server.hpp"
#include "support/test_support.hpp"
#include "unit/net_http/http_test_util.hpp"

namespace kedge::net {
namespace {

using boost::asio::awaitable;

class HttpTlsTest : public ::testing::Test {
  protected:
    void SetUp() override { pki_ = test::make_test_pki(dir_.path()); }

    void start(ClientAuth auth) {
        auto tls = TlsContext::make_server({PemSource::from_file(pki_.ca_cert),
                                            PemSource::from_file(pki_.server_cert),
                                            PemSource::from_file(pki_.server_key), auth});
        ASSERT_TRUE(tls) << tls.error().message();
        HttpServerOptions opts;
        opts.tls = *tls;
        server_ = HttpServer::make(io_.executor(), opts);
        server_->handle("GET", "/whoami",
                        [](HttpRequest& req, HttpResponder& res) -> awaitable<void> {
                            std::string orgs;
                            for (auto& o : req.peer.organizations) orgs += o + ";";
                            co_await res.respond(200, req.peer.has_certificate
                                                          ? req.peer.common_name + "|" + orgs
                                                          : "anonymous");
                        });
        ASSERT_TRUE(server_->start());
    }

    std::shared_ptr<TlsContext> client_tls(const std::string& ca, const std::string& cert,
                                           const std::string& key) {
        ClientTlsOptions o;
        o.ca = PemSource::from_file(ca);
        if (!cert.empty()) o.cert = PemSource::from_file(cert);
        if (!key.empty()) o.key = PemSource::from_file(key);
        auto t = TlsContext::make_client(o);
        EXPECT_TRUE(t) << t.error().message();
        return t ? *t : nullptr;
    }

    Result<HttpResponse> whoami(std::shared_ptr<TlsContext> tls, std::string host = "127.0.0.1") {
        HttpClientOptions o;
        o.base_url = "https://" + host + ":" + std::to_string(server_->port());
        o.tls = std::move(tls);
        HttpClient c(io_.executor(), o);
        auto r = io_.run(c.request({"GET", "/whoami", {}, {}, {}}));
        if (r) {
            // Keep-alive works over TLS too.
            auto again = io_.run(c.request({"GET", "/whoami", {}, {}, {}}));
            EXPECT_TRUE(again);
            EXPECT_EQ(c.connections_opened(), 1u);
        }
        return r;
    }

    void TearDown() override {
        if (server_) server_->stop();
    }

    test::TempDir dir_;
    test::TestPki pki_;
    test::IoThread io_;
    std::shared_ptr<HttpServer> server_;
};

TEST_F(HttpTlsTest, ClientCertificateIdentityReachesHandler) {
    start(ClientAuth::require);
    auto r = whoami(client_tls(pki_.ca_cert, pki_.client_cert, pki_.client_key));
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->body, "system:node:edge1|system:nodes;");
    // "localhost" is in the server certificate too.
    r = whoami(client_tls(pki_.ca_cert, pki_.client_cert, pki_.client_key), "localhost");
    ASSERT_TRUE(r) << r.error().message();
}

TEST_F(HttpTlsTest, RequiredClientCertificateMissingOrFromOtherCaIsRefused) {
    start(ClientAuth::require);
    test::LogCapture logs(kedge::log::get("net.http"));
    auto r = whoami(client_tls(pki_.ca_cert, "", ""));
    ASSERT_FALSE(r);
    r = whoami(client_tls(pki_.ca_cert, pki_.other_client_cert, pki_.other_client_key));
    ASSERT_FALSE(r);
    EXPECT_TRUE(test::wait_until([&] { return logs.contains("TLS handshake failed"); }))
        << logs.all();
    // The server still serves a good client.
    EXPECT_TRUE(whoami(client_tls(pki_.ca_cert, pki_.client_cert, pki_.client_key)));
}

TEST_F(HttpTlsTest, RequestedClientCertificateIsOptional) {
    start(ClientAuth::request);
    auto r = whoami(client_tls(pki_.ca_cert, "", ""));
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(r->body, "anonymous");
    r = whoami(client_tls(pki_.ca_cert, pki_.client_cert, pki_.client_key));
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(r->body, "system:node:edge1|system:nodes;");
}

TEST_F(HttpTlsTest, ClientRefusesServerFromOtherCaOrWrongName) {
    start(ClientAuth::request);
    auto r = whoami(client_tls(pki_.other_ca_cert, "", ""));
    ASSERT_FALSE(r);
    EXPECT_TRUE(r.error().is(errc::crypto_error)) << r.error().message();
    EXPECT_NE(r.error().message().find("certificate"), std::string::npos) << r.error().message();
}

TEST_F(HttpTlsTest, ClientRefusesCertificateForAnotherAddress) {
    test::make_server_cert(dir_.path(), pki_.ca_cert, pki_.ca_key, "elsewhere",
                           "IP:127.0.0.9,DNS:elsewhere.test");
    auto tls = TlsContext::make_server(
        {PemSource::from_file(pki_.ca_cert), PemSource::from_file(dir_.file("elsewhere.crt")),
         PemSource::from_file(dir_.file("elsewhere.key")), ClientAuth::request});
    ASSERT_TRUE(tls) << tls.error().message();
    HttpServerOptions opts;
    opts.tls = *tls;
    server_ = HttpServer::make(io_.executor(), opts);
    ASSERT_TRUE(server_->start());
    for (std::string host : {"127.0.0.1", "localhost"}) {
        auto r = whoami(client_tls(pki_.ca_cert, "", ""), host);
        ASSERT_FALSE(r) << host;
        EXPECT_TRUE(r.error().is(errc::crypto_error)) << r.error().message();
        EXPECT_NE(r.error().message().find("mismatch"), std::string::npos) << r.error().message();
    }
}

TEST_F(HttpTlsTest, SwappedContextServesNewConnections) {
    start(ClientAuth::require);
    auto other = TlsContext::make_server(
        {PemSource::from_file(pki_.other_ca_cert), PemSource::from_file(pki_.server_cert),
         PemSource::from_file(pki_.server_key), ClientAuth::require});
    ASSERT_TRUE(other);
    server_->set_tls_context(*other);
    // Now only certificates of the other CA are accepted.
    EXPECT_FALSE(whoami(client_tls(pki_.ca_cert, pki_.client_cert, pki_.client_key)));
    EXPECT_TRUE(whoami(client_tls(pki_.ca_cert, pki_.other_client_cert, pki_.other_client_key)));
}

}  // namespace
}  // namespace kedge::net
