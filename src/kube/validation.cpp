#include "kube/validation.hpp"

#include <string>

namespace kedge::kube {

namespace {

constexpr std::string_view kQualifiedNameMsg =
    "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
    "alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for "
    "validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";
constexpr std::string_view kLabelValueMsg =
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or "
    "'.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  "
    "or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')";
constexpr std::string_view kDns1123LabelMsg =
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and "
    "must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex "
    "used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";
constexpr std::string_view kDns1123SubdomainMsg =
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or "
    "'.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used "
    "for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";

bool is_alnum(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}
bool is_lower_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

// ([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9], i.e. non-empty, alnum at both ends.
bool is_qualified_token(std::string_view s) {
    if (s.empty() || !is_alnum(s.front()) || !is_alnum(s.back())) return false;
    for (char c : s) {
        if (!is_alnum(c) && c != '-' && c != '_' && c != '.') return false;
    }
    return true;
}

bool is_dns_label_token(std::string_view s) {
    if (s.empty() || !is_lower_alnum(s.front()) || !is_lower_alnum(s.back())) return false;
    for (char c : s) {
        if (!is_lower_alnum(c) && c != '-') return false;
    }
    return true;
}

bool is_dns_subdomain_token(std::string_view s) {
    while (true) {
        std::size_t dot = s.find('.');
        if (!is_dns_label_token(s.substr(0, dot))) return false;
        if (dot == std::string_view::npos) return true;
        s = s.substr(dot + 1);
    }
}

Error invalid(std::string_view value, std::string detail) {
    return Error(errc::invalid_argument,
                 "invalid value \"" + std::string(value) + "\": " + std::move(detail));
}

// Collects the individual problems the way apimachinery does, joined by "; ".
struct Problems {
    std::string text;
    void add(std::string_view part, std::string_view msg) {
        if (!text.empty()) text += "; ";
        text.append(part).append(msg);
    }
};

}  // namespace

Result<void> validate_dns1123_subdomain(std::string_view value) {
    Problems p;
    if (value.size() > 253) p.add("", "must be no more than 253 characters");
    if (!is_dns_subdomain_token(value)) p.add("", kDns1123SubdomainMsg);
    if (!p.text.empty()) return invalid(value, p.text);
    return {};
}

Result<void> validate_dns1123_label(std::string_view value) {
    Problems p;
    if (value.size() > 63) p.add("", "must be no more than 63 characters");
    if (!is_dns_label_token(value)) p.add("", kDns1123LabelMsg);
    if (!p.text.empty()) return invalid(value, p.text);
    return {};
}

Result<void> validate_qualified_name(std::string_view value) {
    Problems p;
    std::string_view name = value;
    std::size_t slash = value.find('/');
    if (slash != std::string_view::npos) {
        if (value.find('/', slash + 1) != std::string_view::npos) {
            return invalid(value, "a qualified name " + std::string(kQualifiedNameMsg) +
                                      " with an optional DNS subdomain prefix and '/' (e.g. "
                                      "'example.com/MyName')");
        }
        std::string_view prefix = value.substr(0, slash);
        name = value.substr(slash + 1);
        if (prefix.empty()) {
            p.add("prefix part ", "must be non-empty");
        } else {
            if (prefix.size() > 253) p.add("prefix part ", "must be no more than 253 characters");
            if (!is_dns_subdomain_token(prefix)) p.add("prefix part ", kDns1123SubdomainMsg);
        }
    }
    if (name.empty()) {
        p.add("name part ", "must be non-empty");
    } else {
        if (name.size() > 63) p.add("name part ", "must be no more than 63 characters");
        if (!is_qualified_token(name)) p.add("name part ", kQualifiedNameMsg);
    }
    if (!p.text.empty()) return invalid(value, p.text);
    return {};
}

Result<void> validate_label_value(std::string_view value) {
    Problems p;
    if (value.size() > 63) p.add("", "must be no more than 63 characters");
    if (!value.empty() && !is_qualified_token(value)) p.add("", kLabelValueMsg);
    if (!p.text.empty()) return invalid(value, p.text);
    return {};
}

}  // namespace kedge::kube
