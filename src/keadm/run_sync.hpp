#pragma once
// keadm is a CLI: it runs one coroutine at a time (an HTTP request, a join) to completion on a
// private io_context, with a deadline. Include only in .cpp files.

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include <chrono>
#include <exception>
#include <optional>
#include <string>

#include "base/error.hpp"

namespace kedge::keadm {

namespace detail {
template <class T>
boost::asio::awaitable<void> store_into(boost::asio::awaitable<T> work, std::optional<T>* out) {
    out->emplace(co_await std::move(work));
}
}  // namespace detail

// Runs a coroutine on ioc for at most deadline. (Through an optional, since use_future needs a
// default-constructible result.)
template <class T>
Result<T> run_blocking(boost::asio::io_context& ioc, boost::asio::awaitable<Result<T>> work,
                       std::chrono::milliseconds deadline) {
    std::optional<Result<T>> out;
    std::exception_ptr failure;
    boost::asio::co_spawn(ioc, detail::store_into(std::move(work), &out),
                          [&failure](std::exception_ptr e) { failure = e; });
    ioc.run_for(deadline);
    if (failure) {
        try {
            std::rethrow_exception(failure);
        } catch (const std::exception& e) {
            return Error(errc::internal, e.what());
        }
    }
    if (!out)
        return Error(errc::timeout, "no answer within " + std::to_string(deadline.count()) + " ms");
    return std::move(*out);
}

}  // namespace kedge::keadm
