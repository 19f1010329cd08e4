#include "controllers/deployment/deployment_controller.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/json.hpp>

#include <set>
#include <string>
#include <vector>

#include "base/log.hpp"
#include "controllers/deployment/deployment_logic.hpp"
#include "controllers/replicaset/replicaset_logic.hpp"
#include "controllers/work_queue.hpp"
#include "kube/label_selector.hpp"
#include "kube/object.hpp"

namespace kedge::controllers {
namespace {

namespace json = boost::json;
namespace kc = kube::client;
using boost::asio::awaitable;
using namespace deployment;
using replicaset::ClaimAction;
using replicaset::int_at;
using replicaset::spec_replicas;

constexpr std::string_view kComponent = "deployment-controller";

using RsPtr = std::shared_ptr<json::object>;

// What one sync works on: the deployment and its ReplicaSets as last written or read, updated
// in place from API responses as the sync goes.
struct Work {
    json::object d;
    Strategy strategy;
    std::vector<RsPtr> rss;
    json::object* new_rs = nullptr;

    Objects all() const {
        Objects out;
        for (const auto& r : rss) out.push_back(r.get());
        return out;
    }
    Objects old() const {
        Objects out;
        for (const auto& r : rss)
            if (r.get() != new_rs) out.push_back(r.get());
        return out;
    }
    json::object* find(std::string_view name) {
        for (auto& r : rss)
            if (kube::name(*r) == name) return r.get();
        return nullptr;
    }
};

struct State {
    ControllerContext ctx;
    std::shared_ptr<EventRecorder> recorder;
    std::shared_ptr<WorkQueue> queue;
    std::shared_ptr<kc::Informer> d_informer, rs_informer, pod_informer;
    std::shared_ptr<spdlog::logger> log = kedge::log::get(kComponent);

    explicit State(ControllerContext& c) : ctx(c) {}
    Clock::time_point now() const { return ctx.clock->now(); }

    // The deployment controlling a ReplicaSet, or nullptr.
    kc::ObjectPtr owner_of(const json::object& rs) const {
        auto ref = kube::controller_of(rs);
        if (!ref || ref->kind != "Deployment" || !ref->api_version.starts_with("apps/"))
            return nullptr;
        auto d = d_informer->store().get(kube::namespace_of(rs), ref->name);
        return d && kube::uid(*d) == ref->uid ? d : nullptr;
    }

    void enqueue_owner(const json::object& rs) {
        if (auto d = owner_of(rs)) queue->add(kube::cache_key(*d));
    }

    void enqueue_matching(const json::object& rs) {
        for (const auto& d :
             d_informer->store().by_index(kc::indexers::kNamespace, kube::namespace_of(rs))) {
            const json::value* s = kube::get_path(*d, "spec.selector");
            if (!s) continue;
            auto sel = kube::LabelSelector::from_json(*s);
            if (sel && !sel->empty() && sel->matches_object(rs)) queue->add(kube::cache_key(*d));
        }
    }

    void rs_added(const json::object& rs) {
        if (kube::controller_of(rs))
            enqueue_owner(rs);
        else if (!kube::deletion_timestamp(rs))
            enqueue_matching(rs);
    }

    void rs_updated(const json::object& old, const json::object& now) {
        if (kube::resource_version(old) == kube::resource_version(now)) return;
        auto old_ref = kube::controller_of(old);
        auto cur_ref = kube::controller_of(now);
        if (old_ref && (!cur_ref || cur_ref->uid != old_ref->uid)) enqueue_owner(old);
        if (cur_ref) {
            enqueue_owner(now);
        } else if (kube::labels(old) != kube::labels(now) || old_ref) {
            enqueue_matching(now);
        }
    }

    void pod_deleted(const json::object& pod) {
        // Recreate waits for old pods to be gone; their deletion is the signal.
        auto ref = kube::controller_of(pod);
        if (!ref || ref->kind != "ReplicaSet") return;
        auto rs = rs_informer->store().get(kube::namespace_of(pod), ref->name);
        if (rs && kube::uid(*rs) == ref->uid) enqueue_owner(*rs);
    }

