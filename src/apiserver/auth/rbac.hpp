#pragma once
// rbac.authorization.k8s.io/v1 objects (Role, ClusterRole, RoleBinding, ClusterRoleBinding) as
// plain structs, parsed from their JSON, and kube's rule and subject matching.

#include <boost/json/fwd.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "apiserver/auth/attributes.hpp"
#include "apiserver/auth/user_info.hpp"
#include "base/error.hpp"
#include "kube/label_selector.hpp"
#include "kube/object.hpp"

namespace kedge::apiserver::auth {

inline constexpr std::string_view kRbacGroup = "rbac.authorization.k8s.io";

// One PolicyRule. "*" is a wildcard in verbs, apiGroups and resources ("*/status" matches that
// subresource of anything); a trailing "*" in a nonResourceURL is a prefix match.
struct PolicyRule {
    std::vector<std::string> verbs;
    std::vector<std::string> api_groups;
    std::vector<std::string> resources;
    std::vector<std::string> resource_names;
    std::vector<std::string> non_resource_urls;
};

// A Role (namespace_ set) or a ClusterRole (namespace_ empty, may aggregate other ClusterRoles
// by label: kube's aggregation controller is replaced by resolving at authorization time).
struct Role {
    std::string namespace_;
    std::string name;
    std::vector<PolicyRule> rules;
    kube::Labels labels;
    std::vector<kube::LabelSelector> aggregation_selectors;
};

// A subject of a binding: kind User, Group or ServiceAccount.
struct RbacSubject {
    std::string kind;
    std::string name;
    std::string namespace_;  // ServiceAccount only
};

struct RoleRef {
    std::string kind;  // Role or ClusterRole
    std::string name;
};

// A RoleBinding (namespace_ set) or a ClusterRoleBinding (namespace_ empty).
struct RoleBinding {
    std::string namespace_;
    std::string name;
    RoleRef role_ref;
    std::vector<RbacSubject> subjects;
};

// Parse kind Role / ClusterRole (resp. RoleBinding / ClusterRoleBinding) JSON. invalid_argument
// naming the field for a wrong kind, a missing name (or namespace of a namespaced kind), a
// non-string list element, a roleRef that is not Role/ClusterRole (ClusterRoleBindings: only
// ClusterRole) or a subject kind other than User/Group/ServiceAccount.
Result<Role> parse_role(const boost::json::object& obj);
Result<RoleBinding> parse_role_binding(const boost::json::object& obj);

// kube's rbac.RuleAllows: verbs, apiGroups, resources (combined "resource/subresource"),
// resourceNames for resource requests; verbs and nonResourceURLs for the others.
bool rule_allows(const PolicyRule& rule, const Attributes& attrs);

// kube's appliesTo: a ServiceAccount subject without a namespace takes the binding's.
bool subject_applies(const RbacSubject& subject, const UserInfo& user,
                     std::string_view binding_namespace);

}  // namespace kedge::apiserver::auth
