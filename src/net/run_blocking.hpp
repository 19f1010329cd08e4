#pragma once
// Running blocking work (SQLite commits, file reads, CRI calls) off an event loop: the work runs
// on a thread pool and the awaiting coroutine resumes on its own executor, so one slow fsync or
// file read never stalls the sockets served by that loop.

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <type_traits>
#include <utility>

namespace kedge::net {

template <class F>
boost::asio::awaitable<std::invoke_result_t<F>> run_blocking(boost::asio::thread_pool& pool, F f) {
    using R = std::invoke_result_t<F>;
    co_return co_await boost::asio::co_spawn(
        pool, [f = std::move(f)]() mutable -> boost::asio::awaitable<R> { co_return f(); },
        boost::asio::use_awaitable);
}

}  // namespace kedge::net
