// Probes as the kubelet runs them: spec parsing (defaults, named ports), one probe run against
// real servers on 127.0.0.1 (HTTP, HTTPS, TCP) or a fake exec, and the per-pod bookkeeping
// (thresholds, initial delay, period, startup gating, instance changes) on synthetic time.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <boost/json.hpp>
#include <mutex>
#include <thread>

#include "edge/edged/prober.hpp"
#include "support/test_support.hpp"

namespace kedge::edge {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;
using TimePoint = std::chrono::steady_clock::time_point;

json::object obj(const char* text) { return json::parse(text).as_object(); }

// A listening socket on 127.0.0.1 with an ephemeral port.
int listen_loopback(int* port, bool do_listen = true) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) return -1;
    socklen_t len = sizeof a;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    *port = ntohs(a.sin_port);
    if (do_listen && ::listen(fd, 16) != 0) return -1;
    return fd;
}

// A tiny HTTP/1.1 server on its own thread: answers by path, records each request head.
// "/slow" never answers (the connection is held until the server stops). With tls_ctx set,
// it speaks TLS.
class TestServer {
public:
    explicit TestServer(SSL_CTX* tls_ctx = nullptr) : tls_(tls_ctx) {
        listen_fd_ = listen_loopback(&port_);
        EXPECT_GE(listen_fd_, 0);
        EXPECT_EQ(::pipe(wake_), 0);
        thread_ = std::thread([this] { loop(); });
    }
    ~TestServer() {
        char c = 'x';
        EXPECT_EQ(::write(wake_[1], &c, 1), 1);
        thread_.join();
        for (int fd : held_) ::close(fd);
        ::close(listen_fd_);
        ::close(wake_[0]);
        ::close(wake_[1]);
    }
    int port() const { return port_; }
    std::vector<std::string> requests() {
        std::lock_guard lock(mu_);
        return requests_;
    }

private:
    static std::string reply(int code, const std::string& extra = {}) {
        return "HTTP/1.1 " + std::to_string(code) + " X\r\nContent-Length: 0\r\n" + extra +
               "Connection: close\r\n\r\n";
    }
    std::string route(const std::string& path) {
        if (path == "/ok") return reply(200);
        if (path == "/missing") return reply(404);
        if (path == "/redirect") return reply(302, "Location: /ok\r\n");
        if (path == "/redirect-missing") return reply(301, "Location: missing\r\n");
        if (path == "/away") return reply(302, "Location: http://example.invalid/ok\r\n");
        if (path == "/loop") return reply(307, "Location: /loop\r\n");
        if (path == "/multiple") return reply(300);
        if (path == "/continue") return "HTTP/1.1 100 Continue\r\n\r\n" + reply(204);
        if (path == "/garbage") return "SSH-2.0-OpenSSH\r\n\r\n";
        if (path == "/close") return "";
        return reply(500);
    }
    void loop() {
        for (;;) {
            pollfd p[2] = {{listen_fd_, POLLIN, 0}, {wake_[0], POLLIN, 0}};
            if (::poll(p, 2, -1) < 0) continue;
            if (p[1].revents) return;
            int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
            if (fd < 0) continue;
            timeval tv{5, 0};
            ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
            serve(fd);
        }
    }
    void serve(int fd) {
        SSL* ssl = nullptr;
        if (tls_) {
            ssl = SSL_new(tls_);
            SSL_set_fd(ssl, fd);
            if (SSL_accept(ssl) != 1) {
                SSL_free(ssl);
                ::close(fd);
                return;
            }
        }
        std::string head;
        char buf[1024];
        while (head.find("\r\n\r\n") == std::string::npos && head.size() < 65536) {
            int n = ssl ? SSL_read(ssl, buf, sizeof buf)
                        : static_cast<int>(::recv(fd, buf, sizeof buf, 0));
            if (n <= 0) break;
            head.append(buf, static_cast<std::size_t>(n));
        }
        {
            std::lock_guard lock(mu_);
            requests_.push_back(head);
        }
        auto sp1 = head.find(' ');
        auto sp2 = head.find(' ', sp1 + 1);
        std::string path = sp1 == std::string::npos ? "" : head.substr(sp1 + 1, sp2 - sp1 - 1);
        if (path == "/slow" && !ssl) {
            held_.push_back(fd);
            return;
        }
        std::string out = route(path);
        if (ssl) {
            if (!out.empty()) SSL_write(ssl, out.data(), static_cast<int>(out.size()));
            SSL_shutdown(ssl);
            SSL_free(ssl);
        } else if (!out.empty()) {
            (void)::send(fd, out.data(), out.size(), MSG_NOSIGNAL);
        }
        ::close(fd);
    }

