#pragma once
// Authorization for kedge-apiserver: the Authorizer interface, kube's decisions (allow, deny, no
// opinion) and the chain built from --authorization-mode.

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "apiserver/auth/attributes.hpp"
#include "apiserver/auth/user_info.hpp"
#include "base/error.hpp"

namespace kedge::apiserver::auth {

// One authorizer's verdict and, for deny / no opinion, why (the server puts it in the 403
// message; for allow it says which rule allowed, for audit and debug logs).
struct Decision {
    enum class Kind { kAllow, kDeny, kNoOpinion };
    Kind kind = Kind::kNoOpinion;
    std::string reason;

    static Decision allow(std::string reason = {}) { return {Kind::kAllow, std::move(reason)}; }
    static Decision deny(std::string reason) { return {Kind::kDeny, std::move(reason)}; }
    static Decision no_opinion(std::string reason = {}) {
        return {Kind::kNoOpinion, std::move(reason)};
    }
    bool allowed() const { return kind == Kind::kAllow; }
    bool denied() const { return kind == Kind::kDeny; }
    bool is_no_opinion() const { return kind == Kind::kNoOpinion; }
};

// Judges one request. Implementations are called concurrently from every server thread, so
// authorize() must be thread-safe; it never blocks on I/O.
class Authorizer {
public:
    virtual ~Authorizer() = default;
    virtual Decision authorize(const UserInfo& user, const Attributes& attrs) const = 0;
};

// --authorization-mode AlwaysAllow.
class AlwaysAllowAuthorizer final : public Authorizer {
public:
    Decision authorize(const UserInfo& user, const Attributes& attrs) const override;
};

// --authorization-mode AlwaysDeny (tests).
class AlwaysDenyAuthorizer final : public Authorizer {
public:
    Decision authorize(const UserInfo& user, const Attributes& attrs) const override;
};

// Allows members of any of the groups (kube always puts system:masters first in the chain, so
// that an admin credential cannot be locked out by RBAC); no opinion otherwise.
class PrivilegedGroupsAuthorizer final : public Authorizer {
public:
    explicit PrivilegedGroupsAuthorizer(std::vector<std::string> groups = {
                                            std::string(kSystemMasters)});
    Decision authorize(const UserInfo& user, const Attributes& attrs) const override;

private:
    std::vector<std::string> groups_;
};

// kube's union authorizer: asks each member in order; the first allow or deny is the answer;
// no opinion from all of them is no opinion with their reasons joined by "; ".
class UnionAuthorizer final : public Authorizer {
public:
    explicit UnionAuthorizer(std::vector<std::shared_ptr<const Authorizer>> members);
    Decision authorize(const UserInfo& user, const Attributes& attrs) const override;

private:
    std::vector<std::shared_ptr<const Authorizer>> members_;
};

class NodeGraph;
class RbacStore;

// What the modes of --authorization-mode need; a mode whose dependency is null is an error.
struct AuthorizerDeps {
    std::shared_ptr<const NodeGraph> node_graph;  // for "Node"
    std::shared_ptr<const RbacStore> rbac;        // for "RBAC"
};

// Builds the chain for a comma-separated mode list ("AlwaysAllow", "Node,RBAC", "RBAC",
// "AlwaysDeny"), always headed by the system:masters authorizer. invalid_argument naming an
// unknown or repeated mode, an empty list or a missing dependency.
Result<std::shared_ptr<const Authorizer>> make_authorizer(std::string_view modes,
                                                          const AuthorizerDeps& deps);

// A one-line description of the request for reasons and logs:
// `get resource "pods/status" in API group "" in namespace "ns" named "p"` or
// `get path "/healthz"`.
std::string describe(const Attributes& attrs);

}  // namespace kedge::apiserver::auth
