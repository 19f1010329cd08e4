#include "base/shutdown.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <chrono>
#include <csignal>
#include <string>
#include <thread>
#include <vector>

namespace kedge {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using testing::ElementsAre;
using testing::UnorderedElementsAre;

// A coroutine hook that waits for a timer; with a long timer it overruns any short deadline.
asio::awaitable<void> wait_for(std::chrono::milliseconds d, std::vector<std::string>* events,
                               std::string name) {
    asio::steady_timer timer(co_await asio::this_coro::executor, d);
    auto [ec] = co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
    events->push_back(name + (ec ? " cancelled" : " done"));
}

// Runs ioc with a safety limit so that a broken shutdown fails the test instead of hanging it.
std::chrono::milliseconds run(asio::io_context& ioc, std::chrono::seconds limit = 20s) {
    auto begin = std::chrono::steady_clock::now();
    ioc.run_for(limit);
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                                 begin);
}

TEST(Shutdown, RunsPhaseOneBeforePhaseTwoThenStopsTheLoop) {
    asio::io_context ioc;
    ShutdownController::Options opts;
    opts.handle_signals = false;
    ShutdownController sc(ioc, opts);
    std::vector<std::string> events;
    // Registered phase 2 first on purpose: the phase decides the order, not registration.
    sc.add_hook(ShutdownPhase::kDrain, "drain-a", [&] { events.push_back("drain-a"); });
    sc.add_async_hook(ShutdownPhase::kDrain, "drain-b",
                      [&] { return wait_for(10ms, &events, "drain-b"); });
    sc.add_hook(ShutdownPhase::kStopAccepting, "listener", [&] { events.push_back("listener"); });
    sc.add_async_hook(ShutdownPhase::kStopAccepting, "module",
                      [&] { return wait_for(30ms, &events, "module"); });
    // Work that would keep the loop busy forever unless shutdown stops it.
    asio::steady_timer forever(ioc, 1h);
    forever.async_wait([](auto) {});

    EXPECT_FALSE(sc.stop_requested());
    sc.request_stop("test");
    EXPECT_TRUE(sc.stop_requested());
    auto took = run(ioc);

    EXPECT_THAT(events, ElementsAre("listener", "module done", "drain-a", "drain-b done"));
    EXPECT_TRUE(sc.finished());
    EXPECT_FALSE(sc.forced());
    EXPECT_TRUE(sc.overran_hooks().empty());
    EXPECT_TRUE(ioc.stopped());
    EXPECT_LT(took, 10s);
}

TEST(Shutdown, OverrunningHookIsCancelledAndDoesNotBlockShutdown) {
    asio::io_context ioc;
    ShutdownController::Options opts;
    opts.handle_signals = false;
    opts.stop_accepting_deadline = 100ms;
    opts.drain_deadline = 100ms;
    ShutdownController sc(ioc, opts);
    std::vector<std::string> events;
    sc.add_async_hook(ShutdownPhase::kStopAccepting, "stuck",
                      [&] { return wait_for(1h, &events, "stuck"); });
    sc.add_async_hook(ShutdownPhase::kStopAccepting, "quick",
                      [&] { return wait_for(1ms, &events, "quick"); });
    sc.add_hook(ShutdownPhase::kDrain, "close", [&] { events.push_back("close"); });
    sc.add_async_hook(ShutdownPhase::kDrain, "deaf", [&]() -> asio::awaitable<void> {
        // Ignores cancellation: shutdown must still end at the deadline.
        asio::steady_timer t(co_await asio::this_coro::executor, 1h);
        co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
    });
    sc.request_stop("test");
    auto took = run(ioc);

    EXPECT_TRUE(sc.finished());
    EXPECT_THAT(sc.overran_hooks(), ElementsAre("stuck", "deaf"));
    // The stuck hook saw the terminal cancellation sent when the deadline passed.
    EXPECT_THAT(events, UnorderedElementsAre("quick done", "stuck cancelled", "close"));
    EXPECT_EQ(events.front(), "quick done");
    EXPECT_GE(took, 200ms);
    EXPECT_LT(took, 10s);
}

