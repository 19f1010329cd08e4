#include "edge/edgehub/edge_hub.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <array>
#include <mutex>
#include <stdexcept>

#include "base/log.hpp"
#include "bus/constants.hpp"
#include "bus/context.hpp"
#include "hub/message_stream.hpp"
#include "net/tls_context.hpp"
#include "net/ws_client.hpp"
#include "net/ws_connection.hpp"

namespace kedge::edge {

namespace asio = boost::asio;
using std::chrono::milliseconds;
using SteadyClock = std::chrono::steady_clock;

namespace {

// A session that lasted this long was a working link: the next reconnect starts from the
// initial backoff again instead of where the last outage left it.
constexpr std::chrono::seconds kStableSession{10};
// Long waits (certificate rotation, months away) are cut into pieces so that a wall-clock step
// or a suspended machine does not make the hub miss its rotation by much.
constexpr std::chrono::minutes kMaxTimerSlice{10};
// Rotation retries back off to this at most: a rotation starts with 10-30 % of the certificate's
// lifetime left, so a few minutes between tries is plenty and does not hammer the cloud.
constexpr std::chrono::minutes kMaxRotationRetry{5};

constexpr std::array<std::string_view, 4> kNotifiedGroups = {
    bus::kGroupTwin, bus::kGroupMeta, bus::kGroupBus, bus::kGroupTaskManager};

// "in 8759h" / "12m ago": certificate times in log lines without a calendar library.
std::string relative(Clock::time_point t) {
    auto d = t - SystemClock::instance().now();
    bool past = d < Clock::duration::zero();
    auto m = std::chrono::duration_cast<std::chrono::minutes>(past ? -d : d).count();
    std::string amount = m >= 120 ? std::to_string(m / 60) + "h" : std::to_string(m) + "m";
    return past ? amount + " ago" : "in " + amount;
}

// Where a message from the cloud goes (PROTOCOL.md §1 edge downstream dispatch); "" = nowhere.
std::string_view module_for(const bus::Message& msg) {
    const auto& g = msg.group();
    if (g == bus::kGroupResource || g == bus::kGroupFunc || g == bus::kGroupMeta)
        return bus::kModuleMetaManager;
    if (g == bus::kGroupTwin) return bus::kModuleTwin;
    if (g == bus::kGroupUser)
        return msg.source() == bus::kSourceRouterServiceBus ? bus::kModuleServiceBus
                                                            : bus::kModuleEventBus;
    if (g == bus::kGroupTaskManager) return bus::kModuleTaskManager;
    return {};
}

}  // namespace

struct EdgeHub::Impl : std::enable_shared_from_this<EdgeHub::Impl> {
    using Ptr = std::shared_ptr<Impl>;

    Impl(EdgeHubOptions o, InventoryProvider inv)
        : options(std::move(o)), inventory(std::move(inv)), log(log::get("edgehub")) {}

    EdgeHubOptions options;
    InventoryProvider inventory;
    std::shared_ptr<spdlog::logger> log;

    // stop() clears ctx under the mutex: after it returns nothing here touches the Context,
    // which the process may destroy right away. Context calls never block, so holding the
    // mutex around them is fine (never across a co_await).
    std::mutex ctx_mu;
    bus::Context* ctx = nullptr;
    bool started = false;  // under ctx_mu
    std::atomic<bool> stopped{false};
    std::atomic<bool> connected{false};

    // Strand-only state (set up in start(), before any coroutine runs).
    asio::any_io_executor strand;
    std::unique_ptr<asio::steady_timer> sleep_timer, rotation_timer, token_timer;
    std::shared_ptr<asio::steady_timer> heartbeat_timer;
    std::shared_ptr<net::WsConnection> current;
    std::optional<StoredIdentity> identity;
    std::shared_ptr<net::TlsContext> tls;
    double tokens = 0;
    SteadyClock::time_point refilled{};

