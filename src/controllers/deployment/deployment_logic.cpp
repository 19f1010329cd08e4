// Templates, strategy, annotations and the scaling arithmetic of the Deployment controller.
// (Status and conditions are in deployment_status.cpp.)

#include "controllers/deployment/deployment_logic.hpp"

#include <boost/json.hpp>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <map>

#include "controllers/replicaset/replicaset_logic.hpp"
#include "kube/object.hpp"
#include "kube/time.hpp"

namespace kedge::controllers::deployment {
namespace json = boost::json;
using replicaset::int_at;
using replicaset::spec_replicas;

namespace {

// ---- canonical form for hashing and comparing templates ----

// Drops nulls and empty maps/lists (Kubernetes compares templates semantically, where nil and
// empty are the same). Returns false when the value itself is "empty".
bool normalize(json::value& v) {
    if (v.is_null()) return false;
    if (v.is_object()) {
        auto& o = v.get_object();
        for (auto it = o.begin(); it != o.end();) {
            if (!normalize(it->value()))
                it = o.erase(it);
            else
                ++it;
        }
        return !o.empty();
    }
    if (v.is_array()) {
        auto& a = v.get_array();
        for (auto& e : a)
            if (!normalize(e)) e = json::object{};  // keep positions
        return !a.empty();
    }
    return true;
}

// JSON with object keys sorted and integral numbers written as integers.
std::string canonical_template(const json::value& tmpl) {
    json::value copy = tmpl;
    if (copy.is_object()) {
        if (auto* md = copy.get_object().if_contains("metadata"); md && md->is_object()) {
            if (auto* l = md->get_object().if_contains("labels"); l && l->is_object())
                l->get_object().erase(kPodTemplateHashLabel);
        }
    }
    normalize(copy);
    return kube::canonical_json(copy);
}

std::uint32_t fnv1a32(std::string_view data, std::uint32_t h = 2166136261u) {
    for (unsigned char c : data) {
        h ^= c;
        h *= 16777619u;
    }
    return h;
}

std::string_view annotation_or_empty(const json::object& o, std::string_view key) {
    return kube::annotation(o, key).value_or(std::string_view{});
}

std::optional<std::int64_t> parse_int(std::string_view s) {
    std::int64_t v = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || p != s.data() + s.size() || s.empty()) return std::nullopt;
    return v;
}

// Available replicas as far as scaling decisions may count them: a ReplicaSet just scaled down
// still reports its old availability until its controller catches up, and counting those
// replicas would let the next step take down more than maxUnavailable allows.
std::int64_t available_of(const json::object& rs) {
    return std::min(int_at(rs, "status.availableReplicas", 0), spec_replicas(rs));
}

Clock::time_point created_at(const json::object& o) {
    auto t = kube::parse_time(kube::creation_timestamp(o));
    return t ? *t : Clock::time_point{};
}

// Oldest first; ties by name so the order is total.
void sort_by_creation(Objects& rss) {
    std::stable_sort(rss.begin(), rss.end(), [](const json::object* a, const json::object* b) {
        auto ta = created_at(*a), tb = created_at(*b);
        if (ta != tb) return ta < tb;
        return kube::name(*a) < kube::name(*b);
    });
}

std::int64_t sum_spec(const Objects& rss) {
    std::int64_t n = 0;
    for (const auto* rs : rss) n += spec_replicas(*rs);
    return n;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// templates

std::string compute_hash(const json::value& pod_template,
                         std::optional<std::int64_t> collision_count) {
    std::uint32_t h = fnv1a32(canonical_template(pod_template));
    if (collision_count) {
        auto c = static_cast<std::uint32_t>(*collision_count);
        unsigned char bytes[8] = {static_cast<unsigned char>(c & 0xff),
                                  static_cast<unsigned char>((c >> 8) & 0xff),
                                  static_cast<unsigned char>((c >> 16) & 0xff),
                                  static_cast<unsigned char>((c >> 24) & 0xff),
                                  0,
                                  0,
                                  0,
                                  0};
        h = fnv1a32(std::string_view(reinterpret_cast<const char*>(bytes), 8), h);
    }
    static constexpr std::string_view kAlphanums = "bcdfghjklmnpqrstvwxz2456789";
    std::string decimal = std::to_string(h);
    std::string out;
    for (unsigned char c : decimal) out += kAlphanums[c % kAlphanums.size()];
    return out;
}

bool equal_ignore_hash(const json::value& a, const json::value& b) {
    return canonical_template(a) == canonical_template(b);
}

// ---------------------------------------------------------------------------------------------
// strategy

Result<std::int64_t> scaled_value(const json::value* v, std::string_view fallback,
                                  std::int64_t total, bool round_up) {
    if (v == nullptr || v->is_null()) {
        json::value f = json::string(fallback);
        return scaled_value(&f, {}, total, round_up);
    }
    if (v->is_int64()) return v->get_int64();
    if (v->is_uint64()) return static_cast<std::int64_t>(v->get_uint64());
    if (v->is_string()) {
        std::string_view s = v->get_string();
        if (!s.ends_with('%'))
            return Error(errc::invalid_argument,
                         "invalid value \"" + std::string(s) + "\": a string must be a percentage");
        auto pct = parse_int(s.substr(0, s.size() - 1));
        if (!pct || *pct < 0)
            return Error(errc::invalid_argument, "invalid value \"" + std::string(s) + "\"");
        double scaled = static_cast<double>(*pct) * static_cast<double>(total) / 100.0;
        return static_cast<std::int64_t>(round_up ? std::ceil(scaled) : std::floor(scaled));
    }
    return Error(errc::invalid_argument,
                 "invalid value " + json::serialize(*v) + ": must be an integer or a percentage");
}

Result<Strategy> resolve_strategy(const json::object& d) {
    Strategy s;
    const json::value* type = kube::get_path(d, "spec.strategy.type");
    std::string_view t = type && type->is_string() ? std::string_view(type->get_string()) : "";
    if (t == "Recreate") {
        s.recreate = true;
        return s;
    }
    if (!t.empty() && t != "RollingUpdate")
        return Error(errc::invalid_argument,
                     "spec.strategy.type: unsupported value \"" + std::string(t) + "\"");
    const std::int64_t replicas = spec_replicas(d);
    auto surge = scaled_value(kube::get_path(d, "spec.strategy.rollingUpdate.maxSurge"), "25%",
                              replicas, true);
    if (!surge)
        return Error(errc::invalid_argument,
                     "spec.strategy.rollingUpdate.maxSurge: " + surge.error().detail);
    auto unavailable = scaled_value(kube::get_path(d, "spec.strategy.rollingUpdate.maxUnavailable"),
                                    "25%", replicas, false);
    if (!unavailable)
        return Error(errc::invalid_argument,
                     "spec.strategy.rollingUpdate.maxUnavailable: " + unavailable.error().detail);
    s.max_surge = std::max<std::int64_t>(*surge, 0);
    s.max_unavailable = std::max<std::int64_t>(*unavailable, 0);
    // Both zero could never make progress.
    if (s.max_surge == 0 && s.max_unavailable == 0) s.max_unavailable = 1;
    s.max_unavailable = std::min(s.max_unavailable, replicas);
    return s;
}

// ---------------------------------------------------------------------------------------------
// ReplicaSets of a deployment

std::int64_t revision_of(const json::object& rs) {
    return parse_int(annotation_or_empty(rs, kRevisionAnnotation)).value_or(0);
}

std::int64_t max_revision(const Objects& rss) {
    std::int64_t m = 0;
    for (const auto* rs : rss) m = std::max(m, revision_of(*rs));
    return m;
}

const json::object* find_new_rs(const json::object& d, const Objects& rss) {
    const json::value* tmpl = kube::get_path(d, "spec.template");
    if (!tmpl) return nullptr;
    Objects sorted = rss;
    sort_by_creation(sorted);
    for (const auto* rs : sorted) {
        const json::value* t = kube::get_path(*rs, "spec.template");
        if (t && equal_ignore_hash(*t, *tmpl)) return rs;
    }
    return nullptr;
}

Objects active(const Objects& rss) {
    Objects out;
    for (const auto* rs : rss)
        if (rs && spec_replicas(*rs) > 0) out.push_back(rs);
    return out;
}

namespace {

bool skipped_annotation(std::string_view k) {
    return k == "kubectl.kubernetes.io/last-applied-configuration" || k == kRevisionAnnotation ||
           k == kRevisionHistoryAnnotation || k == kDesiredReplicasAnnotation ||
           k == kMaxReplicasAnnotation || k == "deprecated.deployment.rollback.to";
}

constexpr std::size_t kMaxRevisionHistoryChars = 2000;

}  // namespace

bool set_new_rs_annotations(const json::object& d, json::object& rs, std::int64_t new_revision,
                            bool exists) {
    bool changed = false;
    for (const auto& [k, v] : kube::annotations(d)) {
        if (skipped_annotation(k)) continue;
        if (kube::annotation(rs, k) == std::optional<std::string_view>(v)) continue;
        kube::set_annotation(rs, k, v);
        changed = true;
    }
    auto old = kube::annotation(rs, kRevisionAnnotation);
    std::int64_t old_revision = 0;
    if (old) {
        auto parsed = parse_int(*old);
        if (!parsed) return changed;  // someone else's value: leave it alone
        old_revision = *parsed;
    }
    if (old_revision < new_revision) {
        std::string previous = old ? std::string(*old) : std::string();
        kube::set_annotation(rs, kRevisionAnnotation, std::to_string(new_revision));
        changed = true;
        // Reused for a rollback: keep the revisions it had before.
        if (!previous.empty()) {
            std::string history(annotation_or_empty(rs, kRevisionHistoryAnnotation));
            std::vector<std::string> entries;
            for (std::size_t pos = 0; !history.empty() && pos <= history.size();) {
                auto comma = history.find(',', pos);
                if (comma == std::string::npos) comma = history.size();
                entries.push_back(history.substr(pos, comma - pos));
                pos = comma + 1;
            }
            entries.push_back(previous);
            std::size_t total = 0;
            for (const auto& e : entries) total += e.size() + 1;
            std::size_t start = 0;
            while (total - 1 > kMaxRevisionHistoryChars && start + 1 < entries.size())
                total -= entries[start++].size() + 1;
            std::string joined;
            for (std::size_t i = start; i < entries.size(); ++i) {
                if (!joined.empty()) joined += ',';
                joined += entries[i];
            }
            kube::set_annotation(rs, kRevisionHistoryAnnotation, joined);
        }
    }
    if (!exists) {
        auto s = resolve_strategy(d);
        std::int64_t surge = s && !s->recreate ? s->max_surge : 0;
        if (set_replicas_annotations(rs, spec_replicas(d), spec_replicas(d) + surge))
            changed = true;
    }
    return changed;
}

bool set_replicas_annotations(json::object& rs, std::int64_t desired, std::int64_t max) {
    bool changed = false;
    std::string d = std::to_string(desired), m = std::to_string(max);
    if (annotation_or_empty(rs, kDesiredReplicasAnnotation) != d) {
        kube::set_annotation(rs, kDesiredReplicasAnnotation, d);
        changed = true;
    }
    if (annotation_or_empty(rs, kMaxReplicasAnnotation) != m) {
        kube::set_annotation(rs, kMaxReplicasAnnotation, m);
        changed = true;
    }
    return changed;
}

json::object new_replica_set(const json::object& d, const Strategy& s, std::int64_t replicas,
                             std::int64_t revision) {
    std::optional<std::int64_t> collisions;
    if (kube::get_path(d, "status.collisionCount"))
        collisions = int_at(d, "status.collisionCount", 0);
    const json::value* tmpl_v = kube::get_path(d, "spec.template");
    json::object tmpl = tmpl_v && tmpl_v->is_object() ? tmpl_v->get_object() : json::object{};
    const std::string hash = compute_hash(tmpl, collisions);
    kube::set_label(tmpl, kPodTemplateHashLabel, hash);  // on template.metadata.labels

    json::object selector;
    if (const json::value* sel = kube::get_path(d, "spec.selector"); sel && sel->is_object())
        selector = sel->get_object();
    json::value& ml = selector["matchLabels"];
    if (!ml.is_object()) ml = json::object{};
    ml.get_object()[kPodTemplateHashLabel] = hash;

    json::object rs{{"apiVersion", "apps/v1"}, {"kind", "ReplicaSet"}};
    json::object md;
    md["name"] = std::string(kube::name(d)) + "-" + hash;
    md["namespace"] = kube::namespace_of(d);
    if (auto* l = kube::get_path(tmpl, "metadata.labels"); l && l->is_object()) md["labels"] = *l;
    md["ownerReferences"] = json::array{replicaset::controller_ref(d)};
    rs["metadata"] = std::move(md);
    json::object spec{{"replicas", replicas},
                      {"minReadySeconds", int_at(d, "spec.minReadySeconds", 0)},
                      {"selector", std::move(selector)},
                      {"template", std::move(tmpl)}};
    rs["spec"] = std::move(spec);
    set_new_rs_annotations(d, rs, revision, false);
    // The max-replicas annotation follows the strategy given (the caller resolved it).
    set_replicas_annotations(rs, spec_replicas(d),
                             spec_replicas(d) + (s.recreate ? 0 : s.max_surge));
    return rs;
}

// ---------------------------------------------------------------------------------------------
// scaling decisions

std::int64_t new_rs_new_replicas(const json::object& d, const Strategy& s, const Objects& all_rss,
                                 const json::object& new_rs) {
    const std::int64_t desired = spec_replicas(d);
    if (s.recreate) return desired;
    const std::int64_t current = sum_spec(all_rss);
    const std::int64_t max_total = desired + s.max_surge;
    const std::int64_t new_size = spec_replicas(new_rs);
    if (current >= max_total) return new_size;
    std::int64_t up = std::min(max_total - current, desired - new_size);
    return new_size + std::max<std::int64_t>(up, 0);
}

std::vector<ScaleStep> plan_rolling(const json::object& d, const Strategy& s,
                                    const json::object* new_rs, const Objects& old_rss) {
    std::vector<ScaleStep> steps;
    if (!new_rs) return steps;
    const std::int64_t desired = spec_replicas(d);
    Objects all = old_rss;
    all.push_back(new_rs);
    const std::int64_t new_size = spec_replicas(*new_rs);
    if (new_size > desired) return {{std::string(kube::name(*new_rs)), desired}};
    if (new_size < desired) {
        std::int64_t n = new_rs_new_replicas(d, s, all, *new_rs);
        if (n != new_size) return {{std::string(kube::name(*new_rs)), n}};
    }

    if (sum_spec(old_rss) == 0) return steps;
    const std::int64_t min_available = desired - s.max_unavailable;
    const std::int64_t new_unavailable = new_size - available_of(*new_rs);
    const std::int64_t max_scaled_down = sum_spec(all) - min_available - new_unavailable;
    if (max_scaled_down <= 0) return steps;

    Objects sorted = old_rss;
    sort_by_creation(sorted);
    std::map<std::string, std::int64_t, std::less<>> size;
    for (const auto* rs : sorted) size[std::string(kube::name(*rs))] = spec_replicas(*rs);

    // Unhealthy replicas of old ReplicaSets go first: removing them costs no availability.
    std::int64_t cleaned = 0;
    for (const auto* rs : sorted) {
        std::int64_t& sz = size[std::string(kube::name(*rs))];
        if (sz == 0) continue;
        if (cleaned >= max_scaled_down) break;
        const std::int64_t avail = available_of(*rs);
        if (sz <= avail) continue;
        std::int64_t down = std::min(max_scaled_down - cleaned, sz - avail);
        sz -= down;
        cleaned += down;
    }
    // Then available ones, as far as maxUnavailable allows.
    std::int64_t available = 0;
    for (const auto* rs : all) available += available_of(*rs);
    if (available > min_available) {
        const std::int64_t to_scale_down = available - min_available;
        std::int64_t done = 0;
        for (const auto* rs : sorted) {
            if (done >= to_scale_down) break;
            std::int64_t& sz = size[std::string(kube::name(*rs))];
            if (sz == 0) continue;
            std::int64_t down = std::min(sz, to_scale_down - done);
            sz -= down;
            done += down;
        }
    }
    for (const auto* rs : sorted) {
        auto it = size.find(kube::name(*rs));
        if (it->second != spec_replicas(*rs)) steps.push_back({it->first, it->second});
    }
    return steps;
}

std::vector<ScaleStep> plan_recreate(const json::object& d, const json::object* new_rs,
                                     const Objects& old_rss, bool old_pods_running) {
    std::vector<ScaleStep> steps;
    for (const auto* rs : active(old_rss)) steps.push_back({std::string(kube::name(*rs)), 0});
    if (!steps.empty() || old_pods_running || !new_rs) return steps;
    if (spec_replicas(*new_rs) != spec_replicas(d))
        steps.push_back({std::string(kube::name(*new_rs)), spec_replicas(d)});
    return steps;
}

bool is_scaling_event(const json::object& d, const Objects& all_rss) {
    for (const auto* rs : active(all_rss)) {
        auto desired = parse_int(annotation_or_empty(*rs, kDesiredReplicasAnnotation));
        if (desired && *desired != spec_replicas(d)) return true;
    }
    return false;
}

namespace {

// Largest first; among equals, newer first (newer_first) or older first.
void sort_by_size(Objects& rss, bool newer_first) {
    std::stable_sort(rss.begin(), rss.end(),
                     [newer_first](const json::object* a, const json::object* b) {
                         auto sa = spec_replicas(*a), sb = spec_replicas(*b);
                         if (sa != sb) return sa > sb;
                         auto ta = created_at(*a), tb = created_at(*b);
                         if (ta != tb) return newer_first ? ta > tb : ta < tb;
                         return kube::name(*a) < kube::name(*b);
                     });
}

std::int64_t rs_fraction(const json::object& rs, const json::object& d, const Strategy& s) {
    if (spec_replicas(d) == 0) return -spec_replicas(rs);
    const std::int64_t deployment_replicas = spec_replicas(d) + s.max_surge;
    auto annotated = parse_int(annotation_or_empty(rs, kMaxReplicasAnnotation));
    std::int64_t base = annotated ? *annotated : int_at(d, "status.replicas", 0);
    if (base <= 0) return 0;
    double scaled =
        static_cast<double>(spec_replicas(rs) * deployment_replicas) / static_cast<double>(base);
    return static_cast<std::int64_t>(std::round(scaled)) - spec_replicas(rs);
}

std::int64_t proportion(const json::object& rs, const json::object& d, const Strategy& s,
                        std::int64_t to_add, std::int64_t added) {
    if (spec_replicas(rs) == 0 || to_add == 0 || to_add == added) return 0;
    const std::int64_t fraction = rs_fraction(rs, d, s);
    const std::int64_t allowed = to_add - added;
    return to_add > 0 ? std::min(fraction, allowed) : std::max(fraction, allowed);
}

}  // namespace

std::vector<ScaleStep> plan_scale(const json::object& d, const Strategy& s,
                                  const json::object* new_rs, const Objects& old_rss) {
    const std::int64_t desired = spec_replicas(d);
    if (!new_rs && old_rss.empty()) return {};
    Objects all = old_rss;
    if (new_rs) all.push_back(new_rs);

    // One active ReplicaSet (or none): it (or the latest) takes the whole size.
    Objects sorted_old = old_rss;
    sort_by_size(sorted_old, true);
    Objects candidates = sorted_old;
    if (new_rs) candidates.push_back(new_rs);
    Objects actives = active(candidates);
    if (actives.size() <= 1) {
        const json::object* target =
            actives.size() == 1 ? actives[0] : (new_rs ? new_rs : sorted_old.front());
        return {{std::string(kube::name(*target)), desired}};
    }

    // The new ReplicaSet is complete: old ones go.
    if (new_rs && parse_int(annotation_or_empty(*new_rs, kDesiredReplicasAnnotation)) == desired &&
        spec_replicas(*new_rs) == desired && available_of(*new_rs) == desired) {
        std::vector<ScaleStep> steps;
        for (const auto* rs : active(old_rss)) steps.push_back({std::string(kube::name(*rs)), 0});
        return steps;
    }
    if (s.recreate) return {};

    // Mid-rollout: spread the change over the active ReplicaSets by their sizes.
    actives = active(all);
    const std::int64_t allowed = desired > 0 ? desired + s.max_surge : 0;
    const std::int64_t to_add = allowed - sum_spec(actives);
    sort_by_size(actives, to_add > 0);
    std::map<std::string, std::int64_t, std::less<>> size;
    std::int64_t added = 0;
    for (const auto* rs : actives) {
        std::int64_t p = to_add != 0 ? proportion(*rs, d, s, to_add, added) : 0;
        size[std::string(kube::name(*rs))] = spec_replicas(*rs) + p;
        added += p;
    }
    if (to_add != added && !actives.empty()) {
        auto& first = size[std::string(kube::name(*actives[0]))];
        first = std::max<std::int64_t>(first + (to_add - added), 0);
    }
    std::vector<ScaleStep> steps;
    for (const auto* rs : actives) {
        std::string n(kube::name(*rs));
        steps.push_back({n, size[n]});
    }
    return steps;
}

std::vector<std::string> cleanup_candidates(const json::object& d, const Objects& old_rss,
                                            std::int64_t default_history_limit) {
    const std::int64_t limit = int_at(d, "spec.revisionHistoryLimit", default_history_limit);
    Objects cleanable;
    for (const auto* rs : old_rss)
        if (!kube::deletion_timestamp(*rs)) cleanable.push_back(rs);
    const std::int64_t diff =
        static_cast<std::int64_t>(cleanable.size()) - std::max<std::int64_t>(limit, 0);
    if (diff <= 0) return {};
    std::stable_sort(cleanable.begin(), cleanable.end(),
                     [](const json::object* a, const json::object* b) {
                         auto ra = revision_of(*a), rb = revision_of(*b);
                         if (ra != rb) return ra < rb;
                         return created_at(*a) < created_at(*b);
                     });
    std::vector<std::string> out;
    for (std::int64_t i = 0; i < diff; ++i) {
        const json::object& rs = *cleanable[static_cast<std::size_t>(i)];
        if (int_at(rs, "status.replicas", 0) != 0 || spec_replicas(rs) != 0 ||
            kube::generation(rs) > int_at(rs, "status.observedGeneration", 0))
            continue;
        out.emplace_back(kube::name(rs));
    }
    return out;
}

}  // namespace kedge::controllers::deployment
