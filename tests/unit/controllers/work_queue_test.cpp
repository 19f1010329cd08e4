#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <vector>

#include "controllers/work_queue.hpp"

namespace kedge::controllers {
namespace {

namespace asio = boost::asio;

TEST(WorkQueue, DeduplicatesQueuedKeys) {
    asio::io_context ioc;
    auto q = WorkQueue::make(ioc.get_executor(), "test");
    q->add("a");
    q->add("b");
    q->add("a");
    EXPECT_EQ(q->length(), 2u);
    std::vector<std::string> got;
    asio::co_spawn(
        ioc,
        [&]() -> asio::awaitable<void> {
            for (int i = 0; i < 2; ++i) {
                auto k = co_await q->get();
                got.push_back(*k);
                q->done(*k);
            }
        },
        asio::detached);
    ioc.run();
    EXPECT_EQ(got, (std::vector<std::string>{"a", "b"}));
}

TEST(WorkQueue, KeyAddedWhileProcessingRunsAgainAfterDone) {
    asio::io_context ioc;
    auto q = WorkQueue::make(ioc.get_executor(), "test");
    q->add("a");
    std::vector<std::string> got;
    asio::co_spawn(
        ioc,
        [&]() -> asio::awaitable<void> {
            auto k = co_await q->get();
            got.push_back(*k);
            q->add("a");  // a change arrives while "a" is being synced
            EXPECT_EQ(q->length(), 0u) << "not handed to a second worker meanwhile";
            q->done(*k);
            EXPECT_EQ(q->length(), 1u);
            auto again = co_await q->get();
            got.push_back(*again);
            q->done(*again);
        },
        asio::detached);
    ioc.run();
    EXPECT_EQ(got, (std::vector<std::string>{"a", "a"}));
}

TEST(WorkQueue, GetWaitsForAddAndShutdownWakesWaiters) {
    asio::io_context ioc;
    auto q = WorkQueue::make(ioc.get_executor(), "test");
    std::vector<std::string> got;
    bool ended = false;
    asio::co_spawn(
        ioc,
        [&]() -> asio::awaitable<void> {
            while (auto k = co_await q->get()) {
                got.push_back(*k);
                q->done(*k);
            }
            ended = true;
        },
        asio::detached);
    asio::steady_timer t(ioc, std::chrono::milliseconds(20));
    t.async_wait([&](auto) {
        q->add("late");
        asio::post(ioc, [&] { q->shutdown(); });
    });
    ioc.run();
    EXPECT_EQ(got, (std::vector<std::string>{"late"}));
    EXPECT_TRUE(ended);
}

TEST(WorkQueue, FailingKeysBackOffExponentiallyAndForgetResets) {
    asio::io_context ioc;
    auto q = WorkQueue::make(ioc.get_executor(), "test",
                             {.base_delay = std::chrono::milliseconds(10),
                              .max_delay = std::chrono::milliseconds(40)});
    std::vector<std::chrono::steady_clock::time_point> attempts;
    int calls = 0;
    q->add("k");
    run_workers(
        ioc.get_executor(), q,
        [&](std::string) -> asio::awaitable<Result<void>> {
            attempts.push_back(std::chrono::steady_clock::now());
            if (++calls < 5) co_return Error(errc::unavailable, "not yet");
            q->shutdown();
            co_return Result<void>{};
        },
        1, "test");
    ioc.run();
    ASSERT_EQ(attempts.size(), 5u);
    using std::chrono::milliseconds;
    // 10, 20, 40, 40 (capped) between attempts.
    const int expected[] = {10, 20, 40, 40};
    for (int i = 0; i < 4; ++i) {
        auto gap = std::chrono::duration_cast<milliseconds>(attempts[i + 1] - attempts[i]);
        EXPECT_GE(gap.count(), expected[i] - 1) << "retry " << i;
        EXPECT_LT(gap.count(), expected[i] + 200) << "retry " << i;
    }
}

}  // namespace
}  // namespace kedge::controllers
