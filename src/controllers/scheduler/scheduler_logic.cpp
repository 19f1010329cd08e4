#include "controllers/scheduler/scheduler_logic.hpp"

#include <boost/json/array.hpp>
#include <boost/json/value.hpp>

#include <algorithm>
#include <charconv>

#include "kube/quantity.hpp"
#include "kube/object.hpp"

namespace kedge::controllers::scheduler {
namespace json = boost::json;

namespace {

__extension__ typedef __int128 Wide;  // products of two int64 quantities

constexpr std::string_view kUnschedulableTaintKey = "node.kubernetes.io/unschedulable";

std::string_view str(const json::object& o, std::string_view key) {
    const auto* v = o.if_contains(key);
    return v && v->is_string() ? std::string_view(v->get_string()) : std::string_view{};
}

const json::object* obj(const json::object& o, std::string_view key) {
    const auto* v = o.if_contains(key);
    return v && v->is_object() ? &v->get_object() : nullptr;
}

const json::array* arr(const json::object& o, std::string_view key) {
    const auto* v = o.if_contains(key);
    return v && v->is_array() ? &v->get_array() : nullptr;
}

const json::array* arr_path(const json::object& o, std::string_view path) {
    const auto* v = kube::get_path(o, path);
    return v && v->is_array() ? &v->get_array() : nullptr;
}

const json::object* obj_path(const json::object& o, std::string_view path) {
    const auto* v = kube::get_path(o, path);
    return v && v->is_object() ? &v->get_object() : nullptr;
}

std::int64_t saturating_add(std::int64_t a, std::int64_t b) {
    std::int64_t r = 0;
    if (__builtin_add_overflow(a, b, &r)) return b > 0 ? kube::kMaxMilli : -kube::kMaxMilli;
    return r;
}

void add_into(ResourceList& into, const ResourceList& from) {
    for (const auto& [k, v] : from) into[k] = saturating_add(into[k], v);
}

void max_into(ResourceList& into, const ResourceList& from) {
    for (const auto& [k, v] : from) {
        auto& slot = into[k];
        slot = std::max(slot, v);
    }
}

// A container's requests, limits standing in for absent requests (API server defaulting).
Result<ResourceList> container_requests(const json::object& c) {
    ResourceList out;
    const json::object* res = obj(c, "resources");
    if (!res) return out;
    for (std::string_view field : {"limits", "requests"}) {  // requests overwrite limits
        const json::object* list = obj(*res, field);
        if (!list) continue;
        for (const auto& [k, v] : *list) {
            auto q = kube::parse_quantity_milli(v);
            if (!q)
                return Error(errc::invalid_argument, "container \"" + std::string(str(c, "name")) +
                                                         "\" resources." + std::string(field) +
                                                         "." + std::string(k) + ": " +
                                                         q.error().detail);
            out[std::string(k)] = *q;
        }
    }
    return out;
}

bool is_sidecar(const json::object& init_container) {
    return str(init_container, "restartPolicy") == "Always";
}

// Non-zero cpu/memory of one container for scoring.
void add_non_zero(const ResourceList& r, std::int64_t& cpu, std::int64_t& mem) {
    auto c = r.find("cpu");
    auto m = r.find("memory");
    cpu = saturating_add(cpu, c != r.end() && c->second != 0 ? c->second : kDefaultMilliCpuRequest);
    mem = saturating_add(mem,
                         m != r.end() && m->second != 0 ? m->second : kDefaultMemoryRequestMilli);
}

std::optional<std::int64_t> parse_int(std::string_view s) {
    std::int64_t v = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || p != s.data() + s.size() || s.empty()) return std::nullopt;
    return v;
}

std::vector<std::string> string_values(const json::object& req) {
    std::vector<std::string> out;
    if (const json::array* vs = arr(req, "values"))
        for (const auto& v : *vs)
            if (v.is_string()) out.emplace_back(v.get_string());
    return out;
}

// One NodeSelectorRequirement against a value (label or field); nullopt = absent.
bool requirement_matches(const json::object& req, std::optional<std::string_view> value) {
    std::string_view op = str(req, "operator");
    std::vector<std::string> values = string_values(req);
    auto in_values = [&] {
        return value && std::find(values.begin(), values.end(), *value) != values.end();
    };
    if (op == "In") return in_values();
    if (op == "NotIn") return !in_values();
    if (op == "Exists") return value.has_value();
    if (op == "DoesNotExist") return !value.has_value();
    if (op == "Gt" || op == "Lt") {
        if (!value || values.size() != 1) return false;
        auto have = parse_int(*value);
        auto want = parse_int(values[0]);
        if (!have || !want) return false;
        return op == "Gt" ? *have > *want : *have < *want;
    }
    return false;  // unknown operator: the term cannot match
}

// A NodeSelectorTerm: every matchExpression and matchField; an empty term matches nothing.
bool term_matches(const json::object& term, const json::object& node) {
    const json::array* exprs = arr(term, "matchExpressions");
    const json::array* fields = arr(term, "matchFields");
    if ((!exprs || exprs->empty()) && (!fields || fields->empty())) return false;
    const json::object* labels = kube::labels_json(node);
    if (exprs) {
        for (const auto& e : *exprs) {
            if (!e.is_object()) return false;
            std::string_view key = str(e.get_object(), "key");
            std::optional<std::string_view> value;
            if (labels)
                if (const auto* v = labels->if_contains(key); v && v->is_string())
                    value = std::string_view(v->get_string());
            if (!requirement_matches(e.get_object(), value)) return false;
        }
    }
    if (fields) {
        for (const auto& f : *fields) {
            if (!f.is_object()) return false;
            // metadata.name is the only field selector key node affinity supports.
            if (str(f.get_object(), "key") != "metadata.name") return false;
            if (!requirement_matches(f.get_object(), kube::name(node))) return false;
        }
    }
    return true;
}

std::string_view protocol_or_tcp(std::string_view p) { return p.empty() ? "TCP" : p; }

}  // namespace

