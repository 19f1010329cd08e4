#include "apiserver/auth/rbac_authorizer.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <mutex>

#include "base/log.hpp"

namespace kedge::apiserver::auth {

namespace {

// Kept as JSON text so the objects read exactly like `kubectl get clusterrole -o json` output.
constexpr std::string_view kBootstrapPolicy = R"([
{"apiVersion":"rbac.authorization.k8s.io/v1","kind":"ClusterRole",
 "metadata":{"name":"cluster-admin","labels":{"kubernetes.io/bootstrapping":"rbac-defaults"},
  "annotations":{"rbac.authorization.kubernetes.io/autoupdate":"true"}},
 "rules":[{"apiGroups":["*"],"resources":["*"],"verbs":["*"]},
          {"nonResourceURLs":["*"],"verbs":["*"]}]},
{"apiVersion":"rbac.authorization.k8s.io/v1","kind":"ClusterRoleBinding",
 "metadata":{"name":"cluster-admin","labels":{"kubernetes.io/bootstrapping":"rbac-defaults"},
  "annotations":{"rbac.authorization.kubernetes.io/autoupdate":"true"}},
 "roleRef":{"apiGroup":"rbac.authorization.k8s.io","kind":"ClusterRole","name":"cluster-admin"},
 "subjects":[{"apiGroup":"rbac.authorization.k8s.io","kind":"Group","name":"system:masters"}]},
{"apiVersion":"rbac.authorization.k8s.io/v1","kind":"ClusterRole",
 "metadata":{"name":"system:discovery","labels":{"kubernetes.io/bootstrapping":"rbac-defaults"},
  "annotations":{"rbac.authorization.kubernetes.io/autoupdate":"true"}},
 "rules":[{"nonResourceURLs":["/api","/api/*","/apis","/apis/*","/healthz","/livez","/openapi",
           "/openapi/*","/readyz","/version","/version/"],"verbs":["get"]}]},
{"apiVersion":"rbac.authorization.k8s.io/v1","kind":"ClusterRoleBinding",
 "metadata":{"name":"system:discovery","labels":{"kubernetes.io/bootstrapping":"rbac-defaults"},
  "annotations":{"rbac.authorization.kubernetes.io/autoupdate":"true"}},
 "roleRef":{"apiGroup":"rbac.authorization.k8s.io","kind":"ClusterRole","name":"system:discovery"},
 "subjects":[{"apiGroup":"rbac.authorization.k8s.io","kind":"Group",
              "name":"system:authenticated"}]},
{"apiVersion":"rbac.authorization.k8s.io/v1","kind":"ClusterRole",
 "metadata":{"name":"system:basic-user","labels":{"kubernetes.io/bootstrapping":"rbac-defaults"},
  "annotations":{"rbac.authorization.kubernetes.io/autoupdate":"true"}},
 "rules":[{"apiGroups":["authorization.k8s.io"],
           "resources":["selfsubjectaccessreviews","selfsubjectrulesreviews"],
           "verbs":["create"]},
          {"apiGroups":["authentication.k8s.io"],"resources":["selfsubjectreviews"],
           "verbs":["create"]}]},
{"apiVersion":"rbac.authorization.k8s.io/v1","kind":"ClusterRoleBinding",
 "metadata":{"name":"system:basic-user","labels":{"kubernetes.io/bootstrapping":"rbac-defaults"},
  "annotations":{"rbac.authorization.kubernetes.io/autoupdate":"true"}},
 "roleRef":{"apiGroup":"rbac.authorization.k8s.io","kind":"ClusterRole",
            "name":"system:basic-user"},
 "subjects":[{"apiGroup":"rbac.authorization.k8s.io","kind":"Group",
              "name":"system:authenticated"}]},
{"apiVersion":"rbac.authorization.k8s.io/v1","kind":"ClusterRole",
 "metadata":{"name":"system:public-info-viewer",
  "labels":{"kubernetes.io/bootstrapping":"rbac-defaults"},
  "annotations":{"rbac.authorization.kubernetes.io/autoupdate":"true"}},
 "rules":[{"nonResourceURLs":["/healthz","/livez","/readyz","/version","/version/"],
           "verbs":["get"]}]},
{"apiVersion":"rbac.authorization.k8s.io/v1","kind":"ClusterRoleBinding",
 "metadata":{"name":"system:public-info-viewer",
  "labels":{"kubernetes.io/bootstrapping":"rbac-defaults"},
  "annotations":{"rbac.authorization.kubernetes.io/autoupdate":"true"}},
 "roleRef":{"apiGroup":"rbac.authorization.k8s.io","kind":"ClusterRole",
            "name":"system:public-info-viewer"},
 "subjects":[{"apiGroup":"rbac.authorization.k8s.io","kind":"Group",
              "name":"system:authenticated"},
             {"apiGroup":"rbac.authorization.k8s.io","kind":"Group",
              "name":"system:unauthenticated"}]}
])";

