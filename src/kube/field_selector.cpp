#include "kube/field_selector.hpp"

#include <algorithm>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include "kube/object.hpp"

namespace kedge::kube {

namespace json = boost::json;

namespace {

// Splits on commas not escaped by a backslash (apimachinery splitTerms).
std::vector<std::string_view> split_terms(std::string_view s) {
    std::vector<std::string_view> terms;
    if (s.empty()) return terms;
    std::size_t start = 0;
    bool in_slash = false;
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (in_slash) {
            in_slash = false;
        } else if (s[i] == '\\') {
            in_slash = true;
        } else if (s[i] == ',') {
            terms.push_back(s.substr(start, i - start));
            start = i + 1;
        }
    }
    terms.push_back(s.substr(start));
    return terms;
}

Error bad_selector(std::string_view text, std::string_view why) {
    return Error(errc::invalid_argument,
                 "invalid field selector \"" + std::string(text) + "\": " + std::string(why));
}

}  // namespace

std::string escape_field_value(std::string_view value) {
    std::string out;
    out.reserve(value.size());
    for (char c : value) {
        if (c == '\\' || c == ',' || c == '=') out += '\\';
        out += c;
    }
    return out;
}

Result<std::string> unescape_field_value(std::string_view value) {
    std::string out;
    out.reserve(value.size());
    bool in_slash = false;
    for (char c : value) {
        if (in_slash) {
            if (c != '\\' && c != ',' && c != '=') {
                return Error(errc::invalid_argument,
                             std::string("invalid escape sequence: \\") + c);
            }
            out += c;
            in_slash = false;
        } else if (c == '\\') {
            in_slash = true;
        } else if (c == ',' || c == '=') {
            return Error(errc::invalid_argument,
                         std::string("unescaped character in value: '") + c + "'");
        } else {
            out += c;
        }
    }
    if (in_slash) return Error(errc::invalid_argument, "invalid escape sequence: \\");
    return out;
}

Result<FieldSelector> FieldSelector::parse(std::string_view text) {
    auto terms = split_terms(text);
    std::sort(terms.begin(), terms.end());
    FieldSelector sel;
    for (std::string_view term : terms) {
        if (term.empty()) continue;
        // The first operator wins, trying "!=" and "==" before "=" at each position.
        std::size_t pos = std::string_view::npos;
        std::size_t op_len = 0;
        bool negated = false;
        for (std::size_t i = 0; i < term.size() && pos == std::string_view::npos; ++i) {
            std::string_view rest = term.substr(i);
            if (rest.starts_with("!=")) {
                pos = i, op_len = 2, negated = true;
            } else if (rest.starts_with("==")) {
                pos = i, op_len = 2;
            } else if (rest.starts_with("=")) {
                pos = i, op_len = 1;
            }
        }
        if (pos == std::string_view::npos) {
            return bad_selector(text, "can't understand '" + std::string(term) + "'");
        }
        std::string_view field = term.substr(0, pos);
        if (field.empty()) {
            return bad_selector(text, "missing field name in '" + std::string(term) + "'");
        }
        auto value = unescape_field_value(term.substr(pos + op_len));
        if (!value) return bad_selector(text, value.error().detail);
        sel.requirements_.push_back({std::string(field), negated, std::move(*value)});
    }
    return sel;
}

Result<void> FieldSelector::validate(const std::vector<std::string_view>& supported) const {
    for (const auto& r : requirements_) {
        if (std::find(supported.begin(), supported.end(), r.field) == supported.end()) {
            return Error(errc::invalid_argument, "field label not supported: " + r.field);
        }
    }
    return {};
}

bool FieldSelector::matches(const FieldGetter& get) const {
    for (const auto& r : requirements_) {
        std::string have = get(r.field).value_or(std::string());
        if ((have == r.value) == r.negated) return false;
    }
    return true;
}

bool FieldSelector::matches_object(const json::object& obj) const {
    return matches([&](std::string_view f) { return get_path_string(obj, f); });
}

std::optional<std::string> FieldSelector::requires_exact_match(std::string_view field) const {
    for (const auto& r : requirements_) {
        if (r.field == field && !r.negated) return r.value;
    }
    return std::nullopt;
}

std::string FieldSelector::to_string() const {
    std::string out;
    for (const auto& r : requirements_) {
        if (!out.empty()) out += ',';
        out += r.field;
        out += r.negated ? "!=" : "=";
        out += escape_field_value(r.value);
    }
    return out;
}

std::vector<std::string_view> supported_field_labels(std::string_view resource) {
    std::vector<std::string_view> out = {"metadata.name", "metadata.namespace"};
    auto add = [&](std::initializer_list<std::string_view> more) {
        out.insert(out.end(), more.begin(), more.end());
    };
    if (resource == "pods") {
        add({"spec.nodeName", "spec.restartPolicy", "spec.schedulerName", "spec.serviceAccountName",
             "spec.hostNetwork", "status.phase", "status.podIP", "status.nominatedNodeName"});
    } else if (resource == "nodes") {
        add({"spec.unschedulable"});
    } else if (resource == "secrets") {
        add({"type"});
    } else if (resource == "namespaces") {
        add({"status.phase"});
    } else if (resource == "replicationcontrollers") {
        add({"status.replicas"});
    } else if (resource == "jobs") {
        add({"status.successful"});
    } else if (resource == "events") {
        add({"involvedObject.kind", "involvedObject.namespace", "involvedObject.name",
             "involvedObject.uid", "involvedObject.apiVersion", "involvedObject.resourceVersion",
             "involvedObject.fieldPath", "reason", "reportingComponent", "source", "type"});
    } else if (resource == "certificatesigningrequests") {
        add({"spec.signerName"});
    }
    return out;
}

std::optional<std::string> selectable_field_value(const json::object& obj,
                                                  std::string_view resource,
                                                  std::string_view field) {
    if (resource == "events" && field == "source") {
        return get_path_string(obj, "source.component");
    }
    auto v = get_path_string(obj, field);
    if (!v && ((resource == "nodes" && field == "spec.unschedulable") ||
               (resource == "pods" && field == "spec.hostNetwork"))) {
        return std::string("false");
    }
    return v;
}

}  // namespace kedge::kube