// ---- pods ----

bool is_terminated(const json::object& pod) {
    auto phase = kube::get_path_string(pod, "status.phase");
    return phase && (*phase == "Succeeded" || *phase == "Failed");
}

bool needs_scheduling(const json::object& pod) {
    auto node = kube::get_path_string(pod, "spec.nodeName");
    if (node && !node->empty()) return false;
    auto scheduler = kube::get_path_string(pod, "spec.schedulerName");
    if (scheduler && !scheduler->empty() && *scheduler != kDefaultSchedulerName) return false;
    if (kube::deletion_timestamp(pod)) return false;
    return !is_terminated(pod);
}

Result<ResourceList> pod_requests(const json::object& pod) {
    ResourceList containers;
    if (const json::array* cs = arr_path(pod, "spec.containers")) {
        for (const auto& c : *cs) {
            if (!c.is_object()) continue;
            auto r = container_requests(c.get_object());
            if (!r) return r.error();
            add_into(containers, *r);
        }
    }
    ResourceList init_max;  // the peak while init containers run
    ResourceList sidecars;  // restartable init containers started so far keep running
    if (const json::array* cs = arr_path(pod, "spec.initContainers")) {
        for (const auto& c : *cs) {
            if (!c.is_object()) continue;
            auto r = container_requests(c.get_object());
            if (!r) return r.error();
            if (is_sidecar(c.get_object())) {
                add_into(sidecars, *r);
                max_into(init_max, sidecars);
            } else {
                ResourceList peak = sidecars;
                add_into(peak, *r);
                max_into(init_max, peak);
            }
        }
    }
    add_into(containers, sidecars);
    max_into(containers, init_max);
    if (const json::object* overhead = obj_path(pod, "spec.overhead")) {
        for (const auto& [k, v] : *overhead) {
            auto q = kube::parse_quantity_milli(v);
            if (!q)
                return Error(errc::invalid_argument,
                             "spec.overhead." + std::string(k) + ": " + q.error().detail);
            containers[std::string(k)] = saturating_add(containers[std::string(k)], *q);
        }
    }
    for (auto& [k, v] : containers) v = std::max<std::int64_t>(v, 0);
    return containers;
}

std::vector<HostPort> pod_host_ports(const json::object& pod) {
    std::vector<HostPort> out;
    auto collect = [&](const json::array* cs, bool sidecars_only) {
        if (!cs) return;
        for (const auto& c : *cs) {
            if (!c.is_object()) continue;
            if (sidecars_only && !is_sidecar(c.get_object())) continue;
            const json::array* ports = arr(c.get_object(), "ports");
            if (!ports) continue;
            for (const auto& p : *ports) {
                if (!p.is_object()) continue;
                const auto* hp = p.get_object().if_contains("hostPort");
                if (!hp || !hp->is_number()) continue;
                auto port = hp->to_number<std::int64_t>();
                if (port <= 0 || port > 65535) continue;
                out.push_back({std::string(str(p.get_object(), "hostIP")),
                               std::string(protocol_or_tcp(str(p.get_object(), "protocol"))),
                               static_cast<int>(port)});
            }
        }
    };
    collect(arr_path(pod, "spec.initContainers"), true);
    collect(arr_path(pod, "spec.containers"), false);
    return out;
}