std::string key(std::string_view ns, std::string_view name) {
    std::string k(ns);
    k.push_back('/');
    k.append(name);
    return k;
}

const RbacSubject* first_applying(const RoleBinding& b, const UserInfo& user) {
    for (const auto& s : b.subjects) {
        if (subject_applies(s, user, b.namespace_)) return &s;
    }
    return nullptr;
}

std::string allowed_by(std::string_view binding_kind, const RoleBinding& b, const RbacSubject& s) {
    std::string out = "RBAC: allowed by " + std::string(binding_kind) + " \"" + b.name + "\"";
    if (!b.namespace_.empty()) out += " in namespace \"" + b.namespace_ + "\"";
    out += " of " + b.role_ref.kind + " \"" + b.role_ref.name + "\" to " + s.kind + " \"" + s.name +
           "\"";
    return out;
}

}  // namespace

std::vector<boost::json::object> bootstrap_policy() {
    std::vector<boost::json::object> out;
    boost::json::value v = boost::json::parse(kBootstrapPolicy);
    for (auto& o : v.as_array()) out.push_back(std::move(o.as_object()));
    return out;
}

RbacStore::RbacStore(bool with_bootstrap) : with_bootstrap_(with_bootstrap) {
    if (with_bootstrap_) {
        for (const auto& obj : bootstrap_policy()) {
            if (kube::kind(obj) == "ClusterRole") {
                auto role = parse_role(obj).value();
                bootstrap_cluster_roles_.emplace(role.name, std::move(role));
            } else {
                auto b = parse_role_binding(obj).value();
                bootstrap_cluster_role_bindings_.emplace(b.name, std::move(b));
            }
        }
    }
    load_bootstrap_locked();
}

void RbacStore::load_bootstrap_locked() {
    for (const auto& [name, role] : bootstrap_cluster_roles_) cluster_roles_[name] = role;
    for (const auto& [name, b] : bootstrap_cluster_role_bindings_) {
        cluster_role_bindings_[name] = b;
    }
}

Result<void> RbacStore::on_event(const boost::json::object& obj, bool deleted) {
    std::string_view kind = kube::kind(obj);
    std::string_view name = kube::name(obj);
    std::string_view ns = kube::namespace_of(obj);
    if (deleted) {
        std::unique_lock lock(mutex_);
        if (kind == "Role") {
            roles_.erase(key(ns, name));
        } else if (kind == "ClusterRole") {
            auto boot = bootstrap_cluster_roles_.find(name);
            if (boot != bootstrap_cluster_roles_.end()) {
                cluster_roles_[boot->first] = boot->second;
            } else if (auto it = cluster_roles_.find(name); it != cluster_roles_.end()) {
                cluster_roles_.erase(it);
            }
        } else if (kind == "RoleBinding") {
            if (auto it = role_bindings_.find(ns); it != role_bindings_.end()) {
                if (auto b = it->second.find(name); b != it->second.end()) it->second.erase(b);
                if (it->second.empty()) role_bindings_.erase(it);
            }
        } else if (kind == "ClusterRoleBinding") {
            auto boot = bootstrap_cluster_role_bindings_.find(name);
            if (boot != bootstrap_cluster_role_bindings_.end()) {
                cluster_role_bindings_[boot->first] = boot->second;
            } else if (auto it = cluster_role_bindings_.find(name);
                       it != cluster_role_bindings_.end()) {
                cluster_role_bindings_.erase(it);
            }
        } else {
            return Error(errc::invalid_argument,
                         "kind \"" + std::string(kind) + "\" is not an RBAC kind");
        }
        return {};
    }
    if (kind == "Role" || kind == "ClusterRole") {
        auto role = parse_role(obj);
        if (!role) return role.error();
        std::unique_lock lock(mutex_);
        if (kind == "Role") {
            roles_[key(role->namespace_, role->name)] = std::move(*role);
        } else {
            cluster_roles_[role->name] = std::move(*role);
        }
        return {};
    }
    if (kind == "RoleBinding" || kind == "ClusterRoleBinding") {
        auto b = parse_role_binding(obj);
        if (!b) return b.error();
        std::unique_lock lock(mutex_);
        if (kind == "RoleBinding") {
            role_bindings_[b->namespace_][b->name] = std::move(*b);
        } else {
            cluster_role_bindings_[b->name] = std::move(*b);
        }
        return {};
    }
    return Error(errc::invalid_argument, "kind \"" + std::string(kind) + "\" is not an RBAC kind");
}

