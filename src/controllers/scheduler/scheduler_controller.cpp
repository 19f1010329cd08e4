#include "controllers/scheduler/scheduler_controller.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/serialize.hpp>

#include <exception>
#include <map>
#include <set>
#include <string>

#include "base/log.hpp"
#include "controllers/scheduler/scheduler_logic.hpp"
#include "controllers/work_queue.hpp"
#include "kube/object.hpp"
#include "kube/time.hpp"

namespace kedge::controllers {

namespace asio = boost::asio;
namespace json = boost::json;
namespace client = kube::client;
using namespace scheduler;

namespace {

constexpr std::string_view kComponent = "default-scheduler";
constexpr std::chrono::seconds kSyncWait{30};

// A pod bound to a node as the informer reported it, with its scheduling summary computed once.
struct CachedPod {
    client::ObjectPtr obj;
    PodInfo info;
    std::string node;
};

// A pod this scheduler bound (or is binding) that the informer has not reported bound yet.
struct Assumed {
    client::ObjectPtr obj;
    PodInfo info;
    std::string node;
    std::chrono::steady_clock::time_point deadline;
};

// Best-effort summary for a bound pod whose quantities do not parse: it still takes a pod slot,
// its ports and its owner's spreading count.
PodInfo summarize(const json::object& pod) {
    if (auto info = make_pod_info(pod)) return std::move(*info);
    PodInfo info;
    info.pod = &pod;
    info.host_ports = pod_host_ports(pod);
    info.tolerations = pod_tolerations(pod);
    if (auto owner = kube::controller_of(pod)) info.owner_uid = owner->uid;
    return info;
}

std::string_view node_name_of(const json::object& pod) {
    const json::value* v = kube::get_path(pod, "spec.nodeName");
    return v && v->is_string() ? std::string_view(v->get_string()) : std::string_view{};
}

// Everything the scheduler keeps; shared with handlers (weakly) and coroutines (strongly) so the
// Controller object may go away first.
struct State : std::enable_shared_from_this<State> {
    asio::any_io_executor ex;
    std::shared_ptr<client::Client> api;
    std::shared_ptr<client::Informer> pods;
    std::shared_ptr<client::Informer> nodes;
    const Clock* clock = nullptr;
    std::shared_ptr<EventRecorder> recorder;
    SchedulerOptions options;
    int workers = 1;
    std::shared_ptr<WorkQueue> queue;
    std::shared_ptr<asio::steady_timer> retry_timer;
    std::shared_ptr<spdlog::logger> log = log::get("scheduler");

    std::map<std::string, CachedPod, std::less<>> bound;                      // by pod key
    std::map<std::string, std::set<std::string>, std::less<>> bound_by_node;  // node -> keys
    std::map<std::string, Assumed, std::less<>> assumed;                      // by pod key
    std::set<std::string, std::less<>> unschedulable;                         // pod keys
    bool stopped = false;

