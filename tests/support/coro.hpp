#pragma once
// Runs a coroutine to completion on a fresh io_context inside a test, rethrowing its exception.
// Included only by tests that use Asio.

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

#include <chrono>
#include <stdexcept>

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

}  // namespace kedge::test
