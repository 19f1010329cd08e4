#include "controllers/nodelifecycle/eviction_logic.hpp"

#include <algorithm>

#include "kube/object.hpp"
#include "kube/time.hpp"

namespace kedge::controllers::nodelifecycle {

namespace json = boost::json;

namespace {

// Does the pod already carry a toleration for (key, NoExecute), as the admission plugin checks?
bool has_no_execute_toleration_for(const std::vector<Toleration>& tols, std::string_view key) {
    return std::any_of(tols.begin(), tols.end(), [&](const Toleration& t) {
        bool key_ok = t.key == key || (t.key.empty() && t.op == "Exists");
        bool effect_ok = t.effect.empty() || t.effect == kNoExecute;
        return key_ok && effect_ok;
    });
}

}  // namespace

std::vector<Toleration> effective_tolerations(const json::object& pod,
                                              std::chrono::seconds default_seconds) {
    auto tols = pod_tolerations(pod);
    const auto own = tols;
    for (auto key : {kTaintNotReady, kTaintUnreachable}) {
        if (has_no_execute_toleration_for(own, key)) continue;
        tols.push_back(Toleration{std::string(key), "Exists", "", std::string(kNoExecute),
                                  default_seconds.count()});
    }
    return tols;
}

std::optional<Clock::time_point> eviction_time(const json::object& pod,
                                               const std::vector<Taint>& taints, bool edge_node,
                                               std::chrono::seconds default_seconds,
                                               Clock::time_point added_fallback) {
    std::optional<Clock::time_point> when;
    std::optional<std::vector<Toleration>> tols;  // computed on the first NoExecute taint
    for (const auto& taint : taints) {
        if (taint.effect != kNoExecute) continue;
        if (edge_node && (taint.key == kTaintNotReady || taint.key == kTaintUnreachable)) continue;
        if (!tols) tols = effective_tolerations(pod, default_seconds);
        const Clock::time_point start = taint.time_added.value_or(added_fallback);
        bool matched = false;
        std::optional<std::int64_t> seconds;  // smallest finite tolerationSeconds
        for (const auto& t : *tols) {
            if (!t.tolerates(taint)) continue;
            matched = true;
            if (t.seconds) seconds = seconds ? std::min(*seconds, *t.seconds) : *t.seconds;
        }
        Clock::time_point deadline;
        if (!matched) {
            deadline = start;
        } else if (!seconds) {
            continue;  // tolerated for ever
        } else {
            deadline = start + std::chrono::seconds(std::max<std::int64_t>(*seconds, 0));
        }
        if (!when || deadline < *when) when = deadline;
    }
    return when;
}

std::optional<json::array> not_ready_conditions(const json::object& pod, Clock::time_point now) {
    const auto* conds = kube::get_path(pod, "status.conditions");
    if (!conds || !conds->is_array()) return std::nullopt;
    json::array out = conds->as_array();
    bool changed = false;
    for (auto& c : out) {
        if (!c.is_object()) continue;
        auto& o = c.as_object();
        const auto* type = o.if_contains("type");
        const auto* status = o.if_contains("status");
        if (!type || !type->is_string() || type->as_string() != "Ready") continue;
        if (!status || !status->is_string() || status->as_string() != "True") continue;
        o["status"] = "False";
        o["lastTransitionTime"] = kube::format_time(now);
        changed = true;
    }
    if (!changed) return std::nullopt;
    return out;
}

bool pod_is_terminal_or_deleting(const json::object& pod) {
    if (kube::deletion_timestamp(pod)) return true;
    auto phase = kube::get_path_string(pod, "status.phase");
    return phase && (*phase == "Succeeded" || *phase == "Failed");
}

}  // namespace kedge::controllers::nodelifecycle
