#include "edgemark/sim_edge.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <random>

#include "base/log.hpp"
#include "bus/codec.hpp"
#include "net/ws_client.hpp"
#include "net/ws_connection.hpp"

namespace kedge::edgemark {

namespace asio = boost::asio;

struct SimEdge::Private {
    explicit Private(asio::any_io_executor ex) : sleep_timer(ex) {}
    asio::steady_timer sleep_timer;
    std::shared_ptr<asio::steady_timer> heartbeat_timer;
    std::shared_ptr<net::WsConnection> current;
};

bool ConnectGate::try_acquire() {
    auto n = inflight.load(std::memory_order_relaxed);
    while (n < limit)
        if (inflight.compare_exchange_weak(n, n + 1, std::memory_order_acq_rel)) return true;
    return false;
}

std::shared_ptr<SimEdge> SimEdge::create(asio::any_io_executor ex, SimEdgeOptions options,
                                         std::shared_ptr<net::TlsContext> tls,
                                         std::shared_ptr<FleetStats> stats,
                                         std::shared_ptr<ConnectGate> gate) {
    return std::make_shared<SimEdge>(asio::make_strand(ex), std::move(options), std::move(tls),
                                     std::move(stats), std::move(gate));
}

SimEdge::SimEdge(asio::any_io_executor strand, SimEdgeOptions options,
                 std::shared_ptr<net::TlsContext> tls, std::shared_ptr<FleetStats> stats,
                 std::shared_ptr<ConnectGate> gate)
    : strand_(std::move(strand)),
      options_(std::move(options)),
      tls_(std::move(tls)),
      stats_(std::move(stats)),
      gate_(std::move(gate)),
      model_(options_.node, *stats_),
      p_(std::make_unique<Private>(strand_)) {}

SimEdge::~SimEdge() = default;

std::optional<std::chrono::steady_clock::time_point> SimEdge::level_at() const {
    auto ns = level_at_ns_.load(std::memory_order_acquire);
    if (ns == 0) return std::nullopt;
    return std::chrono::steady_clock::time_point(std::chrono::nanoseconds(ns));
}

void SimEdge::start() {
    asio::co_spawn(strand_, run(), [self = shared_from_this()](std::exception_ptr e) {
        self->finished_.store(true, std::memory_order_release);
        if (!e) return;
        try {
            std::rethrow_exception(e);
        } catch (const std::exception& ex) {
            log::get("edgemark")->error("{}: run loop failed: {}", self->node(), ex.what());
        }
    });
}

void SimEdge::stop() {
    stopping_.store(true, std::memory_order_release);
    asio::post(strand_, [self = shared_from_this()] {
        self->p_->sleep_timer.cancel();
        if (self->p_->heartbeat_timer) self->p_->heartbeat_timer->cancel();
        if (self->p_->current) self->p_->current->close(net::kWsCloseGoingAway, "edgemark stop");
    });
}

void SimEdge::drop() {
    asio::post(strand_, [self = shared_from_this()] {
        if (self->p_->current) self->p_->current->close(net::kWsCloseGoingAway, "edgemark storm");
    });
}

asio::awaitable<void> SimEdge::sleep(std::chrono::milliseconds d) {
    p_->sleep_timer.expires_after(d);
    co_await p_->sleep_timer.async_wait(asio::as_tuple(asio::use_awaitable));
}

asio::awaitable<void> SimEdge::run() {
    auto self = shared_from_this();  // alive while the loop runs
    net::Backoff backoff(options_.reconnect);
    net::WsClientOptions copts;
    copts.url = "wss://" + options_.host + ":" + std::to_string(options_.port) + "/" +
                options_.project_id + "/" + options_.node + "/events";
    copts.tls = tls_;
    copts.headers = {
        {"node_id", options_.node}, {"project_id", options_.project_id}, {"ConnectionUse", "msg"}};
    copts.connect_timeout = options_.connect_timeout;
    std::minstd_rand rng(static_cast<unsigned>(std::hash<std::string>{}(options_.node)));

    while (!stopping_.load(std::memory_order_acquire)) {
        if (gate_) {
            // Polling, but with a growing jittered wait: 10,000 waiting nodes wake a few
            // thousand times a second at most.
            unsigned wait_ms = 5;
            while (!gate_->try_acquire()) {
                co_await sleep(std::chrono::milliseconds(wait_ms + rng() % wait_ms));
                wait_ms = std::min(wait_ms * 2, 250u);
                if (stopping_.load(std::memory_order_acquire)) co_return;
            }
        }
        auto conn = co_await net::ws_connect(strand_, copts);
        if (gate_) gate_->release();
        if (!conn) {
            stats_->connect_failures.fetch_add(1, std::memory_order_relaxed);
            log::get("edgemark")
                ->debug("{}: connect failed: {}", options_.node, conn.error().message());
        } else {
            co_await session(*conn);
            if (model_.last_resync()) backoff.reset();
        }
        if (stopping_.load(std::memory_order_acquire)) break;
        co_await sleep(backoff.next());
    }
}

bool SimEdge::send(net::WsConnection& conn, const bus::Message& msg) {
    auto text = bus::encode(msg);
    auto size = text.size();
    if (auto r = conn.send(std::move(text)); !r) {
        stats_->send_failures.fetch_add(1, std::memory_order_relaxed);
        log::get("edgemark")->debug("{}: send failed: {}", options_.node, r.error().message());
        return false;
    }
    stats_->count_out(size);
    return true;
}

asio::awaitable<void> SimEdge::session(std::shared_ptr<net::WsConnection> conn) {
    p_->current = conn;
    sessions_.fetch_add(1, std::memory_order_relaxed);
    stats_->connects.fetch_add(1, std::memory_order_relaxed);
    stats_->connected.fetch_add(1, std::memory_order_relaxed);
    connected_.store(true, std::memory_order_release);
    if (stopping_.load(std::memory_order_acquire)) conn->close(net::kWsCloseGoingAway);

    send(*conn, model_.session_opened());
    asio::co_spawn(strand_, heartbeat(conn), [node = options_.node](std::exception_ptr e) {
        if (!e) return;
        try {
            std::rethrow_exception(e);
        } catch (const std::exception& ex) {
            log::get("edgemark")->error("{}: heartbeat failed: {}", node, ex.what());
        }
    });
    for (;;) {
        auto frame = co_await conn->read();
        if (!frame) {
            log::get("edgemark")
                ->debug("{}: session ended: {}", options_.node, frame.error().message());
            break;
        }
        auto msg = bus::decode(*frame);
        if (!msg) {
            stats_->malformed.fetch_add(1, std::memory_order_relaxed);
            log::get("edgemark")
                ->warn("{}: undecodable frame: {}", options_.node, msg.error().message());
            conn->close(1007, "undecodable frame");
            continue;  // read() reports the end
        }
        bool was_level = model_.level();
        for (const auto& reply : model_.handle(*msg, frame->size())) send(*conn, reply);
        inventory_size_.store(model_.inventory().size(), std::memory_order_relaxed);
        if (!was_level && model_.level()) {
            level_.store(true, std::memory_order_release);
            level_at_ns_.store(model_.level_at()->time_since_epoch().count(),
                               std::memory_order_release);
        }
    }
    model_.session_closed();
    level_.store(false, std::memory_order_release);
    connected_.store(false, std::memory_order_release);
    stats_->connected.fetch_sub(1, std::memory_order_relaxed);
    stats_->disconnects.fetch_add(1, std::memory_order_relaxed);
    if (p_->heartbeat_timer) p_->heartbeat_timer->cancel();
    p_->heartbeat_timer.reset();
    p_->current.reset();
}

asio::awaitable<void> SimEdge::heartbeat(std::shared_ptr<net::WsConnection> conn) {
    auto self = shared_from_this();
    auto timer = std::make_shared<asio::steady_timer>(strand_);
    p_->heartbeat_timer = timer;
    // The first beat at a random point of the interval, so a fleet does not beat in step.
    auto hb = options_.heartbeat;
    std::minstd_rand rng(
        static_cast<unsigned>(sessions_.load() * 7919 + std::hash<std::string>{}(options_.node)));
    auto delay = std::chrono::milliseconds(hb.count() / 2 + rng() % (hb.count() / 2 + 1));
    for (;;) {
        timer->expires_after(delay);
        auto [ec] = co_await timer->async_wait(asio::as_tuple(asio::use_awaitable));
        if (ec || !conn->is_open() || p_->current != conn) co_return;
        if (send(*conn, model_.keepalive()))
            stats_->keepalives_sent.fetch_add(1, std::memory_order_relaxed);
        delay = hb;
    }
}

}  // namespace kedge::edgemark
