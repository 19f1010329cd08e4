#pragma once
// Internal to the crd library: the compiled form of one openAPIV3Schema node, shared by the
// compiler (schema_compile.cpp) and the evaluator (schema.cpp). Not part of the public API.

#include <boost/json/value.hpp>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "kube/status.hpp"

namespace re2 {
class RE2;
}

namespace kedge::apiserver::crd {

// One node of a compiled structural schema; immutable once compiled.
struct SchemaNode {
    std::string type;  // "" = any (only with preserve-unknown or int-or-string)
    bool nullable = false;
    std::string format;
    std::optional<boost::json::value> default_value;

    std::map<std::string, std::shared_ptr<const SchemaNode>, std::less<>> properties;
    std::vector<std::string> required;
    std::shared_ptr<const SchemaNode> items;
    std::shared_ptr<const SchemaNode> additional;  // additionalProperties as a schema
    bool additional_any = false;                   // additionalProperties: true

    std::vector<boost::json::value> enum_values;
    std::optional<double> minimum;
    std::optional<double> maximum;
    std::optional<double> multiple_of;
    bool exclusive_minimum = false;
    bool exclusive_maximum = false;
    std::optional<std::int64_t> min_length;
    std::optional<std::int64_t> max_length;
    std::optional<std::int64_t> min_items;
    std::optional<std::int64_t> max_items;
    std::optional<std::int64_t> min_properties;
    std::optional<std::int64_t> max_properties;
    std::shared_ptr<const re2::RE2> pattern;  // unanchored, like Go's regexp.MatchString
    std::string pattern_text;

    std::string list_type;                   // x-kubernetes-list-type: "", atomic, set, map
    std::vector<std::string> list_map_keys;  // x-kubernetes-list-map-keys

    bool preserve_unknown = false;  // x-kubernetes-preserve-unknown-fields
    bool int_or_string = false;     // x-kubernetes-int-or-string
    bool embedded = false;          // x-kubernetes-embedded-resource

    // Value validations only (structural schemas forbid types/defaults in these).
    std::vector<std::shared_ptr<const SchemaNode>> all_of;
    std::vector<std::shared_ptr<const SchemaNode>> any_of;
    std::vector<std::shared_ptr<const SchemaNode>> one_of;
    std::shared_ptr<const SchemaNode> not_schema;
};

// Field-path helpers in kube's notation: "spec.items[0].name".
inline std::string child_path(const std::string& path, std::string_view key) {
    if (path.empty()) return std::string(key);
    std::string out = path;
    out.append(".").append(key);
    return out;
}
inline std::string index_path(const std::string& path, std::size_t i) {
    return path + "[" + std::to_string(i) + "]";
}

// Evaluator entry points used by the compiler to check `default` values.
std::vector<std::string> prune_node(const SchemaNode& node, boost::json::value& v,
                                    const std::string& path, bool root);
void validate_node(const SchemaNode& node, const boost::json::value& v, const std::string& path,
                   bool root, std::vector<kube::StatusCause>& errors);

}  // namespace kedge::apiserver::crd
