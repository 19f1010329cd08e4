#include "kube/object.hpp"

#include <algorithm>
#include <boost/json/array.hpp>
#include <boost/json/string.hpp>
#include <charconv>
#include <cmath>
#include <boost/json/serialize.hpp>

namespace kedge::kube {

namespace json = boost::json;

namespace {

std::string_view str_field(const json::object* o, std::string_view key) {
    if (o == nullptr) return {};
    const json::value* v = o->if_contains(key);
    if (v == nullptr) return {};
    const json::string* s = v->if_string();
    return s != nullptr ? std::string_view(*s) : std::string_view{};
}

const json::object* obj_field(const json::object* o, std::string_view key) {
    if (o == nullptr) return nullptr;
    const json::value* v = o->if_contains(key);
    return v != nullptr ? v->if_object() : nullptr;
}

const json::array* arr_field(const json::object* o, std::string_view key) {
    if (o == nullptr) return nullptr;
    const json::value* v = o->if_contains(key);
    return v != nullptr ? v->if_array() : nullptr;
}

bool bool_field(const json::object* o, std::string_view key) {
    if (o == nullptr) return false;
    const json::value* v = o->if_contains(key);
    return v != nullptr && v->is_bool() && v->get_bool();
}

Labels string_map(const json::object* o) {
    Labels out;
    if (o == nullptr) return out;
    for (const auto& kv : *o) {
        if (const json::string* s = kv.value().if_string()) {
            out.emplace(std::string(kv.key()), std::string(*s));
        }
    }
    return out;
}

json::object& child_object(json::object& parent, std::string_view key) {
    json::value& v = parent[key];
    if (!v.is_object()) v.emplace_object();
    return v.get_object();
}

}  // namespace

std::string GroupVersion::to_string() const {
    return group.empty() ? version : group + "/" + version;
}

std::string_view api_version(const json::object& obj) { return str_field(&obj, "apiVersion"); }
std::string_view kind(const json::object& obj) { return str_field(&obj, "kind"); }
const json::object* metadata(const json::object& obj) { return obj_field(&obj, "metadata"); }
std::string_view name(const json::object& obj) { return str_field(metadata(obj), "name"); }
std::string_view namespace_of(const json::object& obj) {
    return str_field(metadata(obj), "namespace");
}
std::string_view uid(const json::object& obj) { return str_field(metadata(obj), "uid"); }
std::string_view resource_version(const json::object& obj) {
    return str_field(metadata(obj), "resourceVersion");
}
std::string_view generate_name(const json::object& obj) {
    return str_field(metadata(obj), "generateName");
}

std::int64_t generation(const json::object& obj) {
    const json::object* md = metadata(obj);
    if (md == nullptr) return 0;
    const json::value* v = md->if_contains("generation");
    if (v == nullptr) return 0;
    if (v->is_int64()) return v->get_int64();
    if (v->is_uint64()) return static_cast<std::int64_t>(v->get_uint64());
    return 0;
}

std::string_view creation_timestamp(const json::object& obj) {
    return str_field(metadata(obj), "creationTimestamp");
}

std::optional<std::string_view> deletion_timestamp(const json::object& obj) {
    const json::object* md = metadata(obj);
    if (md == nullptr) return std::nullopt;
    const json::value* v = md->if_contains("deletionTimestamp");
    if (v == nullptr || !v->is_string()) return std::nullopt;
    return std::string_view(v->get_string());
}

const json::object* labels_json(const json::object& obj) {
    return obj_field(metadata(obj), "labels");
}
Labels labels(const json::object& obj) { return string_map(labels_json(obj)); }
Labels annotations(const json::object& obj) {
    return string_map(obj_field(metadata(obj), "annotations"));
}

std::optional<std::string_view> label(const json::object& obj, std::string_view key) {
    const json::object* l = labels_json(obj);
    if (l == nullptr) return std::nullopt;
    const json::value* v = l->if_contains(key);
    if (v == nullptr || !v->is_string()) return std::nullopt;
    return std::string_view(v->get_string());
}

std::optional<std::string_view> annotation(const json::object& obj, std::string_view key) {
    const json::object* a = obj_field(metadata(obj), "annotations");
    if (a == nullptr) return std::nullopt;
    const json::value* v = a->if_contains(key);
    if (v == nullptr || !v->is_string()) return std::nullopt;
    return std::string_view(v->get_string());
}

std::vector<OwnerReference> owner_references(const json::object& obj) {
    std::vector<OwnerReference> out;
    const json::array* refs = arr_field(metadata(obj), "ownerReferences");
    if (refs == nullptr) return out;
    for (const json::value& r : *refs) {
        const json::object* o = r.if_object();
        if (o == nullptr) continue;
        out.push_back(OwnerReference{
            .api_version = std::string(str_field(o, "apiVersion")),
            .kind = std::string(str_field(o, "kind")),
            .name = std::string(str_field(o, "name")),
            .uid = std::string(str_field(o, "uid")),
            .controller = bool_field(o, "controller"),
            .block_owner_deletion = bool_field(o, "blockOwnerDeletion"),
        });
    }
    return out;
}

std::optional<OwnerReference> controller_of(const json::object& obj) {
    for (auto& ref : owner_references(obj)) {
        if (ref.controller) return ref;
    }
    return std::nullopt;
}

std::vector<std::string> finalizers(const json::object& obj) {
    std::vector<std::string> out;
    const json::array* f = arr_field(metadata(obj), "finalizers");
    if (f == nullptr) return out;
    for (const json::value& v : *f) {
        if (const json::string* s = v.if_string()) out.emplace_back(*s);
    }
    return out;
}

bool has_finalizer(const json::object& obj, std::string_view finalizer) {
    const json::array* f = arr_field(metadata(obj), "finalizers");
    if (f == nullptr) return false;
    return std::any_of(f->begin(), f->end(), [&](const json::value& v) {
        return v.is_string() && std::string_view(v.get_string()) == finalizer;
    });
}

std::string cache_key(const json::object& obj) {
    std::string_view ns = namespace_of(obj);
    std::string_view n = name(obj);
    if (ns.empty()) return std::string(n);
    std::string key;
    key.reserve(ns.size() + 1 + n.size());
    key.append(ns).append("/").append(n);
    return key;
}

json::object& ensure_metadata(json::object& obj) { return child_object(obj, "metadata"); }

void set_api_version(json::object& obj, std::string_view v) { obj["apiVersion"] = v; }
void set_kind(json::object& obj, std::string_view v) { obj["kind"] = v; }
void set_name(json::object& obj, std::string_view v) { ensure_metadata(obj)["name"] = v; }
void set_namespace(json::object& obj, std::string_view v) { ensure_metadata(obj)["namespace"] = v; }
void set_uid(json::object& obj, std::string_view v) { ensure_metadata(obj)["uid"] = v; }
void set_resource_version(json::object& obj, std::string_view v) {
    ensure_metadata(obj)["resourceVersion"] = v;
}
void set_generation(json::object& obj, std::int64_t v) { ensure_metadata(obj)["generation"] = v; }
void set_creation_timestamp(json::object& obj, std::string_view rfc3339) {
    ensure_metadata(obj)["creationTimestamp"] = rfc3339;
}
void set_deletion_timestamp(json::object& obj, std::string_view rfc3339) {
    ensure_metadata(obj)["deletionTimestamp"] = rfc3339;
}

void set_label(json::object& obj, std::string_view key, std::string_view value) {
    child_object(ensure_metadata(obj), "labels")[key] = value;
}

void remove_label(json::object& obj, std::string_view key) {
    json::object& md = ensure_metadata(obj);
    if (json::value* l = md.if_contains("labels"); l != nullptr && l->is_object()) {
        l->get_object().erase(key);
    }
}

void set_annotation(json::object& obj, std::string_view key, std::string_view value) {
    child_object(ensure_metadata(obj), "annotations")[key] = value;
}

void remove_annotation(json::object& obj, std::string_view key) {
    json::object& md = ensure_metadata(obj);
    if (json::value* a = md.if_contains("annotations"); a != nullptr && a->is_object()) {
        a->get_object().erase(key);
    }
}

void set_finalizers(json::object& obj, const std::vector<std::string>& finalizers) {
    json::object& md = ensure_metadata(obj);
    if (finalizers.empty()) {
        md.erase("finalizers");
        return;
    }
    json::array arr;
    for (const auto& f : finalizers) arr.emplace_back(f);
    md["finalizers"] = std::move(arr);
}

bool remove_finalizer(json::object& obj, std::string_view finalizer) {
    auto current = finalizers(obj);
    auto it = std::remove(current.begin(), current.end(), finalizer);
    if (it == current.end()) return false;
    current.erase(it, current.end());
    set_finalizers(obj, current);
    return true;
}

const json::value* get_path(const json::value& v, std::string_view path) {
    const json::value* cur = &v;
    while (!path.empty()) {
        std::size_t dot = path.find('.');
        std::string_view step = path.substr(0, dot);
        path = dot == std::string_view::npos ? std::string_view{} : path.substr(dot + 1);
        if (const json::object* o = cur->if_object()) {
            cur = o->if_contains(step);
        } else if (const json::array* a = cur->if_array()) {
            std::size_t index = 0;
            auto [end, ec] = std::from_chars(step.data(), step.data() + step.size(), index);
            if (ec != std::errc{} || end != step.data() + step.size() || index >= a->size()) {
                return nullptr;
            }
            cur = &(*a)[index];
        } else {
            return nullptr;
        }
        if (cur == nullptr) return nullptr;
    }
    return cur;
}

const json::value* get_path(const json::object& obj, std::string_view path) {
    std::size_t dot = path.find('.');
    const json::value* first = obj.if_contains(path.substr(0, dot));
    if (first == nullptr || dot == std::string_view::npos) return first;
    return get_path(*first, path.substr(dot + 1));
}

namespace {

std::optional<std::string> scalar_text(const json::value* f) {
    if (f == nullptr) return std::nullopt;
    switch (f->kind()) {
        case json::kind::string:
            return std::string(f->get_string());
        case json::kind::bool_:
            return f->get_bool() ? "true" : "false";
        case json::kind::int64:
            return std::to_string(f->get_int64());
        case json::kind::uint64:
            return std::to_string(f->get_uint64());
        case json::kind::null:
            return std::string();
        default:
            return std::nullopt;
    }
}

}  // namespace

std::optional<std::string> get_path_string(const json::value& v, std::string_view path) {
    return scalar_text(get_path(v, path));
}

std::optional<std::string> get_path_string(const json::object& obj, std::string_view path) {
    return scalar_text(get_path(obj, path));
}

Result<GroupVersion> parse_api_version(std::string_view api_version) {
    if (api_version.empty()) return Error(errc::invalid_argument, "apiVersion is empty");
    std::size_t slash = api_version.find('/');
    if (slash == std::string_view::npos) return GroupVersion{"", std::string(api_version)};
    std::string_view group = api_version.substr(0, slash);
    std::string_view version = api_version.substr(slash + 1);
    if (group.empty() || version.empty() || version.find('/') != std::string_view::npos) {
        return Error(errc::invalid_argument,
                     "unexpected GroupVersion string: \"" + std::string(api_version) + "\"");
    }
    return GroupVersion{std::string(group), std::string(version)};
}

Result<std::uint64_t> parse_resource_version(std::string_view rv) {
    std::uint64_t out = 0;
    auto [end, ec] = std::from_chars(rv.data(), rv.data() + rv.size(), out);
    if (rv.empty() || ec != std::errc{} || end != rv.data() + rv.size()) {
        return Error(errc::invalid_argument, "invalid resource version \"" + std::string(rv) +
                                                 "\": expected a decimal "
                                                 "unsigned 64-bit integer");
    }
    return out;
}

Result<std::strong_ordering> compare_resource_versions(std::string_view a, std::string_view b) {
    auto ra = parse_resource_version(a);
    if (!ra) return ra.error();
    auto rb = parse_resource_version(b);
    if (!rb) return rb.error();
    return *ra <=> *rb;
}

namespace {

void add_name(std::set<std::string>& out, const json::object* o, std::string_view key) {
    std::string_view n = str_field(o, key);
    if (!n.empty()) out.emplace(n);
}

void collect_container_refs(const json::array* containers, PodReferences& refs) {
    if (containers == nullptr) return;
    for (const json::value& c : *containers) {
        const json::object* co = c.if_object();
        if (const json::array* env = arr_field(co, "env")) {
            for (const json::value& e : *env) {
                const json::object* from = obj_field(e.if_object(), "valueFrom");
                add_name(refs.config_maps, obj_field(from, "configMapKeyRef"), "name");
                add_name(refs.secrets, obj_field(from, "secretKeyRef"), "name");
            }
        }
        if (const json::array* env_from = arr_field(co, "envFrom")) {
            for (const json::value& e : *env_from) {
                add_name(refs.config_maps, obj_field(e.if_object(), "configMapRef"), "name");
                add_name(refs.secrets, obj_field(e.if_object(), "secretRef"), "name");
            }
        }
    }
}

}  // namespace

PodReferences referenced_configmaps_and_secrets(const json::object& pod) {
    PodReferences refs;
    const json::object* spec = obj_field(&pod, "spec");
    if (const json::array* volumes = arr_field(spec, "volumes")) {
        for (const json::value& v : *volumes) {
            const json::object* vo = v.if_object();
            add_name(refs.config_maps, obj_field(vo, "configMap"), "name");
            add_name(refs.secrets, obj_field(vo, "secret"), "secretName");
            const json::array* sources = arr_field(obj_field(vo, "projected"), "sources");
            if (sources == nullptr) continue;
            for (const json::value& s : *sources) {
                add_name(refs.config_maps, obj_field(s.if_object(), "configMap"), "name");
                add_name(refs.secrets, obj_field(s.if_object(), "secret"), "name");
            }
        }
    }
    for (std::string_view list : {"initContainers", "containers", "ephemeralContainers"}) {
        collect_container_refs(arr_field(spec, list), refs);
    }
    if (const json::array* pull = arr_field(spec, "imagePullSecrets")) {
        for (const json::value& s : *pull) add_name(refs.secrets, s.if_object(), "name");
    }
    return refs;
}

namespace {

namespace json = boost::json;

void write_canonical(const json::value& v, std::string& out) {
    switch (v.kind()) {
        case json::kind::object: {
            const auto& o = v.get_object();
            std::vector<std::string_view> keys;
            for (const auto& kv : o) keys.push_back(kv.key());
            std::sort(keys.begin(), keys.end());
            out += '{';
            bool first = true;
            for (auto k : keys) {
                if (!first) out += ',';
                first = false;
                out += json::serialize(json::string(k));
                out += ':';
                write_canonical(*o.if_contains(k), out);
            }
            out += '}';
            return;
        }
        case json::kind::array: {
            out += '[';
            bool first = true;
            for (const auto& e : v.get_array()) {
                if (!first) out += ',';
                first = false;
                write_canonical(e, out);
            }
            out += ']';
            return;
        }
        case json::kind::double_: {
            double d = v.get_double();
            if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 9e15) {
                out += std::to_string(static_cast<std::int64_t>(d));
                return;
            }
            out += json::serialize(v);
            return;
        }
        default:
            out += json::serialize(v);
    }
}

}  // namespace

std::string canonical_json(const boost::json::value& v) {
    std::string out;
    write_canonical(v, out);
    return out;
}

}  // namespace kedge::kube
