// The WebSocket listener: accept, per-connection strand, handshake watchdog, registry, stop.
#include "net/ws_server.hpp"

#include "net/detail/accept_loop.hpp"
#include "net/detail/ws_session.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>

#include <optional>
#include <strings.h>
#include <unistd.h>
#include <unordered_map>

namespace kedge::net {

namespace asio = boost::asio;
using asio::ip::tcp;
using detail::WsSession;

struct WsServer::State : std::enable_shared_from_this<WsServer::State> {
    struct Entry {
        std::weak_ptr<WsSession> session;
        bool admitted = false;  // counted in `open`
    };

    State(asio::any_io_executor executor, WsServerOptions opts)
        : ex(executor), acceptor_strand(asio::make_strand(executor)), options(std::move(opts)),
          log(log::get("net.ws")), tls(options.tls) {}

    asio::any_io_executor ex;
    detail::Strand acceptor_strand;
    WsServerOptions options;
    std::shared_ptr<spdlog::logger> log;

    mutable std::mutex mu;
    std::shared_ptr<TlsContext> tls;
    Authorizer authorizer;
    Handler handler;
    std::optional<tcp::acceptor> acceptor;  // used on acceptor_strand only
    unsigned short port = 0;
    bool started = false;
    bool stopped = false;
    std::unordered_map<std::uint64_t, Entry> sessions;
    std::size_t open = 0;

