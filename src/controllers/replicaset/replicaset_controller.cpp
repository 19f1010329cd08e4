#include "controllers/replicaset/replicaset_controller.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/json.hpp>

#include <set>
#include <string>
#include <vector>

#include "base/log.hpp"
#include "controllers/replicaset/expectations.hpp"
#include "controllers/replicaset/replicaset_logic.hpp"
#include "controllers/work_queue.hpp"
#include "kube/label_selector.hpp"
#include "kube/object.hpp"

namespace kedge::controllers {
namespace {

namespace json = boost::json;
namespace kc = kube::client;
using boost::asio::awaitable;
using namespace replicaset;

constexpr std::string_view kComponent = "replicaset-controller";
// As kube-controller-manager: at most this many creates/deletes per sync.
constexpr std::int64_t kBurstReplicas = 500;

// Shared with the worker coroutines so that a sync in flight never outlives its state.
struct State {
    ControllerContext ctx;
    std::shared_ptr<EventRecorder> recorder;
    std::shared_ptr<WorkQueue> queue;
    std::shared_ptr<kc::Informer> rs_informer;
    std::shared_ptr<kc::Informer> pod_informer;
    Expectations expectations;
    std::shared_ptr<spdlog::logger> log = kedge::log::get(kComponent);

    explicit State(ControllerContext& c) : ctx(c) {}

    Clock::time_point now() const { return ctx.clock->now(); }

    // The ReplicaSet controlling `pod` (nullptr when none, or not a ReplicaSet we know).
    kc::ObjectPtr owner_of(const json::object& pod) const {
        auto ref = kube::controller_of(pod);
        if (!ref || ref->kind != "ReplicaSet" || !ref->api_version.starts_with("apps/"))
            return nullptr;
        auto rs = rs_informer->store().get(kube::namespace_of(pod), ref->name);
        if (!rs || kube::uid(*rs) != ref->uid) return nullptr;
        return rs;
    }

    // Every ReplicaSet of the pod's namespace whose selector matches it (orphans).
    void enqueue_matching(const json::object& pod) {
        for (const auto& rs :
             rs_informer->store().by_index(kc::indexers::kNamespace, kube::namespace_of(pod))) {
            const json::value* s = kube::get_path(*rs, "spec.selector");
            if (!s) continue;
            auto sel = kube::LabelSelector::from_json(*s);
            if (sel && !sel->empty() && sel->matches_object(pod)) queue->add(kube::cache_key(*rs));
        }
    }

    void pod_deleted(const json::object& pod) {
        if (auto rs = owner_of(pod)) {
            std::string key = kube::cache_key(*rs);
            expectations.deletion_observed(key, kube::cache_key(pod));
            queue->add(key);
        }
    }

    void pod_added(const json::object& pod) {
        if (kube::deletion_timestamp(pod)) {
            pod_deleted(pod);
            return;
        }
        if (kube::controller_of(pod)) {
            if (auto rs = owner_of(pod)) {
                std::string key = kube::cache_key(*rs);
                expectations.creation_observed(key);
                queue->add(key);
            }
            return;
        }
        enqueue_matching(pod);
    }

    void pod_updated(const json::object& old, const json::object& now) {
        if (kube::resource_version(old) == kube::resource_version(now)) return;
        const bool labels_changed = kube::labels(old) != kube::labels(now);
        if (kube::deletion_timestamp(now)) {
            pod_deleted(now);
            if (labels_changed) pod_deleted(old);
            return;
        }
        auto old_ref = kube::controller_of(old);
        auto cur_ref = kube::controller_of(now);
        const bool ref_changed = (old_ref ? old_ref->uid : "") != (cur_ref ? cur_ref->uid : "");
        if (ref_changed && old_ref) {
            if (auto rs = owner_of(old)) queue->add(kube::cache_key(*rs));
        }
        if (cur_ref) {
            if (auto rs = owner_of(now)) {
                std::string key = kube::cache_key(*rs);
                queue->add(key);
                // Becoming available happens minReadySeconds after becoming ready, with no
                // event of its own: look again then.
                auto min_ready = int_at(*rs, "spec.minReadySeconds", 0);
                if (min_ready > 0 && !is_pod_ready(old) && is_pod_ready(now))
                    queue->add_after(key, std::chrono::seconds(min_ready + 1));
            }
            return;
        }
        if (labels_changed || ref_changed) enqueue_matching(now);
    }

