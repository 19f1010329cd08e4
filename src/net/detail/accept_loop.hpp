#pragma once
// INTERNAL: included only by the .cpp files that own a listening socket. An accept loop that
// backs off on EMFILE/ENFILE instead of spinning, and stops when the acceptor is closed.

#include "base/log.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <chrono>
#include <string>

namespace kedge::net::detail {

// Opens, binds and listens; port 0 picks a free port (read it back from local_endpoint()).
inline Result<boost::asio::ip::tcp::acceptor> open_acceptor(boost::asio::any_io_executor ex,
                                                            const std::string& host,
                                                            unsigned short port, int backlog = 4096) {
    namespace asio = boost::asio;
    boost::system::error_code ec;
    auto address = asio::ip::make_address(host, ec);
    if (ec) return Error(errc::invalid_argument, "bad bind address '" + host + "'");
    asio::ip::tcp::endpoint ep(address, port);
    asio::ip::tcp::acceptor acceptor(ex);
    acceptor.open(ep.protocol(), ec);
    if (!ec) acceptor.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) acceptor.bind(ep, ec);
    if (!ec) acceptor.listen(backlog, ec);
    if (ec)
        return Error(ec, "cannot listen on " + host + ":" + std::to_string(port) + ": " +
                             ec.message());
    return acceptor;
}

// Calls on_socket(socket) for every accepted connection until the acceptor is closed.
template <class OnSocket>
boost::asio::awaitable<void> accept_loop(boost::asio::ip::tcp::acceptor& acceptor,
                                         OnSocket on_socket, std::shared_ptr<spdlog::logger> log) {
    namespace asio = boost::asio;
    auto ex = co_await asio::this_coro::executor;
    while (acceptor.is_open()) {
        auto [ec, socket] = co_await acceptor.async_accept(asio::as_tuple(asio::use_awaitable));
        if (ec == asio::error::operation_aborted || !acceptor.is_open()) break;
        if (ec) {
            // Out of descriptors: wait a little instead of spinning; others drain meanwhile.
            bool exhausted = ec == asio::error::no_descriptors ||
                             ec.value() == ENFILE || ec == asio::error::no_buffer_space;
            log->warn("accept failed: {}{}", ec.message(), exhausted ? " (backing off)" : "");
            asio::steady_timer t(ex, std::chrono::milliseconds(exhausted ? 100 : 10));
            co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
            continue;
        }
        boost::system::error_code opt_ec;
        socket.set_option(asio::ip::tcp::no_delay(true), opt_ec);
        on_socket(std::move(socket));
    }
}

}  // namespace kedge::net::detail
