// The one translation unit that instantiates Beast's HTTP server templates, for both the plain
// TCP stream and the TLS stream (Session<PlainStream>, Session<TlsStream>).
#include "net/http_server.hpp"

#include <openssl/ssl.h>

#include <algorithm>
#include <ctime>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/stream_traits.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/url_view.hpp>
#include <unordered_map>

#include "base/log.hpp"
#include "net/detail/accept_loop.hpp"
#include "net/detail/http_router.hpp"

namespace kedge::net {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using SteadyClock = std::chrono::steady_clock;
using asio::awaitable;

// ---------------------------------------------------------------------------------------------
// HttpRequest, HttpResponder

std::optional<std::string> HttpRequest::header(std::string_view name) const {
    return find_header(headers, name);
}

std::optional<std::string> HttpRequest::query_param(std::string_view name) const {
    for (const auto& [k, v] : query_params)
        if (k == name) return v;
    return std::nullopt;
}

std::vector<std::string> HttpRequest::query_param_all(std::string_view name) const {
    std::vector<std::string> out;
    for (const auto& [k, v] : query_params)
        if (k == name) out.push_back(v);
    return out;
}

std::string HttpRequest::route_param(std::string_view name) const {
    auto it = route_params.find(std::string(name));
    return it == route_params.end() ? std::string() : it->second;
}

awaitable<Result<void>> HttpResponder::respond(int status, std::string body,
                                               std::string content_type, HttpHeaders headers) {
    if (responded_) co_return Error(errc::invalid_argument, "a response was already sent");
    responded_ = true;
    co_return co_await backend_.send_response(status, std::move(body), std::move(content_type),
                                              std::move(headers));
}

awaitable<Result<void>> HttpResponder::respond_json(int status, std::string json,
                                                    HttpHeaders headers) {
    co_return co_await respond(status, std::move(json), "application/json", std::move(headers));
}

awaitable<Result<void>> HttpResponder::respond_error(int status, std::string_view message) {
    co_return co_await respond(status, std::string(message) + "\n", "text/plain", {});
}

awaitable<Result<void>> HttpResponder::begin_stream(int status, std::string content_type,
                                                    HttpHeaders headers) {
    if (responded_) co_return Error(errc::invalid_argument, "a response was already sent");
    responded_ = true;
    streaming_ = true;
    co_return co_await backend_.send_stream_head(status, std::move(content_type),
                                                 std::move(headers));
}

awaitable<Result<void>> HttpResponder::write_chunk(std::string data) {
    if (!streaming_ || ended_) co_return Error(errc::invalid_argument, "no open stream");
    // An empty chunk would end the chunked body: nothing to send.
    if (data.empty()) co_return Result<void>{};
    co_return co_await backend_.send_chunk(std::move(data));
}

awaitable<Result<void>> HttpResponder::write_line(std::string line) {
    line.push_back('\n');
    co_return co_await write_chunk(std::move(line));
}

awaitable<Result<void>> HttpResponder::end_stream() {
    if (!streaming_ || ended_) co_return Result<void>{};
    ended_ = true;
    co_return co_await backend_.send_stream_end();
}

awaitable<void> HttpResponder::wait_client_gone() { co_await backend_.wait_client_gone(); }

// ---------------------------------------------------------------------------------------------
// Server internals

namespace {

using PlainStream = tcp::socket;
using TlsStream = beast::ssl_stream<tcp::socket>;

bool is_http_parse_error(const boost::system::error_code& ec) {
    return ec.category() == http::make_error_code(http::error::bad_method).category();
}

bool is_peer_gone(const boost::system::error_code& ec) {
    return ec == http::error::end_of_stream || ec == http::error::partial_message ||
           ec == asio::error::eof || ec == asio::error::connection_reset ||
           ec == asio::error::broken_pipe || ec == asio::ssl::error::stream_truncated;
}

// Counts warnings per window so a flood of bad handshakes does not flood the log.
class WarnLimiter {
  public:
    // True when this warning may be logged; suppressed is how many were dropped before it.
    bool allow(std::uint64_t& suppressed) {
        std::lock_guard lock(mu_);
        auto now = SteadyClock::now();
        if (now - window_start_ > std::chrono::seconds(10)) {
            window_start_ = now;
            count_ = 0;
        }
        if (++count_ > kPerWindow) {
            ++suppressed_;
            return false;
        }
        suppressed = std::exchange(suppressed_, 0);
        return true;
    }