    awaitable<Result<void>> sync(std::string key);
    awaitable<Result<std::vector<kc::ObjectPtr>>> claim_pods(const json::object& rs,
                                                             const kube::LabelSelector& selector);
    awaitable<std::optional<ReplicaFailure>> manage(const json::object& rs, std::string key,
                                                    std::vector<kc::ObjectPtr> pods);
};

awaitable<Result<std::vector<kc::ObjectPtr>>> State::claim_pods(
    const json::object& rs, const kube::LabelSelector& selector) {
    std::vector<kc::ObjectPtr> owned;
    bool adoption_checked = false;
    const auto pods =
        pod_informer->store().by_index(kc::indexers::kNamespace, kube::namespace_of(rs));
    for (const auto& pod : pods) {
        if (!is_pod_active(*pod)) continue;
        ClaimAction action = claim(rs, selector, *pod);
        if (action == ClaimAction::kOwned) {
            owned.push_back(pod);
            continue;
        }
        if (action == ClaimAction::kIgnore) continue;
        if (action == ClaimAction::kAdopt && !adoption_checked) {
            // The cached ReplicaSet may be stale: never adopt for one already being deleted
            // (or replaced by a new one of the same name).
            auto fresh = co_await ctx.client->get(kc::resources::replica_sets(),
                                                  kube::namespace_of(rs), kube::name(rs));
            if (!fresh) co_return fresh.error();
            if (kube::uid(*fresh) != kube::uid(rs) || kube::deletion_timestamp(*fresh))
                co_return Error(errc::conflict, "ReplicaSet " + kube::cache_key(rs) +
                                                    " changed; not adopting pods");
            adoption_checked = true;
        }
        std::string body = action == ClaimAction::kAdopt ? adopt_patch(rs) : release_patch(rs);
        auto r = co_await ctx.client->patch(kc::resources::pods(), kube::namespace_of(*pod),
                                            kube::name(*pod), kube::PatchType::kStrategicMergePatch,
                                            std::move(body));
        if (!r) {
            if (r.error().is(errc::not_found)) continue;  // gone meanwhile
            co_return r.error();
        }
        if (action == ClaimAction::kAdopt) {
            log->info("{}: adopted pod {}", kube::cache_key(rs), kube::name(*pod));
            owned.push_back(std::make_shared<const json::object>(std::move(*r)));
        } else {
            log->info("{}: released pod {}", kube::cache_key(rs), kube::name(*pod));
        }
    }
    co_return owned;
}

awaitable<std::optional<ReplicaFailure>> State::manage(const json::object& rs, std::string key,
                                                       std::vector<kc::ObjectPtr> pods) {
    const std::int64_t want = spec_replicas(rs);
    const std::int64_t have = static_cast<std::int64_t>(pods.size());
    const std::string ns(kube::namespace_of(rs));
    if (have < want) {
        const int n = static_cast<int>(std::min(want - have, kBurstReplicas));
        expectations.expect_creations(key, n, now());
        const json::object pod = pod_from_template(rs);
        for (int i = 0; i < n; ++i) {
            auto r = co_await ctx.client->create(kc::resources::pods(), ns, pod);
            if (!r) {
                // The remaining creations will never be observed.
                for (int j = i; j < n; ++j) expectations.creation_observed(key);
                std::string msg = "Error creating: " + r.error().detail;
                recorder->event(rs, kEventWarning, "FailedCreate", msg);
                co_return ReplicaFailure{"FailedCreate", msg};
            }
            recorder->event(rs, kEventNormal, "SuccessfulCreate",
                            "Created pod: " + std::string(kube::name(*r)));
        }
    } else if (have > want) {
        const auto n = static_cast<std::size_t>(std::min(have - want, kBurstReplicas));
        // Pods of sibling ReplicaSets (same Deployment) count when ranking nodes by crowding.
        std::vector<const json::object*> own, related;
        for (const auto& p : pods) own.push_back(p.get());
        std::set<std::string> siblings{std::string(kube::uid(rs))};
        std::vector<kc::ObjectPtr> keep_alive;
        if (auto owner = kube::controller_of(rs)) {
            for (const auto& other : rs_informer->store().by_index(kc::indexers::kNamespace, ns)) {
                auto ref = kube::controller_of(*other);
                if (ref && ref->uid == owner->uid) siblings.insert(std::string(kube::uid(*other)));
            }
        }
        for (const auto& p : pod_informer->store().by_index(kc::indexers::kNamespace, ns)) {
            auto ref = kube::controller_of(*p);
            if (ref && siblings.contains(ref->uid) && is_pod_active(*p)) {
                keep_alive.push_back(p);
                related.push_back(p.get());
            }
        }
        auto victims = pods_to_delete(own, related.empty() ? own : related, n);
        std::set<std::string> victim_keys;
        for (const auto* v : victims) victim_keys.insert(kube::cache_key(*v));
        expectations.expect_deletions(key, victim_keys, now());
        std::optional<ReplicaFailure> failure;
        for (const auto* v : victims) {
            std::string pod_name(kube::name(*v));
            auto r = co_await ctx.client->remove(kc::resources::pods(), ns, pod_name);
            if (!r) {
                expectations.deletion_observed(key, kube::cache_key(*v));
                if (r.error().is(errc::not_found)) continue;
                std::string msg = "Error deleting: " + r.error().detail;
                recorder->event(rs, kEventWarning, "FailedDelete", msg);
                failure = ReplicaFailure{"FailedDelete", msg};
                continue;
            }
            recorder->event(rs, kEventNormal, "SuccessfulDelete", "Deleted pod: " + pod_name);
        }
        co_return failure;
    }
    co_return std::nullopt;
}

awaitable<Result<void>> State::sync(std::string key) {
    kc::ObjectPtr rs_ptr = rs_informer->store().get(key);
    if (!rs_ptr) {
        expectations.forget(key);
        co_return Result<void>{};
    }
    const json::object& rs = *rs_ptr;
    const json::value* sel_json = kube::get_path(rs, "spec.selector");
    auto selector = sel_json ? kube::LabelSelector::from_json(*sel_json)
                             : Result<kube::LabelSelector>(kube::LabelSelector::nothing());
    if (!selector) {
        // The API validates selectors; a bad one cannot be fixed by retrying.
        log->error("{}: invalid selector: {}", key, selector.error().detail);
        co_return Result<void>{};
    }
    const bool needs_sync = expectations.satisfied(key, now());

    auto claimed = co_await claim_pods(rs, *selector);
    if (!claimed) co_return claimed.error();
    std::vector<kc::ObjectPtr> pods = std::move(*claimed);

    std::optional<ReplicaFailure> failure;
    if (needs_sync && !kube::deletion_timestamp(rs)) failure = co_await manage(rs, key, pods);

    std::vector<const json::object*> views;
    for (const auto& p : pods) views.push_back(p.get());
    auto counts = compute_counts(rs, views, now());
    json::object status = next_status(rs, counts, failure, now());
    if (status_changed(rs, status)) {
        json::object copy = rs;
        copy["status"] = std::move(status);
        auto r = co_await ctx.client->update(kc::resources::replica_sets(), copy, "status");
        if (!r) {
            if (r.error().is(errc::not_found)) co_return Result<void>{};
            co_return r.error();
        }
    }
    const auto min_ready = int_at(rs, "spec.minReadySeconds", 0);
    if (min_ready > 0 && counts.ready_replicas > counts.available_replicas)
        queue->add_after(key, std::chrono::seconds(min_ready));
    if (failure) co_return Error(errc::unavailable, failure->message);
    co_return Result<void>{};
}

class ReplicaSetController final : public StateController<State> {
public:
    using StateController::StateController;

