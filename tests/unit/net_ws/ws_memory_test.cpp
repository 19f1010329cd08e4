// Idle-session memory on the server side, the number that decides how many edge nodes one
// cloudcore holds. The clients live in a forked child so that only the server's heap is counted.
#include "ws_test_util.hpp"

#include <boost/asio/this_coro.hpp>
#include <gtest/gtest.h>

#include <malloc.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define KEDGE_NO_MALLINFO 1
#endif
#endif

namespace kedge::net::test {
namespace {

constexpr int kSessions = 300;

asio::awaitable<void> connect_all(WsClientOptions o, std::vector<std::shared_ptr<WsConnection>>* out) {
    auto ex = co_await asio::this_coro::executor;
    for (int i = 0; i < kSessions; ++i) {
        auto c = co_await ws_connect(ex, o);
        if (!c) throw std::runtime_error(c.error().detail);
        (void)(*c)->send("{\"route\":{\"operation\":\"keepalive\"},\"content\":\"ping\"}");
        auto m = co_await (*c)->read();
        if (!m) throw std::runtime_error(m.error().detail);
        out->push_back(*c);
    }
}

[[maybe_unused]] [[noreturn]] void run_clients(unsigned short port, const Pki& pki, int ready_fd) {
    asio::io_context ioc;
    WsClientOptions o;
    o.url = "wss://127.0.0.1:" + std::to_string(port) + "/p/edge/events";
    o.tls = pki.client;
    std::vector<std::shared_ptr<WsConnection>> conns;
    try {
        run(ioc, connect_all(o, &conns), 60s);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "client child: %s\n", e.what());
        _exit(2);
    }
    char byte = 1;
    (void)!write(ready_fd, &byte, 1);
    for (;;) pause();  // keep the sessions open until the parent kills us
}

[[maybe_unused]] asio::awaitable<void> counting_echo(std::shared_ptr<WsConnection> c, std::shared_ptr<std::atomic<int>> n) {
    for (;;) {
        auto m = co_await c->read();
        if (!m) co_return;
        (void)c->send(std::move(*m));
        ++*n;
    }
}

TEST(WsMemory, IdleServerSessionStaysUnder40KiB) {
#ifdef KEDGE_NO_MALLINFO
    GTEST_SKIP() << "heap numbers are meaningless under ASan";
#else
    kedge::test::TempDir dir;
    Pki pki(dir.path());
    asio::io_context ioc;
    WsServerOptions o;
    o.tls = pki.server;
    auto server = WsServer::create(ioc.get_executor(), o).value();
    auto echoed = std::make_shared<std::atomic<int>>(0);
    server->set_handler([echoed](std::shared_ptr<WsConnection> c) { return counting_echo(c, echoed); });
    ASSERT_TRUE(server->start());
    // Warm up allocator caches (one full session) before the baseline.
    {
        WsClientOptions co;
        co.url = "wss://127.0.0.1:" + std::to_string(server->port()) + "/warm";
        co.tls = pki.client;
        auto c = run(ioc, ws_connect(ioc.get_executor(), co)).value();
        ASSERT_TRUE(c->send("warm"));
        ASSERT_TRUE(run(ioc, c->read()));
        c->close();
        (void)run(ioc, c->read());
        ASSERT_TRUE(drive_until(ioc, [&] { return server->connection_count() == 0; }));
    }
    *echoed = 0;
    malloc_trim(0);
    auto before = mallinfo2().uordblks;

    int fds[2];
    ASSERT_EQ(pipe(fds), 0);
    pid_t child = fork();
    ASSERT_GE(child, 0);
    if (child == 0) run_clients(server->port(), pki, fds[1]);
    close(fds[1]);
    ASSERT_TRUE(drive_until(ioc, [&] { return *echoed == kSessions; }, 60s));
    // Let the last writers finish and release their buffers.
    drive_until(ioc, [] { return false; }, 200ms);
    auto after = mallinfo2().uordblks;
    double per_session = static_cast<double>(after - before) / kSessions;
    RecordProperty("bytes_per_idle_session", static_cast<int>(per_session));
    std::printf("server heap per idle WSS session: %.0f bytes\n", per_session);
    EXPECT_EQ(server->connection_count(), static_cast<std::size_t>(kSessions));
    EXPECT_LT(per_session, 40 * 1024);

    kill(child, SIGKILL);
    int status = 0;
    waitpid(child, &status, 0);
    close(fds[0]);
    EXPECT_TRUE(drive_until(ioc, [&] { return server->connection_count() == 0; }, 20s));
#endif
}

}  // namespace
}  // namespace kedge::net::test