    mutable std::mutex creds_mu;
    std::optional<NodeCredentials> creds;  // copy for credentials(), under creds_mu

    struct Counters {
        std::atomic<std::uint64_t> sessions{0}, connect_failures{0}, messages_up{0},
            messages_down{0}, dropped_offline{0}, rate_limited{0}, rotations{0}, joins{0};
    } counters;

    const std::string& node() const { return options.node; }

    template <class F>
    bool with_ctx(F&& f) {
        std::lock_guard lock(ctx_mu);
        if (!ctx) return false;
        f(*ctx);
        return true;
    }

    void spawn(asio::awaitable<void> aw, std::string what) {
        asio::co_spawn(strand, std::move(aw), log::log_exceptions(log, node() + ": " + what));
    }

    asio::awaitable<void> sleep(asio::steady_timer& timer, milliseconds d) {
        timer.expires_after(d);
        co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
    }

    // ---- identity ----------------------------------------------------------------------------

    Result<void> adopt(StoredIdentity id) {
        net::ClientTlsOptions t;
        t.ca = net::PemSource::from_pem(id.ca.to_pem());
        t.cert = net::PemSource::from_pem(id.creds.cert.to_pem());
        t.key = net::PemSource::from_pem(id.creds.key.to_pem());
        auto ctx_tls = net::TlsContext::make_client(t);
        if (!ctx_tls) return ctx_tls.error();
        tls = *ctx_tls;
        {
            std::lock_guard lock(creds_mu);
            creds = id.creds;
        }
        identity = std::move(id);
        return {};
    }

    // Joins with the token: fetch and pin the CA, get a certificate, write the files.
    asio::awaitable<bool> join(Ptr keep, std::string reason) {
        if (options.token.empty()) {
            log->error(
                "{}: no usable certificate ({}) and no edgeHub.token to join with: put the CA, "
                "certificate and key at {}, {}, {} (keadm join does) or set edgeHub.token; "
                "retrying",
                node(), reason, options.certs.ca.string(), options.certs.cert.string(),
                options.certs.key.string());
            co_return false;
        }
        log->info("{}: joining through {} with the token ({})", node(), options.http_server,
                  reason);
        JoinTarget target{options.http_server, options.token};
        auto ca = co_await fetch_ca(strand, target);
        if (stopped) co_return false;
        if (!ca) {
            if (ca.error().is(errc::unauthorized))
                log->error(
                    "{}: refusing the CA of {}: {} (the token belongs to another cloud, or "
                    "something else answers there); retrying",
                    node(), options.http_server, ca.error().detail);
            else
                log->error("{}: cannot get the CA from {}: {}; retrying", node(),
                           options.http_server, ca.error().message());
            co_return false;
        }
        auto got = co_await request_node_cert(strand, target, *ca, node());
        if (stopped) co_return false;
        if (!got) {
            log->error("{}: the join server refused a certificate: {}; retrying", node(),
                       got.error().message());
            co_return false;
        }
        if (auto r = store_identity(options.certs, *ca, *got); !r)
            log->error(
                "{}: joined, but cannot write the certificate files ({}); using them "
                "from memory, the next start joins again",
                node(), r.error().message());
        if (auto r = adopt(StoredIdentity{*ca, *got}); !r) {
            log->error("{}: the issued certificate is unusable for TLS: {}", node(),
                       r.error().message());
            co_return false;
        }
        counters.joins.fetch_add(1);
        log->info("{}: joined: certificate serial {} valid until {}, CA {} ({}), written to {}",
                  node(), got->cert.serial_hex(), relative(got->cert.not_after()),
                  ca->sha256_hex().substr(0, 16), options.certs.ca.string(),
                  options.certs.cert.string());
        co_return true;
    }

