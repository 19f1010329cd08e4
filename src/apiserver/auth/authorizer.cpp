#include "apiserver/auth/authorizer.hpp"

#include <algorithm>
#include <set>

#include "apiserver/auth/node_authorizer.hpp"
#include "apiserver/auth/rbac_authorizer.hpp"

namespace kedge::apiserver::auth {

Decision AlwaysAllowAuthorizer::authorize(const UserInfo&, const Attributes&) const {
    return Decision::allow("AlwaysAllow");
}

Decision AlwaysDenyAuthorizer::authorize(const UserInfo&, const Attributes&) const {
    return Decision::deny("everything is forbidden (AlwaysDeny)");
}

PrivilegedGroupsAuthorizer::PrivilegedGroupsAuthorizer(std::vector<std::string> groups)
    : groups_(std::move(groups)) {}

Decision PrivilegedGroupsAuthorizer::authorize(const UserInfo& user, const Attributes&) const {
    for (const auto& g : groups_) {
        if (user.in_group(g)) return Decision::allow("member of privileged group \"" + g + "\"");
    }
    return Decision::no_opinion();
}

UnionAuthorizer::UnionAuthorizer(std::vector<std::shared_ptr<const Authorizer>> members)
    : members_(std::move(members)) {}

Decision UnionAuthorizer::authorize(const UserInfo& user, const Attributes& attrs) const {
    std::string reasons;
    for (const auto& m : members_) {
        Decision d = m->authorize(user, attrs);
        if (!d.is_no_opinion()) return d;
        if (!d.reason.empty()) {
            if (!reasons.empty()) reasons += "; ";
            reasons += d.reason;
        }
    }
    return Decision::no_opinion(std::move(reasons));
}

Result<std::shared_ptr<const Authorizer>> make_authorizer(std::string_view modes,
                                                          const AuthorizerDeps& deps) {
    std::vector<std::shared_ptr<const Authorizer>> chain;
    chain.push_back(std::make_shared<PrivilegedGroupsAuthorizer>());
    std::set<std::string, std::less<>> seen;
    std::string_view rest = modes;
    while (true) {
        std::size_t comma = rest.find(',');
        std::string_view mode = rest.substr(0, comma);
        while (!mode.empty() && mode.front() == ' ') mode.remove_prefix(1);
        while (!mode.empty() && mode.back() == ' ') mode.remove_suffix(1);
        if (mode.empty()) {
            return Error(errc::invalid_argument,
                         "--authorization-mode \"" + std::string(modes) + "\" has an empty mode");
        }
        if (!seen.emplace(mode).second) {
            return Error(errc::invalid_argument,
                         "--authorization-mode lists \"" + std::string(mode) + "\" twice");
        }
        if (mode == "AlwaysAllow") {
            chain.push_back(std::make_shared<AlwaysAllowAuthorizer>());
        } else if (mode == "AlwaysDeny") {
            chain.push_back(std::make_shared<AlwaysDenyAuthorizer>());
        } else if (mode == "Node") {
            if (!deps.node_graph) {
                return Error(errc::invalid_argument, "authorization mode Node needs a node graph");
            }
            chain.push_back(std::make_shared<NodeAuthorizer>(deps.node_graph));
        } else if (mode == "RBAC") {
            if (!deps.rbac) {
                return Error(errc::invalid_argument, "authorization mode RBAC needs an RBAC store");
            }
            chain.push_back(std::make_shared<RbacAuthorizer>(deps.rbac));
        } else {
            return Error(errc::invalid_argument,
                         "unknown authorization mode \"" + std::string(mode) +
                             "\" (supported: AlwaysAllow, AlwaysDeny, Node, RBAC)");
        }
        if (comma == std::string_view::npos) break;
        rest.remove_prefix(comma + 1);
    }
    return std::shared_ptr<const Authorizer>(std::make_shared<UnionAuthorizer>(std::move(chain)));
}

std::string describe(const Attributes& attrs) {
    if (!attrs.is_resource_request) return attrs.verb + " path \"" + attrs.path + "\"";
    std::string resource = attrs.resource;
    if (!attrs.subresource.empty()) resource += "/" + attrs.subresource;
    std::string out =
        attrs.verb + " resource \"" + resource + "\" in API group \"" + attrs.api_group + "\"";
    if (!attrs.namespace_.empty()) {
        out += " in namespace \"" + attrs.namespace_ + "\"";
    } else {
        out += " at the cluster scope";
    }
    if (!attrs.name.empty()) out += " named \"" + attrs.name + "\"";
    return out;
}

}  // namespace kedge::apiserver::auth