TEST(Shutdown, HookFailuresAreLoggedAndTheRestStillRun) {
    asio::io_context ioc;
    ShutdownController::Options opts;
    opts.handle_signals = false;
    ShutdownController sc(ioc, opts);
    std::vector<std::string> events;
    sc.add_hook(ShutdownPhase::kStopAccepting, "throws", [] { throw std::runtime_error("boom"); });
    sc.add_async_hook(ShutdownPhase::kStopAccepting, "throws-async", []() -> asio::awaitable<void> {
        co_await asio::post(co_await asio::this_coro::executor, asio::use_awaitable);
        throw std::runtime_error("async boom");
    });
    sc.add_hook(ShutdownPhase::kDrain, "after", [&] { events.push_back("after"); });
    sc.request_stop("test");
    run(ioc);
    EXPECT_TRUE(sc.finished());
    EXPECT_THAT(events, ElementsAre("after"));
}

TEST(Shutdown, SecondRequestIsIgnoredButForceStopsAtOnce) {
    asio::io_context ioc;
    ShutdownController::Options opts;
    opts.handle_signals = false;
    opts.drain_deadline = 30s;
    ShutdownController sc(ioc, opts);
    std::vector<std::string> events;
    sc.add_hook(ShutdownPhase::kStopAccepting, "one", [&] {
        events.push_back("one");
        sc.request_stop("again");  // ignored: already in progress
    });
    sc.add_async_hook(ShutdownPhase::kDrain, "slow", [&]() -> asio::awaitable<void> {
        sc.force_stop("operator lost patience");
        return wait_for(30s, &events, "slow");
    });
    sc.request_stop("test");
    auto took = run(ioc);
    EXPECT_THAT(events, ElementsAre("one"));
    EXPECT_TRUE(sc.forced());
    EXPECT_FALSE(sc.finished());
    EXPECT_LT(took, 10s);
}

TEST(Shutdown, RealSigtermStartsShutdown) {
    asio::io_context ioc;
    ShutdownController sc(ioc);  // installs SIGINT/SIGTERM handlers
    bool ran = false;
    sc.add_hook(ShutdownPhase::kStopAccepting, "listener", [&] { ran = true; });
    asio::steady_timer forever(ioc, 1h);
    forever.async_wait([](auto) {});
    ASSERT_EQ(std::raise(SIGTERM), 0);  // the process survives: asio owns the signal now
    auto took = run(ioc);
    EXPECT_TRUE(ran);
    EXPECT_TRUE(sc.stop_requested());
    EXPECT_TRUE(sc.finished());
    EXPECT_FALSE(sc.forced());
    EXPECT_LT(took, 10s);
}

TEST(Shutdown, SecondSignalForcesImmediateStop) {
    asio::io_context ioc;
    ShutdownController::Options opts;
    opts.drain_deadline = 60s;
    ShutdownController sc(ioc, opts);
    std::vector<std::string> events;
    sc.add_async_hook(ShutdownPhase::kDrain, "hangs", [&]() -> asio::awaitable<void> {
        std::raise(SIGINT);  // the operator presses Ctrl-C again while we drain
        return wait_for(60s, &events, "hangs");
    });
    std::raise(SIGINT);
    auto took = run(ioc);
    EXPECT_TRUE(sc.forced());
    EXPECT_FALSE(sc.finished());
    EXPECT_TRUE(events.empty());
    EXPECT_LT(took, 10s);
}

TEST(Shutdown, RequestFromAnotherThread) {
    asio::io_context ioc;
    ShutdownController::Options opts;
    opts.handle_signals = false;
    ShutdownController sc(ioc, opts);
    asio::steady_timer forever(ioc, 1h);
    forever.async_wait([](auto) {});
    std::thread t([&] { sc.request_stop("from a worker"); });
    auto took = run(ioc);
    t.join();
    EXPECT_TRUE(sc.finished());
    EXPECT_LT(took, 10s);
}

}  // namespace
}  // namespace kedge
