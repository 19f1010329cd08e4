#include "controllers/daemonset/daemonset_logic.hpp"

#include <algorithm>
#include <charconv>
#include <map>

#include "controllers/nodelifecycle/taint_logic.hpp"
#include "kube/object.hpp"
#include "kube/time.hpp"

namespace kedge::controllers::daemonset {

namespace json = boost::json;
namespace nl = nodelifecycle;

namespace {

const json::object* object_at(const json::object& o, std::string_view path) {
    const auto* v = kube::get_path(o, path);
    return v && v->is_object() ? &v->as_object() : nullptr;
}

const json::array* array_at(const json::object& o, std::string_view path) {
    const auto* v = kube::get_path(o, path);
    return v && v->is_array() ? &v->as_array() : nullptr;
}

std::string string_at(const json::object& o, std::string_view key) {
    const auto* v = o.if_contains(key);
    return v && v->is_string() ? std::string(v->as_string()) : std::string();
}

std::int64_t int_at(const json::object& o, std::string_view path, std::int64_t fallback) {
    const auto* v = kube::get_path(o, path);
    if (!v) return fallback;
    if (v->is_int64()) return v->as_int64();
    if (v->is_uint64()) return static_cast<std::int64_t>(v->as_uint64());
    return fallback;
}

std::vector<std::string> strings_of(const json::value* v) {
    std::vector<std::string> out;
    if (!v || !v->is_array()) return out;
    for (const auto& s : v->as_array())
        if (s.is_string()) out.emplace_back(s.as_string());
    return out;
}

std::optional<std::int64_t> to_int(std::string_view s) {
    std::int64_t v = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
    return v;
}

// One NodeSelectorRequirement against a value (nullopt = label absent).
bool requirement_matches(const json::object& req, std::optional<std::string_view> value) {
    std::string op = string_at(req, "operator");
    auto values = strings_of(req.if_contains("values"));
    auto in = [&] {
        return value && std::find(values.begin(), values.end(), *value) != values.end();
    };
    if (op == "In") return in();
    if (op == "NotIn") return !in();
    if (op == "Exists") return value.has_value();
    if (op == "DoesNotExist") return !value.has_value();
    if (op == "Gt" || op == "Lt") {
        if (!value || values.size() != 1) return false;
        auto have = to_int(*value), want = to_int(values[0]);
        if (!have || !want) return false;
        return op == "Gt" ? *have > *want : *have < *want;
    }
    return false;
}

bool term_matches(const json::object& term, const json::object& node) {
    const auto* exprs = term.if_contains("matchExpressions");
    const auto* fields = term.if_contains("matchFields");
    bool any = false;
    if (exprs && exprs->is_array()) {
        for (const auto& r : exprs->as_array()) {
            if (!r.is_object()) return false;
            any = true;
            auto key = string_at(r.as_object(), "key");
            if (!requirement_matches(r.as_object(), kube::label(node, key))) return false;
        }
    }
    if (fields && fields->is_array()) {
        for (const auto& r : fields->as_array()) {
            if (!r.is_object()) return false;
            any = true;
            if (string_at(r.as_object(), "key") != "metadata.name") return false;
            if (!requirement_matches(r.as_object(), kube::name(node))) return false;
        }
    }
    return any;  // an empty term selects nothing
}

json::object daemon_toleration(std::string_view key, std::string_view effect) {
    return json::object{{"key", key}, {"operator", "Exists"}, {"effect", effect}};
}

// Pods by the node they are for.
using PodsByNode = std::map<std::string, std::vector<const json::object*>, std::less<>>;

bool is_terminating(const json::object& pod, const std::set<std::string, std::less<>>& deleting) {
    return kube::deletion_timestamp(pod).has_value() || deleting.contains(kube::name(pod));
}

bool is_failed(const json::object& pod) {
    return kube::get_path_string(pod, "status.phase") == std::optional<std::string>("Failed");
}

bool older(const json::object* a, const json::object* b) {
    auto ta = kube::creation_timestamp(*a), tb = kube::creation_timestamp(*b);
    if (ta != tb) return ta < tb;  // RFC 3339 UTC with second precision sorts as text
    return kube::name(*a) < kube::name(*b);
}

bool is_updated(const json::object& pod, std::string_view hash, std::int64_t generation) {
    if (auto h = kube::label(pod, kRevisionHashLabel)) return *h == hash;
    auto g = kube::label(pod, kTemplateGenerationLabel);
    return g && *g == std::to_string(generation);
}

}  // namespace

bool node_matches_pod_spec(const json::object& spec, const json::object& node) {
    if (const auto* sel = spec.if_contains("nodeSelector"); sel && sel->is_object()) {
        for (const auto& [k, v] : sel->as_object()) {
            auto have = kube::label(node, k);
            if (!have || !v.is_string() || *have != v.as_string()) return false;
        }
    }
    const auto* required =
        object_at(spec, "affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution");
    if (!required) return true;
    const auto* terms = required->if_contains("nodeSelectorTerms");
    if (!terms || !terms->is_array()) return false;
    for (const auto& t : terms->as_array())
        if (t.is_object() && term_matches(t.as_object(), node)) return true;
    return false;
}

void add_daemon_tolerations(json::object& spec) {
    std::vector<json::object> add = {daemon_toleration(nl::kTaintNotReady, nl::kNoExecute),
                                     daemon_toleration(nl::kTaintUnreachable, nl::kNoExecute),
                                     daemon_toleration(nl::kTaintDiskPressure, nl::kNoSchedule),
                                     daemon_toleration(nl::kTaintMemoryPressure, nl::kNoSchedule),
                                     daemon_toleration(nl::kTaintPidPressure, nl::kNoSchedule),
                                     daemon_toleration(nl::kTaintUnschedulable, nl::kNoSchedule)};
    if (const auto* hn = spec.if_contains("hostNetwork"); hn && hn->is_bool() && hn->as_bool())
        add.push_back(daemon_toleration(nl::kTaintNetworkUnavailable, nl::kNoSchedule));
    json::array out;
    if (const auto* cur = spec.if_contains("tolerations"); cur && cur->is_array()) {
        for (const auto& t : cur->as_array()) {
            bool replaced = t.is_object() && std::any_of(add.begin(), add.end(), [&](auto& a) {
                                const auto& o = t.as_object();
                                return string_at(o, "key") == a.at("key").as_string() &&
                                       string_at(o, "operator") == "Exists" &&
                                       string_at(o, "effect") == a.at("effect").as_string();
                            });
            if (!replaced) out.push_back(t);
        }
    }
    for (auto& a : add) out.push_back(std::move(a));
    spec["tolerations"] = std::move(out);
}

NodeFit node_should_run_daemon_pod(const json::object& ds, const json::object& node) {
    if (kube::deletion_timestamp(ds)) return {};
    const auto* tmpl_spec = object_at(ds, "spec.template.spec");
    json::object spec = tmpl_spec ? *tmpl_spec : json::object{};
    if (auto n = string_at(spec, "nodeName"); !n.empty() && n != kube::name(node)) return {};
    if (!node_matches_pod_spec(spec, node)) return {};
    add_daemon_tolerations(spec);
    auto tolerations = nl::tolerations_from_json(spec.if_contains("tolerations"));
    auto taints = nl::node_taints(node);
    if (!nl::first_untolerated(taints, tolerations, {nl::kNoSchedule, nl::kNoExecute}))
        return {true, true};
    return {false, !nl::first_untolerated(taints, tolerations, {nl::kNoExecute})};
}

json::object new_daemon_pod(const json::object& ds, std::string_view node, std::string_view hash) {
    const auto* tmpl = object_at(ds, "spec.template");
    json::object pod;
    pod["apiVersion"] = "v1";
    pod["kind"] = "Pod";
    json::object md;
    if (tmpl) {
        if (const auto* m = object_at(*tmpl, "metadata")) {
            for (auto key : {"labels", "annotations"})
                if (const auto* v = m->if_contains(key); v && v->is_object()) md[key] = *v;
        }
    }
    md["generateName"] = std::string(kube::name(ds)) + "-";
    md["namespace"] = kube::namespace_of(ds);
    pod["metadata"] = std::move(md);
    kube::set_label(pod, kRevisionHashLabel, hash);
    kube::set_label(pod, kTemplateGenerationLabel, std::to_string(kube::generation(ds)));
    pod["metadata"].as_object()["ownerReferences"] =
        json::array{json::object{{"apiVersion", "apps/v1"},
                                 {"kind", "DaemonSet"},
                                 {"name", kube::name(ds)},
                                 {"uid", kube::uid(ds)},
                                 {"controller", true},
                                 {"blockOwnerDeletion", true}}};

    json::object spec;
    if (tmpl)
        if (const auto* s = object_at(*tmpl, "spec")) spec = *s;
    add_daemon_tolerations(spec);
    // Pin to the node: the template's required terms were already checked against it.
    json::object pin{{"nodeSelectorTerms",
                      json::array{json::object{
                          {"matchFields", json::array{json::object{
                                              {"key", "metadata.name"},
                                              {"operator", "In"},
                                              {"values", json::array{json::string(node)}}}}}}}}};
    auto& affinity = spec["affinity"];
    if (!affinity.is_object()) affinity = json::object{};
    auto& node_affinity = affinity.as_object()["nodeAffinity"];
    if (!node_affinity.is_object()) node_affinity = json::object{};
    node_affinity.as_object()["requiredDuringSchedulingIgnoredDuringExecution"] = std::move(pin);
    pod["spec"] = std::move(spec);
    return pod;
}

std::string target_node_name(const json::object& pod) {
    if (auto n = kube::get_path_string(pod, "spec.nodeName"); n && !n->empty()) return *n;
    const auto* terms =
        array_at(pod,
                 "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution."
                 "nodeSelectorTerms");
    if (!terms || terms->size() != 1 || !(*terms)[0].is_object()) return {};
    const auto* fields = (*terms)[0].as_object().if_contains("matchFields");
    if (!fields || !fields->is_array()) return {};
    for (const auto& f : fields->as_array()) {
        if (!f.is_object()) continue;
        const auto& o = f.as_object();
        auto values = strings_of(o.if_contains("values"));
        if (string_at(o, "key") == "metadata.name" && string_at(o, "operator") == "In" &&
            values.size() == 1)
            return values[0];
    }
    return {};
}

bool pod_is_ready(const json::object& pod) {
    const auto* conds = array_at(pod, "status.conditions");
    if (!conds) return false;
    for (const auto& c : *conds) {
        if (!c.is_object()) continue;
        if (string_at(c.as_object(), "type") == "Ready")
            return string_at(c.as_object(), "status") == "True";
    }
    return false;
}

bool pod_is_available(const json::object& pod, std::int64_t min_ready_seconds,
                      Clock::time_point now) {
    if (!pod_is_ready(pod)) return false;
    if (min_ready_seconds <= 0) return true;
    const auto* conds = array_at(pod, "status.conditions");
    for (const auto& c : *conds) {
        if (!c.is_object() || string_at(c.as_object(), "type") != "Ready") continue;
        auto since = kube::parse_time(string_at(c.as_object(), "lastTransitionTime"));
        return since && *since + std::chrono::seconds(min_ready_seconds) <= now;
    }
    return false;
}

int resolve_max_unavailable(const json::object& ds, int desired) {
    auto type = kube::get_path_string(ds, "spec.updateStrategy.type");
    if (type && *type == "OnDelete") return 0;
    const auto* v = kube::get_path(ds, "spec.updateStrategy.rollingUpdate.maxUnavailable");
    std::int64_t n = 1;
    if (v && (v->is_int64() || v->is_uint64())) {
        n = int_at(ds, "spec.updateStrategy.rollingUpdate.maxUnavailable", 1);
    } else if (v && v->is_string()) {
        std::string_view s = v->as_string();
        if (s.ends_with('%')) {
            if (auto pct = to_int(s.substr(0, s.size() - 1)))
                n = (static_cast<std::int64_t>(desired) * *pct + 99) / 100;
        } else if (auto i = to_int(s)) {
            n = *i;
        }
    }
    return static_cast<int>(std::max<std::int64_t>(n, 1));
}

DaemonSetPlan plan_daemonset(const DaemonSetInput& in) {
    const json::object& ds = *in.ds;
    DaemonSetPlan plan;
    const std::int64_t generation = kube::generation(ds);
    const std::int64_t min_ready = int_at(ds, "spec.minReadySeconds", 0);

    PodsByNode all, live;  // live: not terminating, not being deleted
    for (const auto* p : in.pods) {
        auto node = target_node_name(*p);
        all[node].push_back(p);
        if (!is_terminating(*p, in.deleting)) live[node].push_back(p);
    }
    for (auto& [n, v] : live) std::sort(v.begin(), v.end(), older);

    std::vector<const json::object*> nodes = in.nodes;
    std::sort(nodes.begin(), nodes.end(),
              [](auto* a, auto* b) { return kube::name(*a) < kube::name(*b); });
    std::set<std::string, std::less<>> node_names;
    std::set<std::string, std::less<>> deleted;
    auto remove = [&](const json::object* p) {
        if (deleted.insert(std::string(kube::name(*p))).second)
            plan.delete_pods.emplace_back(kube::name(*p));
    };

    int desired = 0, current = 0, misscheduled = 0, ready = 0, available = 0, updated = 0;
    std::vector<std::string> run_nodes;  // nodes where should_run
    for (const auto* node : nodes) {
        std::string name(kube::name(*node));
        node_names.insert(name);
        const auto fit = node_should_run_daemon_pod(ds, *node);
        const auto it = live.find(name);
        const bool has_any = all.contains(name);
        const std::vector<const json::object*> pods =
            it == live.end() ? std::vector<const json::object*>{} : it->second;

        if (fit.should_run && !has_any && !in.creating.contains(name)) {
            plan.create_on.push_back(name);
        } else if (fit.should_continue_running) {
            const json::object* keep = nullptr;
            for (const auto* p : pods) {
                if (is_failed(*p))
                    remove(p);
                else if (!keep)
                    keep = p;  // the oldest running one stays
                else
                    remove(p);
            }
        } else {
            for (const auto* p : pods) remove(p);
        }

        if (fit.should_run) {
            ++desired;
            run_nodes.push_back(name);
            if (pods.empty()) continue;
            ++current;
            const auto& pod = *pods.front();
            if (pod_is_ready(pod)) {
                ++ready;
                if (pod_is_available(pod, min_ready, in.now)) ++available;
            }
            if (is_updated(pod, in.hash, generation)) ++updated;
        } else if (!pods.empty()) {
            ++misscheduled;
        }
    }
    // Pods whose node is gone.
    for (const auto& [name, pods] : live) {
        if (!node_names.contains(name))
            for (const auto* p : pods) remove(p);
    }

    // RollingUpdate with maxSurge 0: replace old pods while at most maxUnavailable of the
    // desired nodes lack an available pod.
    const int max_unavailable = resolve_max_unavailable(ds, desired);
    if (max_unavailable > 0) {
        int unavailable = 0;
        std::vector<const json::object*> replace_now, candidates;
        for (const auto& name : run_nodes) {
            std::vector<const json::object*> pods;
            if (auto it = live.find(name); it != live.end())
                for (const auto* p : it->second)
                    if (!deleted.contains(kube::name(*p))) pods.push_back(p);
            if (in.creating.contains(name) || pods.size() != 1) {
                ++unavailable;  // being created, missing, or the manage step sorts it out
                continue;
            }
            const auto* pod = pods.front();
            const bool avail = pod_is_available(*pod, min_ready, in.now);
            if (is_updated(*pod, in.hash, generation)) {
                if (!avail) ++unavailable;
            } else if (!avail) {
                replace_now.push_back(pod);  // already unavailable: replacing costs nothing
            } else {
                candidates.push_back(pod);
            }
        }
        for (const auto* p : replace_now) remove(p);
        int budget = std::max(0, max_unavailable - unavailable);
        for (const auto* p : candidates) {
            if (budget-- <= 0) break;
            remove(p);
        }
    }

    json::object status;
    if (const auto* cur = object_at(ds, "status"))
        if (const auto* cc = cur->if_contains("collisionCount")) status["collisionCount"] = *cc;
    status["currentNumberScheduled"] = current;
    status["desiredNumberScheduled"] = desired;
    status["numberMisscheduled"] = misscheduled;
    status["numberReady"] = ready;
    status["numberAvailable"] = available;
    status["numberUnavailable"] = desired - available;
    status["updatedNumberScheduled"] = updated;
    status["observedGeneration"] = generation;
    plan.status = std::move(status);
    return plan;
}

}  // namespace kedge::controllers::daemonset