    void start();
    void stop();
    void on_pod(const client::ObjectPtr& old, const client::ObjectPtr& now);
    void on_pod_deleted(const client::ObjectPtr& last);
    void forget_bound(const std::string& key);
    void requeue_unschedulable();
    asio::awaitable<void> retry_loop();
    std::vector<NodeInfo> snapshot();
    asio::awaitable<Result<void>> sync(std::string key);
    asio::awaitable<Result<void>> bind(std::string key, client::ObjectPtr pod, PodInfo info,
                                       std::string node);
    asio::awaitable<Result<void>> mark_unschedulable(client::ObjectPtr pod, std::string message);
};

void State::start() {
    queue = WorkQueue::make(ex, "scheduler");
    std::weak_ptr<State> weak = weak_from_this();
    client::EventHandlers pod_handlers;
    pod_handlers.on_add = [weak](const client::ObjectPtr& p) {
        if (auto s = weak.lock()) s->on_pod(nullptr, p);
    };
    pod_handlers.on_update = [weak](const client::ObjectPtr& old, const client::ObjectPtr& p) {
        if (auto s = weak.lock()) s->on_pod(old, p);
    };
    pod_handlers.on_delete = [weak](const client::ObjectPtr& p) {
        if (auto s = weak.lock()) s->on_pod_deleted(p);
    };
    pods->add_handlers(std::move(pod_handlers));

    client::EventHandlers node_handlers;
    node_handlers.on_add = [weak](const client::ObjectPtr&) {
        if (auto s = weak.lock()) s->requeue_unschedulable();
    };
    node_handlers.on_update = [weak](const client::ObjectPtr& old, const client::ObjectPtr& now) {
        auto s = weak.lock();
        if (s && old && now && node_scheduling_changed(*old, *now)) s->requeue_unschedulable();
    };
    nodes->add_handlers(std::move(node_handlers));

    auto self = shared_from_this();
    run_workers(
        ex, queue, [self](std::string key) { return self->sync(std::move(key)); }, workers,
        "scheduler");
    retry_timer = std::make_shared<asio::steady_timer>(ex);
    asio::co_spawn(ex, self->retry_loop(), [self](std::exception_ptr e) {
        if (!e) return;
        try {
            std::rethrow_exception(e);
        } catch (const std::exception& err) {
            self->log->error("retry loop ended: {}", err.what());
        }
    });
}

void State::stop() {
    stopped = true;
    if (queue) queue->shutdown();
    if (retry_timer) retry_timer->cancel();
}

void State::on_pod(const client::ObjectPtr& old, const client::ObjectPtr& now) {
    if (stopped || !now) return;
    std::string key = kube::cache_key(*now);
    std::string_view node = node_name_of(*now);
    if (!node.empty()) {
        // Bound (by us or anyone): the informer now accounts for it.
        assumed.erase(key);
        unschedulable.erase(key);
        auto it = bound.find(key);
        if (it == bound.end() || it->second.obj != now) {
            if (it != bound.end() && it->second.node != node) forget_bound(key);
            CachedPod c{now, {}, std::string(node)};
            c.info = summarize(*now);
            bound[key] = std::move(c);
            bound_by_node[std::string(node)].insert(key);
        }
        // A pod that finished frees its resources and ports.
        if (old && !is_terminated(*old) && is_terminated(*now)) requeue_unschedulable();
        return;
    }
    if (!needs_scheduling(*now)) {
        unschedulable.erase(key);
        return;
    }
    // Our own status patch on an unschedulable pod must not trigger another attempt; a spec
    // change (say, a new toleration) must.
    if (old && unschedulable.contains(key)) {
        const json::value* a = old->if_contains("spec");
        const json::value* b = now->if_contains("spec");
        if (a && b && *a == *b) return;
    }
    queue->add(key);
}

void State::forget_bound(const std::string& key) {
    auto it = bound.find(key);
    if (it == bound.end()) return;
    if (auto n = bound_by_node.find(it->second.node); n != bound_by_node.end()) {
        n->second.erase(key);
        if (n->second.empty()) bound_by_node.erase(n);
    }
    bound.erase(it);
}

void State::on_pod_deleted(const client::ObjectPtr& last) {
    if (stopped || !last) return;
    std::string key = kube::cache_key(*last);
    bool held_resources = bound.contains(key) || assumed.contains(key);
    forget_bound(key);
    assumed.erase(key);
    unschedulable.erase(key);
    if (held_resources) requeue_unschedulable();
}

void State::requeue_unschedulable() {
    if (stopped) return;
    auto keys = std::move(unschedulable);
    unschedulable.clear();
    for (const auto& k : keys) queue->add(k);
}

asio::awaitable<void> State::retry_loop() {
    auto self = shared_from_this();
    while (!stopped) {
        retry_timer->expires_after(options.unschedulable_retry);
        co_await retry_timer->async_wait(asio::as_tuple(asio::use_awaitable));
        if (stopped) break;
        requeue_unschedulable();
    }
}

// The nodes with what is bound (or assumed bound) to them. Expired assumptions are dropped.
std::vector<NodeInfo> State::snapshot() {
    std::vector<NodeInfo> infos;
    std::map<std::string_view, std::size_t> index;
    nodes->store().for_each(
        [&](const client::ObjectPtr& n) { infos.push_back(make_node_info(*n)); });
    for (std::size_t i = 0; i < infos.size(); ++i) index[infos[i].name] = i;
    for (const auto& [node, keys] : bound_by_node) {
        auto it = index.find(node);
        if (it == index.end()) continue;
        for (const auto& k : keys)
            if (auto p = bound.find(k); p != bound.end()) infos[it->second].add_pod(p->second.info);
    }
    auto now = clock->steady_now();
    for (auto it = assumed.begin(); it != assumed.end();) {
        if (it->second.deadline < now) {
            log->warn("binding of {} to {} was never confirmed; forgetting it", it->first,
                      it->second.node);
            it = assumed.erase(it);
            continue;
        }
        if (auto n = index.find(it->second.node); n != index.end())
            infos[n->second].add_pod(it->second.info);
        ++it;
    }
    return infos;
}

asio::awaitable<Result<void>> State::sync(std::string key) {
    auto self = shared_from_this();
    if (stopped) co_return Result<void>{};
    if (!pods->has_synced() || !nodes->has_synced()) {
        // Deciding on a half-listed cluster would report nodes as missing.
        bool pods_ok = co_await pods->wait_synced(kSyncWait);
        bool nodes_ok = co_await nodes->wait_synced(kSyncWait);
        if (!pods_ok || !nodes_ok)
            co_return Error(errc::unavailable, "informers have not synced yet");
        if (stopped) co_return Result<void>{};
    }
    client::ObjectPtr pod = pods->store().get(key);
    if (!pod || !needs_scheduling(*pod) || assumed.contains(key)) {
        unschedulable.erase(key);
        co_return Result<void>{};
    }
    auto info = make_pod_info(*pod);
    if (!info) {
        unschedulable.insert(key);
        co_return co_await mark_unschedulable(pod, info.error().detail);
    }
    std::vector<NodeInfo> view = snapshot();
    Decision d = schedule(*info, view);
    if (!d.node) {
        // Recorded before any co_await so a node event arriving meanwhile requeues the pod.
        unschedulable.insert(key);
        log->debug("{}: {}", key, d.message);
        co_return co_await mark_unschedulable(pod, std::move(d.message));
    }
    unschedulable.erase(key);
    co_return co_await bind(std::move(key), pod, std::move(*info), std::move(*d.node));
}

asio::awaitable<Result<void>> State::bind(std::string key, client::ObjectPtr pod, PodInfo info,
                                          std::string node) {
    auto self = shared_from_this();
    // Assume first: the next pod (possibly decided while this request is in flight) sees the
    // node as holding this one.
    assumed[key] = Assumed{pod, info, node, clock->steady_now() + options.assume_ttl};
    std::string ns(kube::namespace_of(*pod));
    std::string name(kube::name(*pod));
    json::object metadata{{"name", name}, {"namespace", ns}};
    if (!kube::uid(*pod).empty()) metadata["uid"] = kube::uid(*pod);
    json::object binding{
        {"apiVersion", "v1"},
        {"kind", "Binding"},
        {"metadata", std::move(metadata)},
        {"target", json::object{{"apiVersion", "v1"}, {"kind", "Node"}, {"name", node}}}};
    auto r = co_await api->create(client::resources::pods(), ns, binding, "binding");
    if (!r) {
        if (auto it = assumed.find(key); it != assumed.end() && it->second.obj == pod)
            assumed.erase(it);
        if (r.error().is(errc::not_found)) co_return Result<void>{};  // pod deleted meanwhile
        co_return Error(r.error().code, "binding " + key + " to " + node + ": " + r.error().detail);
    }
    log->info("bound {} to {}", key, node);
    recorder->event(*pod, kEventNormal, "Scheduled",
                    "Successfully assigned " + ns + "/" + name + " to " + node);
    co_return Result<void>{};
}

// FailedScheduling event plus PodScheduled=False/Unschedulable (patched only when it changes,
// so retries do not churn the pod).
asio::awaitable<Result<void>> State::mark_unschedulable(client::ObjectPtr pod,
                                                        std::string message) {
    auto self = shared_from_this();
    recorder->event(*pod, kEventWarning, "FailedScheduling", message);
    std::string transition = kube::format_time(clock->now());
    const json::value* conds = kube::get_path(*pod, "status.conditions");
    if (conds && conds->is_array()) {
        for (const auto& c : conds->get_array()) {
            if (!c.is_object()) continue;
            const auto& o = c.get_object();
            auto field = [&](std::string_view k) {
                const json::value* v = o.if_contains(k);
                return v && v->is_string() ? std::string_view(v->get_string()) : std::string_view{};
            };
            if (field("type") != "PodScheduled" || field("status") != "False") continue;
            if (field("reason") == "Unschedulable" && field("message") == message)
                co_return Result<void>{};
            if (!field("lastTransitionTime").empty())
                transition = std::string(field("lastTransitionTime"));
        }
    }
    json::object cond{{"type", "PodScheduled"},
                      {"status", "False"},
                      {"reason", "Unschedulable"},
                      {"message", message},
                      {"lastTransitionTime", transition}};
    json::object patch{{"status", json::object{{"conditions", json::array{std::move(cond)}}}}};
    auto r = co_await api->patch(client::resources::pods(), kube::namespace_of(*pod),
                                 kube::name(*pod), kube::PatchType::kStrategicMergePatch,
                                 json::serialize(patch), "status");
    if (!r && !r.error().is(errc::not_found))
        co_return Error(r.error().code, "setting PodScheduled on " + kube::cache_key(*pod) + ": " +
                                            r.error().detail);
    co_return Result<void>{};
}

class SchedulerController final : public Controller {
public:
    explicit SchedulerController(std::shared_ptr<State> state) : state_(std::move(state)) {}
    ~SchedulerController() override { state_->stop(); }
    void start() override { state_->start(); }
    void stop() override { state_->stop(); }

private:
    std::shared_ptr<State> state_;
};

}  // namespace

std::unique_ptr<Controller> make_scheduler_controller(ControllerContext& ctx,
                                                      SchedulerOptions options) {
    auto s = std::make_shared<State>();
    s->ex = ctx.executor;
    s->api = ctx.client;
    s->pods = ctx.informers->get(client::resources::pods());
    s->nodes = ctx.informers->get(client::resources::nodes());
    s->clock = ctx.clock;
    s->recorder = ctx.recorder(std::string(kComponent));
    s->options = options;
    s->workers = ctx.options.workers;
    return std::make_unique<SchedulerController>(std::move(s));
}

std::unique_ptr<Controller> make_scheduler_controller(ControllerContext& ctx) {
    return make_scheduler_controller(ctx, SchedulerOptions{});
}

}  // namespace kedge::controllers
