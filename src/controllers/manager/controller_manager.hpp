#pragma once
// Runs the selected controllers (scheduler, workload controllers, node lifecycle, garbage
// collection) as API clients on a thread of their own, the way kube-controller-manager and
// kube-scheduler run beside kube-apiserver. kedge-apiserver starts it against itself over
// loopback; nothing stops it from running against another API server.

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/clock.hpp"
#include "base/error.hpp"
#include "controllers/controller.hpp"
#include "kube/client/config.hpp"

namespace kedge::controllers {

// Every controller kedge has, in start order.
const std::vector<ControllerInfo>& all_controllers();

// Parses a --controllers value as kube-controller-manager does: a comma list where "*" means
// all, "name" enables one and "-name" disables one ("*,-scheduler"). Unknown names are errors
// that list the known ones.
Result<std::vector<std::string>> select_controllers(std::string_view spec);

struct ManagerOptions {
    kube::client::ClientConfig client;
    std::vector<std::string> enabled;  // names from select_controllers
    ControllerOptions controller;
    const Clock* clock = nullptr;  // SystemClock when null
};

class ControllerManager {
  public:
    // Starts the thread and the controllers; the informers sync in the background.
    static Result<std::unique_ptr<ControllerManager>> start(ManagerOptions options);
    ~ControllerManager();  // stop()
    ControllerManager(const ControllerManager&) = delete;
    ControllerManager& operator=(const ControllerManager&) = delete;

    // Stops the controllers and informers and joins the thread. Idempotent.
    void stop();

    struct Impl;

  private:
    explicit ControllerManager(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

}  // namespace kedge::controllers
