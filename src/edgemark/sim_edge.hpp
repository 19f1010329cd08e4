#pragma once
// One simulated edge node on the wire: dials wss://<cloud>:<port>/<project>/<node>/events with
// its client certificate and the node_id / project_id / ConnectionUse headers (PROTOCOL.md §2),
// sends its inventory, answers what EdgeModel says, heartbeats, and reconnects with backoff and
// jitter whenever the session ends.

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "edgemark/edge_model.hpp"
#include "edgemark/stats.hpp"
#include "net/backoff.hpp"
#include "net/tls_context.hpp"

namespace kedge::net {
class WsConnection;
}

namespace kedge::edgemark {

// upstream edgecore's default projectID.
inline constexpr std::string_view kDefaultProjectId = "e632aba927ea4ac2b575ec1603d56f10";

// Bounds how many nodes of a fleet are in the middle of a TCP+TLS+upgrade at once, so that
// 10,000 nodes starting together queue here instead of overflowing the server's accept backlog.
struct ConnectGate {
    explicit ConnectGate(std::size_t limit) : limit(limit) {}
    bool try_acquire();
    void release() { inflight.fetch_sub(1, std::memory_order_acq_rel); }
    std::atomic<std::size_t> inflight{0};
    std::size_t limit;
};

// How one simulated node connects.
struct SimEdgeOptions {
    std::string node;
    std::string host = "127.0.0.1";
    unsigned short port = 10000;
    std::string project_id = std::string(kDefaultProjectId);
    std::chrono::milliseconds heartbeat{15'000};
    net::BackoffOptions reconnect{std::chrono::milliseconds(1000), std::chrono::seconds(30), 2.0,
                                  net::Jitter::full};
    std::chrono::milliseconds connect_timeout{30'000};
};

// A simulated node. Runs on its own strand; the public functions are thread-safe.
class SimEdge : public std::enable_shared_from_this<SimEdge> {
public:
    // tls: a client context with the hub CA and this node's certificate and key.
    static std::shared_ptr<SimEdge> create(boost::asio::any_io_executor ex, SimEdgeOptions options,
                                           std::shared_ptr<net::TlsContext> tls,
                                           std::shared_ptr<FleetStats> stats,
                                           std::shared_ptr<ConnectGate> gate = nullptr);
    ~SimEdge();

    // Starts the connect/session/reconnect loop.
    void start();
    // Ends the session (normal close) and stops reconnecting.
    void stop();
    // Ends the current session; the node reconnects after its backoff (a reconnect storm when
    // the whole fleet does it at once).
    void drop();

    const std::string& node() const { return options_.node; }
    bool connected() const { return connected_.load(std::memory_order_acquire); }
    bool level() const { return level_.load(std::memory_order_acquire); }
    // When the node last became level (resync response received), if ever.
    std::optional<std::chrono::steady_clock::time_point> level_at() const;
    // Sessions established so far.
    std::uint64_t sessions() const { return sessions_.load(std::memory_order_relaxed); }
    // Objects in the node's inventory (updated after each message).
    std::size_t inventory_size() const { return inventory_size_.load(std::memory_order_relaxed); }
    // True once the run loop has exited after stop().
    bool finished() const { return finished_.load(std::memory_order_acquire); }

    struct Private;
    SimEdge(boost::asio::any_io_executor strand, SimEdgeOptions options,
            std::shared_ptr<net::TlsContext> tls, std::shared_ptr<FleetStats> stats,
            std::shared_ptr<ConnectGate> gate);

private:
    boost::asio::awaitable<void> run();
    boost::asio::awaitable<void> session(std::shared_ptr<net::WsConnection> conn);
    boost::asio::awaitable<void> heartbeat(std::shared_ptr<net::WsConnection> conn);
    boost::asio::awaitable<void> sleep(std::chrono::milliseconds d);
    bool send(net::WsConnection& conn, const bus::Message& msg);

    boost::asio::any_io_executor strand_;
    SimEdgeOptions options_;
    std::shared_ptr<net::TlsContext> tls_;
    std::shared_ptr<FleetStats> stats_;
    std::shared_ptr<ConnectGate> gate_;
    EdgeModel model_;
    std::unique_ptr<Private> p_;  // strand-owned: timers, current connection

    std::atomic<bool> stopping_{false}, connected_{false}, level_{false}, finished_{false};
    std::atomic<std::int64_t> level_at_ns_{0};
    std::atomic<std::uint64_t> sessions_{0};
    std::atomic<std::size_t> inventory_size_{0};
};

}  // namespace kedge::edgemark
