// Compiling an openAPIV3Schema into SchemaNodes while checking the structural-schema rules of
// apiextensions.k8s.io/v1 (every node typed, items for arrays, no $ref, defaults that validate).

#include <re2/re2.h>
#include <boost/json.hpp>

#include <algorithm>
#include <array>

#include "apiserver/crd/schema.hpp"
#include "apiserver/crd/schema_node.hpp"

namespace kedge::apiserver::crd {
namespace json = boost::json;

namespace {

// kIntOrStringJunctor: inside allOf/anyOf/... of an x-kubernetes-int-or-string node, where
// controller-gen's `anyOf: [{type: integer}, {type: string}]` is allowed.
enum class Where { kRoot, kProperty, kItems, kAdditional, kJunctor, kIntOrStringJunctor };

bool is_junctor(Where w) { return w == Where::kJunctor || w == Where::kIntOrStringJunctor; }

constexpr std::array<std::string_view, 6> kTypes = {"array",  "boolean", "integer",
                                                    "number", "object",  "string"};

class Compiler {
public:
    explicit Compiler(std::vector<kube::StatusCause>& errors) : errors_(errors) {}

    std::shared_ptr<const SchemaNode> node(const json::value& v, const std::string& path,
                                           Where where) {
        if (!v.is_object()) {
            errors_.push_back(kube::field_invalid(path, v, "must be a schema object"));
            return nullptr;
        }
        const json::object& o = v.get_object();
        auto n = std::make_shared<SchemaNode>();
        const std::size_t before = errors_.size();
        read_flags(o, path, *n);
        read_type(o, path, where, *n);
        read_children(o, path, where, *n);
        read_validations(o, path, *n);
        if (is_junctor(where)) check_junctor(o, path, where);
        if (const json::value* d = o.if_contains("default")) {
            if (where == Where::kRoot || is_junctor(where)) {
                errors_.push_back(kube::field_forbidden(
                    path + ".default", where == Where::kRoot ? "must not be set at the root"
                                                             : "must be empty to be structural"));
            } else if (errors_.size() == before) {
                check_default(*n, *d, path + ".default");
                n->default_value = *d;
            }
        }
        return n;
    }

private:
    std::optional<bool> read_bool(const json::object& o, std::string_view key,
                                  const std::string& path) {
        const json::value* f = o.if_contains(key);
        if (f == nullptr) return std::nullopt;
        if (!f->is_bool()) {
            errors_.push_back(kube::field_invalid(child_path(path, key), *f, "must be a boolean"));
            return std::nullopt;
        }
        return f->get_bool();
    }

    std::optional<std::int64_t> read_count(const json::object& o, std::string_view key,
                                           const std::string& path) {
        const json::value* f = o.if_contains(key);
        if (f == nullptr) return std::nullopt;
        if (!f->is_int64() || f->get_int64() < 0) {
            if (f->is_uint64()) return static_cast<std::int64_t>(f->get_uint64());
            errors_.push_back(
                kube::field_invalid(child_path(path, key), *f, "must be a non-negative integer"));
            return std::nullopt;
        }
        return f->get_int64();
    }

    std::optional<double> read_number(const json::object& o, std::string_view key,
                                      const std::string& path) {
        const json::value* f = o.if_contains(key);
        if (f == nullptr) return std::nullopt;
        if (!f->is_number()) {
            errors_.push_back(kube::field_invalid(child_path(path, key), *f, "must be a number"));
            return std::nullopt;
        }
        return f->to_number<double>();
    }

    void read_flags(const json::object& o, const std::string& path, SchemaNode& n) {
        n.nullable = read_bool(o, "nullable", path).value_or(false);
        n.int_or_string = read_bool(o, "x-kubernetes-int-or-string", path).value_or(false);
        n.embedded = read_bool(o, "x-kubernetes-embedded-resource", path).value_or(false);
        if (auto p = read_bool(o, "x-kubernetes-preserve-unknown-fields", path)) {
            if (!*p) {
                errors_.push_back(
                    kube::field_invalid(path + ".x-kubernetes-preserve-unknown-fields",
                                        json::value(false), "must be true or undefined"));
            }
            n.preserve_unknown = *p;
        }
        if (o.contains("$ref")) {
            errors_.push_back(kube::field_forbidden(path + ".$ref", "$ref is not supported"));
        }
        if (auto u = read_bool(o, "uniqueItems", path); u && *u) {
            errors_.push_back(kube::field_forbidden(path + ".uniqueItems",
                                                    "uniqueItems cannot be set to true since the "
                                                    "runtime complexity becomes quadratic"));
        }
        if (const json::value* f = o.if_contains("format")) {
            if (f->is_string()) n.format = std::string(f->get_string());
        }
    }