    void on_socket(tcp::socket socket);
    asio::awaitable<void> run_session(std::shared_ptr<WsSession> s);
    Result<void> admit(std::uint64_t id, const WsUpgradeRequest& request);
};

std::string_view WsUpgradeRequest::header(std::string_view name) const {
    for (const auto& [k, v] : headers)
        if (k.size() == name.size() && strncasecmp(k.data(), name.data(), k.size()) == 0) return v;
    return {};
}

Result<std::shared_ptr<WsServer>> WsServer::create(asio::any_io_executor executor,
                                                   WsServerOptions options) {
    if (options.tls && !options.tls->is_server())
        return Error(errc::invalid_argument, "WsServer needs a server TLS context");
    if (options.ws.max_queued_messages == 0 || options.ws.max_message_bytes == 0)
        return Error(errc::invalid_argument, "WsServer: queue and message limits must be > 0");
    return std::make_shared<WsServer>(std::make_shared<State>(executor, std::move(options)));
}

WsServer::WsServer(std::shared_ptr<State> state) : state_(std::move(state)) {}

WsServer::~WsServer() { stop(); }

void WsServer::set_authorizer(Authorizer authorizer) {
    std::lock_guard lock(state_->mu);
    state_->authorizer = std::move(authorizer);
}

void WsServer::set_handler(Handler handler) {
    std::lock_guard lock(state_->mu);
    state_->handler = std::move(handler);
}

void WsServer::set_tls_context(std::shared_ptr<TlsContext> tls) {
    std::lock_guard lock(state_->mu);
    state_->tls = std::move(tls);
}

unsigned short WsServer::port() const {
    std::lock_guard lock(state_->mu);
    return state_->port;
}

std::size_t WsServer::connection_count() const {
    std::lock_guard lock(state_->mu);
    return state_->sessions.size();
}

Result<void> WsServer::start() {
    auto st = state_;
    {
        std::lock_guard lock(st->mu);
        if (st->started || st->stopped)
            return Error(errc::invalid_argument, "WsServer::start called twice");
        st->started = true;
    }
    auto acceptor = detail::open_acceptor(st->acceptor_strand, st->options.host, st->options.port);
    if (!acceptor) return acceptor.error();
    boost::system::error_code ec;
    auto port = acceptor->local_endpoint(ec).port();
    {
        std::lock_guard lock(st->mu);
        st->port = port;
        st->acceptor.emplace(std::move(*acceptor));
    }
    st->log->info("{}: listening on {}:{} ({})", st->options.log_name, st->options.host, port,
                  st->options.tls ? "wss" : "ws");
    asio::co_spawn(st->acceptor_strand,
                   detail::accept_loop(*st->acceptor,
                                       [st](tcp::socket s) { st->on_socket(std::move(s)); },
                                       st->log),
                   log::log_exceptions(st->log, "websocket accept loop"));
    return {};
}

void WsServer::stop() {
    auto st = state_;
    std::vector<std::shared_ptr<WsSession>> live;
    {
        std::lock_guard lock(st->mu);
        if (st->stopped) return;
        st->stopped = true;
        for (auto& [id, entry] : st->sessions)
            if (auto s = entry.session.lock()) live.push_back(std::move(s));
    }
    asio::post(st->acceptor_strand, [st] {
        boost::system::error_code ec;
        if (st->acceptor) st->acceptor->close(ec);
    });
    if (!live.empty())
        st->log->info("{}: stopping; closing {} connections", st->options.log_name, live.size());
    for (auto& s : live) {
        if (s->was_opened())
            s->close(kWsCloseGoingAway, "server shutting down");
        else
            s->abort("server shutting down");
    }
}

void WsServer::State::on_socket(tcp::socket socket) {
    boost::system::error_code ec;
    auto remote_ep = socket.remote_endpoint(ec);
    if (ec) return;  // already gone
    std::shared_ptr<TlsContext> ctx;
    {
        std::lock_guard lock(mu);
        if (stopped) return;
        ctx = tls;
    }
    // Move the descriptor onto the connection's own strand: Beast's timers use the socket's
    // executor, and every completion of this connection must be serialized.
    auto strand = asio::make_strand(ex);
    auto protocol = remote_ep.protocol();
    int fd = socket.release(ec);
    if (ec) {
        log->error("{}: cannot take over an accepted socket: {}", options.log_name, ec.message());
        return;
    }
    tcp::socket own(strand);
    own.assign(protocol, fd, ec);
    if (ec) {
        ::close(fd);
        log->error("{}: cannot adopt an accepted socket: {}", options.log_name, ec.message());
        return;
    }
    auto id = detail::next_connection_id();
    auto s = std::make_shared<WsSession>(strand, std::move(own), true, options.ws, id,
                                         detail::format_endpoint(remote_ep), options.log_name);
    if (ctx) {
        auto ssl = detail::new_ssl(*ctx, fd, true);
        if (!ssl) {
            log->error("{}: {}", s->prefix(), ssl.error().detail);
            return;
        }
        s->stream().set_ssl(std::move(*ssl));
        s->set_tls(std::move(ctx));
    }
    {
        std::lock_guard lock(mu);
        if (stopped) return;  // stop() ran meanwhile: drop (closes the socket)
        sessions[id].session = s;
    }
    s->set_finish_hook([weak = weak_from_this()](WsSession& session) {
        auto st = weak.lock();
        if (!st) return;
        std::lock_guard lock(st->mu);
        auto it = st->sessions.find(session.id_);
        if (it == st->sessions.end()) return;
        if (it->second.admitted) --st->open;
        st->sessions.erase(it);
    });
    log->debug("{}: accepted", s->prefix());
    asio::co_spawn(strand, run_session(s), log::log_exceptions(log, "websocket session"));
}

Result<void> WsServer::State::admit(std::uint64_t id, const WsUpgradeRequest& request) {
    Authorizer auth;
    {
        std::lock_guard lock(mu);
        if (stopped) return Error(errc::unavailable, "server is shutting down");
        auth = authorizer;
    }
    if (auth) {
        if (auto verdict = auth(request); !verdict) return verdict;
    }
    std::lock_guard lock(mu);
    if (open >= options.max_connections)
        return Error(errc::unavailable,
                     "too many connections (max " + std::to_string(options.max_connections) + ")");
    auto it = sessions.find(id);
    if (it == sessions.end()) return Error(errc::unavailable, "connection already closed");
    it->second.admitted = true;
    ++open;
    return {};
}

asio::awaitable<void> WsServer::State::run_session(std::shared_ptr<WsSession> s) {
    auto self = shared_from_this();
    auto deadline = std::make_shared<detail::HandshakeDeadline>();
    asio::steady_timer watchdog(s->strand_, options.ws.handshake_timeout);
    watchdog.async_wait([deadline, weak = std::weak_ptr<WsSession>(s)](auto ec) {
        if (ec || deadline->done) return;
        deadline->fired = true;
        if (auto session = weak.lock()) session->stream().abort();
    });
    auto result = co_await detail::server_upgrade(
        s, [this, id = s->id_](const WsUpgradeRequest& r) { return admit(id, r); });
    deadline->done = true;
    watchdog.cancel();
    if (!result) {
        if (deadline->fired) {
            std::string why = "handshake not completed within " +
                              std::to_string(options.ws.handshake_timeout.count()) + " ms";
            if (detail::peer_warning_allowed()) log->warn("{}: {}", s->prefix(), why);
            s->finish(Error(errc::timeout, why));
        } else {
            s->finish(result.error());
        }
        co_return;
    }
    log->debug("{}: upgraded ({}, CN \"{}\")", s->prefix(), s->target_, s->peer_.common_name);
    Handler h;
    {
        std::lock_guard lock(mu);
        h = handler;
    }
    std::uint16_t code = kWsCloseNormal;
    if (h) {
        try {
            co_await h(s);
        } catch (const std::exception& e) {
            log->error("{}: handler failed: {}", s->prefix(), e.what());
            code = kWsCloseInternal;
        }
    }
    s->close(code, {});
}

}  // namespace kedge::net
