// Evaluating a compiled structural schema: pruning, defaulting and validation with the messages
// of kube-openapi's validator as kube-apiserver reports them.

#include "apiserver/crd/schema.hpp"

#include <re2/re2.h>
#include <boost/json.hpp>

#include <charconv>
#include <cmath>
#include <limits>
#include <set>

#include "apiserver/crd/schema_node.hpp"
#include "kube/patch.hpp"

namespace kedge::apiserver::crd {
namespace json = boost::json;

namespace {

bool is_root_meta_key(std::string_view key) {
    return key == "apiVersion" || key == "kind" || key == "metadata";
}

// A double the way Go's %v prints it: integral values without a fraction or exponent.
std::string format_number(double d) {
    if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 9.0e15) {
        return std::to_string(static_cast<std::int64_t>(d));
    }
    char buf[64];
    auto r = std::to_chars(buf, buf + sizeof buf, d);
    return std::string(buf, r.ptr);
}

std::optional<double> as_double(const json::value& v) {
    if (v.is_int64()) return static_cast<double>(v.get_int64());
    if (v.is_uint64()) return static_cast<double>(v.get_uint64());
    if (v.is_double()) return v.get_double();
    return std::nullopt;
}

bool is_integer(const json::value& v) {
    if (v.is_int64() || v.is_uint64()) return true;
    if (!v.is_double()) return false;
    const double d = v.get_double();
    return std::isfinite(d) && d == std::floor(d);
}

// The JSON type name kube-openapi reports for a value that has the wrong type.
std::string_view kind_of(const json::value& v) {
    switch (v.kind()) {
        case json::kind::null:
            return "null";
        case json::kind::bool_:
            return "boolean";
        case json::kind::int64:
        case json::kind::uint64:
            return "integer";
        case json::kind::double_:
            return "number";
        case json::kind::string:
            return "string";
        case json::kind::array:
            return "array";
        case json::kind::object:
            return "object";
    }
    return "unknown";
}

bool matches_type(const json::value& v, std::string_view type) {
    if (type == "object") return v.is_object();
    if (type == "array") return v.is_array();
    if (type == "string") return v.is_string();
    if (type == "integer") return is_integer(v);
    if (type == "number") return v.is_number();
    if (type == "boolean") return v.is_bool();
    return true;
}

std::string in_body(const std::string& path) { return path.empty() ? "body" : path + " in body"; }

std::size_t utf8_length(std::string_view s) {
    std::size_t n = 0;
    for (unsigned char c : s) {
        if ((c & 0xC0) != 0x80) ++n;
    }
    return n;
}

bool valid_format(std::string_view format, std::string_view s) {
    static const re2::RE2 kDateTime(
        R"(^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$)");
    static const re2::RE2 kDate(R"(^\d{4}-\d{2}-\d{2}$)");
    static const re2::RE2 kUuid(
        R"(^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$)");
    static const re2::RE2 kByte(R"(^[A-Za-z0-9+/]*={0,2}$)");
    const re2::StringPiece text(s.data(), s.size());
    if (format == "date-time") return re2::RE2::FullMatch(text, kDateTime);
    if (format == "date") return re2::RE2::FullMatch(text, kDate);
    if (format == "uuid") return re2::RE2::FullMatch(text, kUuid);
    if (format == "byte") return s.size() % 4 == 0 && re2::RE2::FullMatch(text, kByte);
    return true;  // unknown formats are ignored, as kube-apiserver does
}

void invalid(std::vector<kube::StatusCause>& errors, const std::string& path,
             const json::value& bad, const std::string& detail) {
    errors.push_back(kube::field_invalid(path, bad, detail));
}

void validate_string(const SchemaNode& n, const json::string& s, const json::value& v,
                     const std::string& path, std::vector<kube::StatusCause>& errors) {
    const std::size_t len = utf8_length(s);
    if (n.min_length && static_cast<std::int64_t>(len) < *n.min_length) {
        invalid(
            errors, path, v,
            in_body(path) + " should be at least " + std::to_string(*n.min_length) + " chars long");
    }
    if (n.max_length && static_cast<std::int64_t>(len) > *n.max_length) {
        errors.push_back({"FieldValueTooLong",
                          "Too long: may not be longer than " + std::to_string(*n.max_length),
                          path});
    }
    if (n.pattern && !re2::RE2::PartialMatch(re2::StringPiece(s.data(), s.size()), *n.pattern)) {
        invalid(errors, path, v, in_body(path) + " should match '" + n.pattern_text + "'");
    }
    if (!n.format.empty() && !valid_format(n.format, s)) {
        invalid(errors, path, v,
                in_body(path) + " must be of type " + n.format + ": " + json::serialize(v));
    }
}

// Whether an integer value fits format int32 / int64 (as kube-openapi checks them).
bool fits_format(const json::value& v, bool int32) {
    constexpr auto kMax32 = std::numeric_limits<std::int32_t>::max();
    constexpr auto kMin32 = std::numeric_limits<std::int32_t>::min();
    if (v.is_int64()) return !int32 || (v.get_int64() >= kMin32 && v.get_int64() <= kMax32);
    if (v.is_uint64()) {
        return v.get_uint64() <=
               (int32 ? static_cast<std::uint64_t>(kMax32)
                      : static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()));
    }
    const double d = v.get_double();
    return int32 ? (d >= kMin32 && d <= kMax32)
                 : (d >= -9.2233720368547758e18 && d < 9.2233720368547758e18);
}