    SSL_CTX* tls_;
    int listen_fd_ = -1, port_ = 0;
    int wake_[2] = {-1, -1};
    std::thread thread_;
    std::mutex mu_;
    std::vector<std::string> requests_;
    std::vector<int> held_;  // "/slow" connections, only touched by the server thread
};

ProbeSpec http_spec(int port, const std::string& path) {
    ProbeSpec s;
    s.handler = ProbeSpec::Handler::http_get;
    s.port = std::to_string(port);
    s.path = path;
    return s;
}

const ProbeTarget kLocal{"127.0.0.1", "c-1"};

// ---- parse_probe ----------------------------------------------------------------------------

const json::object kContainer = obj(
    R"({"name": "app", "ports": [{"name": "http", "containerPort": 8080},
                                   {"name": "admin", "containerPort": 9901}]})");

TEST(ParseProbe, DefaultsAreTheApiServers) {
    auto r = parse_probe(obj(R"({"httpGet": {"port": 8080}})"), kContainer);
    ASSERT_TRUE(r) << r.error().detail;
    EXPECT_EQ(r->handler, ProbeSpec::Handler::http_get);
    EXPECT_EQ(r->port, "8080");
    EXPECT_EQ(r->path, "/");
    EXPECT_EQ(r->scheme, "HTTP");
    EXPECT_EQ(r->host, "");
    EXPECT_EQ(r->initial_delay_seconds, 0);
    EXPECT_EQ(r->period_seconds, 10);
    EXPECT_EQ(r->timeout_seconds, 1);
    EXPECT_EQ(r->success_threshold, 1);
    EXPECT_EQ(r->failure_threshold, 3);

    // Zero means "default" for the four defaulted fields, as SetDefaults_Probe does.
    r = parse_probe(obj(R"({"tcpSocket": {"port": 1}, "periodSeconds": 0, "timeoutSeconds": 0,
        "successThreshold": 0, "failureThreshold": 0, "initialDelaySeconds": 0})"),
                    kContainer);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->period_seconds, 10);
    EXPECT_EQ(r->timeout_seconds, 1);
    EXPECT_EQ(r->success_threshold, 1);
    EXPECT_EQ(r->failure_threshold, 3);
}

TEST(ParseProbe, ReadsEveryField) {
    auto r = parse_probe(obj(R"({"httpGet": {"port": "admin", "path": "/healthz?full=1",
        "host": "127.0.0.1", "scheme": "HTTPS",
        "httpHeaders": [{"name": "X-Probe", "value": "yes"}, {"name": "Host", "value": "web"}]},
        "initialDelaySeconds": 5, "periodSeconds": 3, "timeoutSeconds": 2,
        "successThreshold": 2, "failureThreshold": 7, "terminationGracePeriodSeconds": 9})"),
                         kContainer);
    ASSERT_TRUE(r) << r.error().detail;
    EXPECT_EQ(r->port, "9901");
    EXPECT_EQ(r->path, "/healthz?full=1");
    EXPECT_EQ(r->host, "127.0.0.1");
    EXPECT_EQ(r->scheme, "HTTPS");
    ASSERT_EQ(r->http_headers.size(), 2u);
    EXPECT_EQ(r->http_headers[0], (std::pair<std::string, std::string>{"X-Probe", "yes"}));
    EXPECT_EQ(r->initial_delay_seconds, 5);
    EXPECT_EQ(r->period_seconds, 3);
    EXPECT_EQ(r->timeout_seconds, 2);
    EXPECT_EQ(r->success_threshold, 2);
    EXPECT_EQ(r->failure_threshold, 7);

    r = parse_probe(obj(R"({"exec": {"command": ["cat", "/tmp/healthy"]}})"), kContainer);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->handler, ProbeSpec::Handler::exec);
    EXPECT_EQ(r->command, (std::vector<std::string>{"cat", "/tmp/healthy"}));

    r = parse_probe(obj(R"({"tcpSocket": {"port": "http", "host": "10.80.0.9"}})"), kContainer);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->handler, ProbeSpec::Handler::tcp_socket);
    EXPECT_EQ(r->port, "8080");
    EXPECT_EQ(r->host, "10.80.0.9");

    // A number in a string that names no port is taken as the number (kubelet extractPort).
    r = parse_probe(obj(R"({"tcpSocket": {"port": "9090"}})"), kContainer);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->port, "9090");

    r = parse_probe(obj(R"({"grpc": {"port": 50051}})"), kContainer);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->handler, ProbeSpec::Handler::grpc);
}

