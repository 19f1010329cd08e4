#include "controllers/replicaset/replicaset_logic.hpp"

#include <boost/json.hpp>

#include <algorithm>
#include <cmath>
#include <map>
#include <tuple>

#include "kube/object.hpp"
#include "kube/patch.hpp"
#include "kube/time.hpp"

namespace kedge::controllers::replicaset {
namespace json = boost::json;

std::int64_t int_at(const json::object& obj, std::string_view path, std::int64_t fallback) {
    const json::value* v = kube::get_path(obj, path);
    if (v == nullptr) return fallback;
    if (v->is_int64()) return v->get_int64();
    if (v->is_uint64()) return static_cast<std::int64_t>(v->get_uint64());
    if (v->is_double()) {
        double d = v->get_double();
        if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 9e15)
            return static_cast<std::int64_t>(d);
    }
    return fallback;
}

std::int64_t spec_replicas(const json::object& obj) { return int_at(obj, "spec.replicas", 1); }

// ---------------------------------------------------------------------------------------------
// pods

namespace {

std::string_view phase_of(const json::object& pod) {
    const json::value* v = kube::get_path(pod, "status.phase");
    return v && v->is_string() ? std::string_view(v->get_string()) : std::string_view{};
}

const json::object* ready_condition(const json::object& pod) {
    const json::value* cs = kube::get_path(pod, "status.conditions");
    if (!cs || !cs->is_array()) return nullptr;
    for (const auto& c : cs->get_array()) {
        const json::object* o = c.if_object();
        if (!o) continue;
        const json::value* t = o->if_contains("type");
        if (t && t->is_string() && t->get_string() == "Ready") return o;
    }
    return nullptr;
}

std::optional<Clock::time_point> time_field(const json::object& o, std::string_view key) {
    const json::value* v = o.if_contains(key);
    if (!v || !v->is_string()) return std::nullopt;
    auto t = kube::parse_time(v->get_string());
    if (!t) return std::nullopt;
    return *t;
}

}  // namespace

bool is_pod_active(const json::object& pod) {
    auto phase = phase_of(pod);
    return phase != "Succeeded" && phase != "Failed" && !kube::deletion_timestamp(pod);
}

bool is_pod_ready(const json::object& pod) {
    const json::object* c = ready_condition(pod);
    if (!c) return false;
    const json::value* s = c->if_contains("status");
    return s && s->is_string() && s->get_string() == "True";
}

bool is_pod_available(const json::object& pod, std::int64_t min_ready_seconds,
                      Clock::time_point now) {
    if (!is_pod_ready(pod)) return false;
    if (min_ready_seconds <= 0) return true;
    auto since = time_field(*ready_condition(pod), "lastTransitionTime");
    // A Ready condition without a time cannot prove minReadySeconds have passed.
    if (!since) return false;
    return *since + std::chrono::seconds(min_ready_seconds) <= now;
}

// ---------------------------------------------------------------------------------------------
// ownership

ClaimAction claim(const json::object& owner, const kube::LabelSelector& selector,
                  const json::object& obj) {
    const bool owner_deleting = kube::deletion_timestamp(owner).has_value();
    const bool matches = selector.matches_object(obj);
    if (auto ref = kube::controller_of(obj)) {
        if (ref->uid != kube::uid(owner)) return ClaimAction::kIgnore;
        if (matches) return ClaimAction::kOwned;
        // A deleting owner keeps what it has, so the garbage collector can see it.
        return owner_deleting ? ClaimAction::kIgnore : ClaimAction::kRelease;
    }
    if (owner_deleting || !matches || kube::deletion_timestamp(obj)) return ClaimAction::kIgnore;
    // An object in another namespace can never be ours (callers list one namespace anyway).
    if (kube::namespace_of(obj) != kube::namespace_of(owner)) return ClaimAction::kIgnore;
    return ClaimAction::kAdopt;
}

json::object controller_ref(const json::object& owner) {
    return json::object{{"apiVersion", kube::api_version(owner)},
                        {"kind", kube::kind(owner)},
                        {"name", kube::name(owner)},
                        {"uid", kube::uid(owner)},
                        {"controller", true},
                        {"blockOwnerDeletion", true}};
}

