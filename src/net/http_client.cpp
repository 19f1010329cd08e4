// The one translation unit that instantiates Beast's HTTP client templates (plain and TLS).
#include "net/http_client.hpp"

#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <sys/socket.h>

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/stream_traits.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/url_view.hpp>
#include <functional>
#include <mutex>
#include <vector>

#include "base/log.hpp"

namespace kedge::net {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using asio::awaitable;
using asio::use_awaitable;

Result<ParsedUrl> parse_url(std::string_view url) {
    auto u = boost::urls::parse_uri(url);
    if (!u) return Error(errc::invalid_argument, "malformed URL '" + std::string(url) + "'");
    ParsedUrl out;
    out.scheme = std::string(u->scheme());
    std::transform(out.scheme.begin(), out.scheme.end(), out.scheme.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (out.scheme != "http" && out.scheme != "https")
        return Error(errc::invalid_argument,
                     "URL '" + std::string(url) + "': scheme must be http or https");
    if (u->host_type() == boost::urls::host_type::ipv6)
        out.host = u->host_ipv6_address().to_string();
    else
        out.host = u->host();
    if (out.host.empty())
        return Error(errc::invalid_argument, "URL '" + std::string(url) + "' has no host");
    if (u->has_port()) {
        unsigned long port = 0;
        auto digits = u->port();
        for (char c : digits) port = port * 10 + static_cast<unsigned long>(c - '0');
        if (digits.empty() || digits.size() > 5 || port == 0 || port > 65535)
            return Error(errc::invalid_argument, "URL '" + std::string(url) + "': bad port");
        out.port = static_cast<unsigned short>(port);
    } else {
        out.port = out.scheme == "https" ? 443 : 80;
    }
    out.target = u->encoded_path().empty() ? "/" : std::string(u->encoded_path());
    if (u->has_query()) out.target += "?" + std::string(u->encoded_query());
    return out;
}

namespace {

using TlsStream = beast::ssl_stream<tcp::socket>;

// One connection to the server, plain or TLS; lives on the client's executor.
struct Conn {
    std::optional<tcp::socket> plain;
    std::optional<TlsStream> tls;
    beast::flat_buffer buffer;

    tcp::socket& lowest() { return tls ? beast::get_lowest_layer(*tls) : *plain; }
    void close() {
        boost::system::error_code ec;
        lowest().close(ec);
    }
    // A pooled connection is reusable only if the server has not closed it or sent anything.
    bool looks_alive() {
        auto& s = lowest();
        if (!s.is_open() || buffer.size() > 0) return false;
        char byte;
        ssize_t n = ::recv(s.native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
        return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
    }
};

// Runs on_fire if the guard is still alive when the time is up. The callback may touch objects
// declared before the guard: its destructor disarms it and the callback runs on the same executor.
class Deadline {
  public:
    Deadline(asio::any_io_executor ex, std::chrono::milliseconds d, std::function<void()> on_fire)
        : state_(std::make_shared<State>(ex)) {
        state_->on_fire = std::move(on_fire);
        state_->timer.expires_after(d);
        state_->timer.async_wait([st = state_](boost::system::error_code ec) {
            if (ec || st->done) return;
            st->fired = true;
            st->on_fire();
        });
    }
    ~Deadline() {
        state_->done = true;
        state_->timer.cancel();
    }
    Deadline(const Deadline&) = delete;
    Deadline& operator=(const Deadline&) = delete;
    bool fired() const { return state_->fired; }

  private:
    struct State {
        explicit State(asio::any_io_executor ex) : timer(ex) {}
        asio::steady_timer timer;
        std::function<void()> on_fire;
        bool done = false;
        bool fired = false;
    };
    std::shared_ptr<State> state_;
};

bool idempotent(const std::string& method) {
    return method == "GET" || method == "HEAD" || method == "PUT" || method == "DELETE" ||
           method == "OPTIONS";
}

std::string tls_failure(TlsStream& s, const boost::system::error_code& ec) {
    long verify = SSL_get_verify_result(s.native_handle());
    std::string out = ec.message();
    if (verify != X509_V_OK) out += " (" + std::string(X509_verify_cert_error_string(verify)) + ")";
    return out;
}

HttpHeaders copy_headers(const http::fields& fields) {
    HttpHeaders out;
    for (const auto& f : fields) out.emplace_back(f.name_string(), f.value());
    return out;
}

}  // namespace

struct HttpClient::Impl : std::enable_shared_from_this<HttpClient::Impl> {
    asio::any_io_executor ex;
    HttpClientOptions opts;
    ParsedUrl url;
    std::string host_header;
    std::string base_path;  // from base_url, prepended to targets ("" when "/")
    std::shared_ptr<spdlog::logger> log = kedge::log::get("net.http");

    std::mutex mu;  // idle, token, opened
    std::vector<std::shared_ptr<Conn>> idle;
    std::string token;
    std::size_t opened = 0;

    std::string where() const { return url.host + ":" + std::to_string(url.port); }

    std::shared_ptr<Conn> take_idle() {
        std::lock_guard lock(mu);
        while (!idle.empty()) {
            auto c = std::move(idle.back());
            idle.pop_back();
            if (c->looks_alive()) return c;
            c->close();
        }
        return nullptr;
    }

    void give_back(std::shared_ptr<Conn> c) {
        std::lock_guard lock(mu);
        if (idle.size() < opts.max_idle_connections && c->lowest().is_open())
            idle.push_back(std::move(c));
        else
            c->close();
    }

    awaitable<Result<std::shared_ptr<Conn>>> connect();
    http::request<http::string_body> build(const HttpRequestSpec& spec);
    awaitable<boost::system::error_code> write(Conn& c, http::request<http::string_body>& req);
    template <class Parser>
    awaitable<boost::system::error_code> read_head(Conn& c, Parser& p);
    template <class Parser>
    awaitable<boost::system::error_code> read_all(Conn& c, Parser& p);
};

awaitable<Result<std::shared_ptr<Conn>>> HttpClient::Impl::connect() {
    auto conn = std::make_shared<Conn>();
    conn->plain.emplace(ex);
    tcp::resolver resolver(ex);
    bool timed_out = false;
    Deadline deadline(ex, opts.connect_timeout, [&] {
        timed_out = true;
        resolver.cancel();
        conn->close();
    });
    auto fail = [&](const std::string& what, const boost::system::error_code& ec) {
        if (timed_out)
            return Error(errc::timeout, "connecting to " + where() + " timed out after " +
                                            std::to_string(opts.connect_timeout.count()) + " ms");
        return Error(errc::unavailable, what + " " + where() + ": " + ec.message());
    };
    auto [rec, endpoints] = co_await resolver.async_resolve(url.host, std::to_string(url.port),
                                                            asio::as_tuple(use_awaitable));
    if (rec) co_return fail("resolving", rec);
    auto [cec, ep] =
        co_await asio::async_connect(*conn->plain, endpoints, asio::as_tuple(use_awaitable));
    if (cec) co_return fail("connecting to", cec);
    boost::system::error_code opt_ec;
    conn->plain->set_option(tcp::no_delay(true), opt_ec);
    {
        std::lock_guard lock(mu);
        ++opened;
    }
    if (url.scheme == "https") {
        conn->tls.emplace(std::move(*conn->plain), opts.tls->native());
        conn->plain.reset();
        if (auto r = set_client_peer_name(conn->tls->native_handle(), url.host); !r)
            co_return r.error();
        auto [hec] = co_await conn->tls->async_handshake(asio::ssl::stream_base::client,
                                                         asio::as_tuple(use_awaitable));
        if (hec) {
            if (timed_out) co_return fail("TLS handshake with", hec);
            co_return Error(errc::crypto_error, "TLS handshake with " + where() +
                                                    " failed: " + tls_failure(*conn->tls, hec));
        }
    }
    co_return conn;
}

http::request<http::string_body> HttpClient::Impl::build(const HttpRequestSpec& spec) {
    http::request<http::string_body> req;
    req.method_string(spec.method);
    req.target(base_path + (spec.target.empty() ? "/" : spec.target));
    req.version(11);
    req.set(http::field::host, host_header);
    req.set(http::field::user_agent, opts.user_agent);
    {
        std::lock_guard lock(mu);
        if (!token.empty()) req.set(http::field::authorization, "Bearer " + token);
    }
    for (const auto& [name, value] : spec.headers) req.set(name, value);
    req.body() = spec.body;
    if (!spec.body.empty() || spec.method == "POST" || spec.method == "PUT" ||
        spec.method == "PATCH")
        req.prepare_payload();
    req.keep_alive(true);
    return req;
}

awaitable<boost::system::error_code> HttpClient::Impl::write(
    Conn& c, http::request<http::string_body>& req) {
    boost::system::error_code ec;
    if (c.tls)
        std::tie(ec, std::ignore) =
            co_await http::async_write(*c.tls, req, asio::as_tuple(use_awaitable));
    else
        std::tie(ec, std::ignore) =
            co_await http::async_write(*c.plain, req, asio::as_tuple(use_awaitable));
    co_return ec;
}

template <class Parser>
awaitable<boost::system::error_code> HttpClient::Impl::read_head(Conn& c, Parser& p) {
    boost::system::error_code ec;
    if (c.tls)
        std::tie(ec, std::ignore) =
            co_await http::async_read_header(*c.tls, c.buffer, p, asio::as_tuple(use_awaitable));
    else
        std::tie(ec, std::ignore) =
            co_await http::async_read_header(*c.plain, c.buffer, p, asio::as_tuple(use_awaitable));
    co_return ec;
}

template <class Parser>
awaitable<boost::system::error_code> HttpClient::Impl::read_all(Conn& c, Parser& p) {
    boost::system::error_code ec;
    if (c.tls)
        std::tie(ec, std::ignore) =
            co_await http::async_read(*c.tls, c.buffer, p, asio::as_tuple(use_awaitable));
    else
        std::tie(ec, std::ignore) =
            co_await http::async_read(*c.plain, c.buffer, p, asio::as_tuple(use_awaitable));
    co_return ec;
}

namespace {

// The body of a streamed response, read as it arrives.
class StreamImpl final : public HttpStream {
  public:
    StreamImpl(std::shared_ptr<HttpClient::Impl> client, std::shared_ptr<Conn> conn,
               std::unique_ptr<http::response_parser<http::buffer_body>> parser)
        : client_(std::move(client)), conn_(std::move(conn)), parser_(std::move(parser)) {
        status_ = static_cast<int>(parser_->get().result_int());
        headers_ = copy_headers(parser_->get().base());
    }
    ~StreamImpl() override {
        if (!closed_ && parser_->is_done() && parser_->get().keep_alive())
            client_->give_back(std::move(conn_));
        else
            conn_->close();
    }

    int status() const override { return status_; }
    const HttpHeaders& headers() const override { return headers_; }

    awaitable<Result<std::optional<std::string>>> read_line() override {
        while (true) {
            auto nl = pending_.find('\n', scan_);
            if (nl != std::string::npos) {
                std::size_t end = nl > pos_ && pending_[nl - 1] == '\r' ? nl - 1 : nl;
                std::string line = pending_.substr(pos_, end - pos_);
                pos_ = scan_ = nl + 1;
                compact();
                co_return std::optional<std::string>(std::move(line));
            }
            scan_ = pending_.size();
            if (pending_.size() - pos_ > client_->opts.max_line_bytes)
                co_return Error(errc::too_large, "a line of the response is longer than " +
                                                     std::to_string(client_->opts.max_line_bytes) +
                                                     " bytes");
            if (parser_->is_done()) {
                if (pos_ == pending_.size()) co_return std::optional<std::string>();
                std::string rest = pending_.substr(pos_);
                pos_ = scan_ = pending_.size();
                co_return std::optional<std::string>(std::move(rest));
            }
            auto r = co_await read_more();
            if (!r) co_return r.error();
        }
    }

    awaitable<Result<std::optional<std::string>>> read_some() override {
        while (pos_ == pending_.size()) {
            if (parser_->is_done()) co_return std::optional<std::string>();
            auto r = co_await read_more();
            if (!r) co_return r.error();
        }
        std::string out = pending_.substr(pos_);
        pending_.clear();
        pos_ = scan_ = 0;
        co_return std::optional<std::string>(std::move(out));
    }

    void close() override {
        closed_ = true;
        conn_->close();
    }

  private:
    void compact() {
        if (pos_ > 64 * 1024 && pos_ * 2 > pending_.size()) {
            pending_.erase(0, pos_);
            scan_ -= pos_;
            pos_ = 0;
        }
    }

    // Appends the next body bytes to pending_.
    awaitable<Result<void>> read_more() {
        if (closed_) co_return Error(errc::closed, "stream closed");
        char buf[16 * 1024];
        auto& body = parser_->get().body();
        body.data = buf;
        body.size = sizeof buf;
        boost::system::error_code ec;
        if (conn_->tls)
            std::tie(ec, std::ignore) = co_await http::async_read_some(
                *conn_->tls, conn_->buffer, *parser_, asio::as_tuple(use_awaitable));
        else
            std::tie(ec, std::ignore) = co_await http::async_read_some(
                *conn_->plain, conn_->buffer, *parser_, asio::as_tuple(use_awaitable));
        if (ec == http::error::need_buffer) ec = {};
        pending_.append(buf, sizeof buf - body.size);
        body.data = nullptr;
        body.size = 0;
        if (closed_) co_return Error(errc::closed, "stream closed");
        if (ec) {
            conn_->close();
            closed_ = true;
            co_return Error(errc::io_error, "reading the response body from " + client_->where() +
                                                ": " + ec.message());
        }
        co_return Result<void>{};
    }

    std::shared_ptr<HttpClient::Impl> client_;
    std::shared_ptr<Conn> conn_;
    std::unique_ptr<http::response_parser<http::buffer_body>> parser_;
    int status_ = 0;
    HttpHeaders headers_;
    std::string pending_;
    std::size_t pos_ = 0;   // start of unread data in pending_
    std::size_t scan_ = 0;  // pending_ has no '\n' in [pos_, scan_)
    bool closed_ = false;
};

}  // namespace

HttpClient::HttpClient(asio::any_io_executor ex, HttpClientOptions options)
    : impl_(std::make_shared<Impl>()) {
    impl_->ex = std::move(ex);
    auto url = parse_url(options.base_url);
    if (!url) throw ErrorException(url.error());
    if (url->scheme == "https" && !options.tls)
        throw ErrorException(
            Error(errc::invalid_argument, options.base_url + ": https needs a TLS context"));
    if (options.tls && options.tls->is_server())
        throw ErrorException(Error(errc::invalid_argument, "the TLS context is a server's"));
    impl_->url = *url;
    bool default_port =
        (url->scheme == "https" && url->port == 443) || (url->scheme == "http" && url->port == 80);
    std::string host = url->host.find(':') != std::string::npos ? "[" + url->host + "]" : url->host;
    impl_->host_header = default_port ? host : host + ":" + std::to_string(url->port);
    auto query = url->target.find('?');
    impl_->base_path = url->target.substr(0, query);
    while (!impl_->base_path.empty() && impl_->base_path.back() == '/') impl_->base_path.pop_back();
    impl_->token = options.bearer_token;
    impl_->opts = std::move(options);
}

HttpClient::~HttpClient() {
    std::lock_guard lock(impl_->mu);
    for (auto& c : impl_->idle) c->close();
    impl_->idle.clear();
}

void HttpClient::set_bearer_token(std::string token) {
    std::lock_guard lock(impl_->mu);
    impl_->token = std::move(token);
}

const ParsedUrl& HttpClient::url() const { return impl_->url; }

std::size_t HttpClient::connections_opened() const {
    std::lock_guard lock(impl_->mu);
    return impl_->opened;
}

namespace {

// A connection with a response read as far as `read` goes (the whole response, or its head).
template <class Parser>
struct Exchange {
    std::shared_ptr<Conn> conn;
    std::unique_ptr<Parser> parser;
};

// One request/response exchange shared by request() and stream(): a pooled connection when
// there is one (else a new one), the whole exchange under one deadline, and the retry rule: a
// reused connection that fails while sending, or (idempotent methods) before any response byte,
// was closed by the server while idle, so try once more on a fresh connection.
template <class Parser, class Setup, class Read>
awaitable<Result<Exchange<Parser>>> exchange(std::shared_ptr<HttpClient::Impl> impl,
                                             HttpRequestSpec spec, std::string what, Setup setup,
                                             Read read) {
    auto timeout = spec.timeout.value_or(impl->opts.request_timeout);
    auto req = impl->build(spec);
    for (int attempt = 0;; ++attempt) {
        auto conn = attempt == 0 ? impl->take_idle() : nullptr;
        bool reused = conn != nullptr;
        if (!conn) {
            auto c = co_await impl->connect();
            if (!c) co_return c.error();
            conn = std::move(*c);
        }
        bool timed_out = false;
        Deadline deadline(impl->ex, timeout, [&] {
            timed_out = true;
            conn->close();
        });
        auto timeout_error = [&] {
            return Error(errc::timeout, spec.method + " " + spec.target + " to " + impl->where() +
                                            ": no " + what + " within " +
                                            std::to_string(timeout.count()) + " ms");
        };
        auto ec = co_await impl->write(*conn, req);
        if (ec) {
            conn->close();
            if (timed_out) co_return timeout_error();
            if (reused) continue;  // the server closed the idle connection: nothing was sent
            co_return Error(errc::unavailable, "sending " + spec.method + " " + spec.target +
                                                   " to " + impl->where() + ": " + ec.message());
        }
        auto parser = std::make_unique<Parser>();
        setup(*parser);
        ec = co_await read(*impl, *conn, *parser);
        if (ec) {
            conn->close();
            if (timed_out) co_return timeout_error();
            if (reused && !parser->got_some() && idempotent(spec.method)) continue;
            if (ec == http::error::body_limit)
                co_return Error(errc::too_large, "response to " + spec.method + " " + spec.target +
                                                     " is larger than " +
                                                     std::to_string(impl->opts.max_body_bytes) +
                                                     " bytes");
            co_return Error(errc::io_error, "reading the " + what + " of " + spec.method + " " +
                                                spec.target + " from " + impl->where() + ": " +
                                                ec.message());
        }
        co_return Exchange<Parser>{std::move(conn), std::move(parser)};
    }
}

}  // namespace

awaitable<Result<HttpResponse>> HttpClient::request(HttpRequestSpec spec) {
    using Parser = http::response_parser<http::string_body>;
    auto impl = impl_;
    bool head = spec.method == "HEAD";
    auto ex = co_await exchange<Parser>(
        impl, std::move(spec), "complete response",
        [&](Parser& p) {
            p.body_limit(impl->opts.max_body_bytes);
            if (head) p.skip(true);
        },
        [](Impl& i, Conn& c, Parser& p) { return i.read_all(c, p); });
    if (!ex) co_return ex.error();
    auto& res = ex->parser->get();
    HttpResponse out;
    out.status = static_cast<int>(res.result_int());
    out.headers = copy_headers(res.base());
    out.body = std::move(res.body());
    if (res.keep_alive())
        impl->give_back(std::move(ex->conn));
    else
        ex->conn->close();
    co_return out;
}

awaitable<Result<std::unique_ptr<HttpStream>>> HttpClient::stream(HttpRequestSpec spec) {
    using Parser = http::response_parser<http::buffer_body>;
    auto impl = impl_;
    auto ex = co_await exchange<Parser>(
        impl, std::move(spec), "response head",
        // A watch is unbounded; read_line limits the length of each line instead.
        [](Parser& p) { p.body_limit(boost::none); },
        [](Impl& i, Conn& c, Parser& p) { return i.read_head(c, p); });
    if (!ex) co_return ex.error();
    co_return std::unique_ptr<HttpStream>(
        std::make_unique<StreamImpl>(impl, std::move(ex->conn), std::move(ex->parser)));
}

}  // namespace kedge::net
