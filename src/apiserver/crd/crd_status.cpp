// The status kube-apiserver's naming and establishing controllers write on a CRD, computed in one
// step because kedge serves a CRD as soon as it is stored.

#include <boost/json.hpp>

#include <optional>

#include "apiserver/crd/crd.hpp"

namespace kedge::apiserver::crd {
namespace json = boost::json;

namespace {

struct Conflict {
    std::string reason;
    std::string message;
};

std::string in_use(std::string_view name) {
    return "\"" + std::string(name) + "\" is already in use";
}

std::optional<Conflict> find_conflict(const CustomResourceDefinition& crd,
                                      const std::vector<CustomResourceDefinition>& others) {
    for (const auto& other : others) {
        if (other.group != crd.group || other.name == crd.name) continue;
        const CrdNames& a = crd.names;
        const CrdNames& b = other.names;
        if (a.plural == b.plural) return Conflict{"PluralConflict", in_use(a.plural)};
        if (a.singular == b.singular) return Conflict{"SingularConflict", in_use(a.singular)};
        for (const auto& s : a.short_names) {
            for (const auto& t : b.short_names) {
                if (s == t) return Conflict{"ShortNamesConflict", in_use(s)};
            }
        }
        if (a.kind == b.kind) return Conflict{"KindConflict", in_use(a.kind)};
        if (a.list_kind == b.list_kind) return Conflict{"ListKindConflict", in_use(a.list_kind)};
    }
    return std::nullopt;
}

const json::object* old_condition(const json::object* old_status, std::string_view type) {
    if (old_status == nullptr) return nullptr;
    const json::value* conds = old_status->if_contains("conditions");
    if (conds == nullptr || !conds->is_array()) return nullptr;
    for (const auto& c : conds->get_array()) {
        if (!c.is_object()) continue;
        const json::value* t = c.get_object().if_contains("type");
        if (t != nullptr && t->is_string() && t->get_string() == type) return &c.get_object();
    }
    return nullptr;
}

json::object condition(const json::object* old_status, std::string_view type, bool ok,
                       std::string_view reason, std::string_view message, std::string_view now) {
    json::object c;
    c["type"] = type;
    c["status"] = ok ? "True" : "False";
    std::string when(now);
    if (const json::object* prev = old_condition(old_status, type)) {
        const json::value* st = prev->if_contains("status");
        const json::value* t = prev->if_contains("lastTransitionTime");
        if (st != nullptr && st->is_string() && st->get_string() == c["status"].get_string() &&
            t != nullptr && t->is_string()) {
            when = std::string(t->get_string());
        }
    }
    c["lastTransitionTime"] = when;
    c["reason"] = reason;
    c["message"] = message;
    return c;
}

}  // namespace

json::object compute_crd_status(const CustomResourceDefinition& crd, const json::object* old_status,
                                std::string_view now_rfc3339,
                                const std::vector<CustomResourceDefinition>& others) {
    json::object status;
    const auto conflict = find_conflict(crd, others);
    const bool was_established = old_condition(old_status, "Established") != nullptr &&
                                 old_condition(old_status, "Established")->contains("status") &&
                                 old_condition(old_status, "Established")->at("status") == "True";
    json::array conditions;
    if (conflict) {
        conditions.push_back(condition(old_status, "NamesAccepted", false, conflict->reason,
                                       conflict->message, now_rfc3339));
    } else {
        conditions.push_back(condition(old_status, "NamesAccepted", true, "NoConflicts",
                                       "no conflicts found", now_rfc3339));
    }
    if (!conflict || was_established) {
        conditions.push_back(condition(old_status, "Established", true, "InitialNamesAccepted",
                                       "the initial names have been accepted", now_rfc3339));
    } else {
        conditions.push_back(condition(old_status, "Established", false, "NotAccepted",
                                       "not all names are accepted", now_rfc3339));
    }
    status["conditions"] = std::move(conditions);
    if (!conflict) {
        status["acceptedNames"] = crd.names.to_json();
    } else if (old_status != nullptr && old_status->contains("acceptedNames")) {
        status["acceptedNames"] = old_status->at("acceptedNames");
    } else {
        status["acceptedNames"] = json::object{{"plural", ""}, {"kind", ""}};
    }
    json::array stored;
    if (old_status != nullptr) {
        if (const json::value* s = old_status->if_contains("storedVersions");
            s != nullptr && s->is_array()) {
            for (const auto& v : s->get_array()) {
                if (v.is_string()) stored.push_back(v);
            }
        }
    }
    const std::string& storage = crd.storage_version().name;
    if (std::find(stored.begin(), stored.end(), json::value(storage)) == stored.end()) {
        stored.emplace_back(storage);
    }
    status["storedVersions"] = std::move(stored);
    return status;
}

bool is_established(const json::object& crd) {
    const json::value* status = crd.if_contains("status");
    if (status == nullptr || !status->is_object()) return false;
    const json::object* c = old_condition(&status->get_object(), "Established");
    if (c == nullptr) return false;
    const json::value* s = c->if_contains("status");
    return s != nullptr && s->is_string() && s->get_string() == "True";
}

}  // namespace kedge::apiserver::crd
