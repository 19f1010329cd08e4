#pragma once
// kube's RBAC authorizer over an in-memory copy of the cluster's Roles, ClusterRoles,
// RoleBindings and ClusterRoleBindings, which the server keeps current from its watch caches.

#include <boost/json/fwd.hpp>
#include <boost/json/object.hpp>
#include <map>
#include <memory>
#include <shared_mutex>
#include <string>
#include <vector>

#include "apiserver/auth/authorizer.hpp"
#include "apiserver/auth/rbac.hpp"

namespace kedge::apiserver::auth {

// The default policy kube-apiserver reconciles at start (labels kubernetes.io/bootstrapping=
// rbac-defaults): ClusterRole + ClusterRoleBinding "cluster-admin" (everything, group
// system:masters), "system:discovery" (GET /api, /apis, /version, /healthz, /livez, /readyz,
// /openapi for system:authenticated), "system:basic-user" (self subject access/rules reviews)
// and "system:public-info-viewer" (/healthz, /livez, /readyz, /version also for
// system:unauthenticated). The server may store these so that kubectl shows them.
std::vector<boost::json::object> bootstrap_policy();

// The RBAC objects in force. Updates come from watch events on any thread; authorize() takes a
// shared lock, so many requests are judged in parallel.
class RbacStore {
public:
    // with_bootstrap: start with bootstrap_policy(); a stored object of the same kind and name
    // replaces a bootstrap one, and deleting it brings the bootstrap one back (kube reconciles
    // them at every start).
    explicit RbacStore(bool with_bootstrap = true);

    // Adds or replaces (deleted=false) or removes one object of kind Role, ClusterRole,
    // RoleBinding or ClusterRoleBinding. invalid_argument for another kind or an object
    // parse_role/parse_role_binding refuses (the previous version stays in force).
    Result<void> on_event(const boost::json::object& obj, bool deleted);
    // Replaces everything by `objects` (after a relist), keeping the bootstrap layer. Objects
    // that do not parse are skipped; their errors are returned.
    std::vector<Error> reset(const std::vector<boost::json::object>& objects);

    // Allow with the binding and role that allowed ("RBAC: allowed by ClusterRoleBinding
    // \"b\" of ClusterRole \"r\" to User \"u\""), or no opinion without a reason (as kube).
    // Never deny: RBAC only adds.
    Decision authorize(const UserInfo& user, const Attributes& attrs) const;

private:
    bool with_bootstrap_;
    std::map<std::string, Role, std::less<>> bootstrap_cluster_roles_;
    std::map<std::string, RoleBinding, std::less<>> bootstrap_cluster_role_bindings_;

    mutable std::shared_mutex mutex_;
    std::map<std::string, Role, std::less<>> roles_;  // "ns/name"
    std::map<std::string, Role, std::less<>> cluster_roles_;
    // namespace -> name -> binding
    std::map<std::string, std::map<std::string, RoleBinding, std::less<>>, std::less<>>
        role_bindings_;
    std::map<std::string, RoleBinding, std::less<>> cluster_role_bindings_;

    void load_bootstrap_locked();
    bool rules_allow_locked(const Role& role, const Attributes& attrs) const;
};

// The Authorizer face of an RbacStore.
class RbacAuthorizer final : public Authorizer {
public:
    explicit RbacAuthorizer(std::shared_ptr<const RbacStore> store);
    Decision authorize(const UserInfo& user, const Attributes& attrs) const override;

private:
    std::shared_ptr<const RbacStore> store_;
};

}  // namespace kedge::apiserver::auth
