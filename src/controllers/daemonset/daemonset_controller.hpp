#pragma once
// The DaemonSet controller ("daemonset", events from "daemonset-controller"): one pod per
// matching node (edge nodes included), pinned to its node by required node affinity for the
// scheduler to bind; ControllerRevisions, RollingUpdate (maxUnavailable) and OnDelete; the
// status `kubectl rollout status ds/x` reads. See README.md.

#include <memory>

#include "controllers/controller.hpp"

namespace kedge::controllers {

std::unique_ptr<Controller> make_daemonset_controller(ControllerContext& ctx);

}  // namespace kedge::controllers
