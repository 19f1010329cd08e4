#pragma once
// The default scheduler (kube-scheduler's job, in-process): binds pods without spec.nodeName to
// a fitting Ready node and explains with a FailedScheduling event when none fits.

#include <chrono>
#include <memory>

#include "controllers/controller.hpp"

namespace kedge::controllers {

// Tunables of the scheduler (tests shorten them).
struct SchedulerOptions {
    // Unschedulable pods are retried on node and pod changes, and at least this often.
    std::chrono::milliseconds unschedulable_retry{10'000};
    // An assumed binding the informer has not confirmed by then is dropped from the view.
    std::chrono::milliseconds assume_ttl{30'000};
};

std::unique_ptr<Controller> make_scheduler_controller(ControllerContext& ctx);
std::unique_ptr<Controller> make_scheduler_controller(ControllerContext& ctx,
                                                      SchedulerOptions options);

}  // namespace kedge::controllers
