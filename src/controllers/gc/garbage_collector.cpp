// The garbage collector: follows every listable/watchable/deletable type from discovery with
// shared informers, keeps an OwnerGraph of them and works on object uids:
//  - a dependent whose owners are all gone (absence confirmed by a GET) is deleted;
//  - an owner deleted with foregroundDeletion gets its dependents deleted, and the finalizer
//    removed once no dependent with blockOwnerDeletion is left;
//  - an owner deleted with the orphan finalizer gets its references removed from its
//    dependents, then the finalizer removed.
// Two special keys: "@discover" (re-read discovery; queued at start, when CRDs change and every
// gc_resync) re-checks everything worth checking.

#include <boost/asio/awaitable.hpp>
#include <boost/json.hpp>

#include <map>
#include <set>
#include <string>
#include <vector>

#include "base/log.hpp"
#include "controllers/gc/discovery.hpp"
#include "controllers/gc/gc_controller.hpp"
#include "controllers/gc/gc_logic.hpp"
#include "controllers/gc/owner_graph.hpp"
#include "controllers/work_queue.hpp"
#include "kube/object.hpp"

namespace kedge::controllers {
namespace {

namespace json = boost::json;
namespace kc = kube::client;
using boost::asio::awaitable;
using namespace gc;

constexpr std::string_view kComponent = "garbage-collector";
constexpr std::string_view kDiscoverKey = "@discover";
// A key that arrives before every informer has synced waits this long (the graph is not
// complete yet, so no decision is taken from it).
constexpr std::chrono::milliseconds kNotSyncedDelay{200};

// An informer that has not synced after this long (a type that vanished right after discovery,
// a list that keeps failing) no longer holds up every other decision.
constexpr std::chrono::seconds kSyncPatience{30};

struct Followed {
    DiscoveredResource info;
    std::shared_ptr<kc::Informer> informer;
    Clock::time_point since;
};

struct State {
    ControllerContext ctx;
    std::shared_ptr<WorkQueue> queue;
    std::shared_ptr<kc::Informer> crd_informer;
    OwnerGraph graph;
    std::vector<DiscoveredResource> resources;  // everything discovery returned
    std::map<std::string, Followed> followed;   // by DiscoveredResource::id()
    std::shared_ptr<spdlog::logger> log = kedge::log::get(kComponent);
    std::weak_ptr<State> self;

    explicit State(ControllerContext& c) : ctx(c) {}

    void enqueue(const std::vector<std::string>& uids) {
        for (const auto& u : uids) queue->add(u);
    }

    bool all_synced() const {
        auto now = ctx.clock->now();
        for (const auto& [id, f] : followed)
            if (!f.informer->has_synced() && now - f.since < kSyncPatience) return false;
        return true;
    }

    void follow(const DiscoveredResource& r) {
        std::string id = r.id();
        if (followed.contains(id)) return;
        auto inf = ctx.informers->get(r.resource);
        std::weak_ptr<State> weak = self;
        inf->add_handlers(kc::EventHandlers{
            .on_add =
                [weak, id](const kc::ObjectPtr& o) {
                    if (auto st = weak.lock()) st->enqueue(st->graph.observe(id, *o));
                },
            .on_update =
                [weak, id](const kc::ObjectPtr&, const kc::ObjectPtr& o) {
                    if (auto st = weak.lock()) st->enqueue(st->graph.observe(id, *o));
                },
            .on_delete =
                [weak](const kc::ObjectPtr& o) {
                    if (auto st = weak.lock()) st->enqueue(st->graph.forget(*o));
                },
        });
        inf->start();  // idempotent; the manager starts the ones created before start_all
        followed.emplace(id, Followed{r, inf, ctx.clock->now()});
        log->debug("following {}", id);
    }

    // The object a graph node stands for, from its informer's store (nullptr when gone).
    kc::ObjectPtr current(std::string_view uid, const Followed** where = nullptr) const {
        const auto* node = graph.find(uid);
        if (!node) return nullptr;
        auto it = followed.find(node->resource_id);
        if (it == followed.end()) return nullptr;
        auto obj = it->second.informer->store().get(node->namespace_, node->name);
        if (!obj || kube::uid(*obj) != uid) return nullptr;
        if (where) *where = &it->second;
        return obj;
    }