    asio::awaitable<bool> obtain_identity(Ptr keep) {
        std::string why;
        auto id = load_identity(options.certs, node(), SystemClock::instance().now(), &why);
        if (id) {
            auto serial = id->creds.cert.serial_hex();
            auto until = relative(id->creds.cert.not_after());
            if (auto r = adopt(std::move(*id)); !r) {
                why = "the stored certificate is unusable for TLS: " + r.error().message();
            } else {
                log->info("{}: using certificate {} (serial {}, expires {})", node(),
                          options.certs.cert.string(), serial, until);
                co_return true;
            }
        }
        co_return co_await join(keep, why);
    }

    // ---- connection loop ---------------------------------------------------------------------

    asio::awaitable<void> run(Ptr keep) {
        net::Backoff backoff(options.reconnect);
        while (!stopped) {
            if (co_await obtain_identity(keep)) break;
            if (stopped) co_return;
            co_await sleep(*sleep_timer, backoff.next());
        }
        if (stopped) co_return;
        if (options.rotate_certificates) spawn(rotate_loop(keep), "certificate rotation");
        backoff.reset();
        while (!stopped) {
            auto conn = co_await dial();
            if (stopped) {
                if (conn) (*conn)->close(net::kWsCloseGoingAway, "edgecore stopping");
                break;
            }
            if (!conn) {
                counters.connect_failures.fetch_add(1);
                const auto& e = conn.error();
                bool auth =
                    e.is(errc::crypto_error) || e.is(errc::unauthorized) || e.is(errc::forbidden);
                log->log(auth ? spdlog::level::warn : spdlog::level::info,
                         "{}: cannot connect to {}: {}", node(), options.server, e.message());
            } else {
                auto lasted = co_await session(keep, *conn);
                if (lasted >= kStableSession) backoff.reset();
            }
            if (stopped) break;
            co_await sleep(*sleep_timer, backoff.next());
        }
    }

    asio::awaitable<Result<std::shared_ptr<net::WsConnection>>> dial() {
        net::WsClientOptions c;
        c.url = "wss://" + options.server + "/" + options.project_id + "/" + node() + "/events";
        c.tls = tls;
        c.headers = {
            {"node_id", node()}, {"project_id", options.project_id}, {"ConnectionUse", "msg"}};
        c.connect_timeout = options.handshake_timeout;
        c.ws.handshake_timeout = options.handshake_timeout;
        // The cloud never answers keepalives, so silence is normal: WebSocket pings (answered by
        // any server's stack) keep the link provably alive, and no frame at all for this long
        // means a dead link.
        c.ws.idle_timeout = options.read_deadline + options.heartbeat;
        c.ws.send_pings = true;
        co_return co_await net::ws_connect(strand, std::move(c));
    }

    // One connected session; returns how long it lasted.
    asio::awaitable<SteadyClock::duration> session(Ptr keep,
                                                   std::shared_ptr<net::WsConnection> conn) {
        auto began = SteadyClock::now();
        current = conn;
        connected = true;
        counters.sessions.fetch_add(1);
        log->info("{}: connected to {} (ws#{})", node(), options.server, conn->id());
        // Nothing below awaits before the inventory and the notification are queued, so the
        // inventory is the first message of the session and modules hear of the link before
        // anything of theirs can be written.
        if (options.inventory_resync && inventory) {
            auto inv = inventory();
            if (!inv) {
                log->error("{}: no inventory for the resync ({}); the cloud will send everything",
                           node(), inv.error().message());
            } else {
                auto msg = hub::make_inventory_message(node(), *inv);
                if (write(*conn, msg))
                    log->debug("{}: inventory sent ({} objects)", node(), inv->size());
            }
        }
        notify(kCloudConnected);
        auto timer = std::make_shared<asio::steady_timer>(strand);
        heartbeat_timer = timer;
        spawn(heartbeat(keep, conn, timer), "heartbeat");

        for (;;) {
            auto msg = co_await hub::read_message(*conn);
            if (!msg) {
                log->info("{}: session ended: {}", node(), msg.error().message());
                break;
            }
            counters.messages_down.fetch_add(1);
            if (stopped) continue;  // read() reports the end of the close we started
            downstream(*conn, std::move(*msg));
        }
        timer->cancel();
        if (current == conn) current.reset();
        connected = false;
        notify(kCloudDisconnected);
        co_return SteadyClock::now() - began;
    }