    void read_type(const json::object& o, const std::string& path, Where where, SchemaNode& n) {
        const json::value* t = o.if_contains("type");
        if (t != nullptr && !t->is_string()) {
            errors_.push_back(kube::field_invalid(path + ".type", *t, "must be a string"));
            return;
        }
        if (t != nullptr) n.type = std::string(t->get_string());
        if (!n.type.empty() && std::find(kTypes.begin(), kTypes.end(), n.type) == kTypes.end()) {
            errors_.push_back(kube::field_not_supported(
                path + ".type", *t, std::vector<std::string>(kTypes.begin(), kTypes.end())));
            return;
        }
        if (is_junctor(where)) return;
        if (n.int_or_string) {
            if (!n.type.empty()) {
                errors_.push_back(kube::field_forbidden(
                    path + ".type", "must be empty if x-kubernetes-int-or-string is true"));
            }
            return;
        }
        if (where == Where::kRoot && !n.type.empty() && n.type != "object") {
            errors_.push_back(
                kube::field_invalid(path + ".type", *t, "must be object at the root"));
        }
        if (n.embedded && n.type != "object") {
            errors_.push_back(
                kube::field_invalid(path + ".type", json::value(n.type),
                                    "must be object if x-kubernetes-embedded-resource is true"));
        }
        if (n.type.empty() && !n.preserve_unknown) {
            const char* where_text = where == Where::kRoot    ? "at the root"
                                     : where == Where::kItems ? "for specified array items"
                                     : where == Where::kAdditional
                                         ? "for specified additionalProperties"
                                         : "for specified object fields";
            errors_.push_back(kube::field_required(path + ".type",
                                                   std::string("must not be empty ") + where_text));
        }
    }

    void read_children(const json::object& o, const std::string& path, Where where, SchemaNode& n) {
        if (const json::value* props = o.if_contains("properties")) {
            if (!props->is_object()) {
                errors_.push_back(
                    kube::field_invalid(path + ".properties", *props, "must be an object"));
            } else {
                for (const auto& kv : props->get_object()) {
                    const std::string p = path + ".properties[" + std::string(kv.key()) + "]";
                    if (auto child = node(kv.value(), p, Where::kProperty)) {
                        n.properties.emplace(std::string(kv.key()), std::move(child));
                    }
                }
            }
        }
        if (const json::value* items = o.if_contains("items")) {
            if (items->is_array()) {
                errors_.push_back(kube::field_forbidden(
                    path + ".items", "items must be a schema object and not an array"));
            } else {
                n.items = node(*items, path + ".items", Where::kItems);
            }
        } else if (n.type == "array") {
            errors_.push_back(kube::field_required(path + ".items", "must be specified"));
        }
        if (const json::value* add = o.if_contains("additionalProperties")) {
            if (!n.properties.empty() || o.contains("properties")) {
                errors_.push_back(kube::field_forbidden(
                    path + ".additionalProperties",
                    "additionalProperties and properties are mutual exclusive"));
            } else if (n.preserve_unknown) {
                errors_.push_back(kube::field_forbidden(
                    path + ".additionalProperties",
                    "must not be used if x-kubernetes-preserve-unknown-fields is true"));
            } else if (add->is_bool()) {
                n.additional_any = add->get_bool();
            } else {
                n.additional = node(*add, path + ".additionalProperties", Where::kAdditional);
            }
        }
        read_junctors(o, path, where, n);
        read_list_type(o, path, n);
    }

    void read_junctors(const json::object& o, const std::string& path, Where where, SchemaNode& n) {
        const Where sub_where = n.int_or_string || where == Where::kIntOrStringJunctor
                                    ? Where::kIntOrStringJunctor
                                    : Where::kJunctor;
        for (auto [key, list] : {std::pair{"allOf", &n.all_of}, std::pair{"anyOf", &n.any_of},
                                 std::pair{"oneOf", &n.one_of}}) {
            const json::value* f = o.if_contains(key);
            if (f == nullptr) continue;
            if (!f->is_array()) {
                errors_.push_back(
                    kube::field_invalid(child_path(path, key), *f, "must be an array"));
                continue;
            }
            const json::array& a = f->get_array();
            for (std::size_t i = 0; i < a.size(); ++i) {
                if (auto sub = node(a[i], index_path(child_path(path, key), i), sub_where)) {
                    list->push_back(std::move(sub));
                }
            }
        }
        if (const json::value* f = o.if_contains("not")) {
            n.not_schema = node(*f, path + ".not", sub_where);
        }
    }

    void read_list_type(const json::object& o, const std::string& path, SchemaNode& n) {
        const json::value* lt = o.if_contains("x-kubernetes-list-type");
        if (lt == nullptr) return;
        const std::string field = path + ".x-kubernetes-list-type";
        if (!lt->is_string() || (*lt != "atomic" && *lt != "set" && *lt != "map")) {
            errors_.push_back(kube::field_not_supported(field, *lt, {"atomic", "set", "map"}));
            return;
        }
        if (n.type != "array") {
            errors_.push_back(
                kube::field_invalid(field, *lt, "must only be used if type is array"));
            return;
        }
        n.list_type = std::string(lt->get_string());
        if (n.list_type != "map") return;
        if (const json::value* keys = o.if_contains("x-kubernetes-list-map-keys");
            keys != nullptr && keys->is_array()) {
            for (const auto& k : keys->get_array()) {
                if (k.is_string()) n.list_map_keys.emplace_back(k.get_string());
            }
        }
        if (n.list_map_keys.empty()) {
            errors_.push_back(
                kube::field_required(path + ".x-kubernetes-list-map-keys",
                                     "must not be empty if x-kubernetes-list-type is map"));
        }
        if (n.items != nullptr && n.items->type != "object") {
            errors_.push_back(
                kube::field_invalid(field, *lt, "must only be map if items type is object"));
        }
    }

