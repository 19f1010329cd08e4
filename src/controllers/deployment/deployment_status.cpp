// Deployment status and its conditions (Available, Progressing), as kubectl rollout status
// reads them.

#include <boost/json.hpp>

#include "controllers/deployment/deployment_logic.hpp"
#include "controllers/replicaset/replicaset_logic.hpp"
#include "kube/object.hpp"
#include "kube/patch.hpp"
#include "kube/time.hpp"

namespace kedge::controllers::deployment {
namespace json = boost::json;
using replicaset::int_at;
using replicaset::spec_replicas;

namespace {

constexpr std::string_view kProgressing = "Progressing";
constexpr std::string_view kAvailable = "Available";
constexpr std::string_view kReplicaFailure = "ReplicaFailure";
constexpr std::string_view kNewRsAvailable = "NewReplicaSetAvailable";
constexpr std::string_view kTimedOut = "ProgressDeadlineExceeded";

std::string_view str(const json::object& o, std::string_view key) {
    const json::value* v = o.if_contains(key);
    return v && v->is_string() ? std::string_view(v->get_string()) : std::string_view{};
}

// progressDeadlineSeconds (the API defaults it to 600); nullopt for "no deadline".
std::optional<std::int64_t> progress_deadline(const json::object& d) {
    std::int64_t v = int_at(d, "spec.progressDeadlineSeconds", 600);
    if (v == 2147483647) return std::nullopt;
    return v;
}

std::int64_t sum(const Objects& rss, std::string_view path) {
    std::int64_t n = 0;
    for (const auto* rs : rss)
        if (rs) n += int_at(*rs, path, 0);
    return n;
}

std::string rs_name(const json::object* rs) { return rs ? std::string(kube::name(*rs)) : ""; }

}  // namespace

json::object status_of(const json::object& obj) {
    const json::value* s = obj.if_contains("status");
    return s && s->is_object() ? s->get_object() : json::object{};
}

bool status_differs(const json::object& a, const json::object& b) {
    return !kube::json_equal(json::value(a), json::value(b));
}

const json::object* get_condition(const json::object& status, std::string_view type) {
    const json::value* cs = status.if_contains("conditions");
    if (!cs || !cs->is_array()) return nullptr;
    for (const auto& c : cs->get_array()) {
        const json::object* o = c.if_object();
        if (o && str(*o, "type") == type) return o;
    }
    return nullptr;
}

void remove_condition(json::object& status, std::string_view type) {
    json::value* cs = status.if_contains("conditions");
    if (!cs || !cs->is_array()) return;
    json::array kept;
    for (const auto& c : cs->get_array()) {
        const json::object* o = c.if_object();
        if (o && str(*o, "type") == type) continue;
        kept.push_back(c);
    }
    *cs = std::move(kept);
}

void set_condition(json::object& status, json::object condition) {
    std::string type(str(condition, "type"));
    if (const json::object* cur = get_condition(status, type)) {
        if (str(*cur, "status") == str(condition, "status") &&
            str(*cur, "reason") == str(condition, "reason"))
            return;
        if (str(*cur, "status") == str(condition, "status")) {
            if (const json::value* t = cur->if_contains("lastTransitionTime"))
                condition["lastTransitionTime"] = *t;
        }
    }
    remove_condition(status, type);
    json::value& cs = status["conditions"];
    if (!cs.is_array()) cs = json::array{};
    cs.get_array().push_back(std::move(condition));
}

json::object make_condition(std::string_view type, std::string_view status, std::string_view reason,
                            std::string message, Clock::time_point now) {
    std::string t = kube::format_time(now);
    return json::object{{"type", type},        {"status", status},
                        {"lastUpdateTime", t}, {"lastTransitionTime", t},
                        {"reason", reason},    {"message", std::move(message)}};
}

json::object calculate_status(const json::object& d, const Strategy& s, const Objects& all_rss,
                              const json::object* new_rs, Clock::time_point now) {
    const std::int64_t available = sum(all_rss, "status.availableReplicas");
    std::int64_t total_spec = 0;
    for (const auto* rs : all_rss)
        if (rs) total_spec += spec_replicas(*rs);
    json::object status;
    status["observedGeneration"] = kube::generation(d);
    status["replicas"] = sum(all_rss, "status.replicas");
    status["updatedReplicas"] = new_rs ? int_at(*new_rs, "status.replicas", 0) : 0;
    status["readyReplicas"] = sum(all_rss, "status.readyReplicas");
    status["availableReplicas"] = available;
    status["unavailableReplicas"] = std::max<std::int64_t>(total_spec - available, 0);
    if (const json::value* cc = kube::get_path(d, "status.collisionCount"))
        status["collisionCount"] = *cc;
    json::object old = status_of(d);
    if (const json::value* cs = old.if_contains("conditions")) status["conditions"] = *cs;

    const std::int64_t max_unavailable = s.recreate ? 0 : s.max_unavailable;
    if (available >= spec_replicas(d) - max_unavailable) {
        set_condition(status, make_condition(kAvailable, "True", "MinimumReplicasAvailable",
                                             "Deployment has minimum availability.", now));
    } else {
        set_condition(status,
                      make_condition(kAvailable, "False", "MinimumReplicasUnavailable",
                                     "Deployment does not have minimum availability.", now));
    }
    return status;
}

bool deployment_complete(const json::object& d, const json::object& status) {
    const std::int64_t want = spec_replicas(d);
    return int_at(status, "updatedReplicas", 0) == want && int_at(status, "replicas", 0) == want &&
           int_at(status, "availableReplicas", 0) == want &&
           int_at(status, "observedGeneration", 0) >= kube::generation(d);
}

namespace {

bool progressing(const json::object& d, const json::object& now_status) {
    json::object old = status_of(d);
    const std::int64_t old_old = int_at(old, "replicas", 0) - int_at(old, "updatedReplicas", 0);
    const std::int64_t new_old =
        int_at(now_status, "replicas", 0) - int_at(now_status, "updatedReplicas", 0);
    return int_at(now_status, "updatedReplicas", 0) > int_at(old, "updatedReplicas", 0) ||
           new_old < old_old ||
           int_at(now_status, "readyReplicas", 0) > int_at(old, "readyReplicas", 0) ||
           int_at(now_status, "availableReplicas", 0) > int_at(old, "availableReplicas", 0);
}

bool timed_out(const json::object& d, const json::object& status, Clock::time_point now) {
    auto deadline = progress_deadline(d);
    if (!deadline) return false;
    const json::object* c = get_condition(status, kProgressing);
    if (!c) return false;
    if (str(*c, "reason") == kNewRsAvailable) return false;
    if (str(*c, "reason") == kTimedOut) return true;
    auto from = kube::parse_time(str(*c, "lastUpdateTime"));
    if (!from) return false;
    return *from + std::chrono::seconds(*deadline) < now;
}

}  // namespace

json::object rollout_status(const json::object& d, const Strategy& s, const Objects& all_rss,
                            const json::object* new_rs, Clock::time_point now) {
    json::object status = calculate_status(d, s, all_rss, new_rs, now);
    const auto deadline = progress_deadline(d);
    if (!deadline) remove_condition(status, kProgressing);
    const json::object* current = get_condition(status, kProgressing);
    const bool complete_before =
        int_at(status, "replicas", 0) == int_at(status, "updatedReplicas", 0) && current &&
        str(*current, "reason") == kNewRsAvailable;
    if (deadline && !complete_before) {
        if (deployment_complete(d, status)) {
            std::string msg =
                new_rs ? "ReplicaSet \"" + rs_name(new_rs) + "\" has successfully progressed."
                       : "Deployment has successfully progressed.";
            set_condition(
                status, make_condition(kProgressing, "True", kNewRsAvailable, std::move(msg), now));
        } else if (progressing(d, status)) {
            std::string msg = new_rs ? "ReplicaSet \"" + rs_name(new_rs) + "\" is progressing."
                                     : "Deployment is progressing.";
            json::object cond =
                make_condition(kProgressing, "True", "ReplicaSetUpdated", std::move(msg), now);
            // Progress refreshes lastUpdateTime (the deadline counts from it) even when the
            // reason stays the same.
            if (current && str(*current, "status") == "True") {
                if (const json::value* t = current->if_contains("lastTransitionTime"))
                    cond["lastTransitionTime"] = *t;
            }
            remove_condition(status, kProgressing);
            set_condition(status, std::move(cond));
        } else if (timed_out(d, status, now)) {
            std::string msg =
                new_rs ? "ReplicaSet \"" + rs_name(new_rs) + "\" has timed out progressing."
                       : "Deployment has timed out progressing.";
            set_condition(status,
                          make_condition(kProgressing, "False", kTimedOut, std::move(msg), now));
        }
    }
    // A ReplicaSet that cannot create pods makes the deployment fail too.
    std::optional<json::object> failure;
    for (const auto* rs : all_rss) {
        if (!rs) continue;
        json::object rs_status = status_of(*rs);
        if (const json::object* c = get_condition(rs_status, kReplicaFailure)) {
            failure = *c;
            break;
        }
    }
    if (failure) {
        json::object cond = std::move(*failure);
        if (!cond.contains("lastUpdateTime") && cond.contains("lastTransitionTime"))
            cond["lastUpdateTime"] = cond["lastTransitionTime"];
        set_condition(status, std::move(cond));
    } else {
        remove_condition(status, kReplicaFailure);
    }
    return status;
}

std::optional<std::chrono::seconds> progress_recheck_after(const json::object& d,
                                                           const json::object& status,
                                                           Clock::time_point now) {
    auto deadline = progress_deadline(d);
    const json::object* c = get_condition(status, kProgressing);
    if (!deadline || !c) return std::nullopt;
    if (deployment_complete(d, status) || str(*c, "reason") == kTimedOut) return std::nullopt;
    if (str(*c, "reason") == "DeploymentPaused") return std::nullopt;
    auto from = kube::parse_time(str(*c, "lastUpdateTime"));
    if (!from) return std::nullopt;
    auto after = std::chrono::duration_cast<std::chrono::seconds>(
        *from + std::chrono::seconds(*deadline) - now);
    if (after < std::chrono::seconds(1)) return std::chrono::seconds(1);
    return after + std::chrono::seconds(1);
}

std::optional<json::object> paused_status(const json::object& d, Clock::time_point now) {
    json::object status = status_of(d);
    const json::object* c = get_condition(status, kProgressing);
    const json::value* p = kube::get_path(d, "spec.paused");
    const bool paused = p && p->is_bool() && p->get_bool();
    const bool paused_cond = c && str(*c, "reason") == "DeploymentPaused";
    if (paused && !paused_cond) {
        set_condition(status, make_condition(kProgressing, "Unknown", "DeploymentPaused",
                                             "Deployment is paused", now));
        return status;
    }
    if (!paused && paused_cond) {
        set_condition(status, make_condition(kProgressing, "Unknown", "DeploymentResumed",
                                             "Deployment is resumed", now));
        return status;
    }
    return std::nullopt;
}

}  // namespace kedge::controllers::deployment
