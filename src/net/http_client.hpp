#pragma once
// HTTP/1.1 client (plain or TLS) for talking to kube-apiserver, the join server and our own
// servers in tests: buffered requests over a small keep-alive pool, and streamed responses read
// line by line (Kubernetes watch) or piece by piece. Beast lives only in http_client.cpp.

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "base/error.hpp"
#include "net/http_types.hpp"
#include "net/tls_context.hpp"

namespace kedge::net {

// The parts of an http(s) URL the client needs.
struct ParsedUrl {
    std::string scheme;       // "http" or "https"
    std::string host;         // name, IPv4, or IPv6 without brackets
    unsigned short port = 0;  // explicit, or 80/443 from the scheme
    std::string target;       // path + query, "/" when empty
};

// Parses "http[s]://host[:port][/path][?query]"; other schemes and malformed URLs are errors.
Result<ParsedUrl> parse_url(std::string_view url);

// Connection settings of one client (one server).
struct HttpClientOptions {
    std::string base_url;             // http[s]://host:port
    std::shared_ptr<TlsContext> tls;  // needed for https (CA, optional client cert)
    std::string bearer_token;         // sent as "Authorization: Bearer ..."; never logged
    std::chrono::milliseconds connect_timeout = std::chrono::seconds(10);  // TCP + TLS
    std::chrono::milliseconds request_timeout = std::chrono::seconds(60);  // write + response
    std::size_t max_body_bytes = 64 * 1024 * 1024;
    std::size_t max_line_bytes = 16 * 1024 * 1024;  // HttpStream::read_line
    std::size_t max_idle_connections = 4;
    std::string user_agent = "kedge/0.1";
};

// What to send. target is path + query ("/api/v1/pods?watch=true").
struct HttpRequestSpec {
    std::string method = "GET";
    std::string target = "/";
    HttpHeaders headers;
    std::string body;
    std::optional<std::chrono::milliseconds> timeout;  // overrides request_timeout
};

// A complete (buffered) response.
struct HttpResponse {
    int status = 0;
    HttpHeaders headers;
    std::string body;
    std::optional<std::string> header(std::string_view name) const {
        return find_header(headers, name);
    }
};

// A response whose body is read as it arrives. Use it from the coroutine that made it (the
// client's executor); close() may be called from any coroutine on that executor.
class HttpStream {
  public:
    virtual ~HttpStream() = default;
    virtual int status() const = 0;
    virtual const HttpHeaders& headers() const = 0;
    std::optional<std::string> header(std::string_view name) const {
        return find_header(headers(), name);
    }
    // One '\n'-terminated line without the "\n" (or "\r\n"); the unterminated rest of the body
    // counts as a last line; nullopt at the end of the body. A line over max_line_bytes is an
    // error (errc::too_large).
    virtual boost::asio::awaitable<Result<std::optional<std::string>>> read_line() = 0;
    // Whatever body bytes arrive next (never empty); nullopt at the end of the body.
    virtual boost::asio::awaitable<Result<std::optional<std::string>>> read_some() = 0;
    // Aborts a pending read (it returns errc::closed) and drops the connection.
    virtual void close() = 0;
};

// A client of one server. Thread model: call it from coroutines running on the executor given
// at construction (a strand or a single-threaded io_context). Concurrent requests are fine; each
// uses its own connection.
class HttpClient {
  public:
    // Throws on a malformed base_url or https without a TLS context (a config error).
    HttpClient(boost::asio::any_io_executor ex, HttpClientOptions options);
    ~HttpClient();
    HttpClient(const HttpClient&) = delete;
    HttpClient& operator=(const HttpClient&) = delete;

    boost::asio::awaitable<Result<HttpResponse>> request(HttpRequestSpec spec);
    // Returns once the response head has arrived (timeout applies to that part only).
    boost::asio::awaitable<Result<std::unique_ptr<HttpStream>>> stream(HttpRequestSpec spec);

    // Swap the bearer token (token rotation); takes effect for the next request.
    void set_bearer_token(std::string token);
    const ParsedUrl& url() const;
    // Connections opened so far (tests check keep-alive reuse with it).
    std::size_t connections_opened() const;

    struct Impl;

  private:
    std::shared_ptr<Impl> impl_;
};

}  // namespace kedge::net
