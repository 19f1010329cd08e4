#pragma once
// The ReplicaSet controller (kube-controller-manager's "replicaset"): keeps spec.replicas pods of
// spec.template for every ReplicaSet, adopting matching orphans and releasing pods that stopped
// matching, and reports replicas/readiness/availability in status. Events come from
// "replicaset-controller".

#include <memory>

#include "controllers/controller.hpp"

namespace kedge::controllers {

std::unique_ptr<Controller> make_replicaset_controller(ControllerContext& ctx);

}  // namespace kedge::controllers
