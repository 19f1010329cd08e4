#include "controllers/daemonset/daemonset_controller.hpp"

#include <boost/asio/awaitable.hpp>

#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <utility>

#include "base/log.hpp"
#include "controllers/daemonset/daemonset_logic.hpp"
#include "controllers/daemonset/revision_logic.hpp"
#include "controllers/work_queue.hpp"
#include "kube/object.hpp"
#include "kube/patch.hpp"

namespace kedge::controllers {

namespace asio = boost::asio;
namespace json = boost::json;
namespace kc = kube::client;
using namespace daemonset;

namespace {

constexpr std::string_view kComponent = "daemonset-controller";
// How long a create or delete we issued may stay unobserved before the cache is trusted again
// (client-go's expectations use five minutes; our informers lag by milliseconds).
constexpr auto kExpectationTimeout = std::chrono::seconds(30);

bool same_json(const json::value* a, const json::value* b) {
    if (!a || !b) return a == b;
    return kube::json_equal(*a, *b);
}

// Node changes that can change where daemon pods belong.
bool placement_changed(const json::object& a, const json::object& b) {
    return !same_json(kube::get_path(a, "metadata.labels"), kube::get_path(b, "metadata.labels")) ||
           !same_json(kube::get_path(a, "spec"), kube::get_path(b, "spec"));
}

std::vector<const json::object*> controlled_by(const std::vector<kc::ObjectPtr>& objs,
                                               std::string_view uid) {
    std::vector<const json::object*> out;
    for (const auto& o : objs) {
        auto c = kube::controller_of(*o);
        if (c && c->uid == uid) out.push_back(o.get());
    }
    return out;
}

class DaemonSets : public std::enable_shared_from_this<DaemonSets> {
public:
    explicit DaemonSets(ControllerContext& ctx)
        : ctx_(ctx),
          log_(log::get(kComponent)),
          recorder_(ctx.recorder(std::string(kComponent))),
          dss_(ctx.informers->get(kc::resources::daemon_sets())),
          pods_(ctx.informers->get(kc::resources::pods())),
          nodes_(ctx.informers->get(kc::resources::nodes())),
          revisions_(ctx.informers->get(kc::resources::controller_revisions())),
          queue_(WorkQueue::make(ctx.executor, "daemonset")) {}

    void start() {
        std::weak_ptr<DaemonSets> weak = weak_from_this();
        auto enqueue = [weak](const kc::ObjectPtr& ds) {
            if (auto self = weak.lock()) self->queue_->add(kube::cache_key(*ds));
        };
        dss_->add_handlers(kc::EventHandlers{
            .on_add = enqueue,
            .on_update = [enqueue](const kc::ObjectPtr&,
                                   const kc::ObjectPtr& now) { enqueue(now); },
            .on_delete =
                [weak](const kc::ObjectPtr& ds) {
                    if (auto self = weak.lock()) self->expectations_.erase(kube::cache_key(*ds));
                },
        });
        auto on_pod = [weak](const kc::ObjectPtr& pod) {
            auto self = weak.lock();
            if (!self) return;
            auto owner = kube::controller_of(*pod);
            if (!owner || owner->kind != "DaemonSet") return;
            self->queue_->add(std::string(kube::namespace_of(*pod)) + "/" + owner->name);
        };
        pods_->add_handlers(kc::EventHandlers{
            .on_add = on_pod,
            .on_update = [on_pod](const kc::ObjectPtr&, const kc::ObjectPtr& now) { on_pod(now); },
            .on_delete = on_pod,
        });
        auto all = [weak]() {
            if (auto self = weak.lock())
                self->dss_->store().for_each(
                    [&](const kc::ObjectPtr& ds) { self->queue_->add(kube::cache_key(*ds)); });
        };
        nodes_->add_handlers(kc::EventHandlers{
            .on_add = [all](const kc::ObjectPtr&) { all(); },
            .on_update =
                [all](const kc::ObjectPtr& old, const kc::ObjectPtr& now) {
                    if (old != now && placement_changed(*old, *now)) all();
                },
            .on_delete = [all](const kc::ObjectPtr&) { all(); },
        });
        // Registered so the shared informer starts; revisions are read from its store.
        revisions_->add_handlers(kc::EventHandlers{});
        auto self = shared_from_this();
        run_workers(
            ctx_.executor, queue_,
            [self](std::string key) -> asio::awaitable<Result<void>> {
                co_return co_await self->sync(std::move(key));
            },
            ctx_.options.workers, std::string(kComponent));
    }

    void stop() {
        stopped_ = true;
        queue_->shutdown();
    }

private:
    struct Pending {
        std::string name;
        std::chrono::steady_clock::time_point at;
    };
    // Creates and deletes issued but not yet visible in the pod store, per DaemonSet.
    struct Expectations {
        std::map<std::string, Pending, std::less<>> creating;  // by node
        std::map<std::string, std::chrono::steady_clock::time_point, std::less<>> deleting;
    };
    struct CurrentRevision {
        std::string name;
        std::string hash;
    };