    awaitable<Result<void>> sync(std::string key) {
        if (key == kDiscoverKey) co_return co_await rediscover();
        if (!all_synced()) {
            queue->add_after(key, kNotSyncedDelay);
            co_return Result<void>{};
        }
        const Followed* where = nullptr;
        auto obj = current(key, &where);
        if (!obj) co_return Result<void>{};
        if (kube::deletion_timestamp(*obj)) {
            if (kube::has_finalizer(*obj, kFinalizerOrphan))
                co_return co_await orphan_dependents(obj, where->info.resource);
            if (kube::has_finalizer(*obj, kFinalizerForeground))
                co_return co_await delete_dependents(obj, where->info.resource);
            co_return Result<void>{};
        }
        co_return co_await attempt_to_delete(obj, where->info.resource);
    }

    awaitable<Result<void>> rediscover() {
        queue->add_after(std::string(kDiscoverKey), ctx.options.gc_resync);
        auto d = co_await discover(ctx.client);
        if (!d) co_return d.error();
        resources = std::move(d->resources);
        for (const auto& r : resources)
            if (gc_follows(r)) follow(r);
        if (!d->failed.empty())
            log->warn("discovery failed for {} group version(s), first: {}", d->failed.size(),
                      d->failed.front());
        enqueue(graph.interesting());
        co_return Result<void>{};
    }

    // A dependent: delete it when all owners are gone, or drop references to owners that are.
    awaitable<Result<void>> attempt_to_delete(kc::ObjectPtr obj, kc::ApiResource r) {
        std::string uid(kube::uid(*obj)), ns(kube::namespace_of(*obj)), name(kube::name(*obj));
        std::vector<OwnerVerdict> verdicts;
        for (const auto& ref : kube::owner_references(*obj)) {
            auto state = co_await owner_state(ref, ns);
            if (!state) co_return state.error();
            verdicts.push_back({ref, *state});
        }
        auto decision = decide_dependent(*obj, verdicts);
        using Action = DependentDecision::Action;
        if (decision.action == Action::kRemoveOwnerRefs) {
            auto body = remove_owner_refs_patch(*obj, decision.remove_owner_uids);
            if (!body) co_return Result<void>{};
            auto p = co_await ctx.client->patch(r, ns, name, kube::PatchType::kMergePatch, *body);
            if (!p && !p.error().is(errc::not_found)) co_return p.error();
            log->info("{} {}/{}: removed references to owners that are gone or being deleted",
                      r.resource, ns, name);
        } else if (decision.action == Action::kDelete) {
            kc::DeleteOptions o;
            o.propagation_policy = decision.propagation_policy;
            o.precondition_uid = uid;
            auto d = co_await ctx.client->remove(r, ns, name, o);
            // Gone already, or replaced by a new object of that name: nothing left to do.
            if (!d && !d.error().is(errc::not_found) && !d.error().is(errc::conflict))
                co_return d.error();
            log->info("deleted {} {}/{} (owners gone, propagation {})", r.resource, ns, name,
                      decision.propagation_policy);
        }
        co_return Result<void>{};
    }

    // What an owner is: from the local graph when it is there, otherwise from a live GET (a
    // stale cache must never be the reason to delete).
    awaitable<Result<OwnerState>> owner_state(kube::OwnerReference ref, std::string ns) {
        if (auto owner = current(ref.uid)) co_return classify_owner(ref, owner.get());
        const auto* dr = find_kind(resources, ref.api_version, ref.kind);
        if (!dr)
            co_return Error(errc::not_found, "owner " + ref.kind + " " + ref.name + " (" +
                                                 ref.api_version + "): kind not served");
        // Copied: a rediscovery may replace `resources` while this coroutine waits.
        kc::ApiResource res = dr->resource;
        auto got = co_await ctx.client->get(res, res.namespaced ? ns : "", ref.name);
        if (got) co_return classify_owner(ref, &*got);
        if (got.error().is(errc::not_found)) co_return classify_owner(ref, nullptr);
        co_return got.error();
    }

