#pragma once
// Who made a request, as kube-apiserver's user.Info describes it: the authenticators produce it,
// the authorizers and audit read it.

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kedge::apiserver::auth {

// The authenticated identity of one request.
struct UserInfo {
    std::string name;
    std::string uid;
    std::vector<std::string> groups;
    std::map<std::string, std::vector<std::string>> extra;

    bool in_group(std::string_view group) const;
    friend bool operator==(const UserInfo&, const UserInfo&) = default;
};

// Well-known users and groups (k8s.io/apiserver/pkg/authentication/user).
inline constexpr std::string_view kSystemMasters = "system:masters";
inline constexpr std::string_view kSystemAuthenticated = "system:authenticated";
inline constexpr std::string_view kSystemUnauthenticated = "system:unauthenticated";
inline constexpr std::string_view kSystemNodes = "system:nodes";
inline constexpr std::string_view kNodeUserPrefix = "system:node:";
inline constexpr std::string_view kServiceAccountUserPrefix = "system:serviceaccount:";

// Adds system:authenticated unless present (kube's AuthenticatedGroupAdder).
void add_authenticated_group(UserInfo& user);

// The node name of a node identity: user name "system:node:<n>" and member of system:nodes, as
// kube's NodeIdentifier requires. nullopt for any other user; "" when the prefix has no name.
std::optional<std::string_view> node_name_of(const UserInfo& user);

// "system:serviceaccount:<namespace>:<name>".
std::string service_account_user_name(std::string_view namespace_, std::string_view name);

}  // namespace kedge::apiserver::auth
