#pragma once
// INTERNAL (ws_*.cpp only). The concrete WsConnection: a Beast websocket stream over TlsStream
// plus the bounded send queue, close bookkeeping and the hooks the server/client use while
// handshaking. Everything touching ws_ runs on strand_; the queue and flags are under mu_.

#include "base/log.hpp"
#include "net/detail/ws_tls_stream.hpp"
#include "net/ws_connection.hpp"
#include "net/ws_server.hpp"

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/websocket/stream.hpp>

#include <atomic>
#include <mutex>
#include <utility>
#include <vector>

namespace kedge::net::detail {

using Strand = boost::asio::strand<boost::asio::any_io_executor>;
using WsStream = boost::beast::websocket::stream<TlsStream>;
using Headers = std::vector<std::pair<std::string, std::string>>;

// Process-unique connection numbers ("ws#42").
std::uint64_t next_connection_id();

// "1.2.3.4:5" / "[::1]:5".
std::string format_endpoint(const boost::asio::ip::tcp::endpoint& ep);

// Shared between a handshake coroutine and its watchdog timer: the timer must not act once the
// handshake is over, even if its expiry was already queued.
struct HandshakeDeadline {
    bool done = false;
    bool fired = false;
};

// Rate limit for warnings that a peer can trigger at will (bad handshakes, protocol errors).
bool peer_warning_allowed();

class WsSession final : public WsConnection {
public:
    WsSession(Strand strand, boost::asio::ip::tcp::socket socket, bool server, WsOptions options,
              std::uint64_t id, std::string remote, std::string log_name);
    ~WsSession();

    static std::shared_ptr<WsSession> of(const std::shared_ptr<WsConnection>& c) {
        return std::static_pointer_cast<WsSession>(c);
    }
    std::shared_ptr<WsSession> self() { return std::static_pointer_cast<WsSession>(shared_from_this()); }

    // --- strand-only, used by the handshakes ---
    WsStream& ws() { return ws_; }
    TlsStream& stream() { return ws_.next_layer(); }
    const WsOptions& options() const { return options_; }
    bool is_server() const { return server_; }
    spdlog::logger& log() const { return *log_; }
    // "hub ws#12 127.0.0.1:5555" for log lines.
    const std::string& prefix() const { return prefix_; }
    void set_tls(std::shared_ptr<TlsContext> tls) { tls_ = std::move(tls); }
    void set_peer(PeerIdentity peer) { peer_ = std::move(peer); }
    void set_request(std::string target, Headers headers) {
        target_ = std::move(target);
        headers_ = std::move(headers);
    }
    // The upgrade succeeded: switch to the open-phase timeouts; send() is accepted from now on.
    void opened();
    bool was_opened() const { return open_.load(); }
    // Called (on the strand) once when the session ends; the server unregisters with it.
    void set_finish_hook(std::function<void(WsSession&)> hook) { finish_hook_ = std::move(hook); }

    // Ends the session: refuses sends, closes the socket, fires the hooks once. Strand only.
    void finish(const Error& reason);
    // Thread-safe: tear the socket down now (handshake watchdog, server stop).
    void abort(std::string reason);

    // --- the public API ---
    Result<void> send(std::shared_ptr<const std::string> text);
    boost::asio::awaitable<Result<std::string>> read_on_strand();
    void close(std::uint16_t code, std::string reason);
    void set_on_close(std::function<void(const Error&)> callback);
    std::size_t queued() const;
    bool is_open() const;

    Strand strand_;
    PeerIdentity peer_;
    std::string remote_;
    std::string target_;
    Headers headers_;
    std::uint64_t id_;
    std::atomic<std::uint16_t> peer_close_code_{0};

private:
    boost::asio::awaitable<void> writer();
    boost::asio::awaitable<void> send_close(std::uint16_t code, std::string reason);
    void spawn_writer();
    void start_close_timer();
    Error read_error(const boost::system::error_code& ec);

    WsStream ws_;
    WsOptions options_;
    bool server_;
    std::shared_ptr<spdlog::logger> log_;
    std::string prefix_;
    std::shared_ptr<TlsContext> tls_;  // keeps the SSL_CTX's callbacks alive with the SSL
    std::function<void(WsSession&)> finish_hook_;
    std::unique_ptr<boost::asio::steady_timer> close_timer_;  // only while closing
    std::atomic<bool> open_{false};

    mutable std::mutex mu_;
    std::vector<std::shared_ptr<const std::string>> queue_;  // swapped out by the writer
    std::size_t pending_ = 0;  // queued + being written
    bool writing_ = false;     // a writer coroutine is running
    bool closing_ = false;     // close() called: no more sends
    bool close_sent_ = false;
    bool finished_ = false;
    std::uint16_t close_code_ = 0;
    std::string close_reason_;
    Error final_error_;
    std::function<void(const Error&)> on_close_;
};

// Server side, after accept: TLS handshake, read the upgrade request, let decide() refuse it
// (answered with an HTTP status), else send the 101. On success the session is open.
using UpgradeDecider = std::function<Result<void>(const WsUpgradeRequest&)>;
boost::asio::awaitable<Result<void>> server_upgrade(std::shared_ptr<WsSession> session,
                                                    UpgradeDecider decide);

// Client side, after connect: TLS handshake (peer name already set), then the upgrade.
boost::asio::awaitable<Result<void>> client_upgrade(std::shared_ptr<WsSession> session,
                                                    std::string host_header, std::string target,
                                                    Headers headers);

}  // namespace kedge::net::detail
