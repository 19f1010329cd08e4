#pragma once
// Label selectors with the grammar, validation and matching of apimachinery's labels package:
// "a=b,c!=d,e in (x,y),f notin (z),g,!h" and the JSON LabelSelector form (matchLabels,
// matchExpressions).

#include <boost/json/fwd.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.hpp"
#include "kube/object.hpp"

namespace kedge::kube {

enum class SelectorOperator {
    kIn,
    kNotIn,
    kEquals,        // "="
    kDoubleEquals,  // "=="
    kNotEquals,     // "!="
    kExists,        // "key"
    kDoesNotExist,  // "!key"
    kGreaterThan,   // "key>5" (integers)
    kLessThan,      // "key<5"
};

// One term of a selector: a key, an operator and (for the set/equality forms) values, kept sorted
// and unique like apimachinery's sets.String.
struct Requirement {
    std::string key;
    SelectorOperator op = SelectorOperator::kExists;
    std::vector<std::string> values;

    // Validates key, values and the operator's arity; the only way parse/from_json build terms.
    static Result<Requirement> make(std::string key, SelectorOperator op,
                                    std::vector<std::string> values);

    // `value` is the label's value, or nullopt when the object has no such label.
    bool matches(std::optional<std::string_view> value) const;
    std::string to_string() const;
};

// A conjunction of requirements. Default-constructed (or parsed from "") it is empty and matches
// everything; nothing() matches no object (the JSON form of a null selector).
class LabelSelector {
  public:
    LabelSelector() = default;

    static LabelSelector everything() { return {}; }
    static LabelSelector nothing();
    // The string form used in ?labelSelector= and by kubectl -l. invalid_argument on bad syntax
    // or invalid keys/values; the detail names the offending token.
    static Result<LabelSelector> parse(std::string_view text);
    // metav1.LabelSelector JSON: null -> nothing(), {} -> everything.
    static Result<LabelSelector> from_json(const boost::json::value& selector);
    // A selector that matches exactly these labels (a set-based "matchLabels").
    static Result<LabelSelector> from_labels(const Labels& labels);

    // Adds a requirement (AND).
    void add(Requirement r);

    bool empty() const { return !nothing_ && requirements_.empty(); }
    bool is_nothing() const { return nothing_; }
    const std::vector<Requirement>& requirements() const { return requirements_; }

    bool matches(const Labels& labels) const;
    // Matches metadata.labels of a Kubernetes object without copying them.
    bool matches_object(const boost::json::object& obj) const;
    // Matches a JSON labels map (e.g. a pod template's labels); nullptr means no labels.
    bool matches_json_labels(const boost::json::object* labels) const;

    // When the selector pins `key` to exactly one value (key=v / key==v / key in (v)), that
    // value: lets a server or cache use an index instead of a scan.
    std::optional<std::string> requires_exact_match(std::string_view key) const;

    // Canonical string form: requirements sorted by key, joined by ','; parse(to_string()) is
    // equivalent. "" for everything (and for nothing, which has no string form).
    std::string to_string() const;

  private:
    template <class Lookup>
    bool matches_with(const Lookup& lookup) const;

    std::vector<Requirement> requirements_;
    bool nothing_ = false;
};

}  // namespace kedge::kube