    awaitable<Result<void>> sync(std::string key);
    awaitable<Result<void>> claim_replica_sets(Work& w, const kube::LabelSelector& selector);
    awaitable<Result<void>> write_status(Work& w, json::object status);
    awaitable<Result<void>> sync_new_rs(Work& w, bool create);
    awaitable<Result<void>> apply(Work& w, const std::vector<ScaleStep>& steps);
    awaitable<Result<void>> cleanup(Work& w);
    bool old_pods_running(const Work& w) const;
};

awaitable<Result<void>> State::claim_replica_sets(Work& w, const kube::LabelSelector& selector) {
    const auto all =
        rs_informer->store().by_index(kc::indexers::kNamespace, kube::namespace_of(w.d));
    for (const auto& rs : all) {
        ClaimAction action = replicaset::claim(w.d, selector, *rs);
        if (action == ClaimAction::kOwned) {
            w.rss.push_back(std::make_shared<json::object>(*rs));
            continue;
        }
        if (action == ClaimAction::kIgnore) continue;
        std::string body = action == ClaimAction::kAdopt ? replicaset::adopt_patch(w.d)
                                                         : replicaset::release_patch(w.d);
        auto r = co_await ctx.client->patch(kc::resources::replica_sets(), kube::namespace_of(*rs),
                                            kube::name(*rs), kube::PatchType::kStrategicMergePatch,
                                            std::move(body));
        if (!r) {
            if (r.error().is(errc::not_found)) continue;
            co_return r.error();
        }
        if (action == ClaimAction::kAdopt)
            w.rss.push_back(std::make_shared<json::object>(std::move(*r)));
    }
    co_return Result<void>{};
}

awaitable<Result<void>> State::write_status(Work& w, json::object status) {
    if (!status_differs(status_of(w.d), status)) co_return Result<void>{};
    json::object copy = w.d;
    copy["status"] = std::move(status);
    auto r = co_await ctx.client->update(kc::resources::deployments(), copy, "status");
    if (!r) co_return r.error();
    w.d = std::move(*r);
    co_return Result<void>{};
}

// Kubernetes' getAllReplicaSetsAndSyncRevision: find (or create) the new ReplicaSet, bring its
// revision and annotations up to date, and copy its revision onto the deployment.
awaitable<Result<void>> State::sync_new_rs(Work& w, bool create) {
    w.new_rs = const_cast<json::object*>(find_new_rs(w.d, w.all()));
    const std::int64_t new_revision = max_revision(w.old()) + 1;
    const std::string ns(kube::namespace_of(w.d));
    std::string progressing_reason, progressing_message;
    std::int64_t revision = 0;
    if (w.new_rs) {
        json::object copy = *w.new_rs;
        bool changed = set_new_rs_annotations(w.d, copy, new_revision, true);
        const std::int64_t min_ready = int_at(w.d, "spec.minReadySeconds", 0);
        if (int_at(copy, "spec.minReadySeconds", 0) != min_ready) {
            copy["spec"].as_object()["minReadySeconds"] = min_ready;
            changed = true;
        }
        if (changed) {
            auto r = co_await ctx.client->update(kc::resources::replica_sets(), copy);
            if (!r) co_return r.error();
            *w.new_rs = std::move(*r);
        }
        revision = revision_of(*w.new_rs);
        if (!get_condition(status_of(w.d), "Progressing")) {
            progressing_reason = "FoundNewReplicaSet";
            progressing_message =
                "Found new replica set \"" + std::string(kube::name(*w.new_rs)) + "\"";
        }
    } else {
        if (!create) co_return Result<void>{};
        json::object candidate = new_replica_set(w.d, w.strategy, 0, new_revision);
        Objects all = w.old();
        all.push_back(&candidate);
        const std::int64_t n = new_rs_new_replicas(w.d, w.strategy, all, candidate);
        candidate["spec"].as_object()["replicas"] = n;
        auto r = co_await ctx.client->create(kc::resources::replica_sets(), ns, candidate);
        if (!r && r.error().is(errc::already_exists)) {
            // Our own creation not seen yet, or a hash collision with someone else's.
            auto existing =
                co_await ctx.client->get(kc::resources::replica_sets(), ns, kube::name(candidate));
            if (!existing) co_return existing.error();
            auto ref = kube::controller_of(*existing);
            const json::value* t1 = kube::get_path(*existing, "spec.template");
            const json::value* t2 = kube::get_path(w.d, "spec.template");
            if (ref && ref->uid == kube::uid(w.d) && t1 && t2 && equal_ignore_hash(*t1, *t2)) {
                w.rss.push_back(std::make_shared<json::object>(std::move(*existing)));
                w.new_rs = w.rss.back().get();
                co_return Result<void>{};
            }
            json::object status = status_of(w.d);
            status["collisionCount"] = int_at(status, "collisionCount", 0) + 1;
            if (auto s = co_await write_status(w, std::move(status)); !s) co_return s.error();
            co_return Error(errc::conflict, "hash collision for ReplicaSet " +
                                                std::string(kube::name(candidate)) +
                                                "; collisionCount raised");
        }
        if (!r) co_return r.error();
        w.rss.push_back(std::make_shared<json::object>(std::move(*r)));
        w.new_rs = w.rss.back().get();
        if (n > 0)
            recorder->event(w.d, kEventNormal, "ScalingReplicaSet",
                            "Scaled up replica set " + std::string(kube::name(*w.new_rs)) + " to " +
                                std::to_string(n));
        revision = new_revision;
        progressing_reason = "NewReplicaSetCreated";
        progressing_message =
            "Created new replica set \"" + std::string(kube::name(*w.new_rs)) + "\"";
    }
    const std::string rev = std::to_string(revision);
    if (revision > 0 &&
        kube::annotation(w.d, kRevisionAnnotation) != std::optional<std::string_view>(rev)) {
        json::object patch{
            {"metadata", json::object{{"annotations", json::object{{kRevisionAnnotation, rev}}}}}};
        auto r = co_await ctx.client->patch(kc::resources::deployments(), ns, kube::name(w.d),
                                            kube::PatchType::kMergePatch, json::serialize(patch));
        if (!r) co_return r.error();
        w.d = std::move(*r);
    }
    if (!progressing_reason.empty()) {
        json::object status = status_of(w.d);
        set_condition(status, make_condition("Progressing", "True", progressing_reason,
                                             progressing_message, now()));
        if (auto s = co_await write_status(w, std::move(status)); !s) co_return s.error();
    }
    co_return Result<void>{};
}

awaitable<Result<void>> State::apply(Work& w, const std::vector<ScaleStep>& steps) {
    const std::int64_t desired = spec_replicas(w.d);
    const std::int64_t max = desired + (w.strategy.recreate ? 0 : w.strategy.max_surge);
    for (const auto& step : steps) {
        json::object* rs = w.find(step.name);
        if (!rs) continue;
        json::object copy = *rs;
        const std::int64_t before = spec_replicas(copy);
        const bool resize = before != step.replicas;
        const bool annotate = set_replicas_annotations(copy, desired, max);
        if (!resize && !annotate) continue;
        copy["spec"].as_object()["replicas"] = step.replicas;
        auto r = co_await ctx.client->update(kc::resources::replica_sets(), copy);
        if (!r) co_return r.error();
        *rs = std::move(*r);
        if (resize)
            recorder->event(w.d, kEventNormal, "ScalingReplicaSet",
                            std::string(step.replicas > before ? "Scaled up" : "Scaled down") +
                                " replica set " + step.name + " to " +
                                std::to_string(step.replicas));
    }
    co_return Result<void>{};
}

awaitable<Result<void>> State::cleanup(Work& w) {
    for (const auto& name :
         cleanup_candidates(w.d, w.old(), ctx.options.revision_history_limit_default)) {
        log->info("{}: deleting old replica set {}", kube::cache_key(w.d), name);
        auto r = co_await ctx.client->remove(kc::resources::replica_sets(), kube::namespace_of(w.d),
                                             name);
        if (!r && !r.error().is(errc::not_found)) co_return r.error();
    }
    co_return Result<void>{};
}

bool State::old_pods_running(const Work& w) const {
    std::set<std::string, std::less<>> old_uids;
    for (const auto* rs : w.old()) {
        if (int_at(*rs, "status.replicas", 0) > 0) return true;
        old_uids.insert(std::string(kube::uid(*rs)));
    }
    for (const auto& pod :
         pod_informer->store().by_index(kc::indexers::kNamespace, kube::namespace_of(w.d))) {
        auto ref = kube::controller_of(*pod);
        if (!ref || !old_uids.contains(ref->uid)) continue;
        auto phase = kube::get_path_string(*pod, "status.phase").value_or("");
        if (phase != "Succeeded" && phase != "Failed") return true;
    }
    return false;
}

awaitable<Result<void>> State::sync(std::string key) {
    kc::ObjectPtr d_ptr = d_informer->store().get(key);
    if (!d_ptr) co_return Result<void>{};
    Work w;
    w.d = *d_ptr;
    const json::value* sel_json = kube::get_path(w.d, "spec.selector");
    auto selector = sel_json ? kube::LabelSelector::from_json(*sel_json)
                             : Result<kube::LabelSelector>(kube::LabelSelector::nothing());
    if (!selector || selector->empty() || selector->is_nothing()) {
        recorder->event(w.d, kEventWarning, "SelectorOverride",
                        "This deployment is selecting all pods. A non-empty selector is required.");
        co_return Result<void>{};  // cannot be fixed by retrying
    }
    auto strategy = resolve_strategy(w.d);
    if (!strategy) {
        log->error("{}: {}", key, strategy.error().detail);
        co_return Result<void>{};
    }
    w.strategy = *strategy;

    if (auto r = co_await claim_replica_sets(w, *selector); !r) co_return r.error();

    if (kube::deletion_timestamp(w.d)) {
        w.new_rs = const_cast<json::object*>(find_new_rs(w.d, w.all()));
        co_return co_await write_status(
            w, calculate_status(w.d, w.strategy, w.all(), w.new_rs, now()));
    }
    if (auto st = paused_status(w.d, now())) {
        if (auto r = co_await write_status(w, std::move(*st)); !r) co_return r.error();
    }
    if (auto r = co_await sync_new_rs(w, false); !r) co_return r.error();

    const json::value* p = kube::get_path(w.d, "spec.paused");
    const bool paused = p && p->is_bool() && p->get_bool();
    if (paused || is_scaling_event(w.d, w.all())) {
        if (auto r = co_await apply(w, plan_scale(w.d, w.strategy, w.new_rs, w.old())); !r)
            co_return r.error();
        if (paused) {
            if (auto r = co_await cleanup(w); !r) co_return r.error();
        }
        co_return co_await write_status(
            w, calculate_status(w.d, w.strategy, w.all(), w.new_rs, now()));
    }

    const bool complete_before = deployment_complete(w.d, status_of(w.d));
    if (w.strategy.recreate) {
        auto steps = plan_recreate(w.d, w.new_rs, w.old(), true);  // old ones down first
        if (steps.empty() && !old_pods_running(w)) {
            if (!w.new_rs) {
                if (auto r = co_await sync_new_rs(w, true); !r) co_return r.error();
            }
            steps = plan_recreate(w.d, w.new_rs, w.old(), false);
        }
        if (auto r = co_await apply(w, steps); !r) co_return r.error();
    } else {
        if (!w.new_rs) {
            if (auto r = co_await sync_new_rs(w, true); !r) co_return r.error();
        }
        auto steps = plan_rolling(w.d, w.strategy, w.new_rs, w.old());
        if (auto r = co_await apply(w, steps); !r) co_return r.error();
        if (steps.empty() && complete_before) {
            if (auto r = co_await cleanup(w); !r) co_return r.error();
        }
    }
    if (w.strategy.recreate && complete_before) {
        if (auto r = co_await cleanup(w); !r) co_return r.error();
    }
    json::object status = rollout_status(w.d, w.strategy, w.all(), w.new_rs, now());
    if (auto after = progress_recheck_after(w.d, status, now()))
        queue->add_after(key, std::chrono::duration_cast<std::chrono::milliseconds>(*after));
    co_return co_await write_status(w, std::move(status));
}

class DeploymentController final : public StateController<State> {
public:
    using StateController::StateController;