    asio::awaitable<void> heartbeat(Ptr keep, std::shared_ptr<net::WsConnection> conn,
                                    std::shared_ptr<asio::steady_timer> timer) {
        for (;;) {
            timer->expires_after(options.heartbeat);
            auto [ec] = co_await timer->async_wait(asio::as_tuple(asio::use_awaitable));
            if (ec || stopped || current != conn || !conn->is_open()) co_return;
            // PROTOCOL.md §2: exactly this route and content.
            auto ka = bus::Message::make(
                std::string(bus::kModuleEdgeHub), std::string(bus::kGroupResource),
                std::string(bus::kOpKeepalive), "node", bus::Content::from_string("ping"));
            if (!write(*conn, ka)) co_return;
        }
    }

    // Queues msg on the socket; a failed write means a dead or stuck link: close, reconnect.
    bool write(net::WsConnection& conn, const bus::Message& msg) {
        if (auto r = hub::send_message(conn, msg); !r) {
            log->info("{}: write failed ({}), closing the session", node(), r.error().message());
            conn.close(net::kWsCloseGoingAway, "write failed");
            return false;
        }
        counters.messages_up.fetch_add(1);
        return true;
    }

    void notify(std::string_view state) {
        auto msg = bus::Message::make(
            "edgehub", std::string(bus::kGroupResource), std::string(bus::kOpPublish),
            std::string(kConnectionResource), bus::Content::from_string(state));
        with_ctx([&](bus::Context& c) {
            for (auto group : kNotifiedGroups) {
                auto r = c.send_to_group(group, msg);
                if (!r) {
                    if (!r.error().is(errc::not_found))
                        log->warn("{}: cannot tell group {} {}: {}", node(), group, state,
                                  r.error().message());
                    continue;
                }
                for (auto& [module, err] : r->failed)
                    log->warn("{}: cannot tell {} {}: {}", node(), module, state, err.message());
            }
        });
    }

    void downstream(net::WsConnection& conn, bus::Message msg) {
        const auto& op = msg.operation();
        if (op == bus::kOpConfig || op == bus::kOpPing || op == bus::kOpPong) {
            write(conn, bus::make_response(msg, bus::Content::from_string("ack")));
            return;
        }
        if (msg.is_response()) {
            bool done = false;
            with_ctx([&](bus::Context& c) { done = c.send_response(msg); });
            if (done) return;
        }
        auto module = module_for(msg);
        if (module.empty()) {
            log->warn("{}: no module for a cloud message of group '{}' ({} {}), dropped", node(),
                      msg.group(), msg.operation(), msg.resource());
            return;
        }
        with_ctx([&](bus::Context& c) {
            auto r = c.send(module, msg);
            if (r) return;
            if (r.error().is(errc::not_found))
                log->info("{}: {} is not enabled, dropped {} {}", node(), module, msg.operation(),
                          msg.resource());
            else
                log->warn("{}: cannot hand {} {} to {}: {}", node(), msg.operation(),
                          msg.resource(), module, r.error().message());
        });
    }

    // ---- upstream ----------------------------------------------------------------------------

    asio::awaitable<void> writer(Ptr keep) {
        const std::string name(bus::kModuleEdgeHub);
        for (;;) {
            std::optional<asio::awaitable<Result<bus::Message>>> next;
            with_ctx([&](bus::Context& c) { next.emplace(c.receive(name)); });
            if (!next || stopped) co_return;
            auto aw = std::move(*next);
            auto msg = co_await std::move(aw);
            if (!msg) {
                if (!msg.error().is(errc::closed) && !stopped)
                    log->error("{}: upstream queue: {}", node(), msg.error().message());
                co_return;
            }
            if (stopped) co_return;
            co_await upstream(std::move(*msg));
        }
    }