    void start() override {
        auto s = state_;
        s->recorder = s->ctx.recorder(std::string(kComponent));
        s->queue = WorkQueue::make(s->ctx.executor, "replicaset");
        s->rs_informer = s->ctx.informers->get(kc::resources::replica_sets());
        s->pod_informer = s->ctx.informers->get(kc::resources::pods());
        std::weak_ptr<State> weak = s;
        s->rs_informer->add_handlers(kc::EventHandlers{
            .on_add =
                [weak](const kc::ObjectPtr& o) {
                    if (auto st = weak.lock()) st->queue->add(kube::cache_key(*o));
                },
            .on_update =
                [weak](const kc::ObjectPtr&, const kc::ObjectPtr& o) {
                    if (auto st = weak.lock()) st->queue->add(kube::cache_key(*o));
                },
            .on_delete =
                [weak](const kc::ObjectPtr& o) {
                    if (auto st = weak.lock()) {
                        st->expectations.forget(kube::cache_key(*o));
                        st->queue->add(kube::cache_key(*o));
                    }
                },
        });
        s->pod_informer->add_handlers(kc::EventHandlers{
            .on_add =
                [weak](const kc::ObjectPtr& o) {
                    if (auto st = weak.lock()) st->pod_added(*o);
                },
            .on_update =
                [weak](const kc::ObjectPtr& old, const kc::ObjectPtr& now) {
                    if (auto st = weak.lock()) st->pod_updated(*old, *now);
                },
            .on_delete =
                [weak](const kc::ObjectPtr& o) {
                    if (auto st = weak.lock()) st->pod_deleted(*o);
                },
        });
        run_state_workers(kComponent);
    }

};

}  // namespace

std::unique_ptr<Controller> make_replicaset_controller(ControllerContext& ctx) {
    return std::make_unique<ReplicaSetController>(ctx);
}

}  // namespace kedge::controllers
