#pragma once
// The node health decision of the node lifecycle controller, without I/O: is a node's kubelet
// still posting (Ready condition heartbeat or Lease renewal), what its conditions become when it
// is not, and which not-ready / unreachable taints it should carry.

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "base/clock.hpp"

namespace kedge::controllers::nodelifecycle {

inline constexpr std::string_view kReasonStatusUnknown = "NodeStatusUnknown";
inline constexpr std::string_view kMessageStatusUnknown = "Kubelet stopped posting node status.";
inline constexpr std::string_view kReasonNeverUpdated = "NodeStatusNeverUpdated";
inline constexpr std::string_view kMessageNeverUpdated = "Kubelet never posted node status.";

// What the controller concluded about one node at one instant.
struct NodeHealth {
    std::string observed_ready;  // the Ready condition's status as posted ("" when absent)
    std::string ready;           // effective: observed, or "Unknown" when stale
    bool stale = false;          // neither heartbeat nor Lease renewed within the grace period
    // status.conditions to write (nodes/status) when they must change, else nullopt.
    std::optional<boost::json::array> conditions;
};

// Remembers, per node, the last heartbeat and Lease renewal it saw and when (on the controller's
// clock) one of them last changed. The first sight of a node trusts the timestamps themselves
// (a node that was already silent is caught at once); afterwards only changes count, so a node
// whose clock is off by minutes is judged by when its updates arrive, not by what they say.
class NodeHealthTracker {
public:
    // lease: kube-node-lease/<node>, or nullptr when there is none.
    NodeHealth observe(const boost::json::object& node, const boost::json::object* lease,
                       Clock::time_point now, Clock::duration grace);
    void forget(std::string_view node);
    std::size_t size() const { return seen_.size(); }

private:
    struct Seen {
        std::string heartbeat;
        std::string renew;
        Clock::time_point probe;
    };
    std::map<std::string, Seen, std::less<>> seen_;
};

// The Ready condition's status ("True", "False", "Unknown"; "" when the node has none).
std::string ready_status(const boost::json::object& node);

// node.spec.taints after applying the node lifecycle rules: ready "False" -> not-ready NoSchedule
// and NoExecute, "Unknown" -> unreachable NoSchedule and NoExecute, "True" -> neither (for ""
// they are left as they are); spec.unschedulable -> unschedulable NoSchedule. Taints that stay
// keep their timeAdded; new ones get `now`; other taints are untouched. nullopt = no change.
std::optional<boost::json::array> desired_taints(const boost::json::object& node,
                                                 std::string_view ready, Clock::time_point now);

// True when the node carries the edge label (any value).
bool is_edge_node(const boost::json::object& node, std::string_view edge_label);

}  // namespace kedge::controllers::nodelifecycle