    // Reserves one token of the bucket; how long to wait until it is really there.
    milliseconds take_token() {
        if (options.message_qps <= 0) return milliseconds(0);
        auto now = SteadyClock::now();
        double burst = std::max<double>(options.message_burst, 1);
        if (refilled == SteadyClock::time_point{}) {
            tokens = burst;
        } else {
            std::chrono::duration<double> dt = now - refilled;
            tokens = std::min(burst, tokens + dt.count() * options.message_qps);
        }
        refilled = now;
        tokens -= 1;
        if (tokens >= 0) return milliseconds(0);
        return milliseconds(static_cast<std::int64_t>(-tokens / options.message_qps * 1000.0) + 1);
    }

    asio::awaitable<void> upstream(bus::Message msg) {
        if (!connected || !current) {
            refuse(msg);
            co_return;
        }
        if (auto wait = take_token(); wait.count() > 0) {
            counters.rate_limited.fetch_add(1);
            co_await sleep(*token_timer, wait);
            if (stopped) co_return;
        }
        auto conn = current;
        if (!connected || !conn || !write(*conn, msg)) {
            refuse(msg);
            co_return;
        }
        log->trace("{}: up {} {}", node(), msg.operation(), msg.resource());
    }

    void refuse(const bus::Message& msg) {
        counters.dropped_offline.fetch_add(1);
        if (msg.header.sync) {
            auto err =
                bus::make_error_response(msg, bus::Content::from_string("cloud not connected"));
            with_ctx([&](bus::Context& c) { c.send_response(std::move(err)); });
            return;
        }
        log->debug("{}: cloud not connected, dropped {} {} from {}", node(), msg.operation(),
                   msg.resource(), msg.source());
    }

    // ---- certificate rotation ----------------------------------------------------------------

    asio::awaitable<void> wait_until(Clock::time_point at) {
        while (!stopped) {
            auto left = at - SystemClock::instance().now();
            if (left <= Clock::duration::zero()) co_return;
            auto slice = std::min<Clock::duration>(left, kMaxTimerSlice);
            co_await sleep(*rotation_timer, std::chrono::ceil<milliseconds>(slice));
        }
    }

    asio::awaitable<void> rotate_loop(Ptr keep) {
        auto retry_options = options.reconnect;
        retry_options.max = std::min<milliseconds>(retry_options.max, kMaxRotationRetry);
        net::Backoff backoff(retry_options);
        std::mt19937_64 rng(std::random_device{}());
        while (!stopped && identity) {
            auto at = options.rotation_delay.count() > 0
                          ? SystemClock::instance().now() + options.rotation_delay
                          : rotation_time(identity->creds.cert, rng);
            log->info("{}: certificate rotation {}", node(), relative(at));
            co_await wait_until(at);
            while (!stopped && !co_await rotate_once(keep)) {
                auto delay = backoff.next();
                log->info("{}: next rotation attempt in {} ms", node(), delay.count());
                co_await sleep(*rotation_timer, delay);
            }
            backoff.reset();
        }
    }

