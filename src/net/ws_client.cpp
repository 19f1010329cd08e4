// ws_connect: URL, DNS, TCP, TLS with server name verification, upgrade; one deadline for all.
#include "net/ws_client.hpp"

#include "net/detail/ws_session.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/url/parse.hpp>

namespace kedge::net {
namespace {

namespace asio = boost::asio;
using asio::ip::tcp;
using detail::WsSession;

struct Target {
    bool tls = false;
    std::string host;  // name or IP without brackets: what the certificate must name
    std::string port;
    std::string host_header;
    std::string path;
};

Result<Target> parse_target(const WsClientOptions& o) {
    auto url = boost::urls::parse_uri(o.url);
    if (!url) return Error(errc::invalid_argument, "bad WebSocket URL '" + o.url + "'");
    Target t;
    std::string scheme(url->scheme());
    if (scheme == "wss")
        t.tls = true;
    else if (scheme != "ws")
        return Error(errc::invalid_argument,
                     "WebSocket URL '" + o.url + "' must start with ws:// or wss://");
    t.host = std::string(url->encoded_host_address());
    if (t.host.size() > 2 && t.host.front() == '[' && t.host.back() == ']')
        t.host = t.host.substr(1, t.host.size() - 2);
    if (t.host.empty()) return Error(errc::invalid_argument, "WebSocket URL '" + o.url + "' has no host");
    t.port = url->has_port() ? std::string(url->port()) : (t.tls ? "443" : "80");
    bool v6 = t.host.find(':') != std::string::npos;
    t.host_header = (v6 ? "[" + t.host + "]" : t.host) + ":" + t.port;
    t.path = std::string(url->encoded_target());
    if (t.path.empty() || t.path.front() != '/') t.path = "/" + t.path;
    if (t.tls && !o.tls)
        return Error(errc::invalid_argument, "wss:// URL '" + o.url + "' needs a TLS context");
    if (t.tls && o.tls->is_server())
        return Error(errc::invalid_argument, "ws_connect needs a client TLS context");
    return t;
}

asio::awaitable<Result<std::shared_ptr<WsConnection>>> connect_on_strand(detail::Strand strand,
                                                                         WsClientOptions o) {
    auto target = parse_target(o);
    if (!target) co_return target.error();
    auto& t = *target;
    auto session = std::make_shared<WsSession>(strand, tcp::socket(strand), false, o.ws,
                                               detail::next_connection_id(), t.host_header,
                                               "client");
    auto resolver = std::make_shared<tcp::resolver>(strand);
    auto deadline = std::make_shared<detail::HandshakeDeadline>();
    asio::steady_timer watchdog(strand, o.connect_timeout);
    watchdog.async_wait([deadline, resolver, weak = std::weak_ptr<WsSession>(session)](auto ec) {
        if (ec || deadline->done) return;
        deadline->fired = true;
        resolver->cancel();
        if (auto s = weak.lock()) s->stream().abort();
    });
    const char* phase = "resolving";
    auto fail = [&](Error e) -> Result<std::shared_ptr<WsConnection>> {
        deadline->done = true;
        if (deadline->fired)
            e = Error(errc::timeout, "connecting to " + o.url + " timed out after " +
                                         std::to_string(o.connect_timeout.count()) + " ms (" +
                                         phase + ")");
        session->finish(e);
        return e;
    };

    auto [rec, endpoints] =
        co_await resolver->async_resolve(t.host, t.port, asio::as_tuple(asio::use_awaitable));
    if (rec) co_return fail(Error(errc::unavailable, "cannot resolve " + t.host + ": " + rec.message()));

    phase = "connecting";
    auto [cec, ep] = co_await asio::async_connect(session->stream().socket(), endpoints,
                                                  asio::as_tuple(asio::use_awaitable));
    if (cec)
        co_return fail(Error(errc::unavailable,
                             "cannot connect to " + t.host_header + ": " + cec.message()));
    session->remote_ = detail::format_endpoint(ep);
    boost::system::error_code ignored;
    session->stream().socket().set_option(tcp::no_delay(true), ignored);

    if (t.tls) {
        auto ssl = detail::new_ssl(*o.tls, session->stream().socket().native_handle(), false);
        if (!ssl) co_return fail(ssl.error());
        if (auto r = set_client_peer_name(ssl->get(), t.host); !r) co_return fail(r.error());
        session->stream().set_ssl(std::move(*ssl));
        session->set_tls(o.tls);
    }
    phase = t.tls ? "TLS handshake / WebSocket upgrade" : "WebSocket upgrade";
    auto up = co_await detail::client_upgrade(session, t.host_header, t.path, std::move(o.headers));
    if (!up) co_return fail(up.error());
    deadline->done = true;
    watchdog.cancel();
    session->log().debug("{}: connected to {}", session->prefix(), o.url);
    co_return std::shared_ptr<WsConnection>(session);
}

}  // namespace

asio::awaitable<Result<std::shared_ptr<WsConnection>>> ws_connect(asio::any_io_executor executor,
                                                                  WsClientOptions options) {
    // Everything of this connection, including the handshake, runs on its own strand.
    auto strand = asio::make_strand(executor);
    co_return co_await asio::co_spawn(strand, connect_on_strand(strand, std::move(options)),
                                      asio::use_awaitable);
}

}  // namespace kedge::net
