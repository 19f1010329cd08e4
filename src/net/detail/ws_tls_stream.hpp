#pragma once
// INTERNAL (ws_*.cpp only). An Asio AsyncStream that is either a plain TCP socket or OpenSSL
// reading and writing the socket's descriptor directly (non-blocking, readiness via
// async_wait). asio::ssl::stream keeps ~34 KiB of staging buffers and a BIO pair per
// connection; this keeps only the SSL object, whose buffers SSL_MODE_RELEASE_BUFFERS frees
// while idle: what lets one cloudcore hold 100k idle sessions.

#include "base/error.hpp"
#include "net/tls_context.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/append.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/compose.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/beast/core/role.hpp>

#include <cstddef>
#include <memory>
#include <vector>

namespace kedge::net::detail {

struct SslFree {
    void operator()(SSL* ssl) const noexcept;
};
using SslPtr = std::unique_ptr<SSL, SslFree>;

// A new SSL for ctx bound to fd (send/recv with MSG_NOSIGNAL, so no SIGPIPE).
Result<SslPtr> new_ssl(TlsContext& ctx, int fd, bool server);

enum class SslStep { done, want_read, want_write, failed };
struct SslOutcome {
    SslOutcome(SslStep s = SslStep::done, std::size_t n = 0, boost::system::error_code e = {})
        : step(s), bytes(n), ec(e) {}
    SslStep step;
    std::size_t bytes;
    boost::system::error_code ec;
};
// One non-blocking OpenSSL call each, classified. failed carries the error: eof for a
// close_notify, ssl::error::stream_truncated for EOF without one, else the SSL/system error.
SslOutcome ssl_read(SSL* ssl, void* data, std::size_t size);
SslOutcome ssl_write(SSL* ssl, const void* data, std::size_t size);
SslOutcome ssl_handshake(SSL* ssl);
SslOutcome ssl_shutdown(SSL* ssl);

class TlsStream;

// Retries one OpenSSL call until it completes, waiting for socket readiness in between.
// Never completes inside the initiating call (posts instead).
template <class Fn, bool WithBytes>
struct SslIoOp {
    TlsStream* stream;
    Fn fn;
    int state = 0;  // 0 first try, 1 waited at least once, 2 completing after a post
    SslOutcome result{SslStep::done};

    template <class Self>
    void operator()(Self& self, boost::system::error_code ec = {});
};

// Plain TCP or TLS over one socket. The socket's executor is the connection's strand.
class TlsStream {
public:
    using executor_type = boost::asio::any_io_executor;
    using next_layer_type = boost::asio::ip::tcp::socket;

    explicit TlsStream(boost::asio::ip::tcp::socket socket) : socket_(std::move(socket)) {}

    executor_type get_executor() noexcept { return socket_.get_executor(); }
    boost::asio::ip::tcp::socket& next_layer() noexcept { return socket_; }
    SSL* ssl() const noexcept { return ssl_.get(); }
    // OpenSSL reads and writes the descriptor itself, so it must not block.
    void set_ssl(SslPtr ssl) {
        boost::system::error_code ec;
        socket_.native_non_blocking(true, ec);
        ssl_ = std::move(ssl);
    }
    // After a fatal TLS error OpenSSL must not send close_notify.
    bool tls_failed() const noexcept { return tls_failed_; }
    void mark_tls_failed() noexcept { tls_failed_ = true; }

    template <class MutableBuffers, class Token>
    auto async_read_some(const MutableBuffers& buffers, Token&& token) {
        namespace asio = boost::asio;
        if (!ssl_) return socket_.async_read_some(buffers, std::forward<Token>(token));
        asio::mutable_buffer b = first_nonempty(buffers);
        auto fn = [b](SSL* ssl) { return ssl_read(ssl, b.data(), b.size()); };
        return asio::async_compose<Token, void(boost::system::error_code, std::size_t)>(
            SslIoOp<decltype(fn), true>{this, fn}, token, socket_);
    }

    template <class ConstBuffers, class Token>
    auto async_write_some(const ConstBuffers& buffers, Token&& token) {
        namespace asio = boost::asio;
        if (!ssl_) return socket_.async_write_some(buffers, std::forward<Token>(token));
        // One TLS record per frame instead of one for the 2..14 byte header and one for the
        // payload: coalesce small sequences (as beast::flat_stream does). The copy lives in the
        // op, so retries after WANT_WRITE see the same bytes at the same address.
        std::vector<char> flat;
        asio::const_buffer first = first_nonempty(buffers);
        std::size_t total = asio::buffer_size(buffers);
        if (first.size() < total && first.size() < kCoalesceLimit) {
            flat.resize(std::min(total, kCoalesceLimit));
            asio::buffer_copy(asio::buffer(flat), buffers);
            first = asio::buffer(flat);
        }
        auto fn = [first, flat = std::move(flat)](SSL* ssl) {
            return ssl_write(ssl, first.data(), first.size());
        };
        return asio::async_compose<Token, void(boost::system::error_code, std::size_t)>(
            SslIoOp<decltype(fn), true>{this, std::move(fn)}, token, socket_);
    }

