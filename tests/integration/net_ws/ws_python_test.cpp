// kedge's WebSocket server and client against independent Python peers, and against peers
// that break the rules. The kedge side runs in this process on one io_context; the Python
// side is a child process (Debian's /usr/bin/python3 for python3-websocket).
#include "ws_test_util.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <sys/wait.h>

namespace kedge::net::test {
namespace {

using kedge::test::Process;
using kedge::test::read_file;
using kedge::test::source_path;

constexpr const char* kPython = "/usr/bin/python3";

std::string script(const std::string& name) { return source_path("tests/integration/net_ws/" + name); }

class WsPythonTest : public ::testing::Test {
protected:
    WsPythonTest() : pki_(dir_.path()) {}

    std::shared_ptr<WsServer> start_server() {
        WsServerOptions o;
        o.tls = pki_.server;
        o.ws.max_message_bytes = 1024 * 1024;
        o.ws.handshake_timeout = 5s;
        auto server = WsServer::create(ioc_.get_executor(), o).value();
        server->set_handler(echo);
        server->set_authorizer([this](const WsUpgradeRequest& r) -> Result<void> {
            last_node_id_ = std::string(r.header("node_id"));
            last_cn_ = r.peer.common_name;
            return {};
        });
        EXPECT_TRUE(server->start());
        return server;
    }

    // Runs a child to completion while this thread keeps serving; returns its exit code.
    int run_child(std::vector<std::string> argv, const std::string& out) {
        Process p(std::move(argv), out);
        EXPECT_TRUE(drive_until(ioc_, [&] { return !p.running(); }, 20s)) << "child still running";
        int status = p.stop();
        return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    }

    std::shared_ptr<WsConnection> connect_normal(unsigned short port) {
        WsClientOptions o;
        o.url = "wss://localhost:" + std::to_string(port) + "/p/edge1/events";
        o.tls = pki_.client;
        auto c = run(ioc_, ws_connect(ioc_.get_executor(), o));
        EXPECT_TRUE(c) << (c ? "" : c.error().detail);
        return c ? *c : nullptr;
    }

    void expect_echo(const std::shared_ptr<WsConnection>& c, const std::string& text) {
        ASSERT_TRUE(c->send(text));
        auto m = run(ioc_, c->read());
        ASSERT_TRUE(m) << m.error().detail;
        EXPECT_EQ(*m, text);
    }

