#pragma once
// Runs a coroutine to completion on a fresh io_context inside a test, rethrowing its exception.
// Included only by tests that use Asio.

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

#include <chrono>
#include <future>
#include <stdexcept>
#include <thread>

namespace kedge::test {

template <class Awaitable>
auto run_coro(boost::asio::io_context& ioc, Awaitable aw,
              std::chrono::seconds limit = std::chrono::seconds(30)) {
    auto fut = boost::asio::co_spawn(ioc, std::move(aw), boost::asio::use_future);
    ioc.restart();
    ioc.run_for(limit);
    if (fut.wait_for(std::chrono::seconds(0)) != std::future_status::ready)
        throw std::runtime_error("coroutine did not finish within the test's time limit");
    return fut.get();
}

// An io_context run by one background thread for the life of the object (servers under test
// live on it while the test thread drives clients).
class IoThread {
public:
    IoThread() : guard_(ioc_.get_executor()), thread_([this] { ioc_.run(); }) {}
    ~IoThread() {
        guard_.reset();
        ioc_.stop();
        thread_.join();
    }
    IoThread(const IoThread&) = delete;
    IoThread& operator=(const IoThread&) = delete;
    boost::asio::any_io_executor executor() { return ioc_.get_executor(); }

    // Runs a coroutine on the loop and waits for its result.
    template <class T>
    T run(boost::asio::awaitable<T> aw, std::chrono::seconds limit = std::chrono::seconds(30)) {
        auto fut = boost::asio::co_spawn(ioc_, std::move(aw), boost::asio::use_future);
        if (fut.wait_for(limit) != std::future_status::ready)
            throw std::runtime_error("coroutine did not finish within the test's time limit");
        return fut.get();
    }

private:
    boost::asio::io_context ioc_;
    boost::asio::executor_work_guard<boost::asio::io_context::executor_type> guard_;
    std::thread thread_;
};

}  // namespace kedge::test