void validate_number(const SchemaNode& n, const json::value& v, const std::string& path,
                     std::vector<kube::StatusCause>& errors) {
    const double d = *as_double(v);
    if (n.type == "integer" && (n.format == "int32" || n.format == "int64") &&
        !fits_format(v, n.format == "int32")) {
        invalid(errors, path, v,
                in_body(path) + " must be of type " + n.format + ": " + json::serialize(v));
    }
    if (n.minimum) {
        const bool bad = n.exclusive_minimum ? !(d > *n.minimum) : !(d >= *n.minimum);
        if (bad) {
            invalid(errors, path, v,
                    in_body(path) +
                        (n.exclusive_minimum ? " should be greater than "
                                             : " should be greater than or equal to ") +
                        format_number(*n.minimum));
        }
    }
    if (n.maximum) {
        const bool bad = n.exclusive_maximum ? !(d < *n.maximum) : !(d <= *n.maximum);
        if (bad) {
            invalid(errors, path, v,
                    in_body(path) +
                        (n.exclusive_maximum ? " should be less than "
                                             : " should be less than or equal to ") +
                        format_number(*n.maximum));
        }
    }
    if (n.multiple_of && *n.multiple_of > 0) {
        const double q = d / *n.multiple_of;
        if (std::fabs(q - std::round(q)) > 1e-9) {
            invalid(errors, path, v,
                    in_body(path) + " should be a multiple of " + format_number(*n.multiple_of));
        }
    }
}

void validate_object(const SchemaNode& n, const json::object& o, const std::string& path,
                     bool root, std::vector<kube::StatusCause>& errors) {
    for (const std::string& r : n.required) {
        if (!o.contains(r)) errors.push_back(kube::field_required(child_path(path, r)));
    }
    if (n.embedded) {
        for (std::string_view key : {"apiVersion", "kind"}) {
            const json::value* f = o.if_contains(key);
            if (f == nullptr || !f->is_string() || f->get_string().empty()) {
                errors.push_back(kube::field_required(child_path(path, key), "must not be empty"));
            }
        }
    }
    const auto count = static_cast<std::int64_t>(o.size());
    if (n.min_properties && count < *n.min_properties) {
        invalid(errors, path, json::value(count),
                in_body(path) + " should have at least " + std::to_string(*n.min_properties) +
                    " properties");
    }
    if (n.max_properties && count > *n.max_properties) {
        invalid(errors, path, json::value(count),
                in_body(path) + " should have at most " + std::to_string(*n.max_properties) +
                    " properties");
    }
    // Declared properties in name order (deterministic causes), then additionalProperties.
    for (const auto& [key, prop] : n.properties) {
        if ((root || n.embedded) && is_root_meta_key(key)) continue;  // ObjectMeta rules apply
        if (const json::value* f = o.if_contains(key)) {
            validate_node(*prop, *f, child_path(path, key), false, errors);
        }
    }
    if (n.additional) {
        for (const auto& kv : o) {
            if ((root || n.embedded) && is_root_meta_key(kv.key())) continue;
            if (n.properties.contains(kv.key())) continue;
            validate_node(*n.additional, kv.value(), child_path(path, kv.key()), false, errors);
        }
    }
}