  private:
    static constexpr int kPerWindow = 20;
    std::mutex mu_;
    SteadyClock::time_point window_start_{};
    int count_ = 0;
    std::uint64_t suppressed_ = 0;
};

class SessionBase : public detail::ResponderBackend {
  public:
    virtual void on_server_stop() = 0;             // runs on the session's strand
    virtual asio::any_io_executor executor() = 0;  // that strand
};

}  // namespace

struct HttpServer::Impl {
    HttpServer* owner = nullptr;
    asio::any_io_executor ex;
    asio::strand<asio::any_io_executor> accept_strand;
    HttpServerOptions opts;
    std::shared_ptr<spdlog::logger> log = kedge::log::get("net.http");
    WarnLimiter warn_limiter;

    std::mutex mu;  // everything below
    detail::HttpRouter router;
    HttpHandler fallback;
    std::shared_ptr<TlsContext> tls;
    std::optional<tcp::acceptor> acceptor;
    std::unordered_map<std::uint64_t, std::weak_ptr<SessionBase>> sessions;
    std::uint64_t next_id = 0;
    bool started = false;
    bool stopped = false;

    Impl(asio::any_io_executor e, HttpServerOptions o)
        : ex(e), accept_strand(asio::make_strand(e)), opts(std::move(o)), tls(opts.tls) {}

    template <class... Args>
    void warn_limited(fmt::format_string<Args...> f, Args&&... args) {
        std::uint64_t suppressed = 0;
        if (!warn_limiter.allow(suppressed)) return;
        if (suppressed > 0) log->warn("{}: {} similar warnings suppressed", opts.name, suppressed);
        log->warn(f, std::forward<Args>(args)...);
    }

    void on_socket(tcp::socket socket);
    void unregister(std::uint64_t id) {
        std::lock_guard lock(mu);
        sessions.erase(id);
        owner->active_.fetch_sub(1);
    }
};

namespace {

template <class Stream>
constexpr bool kIsTls = std::is_same_v<Stream, TlsStream>;

// One connection: reads requests one after the other, runs the handler, writes the answer.
// Everything (I/O, watchdog, handler) runs on the connection's strand.
template <class Stream>
class Session final : public SessionBase, public std::enable_shared_from_this<Session<Stream>> {
  public:
    Session(std::shared_ptr<HttpServer> server, HttpServer::Impl& impl, std::uint64_t id,
            Stream stream, std::shared_ptr<TlsContext> tls)
        : server_(std::move(server)),
          impl_(impl),
          opts_(impl.opts),
          conn_id_(id),
          tls_(std::move(tls)),
          stream_(std::move(stream)),
          timer_(stream_.get_executor()),
          gone_timer_(stream_.get_executor()) {
        boost::system::error_code ec;
        auto ep = beast::get_lowest_layer(stream_).remote_endpoint(ec);
        if (!ec) remote_ = ep.address().to_string() + ":" + std::to_string(ep.port());
        id_ = opts_.name + "#" + std::to_string(id) + " " + remote_;
    }

    awaitable<void> run();
    void on_server_stop() override;
    asio::any_io_executor executor() override { return stream_.get_executor(); }

    // detail::ResponderBackend
    awaitable<Result<void>> send_response(int status, std::string body, std::string content_type,
                                          HttpHeaders headers) override;
    awaitable<Result<void>> send_stream_head(int status, std::string content_type,
                                             HttpHeaders headers) override;
    awaitable<Result<void>> send_chunk(std::string data) override;
    awaitable<Result<void>> send_stream_end() override;
    awaitable<void> wait_client_gone() override;
    bool client_gone() const override { return gone_ || stopping_ || closed_; }
    void set_close() override { close_after_ = true; }