TEST(ParseProbe, RejectsBadSpecsNamingTheProblem) {
    auto err = [](const char* text) {
        auto r = parse_probe(obj(text), kContainer);
        if (r) return std::string("accepted");
        EXPECT_TRUE(r.error().is(errc::invalid_argument));
        return r.error().detail;
    };
    EXPECT_EQ(err(R"({"periodSeconds": 3})"), "must specify a handler type");
    EXPECT_EQ(err(R"({"exec": {"command": ["true"]}, "tcpSocket": {"port": 1}})"),
              "may not specify more than 1 handler type");
    EXPECT_EQ(err(R"({"httpGet": {"port": "metrics"}})"),
              "httpGet.port: port \"metrics\" not found in container \"app\"");
    EXPECT_EQ(err(R"({"tcpSocket": {"port": 0}})"), "tcpSocket.port: invalid port number: 0");
    EXPECT_EQ(err(R"({"tcpSocket": {"port": 65536}})"),
              "tcpSocket.port: invalid port number: 65536");
    EXPECT_EQ(err(R"({"tcpSocket": {}})"), "tcpSocket.port is required");
    EXPECT_EQ(err(R"({"exec": {"command": []}})"), "exec.command: Required value");
    EXPECT_NE(err(R"({"httpGet": {"port": 80, "scheme": "FTP"}})").find("Unsupported value"),
              std::string::npos);
    EXPECT_EQ(
        err(R"({"httpGet": {"port": 80, "httpHeaders": [{"name": "Bad Name", "value": ""}]}})"),
        "httpGet.httpHeaders: invalid header name \"Bad Name\"");
    EXPECT_NE(
        err(R"({"httpGet": {"port": 80, "httpHeaders": [{"name": "X", "value": "a\r\nB: c"}]}})")
            .find("line break"),
        std::string::npos);
    EXPECT_EQ(err(R"({"tcpSocket": {"port": 1}, "periodSeconds": -1})"),
              "periodSeconds must be between 0 and 2147483647, got -1");
    EXPECT_EQ(err(R"({"tcpSocket": {"port": 1}, "timeoutSeconds": "1"})"),
              "timeoutSeconds must be an integer");
}

// ---- run_probe: HTTP ----------------------------------------------------------------------

TEST(RunProbe, HttpStatusDecides) {
    TestServer server;
    auto ok = run_probe(http_spec(server.port(), "/ok"), kLocal, nullptr);
    EXPECT_TRUE(ok.success) << ok.message;
    EXPECT_FALSE(ok.errored);

    auto missing = run_probe(http_spec(server.port(), "/missing"), kLocal, nullptr);
    EXPECT_FALSE(missing.success);
    EXPECT_FALSE(missing.errored);
    EXPECT_EQ(missing.message, "HTTP probe failed with statuscode: 404");

    // 3xx is success (the kubelet's "Probe terminated redirects" warning); 1xx is skipped.
    EXPECT_TRUE(run_probe(http_spec(server.port(), "/multiple"), kLocal, nullptr).success);
    EXPECT_TRUE(run_probe(http_spec(server.port(), "/continue"), kLocal, nullptr).success);
}

TEST(RunProbe, HttpSendsTheKubeletsRequest) {
    TestServer server;
    auto spec = http_spec(server.port(), "healthz-less-path");
    spec.path = "/ok";
    ASSERT_TRUE(run_probe(spec, kLocal, nullptr).success);
    spec.http_headers = {
        {"x-custom-header", "v1"}, {"Host", "web.example"}, {"user-agent", "mine/1"}};
    ASSERT_TRUE(run_probe(spec, kLocal, nullptr).success);

    auto reqs = server.requests();
    ASSERT_EQ(reqs.size(), 2u);
    const std::string& plain = reqs[0];
    EXPECT_EQ(plain.rfind("GET /ok HTTP/1.1\r\n", 0), 0u) << plain;
    EXPECT_NE(plain.find("\r\nHost: 127.0.0.1:" + std::to_string(server.port()) + "\r\n"),
              std::string::npos)
        << plain;
    EXPECT_NE(plain.find("\r\nUser-Agent: kube-probe/1.30\r\n"), std::string::npos) << plain;
    EXPECT_NE(plain.find("\r\nAccept: */*\r\n"), std::string::npos) << plain;
    EXPECT_NE(plain.find("\r\nConnection: close\r\n"), std::string::npos) << plain;

    const std::string& custom = reqs[1];
    EXPECT_NE(custom.find("\r\nHost: web.example\r\n"), std::string::npos) << custom;
    EXPECT_NE(custom.find("\r\nX-Custom-Header: v1\r\n"), std::string::npos) << custom;
    EXPECT_NE(custom.find("\r\nUser-Agent: mine/1\r\n"), std::string::npos) << custom;
    EXPECT_EQ(custom.find("kube-probe"), std::string::npos) << custom;
}