    void prune(Expectations& e, std::string_view ns) {
        const auto now = ctx_.clock->steady_now();
        std::erase_if(e.creating, [&](const auto& kv) {
            return now - kv.second.at > kExpectationTimeout ||
                   pods_->store().get(ns, kv.second.name) != nullptr;
        });
        std::erase_if(e.deleting, [&](const auto& kv) {
            auto pod = pods_->store().get(ns, kv.first);
            return now - kv.second > kExpectationTimeout || !pod ||
                   kube::deletion_timestamp(*pod).has_value();
        });
    }

    asio::awaitable<Result<void>> sync(std::string key) {
        if (stopped_) co_return Result<void>{};
        auto ds_ptr = dss_->store().get(key);
        if (!ds_ptr) {
            expectations_.erase(key);
            co_return Result<void>{};
        }
        if (kube::deletion_timestamp(*ds_ptr)) co_return Result<void>{};  // the GC's job now
        const json::object ds = *ds_ptr;
        const std::string ns(kube::namespace_of(ds));
        const std::string uid(kube::uid(ds));

        // The ObjectPtr vectors keep every object alive across the co_awaits below, whatever
        // the informers store meanwhile.
        const auto rev_ptrs = revisions_->store().by_index(kc::indexers::kNamespace, ns);
        const auto node_ptrs = nodes_->store().list();
        auto revisions = controlled_by(rev_ptrs, uid);
        auto current = co_await ensure_revision(ds, revisions);
        if (!current) co_return current.error();

        auto* exp_ptr = expectations(key);
        if (!exp_ptr) co_return Result<void>{};  // deleted while we were away
        auto& exp = *exp_ptr;
        prune(exp, ns);
        auto pod_ptrs = pods_->store().by_index(kc::indexers::kNamespace, ns);
        DaemonSetInput in;
        in.ds = &ds;
        for (const auto& n : node_ptrs) in.nodes.push_back(n.get());
        in.pods = controlled_by(pod_ptrs, uid);
        in.hash = current->hash;
        in.now = ctx_.clock->now();
        for (const auto& [node, _] : exp.creating) in.creating.insert(node);
        for (const auto& [pod, _] : exp.deleting) in.deleting.insert(pod);
        auto plan = plan_daemonset(in);

        Result<void> result;
        for (const auto& node : plan.create_on) {
            auto r = co_await create_pod(ds, node, current->hash, key);
            if (!r) result = r;
        }
        for (const auto& name : plan.delete_pods) {
            auto r = co_await delete_pod(ds, name, key);
            if (!r) result = r;
        }
        if (auto r = co_await update_status(ds, plan.status); !r) result = r;

        std::set<std::string, std::less<>> live_hashes;
        for (const auto* p : in.pods)
            if (auto h = kube::label(*p, kRevisionHashLabel)) live_hashes.emplace(*h);
        auto limit = kube::get_path(ds, "spec.revisionHistoryLimit");
        std::int64_t keep = limit && limit->is_int64()
                                ? limit->as_int64()
                                : ctx_.options.revision_history_limit_default;
        for (const auto& name : revisions_to_prune(revisions, current->name, live_hashes, keep)) {
            auto r = co_await ctx_.client->remove(kc::resources::controller_revisions(), ns, name);
            if (!r && !r.error().is(errc::not_found)) result = r.error();
        }

        // Pods that turn available only after minReadySeconds change no object: look again.
        auto min_ready = kube::get_path(ds, "spec.minReadySeconds");
        if (min_ready && min_ready->is_int64() && min_ready->as_int64() > 0 &&
            plan.status.at("numberAvailable") != plan.status.at("numberReady"))
            queue_->add_after(
                key, std::chrono::seconds(min_ready->as_int64()) + std::chrono::milliseconds(100));
        co_return result;
    }

