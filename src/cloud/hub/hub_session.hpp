#pragma once
// INTERNAL to cloud/hub (cloud_hub.cpp, hub_session.cpp): the shared state of a CloudHub and
// one node's session. Kept out of the public header because it pulls in Asio timers.

#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>

#include <array>
#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "cloud/hub/cloud_hub.hpp"
#include "cloud/hub/hub_authorizer.hpp"
#include "net/ws_connection.hpp"
#include "net/ws_server.hpp"

namespace spdlog {
class logger;
}

namespace kedge::cloud::detail {

// Messages by operation: the protocol's operations get their own counter, everything else is
// "other", so a peer inventing operations cannot grow the metrics without bound.
class OperationCounters {
public:
    void add(std::string_view operation);
    std::map<std::string, std::uint64_t> snapshot() const;

private:
    static constexpr std::size_t kSlots = 32;
    std::array<std::atomic<std::uint64_t>, kSlots> counts_{};
};

class NodeSession;

// Everything the sessions of one hub share: options, observer, the node registry, counters.
struct HubCore : std::enable_shared_from_this<HubCore> {
    HubCore(CloudHubOptions opts, std::shared_ptr<HubObserver> obs, const Clock& clk);

    // The WsServer's authorizer: the pure decision plus node_limit.
    Result<void> authorize(const net::WsUpgradeRequest& request);
    // The WsServer's handler: registers the session (replacing an older one), runs it, cleans up.
    boost::asio::awaitable<void> serve(std::shared_ptr<net::WsConnection> conn);
    Result<void> send(const std::string& node, bus::Message msg);
    std::shared_ptr<NodeSession> find(const std::string& node) const;
    void count_refusal(const std::string& reason);
    // Rate limit for warnings a peer can trigger at will (20 per second per hub).
    bool warning_allowed();

    const CloudHubOptions options;
    const std::shared_ptr<HubObserver> observer;  // never null (a no-op one stands in)
    const Clock& clock;
    const std::shared_ptr<spdlog::logger> log;

    mutable std::mutex mu;  // guards sessions and stopped
    std::unordered_map<std::string, std::shared_ptr<NodeSession>> sessions;
    bool stopped = false;
    // Serializes registry changes with their node_connected/node_disconnected calls, so the
    // observer sees them in the order the registry changed. Never taken by send().
    std::mutex observer_order;

    std::atomic<std::uint64_t> sessions_opened{0}, sessions_closed{0}, sessions_replaced{0};
    std::atomic<std::uint64_t> bytes_in{0}, bytes_out{0}, malformed_frames{0};
    std::atomic<std::uint64_t> send_unavailable{0}, send_queue_full{0};
    std::atomic<std::int64_t> queue_depth{0}, pending_acks{0};
    OperationCounters messages_in, messages_out;
    mutable std::mutex failures_mu;
    std::map<std::string, std::uint64_t> handshake_failures;

    std::atomic<std::int64_t> warn_window{0};
    std::atomic<int> warn_count{0};
};

// One node's live connection: its NodeSendQueue (guarded by mu_ so that send() from any thread
// gets queue_full synchronously), the writer that drains it into the connection, and the reader.
// The timer, the pump and the reader run on the connection's strand.
class NodeSession : public std::enable_shared_from_this<NodeSession> {
public:
    NodeSession(std::shared_ptr<HubCore> core, std::string node,
                std::shared_ptr<net::WsConnection> conn);

    const std::string& node() const { return node_; }
    net::WsConnection& connection() { return *conn_; }
    // "node edge1 ws#12" for log lines.
    std::string prefix() const;

    // Thread-safe. Queues msg and wakes the writer; errc::unavailable (msg untouched) once the
    // session is retired, queue_full from the queue.
    Result<PushOutcome> push(bus::Message& msg);
    // Thread-safe. No more sends go through this session; returns its unacked ACK messages
    // (for the node's next session) and empties its queue.
    std::vector<bus::Message> retire(std::size_t* dropped_no_ack = nullptr);
    // Thread-safe. Queues messages handed over from the node's previous session.
    void adopt(std::vector<bus::Message> messages);
    // Thread-safe. Makes the writer look at the queue.
    void wake();
    // Strand: reads and dispatches until the connection ends; returns why it ended.
    boost::asio::awaitable<Error> run();

private:
    using TimePoint = std::chrono::steady_clock::time_point;

    void pump();                                  // strand
    void arm(std::optional<TimePoint> deadline);  // strand
    void dispatch(bus::Message msg);              // strand
    void reply(const bus::Message& msg);          // strand
    void update_gauges();                         // under mu_

    std::shared_ptr<HubCore> core_;
    std::string node_;
    std::shared_ptr<net::WsConnection> conn_;

    boost::asio::steady_timer timer_;    // strand
    std::optional<TimePoint> armed_at_;  // strand

    std::mutex mu_;
    NodeSendQueue queue_;                              // mu_
    bool retired_ = false;                             // mu_
    bool pump_posted_ = false;                         // mu_
    std::size_t gauge_depth_ = 0, gauge_pending_ = 0;  // mu_: this queue's share of the totals
};

}  // namespace kedge::cloud::detail
