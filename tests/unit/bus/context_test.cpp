// The module runtime: queues, groups, request/response, shutdown, concurrency.

#include "bus/context.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <thread>

#include "bus/constants.hpp"
#include "support/coro.hpp"

namespace kedge::bus {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using kedge::test::run_coro;

class TestModule : public Module {
  public:
    TestModule(std::string name, std::string group)
        : name_(std::move(name)), group_(std::move(group)) {}
    std::string name() const override { return name_; }
    std::string group() const override { return group_; }
    void start(Context&) override { ++started; }
    void stop() override { ++stopped; }
    std::atomic<int> started{0}, stopped{0};

  private:
    std::string name_, group_;
};

Message msg(std::string op, std::string resource = "default/pod/x") {
    return Message::make("test", "resource", std::move(op), std::move(resource));
}

struct BusContext : ::testing::Test {
    asio::io_context ioc;
    std::unique_ptr<Context> ctx;
    std::shared_ptr<TestModule> meta = std::make_shared<TestModule>("metamanager", "meta");
    std::shared_ptr<TestModule> edged = std::make_shared<TestModule>("edged", "edged");

    void make(ContextOptions opts = {}) {
        ctx = std::make_unique<Context>(ioc.get_executor(), opts);
        ASSERT_TRUE(ctx->add_module(meta));
        ASSERT_TRUE(ctx->add_module(edged));
    }
    void SetUp() override { make(); }
};

TEST_F(BusContext, SendReceiveKeepsOrder) {
    for (int i = 0; i < 10; ++i)
        ASSERT_TRUE(ctx->send("metamanager", msg("insert", "default/pod/p" + std::to_string(i))));
    EXPECT_EQ(ctx->queue_size("metamanager"), 10u);
    run_coro(ioc, [&]() -> asio::awaitable<void> {
        for (int i = 0; i < 10; ++i) {
            auto m = co_await ctx->receive("metamanager");
            EXPECT_TRUE(m);
            if (m) EXPECT_EQ(m->route.resource, "default/pod/p" + std::to_string(i));
        }
    }());
    EXPECT_EQ(ctx->queue_size("metamanager"), 0u);
}

TEST_F(BusContext, ReceiverWaitsForLaterSend) {
    auto got = run_coro(ioc, [&]() -> asio::awaitable<Result<Message>> {
        auto ex = co_await asio::this_coro::executor;
        asio::co_spawn(
            ex,
            [&]() -> asio::awaitable<void> {
                asio::steady_timer t(co_await asio::this_coro::executor, 5ms);
                co_await t.async_wait(asio::use_awaitable);
                EXPECT_TRUE(ctx->send("edged", msg("update")));
            },
            asio::detached);
        co_return co_await ctx->receive("edged");
    }());
    ASSERT_TRUE(got);
    EXPECT_EQ(got->route.operation, "update");
}

TEST_F(BusContext, GroupFanOut) {
    auto twin_a = std::make_shared<TestModule>("twin", "twin");
    auto twin_b = std::make_shared<TestModule>("twin-mirror", "twin");
    auto twin_off = std::make_shared<TestModule>("twin-off", "twin");
    ASSERT_TRUE(ctx->add_module(twin_a));
    ASSERT_TRUE(ctx->add_module(twin_b));
    ASSERT_TRUE(ctx->add_module(twin_off, false));
    auto report = ctx->send_to_group("twin", msg("update", "node/edge1/membership"));
    ASSERT_TRUE(report) << report.error().message();
    EXPECT_TRUE(report->all_delivered());
    EXPECT_EQ(report->delivered, (std::vector<std::string>{"twin", "twin-mirror"}));
    EXPECT_EQ(ctx->queue_size("twin"), 1u);
    EXPECT_EQ(ctx->queue_size("twin-mirror"), 1u);
    EXPECT_EQ(ctx->try_receive("twin")->route.resource, "node/edge1/membership");
    EXPECT_EQ(ctx->try_receive("twin-mirror")->route.resource, "node/edge1/membership");

    auto none = ctx->send_to_group("nosuchgroup", msg("x"));
    ASSERT_FALSE(none);
    EXPECT_TRUE(none.error().is(errc::not_found));
}

TEST_F(BusContext, GroupFanOutReportsWhichFailed) {
    ContextOptions opts;
    opts.queue_capacity = 1;
    make(opts);
    auto a = std::make_shared<TestModule>("a", "g");
    auto b = std::make_shared<TestModule>("b", "g");
    ASSERT_TRUE(ctx->add_module(a));
    ASSERT_TRUE(ctx->add_module(b));
    ASSERT_TRUE(ctx->send("b", msg("fill")));
    auto report = ctx->send_to_group("g", msg("x"));
    ASSERT_TRUE(report);
    EXPECT_EQ(report->delivered, std::vector<std::string>{"a"});
    ASSERT_EQ(report->failed.size(), 1u);
    EXPECT_EQ(report->failed[0].first, "b");
    EXPECT_TRUE(report->failed[0].second.is(errc::queue_full));
}

TEST_F(BusContext, FullQueueIsAnErrorNotADrop) {
    ContextOptions opts;
    opts.queue_capacity = 3;
    make(opts);
    for (int i = 0; i < 3; ++i) ASSERT_TRUE(ctx->send("edged", msg("m" + std::to_string(i))));
    auto r = ctx->send("edged", msg("overflow"));
    ASSERT_FALSE(r);
    EXPECT_TRUE(r.error().is(errc::queue_full));
    EXPECT_NE(r.error().detail.find("edged"), std::string::npos);
    EXPECT_EQ(ctx->queue_size("edged"), 3u);
    // Draining one makes room again.
    EXPECT_EQ(ctx->try_receive("edged")->route.operation, "m0");
    EXPECT_TRUE(ctx->send("edged", msg("m3")));
}

TEST_F(BusContext, UnknownAndDisabledModules) {
    auto off = std::make_shared<TestModule>("servicebus", "user");
    ASSERT_TRUE(ctx->add_module(off, false));
    EXPECT_TRUE(ctx->is_registered("servicebus"));
    EXPECT_FALSE(ctx->is_enabled("servicebus"));
    auto r = ctx->send("servicebus", msg("x"));
    ASSERT_FALSE(r);
    EXPECT_TRUE(r.error().is(errc::not_found));
    EXPECT_NE(r.error().detail.find("disabled"), std::string::npos);
    auto u = ctx->send("nosuch", msg("x"));
    ASSERT_FALSE(u);
    EXPECT_TRUE(u.error().is(errc::not_found));
    auto rcv = run_coro(ioc, ctx->receive("servicebus"));
    ASSERT_FALSE(rcv);
    EXPECT_TRUE(rcv.error().is(errc::not_found));

    ctx->start_modules();
    EXPECT_EQ(meta->started, 1);
    EXPECT_EQ(edged->started, 1);
    EXPECT_EQ(off->started, 0);
    ctx->start_modules();  // idempotent
    EXPECT_EQ(meta->started, 1);
    EXPECT_EQ(ctx->enabled_modules(), (std::vector<std::string>{"metamanager", "edged"}));
    EXPECT_TRUE(ctx->add_module(std::make_shared<TestModule>("edged", "x"))
                    .error()
                    .is(errc::already_exists));
}

TEST_F(BusContext, RequestMatchedByParentIdAmongInterleavedTraffic) {
    // A responder module that answers requests out of order and interleaves other traffic.
    auto responder = [&]() -> asio::awaitable<void> {
        std::vector<Message> reqs;
        for (int i = 0; i < 3; ++i) {
            auto m = co_await ctx->receive("metamanager");
            if (!m) co_return;
            EXPECT_TRUE(m->header.sync);
            reqs.push_back(*m);
        }
        // Unrelated messages and a response to an unknown request in between.
        EXPECT_TRUE(ctx->send("edged", msg("noise")));
        Message stray = msg("response");
        stray.header.parent_msg_id = "not-a-pending-request";
        EXPECT_FALSE(ctx->send_response(stray));
        for (int i = 2; i >= 0; --i) {
            auto resp = make_response(
                reqs[static_cast<std::size_t>(i)],
                Content::from_string(reqs[static_cast<std::size_t>(i)].route.resource));
            EXPECT_TRUE(ctx->send_response(resp));
        }
    };
    auto requester = [&](int i) -> asio::awaitable<void> {
        std::string res = "default/pod/r" + std::to_string(i);
        auto req = msg("query", res);
        std::string id = req.header.msg_id;
        auto resp = co_await ctx->request("metamanager", req, 5s);
        EXPECT_TRUE(resp) << resp.error().message();
        if (!resp) co_return;
        EXPECT_EQ(resp->header.parent_msg_id, id);
        EXPECT_TRUE(resp->content.string_equals(res));
    };
    run_coro(ioc, [&]() -> asio::awaitable<void> {
        using namespace asio::experimental::awaitable_operators;
        co_await (responder() && requester(0) && requester(1) && requester(2));
    }());
    EXPECT_EQ(ctx->pending_requests(), 0u);
    EXPECT_EQ(ctx->try_receive("edged")->route.operation, "noise");
}

TEST_F(BusContext, RequestTimesOutAndLateResponseIsDropped) {
    Message req = msg("query");
    auto start = std::chrono::steady_clock::now();
    auto r = run_coro(ioc, ctx->request("metamanager", req, 50ms));
    auto took = std::chrono::steady_clock::now() - start;
    ASSERT_FALSE(r);
    EXPECT_TRUE(r.error().is(errc::timeout));
    EXPECT_GE(took, 50ms);
    EXPECT_LT(took, 5s);
    EXPECT_EQ(ctx->pending_requests(), 0u);
    // The request itself was delivered; its late answer matches nothing.
    auto delivered = ctx->try_receive("metamanager");
    ASSERT_TRUE(delivered);
    EXPECT_FALSE(ctx->send_response(make_response(*delivered, Content::from_string("late"))));
}

TEST_F(BusContext, RequestToMissingModuleFailsAtOnce) {
    auto r = run_coro(ioc, ctx->request("nosuch", msg("query"), 10s));
    ASSERT_FALSE(r);
    EXPECT_TRUE(r.error().is(errc::not_found));
    EXPECT_EQ(ctx->pending_requests(), 0u);
}

TEST_F(BusContext, ReceiveCanBeCancelledByAnAwaitableOperator) {
    auto r = run_coro(ioc, [&]() -> asio::awaitable<bool> {
        using namespace asio::experimental::awaitable_operators;
        asio::steady_timer t(co_await asio::this_coro::executor, 20ms);
        auto which = co_await (ctx->receive("edged") || t.async_wait(asio::use_awaitable));
        co_return which.index() == 1;
    }());
    EXPECT_TRUE(r);
    // The cancelled receiver no longer holds a slot: the next message is queued, not lost.
    ASSERT_TRUE(ctx->send("edged", msg("after")));
    EXPECT_EQ(ctx->try_receive("edged")->route.operation, "after");
}

TEST_F(BusContext, ShutdownWakesReceiversAndFailsRequests) {
    ctx->start_modules();
    auto outcome = run_coro(ioc, [&]() -> asio::awaitable<std::pair<Error, Error>> {
        using namespace asio::experimental::awaitable_operators;
        auto ex = co_await asio::this_coro::executor;
        asio::co_spawn(
            ex,
            [&]() -> asio::awaitable<void> {
                asio::steady_timer t(co_await asio::this_coro::executor, 10ms);
                co_await t.async_wait(asio::use_awaitable);
                ctx->shutdown();
            },
            asio::detached);
        auto [a, b] =
            co_await (ctx->receive("edged") && ctx->request("metamanager", msg("q"), 30s));
        co_return std::pair<Error, Error>{a ? Error{} : a.error(), b ? Error{} : b.error()};
    }());
    EXPECT_TRUE(outcome.first.is(errc::closed));
    EXPECT_TRUE(outcome.second.is(errc::closed));
    EXPECT_TRUE(ctx->is_shut_down());
    EXPECT_EQ(meta->stopped, 1);
    EXPECT_EQ(edged->stopped, 1);
    EXPECT_TRUE(ctx->send("edged", msg("x")).error().is(errc::closed));
    auto r = run_coro(ioc, ctx->receive("edged"));
    EXPECT_TRUE(r.error().is(errc::closed));
    ctx->shutdown();  // idempotent
    EXPECT_EQ(meta->stopped, 1);
}

TEST_F(BusContext, ConcurrentSendersFromTwoThreadsLoseNothing) {
    ContextOptions opts;
    opts.queue_capacity = 64;  // small, so senders hit back-pressure and must retry
    make(opts);
    constexpr int kPerThread = 20000;
    std::atomic<int> full_seen{0};
    auto sender = [&](int id) {
        for (int i = 0; i < kPerThread; ++i) {
            Message m = msg("insert", std::to_string(id) + "/" + std::to_string(i));
            for (;;) {
                auto r = ctx->send("edged", m);
                if (r) break;
                ASSERT_TRUE(r.error().is(errc::queue_full)) << r.error().message();
                ++full_seen;
                std::this_thread::yield();
            }
        }
    };
    std::vector<int> next(2, 0);
    int received = 0;
    std::thread t1(sender, 0), t2(sender, 1);
    run_coro(
        ioc,
        [&]() -> asio::awaitable<void> {
            while (received < 2 * kPerThread) {
                auto m = co_await ctx->receive("edged");
                if (!m) co_return;
                auto& res = m->route.resource;
                int id = res[0] - '0';
                int seq = std::stoi(res.substr(2));
                // Each sender's messages arrive complete and in its order.
                EXPECT_EQ(seq, next[static_cast<std::size_t>(id)]);
                next[static_cast<std::size_t>(id)] = seq + 1;
                ++received;
            }
        }(),
        60s);
    t1.join();
    t2.join();
    EXPECT_EQ(received, 2 * kPerThread);
    EXPECT_EQ(next[0], kPerThread);
    EXPECT_EQ(next[1], kPerThread);
}

TEST_F(BusContext, ThreadPoolReceiversAndRequests) {
    // Modules on a thread pool: many concurrent requests answered by a responder on other
    // threads, with a Context bound to the pool's executor.
    asio::thread_pool pool(2);
    Context pctx(pool.get_executor());
    ASSERT_TRUE(pctx.add_module(std::make_shared<TestModule>("meta", "meta")));
    constexpr int kRequests = 200;
    std::atomic<int> answered{0}, ok{0};
    asio::co_spawn(
        pool,
        [&]() -> asio::awaitable<void> {
            for (;;) {
                auto m = co_await pctx.receive("meta");
                if (!m) co_return;
                pctx.send_response(make_response(*m, m->content));
                ++answered;
            }
        },
        asio::detached);
    for (int i = 0; i < kRequests; ++i) {
        asio::co_spawn(
            pool,
            [&, i]() -> asio::awaitable<void> {
                auto r = co_await pctx.request("meta", msg("query", std::to_string(i)), 10s);
                if (r && r->route.resource == std::to_string(i)) ++ok;
            },
            asio::detached);
    }
    // Poll with a deadline, no sleeps as synchronisation.
    auto deadline = std::chrono::steady_clock::now() + 20s;
    while (ok.load() < kRequests && std::chrono::steady_clock::now() < deadline)
        std::this_thread::yield();
    EXPECT_EQ(ok.load(), kRequests);
    pctx.shutdown();
    pool.join();
    EXPECT_EQ(pctx.pending_requests(), 0u);
}

}  // namespace
}  // namespace kedge::bus