    // The revision of the current template, created (or renumbered, on a rollback) as needed.
    asio::awaitable<Result<CurrentRevision>> ensure_revision(
        json::object ds, std::vector<const json::object*> revisions) {
        std::int64_t max = 0;
        for (const auto* r : revisions) max = std::max(max, revision_number(*r));
        if (const auto* match = find_matching_revision(revisions, ds)) {
            CurrentRevision cur{std::string(kube::name(*match)),
                                std::string(kube::label(*match, kRevisionHashLabel).value_or(""))};
            if (revision_number(*match) < max) {
                json::object bumped = *match;
                bumped["revision"] = max + 1;
                auto r =
                    co_await ctx_.client->update(kc::resources::controller_revisions(), bumped);
                if (!r) co_return r.error();
            }
            co_return cur;
        }
        std::optional<std::int64_t> collisions;
        if (const auto* cc = kube::get_path(ds, "status.collisionCount"); cc && cc->is_int64())
            collisions = cc->as_int64();
        const json::value tmpl = kube::get_path(ds, "spec.template")
                                     ? *kube::get_path(ds, "spec.template")
                                     : json::value(json::object{});
        std::string hash = template_hash(tmpl, collisions);
        auto rev = new_revision(ds, hash, max + 1);
        const std::string ns(kube::namespace_of(ds));
        auto created = co_await ctx_.client->create(kc::resources::controller_revisions(), ns, rev);
        if (created) co_return CurrentRevision{std::string(kube::name(*created)), hash};
        if (!created.error().is(errc::already_exists)) co_return created.error();
        // Either our cache has not seen it yet, or another template hashed the same.
        auto existing =
            co_await ctx_.client->get(kc::resources::controller_revisions(), ns, kube::name(rev));
        if (!existing) co_return existing.error();
        auto owner = kube::controller_of(*existing);
        if (owner && owner->uid == kube::uid(ds) &&
            kube::json_equal(revision_template(*existing), tmpl))
            co_return CurrentRevision{std::string(kube::name(*existing)), hash};
        json::object bumped = ds;
        auto& status = bumped["status"];
        if (!status.is_object()) status = json::object{};
        status.as_object()["collisionCount"] = collisions.value_or(0) + 1;
        auto r = co_await ctx_.client->update(kc::resources::daemon_sets(), bumped, "status");
        if (!r) co_return r.error();
        co_return Error(errc::conflict, "ControllerRevision " + std::string(kube::name(rev)) +
                                            " exists with another template; collisionCount raised");
    }

    // Expectations are looked up again after each co_await: the DaemonSet may be gone by then.
    Expectations* expectations(const std::string& key) {
        if (!dss_->store().get(key)) return nullptr;
        return &expectations_[key];
    }

    asio::awaitable<Result<void>> create_pod(json::object ds, std::string node, std::string hash,
                                             std::string key) {
        auto pod = new_daemon_pod(ds, node, hash);
        auto r = co_await ctx_.client->create(kc::resources::pods(), kube::namespace_of(ds), pod);
        if (!r) {
            recorder_->event(ds, kEventWarning, "FailedCreate",
                             "Error creating: " + r.error().detail);
            co_return r.error();
        }
        std::string name(kube::name(*r));
        if (auto* exp = expectations(key))
            exp->creating[node] = Pending{name, ctx_.clock->steady_now()};
        recorder_->event(ds, kEventNormal, "SuccessfulCreate", "Created pod: " + name);
        log_->debug("daemonset {}/{}: created pod {} for node {}", kube::namespace_of(ds),
                    kube::name(ds), name, node);
        co_return Result<void>{};
    }

    asio::awaitable<Result<void>> delete_pod(json::object ds, std::string name, std::string key) {
        auto r = co_await ctx_.client->remove(kc::resources::pods(), kube::namespace_of(ds), name);
        if (!r && !r.error().is(errc::not_found)) {
            recorder_->event(ds, kEventWarning, "FailedDelete",
                             "Error deleting: " + r.error().detail);
            co_return r.error();
        }
        if (auto* exp = expectations(key)) exp->deleting[name] = ctx_.clock->steady_now();
        if (r) recorder_->event(ds, kEventNormal, "SuccessfulDelete", "Deleted pod: " + name);
        co_return Result<void>{};
    }

    asio::awaitable<Result<void>> update_status(json::object ds, json::object status) {
        const auto* cur = kube::get_path(ds, "status");
        json::object merged = cur && cur->is_object() ? cur->as_object() : json::object{};
        bool changed = false;
        for (const auto& [k, v] : status) {
            const auto* old = merged.if_contains(k);
            if (!old || !kube::json_equal(*old, v)) {
                merged[k] = v;
                changed = true;
            }
        }
        if (!changed) co_return Result<void>{};
        json::object updated = ds;
        updated["status"] = std::move(merged);
        auto r = co_await ctx_.client->update(kc::resources::daemon_sets(), updated, "status");
        if (!r && !r.error().is(errc::not_found)) co_return r.error();
        co_return Result<void>{};
    }

    ControllerContext ctx_;  // a copy: the manager's may not outlive our coroutines
    std::shared_ptr<spdlog::logger> log_;
    std::shared_ptr<EventRecorder> recorder_;
    std::shared_ptr<kc::Informer> dss_, pods_, nodes_, revisions_;
    std::shared_ptr<WorkQueue> queue_;
    std::map<std::string, Expectations, std::less<>> expectations_;  // by DaemonSet key
    bool stopped_ = false;
};


}  // namespace

std::unique_ptr<Controller> make_daemonset_controller(ControllerContext& ctx) {
    return std::make_unique<SharedImplController<DaemonSets>>(ctx);
}

}  // namespace kedge::controllers
