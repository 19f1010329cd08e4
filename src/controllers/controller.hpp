#pragma once
// What every in-process controller of kedge-apiserver gets (a client, shared informers, an
// event recorder, a clock, tunables) and the interface it implements. Controllers are plain API
// clients (like kube-controller-manager), so each can be switched off to run beside real ones.
//
// Thread model: everything (informers, handlers, work queues, workers) runs on ctx.executor, a
// single thread, so controllers need no locks.

#include <boost/asio/any_io_executor.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "base/clock.hpp"
#include "controllers/event_recorder.hpp"
#include "controllers/work_queue.hpp"
#include "kube/client/client.hpp"
#include "kube/client/informer.hpp"

namespace kedge::controllers {

// Tunables (kube-controller-manager's flag defaults; tests shorten them).
struct ControllerOptions {
    int workers = 2;  // worker coroutines per controller
    // nodelifecycle
    std::chrono::milliseconds node_monitor_period{5'000};
    std::chrono::milliseconds node_monitor_grace_period{40'000};
    // tolerationSeconds given to pods without not-ready/unreachable NoExecute tolerations
    // (kube-apiserver's DefaultTolerationSeconds admission does this; our controller treats a
    // pod without such a toleration as having it).
    std::chrono::seconds default_unreachable_toleration{300};
    // The label that marks edge nodes (edge autonomy: their pods are never evicted for being
    // unreachable).
    std::string edge_node_label = "node-role.kubernetes.io/edge";
    // deployment / daemonset
    int revision_history_limit_default = 10;
    // garbage collector
    std::chrono::milliseconds gc_resync{30'000};
};

struct ControllerContext {
    boost::asio::any_io_executor executor;
    std::shared_ptr<kube::client::Client> client;
    kube::client::InformerFactory* informers = nullptr;
    const Clock* clock = nullptr;
    ControllerOptions options;

    // A recorder whose events name `component` as their source.
    std::shared_ptr<EventRecorder> recorder(std::string component) const {
        return std::make_shared<EventRecorder>(executor, client, std::move(component), *clock);
    }
};

class Controller {
  public:
    virtual ~Controller() = default;
    // Registers informer handlers and spawns workers (informers are started by the manager
    // after every controller's start()).
    virtual void start() = 0;
    // Shuts its queues down; no API calls afterwards.
    virtual void stop() = 0;
};

// The usual shape of a controller: a State shared with its coroutines that holds `ctx`, a work
// queue `queue` (created in start()) and `awaitable<Result<void>> sync(std::string key)`.
// stop() shuts the queue down, which ends the workers.
template <class State>
class StateController : public Controller {
  public:
    explicit StateController(ControllerContext& ctx) : state_(std::make_shared<State>(ctx)) {}
    void stop() override {
        if (state_->queue) state_->queue->shutdown();
    }

  protected:
    // ctx.options.workers coroutines calling state->sync(key); errors are logged as component.
    void run_state_workers(std::string_view component) {
        auto s = state_;
        run_workers(
            s->ctx.executor, s->queue, [s](std::string key) { return s->sync(std::move(key)); },
            s->ctx.options.workers, std::string(component));
    }
    std::shared_ptr<State> state_;
};

// A controller whose logic lives in a shared Impl (kept alive by its own coroutines) with
// start() and stop(); stopped when the controller goes.
template <class Impl>
class SharedImplController final : public Controller {
  public:
    explicit SharedImplController(ControllerContext& ctx) : impl_(std::make_shared<Impl>(ctx)) {}
    ~SharedImplController() override { impl_->stop(); }
    void start() override { impl_->start(); }
    void stop() override { impl_->stop(); }

  private:
    std::shared_ptr<Impl> impl_;
};

using ControllerFactory = std::function<std::unique_ptr<Controller>(ControllerContext& ctx)>;

struct ControllerInfo {
    std::string name;  // as in --controllers: "scheduler", "deployment", ...
    ControllerFactory make;
};

}  // namespace kedge::controllers