    asio::awaitable<bool> rotate_once(Ptr keep) {
        auto old = identity->creds.cert;
        if (!old.valid_at(SystemClock::instance().now())) {
            // Renewal needs a valid certificate; the token is the only way back.
            log->error("{}: certificate expired {} before it could be rotated", node(),
                       relative(old.not_after()));
            if (!co_await join(keep, "certificate expired")) co_return false;
        } else {
            auto renewed = co_await renew_node_cert(strand, options.http_server, identity->ca,
                                                    identity->creds, node());
            if (stopped) co_return false;
            if (!renewed) {
                log->error("{}: certificate rotation failed: {} (current one expires {})", node(),
                           renewed.error().message(), relative(old.not_after()));
                co_return false;
            }
            if (auto r = store_identity(options.certs, identity->ca, *renewed); !r)
                log->error(
                    "{}: rotated, but cannot write the certificate files ({}); using the "
                    "new certificate from memory",
                    node(), r.error().message());
            auto old_serial = old.serial_hex();
            StoredIdentity next{identity->ca, *renewed};
            if (auto r = adopt(std::move(next)); !r) {
                log->error("{}: the rotated certificate is unusable for TLS: {}", node(),
                           r.error().message());
                co_return false;
            }
            log->info("{}: certificate rotated: serial {} -> {}, valid until {}; reconnecting",
                      node(), old_serial, renewed->cert.serial_hex(),
                      relative(renewed->cert.not_after()));
        }
        counters.rotations.fetch_add(1);
        if (current) current->close(net::kWsCloseNormal, "certificate rotated");
        co_return true;
    }
};

EdgeHub::EdgeHub(EdgeHubOptions options, InventoryProvider inventory) {
    if (options.node.empty()) throw std::invalid_argument("EdgeHub: the node name is empty");
    if (options.heartbeat.count() <= 0)
        throw std::invalid_argument("EdgeHub: heartbeat must be positive");
    if (options.server.empty()) throw std::invalid_argument("EdgeHub: websocket.server is empty");
    impl_ = std::make_shared<Impl>(std::move(options), std::move(inventory));
}

EdgeHub::~EdgeHub() { stop(); }

std::string EdgeHub::name() const { return std::string(bus::kModuleEdgeHub); }
std::string EdgeHub::group() const { return std::string(bus::kGroupHub); }

void EdgeHub::start(bus::Context& ctx) {
    auto impl = impl_;
    {
        std::lock_guard lock(impl->ctx_mu);
        if (impl->started || impl->stopped) return;
        impl->started = true;
        impl->ctx = &ctx;
    }
    impl->strand = asio::make_strand(ctx.get_executor());
    impl->sleep_timer = std::make_unique<asio::steady_timer>(impl->strand);
    impl->rotation_timer = std::make_unique<asio::steady_timer>(impl->strand);
    impl->token_timer = std::make_unique<asio::steady_timer>(impl->strand);
    impl->spawn(impl->run(impl), "connect loop");
    impl->spawn(impl->writer(impl), "upstream writer");
}

void EdgeHub::stop() {
    auto impl = impl_;
    if (!impl || impl->stopped.exchange(true)) return;
    bool started = false;
    {
        std::lock_guard lock(impl->ctx_mu);
        impl->ctx = nullptr;
        started = impl->started;
    }
    impl->connected = false;
    if (!started) return;
    asio::post(impl->strand, [impl] {
        impl->sleep_timer->cancel();
        impl->rotation_timer->cancel();
        impl->token_timer->cancel();
        if (impl->heartbeat_timer) impl->heartbeat_timer->cancel();
        if (impl->current) impl->current->close(net::kWsCloseGoingAway, "edgecore stopping");
    });
}

bool EdgeHub::connected() const { return impl_->connected.load(); }

EdgeHubStats EdgeHub::stats() const {
    const auto& c = impl_->counters;
    EdgeHubStats s;
    s.sessions = c.sessions.load();
    s.connect_failures = c.connect_failures.load();
    s.messages_up = c.messages_up.load();
    s.messages_down = c.messages_down.load();
    s.dropped_offline = c.dropped_offline.load();
    s.rate_limited = c.rate_limited.load();
    s.rotations = c.rotations.load();
    s.joins = c.joins.load();
    return s;
}

std::optional<NodeCredentials> EdgeHub::credentials() const {
    std::lock_guard lock(impl_->creds_mu);
    return impl_->creds;
}

}  // namespace kedge::edge