TEST(RunProbe, HttpPathWithoutSlashAndHostField) {
    TestServer server;
    auto spec = http_spec(server.port(), "ok");  // the URL gets its '/'
    EXPECT_TRUE(run_probe(spec, kLocal, nullptr).success);
    // The probe's host wins over the pod IP; without either the probe cannot run.
    spec.host = "127.0.0.1";
    EXPECT_TRUE(run_probe(spec, ProbeTarget{"", "c-1"}, nullptr).success);
    spec.host.clear();
    auto none = run_probe(spec, ProbeTarget{"", "c-1"}, nullptr);
    EXPECT_FALSE(none.success);
    EXPECT_TRUE(none.errored);
}

TEST(RunProbe, HttpRedirectsOnTheSameHostAreFollowed) {
    TestServer server;
    EXPECT_TRUE(run_probe(http_spec(server.port(), "/redirect"), kLocal, nullptr).success);
    auto to_missing = run_probe(http_spec(server.port(), "/redirect-missing"), kLocal, nullptr);
    EXPECT_FALSE(to_missing.success);
    EXPECT_EQ(to_missing.message, "HTTP probe failed with statuscode: 404");
    // Another host: not followed, the 3xx counts as success (no request leaves loopback).
    auto away = run_probe(http_spec(server.port(), "/away"), kLocal, nullptr);
    EXPECT_TRUE(away.success) << away.message;
    auto loop = run_probe(http_spec(server.port(), "/loop"), kLocal, nullptr);
    EXPECT_FALSE(loop.success);
    EXPECT_EQ(loop.message, "Get \"http://127.0.0.1:" + std::to_string(server.port()) +
                                "/loop\": stopped after 10 redirects");
    // Two requests per followed redirect pair, one for /away, ten for the loop (Go's limit).
    EXPECT_EQ(server.requests().size(), 2u + 2u + 1u + 10u);
}

TEST(RunProbe, HttpFailuresAreWordedAsTheKubelets) {
    TestServer server;
    auto url = [&](const std::string& path) {
        return "Get \"http://127.0.0.1:" + std::to_string(server.port()) + path + "\": ";
    };
    auto closed = run_probe(http_spec(server.port(), "/close"), kLocal, nullptr);
    EXPECT_FALSE(closed.success);
    EXPECT_EQ(closed.message, url("/close") + "EOF");
    auto garbage = run_probe(http_spec(server.port(), "/garbage"), kLocal, nullptr);
    EXPECT_FALSE(garbage.success);
    EXPECT_NE(garbage.message.find("malformed HTTP response \"SSH-2.0-OpenSSH\""),
              std::string::npos)
        << garbage.message;

    // Bound but not listening: the kernel refuses the connection.
    int port = 0;
    int fd = listen_loopback(&port, false);
    ASSERT_GE(fd, 0);
    auto refused = run_probe(http_spec(port, "/ok"), kLocal, nullptr);
    ::close(fd);
    EXPECT_FALSE(refused.success);
    EXPECT_FALSE(refused.errored);
    EXPECT_EQ(refused.message, "Get \"http://127.0.0.1:" + std::to_string(port) +
                                   "/ok\": dial tcp 127.0.0.1:" + std::to_string(port) +
                                   ": connect: connection refused");
}

