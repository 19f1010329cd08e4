#include "apiserver/registry_detail.hpp"

#include <boost/json.hpp>

#include <charconv>

#include "apiserver/object_rules.hpp"
#include "kube/field_selector.hpp"
#include "kube/label_selector.hpp"
#include "kube/object.hpp"

namespace kedge::apiserver::detail {
namespace json = boost::json;

kube::Status not_found_resource() {
    kube::Status s;
    s.code = 404;
    s.reason = "NotFound";
    s.message = "the server could not find the requested resource";
    return s;
}

json::value parse_json(std::string_view text, boost::system::error_code& ec) {
    json::parse_options opts;
    opts.max_depth = 1000;
    return json::parse(text, ec, {}, opts);
}

ApiResult<json::object> parse_object(std::string_view body) {
    boost::system::error_code ec;
    json::value v = parse_json(body, ec);
    if (ec)
        return api_error(kube::status_bad_request(
            "couldn't get version/kind; json parse error: " + ec.message()));
    if (!v.is_object())
        return api_error(kube::status_bad_request(
            "couldn't get version/kind; json parse error: the body is not a JSON object"));
    return std::move(v.as_object());
}

ApiResult<void> check_kind(const ResourceType& type, json::object& obj) {
    std::string_view av = kube::api_version(obj), k = kube::kind(obj);
    if (av.empty() && k.empty()) {
        kube::set_api_version(obj, type.group_version());
        kube::set_kind(obj, type.kind);
        return {};
    }
    if (k.empty())
        return api_error(kube::status_bad_request("Object 'Kind' is missing in the request body"));
    if (av.empty())
        return api_error(
            kube::status_bad_request("Object 'apiVersion' is missing in the request body"));
    if (av != type.group_version())
        return api_error(kube::status_bad_request(
            "the API version in the data (" + std::string(av) +
            ") does not match the expected API version (" + type.group_version() + ")"));
    if (k != type.kind)
        return api_error(kube::status_bad_request("the kind in the data (" + std::string(k) +
                                                  ") does not match the expected kind (" +
                                                  type.kind + ")"));
    return {};
}

ApiResult<void> check_fields(const ResourceType& type, const json::object& obj,
                             FieldValidation validation, std::vector<std::string>& warnings) {
    if (validation == FieldValidation::kIgnore) return {};
    auto unknown = unknown_fields(type, obj);
    if (unknown.empty()) return {};
    if (validation == FieldValidation::kWarn) {
        for (const auto& f : unknown) warnings.push_back("unknown field \"" + f + "\"");
        return {};
    }
    std::string msg = "strict decoding error: ";
    for (std::size_t i = 0; i < unknown.size(); ++i) {
        if (i > 0) msg += ", ";
        msg += "unknown field \"" + unknown[i] + "\"";
    }
    return api_error(kube::status_bad_request(msg));
}

std::string object_key(const ResourceType& type, const std::string& ns, const std::string& name) {
    return collection_prefix(type, ns) + name;
}

std::string collection_prefix(const ResourceType& type, const std::string& ns) {
    std::string p = Registry::type_prefix(type);
    if (type.namespaced && !ns.empty()) p += ns + "/";
    return p;
}

ApiResult<std::optional<std::uint64_t>> parse_rv_param(std::string_view rv) {
    if (rv.empty()) return std::optional<std::uint64_t>{};
    std::uint64_t v = 0;
    auto [p, ec] = std::from_chars(rv.data(), rv.data() + rv.size(), v);
    if (ec != std::errc{} || p != rv.data() + rv.size())
        return api_error(kube::status_bad_request("invalid resource version \"" +
                                                  std::string(rv) + "\""));
    return std::optional<std::uint64_t>{v};
}

ApiResult<storage::ObjectFilter> make_filter(const ResourceType& type, std::string_view labels,
                                             std::string_view fields, const std::string& name) {
    auto ls = kube::LabelSelector::parse(labels);
    if (!ls)
        return api_error(kube::status_bad_request("unable to parse requirement: " +
                                                  ls.error().detail));
    auto fs = kube::FieldSelector::parse(fields);
    if (!fs) return api_error(kube::status_bad_request(fs.error().detail));
    auto supported = kube::supported_field_labels(type.resource);
    if (!type.custom) {
        if (auto v = fs->validate(supported); !v)
            return api_error(kube::status_bad_request(v.error().detail));
    } else {
        if (auto v = fs->validate({"metadata.name", "metadata.namespace"}); !v)
            return api_error(kube::status_bad_request(v.error().detail));
    }
    if (ls->empty() && fs->empty() && name.empty()) return storage::ObjectFilter{};
    return storage::ObjectFilter([ls = std::move(*ls), fs = std::move(*fs),
                                  name](const storage::Object& o) {
        auto field = [&o](std::string_view f) -> std::optional<std::string> {
            auto it = o.attrs.fields.find(f);
            if (it == o.attrs.fields.end()) return std::nullopt;
            return it->second;
        };
        if (!name.empty() && field("metadata.name").value_or("") != name) return false;
        return ls.matches(o.attrs.labels) && fs.matches(field);
    });
}

storage::ObjectAttrs object_attrs(const std::string& resource, std::string_view key,
                                  std::string_view value) {
    storage::ObjectAttrs a;
    boost::system::error_code ec;
    json::value v = parse_json(value, ec);
    if (ec || !v.is_object()) return storage::default_attrs(key, value);
    const auto& obj = v.as_object();
    a.labels = kube::labels(obj);
    for (auto f : kube::supported_field_labels(resource)) {
        if (auto val = kube::selectable_field_value(obj, resource, f))
            a.fields.emplace(std::string(f), std::move(*val));
    }
    return a;
}

std::string encode_continue(const std::string& next_key, std::uint64_t rev,
                            const std::string& prefix) {
    std::string start = next_key.starts_with(prefix) ? next_key.substr(prefix.size()) : next_key;
    json::object o{{"v", "meta.k8s.io/v1"}, {"rv", rev}, {"start", start}};
    std::string b = base64_encode(json::serialize(o));
    // URL-safe, as kube's RawURLEncoding-free token still travels in a query string.
    for (auto& c : b) {
        if (c == '+') c = '-';
        if (c == '/') c = '_';
    }
    while (!b.empty() && b.back() == '=') b.pop_back();
    return b;
}

ApiResult<std::pair<std::string, std::uint64_t>> decode_continue(std::string_view token,
                                                                 const std::string& prefix) {
    auto bad = [] {
        return api_error(kube::status_bad_request(
            "continue key is not valid: incorrect encoded start resourceVersion (version "
            "meta.k8s.io/v1)"));
    };
    std::string raw;
    if (!base64_decode(token, raw)) return bad();
    boost::system::error_code ec;
    json::value v = parse_json(raw, ec);
    if (ec || !v.is_object()) return bad();
    const auto& o = v.as_object();
    const auto* rv = o.if_contains("rv");
    const auto* start = o.if_contains("start");
    if (!rv || !start || !start->is_string()) return bad();
    std::uint64_t rev = 0;
    if (rv->is_uint64()) rev = rv->as_uint64();
    else if (rv->is_int64() && rv->as_int64() > 0) rev = static_cast<std::uint64_t>(rv->as_int64());
    else return bad();
    std::string s(start->as_string());
    if (s.find("..") != std::string::npos) return bad();
    return std::pair{prefix + s, rev};
}

json::object scale_of(const json::object& obj) {
    json::object md;
    for (const char* k : {"name", "namespace", "uid", "resourceVersion", "creationTimestamp"})
        if (const auto* m = kube::metadata(obj); m && m->contains(k)) md[k] = m->at(k);
    std::int64_t spec_replicas = 0, status_replicas = 0;
    if (const auto* r = kube::get_path(obj, "spec.replicas"); r && r->is_int64())
        spec_replicas = r->as_int64();
    if (const auto* r = kube::get_path(obj, "status.replicas"); r && r->is_int64())
        status_replicas = r->as_int64();
    json::object status{{"replicas", status_replicas}};
    if (const auto* sel = kube::get_path(obj, "spec.selector")) {
        if (auto ls = kube::LabelSelector::from_json(*sel)) status["selector"] = ls->to_string();
    }
    return json::object{{"kind", "Scale"},
                        {"apiVersion", "autoscaling/v1"},
                        {"metadata", std::move(md)},
                        {"spec", json::object{{"replicas", spec_replicas}}},
                        {"status", std::move(status)}};
}

}  // namespace kedge::apiserver::detail
