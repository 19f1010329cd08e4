// TLS handshakes and the HTTP upgrade, both sides.
#include "net/detail/ws_session.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/websocket/rfc6455.hpp>
#include <boost/beast/websocket/stream.hpp>
#include <openssl/ssl.h>
#include <openssl/x509.h>

namespace kedge::net::detail {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
namespace websocket = boost::beast::websocket;
using boost::system::error_code;

constexpr std::size_t kMaxUpgradeHeaderBytes = 16 * 1024;

// What went wrong in a TLS handshake, with the certificate verification result when that was it.
std::string tls_failure(SSL* ssl, const error_code& ec, bool& is_auth) {
    long verify = SSL_get_verify_result(ssl);
    is_auth = verify != X509_V_OK;
    std::string out = ec.message();
    if (verify != X509_V_OK) out += " (" + std::string(X509_verify_cert_error_string(verify)) + ")";
    return out;
}

http::status status_for(const Error& e) {
    if (e.is(errc::unauthorized)) return http::status::unauthorized;
    if (e.is(errc::forbidden)) return http::status::forbidden;
    if (e.is(errc::unavailable) || e.is(errc::queue_full)) return http::status::service_unavailable;
    if (e.is(errc::invalid_argument) || e.is(errc::parse_error)) return http::status::bad_request;
    return http::status::forbidden;
}

errc errc_for(unsigned status) {
    switch (status) {
        case 401:
            return errc::unauthorized;
        case 403:
            return errc::forbidden;
        case 400:
            return errc::invalid_argument;
        default:
            return errc::unavailable;
    }
}

// Answers an upgrade we refuse with an HTTP error, then closes (close_notify + TCP close).
asio::awaitable<Error> refuse(std::shared_ptr<WsSession> s, http::status status, Error why,
                              unsigned version) {
    http::response<http::string_body> res{status, version};
    res.set(http::field::content_type, "text/plain");
    res.body() = why.detail + "\n";
    res.keep_alive(false);
    res.prepare_payload();
    if (peer_warning_allowed())
        s->log().warn("{}: refused WebSocket upgrade (peer CN \"{}\"): HTTP {}: {}", s->prefix(),
                      s->peer_.common_name, static_cast<unsigned>(status), why.detail);
    auto [ec, n] = co_await http::async_write(s->stream(), res, asio::as_tuple(asio::use_awaitable));
    if (!ec) co_await s->stream().async_shutdown(asio::as_tuple(asio::use_awaitable));
    why.detail = "HTTP " + std::to_string(static_cast<unsigned>(status)) + ": " + why.detail;
    co_return why;
}

}  // namespace

asio::awaitable<Result<void>> server_upgrade(std::shared_ptr<WsSession> s, UpgradeDecider decide) {
    if (SSL* ssl = s->stream().ssl()) {
        auto [ec] = co_await s->stream().async_handshake(asio::as_tuple(asio::use_awaitable));
        if (ec) {
            bool is_auth = false;
            std::string why = "TLS handshake failed: " + tls_failure(ssl, ec, is_auth);
            if (is_auth && peer_warning_allowed())
                s->log().warn("{}: {}", s->prefix(), why);
            else
                s->log().info("{}: {}", s->prefix(), why);
            co_return Error(is_auth ? errc::unauthorized : errc::crypto_error, why);
        }
        s->set_peer(peer_identity(ssl));
    }

    beast::flat_buffer buffer;
    http::request_parser<http::empty_body> parser;
    parser.header_limit(kMaxUpgradeHeaderBytes);
    auto [ec, n] = co_await http::async_read(s->stream(), buffer, parser,
                                             asio::as_tuple(asio::use_awaitable));
    if (ec && ec.category() == make_error_code(http::error::bad_method).category() &&
        ec != http::error::end_of_stream && ec != http::error::partial_message) {
        // Malformed, not merely cut short: tell the peer before closing.
        co_return co_await refuse(s, http::status::bad_request,
                                  Error(errc::parse_error, "bad HTTP upgrade request: " + ec.message()),
                                  11);
    }
    if (ec) {
        std::string why = "no HTTP upgrade request: " + ec.message();
        s->log().info("{}: {}", s->prefix(), why);
        co_return Error(errc::parse_error, why);
    }
    auto request = parser.release();

    WsUpgradeRequest up;
    up.target = std::string(request.target());
    for (const auto& field : request)
        up.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
    up.peer = s->peer_;
    up.remote_address = s->remote_;

    if (!websocket::is_upgrade(request))
        co_return co_await refuse(s, http::status::bad_request,
                                  Error(errc::invalid_argument, "not a WebSocket upgrade request"),
                                  request.version());
    if (decide) {
        if (auto verdict = decide(up); !verdict)
            co_return co_await refuse(s, status_for(verdict.error()), verdict.error(),
                                      request.version());
    }
    s->set_request(std::move(up.target), std::move(up.headers));

    auto [aec] = co_await s->ws().async_accept(request, asio::as_tuple(asio::use_awaitable));
    if (aec) {
        std::string why = "WebSocket upgrade failed: " + aec.message();
        if (peer_warning_allowed()) s->log().warn("{}: {}", s->prefix(), why);
        co_return Error(errc::parse_error, why);
    }
    s->opened();
    co_return Result<void>{};
}

asio::awaitable<Result<void>> client_upgrade(std::shared_ptr<WsSession> s, std::string host_header,
                                             std::string target, Headers headers) {
    if (SSL* ssl = s->stream().ssl()) {
        auto [ec] = co_await s->stream().async_handshake(asio::as_tuple(asio::use_awaitable));
        if (ec) {
            bool is_auth = false;
            co_return Error(errc::crypto_error, "TLS handshake with " + host_header +
                                                    " failed: " + tls_failure(ssl, ec, is_auth));
        }
        s->set_peer(peer_identity(ssl));
    }
    s->ws().set_option(websocket::stream_base::decorator(
        [headers = std::move(headers)](websocket::request_type& req) {
            for (const auto& [name, value] : headers) req.set(name, value);
        }));
    websocket::response_type res;
    auto [ec] = co_await s->ws().async_handshake(res, host_header, target,
                                                 asio::as_tuple(asio::use_awaitable));
    if (ec == websocket::error::upgrade_declined) {
        std::string body = res.body().substr(0, 512);
        while (!body.empty() && (body.back() == '\n' || body.back() == '\r')) body.pop_back();
        unsigned status = res.result_int();
        co_return Error(errc_for(status), "server " + host_header +
                                              " refused the WebSocket upgrade: HTTP " +
                                              std::to_string(status) + " " +
                                              std::string(res.reason()) +
                                              (body.empty() ? "" : ": " + body));
    }
    if (ec && ec.category() == asio::error::get_ssl_category())
        co_return Error(errc::crypto_error,
                        "TLS error during the WebSocket upgrade with " + host_header +
                            " (the server may have refused our certificate): " + ec.message());
    if (ec)
        co_return Error(errc::unavailable,
                        "WebSocket upgrade with " + host_header + " failed: " + ec.message());
    s->set_request(std::move(target), {});
    s->opened();
    co_return Result<void>{};
}

}  // namespace kedge::net::detail