TEST(RunProbe, HttpHonoursTimeoutSeconds) {
    TestServer server;
    auto spec = http_spec(server.port(), "/slow");
    spec.timeout_seconds = 1;
    auto start = std::chrono::steady_clock::now();
    auto r = run_probe(spec, kLocal, nullptr);
    auto took = std::chrono::steady_clock::now() - start;
    EXPECT_FALSE(r.success);
    EXPECT_EQ(r.message, "Get \"http://127.0.0.1:" + std::to_string(server.port()) +
                             "/slow\": context deadline exceeded (Client.Timeout exceeded while "
                             "awaiting headers)");
    EXPECT_GE(took, 900ms);
    EXPECT_LT(took, 5s);
}

TEST(RunProbe, HttpsWithoutVerification) {
    test::TempDir dir;
    auto pki = test::make_test_pki(dir.path());
    SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
    ASSERT_NE(ctx, nullptr);
    // Served with a certificate from a CA the prober has never seen: still fine.
    ASSERT_EQ(SSL_CTX_use_certificate_chain_file(ctx, pki.server_cert.c_str()), 1);
    ASSERT_EQ(SSL_CTX_use_PrivateKey_file(ctx, pki.server_key.c_str(), SSL_FILETYPE_PEM), 1);
    {
        TestServer server(ctx);
        auto spec = http_spec(server.port(), "/ok");
        spec.scheme = "HTTPS";
        auto ok = run_probe(spec, kLocal, nullptr);
        EXPECT_TRUE(ok.success) << ok.message;
        spec.path = "/missing";
        EXPECT_EQ(run_probe(spec, kLocal, nullptr).message,
                  "HTTP probe failed with statuscode: 404");
        // Plain HTTP against a TLS port fails (the server drops the non-TLS bytes).
        spec.scheme = "HTTP";
        spec.path = "/ok";
        EXPECT_FALSE(run_probe(spec, kLocal, nullptr).success);
        auto reqs = server.requests();
        ASSERT_GE(reqs.size(), 1u);
        EXPECT_NE(reqs[0].find("User-Agent: kube-probe/"), std::string::npos);
    }
    SSL_CTX_free(ctx);
}

// ---- run_probe: TCP, exec, gRPC ---------------------------------------------------------

TEST(RunProbe, TcpConnects) {
    int port = 0;
    int fd = listen_loopback(&port);
    ASSERT_GE(fd, 0);
    ProbeSpec spec;
    spec.handler = ProbeSpec::Handler::tcp_socket;
    spec.port = std::to_string(port);
    auto ok = run_probe(spec, kLocal, nullptr);
    EXPECT_TRUE(ok.success) << ok.message;
    ::close(fd);

    int closed_port = 0;
    int bound = listen_loopback(&closed_port, false);
    spec.port = std::to_string(closed_port);
    auto refused = run_probe(spec, kLocal, nullptr);
    ::close(bound);
    EXPECT_FALSE(refused.success);
    EXPECT_FALSE(refused.errored);
    EXPECT_EQ(refused.message, "dial tcp 127.0.0.1:" + std::to_string(closed_port) +
                                   ": connect: connection refused");
}

TEST(RunProbe, ExecUsesTheExitCode) {
    ProbeSpec spec;
    spec.handler = ProbeSpec::Handler::exec;
    spec.command = {"sh", "-c", "check"};
    spec.timeout_seconds = 4;
    std::vector<std::string> seen_cmd;
    std::string seen_id;
    std::chrono::seconds seen_timeout{};
    Result<std::pair<std::int32_t, std::string>> answer =
        std::pair<std::int32_t, std::string>{0, "fine"};
    ExecFn exec = [&](const std::string& id, const std::vector<std::string>& cmd,
                      std::chrono::seconds timeout) {
        seen_id = id;
        seen_cmd = cmd;
        seen_timeout = timeout;
        return answer;
    };
    auto ok = run_probe(spec, kLocal, exec);
    EXPECT_TRUE(ok.success);
    EXPECT_EQ(seen_id, "c-1");
    EXPECT_EQ(seen_cmd, spec.command);
    EXPECT_EQ(seen_timeout, 4s);

    answer = std::pair<std::int32_t, std::string>{1, "not ready yet\n"};
    auto failed = run_probe(spec, kLocal, exec);
    EXPECT_FALSE(failed.success);
    EXPECT_FALSE(failed.errored);
    EXPECT_EQ(failed.message, "not ready yet\n");

    answer = Error(errc::timeout, "deadline exceeded");
    auto timed_out = run_probe(spec, kLocal, exec);
    EXPECT_FALSE(timed_out.success);
    EXPECT_FALSE(timed_out.errored);
    EXPECT_EQ(timed_out.message, "command \"sh -c check\" timed out");

    answer = Error(errc::unavailable, "container runtime is down");
    auto broken = run_probe(spec, kLocal, exec);
    EXPECT_FALSE(broken.success);
    EXPECT_TRUE(broken.errored);
    EXPECT_EQ(broken.message, "container runtime is down");
}

