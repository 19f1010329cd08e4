#pragma once
// The ReplicaSet controller's decisions as pure functions on JSON objects (no Asio, no API
// calls): which pods count, which to adopt or release, which to delete first on scale-down, the
// pod a template makes, and the status a set of pods adds up to. The Deployment controller
// reuses the owner/claim helpers for its ReplicaSets.

#include <boost/json/object.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/clock.hpp"
#include "kube/label_selector.hpp"

namespace kedge::controllers::replicaset {

// ---- small JSON readers shared by the workload controllers ----

// An integer field by dotted path (int64, uint64 or integral double); fallback when absent.
std::int64_t int_at(const boost::json::object& obj, std::string_view path,
                    std::int64_t fallback = 0);
// spec.replicas, defaulting to 1 as the API does.
std::int64_t spec_replicas(const boost::json::object& obj);

// ---- pods ----

// Counts toward a controller's replicas: not terminated (Succeeded/Failed) and not terminating.
bool is_pod_active(const boost::json::object& pod);
// The pod's Ready condition is True.
bool is_pod_ready(const boost::json::object& pod);
// Ready for at least min_ready_seconds at `now` (Ready's lastTransitionTime).
bool is_pod_available(const boost::json::object& pod, std::int64_t min_ready_seconds,
                      Clock::time_point now);

// ---- ownership (client-go's ControllerRefManager) ----

enum class ClaimAction {
    kIgnore,   // controlled by someone else, or an orphan we must not adopt
    kOwned,    // ours and matching
    kAdopt,    // a matching orphan: patch our controller reference in
    kRelease,  // ours but no longer matching: patch our reference out
};

// What `owner` (a ReplicaSet or Deployment, with metadata.uid) does with `obj` given its
// selector. Objects being deleted are never adopted; an owner being deleted adopts and
// releases nothing.
ClaimAction claim(const boost::json::object& owner, const kube::LabelSelector& selector,
                  const boost::json::object& obj);

// The ownerReference an owner puts on what it controls (controller and blockOwnerDeletion true).
boost::json::object controller_ref(const boost::json::object& owner);
// Strategic merge patches that add / remove the owner's controller reference.
std::string adopt_patch(const boost::json::object& owner);
std::string release_patch(const boost::json::object& owner);

// ---- creating and deleting pods ----

// The pod a ReplicaSet makes from spec.template: generateName "<rs>-", the template's labels,
// annotations, finalizers and spec, and the controller reference.
boost::json::object pod_from_template(const boost::json::object& rs);

// The `count` pods to delete first on scale-down, least valuable first: unscheduled before
// scheduled, Pending before Unknown before Running, not ready before ready, pods doubled up on a
// node with other `related` pods before lone ones, recently ready before long ready, more
// restarts before fewer, newer before older. `related` are the active pods of the owner's
// siblings (and its own); pass `pods` when there are none.
std::vector<const boost::json::object*> pods_to_delete(
    const std::vector<const boost::json::object*>& pods,
    const std::vector<const boost::json::object*>& related, std::size_t count);

// ---- status ----

// What a ReplicaSet's status reports (besides conditions).
struct ReplicaSetCounts {
    std::int64_t replicas = 0;
    std::int64_t fully_labeled_replicas = 0;
    std::int64_t ready_replicas = 0;
    std::int64_t available_replicas = 0;
    std::int64_t observed_generation = 0;

    friend bool operator==(const ReplicaSetCounts&, const ReplicaSetCounts&) = default;
};

// Counts over the ReplicaSet's active, owned pods.
ReplicaSetCounts compute_counts(const boost::json::object& rs,
                                const std::vector<const boost::json::object*>& pods,
                                Clock::time_point now);

// Why the last manage step failed, reported as the ReplicaFailure condition.
struct ReplicaFailure {
    std::string reason;  // "FailedCreate" / "FailedDelete"
    std::string message;
};

// The status to write: the old status with the counts set and the ReplicaFailure condition
// added (failure) or removed (none).
boost::json::object next_status(const boost::json::object& rs, const ReplicaSetCounts& counts,
                                const std::optional<ReplicaFailure>& failure,
                                Clock::time_point now);

// True when `status` differs from the ReplicaSet's current status (numbers compared by value).
bool status_changed(const boost::json::object& rs, const boost::json::object& status);

}  // namespace kedge::controllers::replicaset