  private:
    enum class Expired { none, read, write, stop };

    awaitable<void> watchdog(std::shared_ptr<Session> self);
    awaitable<void> gone_reader(std::shared_ptr<Session> self);
    awaitable<bool> handshake();
    awaitable<bool> serve_one(bool first);
    awaitable<bool> on_read_error(boost::system::error_code ec, bool got_some, const char* what);
    awaitable<void> dispatch(http::request<http::string_body>& req);
    awaitable<void> graceful_close();
    awaitable<Result<void>> write_buffers(auto buffers, const char* what);
    void fill_response_head(http::fields& f, const std::string& content_type,
                            const HttpHeaders& headers);
    void close_socket();
    void finish();

    void set_deadline(SteadyClock::time_point& slot, std::chrono::milliseconds d) {
        slot = SteadyClock::now() + d;
        if (slot < timer_.expiry()) timer_.cancel();
    }
    static constexpr SteadyClock::time_point kNever = SteadyClock::time_point::max();

    std::shared_ptr<HttpServer> server_;  // keeps impl_ alive
    HttpServer::Impl& impl_;
    const HttpServerOptions& opts_;
    std::uint64_t conn_id_;
    std::shared_ptr<TlsContext> tls_;  // the context this connection was accepted with
    Stream stream_;
    beast::flat_buffer buffer_;
    asio::steady_timer timer_;       // the watchdog's
    asio::steady_timer gone_timer_;  // wakes wait_client_gone()
    SteadyClock::time_point read_deadline_ = kNever, write_deadline_ = kNever,
                            stop_deadline_ = kNever;
    Expired expired_ = Expired::none;
    std::string remote_, id_;
    PeerIdentity peer_;
    unsigned version_ = 11;
    bool head_request_ = false;
    bool chunked_ = false;
    bool busy_ = false;  // a request is being answered
    bool close_after_ = false;
    bool stopping_ = false;
    bool closed_ = false;
    bool gone_ = false;
    bool gone_reader_started_ = false;
    std::string current_;  // "GET /path" for log lines
};

template <class Stream>
awaitable<void> Session<Stream>::run() {
    auto self = this->shared_from_this();
    asio::co_spawn(stream_.get_executor(), watchdog(self),
                   log::log_exceptions(impl_.log, id_ + " watchdog"));
    bool ok = true;
    if constexpr (kIsTls<Stream>) ok = co_await handshake();
    for (bool first = true; ok && !closed_ && !stopping_; first = false)
        ok = co_await serve_one(first);
    co_await graceful_close();
    finish();
}

template <class Stream>
awaitable<void> Session<Stream>::watchdog(std::shared_ptr<Session> self) {
    while (!closed_) {
        timer_.expires_at(std::min({read_deadline_, write_deadline_, stop_deadline_}));
        co_await timer_.async_wait(asio::as_tuple(asio::use_awaitable));
        if (closed_) break;
        auto now = SteadyClock::now();
        Expired e = read_deadline_ <= now    ? Expired::read
                    : write_deadline_ <= now ? Expired::write
                    : stop_deadline_ <= now  ? Expired::stop
                                             : Expired::none;
        if (e == Expired::none) continue;
        expired_ = e;
        if (e == Expired::write)
            impl_.log->info("{}: client did not take data within {} ms, closing", id_,
                            opts_.write_timeout.count());
        if (e == Expired::stop) impl_.log->info("{}: server stopping, closing {}", id_, current_);
        close_socket();
    }
}

template <class Stream>
awaitable<bool> Session<Stream>::handshake() {
    if constexpr (kIsTls<Stream>) {
        set_deadline(read_deadline_, opts_.handshake_timeout);
        auto [ec] = co_await stream_.async_handshake(asio::ssl::stream_base::server,
                                                     asio::as_tuple(asio::use_awaitable));
        read_deadline_ = kNever;
        if (ec) {
            if (stopping_) co_return false;
            std::string reason = expired_ == Expired::read
                                     ? "not complete within " +
                                           std::to_string(opts_.handshake_timeout.count()) + " ms"
                                     : ec.message();
            if (is_peer_gone(ec) && expired_ == Expired::none)
                reason = "client closed the connection during the handshake (" + ec.message() + ")";
            impl_.warn_limited("{}: TLS handshake failed: {}", id_, reason);
            co_return false;
        }
        peer_ = peer_identity(stream_.native_handle());
    }
    co_return true;
}

template <class Stream>
awaitable<bool> Session<Stream>::serve_one(bool first) {
    if (!first && buffer_.size() == 0) {
        // Keep-alive: wait for the next request's first bytes under the idle timeout.
        set_deadline(read_deadline_, opts_.idle_timeout);
        auto [ec, n] = co_await stream_.async_read_some(buffer_.prepare(4096),
                                                        asio::as_tuple(asio::use_awaitable));
        if (ec) {
            if (expired_ == Expired::read)
                impl_.log->debug("{}: idle for {} ms, closing", id_, opts_.idle_timeout.count());
            co_return false;
        }
        buffer_.commit(n);
    }
    set_deadline(read_deadline_, opts_.header_timeout);
    http::request_parser<http::string_body> parser;
    parser.header_limit(static_cast<std::uint32_t>(opts_.max_header_bytes));
    parser.body_limit(opts_.max_body_bytes);
    {
        auto [ec, n] = co_await http::async_read_header(stream_, buffer_, parser,
                                                        asio::as_tuple(asio::use_awaitable));
        if (ec)
            co_return co_await on_read_error(ec, parser.got_some() || buffer_.size() > 0,
                                             "request head");
    }
    busy_ = true;
    auto& req = parser.get();
    version_ = req.version() >= 11 ? 11 : 10;
    head_request_ = req.method() == http::verb::head;
    current_ = std::string(req.method_string()) + " " + std::string(req.target());
    if (!parser.is_done()) {
        auto expect = req.find(http::field::expect);
        if (expect != req.end() && iequals(expect->value(), "100-continue") && version_ == 11) {
            static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
            auto r = co_await write_buffers(asio::buffer(kContinue), "100 Continue");
            if (!r) co_return false;
        }
        set_deadline(read_deadline_, opts_.body_timeout);
        auto [ec, n] = co_await http::async_read(stream_, buffer_, parser,
                                                 asio::as_tuple(asio::use_awaitable));
        if (ec) co_return co_await on_read_error(ec, true, "request body");
    }
    read_deadline_ = kNever;
    close_after_ = close_after_ || !req.keep_alive();
    co_await dispatch(req);
    busy_ = false;
    co_return !close_after_ && !closed_ && !stopping_ && !gone_reader_started_;
}

template <class Stream>
awaitable<bool> Session<Stream>::on_read_error(boost::system::error_code ec, bool got_some,
                                               const char* what) {
    read_deadline_ = kNever;
    if (stopping_ && expired_ == Expired::none) co_return false;
    if (expired_ == Expired::read) {
        if (got_some)
            impl_.log->info("{}: {} not complete within {} ms, closing", id_, what,
                            (std::string_view(what) == "request head" ? opts_.header_timeout
                                                                      : opts_.body_timeout)
                                .count());
        else
            impl_.log->info("{}: no request within {} ms, closing", id_,
                            opts_.header_timeout.count());
        co_return false;
    }
    int status = 0;
    std::string reason;
    if (ec == http::error::header_limit) {
        status = 431;
        reason = "request header larger than " + std::to_string(opts_.max_header_bytes) + " bytes";
    } else if (ec == http::error::body_limit) {
        status = 413;
        reason = "request body larger than " + std::to_string(opts_.max_body_bytes) + " bytes";
    } else if (is_http_parse_error(ec) && !is_peer_gone(ec)) {
        status = 400;
        reason = "malformed request: " + ec.message();
    }
    if (status == 0) {
        if (got_some) impl_.log->debug("{}: reading the {} failed: {}", id_, what, ec.message());
        co_return false;
    }
    impl_.log->info("{}: {}, answering {} and closing", id_, reason, status);
    close_after_ = true;
    busy_ = true;
    co_await send_response(status, reason + "\n", "text/plain", {});
    co_return false;
}

template <class Stream>
awaitable<void> Session<Stream>::dispatch(http::request<http::string_body>& req) {
    HttpRequest hr;
    hr.method = std::string(req.method_string());
    hr.target = std::string(req.target());
    hr.version = version_;
    hr.peer = peer_;
    hr.remote_address = remote_;
    auto url = boost::urls::parse_origin_form(hr.target);
    if (!url) {
        close_after_ = true;
        impl_.log->info("{}: bad request target, answering 400", id_);
        co_await send_response(400, "malformed request target\n", "text/plain", {});
        co_return;
    }
    hr.path = url->path();
    hr.query = std::string(url->encoded_query());
    for (auto p : url->params()) hr.query_params.emplace_back(p.key, p.value);
    for (const auto& f : req) hr.headers.emplace_back(f.name_string(), f.value());
    hr.body = std::move(req.body());

    detail::HttpRouter::Match match;
    HttpHandler fallback;
    {
        std::lock_guard lock(impl_.mu);
        match = impl_.router.find(hr.method, hr.path);
        fallback = impl_.fallback;
    }
    HttpResponder responder(*this);
    std::exception_ptr error;
    try {
        if (match.outcome == detail::HttpRouter::Outcome::matched) {
            hr.route_params = std::move(match.params);
            co_await match.handler(hr, responder);
        } else if (match.outcome == detail::HttpRouter::Outcome::method_not_allowed) {
            // Headers built outside the co_await: g++ 12 rejects a braced list of string
            // literals as a coroutine argument ("array used as initializer").
            HttpHeaders allow{{std::string("Allow"), match.allowed}};
            co_await responder.respond(405, "method not allowed\n", "text/plain", std::move(allow));
        } else if (fallback) {
            co_await fallback(hr, responder);
        } else {
            co_await responder.respond(404, "404 page not found\n", "text/plain", {});
        }
    } catch (...) {
        error = std::current_exception();
    }
    if (error) {
        try {
            std::rethrow_exception(error);
        } catch (const std::exception& e) {
            impl_.log->error("{}: handler of {} threw: {}", id_, current_, e.what());
        } catch (...) {
            impl_.log->error("{}: handler of {} threw a non-standard exception", id_, current_);
        }
    }
    if (!responder.responded()) {
        if (!error)
            impl_.log->error("{}: handler of {} returned without responding", id_, current_);
        co_await responder.respond(500, "internal error\n", "text/plain", {});
    } else if (responder.streaming() && !responder.stream_ended()) {
        if (error) {
            // The client must see a truncated body, not a clean end.
            close_after_ = true;
            close_socket();
        } else {
            co_await responder.end_stream();
        }
    }
}

// RFC 9110 §6.6.1: an origin server with a clock sends Date (IMF-fixdate); clients such as
// keadm's clock-skew check read it.
static std::string http_date_now() {
    std::time_t t = std::time(nullptr);
    std::tm tm{};
    ::gmtime_r(&t, &tm);
    char buf[64];
    std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    return buf;
}

template <class Stream>
void Session<Stream>::fill_response_head(http::fields& f, const std::string& content_type,
                                         const HttpHeaders& headers) {
    f.set(http::field::date, http_date_now());
    if (!content_type.empty()) f.set(http::field::content_type, content_type);
    for (const auto& [name, value] : headers) f.insert(name, value);
}

template <class Stream>
awaitable<Result<void>> Session<Stream>::write_buffers(auto buffers, const char* what) {
    if (closed_) co_return Error(errc::closed, "connection closed");
    set_deadline(write_deadline_, opts_.write_timeout);
    auto [ec, n] =
        co_await asio::async_write(stream_, buffers, asio::as_tuple(asio::use_awaitable));
    write_deadline_ = kNever;
    if (ec) {
        gone_ = true;
        gone_timer_.cancel();
        impl_.log->debug("{}: writing {} failed: {}", id_, what, ec.message());
        co_return Error(errc::closed,
                        std::string("client gone while writing ") + what + ": " + ec.message());
    }
    co_return Result<void>{};
}

template <class Stream>
awaitable<Result<void>> Session<Stream>::send_response(int status, std::string body,
                                                       std::string content_type,
                                                       HttpHeaders headers) {
    if (closed_) co_return Error(errc::closed, "connection closed");
    if (status < 100 || status > 599) {
        impl_.log->error("{}: handler of {} answered invalid status {}", id_, current_, status);
        status = 500;
    }
    http::response<http::string_body> res{static_cast<http::status>(status), version_};
    res.set(http::field::server, "kedge");
    fill_response_head(res.base(), content_type, headers);
    res.body() = std::move(body);
    res.prepare_payload();
    res.keep_alive(!close_after_ && !stopping_);
    impl_.log->debug("{}: {} -> {}", id_, current_, status);
    set_deadline(write_deadline_, opts_.write_timeout);
    boost::system::error_code ec;
    if (head_request_) {
        http::response_serializer<http::string_body> sr{res};
        std::tie(ec, std::ignore) =
            co_await http::async_write_header(stream_, sr, asio::as_tuple(asio::use_awaitable));
    } else {
        std::tie(ec, std::ignore) =
            co_await http::async_write(stream_, res, asio::as_tuple(asio::use_awaitable));
    }
    write_deadline_ = kNever;
    if (ec) {
        gone_ = true;
        impl_.log->debug("{}: writing the response failed: {}", id_, ec.message());
        co_return Error(errc::closed, "client gone while writing the response: " + ec.message());
    }
    co_return Result<void>{};
}

template <class Stream>
awaitable<Result<void>> Session<Stream>::send_stream_head(int status, std::string content_type,
                                                          HttpHeaders headers) {
    if (closed_) co_return Error(errc::closed, "connection closed");
    http::response<http::empty_body> res{static_cast<http::status>(status), version_};
    res.set(http::field::server, "kedge");
    fill_response_head(res.base(), content_type, headers);
    chunked_ = version_ == 11;
    if (chunked_) {
        res.chunked(true);
        res.keep_alive(!close_after_ && !stopping_);
    } else {
        close_after_ = true;  // HTTP/1.0: the body ends when the connection does
        res.keep_alive(false);
    }
    impl_.log->debug("{}: {} -> {} (stream)", id_, current_, status);
    http::response_serializer<http::empty_body> sr{res};
    set_deadline(write_deadline_, opts_.write_timeout);
    auto [ec, n] =
        co_await http::async_write_header(stream_, sr, asio::as_tuple(asio::use_awaitable));
    write_deadline_ = kNever;
    if (ec) {
        gone_ = true;
        co_return Error(errc::closed, "client gone while writing the stream head: " + ec.message());
    }
    co_return Result<void>{};
}

template <class Stream>
awaitable<Result<void>> Session<Stream>::send_chunk(std::string data) {
    if (gone_ || closed_) co_return Error(errc::closed, "client gone");
    if (stopping_) co_return Error(errc::closed, "server stopping");
    if (head_request_) co_return Result<void>{};
    if (chunked_) co_return co_await write_buffers(http::make_chunk(asio::buffer(data)), "a chunk");
    co_return co_await write_buffers(asio::buffer(data), "stream data");
}

template <class Stream>
awaitable<Result<void>> Session<Stream>::send_stream_end() {
    if (!chunked_ || head_request_) co_return Result<void>{};
    co_return co_await write_buffers(http::make_chunk_last(), "the last chunk");
}

template <class Stream>
awaitable<void> Session<Stream>::wait_client_gone() {
    if (!gone_reader_started_) {
        gone_reader_started_ = true;
        close_after_ = true;  // the reader may consume a pipelined request
        asio::co_spawn(stream_.get_executor(), gone_reader(this->shared_from_this()),
                       log::log_exceptions(impl_.log, id_ + " reader"));
    }
    while (!client_gone()) {
        gone_timer_.expires_at(kNever);
        co_await gone_timer_.async_wait(asio::as_tuple(asio::use_awaitable));
        // A caller racing this against its own wake-ups (operator||) cancels it; return then,
        // or the race never completes.
        auto state = co_await asio::this_coro::cancellation_state;
        if (state.cancelled() != asio::cancellation_type::none) co_return;
    }
}

template <class Stream>
awaitable<void> Session<Stream>::gone_reader(std::shared_ptr<Session> self) {
    char scratch[512];
    while (!closed_) {
        auto [ec, n] = co_await stream_.async_read_some(asio::buffer(scratch),
                                                        asio::as_tuple(asio::use_awaitable));
        if (ec) break;  // bytes after the request are ignored: the connection closes anyway
    }
    gone_ = true;
    gone_timer_.cancel();
}

template <class Stream>
void Session<Stream>::on_server_stop() {
    stopping_ = true;
    gone_timer_.cancel();
    if (!busy_) {
        close_socket();
    } else {
        set_deadline(stop_deadline_, opts_.stop_grace);
    }
}

template <class Stream>
awaitable<void> Session<Stream>::graceful_close() {
    if (closed_) co_return;
    if constexpr (kIsTls<Stream>) {
        // close_notify, unless a reader is still pending on the stream (only one may be) or
        // the peer is known to be gone.
        if (!gone_reader_started_ && !gone_ && expired_ == Expired::none &&
            SSL_is_init_finished(stream_.native_handle())) {
            set_deadline(write_deadline_, std::chrono::milliseconds(1000));
            co_await stream_.async_shutdown(asio::as_tuple(asio::use_awaitable));
            write_deadline_ = kNever;
        }
    }
    boost::system::error_code ec;
    beast::get_lowest_layer(stream_).shutdown(tcp::socket::shutdown_both, ec);
    close_socket();
}

template <class Stream>
void Session<Stream>::close_socket() {
    if (closed_) return;
    closed_ = true;
    boost::system::error_code ec;
    beast::get_lowest_layer(stream_).close(ec);
    timer_.cancel();
    gone_timer_.cancel();
}

template <class Stream>
void Session<Stream>::finish() {
    close_socket();
    impl_.unregister(conn_id_);
}

}  // namespace

void HttpServer::Impl::on_socket(tcp::socket socket) {
    std::shared_ptr<TlsContext> ctx;
    std::uint64_t id = 0;
    {
        std::lock_guard lock(mu);
        if (stopped) return;
        if (owner->active_.load() >= opts.max_connections) {
            warn_limited("{}: {} connections open, refusing a new one", opts.name,
                         opts.max_connections);
            return;
        }
        ctx = tls;
        id = ++next_id;
        owner->active_.fetch_add(1);
        owner->accepted_.fetch_add(1);
    }
    // Move the connection onto its own strand.
    auto strand = asio::make_strand(ex);
    boost::system::error_code ec;
    auto protocol = socket.local_endpoint(ec).protocol();
    tcp::socket moved(strand);
    if (!ec) moved.assign(protocol, socket.release(ec), ec);
    if (ec) {
        log->warn("{}: cannot take over an accepted socket: {}", opts.name, ec.message());
        std::lock_guard lock(mu);
        owner->active_.fetch_sub(1);
        return;
    }
    std::shared_ptr<SessionBase> session;
    auto server = owner->shared_from_this();
    asio::awaitable<void> run;
    if (ctx) {
        auto s = std::make_shared<Session<TlsStream>>(
            server, *this, id, TlsStream(std::move(moved), ctx->native()), ctx);
        run = s->run();
        session = s;
    } else {
        auto s =
            std::make_shared<Session<PlainStream>>(server, *this, id, std::move(moved), nullptr);
        run = s->run();
        session = s;
    }
    {
        // stop() may have run since the check above; it only sees registered sessions.
        std::lock_guard lock(mu);
        if (stopped) {
            owner->active_.fetch_sub(1);
            return;  // run never started; the socket closes with the session
        }
        sessions.emplace(id, session);
    }
    asio::co_spawn(strand, std::move(run), log::log_exceptions(log, opts.name + " connection"));
}

// ---------------------------------------------------------------------------------------------
// HttpServer

std::shared_ptr<HttpServer> HttpServer::make(asio::any_io_executor ex, HttpServerOptions options) {
    return std::shared_ptr<HttpServer>(new HttpServer(std::move(ex), std::move(options)));
}

HttpServer::HttpServer(asio::any_io_executor ex, HttpServerOptions options)
    : impl_(std::make_unique<Impl>(std::move(ex), std::move(options))) {
    impl_->owner = this;
}

HttpServer::~HttpServer() = default;

void HttpServer::handle(std::string method, std::string pattern, HttpHandler handler) {
    std::lock_guard lock(impl_->mu);
    impl_->router.add(std::move(method), std::move(pattern), std::move(handler));
}

void HttpServer::set_fallback(HttpHandler handler) {
    std::lock_guard lock(impl_->mu);
    impl_->fallback = std::move(handler);
}

void HttpServer::set_tls_context(std::shared_ptr<TlsContext> tls) {
    std::lock_guard lock(impl_->mu);
    impl_->tls = std::move(tls);
}

Result<void> HttpServer::start() {
    std::lock_guard lock(impl_->mu);
    if (impl_->started) return Error(errc::invalid_argument, impl_->opts.name + " already started");
    if (impl_->stopped) return Error(errc::closed, impl_->opts.name + " was stopped");
    if (impl_->tls && !impl_->tls->is_server())
        return Error(errc::invalid_argument, impl_->opts.name + ": TLS context is not a server's");
    auto acceptor = detail::open_acceptor(impl_->accept_strand, impl_->opts.host, impl_->opts.port);
    if (!acceptor) return acceptor.error();
    impl_->acceptor.emplace(std::move(*acceptor));
    boost::system::error_code ec;
    port_ = impl_->acceptor->local_endpoint(ec).port();
    impl_->started = true;
    impl_->log->info("{}: listening on {}:{} ({})", impl_->opts.name, impl_->opts.host, port_,
                     impl_->tls ? "TLS" : "plain HTTP");
    auto self = shared_from_this();
    asio::co_spawn(impl_->accept_strand,
                   detail::accept_loop(
                       *impl_->acceptor,
                       [self](tcp::socket s) { self->impl_->on_socket(std::move(s)); }, impl_->log),
                   log::log_exceptions(impl_->log, impl_->opts.name + " accept loop"));
    return {};
}

void HttpServer::stop() {
    std::vector<std::shared_ptr<SessionBase>> live;
    {
        std::lock_guard lock(impl_->mu);
        if (impl_->stopped) return;
        impl_->stopped = true;
        for (auto& [id, weak] : impl_->sessions)
            if (auto s = weak.lock()) live.push_back(std::move(s));
        if (!impl_->started) return;
    }
    impl_->log->info("{}: stopping ({} connections open)", impl_->opts.name, live.size());
    asio::post(impl_->accept_strand, [self = shared_from_this()] {
        boost::system::error_code ec;
        if (self->impl_->acceptor) self->impl_->acceptor->close(ec);
    });
    for (auto& s : live) {
        auto ex = s->executor();
        asio::post(ex, [s = std::move(s)] { s->on_server_stop(); });
    }
}

}  // namespace kedge::net
