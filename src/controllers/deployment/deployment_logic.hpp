#pragma once
// The Deployment controller's decisions as pure functions on JSON objects (no Asio, no API
// calls): the pod-template-hash, which ReplicaSet is "new", the revision annotations, the
// rolling-update / Recreate / proportional-scaling arithmetic (as lists of scale steps), history
// cleanup, and the status with its Available and Progressing conditions. The controller applies
// what these return.

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/clock.hpp"
#include "base/error.hpp"

namespace kedge::controllers::deployment {

inline constexpr std::string_view kPodTemplateHashLabel = "pod-template-hash";
inline constexpr std::string_view kRevisionAnnotation = "deployment.kubernetes.io/revision";
inline constexpr std::string_view kRevisionHistoryAnnotation =
    "deployment.kubernetes.io/revision-history";
inline constexpr std::string_view kDesiredReplicasAnnotation =
    "deployment.kubernetes.io/desired-replicas";
inline constexpr std::string_view kMaxReplicasAnnotation = "deployment.kubernetes.io/max-replicas";

using Objects = std::vector<const boost::json::object*>;

// ---- templates ----

// A stable hash of a pod template (its pod-template-hash label ignored; nulls and empty
// maps/lists ignored, key order ignored) and the collision count, encoded like Kubernetes'
// (FNV-1a 32, decimal, then safe-encoded into [bcdfghjklmnpqrstvwxz2456789]).
std::string compute_hash(const boost::json::value& pod_template,
                         std::optional<std::int64_t> collision_count);
// Two pod templates are the same apart from their pod-template-hash labels.
bool equal_ignore_hash(const boost::json::value& a, const boost::json::value& b);

// ---- strategy ----

// spec.strategy resolved against spec.replicas.
struct Strategy {
    bool recreate = false;
    std::int64_t max_surge = 0;        // rounded up; 0 for Recreate
    std::int64_t max_unavailable = 0;  // rounded down, at most replicas; 0 for Recreate
};

// An int-or-percent ("25%") against total; nullptr = `fallback` (e.g. "25%").
Result<std::int64_t> scaled_value(const boost::json::value* v, std::string_view fallback,
                                  std::int64_t total, bool round_up);
// invalid_argument naming the field for an unknown strategy type or a bad int-or-percent.
Result<Strategy> resolve_strategy(const boost::json::object& deployment);

// ---- ReplicaSets of a deployment ----

// metadata.annotations[revision] as a number; 0 when absent or malformed.
std::int64_t revision_of(const boost::json::object& rs);
std::int64_t max_revision(const Objects& rss);
// The oldest ReplicaSet whose template equals the deployment's (ignoring the hash), or nullptr.
const boost::json::object* find_new_rs(const boost::json::object& deployment, const Objects& rss);
// ReplicaSets with spec.replicas > 0.
Objects active(const Objects& rss);

// Brings a ReplicaSet's annotations in line with its deployment's: copies the deployment's own
// annotations (not the controller's, not kubectl's last-applied), raises the revision to
// new_revision (recording the previous one in revision-history), and for a ReplicaSet being
// created sets desired-replicas/max-replicas. True when rs changed.
bool set_new_rs_annotations(const boost::json::object& deployment, boost::json::object& rs,
                            std::int64_t new_revision, bool exists);
// desired-replicas / max-replicas; true when they changed.
bool set_replicas_annotations(boost::json::object& rs, std::int64_t desired, std::int64_t max);

// The ReplicaSet the deployment's current template makes: name "<deploy>-<hash>", the hash as
// a label on its selector, template and itself, owned by the deployment.
boost::json::object new_replica_set(const boost::json::object& deployment, const Strategy& s,
                                    std::int64_t replicas, std::int64_t revision);

// ---- scaling decisions ----

// One ReplicaSet to resize.
struct ScaleStep {
    std::string name;
    std::int64_t replicas = 0;
    friend bool operator==(const ScaleStep&, const ScaleStep&) = default;
};

// The size of the new ReplicaSet the next rolling step (or Recreate) wants.
std::int64_t new_rs_new_replicas(const boost::json::object& deployment, const Strategy& s,
                                 const Objects& all_rss, const boost::json::object& new_rs);

// One step of a rolling update: scale the new ReplicaSet up within maxSurge; if it needs no
// change, scale old ones down within maxUnavailable (unhealthy replicas first, oldest first).
std::vector<ScaleStep> plan_rolling(const boost::json::object& deployment, const Strategy& s,
                                    const boost::json::object* new_rs, const Objects& old_rss);

// Recreate: every old ReplicaSet to 0 first; the new one to spec.replicas only once no old
// pod is left (old_pods_running false). new_rs may be null (not created yet).
std::vector<ScaleStep> plan_recreate(const boost::json::object& deployment,
                                     const boost::json::object* new_rs, const Objects& old_rss,
                                     bool old_pods_running);

// True when some active ReplicaSet was sized for a different spec.replicas (its
// desired-replicas annotation): a scale, handled by plan_scale rather than a rollout step.
bool is_scaling_event(const boost::json::object& deployment, const Objects& all_rss);

// Resizes for a changed spec.replicas: the only active ReplicaSet takes it all; otherwise
// (during a rolling update) the difference is spread proportionally to their sizes.
std::vector<ScaleStep> plan_scale(const boost::json::object& deployment, const Strategy& s,
                                  const boost::json::object* new_rs, const Objects& old_rss);

// Names of old ReplicaSets beyond revisionHistoryLimit (oldest revision first) that are
// fully scaled down and may be deleted.
std::vector<std::string> cleanup_candidates(const boost::json::object& deployment,
                                            const Objects& old_rss,
                                            std::int64_t default_history_limit);

// ---- status ----

// A condition in status.conditions by type, or nullptr.
const boost::json::object* get_condition(const boost::json::object& status, std::string_view type);
// Adds or replaces a condition; keeps lastTransitionTime when the status did not change, and
// changes nothing when status and reason are the same.
void set_condition(boost::json::object& status, boost::json::object condition);
void remove_condition(boost::json::object& status, std::string_view type);
boost::json::object make_condition(std::string_view type, std::string_view status,
                                   std::string_view reason, std::string message,
                                   Clock::time_point now);

// Replica counts from the ReplicaSets, observedGeneration, and the Available condition.
boost::json::object calculate_status(const boost::json::object& deployment, const Strategy& s,
                                     const Objects& all_rss, const boost::json::object* new_rs,
                                     Clock::time_point now);
// calculate_status plus the Progressing condition of a rollout (NewReplicaSetAvailable,
// ReplicaSetUpdated, ProgressDeadlineExceeded).
boost::json::object rollout_status(const boost::json::object& deployment, const Strategy& s,
                                   const Objects& all_rss, const boost::json::object* new_rs,
                                   Clock::time_point now);
// All of spec.replicas updated, available and no old ones left, for the current generation.
bool deployment_complete(const boost::json::object& deployment, const boost::json::object& status);
// When a progressing rollout should be looked at again to notice its deadline passing.
std::optional<std::chrono::seconds> progress_recheck_after(const boost::json::object& deployment,
                                                           const boost::json::object& status,
                                                           Clock::time_point now);
// The status with Progressing=Unknown DeploymentPaused / DeploymentResumed when spec.paused
// changed since the condition was written; nullopt when nothing changes.
std::optional<boost::json::object> paused_status(const boost::json::object& deployment,
                                                 Clock::time_point now);
// The deployment's current status object ({} when absent).
boost::json::object status_of(const boost::json::object& obj);
// True when the two statuses differ (numbers by value).
bool status_differs(const boost::json::object& a, const boost::json::object& b);

}  // namespace kedge::controllers::deployment
