#include "controllers/nodelifecycle/node_health_logic.hpp"

#include <algorithm>
#include <array>
#include <vector>

#include "controllers/nodelifecycle/taint_logic.hpp"
#include "kube/object.hpp"
#include "kube/time.hpp"

namespace kedge::controllers::nodelifecycle {

namespace json = boost::json;

namespace {

constexpr std::array<std::string_view, 4> kMonitoredConditions = {"Ready", "MemoryPressure",
                                                                  "DiskPressure", "PIDPressure"};

const json::array* conditions_of(const json::object& node) {
    const auto* v = kube::get_path(node, "status.conditions");
    return v && v->is_array() ? &v->as_array() : nullptr;
}

std::string string_at(const json::object& o, std::string_view key) {
    const auto* v = o.if_contains(key);
    return v && v->is_string() ? std::string(v->as_string()) : std::string();
}

const json::object* find_condition(const json::object& node, std::string_view type) {
    const auto* conds = conditions_of(node);
    if (!conds) return nullptr;
    for (const auto& c : *conds) {
        if (c.is_object() && string_at(c.as_object(), "type") == type) return &c.as_object();
    }
    return nullptr;
}

std::optional<Clock::time_point> time_at(std::string_view text) {
    if (text.empty()) return std::nullopt;
    auto t = kube::parse_time(text);
    if (!t) return std::nullopt;
    return *t;
}

// The conditions a silent node gets: the monitored ones go Unknown (added as never updated when
// absent); nullopt when they already are.
std::optional<json::array> unknown_conditions(const json::object& node, Clock::time_point now) {
    json::array out;
    if (const auto* conds = conditions_of(node)) out = *conds;
    bool changed = false;
    const std::string now_text = kube::format_time(now);
    for (auto type : kMonitoredConditions) {
        json::object* cur = nullptr;
        for (auto& c : out) {
            if (c.is_object() && string_at(c.as_object(), "type") == type) cur = &c.as_object();
        }
        if (!cur) {
            std::string created(kube::creation_timestamp(node));
            out.push_back(json::object{{"type", type},
                                       {"status", "Unknown"},
                                       {"lastHeartbeatTime", created},
                                       {"lastTransitionTime", now_text},
                                       {"reason", kReasonNeverUpdated},
                                       {"message", kMessageNeverUpdated}});
            changed = true;
        } else if (string_at(*cur, "status") != "Unknown") {
            (*cur)["status"] = "Unknown";
            (*cur)["reason"] = kReasonStatusUnknown;
            (*cur)["message"] = kMessageStatusUnknown;
            (*cur)["lastTransitionTime"] = now_text;
            changed = true;
        }
    }
    if (!changed) return std::nullopt;
    return out;
}

}  // namespace

std::string ready_status(const json::object& node) {
    const auto* ready = find_condition(node, "Ready");
    return ready ? string_at(*ready, "status") : std::string();
}

NodeHealth NodeHealthTracker::observe(const json::object& node, const json::object* lease,
                                      Clock::time_point now, Clock::duration grace) {
    NodeHealth h;
    h.observed_ready = ready_status(node);
    std::string heartbeat;
    if (const auto* ready = find_condition(node, "Ready"))
        heartbeat = string_at(*ready, "lastHeartbeatTime");
    std::string renew;
    if (lease) {
        if (auto r = kube::get_path_string(*lease, "spec.renewTime")) renew = *r;
    }

    std::string name(kube::name(node));
    auto it = seen_.find(name);
    if (it == seen_.end()) {
        // First sight: the newest of heartbeat, renewal and creation, never in the future.
        Clock::time_point probe = Clock::time_point::min();
        for (auto text : {std::string_view(heartbeat), std::string_view(renew),
                          kube::creation_timestamp(node)}) {
            if (auto t = time_at(text)) probe = std::max(probe, *t);
        }
        if (probe == Clock::time_point::min() || probe > now) probe = now;
        it = seen_.emplace(name, Seen{heartbeat, renew, probe}).first;
    } else if (it->second.heartbeat != heartbeat || it->second.renew != renew) {
        it->second = Seen{heartbeat, renew, now};
    }

    h.stale = now - it->second.probe > grace;
    if (h.stale) {
        h.ready = "Unknown";
        h.conditions = unknown_conditions(node, now);
    } else {
        h.ready = h.observed_ready;
    }
    return h;
}

void NodeHealthTracker::forget(std::string_view node) {
    if (auto it = seen_.find(node); it != seen_.end()) seen_.erase(it);
}

std::optional<json::array> desired_taints(const json::object& node, std::string_view ready,
                                          Clock::time_point now) {
    struct Managed {
        std::string_view key;
        std::string_view effect;
        bool want;
    };
    const bool leave_ready_taints = ready.empty();
    const bool not_ready = ready == "False";
    const bool unreachable = ready == "Unknown";
    const auto* unsched = kube::get_path(node, "spec.unschedulable");
    const bool unschedulable = unsched && unsched->is_bool() && unsched->as_bool();
    std::vector<Managed> managed = {{kTaintUnschedulable, kNoSchedule, unschedulable}};
    if (!leave_ready_taints) {
        managed.push_back({kTaintNotReady, kNoSchedule, not_ready});
        managed.push_back({kTaintNotReady, kNoExecute, not_ready});
        managed.push_back({kTaintUnreachable, kNoSchedule, unreachable});
        managed.push_back({kTaintUnreachable, kNoExecute, unreachable});
    }

    json::array out;
    std::vector<bool> present(managed.size(), false);
    bool changed = false;
    const auto* cur = kube::get_path(node, "spec.taints");
    if (cur && cur->is_array()) {
        for (const auto& t : cur->as_array()) {
            if (t.is_object()) {
                const auto& o = t.as_object();
                std::string key = string_at(o, "key"), effect = string_at(o, "effect");
                auto m = std::find_if(managed.begin(), managed.end(), [&](const Managed& x) {
                    return x.key == key && x.effect == effect;
                });
                if (m != managed.end()) {
                    auto i = static_cast<std::size_t>(m - managed.begin());
                    if (!m->want || present[i]) {  // unwanted, or a duplicate
                        changed = true;
                        continue;
                    }
                    present[i] = true;
                }
            }
            out.push_back(t);
        }
    }
    for (std::size_t i = 0; i < managed.size(); ++i) {
        if (!managed[i].want || present[i]) continue;
        out.push_back(
            Taint{std::string(managed[i].key), "", std::string(managed[i].effect), now}.to_json());
        changed = true;
    }
    if (!changed) return std::nullopt;
    return out;
}

bool is_edge_node(const json::object& node, std::string_view edge_label) {
    return !edge_label.empty() && kube::label(node, edge_label).has_value();
}

}  // namespace kedge::controllers::nodelifecycle
