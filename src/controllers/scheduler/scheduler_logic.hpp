#pragma once
// The scheduler's decisions as pure functions over Pod and Node JSON: what a pod asks for, which
// nodes fit it (with kube-scheduler's reason strings), the FailedScheduling message, and which
// feasible node is best. No Asio, no clock, no I/O: the controller feeds these from informer
// stores and tests feed them literals.

#include <boost/json/object.hpp>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.hpp"

namespace kedge::controllers::scheduler {

// Amounts by resource name ("cpu", "memory", "nvidia.com/gpu", ...) in milli-units.
using ResourceList = std::map<std::string, std::int64_t, std::less<>>;

inline constexpr std::string_view kDefaultSchedulerName = "default-scheduler";

// kube-scheduler's filter reasons (exact strings: users grep events for them).
inline constexpr std::string_view kReasonUnschedulable = "node(s) were unschedulable";
inline constexpr std::string_view kReasonNotReady = "node(s) were not ready";
inline constexpr std::string_view kReasonAffinity =
    "node(s) didn't match Pod's node affinity/selector";
inline constexpr std::string_view kReasonPorts =
    "node(s) didn't have free ports for the requested pod ports";
inline constexpr std::string_view kReasonTooManyPods = "Too many pods";

// Resources counted for scoring pods that request nothing (kube-scheduler's non-zero defaults).
inline constexpr std::int64_t kDefaultMilliCpuRequest = 100;                            // 100m
inline constexpr std::int64_t kDefaultMemoryRequestMilli = 200LL * 1024 * 1024 * 1000;  // 200Mi

struct Taint {
    std::string key;
    std::string value;
    std::string effect;  // NoSchedule, PreferNoSchedule, NoExecute
};

struct Toleration {
    std::string key;
    std::string op;  // "Equal" (default) or "Exists"
    std::string value;
    std::string effect;  // "" = every effect
};

// One containers[].ports[] entry with a hostPort.
struct HostPort {
    std::string ip;        // "" and "0.0.0.0" mean every address
    std::string protocol;  // TCP (default), UDP, SCTP
    int port = 0;
};

// ---- pods ----

// Whether this scheduler should place the pod: no spec.nodeName, schedulerName "" or
// "default-scheduler", not being deleted, not finished.
bool needs_scheduling(const boost::json::object& pod);
// phase Succeeded or Failed: the pod no longer holds resources on its node.
bool is_terminated(const boost::json::object& pod);

// What a pod holds on a node, in kube-scheduler's arithmetic: per resource, the larger of
// (sum of containers + restartable init containers) and each init container's request (plus
// the sidecars started before it), plus spec.overhead. Limits stand in for absent requests, as
// the API server's defaulting does. invalid_argument for an unparsable quantity.
Result<ResourceList> pod_requests(const boost::json::object& pod);

std::vector<HostPort> pod_host_ports(const boost::json::object& pod);
std::vector<Toleration> pod_tolerations(const boost::json::object& pod);

// Everything about a pod the filters and scores need, computed once per attempt.
struct PodInfo {
    const boost::json::object* pod = nullptr;
    ResourceList requests;
    std::int64_t non_zero_milli_cpu = 0;  // for scoring: pods asking nothing still count
    std::int64_t non_zero_memory = 0;
    std::vector<HostPort> host_ports;
    std::vector<Toleration> tolerations;
    std::string owner_uid;  // the controller ownerReference's uid, "" for bare pods
};
Result<PodInfo> make_pod_info(const boost::json::object& pod);

// ---- nodes ----

std::vector<Taint> node_taints(const boost::json::object& node);
// status.allocatable; entries that do not parse are skipped (count as zero).
ResourceList node_allocatable(const boost::json::object& node);
bool node_ready(const boost::json::object& node);

// A node plus what the pods already on it hold.
struct NodeInfo {
    const boost::json::object* node = nullptr;
    std::string name;
    ResourceList allocatable;
    ResourceList requested;
    std::int64_t pod_count = 0;
    std::int64_t non_zero_milli_cpu = 0;
    std::int64_t non_zero_memory = 0;
    std::vector<HostPort> used_ports;
    std::map<std::string, int, std::less<>> pods_by_owner;  // controller uid -> pods

    // Counts a pod bound (or assumed bound) to this node; terminated pods are ignored.
    void add_pod(const PodInfo& pod);
};
NodeInfo make_node_info(const boost::json::object& node);

// Whether a node change can make an unschedulable pod fit (labels, taints, unschedulable,
// allocatable, Ready), so that status heartbeats do not requeue pods every second.
bool node_scheduling_changed(const boost::json::object& old_node,
                             const boost::json::object& new_node);

// ---- filters (each returns why the node does not fit, nothing when it does) ----

bool tolerates(const Toleration& t, const Taint& taint);
bool tolerates_any(const std::vector<Toleration>& ts, const Taint& taint);
bool host_ports_conflict(const HostPort& a, const HostPort& b);
// spec.nodeSelector plus required node affinity (terms ORed; matchExpressions and matchFields
// of a term ANDed; operators In, NotIn, Exists, DoesNotExist, Gt, Lt; matchFields on
// metadata.name).
bool matches_node_selector_and_affinity(const boost::json::object& pod,
                                        const boost::json::object& node);
// Sum of the weights of the preferred node affinity terms the node matches.
std::int64_t preferred_affinity_weight(const boost::json::object& pod,
                                       const boost::json::object& node);

std::optional<std::string> check_unschedulable(const PodInfo& pod, const NodeInfo& node);
std::optional<std::string> check_taints(const PodInfo& pod, const NodeInfo& node);
std::optional<std::string> check_ready(const NodeInfo& node);
std::optional<std::string> check_affinity(const PodInfo& pod, const NodeInfo& node);
std::optional<std::string> check_host_ports(const PodInfo& pod, const NodeInfo& node);
// "Too many pods", "Insufficient cpu", "Insufficient memory", "Insufficient <resource>": all
// that apply.
std::vector<std::string> check_resources(const PodInfo& pod, const NodeInfo& node);

// Runs the filters in kube-scheduler's order and stops at the first that fails (resources
// report every insufficient resource). Empty = the node fits.
std::vector<std::string> filter_node(const PodInfo& pod, const NodeInfo& node);

// "0/3 nodes are available: 1 node(s) didn't match Pod's node affinity/selector, 2 node(s) had
// untolerated taint {node.kubernetes.io/unreachable: }." Reasons counted over nodes, entries
// "<count> <reason>" sorted as strings, as kube-scheduler prints them.
std::string failure_message(std::size_t total_nodes,
                            const std::map<std::string, int, std::less<>>& reason_counts);

// ---- scoring ----

// Lexicographic preference: fewer untolerated PreferNoSchedule taints, then larger preferred
// affinity weight, then fewer pods of the same owner (spreading), then least allocated.
struct NodeScore {
    std::string node;
    int prefer_no_schedule = 0;
    std::int64_t affinity_weight = 0;
    int same_owner_pods = 0;
    std::int64_t free_score = 0;  // 0..100 average of free cpu and memory after placing the pod
};
NodeScore score_node(const PodInfo& pod, const NodeInfo& node);
// a is a better choice than b (ties broken by node name, so decisions are reproducible).
bool better(const NodeScore& a, const NodeScore& b);

// The outcome of one scheduling attempt.
struct Decision {
    std::optional<std::string> node;  // where to bind; nullopt = unschedulable
    std::string message;              // the FailedScheduling text when unschedulable
};
Decision schedule(const PodInfo& pod, const std::vector<NodeInfo>& nodes);

}  // namespace kedge::controllers::scheduler
