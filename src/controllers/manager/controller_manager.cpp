#include "controllers/manager/controller_manager.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>

#include <algorithm>
#include <future>
#include <thread>

#include "base/log.hpp"
#include "controllers/daemonset/daemonset_controller.hpp"
#include "controllers/deployment/deployment_controller.hpp"
#include "controllers/gc/gc_controller.hpp"
#include "controllers/replicaset/replicaset_controller.hpp"
#include "controllers/nodelifecycle/nodelifecycle_controller.hpp"
#include "controllers/scheduler/scheduler_controller.hpp"

namespace kedge::controllers {

namespace asio = boost::asio;

const std::vector<ControllerInfo>& all_controllers() {
    static const std::vector<ControllerInfo> kAll = {
        {"scheduler", [](ControllerContext& c) { return make_scheduler_controller(c); }},
        {"garbagecollector",
         [](ControllerContext& c) { return make_garbage_collector_controller(c); }},
        {"namespace", [](ControllerContext& c) { return make_namespace_controller(c); }},
        {"daemonset", [](ControllerContext& c) { return make_daemonset_controller(c); }},
        {"nodelifecycle", [](ControllerContext& c) { return make_nodelifecycle_controller(c); }},
        {"replicaset", [](ControllerContext& c) { return make_replicaset_controller(c); }},
        {"deployment", [](ControllerContext& c) { return make_deployment_controller(c); }},
        // @@ controllers above
    };
    return kAll;
}

Result<std::vector<std::string>> select_controllers(std::string_view spec) {
    std::vector<std::string> known;
    for (const auto& c : all_controllers()) known.push_back(c.name);
    auto known_list = [&] {
        std::string s;
        for (const auto& k : known) s += (s.empty() ? "" : ", ") + k;
        return s;
    };
    bool all = false;
    std::vector<std::string> on, off;
    for (std::size_t start = 0; start <= spec.size();) {
        auto comma = spec.find(',', start);
        if (comma == std::string_view::npos) comma = spec.size();
        std::string item(spec.substr(start, comma - start));
        start = comma + 1;
        if (item.empty()) continue;
        if (item == "*") {
            all = true;
            continue;
        }
        bool disable = item[0] == '-';
        std::string name = disable ? item.substr(1) : item;
        if (std::find(known.begin(), known.end(), name) == known.end())
            return Error(errc::invalid_argument,
                         "--controllers: unknown controller \"" + name + "\" (known: " +
                             known_list() + ")");
        (disable ? off : on).push_back(name);
    }
    std::vector<std::string> out;
    for (const auto& k : known) {
        bool wanted = all || std::find(on.begin(), on.end(), k) != on.end();
        if (std::find(off.begin(), off.end(), k) != off.end()) wanted = false;
        if (wanted) out.push_back(k);
    }
    return out;
}

struct ControllerManager::Impl {
    asio::io_context ioc{1};
    std::thread thread;
    std::unique_ptr<kube::client::InformerFactory> informers;
    std::vector<std::unique_ptr<Controller>> controllers;
    ControllerContext ctx;
    bool stopped = false;
};

ControllerManager::ControllerManager(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

ControllerManager::~ControllerManager() { stop(); }

Result<std::unique_ptr<ControllerManager>> ControllerManager::start(ManagerOptions options) {
    auto log = log::get("controllers");
    auto impl = std::make_unique<Impl>();
    auto client = kube::client::Client::make(impl->ioc.get_executor(), options.client);
    if (!client) return client.error();
    impl->informers =
        std::make_unique<kube::client::InformerFactory>(impl->ioc.get_executor(), *client);
    impl->ctx.executor = impl->ioc.get_executor();
    impl->ctx.client = *client;
    impl->ctx.informers = impl->informers.get();
    impl->ctx.clock = options.clock ? options.clock : &SystemClock::instance();
    impl->ctx.options = options.controller;
    for (const auto& info : all_controllers()) {
        if (std::find(options.enabled.begin(), options.enabled.end(), info.name) ==
            options.enabled.end())
            continue;
        impl->controllers.push_back(info.make(impl->ctx));
        log->info("controller {} enabled", info.name);
    }
    // Controllers register handlers and workers on the controllers' thread, then informers
    // start, so no event reaches a controller before it is ready.
    auto* raw = impl.get();
    asio::post(impl->ioc, [raw] {
        for (auto& c : raw->controllers) c->start();
        raw->informers->start_all();
    });
    impl->thread = std::thread([raw] {
        auto guard = asio::make_work_guard(raw->ioc);
        raw->ioc.run();
    });
    return std::unique_ptr<ControllerManager>(new ControllerManager(std::move(impl)));
}

void ControllerManager::stop() {
    if (!impl_ || impl_->stopped) return;
    impl_->stopped = true;
    std::promise<void> stopped;
    auto* raw = impl_.get();
    asio::post(impl_->ioc, [raw, &stopped] {
        for (auto& c : raw->controllers) c->stop();
        raw->informers->stop_all();
        stopped.set_value();
    });
    if (stopped.get_future().wait_for(std::chrono::seconds(5)) != std::future_status::ready)
        log::get("controllers")->warn("controllers did not stop within 5s");
    impl_->ioc.stop();
    if (impl_->thread.joinable()) impl_->thread.join();
    impl_->controllers.clear();
}

}  // namespace kedge::controllers