std::vector<Toleration> pod_tolerations(const json::object& pod) {
    std::vector<Toleration> out;
    if (const json::array* ts = arr_path(pod, "spec.tolerations")) {
        for (const auto& t : *ts) {
            if (!t.is_object()) continue;
            const auto& o = t.get_object();
            out.push_back({std::string(str(o, "key")), std::string(str(o, "operator")),
                           std::string(str(o, "value")), std::string(str(o, "effect"))});
        }
    }
    return out;
}

Result<PodInfo> make_pod_info(const json::object& pod) {
    PodInfo info;
    info.pod = &pod;
    auto req = pod_requests(pod);
    if (!req) return req.error();
    info.requests = std::move(*req);
    // Non-zero requests per container, as kube-scheduler scores them.
    if (const json::array* cs = arr_path(pod, "spec.containers")) {
        for (const auto& c : *cs) {
            if (!c.is_object()) continue;
            auto r = container_requests(c.get_object());
            if (!r) return r.error();
            add_non_zero(*r, info.non_zero_milli_cpu, info.non_zero_memory);
        }
    }
    info.host_ports = pod_host_ports(pod);
    info.tolerations = pod_tolerations(pod);
    if (auto owner = kube::controller_of(pod)) info.owner_uid = owner->uid;
    return info;
}

// ---- nodes ----

std::vector<Taint> node_taints(const json::object& node) {
    std::vector<Taint> out;
    if (const json::array* ts = arr_path(node, "spec.taints")) {
        for (const auto& t : *ts) {
            if (!t.is_object()) continue;
            const auto& o = t.get_object();
            out.push_back({std::string(str(o, "key")), std::string(str(o, "value")),
                           std::string(str(o, "effect"))});
        }
    }
    return out;
}

ResourceList node_allocatable(const json::object& node) {
    ResourceList out;
    if (const json::object* a = obj_path(node, "status.allocatable")) {
        for (const auto& [k, v] : *a)
            if (auto q = kube::parse_quantity_milli(v))
                out[std::string(k)] = std::max<std::int64_t>(*q, 0);
    }
    return out;
}

bool node_ready(const json::object& node) {
    if (const json::array* cs = arr_path(node, "status.conditions")) {
        for (const auto& c : *cs) {
            if (!c.is_object()) continue;
            if (str(c.get_object(), "type") == "Ready")
                return str(c.get_object(), "status") == "True";
        }
    }
    return false;
}

void NodeInfo::add_pod(const PodInfo& pod) {
    if (pod.pod && is_terminated(*pod.pod)) return;
    ++pod_count;
    add_into(requested, pod.requests);
    non_zero_milli_cpu = saturating_add(non_zero_milli_cpu, pod.non_zero_milli_cpu);
    non_zero_memory = saturating_add(non_zero_memory, pod.non_zero_memory);
    used_ports.insert(used_ports.end(), pod.host_ports.begin(), pod.host_ports.end());
    if (!pod.owner_uid.empty()) ++pods_by_owner[pod.owner_uid];
}

NodeInfo make_node_info(const json::object& node) {
    NodeInfo info;
    info.node = &node;
    info.name = std::string(kube::name(node));
    info.allocatable = node_allocatable(node);
    return info;
}

bool node_scheduling_changed(const json::object& old_node, const json::object& new_node) {
    auto same = [&](std::string_view path) {
        const json::value* a = kube::get_path(old_node, path);
        const json::value* b = kube::get_path(new_node, path);
        if (!a || !b) return a == b;
        return *a == *b;
    };
    return !same("metadata.labels") || !same("spec.taints") || !same("spec.unschedulable") ||
           !same("status.allocatable") || node_ready(old_node) != node_ready(new_node);
}

// ---- filters ----