std::vector<Error> RbacStore::reset(const std::vector<boost::json::object>& objects) {
    {
        std::unique_lock lock(mutex_);
        roles_.clear();
        cluster_roles_.clear();
        role_bindings_.clear();
        cluster_role_bindings_.clear();
        load_bootstrap_locked();
    }
    std::vector<Error> errors;
    for (const auto& obj : objects) {
        if (auto r = on_event(obj, false); !r) errors.push_back(r.error());
    }
    return errors;
}

bool RbacStore::rules_allow_locked(const Role& role, const Attributes& attrs) const {
    for (const auto& rule : role.rules) {
        if (rule_allows(rule, attrs)) return true;
    }
    // Aggregation, one level deep, as the aggregation controller would have written it.
    if (role.aggregation_selectors.empty()) return false;
    for (const auto& [name, other] : cluster_roles_) {
        if (name == role.name) continue;
        bool selected = false;
        for (const auto& sel : role.aggregation_selectors) {
            if (sel.matches(other.labels)) {
                selected = true;
                break;
            }
        }
        if (!selected) continue;
        for (const auto& rule : other.rules) {
            if (rule_allows(rule, attrs)) return true;
        }
    }
    return false;
}

Decision RbacStore::authorize(const UserInfo& user, const Attributes& attrs) const {
    std::shared_lock lock(mutex_);
    for (const auto& [name, b] : cluster_role_bindings_) {
        const RbacSubject* s = first_applying(b, user);
        if (s == nullptr) continue;
        auto role = cluster_roles_.find(b.role_ref.name);
        if (role == cluster_roles_.end()) continue;
        if (rules_allow_locked(role->second, attrs)) {
            return Decision::allow(allowed_by("ClusterRoleBinding", b, *s));
        }
    }
    if (!attrs.namespace_.empty()) {
        auto bindings = role_bindings_.find(attrs.namespace_);
        if (bindings != role_bindings_.end()) {
            for (const auto& [name, b] : bindings->second) {
                const RbacSubject* s = first_applying(b, user);
                if (s == nullptr) continue;
                const Role* role = nullptr;
                if (b.role_ref.kind == "Role") {
                    auto it = roles_.find(key(b.namespace_, b.role_ref.name));
                    if (it != roles_.end()) role = &it->second;
                } else {
                    auto it = cluster_roles_.find(b.role_ref.name);
                    if (it != cluster_roles_.end()) role = &it->second;
                }
                if (role != nullptr && rules_allow_locked(*role, attrs)) {
                    return Decision::allow(allowed_by("RoleBinding", b, *s));
                }
            }
        }
    }
    // Empty like kube's: the server's 403 message already says who cannot do what.
    return Decision::no_opinion();
}

RbacAuthorizer::RbacAuthorizer(std::shared_ptr<const RbacStore> store) : store_(std::move(store)) {}

Decision RbacAuthorizer::authorize(const UserInfo& user, const Attributes& attrs) const {
    return store_->authorize(user, attrs);
}

}  // namespace kedge::apiserver::auth
