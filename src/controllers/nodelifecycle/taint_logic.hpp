#pragma once
// Node taints and pod tolerations as Kubernetes matches them (core/v1 ToleratesTaint), shared by
// the node lifecycle controller (NoExecute eviction) and the DaemonSet controller (which nodes a
// daemon pod fits).

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/clock.hpp"

namespace kedge::controllers::nodelifecycle {

// Taint keys the node lifecycle controller and the kubelet put on nodes.
inline constexpr std::string_view kTaintNotReady = "node.kubernetes.io/not-ready";
inline constexpr std::string_view kTaintUnreachable = "node.kubernetes.io/unreachable";
inline constexpr std::string_view kTaintUnschedulable = "node.kubernetes.io/unschedulable";
inline constexpr std::string_view kTaintDiskPressure = "node.kubernetes.io/disk-pressure";
inline constexpr std::string_view kTaintMemoryPressure = "node.kubernetes.io/memory-pressure";
inline constexpr std::string_view kTaintPidPressure = "node.kubernetes.io/pid-pressure";
inline constexpr std::string_view kTaintNetworkUnavailable =
    "node.kubernetes.io/network-unavailable";

inline constexpr std::string_view kNoSchedule = "NoSchedule";
inline constexpr std::string_view kPreferNoSchedule = "PreferNoSchedule";
inline constexpr std::string_view kNoExecute = "NoExecute";

// One entry of node.spec.taints.
struct Taint {
    std::string key;
    std::string value;
    std::string effect;
    std::optional<Clock::time_point> time_added;  // absent or unparsable: nullopt

    boost::json::object to_json() const;
};

// One entry of pod.spec.tolerations.
struct Toleration {
    std::string key;
    std::string op = "Equal";  // "Equal" or "Exists"
    std::string value;
    std::string effect;                   // "" tolerates every effect
    std::optional<std::int64_t> seconds;  // tolerationSeconds (NoExecute only)

    boost::json::object to_json() const;
    bool tolerates(const Taint& taint) const;
};

// node.spec.taints; malformed entries are skipped.
std::vector<Taint> node_taints(const boost::json::object& node);
// spec.tolerations of a pod or of a pod template's spec holder ({spec: {...}}).
std::vector<Toleration> pod_tolerations(const boost::json::object& pod);
std::vector<Toleration> tolerations_from_json(const boost::json::value* tolerations);

bool tolerated(const std::vector<Toleration>& tolerations, const Taint& taint);
// The first taint with one of the given effects that no toleration tolerates.
std::optional<Taint> first_untolerated(const std::vector<Taint>& taints,
                                       const std::vector<Toleration>& tolerations,
                                       std::initializer_list<std::string_view> effects);

}  // namespace kedge::controllers::nodelifecycle