bool tolerates(const Toleration& t, const Taint& taint) {
    if (!t.effect.empty() && t.effect != taint.effect) return false;
    if (t.key.empty()) return t.op == "Exists";  // empty key + Exists tolerates everything
    if (t.key != taint.key) return false;
    if (t.op == "Exists") return true;
    if (t.op.empty() || t.op == "Equal") return t.value == taint.value;
    return false;
}

bool tolerates_any(const std::vector<Toleration>& ts, const Taint& taint) {
    return std::any_of(ts.begin(), ts.end(),
                       [&](const Toleration& t) { return tolerates(t, taint); });
}

bool host_ports_conflict(const HostPort& a, const HostPort& b) {
    if (a.port != b.port || protocol_or_tcp(a.protocol) != protocol_or_tcp(b.protocol))
        return false;
    auto wildcard = [](std::string_view ip) { return ip.empty() || ip == "0.0.0.0"; };
    return wildcard(a.ip) || wildcard(b.ip) || a.ip == b.ip;
}

bool matches_node_selector_and_affinity(const json::object& pod, const json::object& node) {
    if (const json::object* sel = obj_path(pod, "spec.nodeSelector")) {
        const json::object* labels = kube::labels_json(node);
        for (const auto& [k, v] : *sel) {
            if (!v.is_string()) return false;
            const json::value* have = labels ? labels->if_contains(k) : nullptr;
            if (!have || !have->is_string() || have->get_string() != v.get_string()) return false;
        }
    }
    const json::value* required = kube::get_path(
        pod, "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution");
    if (!required || required->is_null()) return true;
    if (!required->is_object()) return false;
    const json::array* terms = arr(required->get_object(), "nodeSelectorTerms");
    if (!terms) return false;
    for (const auto& t : *terms)
        if (t.is_object() && term_matches(t.get_object(), node)) return true;
    return false;
}

std::int64_t preferred_affinity_weight(const json::object& pod, const json::object& node) {
    const json::array* terms =
        arr_path(pod, "spec.affinity.nodeAffinity.preferredDuringSchedulingIgnoredDuringExecution");
    if (!terms) return 0;
    std::int64_t total = 0;
    for (const auto& t : *terms) {
        if (!t.is_object()) continue;
        const json::object* pref = obj(t.get_object(), "preference");
        const auto* w = t.get_object().if_contains("weight");
        if (!pref || !w || !w->is_number()) continue;
        if (term_matches(*pref, node)) total += w->to_number<std::int64_t>();
    }
    return total;
}

std::optional<std::string> check_unschedulable(const PodInfo& pod, const NodeInfo& node) {
    const json::value* u = kube::get_path(*node.node, "spec.unschedulable");
    if (!u || !u->is_bool() || !u->get_bool()) return std::nullopt;
    if (tolerates_any(pod.tolerations, {std::string(kUnschedulableTaintKey), "", "NoSchedule"}))
        return std::nullopt;
    return std::string(kReasonUnschedulable);
}

std::optional<std::string> check_taints(const PodInfo& pod, const NodeInfo& node) {
    for (const Taint& t : node_taints(*node.node)) {
        if (t.effect != "NoSchedule" && t.effect != "NoExecute") continue;
        if (!tolerates_any(pod.tolerations, t))
            return "node(s) had untolerated taint {" + t.key + ": " + t.value + "}";
    }
    return std::nullopt;
}

std::optional<std::string> check_ready(const NodeInfo& node) {
    if (node_ready(*node.node)) return std::nullopt;
    return std::string(kReasonNotReady);
}

std::optional<std::string> check_affinity(const PodInfo& pod, const NodeInfo& node) {
    if (matches_node_selector_and_affinity(*pod.pod, *node.node)) return std::nullopt;
    return std::string(kReasonAffinity);
}

std::optional<std::string> check_host_ports(const PodInfo& pod, const NodeInfo& node) {
    for (const HostPort& want : pod.host_ports)
        for (const HostPort& used : node.used_ports)
            if (host_ports_conflict(want, used)) return std::string(kReasonPorts);
    return std::nullopt;
}

