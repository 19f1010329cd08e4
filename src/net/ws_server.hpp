#pragma once
// A WebSocket (ws:// or wss:// with client certificates) listener: cloudcore's hub on :10000 and
// the stream tunnel on :10004. The upgrade request and the client certificate are shown to an
// authorizer before the 101 is sent, so refused peers get an HTTP status and never a session.

#include "base/error.hpp"
#include "net/tls_context.hpp"
#include "net/ws_connection.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace kedge::net {

// Where and how a WsServer listens.
struct WsServerOptions {
    std::string host = "127.0.0.1";
    unsigned short port = 0;           // 0 picks a free port (read it back with port())
    std::shared_ptr<TlsContext> tls;   // server context; null serves plain ws://
    WsOptions ws;
    std::size_t max_connections = 100000;  // upgraded sessions; more -> 503
    std::string log_name = "ws";           // prefix of log lines ("hub", "stream")
};

// The upgrade request as the authorizer sees it.
struct WsUpgradeRequest {
    std::string target;  // path and query
    std::vector<std::pair<std::string, std::string>> headers;
    PeerIdentity peer;
    std::string remote_address;
    // Value of the first header with this name (case-insensitive), "" when absent.
    std::string_view header(std::string_view name) const;
};

// A WebSocket listener; every accepted connection gets its own strand.
class WsServer {
public:
    // Decides on an upgrade before the 101. Errors map to HTTP statuses: errc::unauthorized
    // 401, forbidden 403, unavailable 503, invalid_argument/parse_error 400, others 403.
    using Authorizer = std::function<Result<void>(const WsUpgradeRequest&)>;
    // Runs on the connection's strand after the upgrade; the connection is closed (1000) when
    // it returns, so it normally loops on read() until errc::closed.
    using Handler = std::function<boost::asio::awaitable<void>(std::shared_ptr<WsConnection>)>;

    static Result<std::shared_ptr<WsServer>> create(boost::asio::any_io_executor executor,
                                                    WsServerOptions options);
    ~WsServer();
    WsServer(const WsServer&) = delete;
    WsServer& operator=(const WsServer&) = delete;

    // Set both before start().
    void set_authorizer(Authorizer authorizer);
    void set_handler(Handler handler);

    // Binds and starts accepting.
    Result<void> start();
    // The bound port (after start()).
    unsigned short port() const;
    // Stops accepting and closes every connection with 1001; each close is bounded by
    // close_timeout, after which its socket is torn down. Wait on connection_count() == 0.
    void stop();
    // New connections use this context (certificate rotation); live ones keep theirs.
    void set_tls_context(std::shared_ptr<TlsContext> tls);
    // Live connections, including those still in the TLS/HTTP handshake.
    std::size_t connection_count() const;

    struct State;
    explicit WsServer(std::shared_ptr<State> state);

private:
    std::shared_ptr<State> state_;
};

}  // namespace kedge::net
