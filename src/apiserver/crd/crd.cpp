// CRD defaulting, validation (apiextensions-apiserver's ValidateCustomResourceDefinition, the
// parts kedge serves) and conversion to the typed form.

#include "apiserver/crd/crd.hpp"

#include <boost/json.hpp>

#include <algorithm>
#include <cctype>
#include <set>

#include "kube/object.hpp"
#include "kube/validation.hpp"

namespace kedge::apiserver::crd {
namespace json = boost::json;

namespace {

const json::object& empty_object() {
    static const json::object kEmpty;
    return kEmpty;
}

const json::object& obj_at(const json::object& o, std::string_view key) {
    const json::value* v = o.if_contains(key);
    return v != nullptr && v->is_object() ? v->get_object() : empty_object();
}

std::string str_at(const json::object& o, std::string_view key) {
    const json::value* v = o.if_contains(key);
    return v != nullptr && v->is_string() ? std::string(v->get_string()) : std::string();
}

bool bool_at(const json::object& o, std::string_view key) {
    const json::value* v = o.if_contains(key);
    return v != nullptr && v->is_bool() && v->get_bool();
}

std::vector<std::string> strings_at(const json::object& o, std::string_view key) {
    std::vector<std::string> out;
    const json::value* v = o.if_contains(key);
    if (v == nullptr || !v->is_array()) return out;
    for (const auto& item : v->get_array()) {
        if (item.is_string()) out.emplace_back(item.get_string());
    }
    return out;
}

std::string lower(std::string s) {
    std::transform(s.begin(), s.end(), s.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return s;
}

constexpr std::string_view kDns1035Message =
    "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an "
    "alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or "
    "'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')";

bool is_dns1035_label(std::string_view s) {
    if (s.empty() || s.size() > 63) return false;
    if (s.front() < 'a' || s.front() > 'z') return false;
    const char last = s.back();
    if (!((last >= 'a' && last <= 'z') || (last >= '0' && last <= '9'))) return false;
    return std::all_of(s.begin(), s.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
    });
}

using Causes = std::vector<kube::StatusCause>;

void check_label(Causes& causes, const std::string& field, const std::string& value) {
    if (!is_dns1035_label(value)) {
        causes.push_back(kube::field_invalid(field, json::value(value), kDns1035Message));
    }
}

void check_kind(Causes& causes, const std::string& field, const std::string& value) {
    if (value.empty()) {
        causes.push_back(kube::field_required(field));
    } else if (!is_dns1035_label(lower(value))) {
        causes.push_back(kube::field_invalid(
            field, json::value(value),
            "may have mixed case, but should otherwise match: [a-z]([-a-z0-9]*[a-z0-9])?"));
    }
}

void validate_names(const json::object& names, Causes& causes) {
    const std::string plural = str_at(names, "plural");
    if (plural.empty()) {
        causes.push_back(kube::field_required("spec.names.plural"));
    } else {
        check_label(causes, "spec.names.plural", plural);
    }
    if (const std::string singular = str_at(names, "singular"); !singular.empty()) {
        check_label(causes, "spec.names.singular", singular);
    }
    const std::string kind = str_at(names, "kind");
    const std::string list_kind = str_at(names, "listKind");
    check_kind(causes, "spec.names.kind", kind);
    check_kind(causes, "spec.names.listKind", list_kind);
    if (!kind.empty() && kind == list_kind) {
        causes.push_back(kube::field_invalid("spec.names.listKind", json::value(list_kind),
                                             "kind and listKind may not be the same"));
    }
    for (const char* key : {"shortNames", "categories"}) {
        const json::value* v = names.if_contains(key);
        if (v == nullptr) continue;
        const std::string base = std::string("spec.names.") + key;
        if (!v->is_array()) {
            causes.push_back(kube::field_invalid(base, *v, "must be an array of strings"));
            continue;
        }
        const json::array& a = v->get_array();
        for (std::size_t i = 0; i < a.size(); ++i) {
            const std::string field = base + "[" + std::to_string(i) + "]";
            if (!a[i].is_string()) {
                causes.push_back(kube::field_invalid(field, a[i], "must be a string"));
            } else {
                check_label(causes, field, std::string(a[i].get_string()));
            }
        }
    }
}

void validate_subresources(const json::object& version, const std::string& path, Causes& causes) {
    const json::value* sub = version.if_contains("subresources");
    if (sub == nullptr || sub->is_null()) return;
    if (!sub->is_object()) {
        causes.push_back(kube::field_invalid(path + ".subresources", *sub, "must be an object"));
        return;
    }
    const json::object& s = sub->get_object();
    if (const json::value* st = s.if_contains("status"); st != nullptr && !st->is_object()) {
        causes.push_back(
            kube::field_invalid(path + ".subresources.status", *st, "must be an object"));
    }
    if (const json::value* sc = s.if_contains("scale"); sc != nullptr) {
        const std::string sp = path + ".subresources.scale";
        if (!sc->is_object()) {
            causes.push_back(kube::field_invalid(sp, *sc, "must be an object"));
            return;
        }
        const std::string spec_path = str_at(sc->get_object(), "specReplicasPath");
        const std::string status_path = str_at(sc->get_object(), "statusReplicasPath");
        if (spec_path.empty()) {
            causes.push_back(kube::field_required(sp + ".specReplicasPath"));
        } else if (spec_path.rfind(".spec.", 0) != 0) {
            causes.push_back(kube::field_invalid(sp + ".specReplicasPath", json::value(spec_path),
                                                 "should be a json path under .spec"));
        }
        if (status_path.empty()) {
            causes.push_back(kube::field_required(sp + ".statusReplicasPath"));
        } else if (status_path.rfind(".status.", 0) != 0) {
            causes.push_back(kube::field_invalid(sp + ".statusReplicasPath",
                                                 json::value(status_path),
                                                 "should be a json path under .status"));
        }
    }
}

// One spec.versions[i]; returns its compiled schema (null on problems).
std::shared_ptr<const StructuralSchema> validate_version(const json::object& version,
                                                         const std::string& path, Causes& causes) {
    const std::string name = str_at(version, "name");
    if (name.empty()) {
        causes.push_back(kube::field_required(path + ".name"));
    } else {
        check_label(causes, path + ".name", name);
    }
    validate_subresources(version, path, causes);
    const json::value* schema = obj_at(version, "schema").if_contains("openAPIV3Schema");
    if (schema == nullptr || schema->is_null()) {
        causes.push_back(
            kube::field_required(path + ".schema.openAPIV3Schema", "schemas are required"));
        return nullptr;
    }
    return StructuralSchema::compile(*schema, path + ".schema.openAPIV3Schema", causes);
}

void validate_versions(const json::object& spec, Causes& causes) {
    const json::value* v = spec.if_contains("versions");
    if (v == nullptr || !v->is_array() || v->get_array().empty()) {
        causes.push_back(kube::field_required(
            "spec.versions", "must have exactly one version marked as storage version"));
        return;
    }
    const json::array& versions = v->get_array();
    std::set<std::string> seen;
    json::array names;
    int storage = 0;
    for (std::size_t i = 0; i < versions.size(); ++i) {
        const std::string path = "spec.versions[" + std::to_string(i) + "]";
        if (!versions[i].is_object()) {
            causes.push_back(kube::field_invalid(path, versions[i], "must be an object"));
            continue;
        }
        const json::object& ver = versions[i].get_object();
        const std::string name = str_at(ver, "name");
        names.emplace_back(name);
        if (!name.empty() && !seen.insert(name).second) {
            causes.push_back(kube::field_duplicate(path + ".name", json::value(name)));
        }
        if (bool_at(ver, "storage")) ++storage;
        validate_version(ver, path, causes);
    }
    if (storage != 1) {
        causes.push_back(kube::field_invalid(
            "spec.versions", names, "must have exactly one version marked as storage version"));
    }
}

void validate_spec(const json::object& spec, Causes& causes) {
    const std::string group = str_at(spec, "group");
    if (group.empty()) {
        causes.push_back(kube::field_required("spec.group"));
    } else if (auto r = kube::validate_dns1123_subdomain(group); !r) {
        causes.push_back(kube::field_invalid("spec.group", json::value(group), r.error().detail));
    } else if (group.find('.') == std::string::npos) {
        causes.push_back(kube::field_invalid("spec.group", json::value(group),
                                             "should be a domain with at least one dot"));
    }
    const std::string scope = str_at(spec, "scope");
    if (scope.empty()) {
        causes.push_back(kube::field_required("spec.scope"));
    } else if (scope != "Namespaced" && scope != "Cluster") {
        causes.push_back(
            kube::field_not_supported("spec.scope", json::value(scope), {"Cluster", "Namespaced"}));
    }
    validate_names(obj_at(spec, "names"), causes);
    validate_versions(spec, causes);
    if (bool_at(spec, "preserveUnknownFields")) {
        causes.push_back(kube::field_invalid(
            "spec.preserveUnknownFields", json::value(true),
            "cannot set to true, set x-kubernetes-preserve-unknown-fields to true in "
            "spec.versions[*].schema instead"));
    }
    const json::value* conversion = spec.if_contains("conversion");
    if (conversion != nullptr && !conversion->is_null() && !conversion->is_object()) {
        causes.push_back(kube::field_invalid("spec.conversion", *conversion, "must be an object"));
    }
    const std::string strategy = str_at(obj_at(spec, "conversion"), "strategy");
    if (strategy == "Webhook") {
        causes.push_back(kube::field_forbidden(
            "spec.conversion.strategy", "webhook conversion is not supported by kedge-apiserver"));
    } else if (!strategy.empty() && strategy != "None") {
        causes.push_back(kube::field_not_supported("spec.conversion.strategy",
                                                   json::value(strategy), {"None", "Webhook"}));
    }
}

}  // namespace

json::object CrdNames::to_json() const {
    json::object o;
    o["plural"] = plural;
    if (!singular.empty()) o["singular"] = singular;
    o["kind"] = kind;
    if (!list_kind.empty()) o["listKind"] = list_kind;
    auto list = [&](const char* key, const std::vector<std::string>& v) {
        if (v.empty()) return;
        json::array a;
        for (const auto& s : v) a.emplace_back(s);
        o[key] = std::move(a);
    };
    list("shortNames", short_names);
    list("categories", categories);
    return o;
}

void apply_crd_defaults(json::object& crd) {
    json::value* spec = crd.if_contains("spec");
    if (spec == nullptr || !spec->is_object()) return;
    json::value* names = spec->get_object().if_contains("names");
    if (names != nullptr && names->is_object()) {
        json::object& n = names->get_object();
        const std::string kind = str_at(n, "kind");
        if (!kind.empty() && str_at(n, "singular").empty()) n["singular"] = lower(kind);
        if (!kind.empty() && str_at(n, "listKind").empty()) n["listKind"] = kind + "List";
    }
    json::object& s = spec->get_object();
    json::value* conversion = s.if_contains("conversion");
    if (conversion == nullptr || conversion->is_null())
        conversion = &(s["conversion"] = json::object());
    if (conversion->is_object() && !conversion->get_object().contains("strategy")) {
        conversion->get_object()["strategy"] = "None";
    }
}

std::vector<kube::StatusCause> validate_crd(const json::object& crd) {
    Causes causes;
    const json::object& spec = obj_at(crd, "spec");
    const std::string name(kube::name(crd));
    const std::string expected =
        str_at(obj_at(spec, "names"), "plural") + "." + str_at(spec, "group");
    if (name.empty()) {
        causes.push_back(kube::field_required("metadata.name", "name or generateName is required"));
    } else if (name != expected) {
        causes.push_back(kube::field_invalid("metadata.name", json::value(name),
                                             "must be spec.names.plural+\".\"+spec.group"));
    }
    validate_spec(spec, causes);
    return causes;
}

std::vector<kube::StatusCause> validate_crd_update(const json::object& old_crd,
                                                   const json::object& updated) {
    Causes causes = validate_crd(updated);
    const json::object& old_spec = obj_at(old_crd, "spec");
    const json::object& new_spec = obj_at(updated, "spec");
    for (const char* key : {"group", "scope"}) {
        const std::string before = str_at(old_spec, key);
        const std::string after = str_at(new_spec, key);
        if (before != after) {
            causes.push_back(kube::field_invalid(std::string("spec.") + key, json::value(after),
                                                 "field is immutable"));
        }
    }
    std::set<std::string> versions;
    const json::value* v = new_spec.if_contains("versions");
    if (v != nullptr && v->is_array()) {
        for (const auto& ver : v->get_array()) {
            if (ver.is_object()) versions.insert(str_at(ver.get_object(), "name"));
        }
    }
    const auto stored = strings_at(obj_at(old_crd, "status"), "storedVersions");
    for (std::size_t i = 0; i < stored.size(); ++i) {
        if (!versions.contains(stored[i])) {
            causes.push_back(kube::field_invalid("status.storedVersions[" + std::to_string(i) + "]",
                                                 json::value(stored[i]),
                                                 "must appear in spec.versions"));
        }
    }
    return causes;
}

kube::Status crd_invalid_status(std::string_view name, std::vector<kube::StatusCause> causes) {
    return kube::status_invalid(kCrdGroup, kCrdKind, name, std::move(causes));
}

Result<CustomResourceDefinition> parse_crd(const json::object& crd) {
    Causes causes = validate_crd(crd);
    if (!causes.empty()) {
        return Error(errc::invalid_argument, causes.front().field + ": " + causes.front().message);
    }
    const json::object& spec = obj_at(crd, "spec");
    const json::object& names = obj_at(spec, "names");
    CustomResourceDefinition out;
    out.name = std::string(kube::name(crd));
    out.group = str_at(spec, "group");
    out.namespaced = str_at(spec, "scope") == "Namespaced";
    out.names.plural = str_at(names, "plural");
    out.names.kind = str_at(names, "kind");
    out.names.singular = str_at(names, "singular");
    if (out.names.singular.empty()) out.names.singular = lower(out.names.kind);
    out.names.list_kind = str_at(names, "listKind");
    if (out.names.list_kind.empty()) out.names.list_kind = out.names.kind + "List";
    out.names.short_names = strings_at(names, "shortNames");
    out.names.categories = strings_at(names, "categories");
    const json::array& versions = spec.at("versions").get_array();
    for (std::size_t i = 0; i < versions.size(); ++i) {
        const json::object& v = versions[i].get_object();
        CrdVersion ver;
        ver.name = str_at(v, "name");
        ver.served = bool_at(v, "served");
        ver.storage = bool_at(v, "storage");
        ver.deprecated = bool_at(v, "deprecated");
        ver.deprecation_warning = str_at(v, "deprecationWarning");
        const json::object& sub = obj_at(v, "subresources");
        ver.status_subresource = sub.contains("status");
        if (const json::value* sc = sub.if_contains("scale"); sc != nullptr && sc->is_object()) {
            ver.scale_subresource = true;
            ver.spec_replicas_path = str_at(sc->get_object(), "specReplicasPath");
            ver.status_replicas_path = str_at(sc->get_object(), "statusReplicasPath");
            ver.label_selector_path = str_at(sc->get_object(), "labelSelectorPath");
        }
        Causes ignored;
        ver.schema = StructuralSchema::compile(
            obj_at(v, "schema").at("openAPIV3Schema"),
            "spec.versions[" + std::to_string(i) + "].schema.openAPIV3Schema", ignored);
        out.versions.push_back(std::move(ver));
    }
    return out;
}

const CrdVersion* CustomResourceDefinition::find_version(std::string_view version) const {
    for (const auto& v : versions) {
        if (v.name == version) return &v;
    }
    return nullptr;
}

const CrdVersion& CustomResourceDefinition::storage_version() const {
    for (const auto& v : versions) {
        if (v.storage) return v;
    }
    return versions.front();  // unreachable for a parsed CRD
}

std::vector<ServedResource> CustomResourceDefinition::served_resources() const {
    std::vector<ServedResource> out;
    for (const auto& v : versions) {
        if (!v.served) continue;
        ServedResource r;
        r.group = group;
        r.version = v.name;
        r.plural = names.plural;
        r.singular = names.singular;
        r.kind = names.kind;
        r.list_kind = names.list_kind;
        r.namespaced = namespaced;
        r.short_names = names.short_names;
        r.categories = names.categories;
        r.has_status = v.status_subresource;
        r.has_scale = v.scale_subresource;
        r.storage = v.storage;
        r.schema = v.schema;
        out.push_back(std::move(r));
    }
    return out;
}

}  // namespace kedge::apiserver::crd
