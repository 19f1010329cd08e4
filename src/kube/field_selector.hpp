#pragma once
// Field selectors with apimachinery's fields-package grammar: "metadata.name=x,spec.nodeName!=y"
// ('=', '==', '!='; '\\', ',' and '=' in values escaped with a backslash).

#include <boost/json/fwd.hpp>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.hpp"

namespace kedge::kube {

// One term: `field = value` or, when negated, `field != value`. The value is unescaped.
struct FieldRequirement {
    std::string field;
    bool negated = false;
    std::string value;

    friend bool operator==(const FieldRequirement&, const FieldRequirement&) = default;
};

// A conjunction of field terms. Empty matches everything.
class FieldSelector {
  public:
    // Reads a field's value as text; nullopt when the object does not have it, which compares
    // like "" (so "spec.nodeName=" selects unscheduled pods, as in Kubernetes).
    using FieldGetter = std::function<std::optional<std::string>(std::string_view field)>;

    FieldSelector() = default;

    // invalid_argument with a message naming the bad term or escape.
    static Result<FieldSelector> parse(std::string_view text);

    bool empty() const { return requirements_.empty(); }
    const std::vector<FieldRequirement>& requirements() const { return requirements_; }

    // invalid_argument "field label not supported: <f>" for the first field outside `supported`
    // (kube-apiserver answers 400 BadRequest with this message).
    Result<void> validate(const std::vector<std::string_view>& supported) const;

    bool matches(const FieldGetter& get) const;
    // Matches by plain JSON path lookup on the object (see get_path_string).
    bool matches_object(const boost::json::object& obj) const;

    // The value when the selector pins `field` to exactly one value (field=v).
    std::optional<std::string> requires_exact_match(std::string_view field) const;

    // Canonical form: terms sorted, values escaped; parse(to_string()) is equivalent.
    std::string to_string() const;

  private:
    std::vector<FieldRequirement> requirements_;
};

// Backslash-escapes '\\', ',' and '=' in a value (apimachinery fields.EscapeValue).
std::string escape_field_value(std::string_view value);
// The inverse; invalid_argument on an unknown escape or an unescaped ',' / '='.
Result<std::string> unescape_field_value(std::string_view value);

// Field labels kube-apiserver accepts in field selectors for a resource (plural, e.g. "pods",
// "nodes", "events"); every resource, custom ones included, supports metadata.name and
// metadata.namespace.
std::vector<std::string_view> supported_field_labels(std::string_view resource);

// A field's selectable value the way kube-apiserver computes it for `resource` (defaults such as
// spec.unschedulable="false" on nodes, events' "source" = source.component); other fields are
// read by JSON path.
std::optional<std::string> selectable_field_value(const boost::json::object& obj,
                                                  std::string_view resource,
                                                  std::string_view field);

}  // namespace kedge::kube
