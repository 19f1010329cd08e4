#pragma once
// The DaemonSet controller's decisions, without I/O: which nodes a DaemonSet wants a pod on, the
// pod it creates there, which pods to create and delete (including a RollingUpdate step bounded
// by maxUnavailable) and the status that `kubectl rollout status ds/x` reads.

#include <boost/json/object.hpp>

#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "base/clock.hpp"

namespace kedge::controllers::daemonset {

inline constexpr std::string_view kRevisionHashLabel = "controller-revision-hash";
inline constexpr std::string_view kTemplateGenerationLabel = "pod-template-generation";

// Whether a daemon pod belongs on a node (kube's NodeShouldRunDaemonPod): should_run when the
// node matches nodeSelector / required node affinity and its NoSchedule and NoExecute taints are
// tolerated (with the automatic DaemonSet tolerations); should_continue_running when a pod that
// is already there may stay (it matches and only NoExecute taints count).
struct NodeFit {
    bool should_run = false;
    bool should_continue_running = false;
};
NodeFit node_should_run_daemon_pod(const boost::json::object& ds, const boost::json::object& node);

// nodeSelector and requiredDuringSchedulingIgnoredDuringExecution of a pod spec against a node
// (matchExpressions In/NotIn/Exists/DoesNotExist/Gt/Lt, matchFields on metadata.name).
bool node_matches_pod_spec(const boost::json::object& pod_spec, const boost::json::object& node);

// Adds the tolerations every daemon pod gets (not-ready and unreachable NoExecute for ever;
// disk/memory/pid-pressure and unschedulable NoSchedule; network-unavailable for hostNetwork),
// replacing pod tolerations with the same key, operator and effect.
void add_daemon_tolerations(boost::json::object& pod_spec);

// The pod to create for `ds` on `node`: the template with the controller-revision-hash and
// pod-template-generation labels, the daemon tolerations, required node affinity pinned to the
// node with matchFields metadata.name (the scheduler binds it), and the DaemonSet as controller.
boost::json::object new_daemon_pod(const boost::json::object& ds, std::string_view node,
                                   std::string_view hash);

// The node a daemon pod is for: spec.nodeName, else the matchFields metadata.name pin.
std::string target_node_name(const boost::json::object& pod);

bool pod_is_ready(const boost::json::object& pod);
bool pod_is_available(const boost::json::object& pod, std::int64_t min_ready_seconds,
                      Clock::time_point now);

// maxUnavailable of a RollingUpdate resolved against the desired count (int or "N%", rounded
// up; never below 1). OnDelete returns 0.
int resolve_max_unavailable(const boost::json::object& ds, int desired);

// Everything one sync needs; pointers stay owned by the caller (informer stores).
struct DaemonSetInput {
    const boost::json::object* ds = nullptr;
    std::vector<const boost::json::object*> nodes;
    std::vector<const boost::json::object*> pods;  // pods this DaemonSet controls
    std::string hash;                              // current revision's hash
    Clock::time_point now;
    // Nodes with a pod created but not yet seen in the store, and pods asked to be deleted that
    // the store still shows alive: how the controller avoids acting twice on stale caches.
    std::set<std::string, std::less<>> creating;
    std::set<std::string, std::less<>> deleting;
};

// What one sync does.
struct DaemonSetPlan {
    std::vector<std::string> create_on;    // node names, sorted
    std::vector<std::string> delete_pods;  // pod names
    boost::json::object status;            // the DaemonSetStatus to write
};

DaemonSetPlan plan_daemonset(const DaemonSetInput& in);

}  // namespace kedge::controllers::daemonset