std::string adopt_patch(const json::object& owner) {
    json::object patch{
        {"metadata", json::object{{"ownerReferences", json::array{controller_ref(owner)}}}}};
    return json::serialize(patch);
}

std::string release_patch(const json::object& owner) {
    json::object entry{{"$patch", "delete"}, {"uid", kube::uid(owner)}};
    json::object patch{{"metadata", json::object{{"ownerReferences", json::array{entry}}}}};
    return json::serialize(patch);
}

// ---------------------------------------------------------------------------------------------
// creating and deleting pods

json::object pod_from_template(const json::object& rs) {
    json::object pod{{"apiVersion", "v1"}, {"kind", "Pod"}};
    json::object md;
    md["generateName"] = std::string(kube::name(rs)) + "-";
    md["namespace"] = kube::namespace_of(rs);
    const json::value* tmd = kube::get_path(rs, "spec.template.metadata");
    if (tmd && tmd->is_object()) {
        for (const char* k : {"labels", "annotations", "finalizers"}) {
            if (const json::value* v = tmd->get_object().if_contains(k); v && !v->is_null())
                md[k] = *v;
        }
    }
    md["ownerReferences"] = json::array{controller_ref(rs)};
    pod["metadata"] = std::move(md);
    const json::value* spec = kube::get_path(rs, "spec.template.spec");
    pod["spec"] = spec && spec->is_object() ? spec->get_object() : json::object{};
    return pod;
}

namespace {

int phase_rank(const json::object& pod) {
    auto p = phase_of(pod);
    if (p == "Pending") return 0;
    if (p == "Unknown") return 1;
    if (p == "Running") return 2;
    return 0;  // no phase yet: as good as Pending
}

std::int64_t restart_count(const json::object& pod) {
    std::int64_t max = 0;
    const json::value* cs = kube::get_path(pod, "status.containerStatuses");
    if (!cs || !cs->is_array()) return 0;
    for (const auto& c : cs->get_array())
        if (c.is_object()) max = std::max(max, int_at(c.get_object(), "restartCount", 0));
    return max;
}

std::string_view node_of(const json::object& pod) {
    const json::value* v = kube::get_path(pod, "spec.nodeName");
    return v && v->is_string() ? std::string_view(v->get_string()) : std::string_view{};
}

struct Ranked {
    const json::object* pod;
    std::size_t colocated;  // related active pods on the same node
    bool assigned;
    int phase;
    bool ready;
    std::optional<Clock::time_point> ready_since;
    std::int64_t restarts;
    std::optional<Clock::time_point> created;
};

// a is less valuable than b (deleted first).
bool less_valuable(const Ranked& a, const Ranked& b) {
    if (a.assigned != b.assigned) return !a.assigned;
    if (a.phase != b.phase) return a.phase < b.phase;
    if (a.ready != b.ready) return !a.ready;
    if (a.colocated != b.colocated) return a.colocated > b.colocated;
    if (a.ready && b.ready && a.ready_since != b.ready_since) {
        // Ready more recently (or unknown) is less valuable.
        if (!a.ready_since) return true;
        if (!b.ready_since) return false;
        return *a.ready_since > *b.ready_since;
    }
    if (a.restarts != b.restarts) return a.restarts > b.restarts;
    if (a.created != b.created) {
        if (!a.created) return true;
        if (!b.created) return false;
        return *a.created > *b.created;
    }
    return kube::name(*a.pod) < kube::name(*b.pod);  // deterministic tie-break
}

}  // namespace