    void read_validations(const json::object& o, const std::string& path, SchemaNode& n) {
        if (const json::value* e = o.if_contains("enum")) {
            if (!e->is_array()) {
                errors_.push_back(kube::field_invalid(path + ".enum", *e, "must be an array"));
            } else {
                n.enum_values.assign(e->get_array().begin(), e->get_array().end());
            }
        }
        n.minimum = read_number(o, "minimum", path);
        n.maximum = read_number(o, "maximum", path);
        n.multiple_of = read_number(o, "multipleOf", path);
        n.exclusive_minimum = read_bool(o, "exclusiveMinimum", path).value_or(false);
        n.exclusive_maximum = read_bool(o, "exclusiveMaximum", path).value_or(false);
        n.min_length = read_count(o, "minLength", path);
        n.max_length = read_count(o, "maxLength", path);
        n.min_items = read_count(o, "minItems", path);
        n.max_items = read_count(o, "maxItems", path);
        n.min_properties = read_count(o, "minProperties", path);
        n.max_properties = read_count(o, "maxProperties", path);
        if (const json::value* r = o.if_contains("required")) {
            bool ok = r->is_array();
            if (ok) {
                for (const auto& item : r->get_array()) {
                    if (!item.is_string()) {
                        ok = false;
                        break;
                    }
                    n.required.emplace_back(item.get_string());
                }
            }
            if (!ok) {
                errors_.push_back(
                    kube::field_invalid(path + ".required", *r, "must be an array of strings"));
            }
        }
        if (const json::value* p = o.if_contains("pattern")) {
            if (!p->is_string()) {
                errors_.push_back(kube::field_invalid(path + ".pattern", *p, "must be a string"));
            } else {
                n.pattern_text = std::string(p->get_string());
                re2::RE2::Options options;
                options.set_log_errors(false);
                auto re = std::make_shared<const re2::RE2>(n.pattern_text, options);
                if (re->ok()) {
                    n.pattern = std::move(re);
                } else {
                    errors_.push_back(
                        kube::field_invalid(path + ".pattern", *p,
                                            "must be a valid regular expression: " + re->error()));
                }
            }
        }
    }

    void check_junctor(const json::object& o, const std::string& path, Where where) {
        if (where == Where::kIntOrStringJunctor) {
            const json::value* t = o.if_contains("type");
            if (t != nullptr && (*t == "integer" || *t == "string")) {
                json::object rest = o;
                rest.erase("type");
                check_junctor(rest, path, Where::kJunctor);
                return;
            }
        }
        for (std::string_view key :
             {"type", "default", "nullable", "additionalProperties",
              "x-kubernetes-preserve-unknown-fields", "x-kubernetes-embedded-resource",
              "x-kubernetes-int-or-string"}) {
            if (o.contains(key)) {
                errors_.push_back(
                    kube::field_forbidden(child_path(path, key), "must be empty to be structural"));
            }
        }
    }

    // Defaults must survive pruning and validate, or every object would get an invalid value.
    void check_default(const SchemaNode& n, const json::value& d, const std::string& path) {
        json::value copy = d;
        auto pruned = prune_node(n, copy, "", false);
        if (!pruned.empty()) {
            errors_.push_back(
                kube::field_invalid(path, d, "must not have unknown fields: " + pruned.front()));
            return;
        }
        std::vector<kube::StatusCause> problems;
        validate_node(n, d, "", false, problems);
        if (!problems.empty()) {
            errors_.push_back(kube::field_invalid(path, d, problems.front().message));
        }
    }

    std::vector<kube::StatusCause>& errors_;
};

}  // namespace

std::shared_ptr<const StructuralSchema> StructuralSchema::compile(
    const json::value& schema, const std::string& path, std::vector<kube::StatusCause>& errors) {
    const std::size_t before = errors.size();
    Compiler compiler(errors);
    auto root = compiler.node(schema, path, Where::kRoot);
    if (root == nullptr || errors.size() != before) return nullptr;
    return std::make_shared<const StructuralSchema>(std::move(root), schema);
}

Result<std::shared_ptr<const StructuralSchema>> StructuralSchema::compile(
    const json::value& schema) {
    std::vector<kube::StatusCause> errors;
    auto compiled = compile(schema, "openAPIV3Schema", errors);
    if (compiled == nullptr) {
        std::string detail = "invalid schema";
        if (!errors.empty()) detail = errors.front().field + ": " + errors.front().message;
        return Error(errc::invalid_argument, detail);
    }
    return compiled;
}

}  // namespace kedge::apiserver::crd
