#pragma once
// The Deployment controller (kube-controller-manager's "deployment"): one ReplicaSet per pod
// template (named "<deployment>-<pod-template-hash>"), rolled from old to new by RollingUpdate
// (maxSurge/maxUnavailable) or Recreate, with revisions for `kubectl rollout history/undo`,
// scaling, history cleanup and status conditions for `kubectl rollout status`. Events come from
// "deployment-controller".

#include <memory>

#include "controllers/controller.hpp"

namespace kedge::controllers {

std::unique_ptr<Controller> make_deployment_controller(ControllerContext& ctx);

}  // namespace kedge::controllers