    void start() override {
        auto s = state_;
        s->recorder = s->ctx.recorder(std::string(kComponent));
        s->queue = WorkQueue::make(s->ctx.executor, "deployment");
        s->d_informer = s->ctx.informers->get(kc::resources::deployments());
        s->rs_informer = s->ctx.informers->get(kc::resources::replica_sets());
        s->pod_informer = s->ctx.informers->get(kc::resources::pods());
        std::weak_ptr<State> weak = s;
        auto enqueue = [weak](const kc::ObjectPtr& o) {
            if (auto st = weak.lock()) st->queue->add(kube::cache_key(*o));
        };
        s->d_informer->add_handlers(kc::EventHandlers{
            .on_add = enqueue,
            .on_update = [enqueue](const kc::ObjectPtr&, const kc::ObjectPtr& o) { enqueue(o); },
            .on_delete = enqueue,
        });
        s->rs_informer->add_handlers(kc::EventHandlers{
            .on_add =
                [weak](const kc::ObjectPtr& o) {
                    if (auto st = weak.lock()) st->rs_added(*o);
                },
            .on_update =
                [weak](const kc::ObjectPtr& old, const kc::ObjectPtr& now) {
                    if (auto st = weak.lock()) st->rs_updated(*old, *now);
                },
            .on_delete =
                [weak](const kc::ObjectPtr& o) {
                    if (auto st = weak.lock()) st->enqueue_owner(*o);
                },
        });
        s->pod_informer->add_handlers(kc::EventHandlers{
            .on_add = [](const kc::ObjectPtr&) {},
            .on_update = [](const kc::ObjectPtr&, const kc::ObjectPtr&) {},
            .on_delete =
                [weak](const kc::ObjectPtr& o) {
                    if (auto st = weak.lock()) st->pod_deleted(*o);
                },
        });
        run_state_workers(kComponent);
    }

};

}  // namespace

std::unique_ptr<Controller> make_deployment_controller(ControllerContext& ctx) {
    return std::make_unique<DeploymentController>(ctx);
}

}  // namespace kedge::controllers