    // TLS handshake in the role SSL was made for (no-op for plain TCP).
    template <class Token>
    auto async_handshake(Token&& token) {
        auto fn = [](SSL* ssl) { return ssl_handshake(ssl); };
        return boost::asio::async_compose<Token, void(boost::system::error_code)>(
            SslIoOp<decltype(fn), false>{this, fn}, token, socket_);
    }

    // Sends close_notify once; does not wait for the peer's (the socket closes next).
    template <class Token>
    auto async_shutdown(Token&& token) {
        auto fn = [](SSL* ssl) { return ssl_shutdown(ssl); };
        return boost::asio::async_compose<Token, void(boost::system::error_code)>(
            SslIoOp<decltype(fn), false>{this, fn}, token, socket_);
    }

    // Closes the descriptor now (cancels every pending operation).
    void abort() noexcept {
        boost::system::error_code ec;
        socket_.close(ec);
    }

    boost::asio::ip::tcp::socket& socket() noexcept { return socket_; }

private:
    template <class, bool>
    friend struct SslIoOp;
    static constexpr std::size_t kCoalesceLimit = 16 * 1024;

    template <class Buffers>
    static auto first_nonempty(const Buffers& buffers) {
        auto it = boost::asio::buffer_sequence_begin(buffers);
        auto end = boost::asio::buffer_sequence_end(buffers);
        using B = std::decay_t<decltype(*it)>;
        for (; it != end; ++it)
            if (B(*it).size() > 0) return B(*it);
        return B();
    }

    boost::asio::ip::tcp::socket socket_;
    SslPtr ssl_;
    bool tls_failed_ = false;
};

template <class Fn, bool WithBytes>
template <class Self>
void SslIoOp<Fn, WithBytes>::operator()(Self& self, boost::system::error_code ec) {
    namespace asio = boost::asio;
    auto complete = [&self](const SslOutcome& r) {
        if constexpr (WithBytes)
            self.complete(r.ec, r.bytes);
        else
            self.complete(r.ec);
    };
    if (state == 2) return complete(result);
    if (ec) return complete({SslStep::failed, 0, ec});
    if (!stream->ssl_) {  // handshake/shutdown on a plain stream
        result = {SslStep::done};
    } else {
        result = fn(stream->ssl_.get());
    }
    if (result.step == SslStep::want_read || result.step == SslStep::want_write) {
        state = 1;
        return stream->socket_.async_wait(result.step == SslStep::want_read
                                              ? asio::ip::tcp::socket::wait_read
                                              : asio::ip::tcp::socket::wait_write,
                                          std::move(self));
    }
    if (result.step == SslStep::failed && result.ec.category() == asio::error::get_ssl_category())
        stream->tls_failed_ = true;
    if (state == 0) {
        state = 2;
        return asio::post(stream->socket_.get_executor(), std::move(self));
    }
    complete(result);
}

// Beast's websocket close and failure paths call these through ADL: close_notify, then
// Beast's TCP teardown (shutdown, drain until EOF, close).
void teardown(boost::beast::role_type role, TlsStream& stream, boost::system::error_code& ec);

// Beast 1.81's TCP teardown drops read_some()'s byte count and closes after the first chunk it
// drains; closing with unread peer bytes makes the kernel send RST, and the peer then sees
// ECONNRESET/ENOTCONN instead of a clean close. This one drains until EOF.
struct TeardownOp {
    boost::beast::role_type role;
    TlsStream* stream;
    int state = 0;

    template <class Self>
    void operator()(Self& self, boost::system::error_code ec = {}) {
        namespace asio = boost::asio;
        auto& sock = stream->socket();
        boost::system::error_code ignored;
        switch (state) {
            case 0:
                state = 1;
                if (stream->ssl() && !stream->tls_failed() && sock.is_open())
                    return stream->async_shutdown(std::move(self));
                [[fallthrough]];
            case 1:
                // A failed close_notify does not stop the TCP teardown.
                state = 2;
                ec = {};
                sock.non_blocking(true, ignored);
                if (role == boost::beast::role_type::server)
                    sock.shutdown(asio::socket_base::shutdown_send, ignored);
                [[fallthrough]];
            case 2:
                while (!ec && sock.is_open()) {
                    char buf[512];
                    boost::system::error_code rec;
                    (void)sock.read_some(asio::buffer(buf), rec);
                    if (rec == asio::error::would_block)
                        return sock.async_wait(asio::socket_base::wait_read, std::move(self));
                    if (rec) break;  // EOF (or the peer is gone: nothing left to drain)
                }
                if (role == boost::beast::role_type::client)
                    sock.shutdown(asio::socket_base::shutdown_send, ignored);
                sock.close(ignored);
                state = 3;
                result = ec;  // only a cancelled wait (close timer) is an error
                return asio::post(sock.get_executor(), std::move(self));
            default:
                self.complete(result);
        }
    }
    boost::system::error_code result{};
};

template <class TeardownHandler>
void async_teardown(boost::beast::role_type role, TlsStream& stream, TeardownHandler&& handler) {
    boost::asio::async_compose<TeardownHandler, void(boost::system::error_code)>(
        TeardownOp{role, &stream}, handler, stream.socket());
}

}  // namespace kedge::net::detail