    // Foreground deletion of `owner`: its dependents go first.
    awaitable<Result<void>> delete_dependents(kc::ObjectPtr owner, kc::ApiResource r) {
        std::string uid(kube::uid(*owner));
        std::size_t blocking = 0;
        for (const auto& d : graph.dependents(uid)) {
            auto dep = current(d);
            if (!dep || !has_owner(*dep, uid)) continue;
            if (blocks_owner(*dep, uid)) ++blocking;
            if (!kube::deletion_timestamp(*dep)) queue->add(d);  // deleted by its own sync
        }
        if (blocking > 0) co_return Result<void>{};  // re-queued as they change or go
        auto body = remove_finalizer_patch(*owner, kFinalizerForeground);
        if (!body) co_return Result<void>{};
        auto p = co_await ctx.client->patch(r, kube::namespace_of(*owner), kube::name(*owner),
                                            kube::PatchType::kMergePatch, *body);
        if (!p && !p.error().is(errc::not_found)) co_return p.error();
        log->info("{} {}/{}: dependents deleted, removed the foregroundDeletion finalizer",
                  r.resource, kube::namespace_of(*owner), kube::name(*owner));
        co_return Result<void>{};
    }

    // Orphan deletion of `owner`: its dependents lose their references to it.
    awaitable<Result<void>> orphan_dependents(kc::ObjectPtr owner, kc::ApiResource r) {
        std::string uid(kube::uid(*owner));
        for (const auto& d : graph.dependents(uid)) {
            const Followed* where = nullptr;
            auto dep = current(d, &where);
            if (!dep) continue;
            auto body = remove_owner_refs_patch(*dep, {uid});
            if (!body) continue;
            kc::ApiResource dep_resource = where->info.resource;
            auto p =
                co_await ctx.client->patch(dep_resource, kube::namespace_of(*dep), kube::name(*dep),
                                           kube::PatchType::kMergePatch, *body);
            if (!p && !p.error().is(errc::not_found)) co_return p.error();
        }
        auto body = remove_finalizer_patch(*owner, kFinalizerOrphan);
        if (!body) co_return Result<void>{};
        auto p = co_await ctx.client->patch(r, kube::namespace_of(*owner), kube::name(*owner),
                                            kube::PatchType::kMergePatch, *body);
        if (!p && !p.error().is(errc::not_found)) co_return p.error();
        log->info("{} {}/{}: dependents orphaned, removed the orphan finalizer", r.resource,
                  kube::namespace_of(*owner), kube::name(*owner));
        co_return Result<void>{};
    }
};

class GarbageCollector final : public StateController<State> {
public:
    explicit GarbageCollector(ControllerContext& ctx) : StateController(ctx) { state_->self = state_; }

    void start() override {
        auto s = state_;
        s->queue = WorkQueue::make(s->ctx.executor, "garbagecollector");
        // The built-in types are followed at once; discovery adds the rest (custom resources).
        for (const auto& r :
             {kc::resources::pods(), kc::resources::replica_sets(), kc::resources::deployments(),
              kc::resources::daemon_sets(), kc::resources::controller_revisions(),
              kc::resources::config_maps(), kc::resources::secrets(), kc::resources::services(),
              kc::resources::endpoints(), kc::resources::leases(), kc::resources::nodes(),
              kc::resources::namespaces()}) {
            s->follow(DiscoveredResource{r, {"list", "watch", "delete"}});
        }
        s->crd_informer = s->ctx.informers->get(kc::resources::custom_resource_definitions());
        std::weak_ptr<State> weak = s;
        auto rediscover = [weak] {
            if (auto st = weak.lock()) st->queue->add(std::string(kDiscoverKey));
        };
        s->crd_informer->add_handlers(kc::EventHandlers{
            .on_add = [rediscover](const kc::ObjectPtr&) { rediscover(); },
            .on_update =
                [rediscover](const kc::ObjectPtr& old, const kc::ObjectPtr& now) {
                    if (kube::resource_version(*old) != kube::resource_version(*now)) rediscover();
                },
            .on_delete = [rediscover](const kc::ObjectPtr&) { rediscover(); },
        });
        s->queue->add(std::string(kDiscoverKey));
        run_state_workers(kComponent);
    }

};

}  // namespace

std::unique_ptr<Controller> make_garbage_collector_controller(ControllerContext& ctx) {
    return std::make_unique<GarbageCollector>(ctx);
}

}  // namespace kedge::controllers
