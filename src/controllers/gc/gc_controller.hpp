#pragma once
// The garbage collector (ownerReferences cascades: background, foreground, orphan) and the
// namespace controller (empties a terminating namespace, then finalizes it), as
// kube-controller-manager's "garbagecollector" and "namespace" controllers.

#include <memory>

#include "controllers/controller.hpp"

namespace kedge::controllers {

// name "garbagecollector", component "garbage-collector".
std::unique_ptr<Controller> make_garbage_collector_controller(ControllerContext& ctx);
// name "namespace", component "namespace-controller".
std::unique_ptr<Controller> make_namespace_controller(ControllerContext& ctx);

}  // namespace kedge::controllers
