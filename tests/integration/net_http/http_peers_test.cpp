// Our server and client against peers no one here wrote: curl, openssl s_client, openssl
// s_server, Python's http.server.
#include "integration/net_http/http_fixture.hpp"

namespace kedge::net {
namespace {

using boost::asio::awaitable;

using CurlTest = TlsServerFixture;

TEST_F(CurlTest, ValidClientCertificateGets200) {
    start();
    auto r = test::run_command(curl(client_cert_args() + " -w ' %{http_code}' " + url("/hello")));
    EXPECT_EQ(r.exit_code, 0) << r.output;
    EXPECT_EQ(r.output, "hello system:node:edge1 200");
}

TEST_F(CurlTest, NoClientCertificateIsRefused) {
    start();
    test::LogCapture logs(kedge::log::get("net.http"));
    auto r = test::run_command(curl(url("/hello")));
    EXPECT_NE(r.exit_code, 0) << r.output;
    EXPECT_EQ(r.output.find("hello"), std::string::npos) << r.output;
    EXPECT_TRUE(test::wait_until([&] { return logs.contains("TLS handshake failed"); }))
        << logs.all();
    EXPECT_TRUE(good_request());
}

TEST_F(CurlTest, ClientCertificateFromOtherCaIsRefused) {
    start();
    auto r = test::run_command(curl("--cert " + pki_.other_client_cert + " --key " +
                                    pki_.other_client_key + " " + url("/hello")));
    EXPECT_NE(r.exit_code, 0) << r.output;
    EXPECT_EQ(r.output.find("hello"), std::string::npos) << r.output;
    EXPECT_TRUE(good_request());
}

TEST_F(CurlTest, ChunkedStreamWithNoBuffer) {
    start();
    auto r = test::run_command(curl(client_cert_args() + " -N " + url("/stream")));
    EXPECT_EQ(r.exit_code, 0) << r.output;
    std::string expected;
    for (int i = 0; i < 100; ++i) expected += "{\"n\":" + std::to_string(i) + "}\n";
    EXPECT_EQ(r.output, expected);
}

TEST_F(CurlTest, LargeUploadWithExpectContinue) {
    start();
    // curl sends "Expect: 100-continue" for bodies over 1 KiB when asked.
    auto r =
        test::run_command(curl(client_cert_args() + " -H 'Expect: 100-continue' " +
                               "--data-binary @" + dir_.file("big.txt") + " " + url("/upload")));
    EXPECT_EQ(r.exit_code, 0) << r.output;
    EXPECT_EQ(r.output, "got 2000");
}

using OpensslClientTest = TlsServerFixture;

TEST_F(OpensslClientTest, ValidCertificateRawGet) {
    start();
    auto r = test::run_command(
        s_client("GET /hello HTTP/1.1\\r\\nHost: x\\r\\nConnection: close\\r\\n\\r\\n",
                 "-cert " + pki_.client_cert + " -key " + pki_.client_key));
    EXPECT_NE(r.output.find("HTTP/1.1 200 OK"), std::string::npos) << r.output;
    EXPECT_NE(r.output.find("hello system:node:edge1"), std::string::npos) << r.output;
}

TEST_F(OpensslClientTest, NoCertificateIsRefused) {
    start();
    auto r = test::run_command(
        s_client("GET /hello HTTP/1.1\\r\\nHost: x\\r\\nConnection: close\\r\\n\\r\\n", ""));
    EXPECT_EQ(r.output.find("HTTP/1.1 200"), std::string::npos) << r.output;
    EXPECT_NE(r.output.find("alert"), std::string::npos) << r.output;
    EXPECT_TRUE(good_request());
}

// Our client against openssl s_server -WWW (a file server) with openssl-made certificates.
class OpensslServerTest : public ::testing::Test {
  protected:
    void SetUp() override {
        pki_ = test::make_test_pki(dir_.path());
        test::make_server_cert(dir_.path(), pki_.ca_cert, pki_.ca_key, "elsewhere",
                               "IP:127.0.0.9,DNS:elsewhere.test");
        test::write_file(dir_.file("index.txt"), "served by openssl\n");
    }

