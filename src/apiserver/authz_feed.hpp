#pragma once
// Keeps the Node authorizer's pod graph and the RBAC store in step with the registry: watches
// pods and the four RBAC kinds through the watch caches and applies every event on one thread.

#include <memory>

#include "apiserver/auth/node_graph.hpp"
#include "apiserver/auth/rbac_authorizer.hpp"
#include "apiserver/registry.hpp"
#include "base/error.hpp"

namespace kedge::apiserver {

// Feeds authorization state from the registry. Construct with start(); destruction stops it.
class AuthzFeed {
  public:
    // graph or rbac may be null (that mode is not in use). Returns once the current state is
    // loaded, so the first request is judged on it.
    static Result<std::unique_ptr<AuthzFeed>> start(Registry& registry,
                                                    std::shared_ptr<auth::InMemoryNodeGraph> graph,
                                                    std::shared_ptr<auth::RbacStore> rbac);
    ~AuthzFeed();
    AuthzFeed(const AuthzFeed&) = delete;
    AuthzFeed& operator=(const AuthzFeed&) = delete;

    struct Impl;

  private:
    explicit AuthzFeed(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

}  // namespace kedge::apiserver
