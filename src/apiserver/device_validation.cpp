#include "apiserver/device_validation.hpp"

#include <boost/json/value.hpp>

#include <charconv>
#include <cmath>
#include <cstdlib>
#include <map>
#include <set>

#include "kube/object.hpp"

namespace kedge::apiserver {

namespace json = boost::json;

namespace {

const std::vector<std::string> kTypes = {"INT",     "FLOAT", "DOUBLE", "STRING",
                                         "BOOLEAN", "BYTES", "STREAM"};
const std::vector<std::string> kAccessModes = {"ReadWrite", "ReadOnly"};

bool is_numeric_type(std::string_view t) { return t == "INT" || t == "FLOAT" || t == "DOUBLE"; }

std::optional<std::int64_t> parse_int(std::string_view s) {
    if (!s.empty() && s.front() == '+') s.remove_prefix(1);
    std::int64_t v = 0;
    auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (s.empty() || ec != std::errc{} || ptr != s.data() + s.size()) return std::nullopt;
    return v;
}

std::optional<double> parse_number(std::string_view s) {
    if (s.empty() || std::isspace(static_cast<unsigned char>(s.front()))) return std::nullopt;
    std::string text(s);
    char* end = nullptr;
    double v = std::strtod(text.c_str(), &end);
    if (end != text.c_str() + text.size() || !std::isfinite(v)) return std::nullopt;
    return v;
}

// A number as the model's type reads it (integers for INT), for range checks.
std::optional<double> as_number(std::string_view type, std::string_view s) {
    if (type == "INT") {
        auto i = parse_int(s);
        return i ? std::optional<double>(static_cast<double>(*i)) : std::nullopt;
    }
    return parse_number(s);
}

std::string article(std::string_view type) {
    return (type == "INT") ? "an INT" : "a " + std::string(type);
}

std::string string_at(const json::object& o, std::string_view key) {
    const auto* v = o.if_contains(key);
    return v && v->is_string() ? std::string(v->get_string()) : std::string();
}

// minimum/maximum are strings in v1beta1; numbers are accepted too.
std::optional<std::string> bound_text(const json::object& o, std::string_view key) {
    const auto* v = o.if_contains(key);
    if (!v || v->is_null()) return std::nullopt;
    if (v->is_string()) {
        if (v->get_string().empty()) return std::nullopt;
        return std::string(v->get_string());
    }
    if (v->is_int64()) return std::to_string(v->get_int64());
    if (v->is_uint64()) return std::to_string(v->get_uint64());
    if (v->is_double()) {
        auto s = std::to_string(v->get_double());
        return s;
    }
    return std::nullopt;
}

const json::array* properties(const json::object& obj) {
    const auto* v = kube::get_path(obj, "spec.properties");
    return v ? v->if_array() : nullptr;
}

std::string field(std::size_t i, std::string_view rest) {
    return "spec.properties[" + std::to_string(i) + "]." + std::string(rest);
}

std::string join(const std::vector<std::string>& names) {
    std::string out;
    for (const auto& n : names) {
        if (!out.empty()) out += ", ";
        out += n;
    }
    return out;
}

}  // namespace

bool is_device_type(const ResourceType& type) {
    return type.group == kDevicesGroup && type.resource == "devices";
}

bool is_device_model_type(const ResourceType& type) {
    return type.group == kDevicesGroup && type.resource == "devicemodels";
}

std::optional<std::string> check_value_type(std::string_view type, std::string_view value) {
    if (type == "INT") {
        if (!parse_int(value)) return "is not an INT";
    } else if (type == "FLOAT" || type == "DOUBLE") {
        if (!parse_number(value)) return "is not " + article(type);
    } else if (type == "BOOLEAN") {
        if (value != "true" && value != "false") return "is not a BOOLEAN (true or false)";
    }
    return std::nullopt;
}

std::vector<kube::StatusCause> validate_device(const json::object& device,
                                               const json::object* model) {
    std::vector<kube::StatusCause> causes;
    const auto* props = properties(device);
    if (!props) return causes;
    const std::string model_name =
        kube::get_path_string(device, "spec.deviceModelRef.name").value_or("");
    std::map<std::string, const json::object*> by_name;
    std::vector<std::string> model_names;
    if (model) {
        if (const auto* mp = properties(*model)) {
            for (const auto& p : *mp) {
                const auto* o = p.if_object();
                if (!o) continue;
                auto n = string_at(*o, "name");
                if (n.empty()) continue;
                by_name.emplace(n, o);
                model_names.push_back(n);
            }
        }
    }
    std::set<std::string> seen;
    for (std::size_t i = 0; i < props->size(); ++i) {
        const auto* p = (*props)[i].if_object();
        if (!p) continue;
        const std::string name = string_at(*p, "name");
        if (name.empty()) continue;  // the schema requires it
        if (!seen.insert(name).second) {
            causes.push_back(kube::field_duplicate(field(i, "name"), json::string(name)));
            continue;
        }
        if (!model) continue;
        auto it = by_name.find(name);
        if (it == by_name.end()) {
            causes.push_back(kube::field_invalid(
                field(i, "name"), json::string(name),
                "property " + name + " does not exist in model " + model_name +
                    (model_names.empty() ? std::string(" (it has no properties)")
                                         : " (its properties: " + join(model_names) + ")")));
            continue;
        }
        const auto* desired_v = kube::get_path(*p, "desired.value");
        if (!desired_v || desired_v->is_null()) continue;
        if (!desired_v->is_string()) continue;  // the schema reports the wrong JSON type
        const std::string value(desired_v->get_string());
        if (value.empty()) continue;  // no desired value
        const json::object& mp = *it->second;
        const std::string type = string_at(mp, "type");
        const std::string access = string_at(mp, "accessMode");
        const std::string where = " (model " + model_name + ")";
        const std::string vfield = field(i, "desired.value");
        if (access == "ReadOnly") {
            causes.push_back(kube::field_invalid(
                vfield, json::string(value),
                "property " + name + " is ReadOnly" + where +
                    ": a desired value can only be set on a ReadWrite property"));
            continue;
        }
        if (auto why = check_value_type(type, value)) {
            causes.push_back(kube::field_invalid(
                vfield, json::string(value),
                "property " + name + ": value \"" + value + "\" " + *why + where));
            continue;
        }
        if (!is_numeric_type(type)) continue;
        auto v = as_number(type, value);
        if (!v) continue;
        if (auto min = bound_text(mp, "minimum")) {
            if (auto m = parse_number(*min); m && *v < *m)
                causes.push_back(kube::field_invalid(vfield, json::string(value),
                                                     "property " + name + ": value " + value +
                                                         " is below the minimum " + *min + where));
        }
        if (auto max = bound_text(mp, "maximum")) {
            if (auto m = parse_number(*max); m && *v > *m)
                causes.push_back(kube::field_invalid(vfield, json::string(value),
                                                     "property " + name + ": value " + value +
                                                         " is above the maximum " + *max + where));
        }
    }
    return causes;
}

std::vector<kube::StatusCause> validate_device_model(const json::object& model) {
    std::vector<kube::StatusCause> causes;
    const auto* props = properties(model);
    if (!props) return causes;
    std::set<std::string> seen;
    for (std::size_t i = 0; i < props->size(); ++i) {
        const auto* p = (*props)[i].if_object();
        if (!p) continue;
        const std::string name = string_at(*p, "name");
        if (name.empty()) {
            causes.push_back(kube::field_required(field(i, "name")));
        } else if (!seen.insert(name).second) {
            causes.push_back(kube::field_duplicate(field(i, "name"), json::string(name)));
        }
        const std::string type = string_at(*p, "type");
        if (p->contains("type") && std::find(kTypes.begin(), kTypes.end(), type) == kTypes.end())
            causes.push_back(kube::field_not_supported(field(i, "type"), p->at("type"), kTypes));
        if (p->contains("accessMode")) {
            const std::string access = string_at(*p, "accessMode");
            if (std::find(kAccessModes.begin(), kAccessModes.end(), access) == kAccessModes.end())
                causes.push_back(kube::field_not_supported(field(i, "accessMode"),
                                                           p->at("accessMode"), kAccessModes));
        }
        auto min = bound_text(*p, "minimum"), max = bound_text(*p, "maximum");
        std::optional<double> lo, hi;
        struct Bound {
            std::string key;
            const std::optional<std::string>* text;
            std::optional<double>* out;
        };
        for (const Bound& b : {Bound{"minimum", &min, &lo}, Bound{"maximum", &max, &hi}}) {
            const auto& [key, text, out] = b;
            if (!*text) continue;
            if (!type.empty() && !is_numeric_type(type)) {
                causes.push_back(kube::field_invalid(
                    field(i, key), json::string(**text),
                    "property " + name + ": a " + key + " needs a numeric type, not " + type));
                continue;
            }
            *out = as_number(type.empty() ? "DOUBLE" : type, **text);
            if (!*out)
                causes.push_back(kube::field_invalid(field(i, key), json::string(**text),
                                                     "property " + name + ": " + key + " is not " +
                                                         article(type.empty() ? "number" : type)));
        }
        if (lo && hi && *lo > *hi)
            causes.push_back(kube::field_invalid(
                field(i, "minimum"), json::string(*min),
                "property " + name + ": minimum " + *min + " is greater than maximum " + *max));
    }
    return causes;
}

std::vector<kube::StatusCause> admit_device_object(const ResourceType& type,
                                                   const json::object* old, const json::object& obj,
                                                   const DeviceModelLookup& find_model) {
    const bool device = is_device_type(type), model = is_device_model_type(type);
    if (!device && !model) return {};
    if (old) {
        const auto* a = old->if_contains("spec");
        const auto* b = obj.if_contains("spec");
        if ((!a && !b) || (a && b && *a == *b)) return {};
    }
    if (model) return validate_device_model(obj);
    std::optional<json::object> stored;
    auto name = kube::get_path_string(obj, "spec.deviceModelRef.name").value_or("");
    if (!name.empty() && find_model) stored = find_model(kube::namespace_of(obj), name);
    return validate_device(obj, stored ? &*stored : nullptr);
}

}  // namespace kedge::apiserver
