#pragma once
// edgecore's link to cloudcore (upstream module "websocket", group "hub"): makes sure the node
// has a certificate (joins with the token when it has none or it is unusable), dials
// wss://<server>/<projectID>/<node>/events with the upstream headers (PROTOCOL.md §2), sends the
// inventory first (kedge resync), heartbeats, notices a dead link (failed write, nothing read
// for readDeadline + heartbeat) and reconnects with exponential backoff plus jitter, rotates the
// certificate at 70-90 % of its lifetime (then reconnects with it), and rate-limits what goes
// up (token bucket messageQPS / messageBurst).
//
// Routing (PROTOCOL.md §1): from the cloud, a message whose parent_msg_id completes a pending
// Context::request() goes there; otherwise group resource/func/meta -> "metamanager" (the resync
// response included), twin -> "twin", user -> "eventbus" (source router_servicebus ->
// "servicebus"); a message for a module that is not enabled is logged and dropped. Upstream:
// every message queued for module "websocket" is written to the socket. While disconnected a
// message is not kept: a sync request gets an `error` response at once (content
// kCloudNotConnected, so the requester can fall back), anything else is dropped with a debug log —
// durable delivery is the meta manager's job (its outbox). On connect and disconnect every enabled
// module of the groups twin, meta, bus and taskmanager gets {source: "edgehub", group: "resource",
// operation: "publish", resource: "node/connection", content: "cloud_connected" |
// "cloud_disconnected"} (upstream's beehive message).
//
// Threads: runs on the executor given to start() (the process io_context); its state lives on
// one strand. connected() and stats() are safe from any thread.

#include <boost/asio/any_io_executor.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "bus/module.hpp"
#include "edge/certs/edge_certs.hpp"
#include "hub/inventory.hpp"
#include "net/backoff.hpp"

namespace kedge::edge {

// Content of the connection-state message sent to the other modules.
inline constexpr std::string_view kCloudConnected = "cloud_connected";
inline constexpr std::string_view kCloudDisconnected = "cloud_disconnected";
inline constexpr std::string_view kConnectionResource = "node/connection";
// Content of the `error` response a sync request gets while the cloud is not connected (the
// meta manager tells "not delivered" from "refused by the cloud" by it).
inline constexpr std::string_view kCloudNotConnected = "cloud not connected";

struct EdgeHubOptions {
    std::string node;
    std::string project_id = "e632aba927ea4ac2b575ec1603d56f10";
    std::string server = "127.0.0.1:10000";               // websocket host:port
    std::string http_server = "https://127.0.0.1:10002";  // join / rotation server
    std::string token;                                    // needed only to join
    CertPaths certs;
    bool rotate_certificates = true;
    std::chrono::milliseconds heartbeat{15'000};
    std::chrono::milliseconds handshake_timeout{30'000};
    std::chrono::milliseconds read_deadline{15'000};  // plus heartbeat = silence that kills
    std::chrono::milliseconds write_deadline{15'000};
    double message_qps = 30;
    std::int32_t message_burst = 60;
    net::BackoffOptions reconnect{std::chrono::milliseconds(1000), std::chrono::seconds(30), 2.0,
                                  net::Jitter::full};
    // > 0: rotate this long after each (re)load of the identity instead of at rotation_time()
    // (tests; an operator forcing an early rotation).
    std::chrono::milliseconds rotation_delay{0};
    // Send the inventory on connect (kedge resync); off = behave exactly like upstream edgecore.
    bool inventory_resync = true;
};

// What the hub sends as its inventory; called on the hub's strand at every connect.
// An error is logged and the connect goes on without an inventory (the cloud then full-syncs).
using InventoryProvider = std::function<Result<hub::Inventory>()>;

struct EdgeHubStats {
    std::uint64_t sessions = 0;  // successful connects
    std::uint64_t connect_failures = 0;
    std::uint64_t messages_up = 0;
    std::uint64_t messages_down = 0;
    std::uint64_t dropped_offline = 0;  // upstream messages refused while disconnected
    std::uint64_t rate_limited = 0;     // writes that had to wait for a token
    std::uint64_t rotations = 0;
    std::uint64_t joins = 0;
};

class EdgeHub : public bus::Module {
public:
    EdgeHub(EdgeHubOptions options, InventoryProvider inventory);
    ~EdgeHub() override;

    std::string name() const override;   // "websocket"
    std::string group() const override;  // "hub"
    // Spawns the connect loop and the upstream writer on ctx's executor; returns at once.
    void start(bus::Context& ctx) override;
    void stop() override;

    bool connected() const;
    EdgeHubStats stats() const;
    // The identity in use (after a join or rotation), if any; thread-safe copy.
    std::optional<NodeCredentials> credentials() const;

    struct Impl;

private:
    std::shared_ptr<Impl> impl_;
};

}  // namespace kedge::edge
