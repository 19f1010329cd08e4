#pragma once
// HTTP/1.1 server (plain or TLS) for every kedge endpoint: the API server, the join server, the
// edge meta server, the kubelet-compatible server and metrics. Handlers are coroutines that get
// a parsed request and answer through an HttpResponder, either with one response or a chunked
// stream (watch, logs --follow). Beast lives only in http_server.cpp.

#include <atomic>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.hpp"
#include "net/http_types.hpp"
#include "net/tls_context.hpp"

namespace kedge::net {

// Limits and timeouts of one server; defaults suit an API server on a trusted network.
struct HttpServerOptions {
    std::string host = "127.0.0.1";
    unsigned short port = 0;          // 0 picks a free port, see HttpServer::port()
    std::shared_ptr<TlsContext> tls;  // null = plain HTTP
    std::size_t max_body_bytes = 3 * 1024 * 1024;
    std::size_t max_header_bytes = 16 * 1024;
    // The whole request head must arrive within this (kills slowloris clients).
    std::chrono::milliseconds header_timeout = std::chrono::seconds(10);
    // A keep-alive connection may sit idle between requests this long.
    std::chrono::milliseconds idle_timeout = std::chrono::seconds(90);
    std::chrono::milliseconds handshake_timeout = std::chrono::seconds(10);
    // Reading a request body, and each single write to the client (a stuck watch consumer).
    std::chrono::milliseconds body_timeout = std::chrono::seconds(60);
    std::chrono::milliseconds write_timeout = std::chrono::seconds(30);
    // After stop(), handlers still running (streams) get this long before their socket closes.
    std::chrono::milliseconds stop_grace = std::chrono::seconds(2);
    std::size_t max_connections = 10000;
    std::string name = "http";  // prefix of this server's log lines
};

// One parsed request as a handler sees it.
struct HttpRequest {
    std::string method;  // "GET", as sent
    std::string target;  // raw request target (path + query)
    std::string path;    // percent-decoded path
    std::string query;   // raw query without '?'
    HttpHeaders headers;
    std::string body;
    unsigned version = 11;       // 10 or 11
    PeerIdentity peer;           // from the verified client certificate (TLS only)
    std::string remote_address;  // "ip:port"
    std::map<std::string, std::string> route_params;  // from "{name}" segments of the route
    std::vector<std::pair<std::string, std::string>> query_params;  // decoded, in order

    // Case-insensitive; the first value.
    std::optional<std::string> header(std::string_view name) const;
    // The first value of a query parameter (percent-decoded, '+' as space).
    std::optional<std::string> query_param(std::string_view name) const;
    // Every value of a repeated query parameter.
    std::vector<std::string> query_param_all(std::string_view name) const;
    // A "{name}" segment of the matched route ("" when absent).
    std::string route_param(std::string_view name) const;
};

namespace detail {
// Implemented by the connection (plain or TLS) that owns the request.
class ResponderBackend {
  public:
    virtual ~ResponderBackend() = default;
    virtual boost::asio::awaitable<Result<void>> send_response(int status, std::string body,
                                                               std::string content_type,
                                                               HttpHeaders headers) = 0;
    virtual boost::asio::awaitable<Result<void>> send_stream_head(int status,
                                                                  std::string content_type,
                                                                  HttpHeaders headers) = 0;
    virtual boost::asio::awaitable<Result<void>> send_chunk(std::string data) = 0;
    virtual boost::asio::awaitable<Result<void>> send_stream_end() = 0;
    virtual boost::asio::awaitable<void> wait_client_gone() = 0;
    virtual bool client_gone() const = 0;
    virtual void set_close() = 0;
};
}  // namespace detail

// The answer channel of one request: exactly one respond(), or begin_stream() + write_chunk()*
// + end_stream(). Every call returns an error once the client is gone or the server stops.
// Use it from the handler's coroutine only (the connection's strand).
class HttpResponder {
  public:
    explicit HttpResponder(detail::ResponderBackend& backend) : backend_(backend) {}

    boost::asio::awaitable<Result<void>> respond(int status, std::string body = {},
                                                 std::string content_type = "text/plain",
                                                 HttpHeaders headers = {});
    // body is serialized JSON (a kube object, a Status).
    boost::asio::awaitable<Result<void>> respond_json(int status, std::string json,
                                                      HttpHeaders headers = {});
    // A plain-text error body: "message\n".
    boost::asio::awaitable<Result<void>> respond_error(int status, std::string_view message);

    // Chunked transfer-encoding (HTTP/1.1) or a raw body closed by EOF (HTTP/1.0).
    boost::asio::awaitable<Result<void>> begin_stream(int status, std::string content_type,
                                                      HttpHeaders headers = {});
    // Written and flushed now; an error means the client is gone: stop producing.
    boost::asio::awaitable<Result<void>> write_chunk(std::string data);
    // Appends '\n' (one JSON object per line, as a Kubernetes watch).
    boost::asio::awaitable<Result<void>> write_line(std::string line);
    boost::asio::awaitable<Result<void>> end_stream();

    // Completes when the client closed the connection or the server is stopping; lets an idle
    // watch notice a vanished client without writing. The connection closes after this request.
    boost::asio::awaitable<void> wait_client_gone();
    bool client_gone() const { return backend_.client_gone(); }
    // Close the connection after this response (no keep-alive).
    void close_after_response() { backend_.set_close(); }

    bool responded() const { return responded_; }
    bool streaming() const { return streaming_; }
    bool stream_ended() const { return ended_; }

  private:
    detail::ResponderBackend& backend_;
    bool responded_ = false;
    bool streaming_ = false;
    bool ended_ = false;
};

using HttpHandler = std::function<boost::asio::awaitable<void>(HttpRequest&, HttpResponder&)>;

// Listens on one address and dispatches requests to routes. Create with make(); routes are
// added before start(). Runs on the executor it is given (an io_context run by any number of
// threads); every connection lives on its own strand.
class HttpServer : public std::enable_shared_from_this<HttpServer> {
  public:
    static std::shared_ptr<HttpServer> make(boost::asio::any_io_executor ex,
                                            HttpServerOptions options);
    ~HttpServer();
    HttpServer(const HttpServer&) = delete;
    HttpServer& operator=(const HttpServer&) = delete;

    // method "*" matches any method. pattern: "/ca.crt" (exact), "/api/" (a trailing '/'
    // matches everything under it), "/nodes/{name}/status" ({x} matches one segment).
    // Exact and segment routes win over prefixes; the longest prefix wins. A path that
    // matches with another method gets 405.
    void handle(std::string method, std::string pattern, HttpHandler handler);
    // Called when no route matches (default: 404).
    void set_fallback(HttpHandler handler);

    // Binds and starts accepting; the error names the address.
    Result<void> start();
    unsigned short port() const { return port_; }
    // Stops accepting, closes idle connections, gives running handlers stop_grace to finish.
    // Safe from any thread; idempotent.
    void stop();
    // New connections use this context; existing ones keep theirs.
    void set_tls_context(std::shared_ptr<TlsContext> tls);

    // Counters (tests, metrics).
    std::uint64_t accepted_connections() const { return accepted_.load(); }
    std::size_t active_connections() const { return active_.load(); }

    struct Impl;

  private:
    HttpServer(boost::asio::any_io_executor ex, HttpServerOptions options);

    std::unique_ptr<Impl> impl_;
    unsigned short port_ = 0;
    std::atomic<std::uint64_t> accepted_{0};
    std::atomic<std::size_t> active_{0};
};

}  // namespace kedge::net
