#pragma once
// cloudhub's WebSocket side (PROTOCOL.md §2, §3): the WSS server on :10000 that holds one
// mutually-authenticated session per edge node, drives each node's NodeSendQueue (coalescing,
// acks, resends), consumes keepalives and acks, and hands every other upstream message to the
// cloud modules through HubObserver. Modules send to nodes through MessageSink.

#include <boost/asio/any_io_executor.hpp>

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "base/clock.hpp"
#include "base/error.hpp"
#include "bus/message.hpp"
#include "cloud/hub/node_send_queue.hpp"
#include "net/tls_context.hpp"

namespace kedge::cloud {

// How cloud modules (edge controller, device controller) reach nodes. Thread-safe.
class MessageSink {
  public:
    virtual ~MessageSink() = default;
    // Queues msg for node. msg.route.resource is the edge-side form ("<ns>/<type>/<name>"); the
    // hub writes it as-is. errc::unavailable when the node has no session (the module resyncs it
    // when it connects), errc::queue_full when the node's queue is full (nothing is dropped
    // silently: the caller retries or resyncs).
    virtual Result<void> send(const std::string& node, bus::Message msg) = 0;
    virtual bool is_connected(const std::string& node) const = 0;
};

// What the hub tells the cloud modules. Called from session strands (any hub thread):
// implementations post to their own executor and return quickly.
class HubObserver {
  public:
    virtual ~HubObserver() = default;
    // After the upgrade, before any upstream message of that session. A node that reconnects
    // (or replaces its session) gets node_connected again.
    virtual void node_connected(const std::string& node) = 0;
    // When the node's (last) session ended. Not called for a session that was replaced.
    virtual void node_disconnected(const std::string& node) = 0;
    // Every upstream message except keepalives, transport control and acks. The resource is
    // as the edge sent it ("<ns>/<type>/<name>"); node is the authenticated node.
    virtual void upstream(const std::string& node, bus::Message msg) = 0;
    // An ACK-mode message the node acknowledged (for ObjectSync bookkeeping).
    virtual void acked(const std::string& node, const bus::Message& msg) {}
};

struct CloudHubOptions {
    std::string address = "0.0.0.0";
    unsigned short port = 10000;  // 0 picks a free one (tests)
    // Server context that REQUIRES client certificates chaining to the hub CA.
    std::shared_ptr<net::TlsContext> tls;
    std::size_t node_limit = 1000;  // sessions beyond it are refused (503)
    // A session silent (no frame at all) for this long is closed.
    std::chrono::milliseconds keepalive_interval{30'000};
    std::chrono::milliseconds handshake_timeout{30'000};
    std::size_t max_message_bytes = 16 * 1024 * 1024;  // larger frames close the session (1009)
    SendQueueOptions queue;
    // Accept upstream v1.15 edge certificates (CN=kubeedge.io) for any node_id: logged, off by
    // default (PROTOCOL.md §12).
    bool allow_legacy_node_certificates = false;
};

// Counters for /metrics and tests.
struct HubStats {
    std::size_t connected_nodes = 0;
    std::uint64_t sessions_opened = 0, sessions_closed = 0, sessions_replaced = 0;
    std::map<std::string, std::uint64_t> handshake_failures;  // by reason ("cn_mismatch", ...)
    std::map<std::string, std::uint64_t> messages_in;          // by operation
    std::map<std::string, std::uint64_t> messages_out;         // by operation
    std::uint64_t bytes_in = 0, bytes_out = 0;
    std::uint64_t malformed_frames = 0;
    std::size_t queue_depth = 0;    // sum over nodes
    std::size_t pending_acks = 0;   // sum over nodes
    std::uint64_t send_unavailable = 0, send_queue_full = 0;
};

class CloudHub : public MessageSink {
  public:
    // ex: a multi-threaded io_context's executor; each session runs on its own strand.
    static Result<std::shared_ptr<CloudHub>> make(boost::asio::any_io_executor ex,
                                                  CloudHubOptions options,
                                                  std::shared_ptr<HubObserver> observer,
                                                  const Clock& clock = SystemClock::instance());
    ~CloudHub() override = default;

    virtual Result<void> start() = 0;
    // Closes every session (1001) and stops accepting.
    virtual void stop() = 0;
    virtual unsigned short port() const = 0;
    // New sessions use this context (CA or server certificate rotation).
    virtual void set_tls_context(std::shared_ptr<net::TlsContext> tls) = 0;

    virtual std::vector<std::string> connected_nodes() const = 0;
    virtual HubStats stats() const = 0;
};

}  // namespace kedge::cloud