void validate_array(const SchemaNode& n, const json::array& a, const std::string& path,
                    std::vector<kube::StatusCause>& errors) {
    const auto count = static_cast<std::int64_t>(a.size());
    if (n.min_items && count < *n.min_items) {
        invalid(errors, path, json::value(count),
                in_body(path) + " should have at least " + std::to_string(*n.min_items) + " items");
    }
    if (n.max_items && count > *n.max_items) {
        errors.push_back({"FieldValueTooMany",
                          "Too many: " + std::to_string(count) + ": must have at most " +
                              std::to_string(*n.max_items) + " items",
                          path});
    }
    if (n.items) {
        for (std::size_t i = 0; i < a.size(); ++i) {
            validate_node(*n.items, a[i], index_path(path, i), false, errors);
        }
    }
    if (n.list_type == "set" || n.list_type == "map") {
        // Serialized keys in a set: n log n even for long lists from a client.
        std::set<std::string> seen;
        for (std::size_t i = 0; i < a.size(); ++i) {
            json::value key = a[i];
            if (n.list_type == "map") {
                if (!a[i].is_object()) continue;  // the items type check reported it
                json::object k;
                for (const auto& name : n.list_map_keys) {
                    if (const json::value* f = a[i].get_object().if_contains(name)) k[name] = *f;
                }
                key = std::move(k);
            }
            if (!seen.insert(json::serialize(key)).second) {
                errors.push_back(kube::field_duplicate(index_path(path, i), key));
            }
        }
    }
}

void validate_junctors(const SchemaNode& n, const json::value& v, const std::string& path,
                       bool root, std::vector<kube::StatusCause>& errors) {
    for (const auto& sub : n.all_of) validate_node(*sub, v, path, root, errors);
    auto passes = [&](const SchemaNode& sub) {
        std::vector<kube::StatusCause> scratch;
        validate_node(sub, v, path, root, scratch);
        return scratch.empty();
    };
    if (!n.any_of.empty()) {
        bool any = false;
        for (const auto& sub : n.any_of) any = any || passes(*sub);
        if (!any) {
            invalid(errors, path, v, in_body(path) + " must validate at least one schema (anyOf)");
        }
    }
    if (!n.one_of.empty()) {
        int matched = 0;
        for (const auto& sub : n.one_of) matched += passes(*sub) ? 1 : 0;
        if (matched != 1) {
            invalid(errors, path, v,
                    in_body(path) + " must validate one and only one schema (oneOf)");
        }
    }
    if (n.not_schema && passes(*n.not_schema)) {
        invalid(errors, path, v, in_body(path) + " must not validate the schema (not)");
    }
}

}  // namespace

