#pragma once
// The node lifecycle controller ("nodelifecycle", events from "node-controller"): marks nodes
// whose kubelet went silent Ready=Unknown, keeps the not-ready / unreachable taints in step with
// the Ready condition, and evicts pods from NoExecute-tainted nodes after their tolerations run
// out, except that pods on edge nodes stay put (edge autonomy). See README.md.

#include <memory>

#include "controllers/controller.hpp"

namespace kedge::controllers {

std::unique_ptr<Controller> make_nodelifecycle_controller(ControllerContext& ctx);

}  // namespace kedge::controllers
