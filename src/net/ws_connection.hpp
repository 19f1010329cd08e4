#pragma once
// One WebSocket connection (either side) as kedge's hub and stream tunnel use it: a thread-safe
// bounded send queue drained by one writer, exactly one reader, graceful close with timeouts.
// The Beast/OpenSSL machinery stays in src/net/ws_*.cpp; this header is light on purpose.

#include "base/error.hpp"
#include "net/tls_context.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace kedge::net {

namespace detail {
class WsSession;
}

// Close codes of RFC 6455 §7.4.1 that kedge sends.
inline constexpr std::uint16_t kWsCloseNormal = 1000;
inline constexpr std::uint16_t kWsCloseGoingAway = 1001;
inline constexpr std::uint16_t kWsCloseProtocolError = 1002;
inline constexpr std::uint16_t kWsClosePolicy = 1008;
inline constexpr std::uint16_t kWsCloseTooBig = 1009;
inline constexpr std::uint16_t kWsCloseInternal = 1011;

// Limits and timers of one WebSocket connection.
struct WsOptions {
    std::size_t max_message_bytes = 8 * 1024 * 1024;  // larger -> close with 1009
    std::size_t max_queued_messages = 1024;           // send() beyond this -> errc::queue_full
    std::chrono::milliseconds handshake_timeout{30000};  // TLS + HTTP upgrade
    std::chrono::milliseconds idle_timeout{0};  // no frame from the peer for this long -> close
    std::chrono::milliseconds close_timeout{5000};  // close() flush + close handshake + TLS shutdown
    bool send_pings = false;  // ping at idle_timeout / 2 (needs idle_timeout > 0)
};

// A WebSocket connection. Shared; lives on its own strand (get_executor()) for its whole life.
// send()/close()/accessors are thread-safe; read() has exactly one caller at a time.
class WsConnection : public std::enable_shared_from_this<WsConnection> {
public:
    WsConnection(const WsConnection&) = delete;
    WsConnection& operator=(const WsConnection&) = delete;

    // Queues one text frame without blocking or copying (the same string can be queued on many
    // connections). errc::queue_full when max_queued_messages are pending (back-pressure or
    // slow-consumer disconnect is the caller's call); errc::closed once close began.
    Result<void> send(std::shared_ptr<const std::string> text);
    Result<void> send(std::string text);

    // The next message (text or binary frame payload). At the end returns errc::closed with the
    // reason in the detail (peer's close code/reason, idle timeout, 1009, connection lost...).
    boost::asio::awaitable<Result<std::string>> read();

    // Graceful close: flushes what is queued, sends the close frame, waits for the peer's, then
    // tears the socket down; everything bounded by close_timeout. Idempotent, thread-safe.
    void close(std::uint16_t code = kWsCloseNormal, std::string reason = {});

    // Called once on the connection's strand when the connection has ended, with the reason.
    void set_on_close(std::function<void(const Error&)> callback);

    // Who the peer's verified certificate says it is (empty without TLS/client cert).
    const PeerIdentity& peer() const;
    // "ip:port" of the peer.
    const std::string& remote_address() const;
    // Server side: a header of the upgrade request (case-insensitive name), "" when absent.
    std::string request_header(std::string_view name) const;
    // Server side: the request target ("/project/node/events"); client side: the dialed path.
    const std::string& target() const;
    // Messages queued or being written.
    std::size_t queued() const;
    // Process-unique connection number, used in log lines ("ws#42").
    std::uint64_t id() const;
    // False once close began or the connection failed.
    bool is_open() const;
    // Close code the peer sent (0 if none yet).
    std::uint16_t peer_close_code() const;
    // The connection's strand: run work here to stay on the connection's thread.
    boost::asio::any_io_executor get_executor() const;

protected:
    WsConnection() = default;
    ~WsConnection() = default;

private:
    detail::WsSession& session();
    const detail::WsSession& session() const;
};

}  // namespace kedge::net
