#include "controllers/nodelifecycle/nodelifecycle_controller.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/serialize.hpp>

#include <algorithm>
#include <exception>
#include <map>
#include <optional>
#include <string>

#include "base/log.hpp"
#include "controllers/nodelifecycle/eviction_logic.hpp"
#include "controllers/nodelifecycle/node_health_logic.hpp"
#include "controllers/nodelifecycle/taint_logic.hpp"
#include "controllers/work_queue.hpp"
#include "kube/object.hpp"

namespace kedge::controllers {

namespace asio = boost::asio;
namespace json = boost::json;
namespace kc = kube::client;
using namespace nodelifecycle;

namespace {

constexpr std::string_view kComponent = "node-controller";
constexpr std::string_view kLeaseNamespace = "kube-node-lease";
// Shared with other controllers that index pods by node (same name, same function).
constexpr std::string_view kPodNodeIndex = "spec.nodeName";

bool has_no_execute_taint(const json::object& node) {
    auto taints = node_taints(node);
    return std::any_of(taints.begin(), taints.end(),
                       [](const Taint& t) { return t.effect == kNoExecute; });
}

// What, in a node update, the controller must react to at once; heartbeats alone wait for the
// next monitor pass.
bool relevant_change(const json::object& a, const json::object& b) {
    const auto* sa = a.if_contains("spec");
    const auto* sb = b.if_contains("spec");
    bool spec_same = (!sa && !sb) || (sa && sb && *sa == *sb);
    const auto* la = kube::labels_json(a);
    const auto* lb = kube::labels_json(b);
    bool labels_same = (!la && !lb) || (la && lb && *la == *lb);
    return !spec_same || !labels_same || ready_status(a) != ready_status(b);
}

class NodeLifecycle : public std::enable_shared_from_this<NodeLifecycle> {
public:
    explicit NodeLifecycle(ControllerContext& ctx)
        : ctx_(ctx),
          log_(log::get(kComponent)),
          recorder_(ctx.recorder(std::string(kComponent))),
          nodes_(ctx.informers->get(kc::resources::nodes())),
          pods_(ctx.informers->get(kc::resources::pods())),
          leases_(ctx.informers->get(kc::resources::leases())),
          queue_(WorkQueue::make(ctx.executor, "nodelifecycle")) {}

    void start() {
        pods_->add_index(std::string(kPodNodeIndex), kc::indexers::by_node_name());
        std::weak_ptr<NodeLifecycle> weak = weak_from_this();
        nodes_->add_handlers(kc::EventHandlers{
            .on_add =
                [weak](const kc::ObjectPtr& n) {
                    if (auto self = weak.lock()) self->queue_->add(std::string(kube::name(*n)));
                },
            .on_update =
                [weak](const kc::ObjectPtr& old, const kc::ObjectPtr& now) {
                    auto self = weak.lock();
                    if (self && (old == now || relevant_change(*old, *now)))
                        self->queue_->add(std::string(kube::name(*now)));
                },
            .on_delete =
                [weak](const kc::ObjectPtr& n) {
                    if (auto self = weak.lock()) self->forget(std::string(kube::name(*n)));
                },
        });
        auto on_pod = [weak](const kc::ObjectPtr& pod) {
            auto self = weak.lock();
            if (!self) return;
            auto node_name = kube::get_path_string(*pod, "spec.nodeName");
            if (!node_name || node_name->empty()) return;
            auto node = self->nodes_->store().get(*node_name);
            if (node && has_no_execute_taint(*node)) self->queue_->add(*node_name);
        };
        pods_->add_handlers(kc::EventHandlers{
            .on_add = on_pod,
            .on_update = [on_pod](const kc::ObjectPtr&, const kc::ObjectPtr& now) { on_pod(now); },
            .on_delete = {},
        });
        auto self = shared_from_this();
        run_workers(
            ctx_.executor, queue_,
            [self](std::string key) -> asio::awaitable<Result<void>> {
                co_return co_await self->sync(std::move(key));
            },
            ctx_.options.workers, std::string(kComponent));
        timer_ = std::make_shared<asio::steady_timer>(ctx_.executor);
        asio::co_spawn(ctx_.executor, monitor(self, timer_), [log = log_](std::exception_ptr e) {
            if (!e) return;
            try {
                std::rethrow_exception(e);
            } catch (const std::exception& ex) {
                log->error("node monitor stopped: {}", ex.what());
            }
        });
    }