std::vector<std::string> check_resources(const PodInfo& pod, const NodeInfo& node) {
    std::vector<std::string> reasons;
    auto allocatable = [&](std::string_view r) -> std::int64_t {
        auto it = node.allocatable.find(r);
        return it == node.allocatable.end() ? 0 : it->second;
    };
    auto requested = [&](std::string_view r) -> std::int64_t {
        auto it = node.requested.find(r);
        return it == node.requested.end() ? 0 : it->second;
    };
    if (node.pod_count + 1 > allocatable("pods") / 1000) reasons.emplace_back(kReasonTooManyPods);
    // cpu, memory, ephemeral-storage first (kube-scheduler's order), then the rest by name.
    std::vector<std::string_view> order = {"cpu", "memory", "ephemeral-storage"};
    for (const auto& [k, v] : pod.requests)
        if (k != "cpu" && k != "memory" && k != "ephemeral-storage" && k != "pods")
            order.push_back(k);
    for (std::string_view r : order) {
        auto it = pod.requests.find(r);
        if (it == pod.requests.end() || it->second <= 0) continue;
        if (it->second > allocatable(r) - requested(r))
            reasons.push_back("Insufficient " + std::string(r));
    }
    return reasons;
}

std::vector<std::string> filter_node(const PodInfo& pod, const NodeInfo& node) {
    for (auto check : {check_unschedulable, check_taints}) {
        if (auto r = check(pod, node)) return {std::move(*r)};
    }
    if (auto r = check_ready(node)) return {std::move(*r)};
    for (auto check : {check_affinity, check_host_ports}) {
        if (auto r = check(pod, node)) return {std::move(*r)};
    }
    return check_resources(pod, node);
}

std::string failure_message(std::size_t total_nodes,
                            const std::map<std::string, int, std::less<>>& reason_counts) {
    if (total_nodes == 0) return "no nodes available to schedule pods";
    std::vector<std::string> entries;
    for (const auto& [reason, count] : reason_counts)
        entries.push_back(std::to_string(count) + " " + reason);
    std::sort(entries.begin(), entries.end());
    std::string out = "0/" + std::to_string(total_nodes) + " nodes are available: ";
    for (std::size_t i = 0; i < entries.size(); ++i) {
        if (i) out += ", ";
        out += entries[i];
    }
    out += ".";
    return out;
}

// ---- scoring ----

NodeScore score_node(const PodInfo& pod, const NodeInfo& node) {
    NodeScore s;
    s.node = node.name;
    for (const Taint& t : node_taints(*node.node))
        if (t.effect == "PreferNoSchedule" && !tolerates_any(pod.tolerations, t))
            ++s.prefer_no_schedule;
    s.affinity_weight = preferred_affinity_weight(*pod.pod, *node.node);
    if (!pod.owner_uid.empty()) {
        auto it = node.pods_by_owner.find(pod.owner_uid);
        s.same_owner_pods = it == node.pods_by_owner.end() ? 0 : it->second;
    }
    auto free_percent = [&](std::string_view r, std::int64_t used) -> std::int64_t {
        auto it = node.allocatable.find(r);
        if (it == node.allocatable.end() || it->second <= 0) return 0;
        Wide alloc = it->second;
        Wide left = alloc - used;
        if (left <= 0) return 0;
        return static_cast<std::int64_t>(left * 100 / alloc);
    };
    std::int64_t cpu =
        free_percent("cpu", saturating_add(node.non_zero_milli_cpu, pod.non_zero_milli_cpu));
    std::int64_t mem =
        free_percent("memory", saturating_add(node.non_zero_memory, pod.non_zero_memory));
    s.free_score = (cpu + mem) / 2;
    return s;
}

bool better(const NodeScore& a, const NodeScore& b) {
    if (a.prefer_no_schedule != b.prefer_no_schedule)
        return a.prefer_no_schedule < b.prefer_no_schedule;
    if (a.affinity_weight != b.affinity_weight) return a.affinity_weight > b.affinity_weight;
    if (a.same_owner_pods != b.same_owner_pods) return a.same_owner_pods < b.same_owner_pods;
    if (a.free_score != b.free_score) return a.free_score > b.free_score;
    return a.node < b.node;
}

Decision schedule(const PodInfo& pod, const std::vector<NodeInfo>& nodes) {
    Decision d;
    std::map<std::string, int, std::less<>> reasons;
    std::optional<NodeScore> best;
    for (const NodeInfo& n : nodes) {
        auto failed = filter_node(pod, n);
        if (!failed.empty()) {
            for (auto& r : failed) ++reasons[r];
            continue;
        }
        NodeScore s = score_node(pod, n);
        if (!best || better(s, *best)) best = std::move(s);
    }
    if (best) {
        d.node = best->node;
    } else {
        d.message = failure_message(nodes.size(), reasons);
    }
    return d;
}

}  // namespace kedge::controllers::scheduler