TEST(RunProbe, GrpcIsNotSupported) {
    auto spec = parse_probe(obj(R"({"grpc": {"port": 50051}})"), kContainer);
    ASSERT_TRUE(spec);
    auto r = run_probe(*spec, kLocal, nullptr);
    EXPECT_FALSE(r.success);
    EXPECT_TRUE(r.errored);
    EXPECT_NE(r.message.find("not supported"), std::string::npos);
}

// ---- PodProber ------------------------------------------------------------------------------

const TimePoint kT0 = TimePoint{} + 1h;

using Running = std::map<std::string, std::pair<std::string, TimePoint>>;

ProbeOutcome ok() { return {true, "", false}; }
ProbeOutcome bad(const std::string& m = "HTTP probe failed with statuscode: 500") {
    return {false, m, false};
}

std::vector<ProbeKind> due_kinds(const PodProber& p, TimePoint now) {
    std::vector<ProbeKind> out;
    for (const auto& [key, spec] : p.due(now)) out.push_back(key.kind);
    return out;
}

TEST(PodProber, InitialValues) {
    PodProber p;
    p.observe(obj(R"({"containers": [
        {"name": "web", "readinessProbe": {"tcpSocket": {"port": 80}},
                        "livenessProbe": {"tcpSocket": {"port": 80}}},
        {"name": "slow", "startupProbe": {"tcpSocket": {"port": 80}}},
        {"name": "plain"}]})"),
              Running{{"web", {"w1", kT0}}, {"slow", {"s1", kT0}}, {"plain", {"p1", kT0}}}, kT0);
    EXPECT_FALSE(p.ready("web"));
    EXPECT_TRUE(p.live("web"));
    EXPECT_TRUE(p.started("web"));
    EXPECT_FALSE(p.started("slow"));
    EXPECT_FALSE(p.ready("slow"));  // not started: not ready, even without a readiness probe
    EXPECT_TRUE(p.live("slow"));
    EXPECT_TRUE(p.ready("plain"));
    EXPECT_TRUE(p.started("plain"));
    EXPECT_TRUE(p.live("plain"));
    EXPECT_EQ(p.restart_message("web"), "");
}

TEST(PodProber, LivenessFlipsAfterFailureThresholdAndHolds) {
    PodProber p;
    p.observe(obj(R"({"containers": [{"name": "web",
        "livenessProbe": {"httpGet": {"port": 80}, "periodSeconds": 1}}]})"),
              Running{{"web", {"w1", kT0}}}, kT0);
    ProbeKey key{"web", "w1", ProbeKind::liveness};
    ASSERT_EQ(due_kinds(p, kT0), std::vector<ProbeKind>{ProbeKind::liveness});
    EXPECT_FALSE(p.record(key, bad(), kT0));
    EXPECT_FALSE(p.record(key, bad(), kT0 + 1s));
    EXPECT_TRUE(p.live("web"));
    EXPECT_TRUE(p.record(key, bad("boom"), kT0 + 2s));
    EXPECT_FALSE(p.live("web"));
    EXPECT_EQ(p.last_failure("web", ProbeKind::liveness), "boom");
    EXPECT_EQ(p.restart_message("web"), "Container web failed liveness probe, will be restarted");
    // On hold until a new instance: nothing due, no wake-up needed.
    EXPECT_TRUE(p.due(kT0 + 1h).empty());
    EXPECT_FALSE(p.next_due());
}

TEST(PodProber, FailuresMustBeConsecutive) {
    PodProber p;
    p.observe(obj(R"({"containers": [{"name": "web",
        "livenessProbe": {"tcpSocket": {"port": 80}}}]})"),
              Running{{"web", {"w1", kT0}}}, kT0);
    ProbeKey key{"web", "w1", ProbeKind::liveness};
    for (auto o : {bad(), bad(), ok(), bad(), bad()}) EXPECT_FALSE(p.record(key, o, kT0));
    EXPECT_TRUE(p.live("web"));
    EXPECT_TRUE(p.record(key, bad(), kT0));
    EXPECT_FALSE(p.live("web"));
}

