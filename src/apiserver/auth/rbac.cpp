#include "apiserver/auth/rbac.hpp"

#include <algorithm>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/string.hpp>
#include <boost/json/value.hpp>

namespace kedge::apiserver::auth {

namespace {

Error invalid(std::string_view kind, std::string_view name, const std::string& what) {
    return Error(errc::invalid_argument,
                 std::string(kind) + " \"" + std::string(name) + "\": " + what);
}

// Reads an optional string array; `field` names it in the error.
Result<std::vector<std::string>> strings_at(const boost::json::object& obj, std::string_view key,
                                            const std::string& field) {
    std::vector<std::string> out;
    const auto* v = obj.if_contains(key);
    if (v == nullptr || v->is_null()) return out;
    if (!v->is_array()) return Error(errc::invalid_argument, field + " must be a list of strings");
    for (const auto& e : v->get_array()) {
        if (!e.is_string()) {
            return Error(errc::invalid_argument, field + " must be a list of strings");
        }
        out.emplace_back(e.get_string());
    }
    return out;
}

std::string string_at(const boost::json::object& obj, std::string_view key) {
    const auto* v = obj.if_contains(key);
    if (v == nullptr || !v->is_string()) return {};
    return std::string(v->get_string());
}

Result<PolicyRule> parse_rule(const boost::json::object& r, const std::string& where) {
    PolicyRule rule;
    struct Field {
        std::string_view key;
        std::vector<std::string>* out;
    };
    for (Field f :
         {Field{"verbs", &rule.verbs}, Field{"apiGroups", &rule.api_groups},
          Field{"resources", &rule.resources}, Field{"resourceNames", &rule.resource_names},
          Field{"nonResourceURLs", &rule.non_resource_urls}}) {
        auto list = strings_at(r, f.key, where + "." + std::string(f.key));
        if (!list) return list.error();
        *f.out = std::move(*list);
    }
    return rule;
}

bool contains(const std::vector<std::string>& list, std::string_view v) {
    return std::find(list.begin(), list.end(), v) != list.end();
}

bool matches_or_star(const std::vector<std::string>& list, std::string_view v) {
    return contains(list, "*") || contains(list, v);
}

bool resource_matches(const PolicyRule& rule, std::string_view combined,
                      std::string_view subresource) {
    for (const auto& r : rule.resources) {
        if (r == "*" || r == combined) return true;
        if (!subresource.empty() && r.size() == subresource.size() + 2 && r.starts_with("*/") &&
            std::string_view(r).substr(2) == subresource) {
            return true;
        }
    }
    return false;
}

bool non_resource_url_matches(const PolicyRule& rule, std::string_view path) {
    for (const auto& u : rule.non_resource_urls) {
        if (u == "*" || u == path) return true;
        if (!u.empty() && u.back() == '*' &&
            path.starts_with(std::string_view(u).substr(0, u.size() - 1))) {
            return true;
        }
    }
    return false;
}

}  // namespace

Result<Role> parse_role(const boost::json::object& obj) {
    std::string_view kind = kube::kind(obj);
    if (kind != "Role" && kind != "ClusterRole") {
        return Error(errc::invalid_argument,
                     "kind \"" + std::string(kind) + "\" is not Role or ClusterRole");
    }
    Role role;
    role.name = kube::name(obj);
    if (role.name.empty()) return invalid(kind, "", "metadata.name is required");
    if (kind == "Role") {
        role.namespace_ = kube::namespace_of(obj);
        if (role.namespace_.empty())
            return invalid(kind, role.name, "metadata.namespace is required");
    }
    role.labels = kube::labels(obj);
    if (const auto* rules = obj.if_contains("rules"); rules != nullptr && !rules->is_null()) {
        if (!rules->is_array()) return invalid(kind, role.name, "rules must be a list");
        std::size_t i = 0;
        for (const auto& r : rules->get_array()) {
            std::string where = "rules[" + std::to_string(i++) + "]";
            if (!r.is_object()) return invalid(kind, role.name, where + " must be an object");
            auto rule = parse_rule(r.get_object(), where);
            if (!rule) return invalid(kind, role.name, rule.error().detail);
            role.rules.push_back(std::move(*rule));
        }
    }
    if (kind == "ClusterRole") {
        const auto* sel = kube::get_path(obj, "aggregationRule.clusterRoleSelectors");
        if (sel != nullptr && !sel->is_null()) {
            if (!sel->is_array()) {
                return invalid(kind, role.name,
                               "aggregationRule.clusterRoleSelectors must be a list");
            }
            for (const auto& s : sel->get_array()) {
                auto selector = kube::LabelSelector::from_json(s);
                if (!selector) {
                    return invalid(
                        kind, role.name,
                        "aggregationRule.clusterRoleSelectors: " + selector.error().detail);
                }
                role.aggregation_selectors.push_back(std::move(*selector));
            }
        }
    }
    return role;
}

Result<RoleBinding> parse_role_binding(const boost::json::object& obj) {
    std::string_view kind = kube::kind(obj);
    if (kind != "RoleBinding" && kind != "ClusterRoleBinding") {
        return Error(errc::invalid_argument,
                     "kind \"" + std::string(kind) + "\" is not RoleBinding or ClusterRoleBinding");
    }
    RoleBinding b;
    b.name = kube::name(obj);
    if (b.name.empty()) return invalid(kind, "", "metadata.name is required");
    if (kind == "RoleBinding") {
        b.namespace_ = kube::namespace_of(obj);
        if (b.namespace_.empty()) return invalid(kind, b.name, "metadata.namespace is required");
    }
    const auto* ref = obj.if_contains("roleRef");
    if (ref == nullptr || !ref->is_object()) return invalid(kind, b.name, "roleRef is required");
    b.role_ref.kind = string_at(ref->get_object(), "kind");
    b.role_ref.name = string_at(ref->get_object(), "name");
    if (b.role_ref.kind != "ClusterRole" &&
        (kind == "ClusterRoleBinding" || b.role_ref.kind != "Role")) {
        return invalid(kind, b.name,
                       "roleRef.kind \"" + b.role_ref.kind + "\" must be " +
                           (kind == "ClusterRoleBinding" ? "ClusterRole" : "Role or ClusterRole"));
    }
    if (b.role_ref.name.empty()) return invalid(kind, b.name, "roleRef.name is required");
    if (const auto* subjects = obj.if_contains("subjects");
        subjects != nullptr && !subjects->is_null()) {
        if (!subjects->is_array()) return invalid(kind, b.name, "subjects must be a list");
        std::size_t i = 0;
        for (const auto& s : subjects->get_array()) {
            std::string where = "subjects[" + std::to_string(i++) + "]";
            if (!s.is_object()) return invalid(kind, b.name, where + " must be an object");
            RbacSubject subject;
            subject.kind = string_at(s.get_object(), "kind");
            subject.name = string_at(s.get_object(), "name");
            subject.namespace_ = string_at(s.get_object(), "namespace");
            if (subject.kind != "User" && subject.kind != "Group" &&
                subject.kind != "ServiceAccount") {
                return invalid(
                    kind, b.name,
                    where + ".kind \"" + subject.kind + "\" must be User, Group or ServiceAccount");
            }
            if (subject.name.empty()) return invalid(kind, b.name, where + ".name is required");
            if (subject.kind == "ServiceAccount" && subject.namespace_.empty() &&
                kind == "ClusterRoleBinding") {
                return invalid(kind, b.name, where + ".namespace is required for ServiceAccount");
            }
            b.subjects.push_back(std::move(subject));
        }
    }
    return b;
}

bool rule_allows(const PolicyRule& rule, const Attributes& attrs) {
    if (attrs.verb.empty() || !matches_or_star(rule.verbs, attrs.verb)) return false;
    if (!attrs.is_resource_request) return non_resource_url_matches(rule, attrs.path);
    std::string combined = attrs.resource;
    if (!attrs.subresource.empty()) combined += "/" + attrs.subresource;
    if (!matches_or_star(rule.api_groups, attrs.api_group)) return false;
    if (!resource_matches(rule, combined, attrs.subresource)) return false;
    return rule.resource_names.empty() ||
           (!attrs.name.empty() && contains(rule.resource_names, attrs.name));
}

bool subject_applies(const RbacSubject& subject, const UserInfo& user,
                     std::string_view binding_namespace) {
    if (subject.kind == "User") return user.name == subject.name;
    if (subject.kind == "Group") return user.in_group(subject.name);
    if (subject.kind == "ServiceAccount") {
        std::string_view ns =
            subject.namespace_.empty() ? binding_namespace : std::string_view(subject.namespace_);
        if (ns.empty()) return false;
        return user.name == service_account_user_name(ns, subject.name);
    }
    return false;
}

}  // namespace kedge::apiserver::auth
