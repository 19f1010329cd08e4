#pragma once
// Dialing a WebSocket server: edgecore's hub client (wss://cloud:10000/<project>/<node>/events)
// and the stream tunnel client. The server's certificate must name the URL's host or IP.

#include "base/error.hpp"
#include "net/tls_context.hpp"
#include "net/ws_connection.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace kedge::net {

// What ws_connect dials and with which credentials.
struct WsClientOptions {
    std::string url;                  // "wss://host:port/path" or "ws://..."
    std::shared_ptr<TlsContext> tls;  // client context (CA + optional client cert); wss only
    std::vector<std::pair<std::string, std::string>> headers;  // extra upgrade request headers
    WsOptions ws;
    std::chrono::milliseconds connect_timeout{30000};  // DNS + TCP + TLS + upgrade
};

// Connects and upgrades. Errors say which step failed: errc::invalid_argument (URL),
// unavailable (DNS, TCP), crypto_error (TLS, certificate verification), unauthorized /
// forbidden / unavailable with "HTTP <status>" in the detail (refused upgrade), timeout.
boost::asio::awaitable<Result<std::shared_ptr<WsConnection>>> ws_connect(
    boost::asio::any_io_executor executor, WsClientOptions options);

}  // namespace kedge::net