    void stop() {
        stopped_ = true;
        queue_->shutdown();
        if (timer_) timer_->cancel();
    }

private:
    // Every node_monitor_period every node is looked at, which is how silence is noticed.
    static asio::awaitable<void> monitor(std::shared_ptr<NodeLifecycle> self,
                                         std::shared_ptr<asio::steady_timer> timer) {
        while (!self->stopped_) {
            timer->expires_after(self->ctx_.options.node_monitor_period);
            co_await timer->async_wait(asio::as_tuple(asio::use_awaitable));
            if (self->stopped_) break;
            if (!self->nodes_->has_synced()) continue;
            self->nodes_->store().for_each(
                [&](const kc::ObjectPtr& n) { self->queue_->add(std::string(kube::name(*n))); });
        }
    }

    void forget(const std::string& name) {
        tracker_.forget(name);
        last_ready_.erase(name);
        std::erase_if(taint_seen_,
                      [&](const auto& kv) { return kv.first.rfind(name + "|", 0) == 0; });
    }

    asio::awaitable<Result<void>> sync(std::string name) {
        if (stopped_) co_return Result<void>{};
        auto node_ptr = nodes_->store().get(name);
        if (!node_ptr) {
            forget(name);
            co_return Result<void>{};
        }
        json::object node = *node_ptr;
        const auto now = ctx_.clock->now();
        auto lease = leases_->store().get(kLeaseNamespace, name);
        auto health =
            tracker_.observe(node, lease.get(), now, ctx_.options.node_monitor_grace_period);

        if (health.conditions) {
            json::object patch{{"metadata", {{"resourceVersion", kube::resource_version(node)}}},
                               {"status", {{"conditions", *health.conditions}}}};
            auto r = co_await ctx_.client->patch(kc::resources::nodes(), "", name,
                                                 kube::PatchType::kMergePatch,
                                                 json::serialize(patch), "status");
            if (!r) co_return r.error();
            log_->info("node {}: no heartbeat or lease renewal for {} ms, Ready=Unknown", name,
                       ctx_.options.node_monitor_grace_period.count());
            node = std::move(*r);
        }
        auto& last = last_ready_[name];
        if (last == "True" && health.ready != "True" && !health.ready.empty()) {
            recorder_->event(node, kEventNormal, "NodeNotReady",
                             "Node " + name + " status is now: NodeNotReady");
        }
        last = health.ready;

        if (auto taints = desired_taints(node, health.ready, now)) {
            auto r = co_await patch_taints(node, std::move(*taints));
            if (!r) co_return r.error();
            node = std::move(*r);
        }
        co_return co_await handle_pods(name, node, health, now);
    }

    // JSON Patch with a test of the taints read, so a concurrent `kubectl taint` is not lost.
    asio::awaitable<Result<json::object>> patch_taints(json::object node, json::array taints) {
        const auto* cur = kube::get_path(node, "spec.taints");
        std::string body;
        kube::PatchType type;
        if (cur && cur->is_array()) {
            json::array ops{
                json::object{{"op", "test"}, {"path", "/spec/taints"}, {"value", *cur}},
                json::object{{"op", "replace"}, {"path", "/spec/taints"}, {"value", taints}}};
            body = json::serialize(ops);
            type = kube::PatchType::kJsonPatch;
        } else {
            body = json::serialize(json::object{{"spec", {{"taints", taints}}}});
            type = kube::PatchType::kMergePatch;
        }
        auto r = co_await ctx_.client->patch(kc::resources::nodes(), "", kube::name(node), type,
                                             std::move(body));
        if (!r && r.error().is(errc::invalid_argument))  // the test failed: someone else wrote
            co_return Error(errc::conflict, "taints of node " + std::string(kube::name(node)) +
                                                " changed meanwhile: " + r.error().detail);
        co_return r;
    }

