// The WebSocket session shared by server and client: reading, the bounded writer, close.
#include "net/detail/ws_session.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/websocket/error.hpp>
#include <boost/beast/websocket/stream.hpp>

#include <strings.h>

namespace kedge::net {
namespace detail {
namespace {

namespace asio = boost::asio;
namespace websocket = boost::beast::websocket;
using boost::system::error_code;

std::string describe_close(std::uint16_t code, const std::string& reason) {
    std::string out = "code " + std::to_string(code);
    if (!reason.empty()) out += " \"" + reason + "\"";
    return out;
}

bool is_websocket_error(const error_code& ec) {
    return ec.category() == make_error_code(websocket::error::closed).category();
}

bool is_connection_lost(const error_code& ec) {
    return ec == asio::error::eof || ec == asio::ssl::error::stream_truncated ||
           ec == asio::error::connection_reset || ec == asio::error::broken_pipe ||
           ec == asio::error::connection_aborted;
}

}  // namespace

std::uint64_t next_connection_id() {
    static std::atomic<std::uint64_t> next{1};
    return next++;
}

std::string format_endpoint(const asio::ip::tcp::endpoint& ep) {
    auto address = ep.address();
    std::string host = address.is_v6() ? "[" + address.to_string() + "]" : address.to_string();
    return host + ":" + std::to_string(ep.port());
}

bool peer_warning_allowed() {
    // At most 20 per second process-wide: a flood of bad peers must not flood the log.
    static std::atomic<std::int64_t> window{0};
    static std::atomic<int> count{0};
    auto now = std::chrono::duration_cast<std::chrono::seconds>(
                   std::chrono::steady_clock::now().time_since_epoch())
                   .count();
    if (window.exchange(now) != now) count = 0;
    return ++count <= 20;
}

WsSession::WsSession(Strand strand, asio::ip::tcp::socket socket, bool server, WsOptions options,
                     std::uint64_t id, std::string remote, std::string log_name)
    : strand_(std::move(strand)),
      remote_(std::move(remote)),
      id_(id),
      ws_(std::move(socket)),
      options_(options),
      server_(server),
      log_(log::get("net.ws")),
      prefix_(log_name + " ws#" + std::to_string(id) + " " + remote_) {
    ws_.read_message_max(options_.max_message_bytes);
    // One frame per message: the server then writes straight from the shared string and keeps
    // no write buffer; the client masks through a small one.
    ws_.auto_fragment(false);
    ws_.write_buffer_bytes(server ? 512 : 4096);
    websocket::stream_base::timeout t{};
    t.handshake_timeout = options_.handshake_timeout;
    t.idle_timeout = options_.idle_timeout.count() > 0 ? std::chrono::duration_cast<
                                                             std::chrono::steady_clock::duration>(
                                                             options_.idle_timeout)
                                                       : websocket::stream_base::none();
    t.keep_alive_pings = options_.send_pings;
    ws_.set_option(t);
}

WsSession::~WsSession() = default;

void WsSession::opened() {
    // Beast times the close handshake with its "handshake" timeout.
    websocket::stream_base::timeout t{};
    ws_.get_option(t);
    t.handshake_timeout = options_.close_timeout;
    ws_.set_option(t);
    open_ = true;
}

void WsSession::finish(const Error& reason) {
    std::function<void(const Error&)> callback;
    {
        std::lock_guard lock(mu_);
        if (finished_) return;
        finished_ = true;
        closing_ = true;
        final_error_ = reason;
        queue_.clear();
        pending_ = 0;
        callback = std::move(on_close_);
    }
    stream().abort();
    if (close_timer_) close_timer_->cancel();
    log_->debug("{}: ended: {}", prefix_, reason.detail);
    if (finish_hook_) std::exchange(finish_hook_, nullptr)(*this);
    if (callback) callback(reason);
}

void WsSession::abort(std::string reason) {
    asio::post(strand_, [self = self(), reason = std::move(reason)] {
        self->stream().abort();
        self->finish(Error(errc::closed, reason));
    });
}

Result<void> WsSession::send(std::shared_ptr<const std::string> text) {
    bool start = false;
    {
        std::lock_guard lock(mu_);
        if (closing_ || finished_ || !open_)
            return Error(errc::closed, prefix_ + ": connection is closed");
        if (pending_ >= options_.max_queued_messages)
            return Error(errc::queue_full, prefix_ + ": write queue full (" +
                                               std::to_string(pending_) +
                                               " messages); the peer is not reading");
        queue_.push_back(std::move(text));
        ++pending_;
        start = !std::exchange(writing_, true);
    }
    if (start) spawn_writer();
    return {};
}

void WsSession::spawn_writer() {
    asio::co_spawn(strand_, [self = self()]() { return self->writer(); },
                   log::log_exceptions(log_, "websocket writer"));
}

asio::awaitable<void> WsSession::writer() {
    auto keep = self();  // the session outlives its writer
    for (;;) {
        std::vector<std::shared_ptr<const std::string>> batch;
        bool do_close = false;
        std::uint16_t code = 0;
        std::string reason;
        {
            std::lock_guard lock(mu_);
            if (finished_ || (queue_.empty() && (!closing_ || close_sent_))) {
                writing_ = false;
                co_return;
            }
            if (queue_.empty()) {
                do_close = close_sent_ = true;
                code = close_code_;
                reason = close_reason_;
            } else {
                batch.swap(queue_);
            }
        }
        if (do_close) {
            co_await send_close(code, std::move(reason));
            continue;
        }
        for (auto& message : batch) {
            auto [ec, n] = co_await ws_.async_write(asio::buffer(*message),
                                                    asio::as_tuple(asio::use_awaitable));
            {
                std::lock_guard lock(mu_);
                if (pending_ > 0) --pending_;
            }
            if (ec) {
                finish(Error(errc::closed, "write failed: " + ec.message()));
                break;
            }
            message.reset();  // shared strings go back as soon as they are on the wire
        }
    }
}

asio::awaitable<void> WsSession::send_close(std::uint16_t code, std::string reason) {
    if (!open_) {
        finish(Error(errc::closed, "closed before the WebSocket upgrade completed"));
        co_return;
    }
    // Without a pending read Beast reads until the peer's close frame itself; with one, that
    // read completes with websocket::error::closed. Either way the socket is torn down.
    auto [ec] = co_await ws_.async_close(websocket::close_reason(
                                             static_cast<websocket::close_code>(code), reason),
                                         asio::as_tuple(asio::use_awaitable));
    if (ec && ec != asio::error::operation_aborted)
        log_->debug("{}: close handshake: {}", prefix_, ec.message());
    finish(Error(errc::closed, "closed locally (" + describe_close(code, reason) + ")"));
}

void WsSession::close(std::uint16_t code, std::string reason) {
    bool start = false;
    {
        std::lock_guard lock(mu_);
        if (closing_ || finished_) return;
        closing_ = true;
        close_code_ = code;
        close_reason_ = std::move(reason);
        start = !std::exchange(writing_, true);
    }
    asio::post(strand_, [self = self()] { self->start_close_timer(); });
    if (start) spawn_writer();
}

void WsSession::start_close_timer() {
    if (close_timer_) return;
    {
        std::lock_guard lock(mu_);
        if (finished_) return;
    }
    // Covers flushing the queue too, which Beast's close timer does not: a peer that stopped
    // reading must not keep a closing connection forever.
    close_timer_ = std::make_unique<asio::steady_timer>(strand_, options_.close_timeout);
    close_timer_->async_wait([self = self()](error_code ec) {
        if (ec) return;
        self->log_->info("{}: close did not complete within {} ms; tearing down", self->prefix_,
                         self->options_.close_timeout.count());
        self->finish(Error(errc::closed, "close timed out after " +
                                             std::to_string(self->options_.close_timeout.count()) +
                                             " ms; connection torn down"));
    });
}

asio::awaitable<Result<std::string>> WsSession::read_on_strand() {
    {
        std::lock_guard lock(mu_);
        if (finished_) co_return final_error_;
    }
    if (!open_) co_return Error(errc::closed, "connection is not open");
    std::string out;
    auto buffer = asio::dynamic_buffer(out);
    auto [ec, n] = co_await ws_.async_read(buffer,
                                           asio::as_tuple(asio::use_awaitable));
    if (!ec) co_return std::move(out);
    Error e = read_error(ec);
    finish(e);
    std::lock_guard lock(mu_);
    co_return final_error_;
}

Error WsSession::read_error(const error_code& ec) {
    bool local_close;
    {
        std::lock_guard lock(mu_);
        local_close = close_sent_;
        if (finished_) return final_error_;
    }
    std::string what;
    if (ec == websocket::error::closed) {
        auto reason = ws_.reason();
        peer_close_code_ = reason.code;
        std::string peer = describe_close(reason.code, std::string(reason.reason.data(), reason.reason.size()));
        what = local_close ? "closed locally (peer answered " + peer + ")"
                           : "closed by peer (" + peer + ")";
        log_->info("{}: {}", prefix_, what);
    } else if (ec == websocket::error::message_too_big) {
        what = "message larger than " + std::to_string(options_.max_message_bytes) +
               " bytes; closed with 1009";
        if (peer_warning_allowed()) log_->warn("{}: {}", prefix_, what);
    } else if (ec == boost::beast::error::timeout) {
        what = local_close ? "close handshake timed out"
                           : "idle timeout: no frame from the peer for " +
                                 std::to_string(options_.idle_timeout.count()) + " ms";
        log_->info("{}: {}", prefix_, what);
    } else if (is_connection_lost(ec)) {
        what = "connection lost: " + ec.message();
        log_->info("{}: {}", prefix_, what);
    } else if (is_websocket_error(ec)) {
        what = "protocol violation by the peer: " + ec.message();
        if (peer_warning_allowed()) log_->warn("{}: {}", prefix_, what);
    } else if (ec == asio::error::operation_aborted) {
        what = "connection closed locally";
    } else {
        what = "read failed: " + ec.message();
        if (peer_warning_allowed()) log_->warn("{}: {}", prefix_, what);
    }
    return Error(errc::closed, what);
}

void WsSession::set_on_close(std::function<void(const Error&)> callback) {
    Error already;
    {
        std::lock_guard lock(mu_);
        if (!finished_) {
            on_close_ = std::move(callback);
            return;
        }
        already = final_error_;
    }
    asio::post(strand_, [callback = std::move(callback), already] { callback(already); });
}

std::size_t WsSession::queued() const {
    std::lock_guard lock(mu_);
    return pending_;
}

bool WsSession::is_open() const {
    std::lock_guard lock(mu_);
    return open_ && !closing_ && !finished_;
}

}  // namespace detail

// --- WsConnection: the public facade over WsSession ---

detail::WsSession& WsConnection::session() { return static_cast<detail::WsSession&>(*this); }
const detail::WsSession& WsConnection::session() const {
    return static_cast<const detail::WsSession&>(*this);
}

Result<void> WsConnection::send(std::shared_ptr<const std::string> text) {
    if (!text) return Error(errc::invalid_argument, "send(nullptr)");
    return session().send(std::move(text));
}

Result<void> WsConnection::send(std::string text) {
    return session().send(std::make_shared<const std::string>(std::move(text)));
}

boost::asio::awaitable<Result<std::string>> WsConnection::read() {
    auto self = detail::WsSession::of(shared_from_this());
    // Beast's stream (and its timers) belong to the strand: hop there unless already on it.
    if (self->strand_.running_in_this_thread()) co_return co_await self->read_on_strand();
    co_return co_await boost::asio::co_spawn(
        self->strand_, [self]() { return self->read_on_strand(); }, boost::asio::use_awaitable);
}

void WsConnection::close(std::uint16_t code, std::string reason) {
    session().close(code, std::move(reason));
}

void WsConnection::set_on_close(std::function<void(const Error&)> callback) {
    session().set_on_close(std::move(callback));
}

const PeerIdentity& WsConnection::peer() const { return session().peer_; }
const std::string& WsConnection::remote_address() const { return session().remote_; }
const std::string& WsConnection::target() const { return session().target_; }
std::size_t WsConnection::queued() const { return session().queued(); }
std::uint64_t WsConnection::id() const { return session().id_; }
bool WsConnection::is_open() const { return session().is_open(); }
std::uint16_t WsConnection::peer_close_code() const { return session().peer_close_code_; }
boost::asio::any_io_executor WsConnection::get_executor() const { return session().strand_; }

std::string WsConnection::request_header(std::string_view name) const {
    for (const auto& [k, v] : session().headers_)
        if (k.size() == name.size() && strncasecmp(k.data(), name.data(), k.size()) == 0) return v;
    return {};
}

}  // namespace kedge::net