TEST(PodProber, ReadinessSuccessThresholdAndRecovery) {
    PodProber p;
    p.observe(obj(R"({"containers": [{"name": "web",
        "readinessProbe": {"tcpSocket": {"port": 80}, "successThreshold": 2,
                           "failureThreshold": 2}}]})"),
              Running{{"web", {"w1", kT0}}}, kT0);
    ProbeKey key{"web", "w1", ProbeKind::readiness};
    EXPECT_FALSE(p.record(key, ok(), kT0));
    EXPECT_FALSE(p.ready("web"));
    EXPECT_TRUE(p.record(key, ok(), kT0 + 10s));
    EXPECT_TRUE(p.ready("web"));
    EXPECT_FALSE(p.record(key, bad(), kT0 + 20s));
    EXPECT_TRUE(p.ready("web"));
    EXPECT_TRUE(p.record(key, bad(), kT0 + 30s));
    EXPECT_FALSE(p.ready("web"));
    // Readiness never holds: it keeps probing and comes back.
    EXPECT_EQ(due_kinds(p, kT0 + 40s), std::vector<ProbeKind>{ProbeKind::readiness});
    EXPECT_FALSE(p.record(key, ok(), kT0 + 40s));
    EXPECT_TRUE(p.record(key, ok(), kT0 + 50s));
    EXPECT_TRUE(p.ready("web"));
}

TEST(PodProber, InitialDelayThenEveryPeriod) {
    PodProber p;
    TimePoint started = kT0 - 2s;  // the container started before this sync
    p.observe(obj(R"({"containers": [{"name": "web",
        "readinessProbe": {"tcpSocket": {"port": 80}, "initialDelaySeconds": 5,
                           "periodSeconds": 10}}]})"),
              Running{{"web", {"w1", started}}}, kT0);
    EXPECT_EQ(p.next_due(), started + 5s);
    EXPECT_TRUE(p.due(started + 4999ms).empty());
    ASSERT_EQ(p.due(started + 5s).size(), 1u);
    ProbeKey key{"web", "w1", ProbeKind::readiness};
    EXPECT_EQ(p.due(started + 5s)[0].first, key);
    EXPECT_EQ(p.due(started + 5s)[0].second.period_seconds, 10);
    p.record(key, ok(), started + 6s);
    EXPECT_TRUE(p.due(started + 15s).empty());
    EXPECT_EQ(p.next_due(), started + 16s);
    EXPECT_EQ(p.due(started + 16s).size(), 1u);

    // begin(): a running probe is not handed out twice, and the period counts from its start.
    p.begin(key, started + 16s);
    EXPECT_TRUE(p.due(started + 30s).empty());
    EXPECT_FALSE(p.next_due());
    p.record(key, ok(), started + 17s);
    EXPECT_EQ(p.next_due(), started + 26s);
}

TEST(PodProber, StartupGatesLivenessAndReadiness) {
    PodProber p;
    p.observe(obj(R"({"containers": [{"name": "web",
        "startupProbe": {"tcpSocket": {"port": 80}, "periodSeconds": 1, "failureThreshold": 30},
        "livenessProbe": {"tcpSocket": {"port": 80}, "periodSeconds": 5},
        "readinessProbe": {"tcpSocket": {"port": 80}, "periodSeconds": 5}}]})"),
              Running{{"web", {"w1", kT0}}}, kT0);
    ProbeKey startup{"web", "w1", ProbeKind::startup};
    EXPECT_EQ(due_kinds(p, kT0 + 1h), std::vector<ProbeKind>{ProbeKind::startup});
    EXPECT_FALSE(p.record(startup, bad("dial tcp 10.80.0.5:80: connect: connection refused"), kT0));
    EXPECT_FALSE(p.started("web"));
    EXPECT_EQ(p.next_due(), kT0 + 1s);
    EXPECT_TRUE(p.record(startup, ok(), kT0 + 1s));
    EXPECT_TRUE(p.started("web"));
    EXPECT_FALSE(p.ready("web"));  // until the readiness probe passes
    // Startup is done for this instance; the others run right away.
    auto kinds = due_kinds(p, kT0 + 1s);
    std::sort(kinds.begin(), kinds.end());
    EXPECT_EQ(kinds, (std::vector<ProbeKind>{ProbeKind::liveness, ProbeKind::readiness}));
    EXPECT_TRUE(p.record(ProbeKey{"web", "w1", ProbeKind::readiness}, ok(), kT0 + 1s));
    EXPECT_TRUE(p.ready("web"));
}

