#pragma once
// The kubelet's view of a pod, computed from what the runtime reports (pure; no CRI calls): the
// phase, the conditions and the container statuses, as JSON ready for a `podpatch`. Kept apart
// from the pod manager so the rules (kubelet's getPhase, waiting reasons, restart counts) are
// unit-testable with hand-made observations.

#include <boost/json/object.hpp>

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "base/clock.hpp"

namespace kedge::edge {

// One container instance as the runtime reports it.
struct ObservedContainer {
    std::string id;
    std::int32_t attempt = 0;  // CRI metadata.attempt = the restart count of this instance
    enum class State { created, running, exited, unknown } state = State::unknown;
    std::int32_t exit_code = 0;
    std::string reason, message;  // runtime's (e.g. "OOMKilled", "Completed", "Error")
    Clock::time_point started_at{}, finished_at{};
    std::string image, image_ref;
};

// What edged knows about one container of the spec.
struct ContainerView {
    std::string name;
    std::string image;  // from the spec
    std::optional<ObservedContainer> current;   // latest instance
    std::optional<ObservedContainer> previous;  // the one before (lastState)
    // Why it is not running when edged could not start it (ErrImagePull, ImagePullBackOff,
    // CrashLoopBackOff, CreateContainerConfigError, ContainerCreating, PodInitializing, ...).
    std::string waiting_reason, waiting_message;
    bool ready = false;  // running and (no readiness probe or it passed)
    bool started = false;
};

struct PodView {
    std::string restart_policy = "Always";
    std::vector<ContainerView> init_containers;
    std::vector<ContainerView> containers;
    std::string pod_ip, host_ip;
    std::optional<Clock::time_point> start_time;
    std::string qos_class = "BestEffort";
    // Pod-level condition message, e.g. why volumes could not be prepared.
    std::string pending_message;
};

// The kubelet's phase rules (getPhase).
std::string pod_phase(const PodView& view);

// Remembers when each condition last changed, so lastTransitionTime only moves on a change.
class ConditionClock {
public:
    // The transition time to report for (type, status) now.
    Clock::time_point transition(const std::string& type, const std::string& status,
                                 Clock::time_point now);

private:
    std::map<std::string, std::pair<std::string, Clock::time_point>> last_;
};

// {"phase", "conditions", "hostIP", "podIP", "podIPs", "startTime", "qosClass",
//  "initContainerStatuses"?, "containerStatuses"} — the `status` of a Pod.
boost::json::object pod_status_json(const PodView& view, ConditionClock& clock,
                                    Clock::time_point now);

// The kubelet's QoS class from the containers' requests and limits.
std::string qos_class(const boost::json::object& pod_spec);

}  // namespace kedge::edge