    void start_s_server(const std::string& cert, const std::string& key) {
        port_ = test::free_port();
        server_ = std::make_unique<test::Process>(
            std::vector<std::string>{"/bin/sh", "-c",
                                     "cd " + dir_.path() +
                                         " && exec openssl s_server -WWW -accept 127.0.0.1:" +
                                         std::to_string(port_) + " -cert " + cert + " -key " + key},
            dir_.file("s_server.log"));
        ASSERT_TRUE(test::wait_until([&] {
            return test::read_file(dir_.file("s_server.log")).find("ACCEPT") != std::string::npos;
        })) << test::read_file(dir_.file("s_server.log"));
    }

    Result<HttpResponse> get(const std::string& ca, const std::string& host = "127.0.0.1") {
        ClientTlsOptions o;
        o.ca = PemSource::from_file(ca);
        auto tls = TlsContext::make_client(o);
        if (!tls) return tls.error();
        HttpClientOptions co;
        co.base_url = "https://" + host + ":" + std::to_string(port_);
        co.tls = *tls;
        co.request_timeout = std::chrono::seconds(10);
        HttpClient c(io_.executor(), co);
        return io_.run(c.request({"GET", "/index.txt", {}, {}, {}}));
    }

    test::TempDir dir_;
    test::TestPki pki_;
    test::IoThread io_;
    int port_ = 0;
    std::unique_ptr<test::Process> server_;
};

TEST_F(OpensslServerTest, FetchesFile) {
    start_s_server(pki_.server_cert, pki_.server_key);
    auto r = get(pki_.ca_cert);
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->body, "served by openssl\n");
}

TEST_F(OpensslServerTest, RefusesServerSignedByOtherCa) {
    start_s_server(pki_.server_cert, pki_.server_key);
    auto r = get(pki_.other_ca_cert);
    ASSERT_FALSE(r);
    EXPECT_TRUE(r.error().is(errc::crypto_error)) << r.error().message();
}

TEST_F(OpensslServerTest, RefusesCertificateForAnotherHost) {
    start_s_server(dir_.file("elsewhere.crt"), dir_.file("elsewhere.key"));
    auto r = get(pki_.ca_cert);
    ASSERT_FALSE(r);
    EXPECT_TRUE(r.error().is(errc::crypto_error)) << r.error().message();
    EXPECT_NE(r.error().message().find("mismatch"), std::string::npos) << r.error().message();
}

constexpr const char* kPythonChunkedServer = R"PY(
import http.server, sys

class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        data = "".join('{"type":"MODIFIED","n":%d}\n' % i for i in range(500)).encode()
        i, step = 0, 3
        while i < len(data):
            piece = data[i:i + step]
            self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            self.wfile.flush()
            i += step
            step = step * 5 % 61 + 1
        self.wfile.write(b"0\r\n\r\n")

    def log_message(self, *args):
        pass

http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
)PY";

TEST(PythonServerTest, ReadsChunkedStreamLineByLine) {
    test::TempDir dir;
    test::write_file(dir.file("server.py"), kPythonChunkedServer);
    int port = test::free_port();
    test::Process py({"python3", dir.file("server.py"), std::to_string(port)}, dir.file("py.log"));
    ASSERT_TRUE(test::wait_until([&] {
        try {
            test::RawConn probe(port);
            return true;
        } catch (const std::exception&) {
            return false;
        }
    })) << test::read_file(dir.file("py.log"));

    test::IoThread io;
    HttpClientOptions o;
    o.base_url = "http://127.0.0.1:" + std::to_string(port);
    HttpClient c(io.executor(), o);
    auto lines = io.run([&]() -> awaitable<Result<std::vector<std::string>>> {
        auto s = co_await c.stream({"GET", "/watch", {}, {}, {}});
        if (!s) co_return s.error();
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
    ASSERT_EQ(lines->size(), 500u);
    for (int i = 0; i < 500; ++i)
        ASSERT_EQ((*lines)[static_cast<std::size_t>(i)],
                  "{\"type\":\"MODIFIED\",\"n\":" + std::to_string(i) + "}");
}

}  // namespace
}  // namespace kedge::net