    kedge::test::TempDir dir_;
    Pki pki_;
    asio::io_context ioc_;
    std::string last_node_id_, last_cn_;
};

TEST_F(WsPythonTest, PythonClientWithClientCertAndHeadersGetsEcho) {
    auto server = start_server();
    auto out = dir_.file("client.out");
    int code = run_child({kPython, script("ws_client.py"),
                          "wss://localhost:" + std::to_string(server->port()) + "/p/edge1/events",
                          pki_.files.ca_cert, pki_.files.client_cert, pki_.files.client_key},
                         out);
    auto text = read_file(out);
    EXPECT_EQ(code, 0) << text;
    EXPECT_NE(text.find("ECHO {\"route\":{\"operation\":\"keepalive\"},\"content\":\"ping\"}"),
              std::string::npos)
        << text;
    EXPECT_EQ(last_node_id_, "edge1");
    EXPECT_EQ(last_cn_, "system:node:edge1");
}

TEST_F(WsPythonTest, PythonClientWithoutClientCertFailsTheHandshake) {
    LogCapture logs;
    auto server = start_server();
    auto out = dir_.file("client.out");
    int code = run_child({kPython, script("ws_client.py"),
                          "wss://localhost:" + std::to_string(server->port()) + "/p/edge1/events",
                          pki_.files.ca_cert},
                         out);
    EXPECT_EQ(code, 3) << read_file(out);
    EXPECT_NE(read_file(out).find("HANDSHAKE-FAILED"), std::string::npos);
    EXPECT_TRUE(last_node_id_.empty());  // never reached the authorizer
    EXPECT_TRUE(drive_until(ioc_, [&] { return server->connection_count() == 0; }));
    EXPECT_NE(logs.text().find("TLS handshake failed"), std::string::npos) << logs.text();
}

class WsAgainstPythonServer : public WsPythonTest {
protected:
    // Starts ws_server.py with cert/key and returns its port (0 on failure).
    int start_python_server(const std::string& cert, const std::string& key) {
        server_out_ = dir_.file("server.out");
        server_ = std::make_unique<Process>(
            std::vector<std::string>{kPython, script("ws_server.py"), cert, key}, server_out_);
        int port = 0;
        kedge::test::wait_until([&] {
            auto text = read_file(server_out_);
            return std::sscanf(text.c_str(), "PORT %d", &port) == 1;
        });
        return port;
    }
    Result<std::shared_ptr<WsConnection>> connect(const std::string& url) {
        WsClientOptions o;
        o.url = url;
        o.tls = pki_.client;
        o.connect_timeout = 5s;
        return run(ioc_, ws_connect(ioc_.get_executor(), o));
    }
    std::string server_out_;
    std::unique_ptr<Process> server_;
};

TEST_F(WsAgainstPythonServer, OurClientTalksToAnIndependentServer) {
    int port = start_python_server(pki_.files.server_cert, pki_.files.server_key);
    ASSERT_GT(port, 0) << read_file(server_out_);
    auto c = connect("wss://127.0.0.1:" + std::to_string(port) + "/p/edge1/events");
    ASSERT_TRUE(c) << c.error().detail;
    expect_echo(*c, "hello from kedge");
    expect_echo(*c, std::string(200000, 'b'));  // 64-bit length, several TLS records
    (*c)->close(kWsCloseNormal, "done");
    EXPECT_FALSE(run(ioc_, (*c)->read()));
}

TEST_F(WsAgainstPythonServer, OurClientRefusesACertificateForAnotherName) {
    // openssl-made certificate for another host, signed by the right CA.
    auto dir = dir_.path();
    auto r = kedge::test::run_command(
        "cd " + dir + " && openssl ecparam -name prime256v1 -genkey -noout -out wrong.key && "
        "openssl req -new -key wrong.key -subj /CN=elsewhere -out wrong.csr && "
        "printf 'subjectAltName=DNS:elsewhere.example,IP:10.9.9.9\\nextendedKeyUsage=serverAuth\\n' > wrong.ext && "
        "openssl x509 -req -in wrong.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 1 "
        "-extfile wrong.ext -out wrong.crt");
    ASSERT_EQ(r.exit_code, 0) << r.output;
    int port = start_python_server(dir + "/wrong.crt", dir + "/wrong.key");
    ASSERT_GT(port, 0) << read_file(server_out_);
    for (std::string host : {"127.0.0.1", "localhost"}) {
        auto c = connect("wss://" + host + ":" + std::to_string(port) + "/x");
        ASSERT_FALSE(c) << host;
        EXPECT_TRUE(c.error().is(errc::crypto_error)) << c.error().message();
        EXPECT_NE(c.error().detail.find("mismatch"), std::string::npos) << c.error().detail;
    }
}

TEST_F(WsAgainstPythonServer, OurClientRefusesAServerFromAnotherCa) {
    auto dir = dir_.path();
    auto r = kedge::test::run_command(
        "cd " + dir + " && openssl ecparam -name prime256v1 -genkey -noout -out rogue.key && "
        "openssl req -new -key rogue.key -subj /CN=rogue -out rogue.csr && "
        "printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\\n' > rogue.ext && "
        "openssl x509 -req -in rogue.csr -CA other-ca.crt -CAkey other-ca.key -CAcreateserial "
        "-days 1 -extfile rogue.ext -out rogue.crt");
    ASSERT_EQ(r.exit_code, 0) << r.output;
    int port = start_python_server(dir + "/rogue.crt", dir + "/rogue.key");
    ASSERT_GT(port, 0) << read_file(server_out_);
    auto c = connect("wss://127.0.0.1:" + std::to_string(port) + "/x");
    ASSERT_FALSE(c);
    EXPECT_TRUE(c.error().is(errc::crypto_error)) << c.error().message();
    EXPECT_NE(c.error().detail.find("certificate verify failed"), std::string::npos)
        << c.error().detail;
}

struct BadCase {
    const char* mode;
    const char* peer_sees;   // what bad_peer.py prints
    const char* server_log;  // the reason kedge logs
};

class WsBadPeer : public WsPythonTest, public ::testing::WithParamInterface<BadCase> {};

TEST_P(WsBadPeer, ClosesOnlyThatConnectionWithALoggedReason) {
    LogCapture logs;
    auto server = start_server();
    auto normal = connect_normal(server->port());
    ASSERT_TRUE(normal);
    expect_echo(normal, "before");

    auto out = dir_.file("bad.out");
    int code = run_child({kPython, script("bad_peer.py"), GetParam().mode,
                          std::to_string(server->port()), pki_.files.ca_cert,
                          pki_.files.client_cert, pki_.files.client_key},
                         out);
    auto text = read_file(out);
    EXPECT_EQ(code, 0) << text;
    EXPECT_NE(text.find(GetParam().peer_sees), std::string::npos) << text;
    EXPECT_TRUE(drive_until(ioc_, [&] {
        return logs.text().find(GetParam().server_log) != std::string::npos;
    })) << logs.text();

    // The connection beside it did not notice.
    expect_echo(normal, "after");
    EXPECT_TRUE(drive_until(ioc_, [&] { return server->connection_count() == 1; }));
}

INSTANTIATE_TEST_SUITE_P(
    Modes, WsBadPeer,
    ::testing::Values(BadCase{"garbage_tls", "", "TLS handshake failed"},
                      BadCase{"garbage_http", "HTTP 400", "bad HTTP upgrade request"},
                      BadCase{"oversized", "CLOSE 1009", "message larger than 1048576 bytes"},
                      BadCase{"bad_opcode", "CLOSE 1002", "protocol violation by the peer"},
                      BadCase{"unmasked", "CLOSE 1002", "protocol violation by the peer"}),
    [](const auto& info) { return std::string(info.param.mode); });

}  // namespace
}  // namespace kedge::net::test