std::vector<const json::object*> pods_to_delete(const std::vector<const json::object*>& pods,
                                                const std::vector<const json::object*>& related,
                                                std::size_t count) {
    std::map<std::string_view, std::size_t> on_node;
    for (const json::object* p : related) {
        if (!p || !is_pod_active(*p)) continue;
        auto node = node_of(*p);
        if (!node.empty()) ++on_node[node];
    }
    std::vector<Ranked> ranked;
    ranked.reserve(pods.size());
    for (const json::object* p : pods) {
        if (!p) continue;
        Ranked r{p,
                 0,
                 false,
                 phase_rank(*p),
                 is_pod_ready(*p),
                 std::nullopt,
                 restart_count(*p),
                 std::nullopt};
        auto node = node_of(*p);
        r.assigned = !node.empty();
        if (r.assigned) {
            auto it = on_node.find(node);
            r.colocated = it == on_node.end() ? 0 : it->second;
        }
        if (r.ready) r.ready_since = time_field(*ready_condition(*p), "lastTransitionTime");
        if (auto c = kube::creation_timestamp(*p); !c.empty()) {
            if (auto t = kube::parse_time(c)) r.created = *t;
        }
        ranked.push_back(r);
    }
    std::stable_sort(ranked.begin(), ranked.end(), less_valuable);
    std::vector<const json::object*> out;
    for (std::size_t i = 0; i < ranked.size() && i < count; ++i) out.push_back(ranked[i].pod);
    return out;
}

// ---------------------------------------------------------------------------------------------
// status

namespace {

bool has_template_labels(const json::object& rs, const json::object& pod) {
    const json::value* tl = kube::get_path(rs, "spec.template.metadata.labels");
    if (!tl || !tl->is_object()) return true;
    for (const auto& [k, v] : tl->get_object()) {
        if (!v.is_string()) continue;
        auto l = kube::label(pod, k);
        if (!l || *l != v.get_string()) return false;
    }
    return true;
}

}  // namespace

ReplicaSetCounts compute_counts(const json::object& rs,
                                const std::vector<const json::object*>& pods,
                                Clock::time_point now) {
    ReplicaSetCounts c;
    const std::int64_t min_ready = int_at(rs, "spec.minReadySeconds", 0);
    for (const json::object* p : pods) {
        if (!p) continue;
        ++c.replicas;
        if (has_template_labels(rs, *p)) ++c.fully_labeled_replicas;
        if (is_pod_ready(*p)) {
            ++c.ready_replicas;
            if (is_pod_available(*p, min_ready, now)) ++c.available_replicas;
        }
    }
    c.observed_generation = kube::generation(rs);
    return c;
}

json::object next_status(const json::object& rs, const ReplicaSetCounts& counts,
                         const std::optional<ReplicaFailure>& failure, Clock::time_point now) {
    json::object status;
    if (const json::value* s = rs.if_contains("status"); s && s->is_object())
        status = s->get_object();
    status["replicas"] = counts.replicas;
    status["fullyLabeledReplicas"] = counts.fully_labeled_replicas;
    status["readyReplicas"] = counts.ready_replicas;
    status["availableReplicas"] = counts.available_replicas;
    status["observedGeneration"] = counts.observed_generation;

    json::array conditions;
    const json::object* existing = nullptr;
    if (const json::value* cs = status.if_contains("conditions"); cs && cs->is_array()) {
        for (const auto& c : cs->get_array()) {
            const json::object* o = c.if_object();
            const json::value* t = o ? o->if_contains("type") : nullptr;
            if (t && t->is_string() && t->get_string() == "ReplicaFailure") {
                existing = o;
                continue;
            }
            conditions.push_back(c);
        }
    }
    if (failure) {
        json::object cond{{"type", "ReplicaFailure"},
                          {"status", "True"},
                          {"reason", failure->reason},
                          {"message", failure->message},
                          {"lastTransitionTime", kube::format_time(now)}};
        if (existing) {
            const json::value* s = existing->if_contains("status");
            const json::value* t = existing->if_contains("lastTransitionTime");
            if (s && s->is_string() && s->get_string() == "True" && t)
                cond["lastTransitionTime"] = *t;
        }
        conditions.push_back(std::move(cond));
    }
    if (conditions.empty())
        status.erase("conditions");
    else
        status["conditions"] = std::move(conditions);
    return status;
}

bool status_changed(const json::object& rs, const json::object& status) {
    const json::value* s = rs.if_contains("status");
    json::value current = s ? *s : json::value(json::object{});
    return !kube::json_equal(current, json::value(status));
}

}  // namespace kedge::controllers::replicaset