void validate_node(const SchemaNode& n, const json::value& v, const std::string& path, bool root,
                   std::vector<kube::StatusCause>& errors) {
    if (v.is_null() && (n.nullable || (n.type.empty() && !n.int_or_string))) return;
    if (n.int_or_string) {
        if (!is_integer(v) && !v.is_string()) {
            invalid(errors, path, json::value(kind_of(v)),
                    in_body(path) + " must be of type integer,string: \"" +
                        std::string(kind_of(v)) + "\"");
            return;
        }
    } else if (!n.type.empty() && !matches_type(v, n.type)) {
        invalid(
            errors, path, json::value(kind_of(v)),
            in_body(path) + " must be of type " + n.type + ": \"" + std::string(kind_of(v)) + "\"");
        return;
    }
    if (!n.enum_values.empty()) {
        bool found = false;
        for (const auto& e : n.enum_values) found = found || kube::json_equal(e, v);
        if (!found) {
            std::vector<std::string> supported;
            for (const auto& e : n.enum_values) {
                supported.push_back(e.is_string() ? std::string(e.get_string())
                                                  : json::serialize(e));
            }
            errors.push_back(kube::field_not_supported(path, v, supported));
        }
    }
    if (v.is_string()) {
        validate_string(n, v.get_string(), v, path, errors);
    } else if (v.is_number()) {
        validate_number(n, v, path, errors);
    } else if (v.is_object()) {
        validate_object(n, v.get_object(), path, root, errors);
    } else if (v.is_array()) {
        validate_array(n, v.get_array(), path, errors);
    }
    validate_junctors(n, v, path, root, errors);
}

std::vector<std::string> prune_node(const SchemaNode& n, json::value& v, const std::string& path,
                                    bool root) {
    std::vector<std::string> pruned;
    auto walk = [&](const SchemaNode& sub, json::value& child, const std::string& p) {
        auto more = prune_node(sub, child, p, false);
        pruned.insert(pruned.end(), more.begin(), more.end());
    };
    if (v.is_object()) {
        json::object& o = v.get_object();
        for (auto it = o.begin(); it != o.end();) {
            const std::string_view key = it->key();
            const std::string p = child_path(path, key);
            if ((root || n.embedded) && is_root_meta_key(key)) {
                ++it;
                continue;
            }
            if (auto prop = n.properties.find(key); prop != n.properties.end()) {
                walk(*prop->second, it->value(), p);
            } else if (n.additional) {
                walk(*n.additional, it->value(), p);
            } else if (!n.additional_any && !n.preserve_unknown) {
                pruned.push_back(p);
                it = o.stable_erase(it);
                continue;
            }
            ++it;
        }
    } else if (v.is_array() && n.items) {
        json::array& a = v.get_array();
        for (std::size_t i = 0; i < a.size(); ++i) walk(*n.items, a[i], index_path(path, i));
    }
    return pruned;
}

namespace {

void default_node(const SchemaNode& n, json::value& v) {
    if (v.is_object()) {
        json::object& o = v.get_object();
        for (const auto& [key, prop] : n.properties) {
            json::value* cur = o.if_contains(key);
            if (cur != nullptr && cur->is_null() && !prop->nullable) {
                if (!prop->default_value) {
                    o.stable_erase(key);
                    continue;
                }
                cur = nullptr;
            }
            if (cur == nullptr) {
                if (!prop->default_value) continue;
                cur = &(o[key] = *prop->default_value);
            }
            default_node(*prop, *cur);
        }
        if (n.additional) {
            for (auto& kv : o) default_node(*n.additional, kv.value());
        }
    } else if (v.is_array() && n.items) {
        for (auto& item : v.get_array()) default_node(*n.items, item);
    }
}

}  // namespace

StructuralSchema::StructuralSchema(std::shared_ptr<const SchemaNode> root, json::value source)
    : root_(std::move(root)), source_(std::move(source)) {}

std::vector<std::string> StructuralSchema::prune(json::value& object) const {
    return prune_node(*root_, object, "", true);
}

void StructuralSchema::apply_defaults(json::value& object) const { default_node(*root_, object); }

std::vector<kube::StatusCause> StructuralSchema::validate(const json::value& object) const {
    std::vector<kube::StatusCause> errors;
    validate_node(*root_, object, "", true, errors);
    return errors;
}

SchemaOutcome StructuralSchema::process(json::value& object) const {
    SchemaOutcome out;
    out.pruned = prune(object);
    apply_defaults(object);
    out.errors = validate(object);
    return out;
}

}  // namespace kedge::apiserver::crd
