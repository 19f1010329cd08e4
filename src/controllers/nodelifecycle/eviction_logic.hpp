#pragma once
// The taint manager's decisions, without I/O: when a pod on a node with NoExecute taints must be
// deleted, and which pods are marked not ready. Edge autonomy lives here: on an edge node the
// not-ready / unreachable taints never evict and never mark pods not ready, because a
// disconnected edge node keeps running its pods and KubeEdge users expect the same pods back
// when it reconnects.

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include <chrono>
#include <optional>
#include <vector>

#include "base/clock.hpp"
#include "controllers/nodelifecycle/taint_logic.hpp"

namespace kedge::controllers::nodelifecycle {

// The pod's tolerations plus what kube-apiserver's DefaultTolerationSeconds admission would have
// added: not-ready and unreachable NoExecute tolerated for `seconds`, each only when the pod has
// no toleration of its own for that key and NoExecute.
std::vector<Toleration> effective_tolerations(const boost::json::object& pod,
                                              std::chrono::seconds default_seconds);

// When the pod must be deleted because of the node's NoExecute taints: nullopt = never (none, or
// all tolerated forever); otherwise the instant (an untolerated taint: the time it was added, so
// at once). Each taint counts from its timeAdded (`added_fallback` when it has none) plus the
// smallest tolerationSeconds among the tolerations that match it. On an edge node the not-ready
// and unreachable taints are ignored.
std::optional<Clock::time_point> eviction_time(const boost::json::object& pod,
                                               const std::vector<Taint>& taints, bool edge_node,
                                               std::chrono::seconds default_seconds,
                                               Clock::time_point added_fallback);

// The pod's status.conditions with Ready turned False (lastTransitionTime `now`) when it is True
// now; nullopt when there is nothing to change. What Kubernetes does to pods on a node that is
// not ready.
std::optional<boost::json::array> not_ready_conditions(const boost::json::object& pod,
                                                       Clock::time_point now);

// Pods this controller leaves alone: finished or already being deleted.
bool pod_is_terminal_or_deleting(const boost::json::object& pod);

}  // namespace kedge::controllers::nodelifecycle
