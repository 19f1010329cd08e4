#include "edge/edged/pod_status.hpp"

#include <boost/json.hpp>

#include "kube/time.hpp"

namespace kedge::edge {

namespace json = boost::json;

namespace {

bool terminated(const ContainerView& c) {
    return c.current && c.current->state == ObservedContainer::State::exited;
}
bool running(const ContainerView& c) {
    return c.current && c.current->state == ObservedContainer::State::running;
}

json::object terminated_json(const ObservedContainer& o) {
    json::object t{{"exitCode", o.exit_code},
                   {"reason", !o.reason.empty() ? o.reason
                                                : (o.exit_code == 0 ? "Completed" : "Error")},
                   {"containerID", "containerd://" + o.id}};
    if (!o.message.empty()) t["message"] = o.message;
    if (o.started_at != Clock::time_point{}) t["startedAt"] = kube::format_time(o.started_at);
    if (o.finished_at != Clock::time_point{}) t["finishedAt"] = kube::format_time(o.finished_at);
    return t;
}

json::object container_status_json(const ContainerView& c) {
    json::object st{{"name", c.name}, {"image", c.image}, {"imageID", ""}, {"ready", c.ready}};
    std::int32_t restarts = 0;
    json::object state, last;
    if (c.current) {
        const auto& o = *c.current;
        restarts = o.attempt;
        st["containerID"] = "containerd://" + o.id;
        if (!o.image_ref.empty()) st["imageID"] = o.image_ref;
        if (o.state == ObservedContainer::State::running && c.waiting_reason.empty()) {
            json::object r;
            if (o.started_at != Clock::time_point{}) r["startedAt"] = kube::format_time(o.started_at);
            state["running"] = std::move(r);
        } else if (o.state == ObservedContainer::State::exited && c.waiting_reason.empty()) {
            state["terminated"] = terminated_json(o);
        } else if (o.state == ObservedContainer::State::exited) {
            // Back-off or a failed restart: waiting now, the exit is the last state.
            last["terminated"] = terminated_json(o);
        }
    }
    if (state.empty()) {
        json::object w{{"reason", c.waiting_reason.empty() ? "ContainerCreating" : c.waiting_reason}};
        if (!c.waiting_message.empty()) w["message"] = c.waiting_message;
        state["waiting"] = std::move(w);
    }
    if (last.empty() && c.previous && c.previous->state == ObservedContainer::State::exited)
        last["terminated"] = terminated_json(*c.previous);
    st["state"] = std::move(state);
    st["lastState"] = std::move(last);
    st["restartCount"] = restarts;
    st["started"] = c.started;
    return st;
}

}  // namespace

std::string pod_phase(const PodView& v) {
    // Init containers: all must have completed successfully before the pod is initialized.
    for (const auto& c : v.init_containers) {
        if (terminated(c) && c.current->exit_code == 0) continue;
        if (terminated(c) && v.restart_policy == "Never") return "Failed";
        return "Pending";
    }
    int run = 0, waiting = 0, stopped = 0, succeeded = 0;
    for (const auto& c : v.containers) {
        if (running(c) && c.waiting_reason.empty()) {
            ++run;
        } else if (terminated(c)) {
            ++stopped;
            if (c.current->exit_code == 0) ++succeeded;
        } else if (c.previous || (c.current && c.current->state == ObservedContainer::State::exited)) {
            ++stopped;  // waiting to restart after an exit
        } else {
            ++waiting;
        }
    }
    if (waiting > 0) return "Pending";
    if (run > 0) return "Running";
    if (stopped > 0) {
        if (v.restart_policy == "Always") return "Running";
        if (stopped == succeeded) return "Succeeded";
        if (v.restart_policy == "Never") return "Failed";
        return "Running";
    }
    return "Pending";
}

Clock::time_point ConditionClock::transition(const std::string& type, const std::string& status,
                                             Clock::time_point now) {
    auto it = last_.find(type);
    if (it != last_.end() && it->second.first == status) return it->second.second;
    last_[type] = {status, now};
    return now;
}

json::object pod_status_json(const PodView& v, ConditionClock& clock, Clock::time_point now) {
    bool initialized = true;
    for (const auto& c : v.init_containers)
        if (!(terminated(c) && c.current->exit_code == 0)) initialized = false;
    bool containers_ready = !v.containers.empty();
    for (const auto& c : v.containers)
        if (!c.ready) containers_ready = false;
    std::string phase = pod_phase(v);
    bool done = phase == "Succeeded" || phase == "Failed";

    auto cond = [&](const std::string& type, bool ok, std::string reason = {},
                    std::string message = {}) {
        std::string status = ok ? "True" : "False";
        json::object c{{"type", type},
                       {"status", status},
                       {"lastProbeTime", nullptr},
                       {"lastTransitionTime", kube::format_time(clock.transition(type, status, now))}};
        if (!ok && !reason.empty()) c["reason"] = reason;
        if (!ok && !message.empty()) c["message"] = message;
        return c;
    };
    std::string unready;
    for (const auto& c : v.containers)
        if (!c.ready) unready += (unready.empty() ? "" : " ") + c.name;
    std::string not_ready_msg = "containers with unready status: [" + unready + "]";
    json::array conditions{
        cond("Initialized", initialized, "ContainersNotInitialized",
             v.pending_message.empty() ? "containers with incomplete status" : v.pending_message),
        cond("Ready", containers_ready, done ? "PodCompleted" : "ContainersNotReady",
             done ? "" : not_ready_msg),
        cond("ContainersReady", containers_ready, done ? "PodCompleted" : "ContainersNotReady",
             done ? "" : not_ready_msg),
        cond("PodScheduled", true),
    };
    json::object st{{"phase", phase}, {"conditions", std::move(conditions)}, {"qosClass", v.qos_class}};
    if (!v.host_ip.empty()) st["hostIP"] = v.host_ip;
    if (!v.pod_ip.empty()) {
        st["podIP"] = v.pod_ip;
        st["podIPs"] = json::array{json::object{{"ip", v.pod_ip}}};
    }
    if (v.start_time) st["startTime"] = kube::format_time(*v.start_time);
    if (!v.init_containers.empty()) {
        json::array a;
        for (const auto& c : v.init_containers) a.push_back(container_status_json(c));
        st["initContainerStatuses"] = std::move(a);
    }
    json::array cs;
    for (const auto& c : v.containers) cs.push_back(container_status_json(c));
    st["containerStatuses"] = std::move(cs);
    return st;
}

std::string qos_class(const json::object& spec) {
    bool any = false, guaranteed = true;
    auto scan = [&](const json::value* list) {
        if (!list || !list->is_array()) return;
        for (const auto& c : list->as_array()) {
            const json::object* res = nullptr;
            if (c.is_object())
                if (auto r = c.as_object().if_contains("resources"); r && r->is_object())
                    res = &r->as_object();
            const json::object* req = nullptr;
            const json::object* lim = nullptr;
            if (res) {
                if (auto p = res->if_contains("requests"); p && p->is_object()) req = &p->as_object();
                if (auto p = res->if_contains("limits"); p && p->is_object()) lim = &p->as_object();
            }
            for (const char* r : {"cpu", "memory"}) {
                const json::value* rq = req ? req->if_contains(r) : nullptr;
                const json::value* lm = lim ? lim->if_contains(r) : nullptr;
                if (rq || lm) any = true;
                // Guaranteed: limits set for cpu and memory and requests equal (or defaulted).
                if (!lm || (rq && *rq != *lm)) guaranteed = false;
            }
        }
    };
    scan(spec.if_contains("initContainers"));
    scan(spec.if_contains("containers"));
    if (!any) return "BestEffort";
    return guaranteed ? "Guaranteed" : "Burstable";
}

}  // namespace kedge::edge