    asio::awaitable<Result<void>> handle_pods(std::string name, json::object node,
                                              NodeHealth health, Clock::time_point now) {
        const bool edge = is_edge_node(node, ctx_.options.edge_node_label);
        const auto taints = node_taints(node);
        Result<void> result;
        std::optional<Clock::time_point> next;
        for (const auto& pod_ptr : pods_->store().by_index(kPodNodeIndex, name)) {
            const json::object& pod = *pod_ptr;
            if (pod_is_terminal_or_deleting(pod)) continue;
            auto when =
                eviction_time(pod, taints, edge, ctx_.options.default_unreachable_toleration,
                              taint_first_seen(name, taints, now));
            if (when && *when <= now) {
                if (auto r = co_await evict(pod); !r) result = r;
                continue;
            }
            if (when) next = next ? std::min(*next, *when) : *when;
            if (!edge && health.ready == "Unknown") {
                if (auto r = co_await mark_not_ready(pod, now); !r) result = r;
            }
        }
        if (next && !stopped_) {
            auto delay = std::chrono::duration_cast<std::chrono::milliseconds>(*next - now) +
                         std::chrono::milliseconds(50);
            queue_->add_after(name, delay);
        }
        co_return result;
    }

    // Taints without timeAdded count from when this controller first saw them.
    Clock::time_point taint_first_seen(const std::string& node, const std::vector<Taint>& taints,
                                       Clock::time_point now) {
        Clock::time_point earliest = now;
        for (const auto& t : taints) {
            if (t.time_added || t.effect != kNoExecute) continue;
            auto [it, _] = taint_seen_.emplace(node + "|" + t.key + "|" + t.value, now);
            earliest = std::min(earliest, it->second);
        }
        return earliest;
    }

    asio::awaitable<Result<void>> evict(json::object pod) {
        std::string ns(kube::namespace_of(pod)), pod_name(kube::name(pod));
        recorder_->event(pod, kEventNormal, "TaintManagerEviction",
                         "Marking for deletion Pod " + ns + "/" + pod_name);
        kc::DeleteOptions opts;
        opts.precondition_uid = std::string(kube::uid(pod));
        auto r = co_await ctx_.client->remove(kc::resources::pods(), ns, pod_name, opts);
        if (!r && !r.error().is(errc::not_found)) co_return r.error();
        log_->info("evicted pod {}/{} from node {}", ns, pod_name,
                   kube::get_path_string(pod, "spec.nodeName").value_or(""));
        co_return Result<void>{};
    }

    asio::awaitable<Result<void>> mark_not_ready(json::object pod, Clock::time_point now) {
        auto conds = not_ready_conditions(pod, now);
        if (!conds) co_return Result<void>{};
        json::object patch{{"metadata", {{"resourceVersion", kube::resource_version(pod)}}},
                           {"status", {{"conditions", std::move(*conds)}}}};
        auto r = co_await ctx_.client->patch(kc::resources::pods(), kube::namespace_of(pod),
                                             kube::name(pod), kube::PatchType::kMergePatch,
                                             json::serialize(patch), "status");
        if (!r && !r.error().is(errc::not_found)) co_return r.error();
        co_return Result<void>{};
    }

    ControllerContext ctx_;  // a copy: the manager's may not outlive our coroutines
    std::shared_ptr<spdlog::logger> log_;
    std::shared_ptr<EventRecorder> recorder_;
    std::shared_ptr<kc::Informer> nodes_, pods_, leases_;
    std::shared_ptr<WorkQueue> queue_;
    std::shared_ptr<asio::steady_timer> timer_;
    NodeHealthTracker tracker_;
    std::map<std::string, std::string> last_ready_;        // effective Ready last seen, per node
    std::map<std::string, Clock::time_point> taint_seen_;  // "<node>|<key>|<value>"
    bool stopped_ = false;
};


}  // namespace

std::unique_ptr<Controller> make_nodelifecycle_controller(ControllerContext& ctx) {
    return std::make_unique<SharedImplController<NodeLifecycle>>(ctx);
}

}  // namespace kedge::controllers