TEST(PodProber, StartupFailureRestarts) {
    PodProber p;
    p.observe(obj(R"({"containers": [{"name": "web",
        "startupProbe": {"tcpSocket": {"port": 80}, "failureThreshold": 2},
        "livenessProbe": {"tcpSocket": {"port": 80}}}]})"),
              Running{{"web", {"w1", kT0}}}, kT0);
    ProbeKey startup{"web", "w1", ProbeKind::startup};
    EXPECT_FALSE(p.record(startup, bad(), kT0));
    EXPECT_TRUE(p.record(startup, bad(), kT0 + 10s));
    EXPECT_FALSE(p.live("web"));
    EXPECT_FALSE(p.started("web"));
    EXPECT_EQ(p.restart_message("web"), "Container web failed startup probe, will be restarted");
    EXPECT_TRUE(p.due(kT0 + 1h).empty());
}

TEST(PodProber, NewInstanceStartsOverAndGoneInstancesAreDropped) {
    PodProber p;
    auto spec = obj(R"({"containers": [{"name": "web",
        "livenessProbe": {"tcpSocket": {"port": 80}, "failureThreshold": 1,
                          "initialDelaySeconds": 3},
        "readinessProbe": {"tcpSocket": {"port": 80}}}]})");
    p.observe(spec, Running{{"web", {"w1", kT0}}}, kT0);
    ProbeKey live1{"web", "w1", ProbeKind::liveness};
    ProbeKey ready1{"web", "w1", ProbeKind::readiness};
    EXPECT_TRUE(p.record(ready1, ok(), kT0));
    EXPECT_TRUE(p.record(live1, bad(), kT0 + 3s));
    EXPECT_FALSE(p.live("web"));

    // The same instance observed again keeps its state.
    p.observe(spec, Running{{"web", {"w1", kT0}}}, kT0 + 4s);
    EXPECT_FALSE(p.live("web"));
    EXPECT_TRUE(p.ready("web"));

    // Not running: no results; a record for the gone instance is ignored.
    p.observe(spec, Running{}, kT0 + 5s);
    EXPECT_FALSE(p.next_due());
    EXPECT_FALSE(p.record(ready1, bad(), kT0 + 5s));

    TimePoint t1 = kT0 + 20s;
    p.observe(spec, Running{{"web", {"w2", t1}}}, t1);
    EXPECT_TRUE(p.live("web"));
    EXPECT_FALSE(p.ready("web"));
    EXPECT_EQ(p.next_due(), t1);  // readiness now, liveness after its initial delay
    EXPECT_EQ(due_kinds(p, t1), std::vector<ProbeKind>{ProbeKind::readiness});
    auto at_delay = p.due(t1 + 3s);
    ASSERT_EQ(at_delay.size(), 2u);
    EXPECT_EQ(at_delay[0].first, (ProbeKey{"web", "w2", ProbeKind::liveness}));
    EXPECT_FALSE(p.record(live1, bad(), t1 + 3s));
}

TEST(PodProber, ErroredRunsAndBadSpecsKeepTheInitialResult) {
    PodProber p;
    p.observe(obj(R"({"containers": [
        {"name": "web", "readinessProbe": {"grpc": {"port": 9000}}},
        {"name": "named", "readinessProbe": {"httpGet": {"port": "metrics"}}}]})"),
              Running{{"web", {"w1", kT0}}, {"named", {"n1", kT0}}}, kT0);
    ProbeKey key{"web", "w1", ProbeKind::readiness};
    EXPECT_FALSE(p.record(key, ProbeOutcome{false, "gRPC probes are not supported", true}, kT0));
    EXPECT_FALSE(p.ready("web"));
    EXPECT_EQ(p.last_failure("web", ProbeKind::readiness), "gRPC probes are not supported");
    EXPECT_EQ(p.next_due(), kT0 + 10s);  // still probed every period

    // A probe that cannot be parsed never runs and the container never becomes ready.
    EXPECT_FALSE(p.ready("named"));
    for (const auto& [k, s] : p.due(kT0 + 1h)) EXPECT_NE(k.container, "named");
    EXPECT_NE(p.last_failure("named", ProbeKind::readiness).find("port \"metrics\" not found"),
              std::string::npos);
}

}  // namespace
}  // namespace kedge::edge
