#include "controllers/nodelifecycle/taint_logic.hpp"

#include <algorithm>

#include "kube/time.hpp"

namespace kedge::controllers::nodelifecycle {

namespace json = boost::json;

namespace {

std::string string_at(const json::object& o, std::string_view key) {
    const auto* v = o.if_contains(key);
    return v && v->is_string() ? std::string(v->as_string()) : std::string();
}

}  // namespace

json::object Taint::to_json() const {
    json::object o{{"key", key}, {"effect", effect}};
    if (!value.empty()) o["value"] = value;
    if (time_added) o["timeAdded"] = kube::format_time(*time_added);
    return o;
}

json::object Toleration::to_json() const {
    json::object o;
    if (!key.empty()) o["key"] = key;
    o["operator"] = op;
    if (!value.empty()) o["value"] = value;
    if (!effect.empty()) o["effect"] = effect;
    if (seconds) o["tolerationSeconds"] = *seconds;
    return o;
}

bool Toleration::tolerates(const Taint& taint) const {
    if (!effect.empty() && effect != taint.effect) return false;
    if (!key.empty() && key != taint.key) return false;
    if (op == "Exists") return true;
    if (op.empty() || op == "Equal") return value == taint.value;
    return false;
}

std::vector<Taint> node_taints(const json::object& node) {
    std::vector<Taint> out;
    const auto* spec = node.if_contains("spec");
    if (!spec || !spec->is_object()) return out;
    const auto* taints = spec->as_object().if_contains("taints");
    if (!taints || !taints->is_array()) return out;
    for (const auto& t : taints->as_array()) {
        if (!t.is_object()) continue;
        const auto& o = t.as_object();
        Taint taint{string_at(o, "key"), string_at(o, "value"), string_at(o, "effect"), {}};
        if (taint.key.empty() || taint.effect.empty()) continue;
        if (auto added = string_at(o, "timeAdded"); !added.empty()) {
            if (auto tp = kube::parse_time(added)) taint.time_added = *tp;
        }
        out.push_back(std::move(taint));
    }
    return out;
}

std::vector<Toleration> tolerations_from_json(const json::value* tolerations) {
    std::vector<Toleration> out;
    if (!tolerations || !tolerations->is_array()) return out;
    for (const auto& t : tolerations->as_array()) {
        if (!t.is_object()) continue;
        const auto& o = t.as_object();
        Toleration tol{string_at(o, "key"),
                       string_at(o, "operator"),
                       string_at(o, "value"),
                       string_at(o, "effect"),
                       {}};
        if (tol.op.empty()) tol.op = "Equal";
        if (const auto* s = o.if_contains("tolerationSeconds")) {
            if (s->is_int64())
                tol.seconds = s->as_int64();
            else if (s->is_uint64())
                tol.seconds = static_cast<std::int64_t>(s->as_uint64());
            else if (s->is_double())
                tol.seconds = static_cast<std::int64_t>(s->as_double());
        }
        out.push_back(std::move(tol));
    }
    return out;
}

std::vector<Toleration> pod_tolerations(const json::object& pod) {
    const auto* spec = pod.if_contains("spec");
    if (!spec || !spec->is_object()) return {};
    return tolerations_from_json(spec->as_object().if_contains("tolerations"));
}

bool tolerated(const std::vector<Toleration>& tolerations, const Taint& taint) {
    return std::any_of(tolerations.begin(), tolerations.end(),
                       [&](const Toleration& t) { return t.tolerates(taint); });
}

std::optional<Taint> first_untolerated(const std::vector<Taint>& taints,
                                       const std::vector<Toleration>& tolerations,
                                       std::initializer_list<std::string_view> effects) {
    for (const auto& taint : taints) {
        if (std::find(effects.begin(), effects.end(), taint.effect) == effects.end()) continue;
        if (!tolerated(tolerations, taint)) return taint;
    }
    return std::nullopt;
}

}  // namespace kedge::controllers::nodelifecycle
