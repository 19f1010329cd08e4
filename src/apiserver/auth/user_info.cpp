#include "apiserver/auth/user_info.hpp"

#include <algorithm>

namespace kedge::apiserver::auth {

bool UserInfo::in_group(std::string_view group) const {
    return std::find(groups.begin(), groups.end(), group) != groups.end();
}

void add_authenticated_group(UserInfo& user) {
    if (!user.in_group(kSystemAuthenticated)) user.groups.emplace_back(kSystemAuthenticated);
}

std::optional<std::string_view> node_name_of(const UserInfo& user) {
    std::string_view name = user.name;
    if (!name.starts_with(kNodeUserPrefix) || !user.in_group(kSystemNodes)) return std::nullopt;
    return name.substr(kNodeUserPrefix.size());
}

std::string service_account_user_name(std::string_view namespace_, std::string_view name) {
    std::string out(kServiceAccountUserPrefix);
    out.append(namespace_).append(":").append(name);
    return out;
}

}  // namespace kedge::apiserver::auth
