#pragma once
// The hub-protocol behaviour of one simulated edge node, without any I/O: what it stores
// (the inventory, PROTOCOL.md "Where kedge goes further"), what it acks (§3), the pod status
// patch edged would send for a new pod (§12), and what it measures. SimEdge feeds it the frames
// of a session and sends what it returns; tests drive it directly.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/clock.hpp"
#include "bus/message.hpp"
#include "edgemark/stats.hpp"
#include "hub/inventory.hpp"

namespace kedge::edgemark {

// The annotation a benchmark sets on pods (RFC 3339 with microseconds) so that latency is
// measured more precisely than creationTimestamp's whole seconds allow.
inline constexpr std::string_view kCreatedAtAnnotation = "kedge.io/created-at";

// One node's protocol state. Not thread-safe: owned by its SimEdge's strand.
class EdgeModel {
public:
    EdgeModel(std::string node, FleetStats& stats, const Clock& clock = SystemClock::instance());

    const std::string& node() const { return node_; }
    const hub::Inventory& inventory() const { return inventory_; }
    // True between the resync response and the end of the session.
    bool level() const { return level_; }
    // The summary of the last completed resync.
    const std::optional<hub::ResyncSummary>& last_resync() const { return last_resync_; }
    // When the last resync completed (steady clock), if ever.
    std::optional<std::chrono::steady_clock::time_point> level_at() const { return level_at_; }

    // A session opened: returns the inventory message to send first.
    bus::Message session_opened();
    // The session ended (the next one resyncs again).
    void session_closed();

    // Handles one downstream message that arrived as wire_bytes bytes; returns the messages to
    // send back (acks, pod status patches) in order.
    std::vector<bus::Message> handle(const bus::Message& msg, std::size_t wire_bytes);

    // The keepalive edgehub sends every heartbeat (PROTOCOL.md §2).
    bus::Message keepalive() const;

private:
    void apply_object(const bus::Message& msg, std::vector<bus::Message>& out);
    bus::Message pod_status_patch(const std::string& ns, const std::string& name,
                                  const std::string& uid) const;

    std::string node_;
    FleetStats& stats_;
    const Clock& clock_;
    hub::Inventory inventory_;
    bool level_ = false;
    std::string pending_resync_id_;
    std::chrono::steady_clock::time_point session_start_{};
    std::optional<hub::ResyncSummary> last_resync_;
    std::optional<std::chrono::steady_clock::time_point> level_at_;
};

}  // namespace kedge::edgemark
