// The namespace controller: a namespace being deleted that still has the "kubernetes" spec
// finalizer gets every namespaced object of every served type deleted (pods gracefully: their
// node's agent completes it); while content remains, the namespace's status conditions say what
// is left and the key comes back after kRecheck; once empty, PUT namespaces/<name>/finalize
// drops the finalizer and the API server removes the namespace.

#include <boost/asio/awaitable.hpp>
#include <boost/json.hpp>

#include <string>
#include <vector>

#include "base/log.hpp"
#include "controllers/gc/discovery.hpp"
#include "controllers/gc/gc_controller.hpp"
#include "controllers/gc/namespace_logic.hpp"
#include "controllers/work_queue.hpp"
#include "kube/object.hpp"
#include "kube/time.hpp"

namespace kedge::controllers {
namespace {

namespace json = boost::json;
namespace kc = kube::client;
using boost::asio::awaitable;
using namespace gc;

constexpr std::string_view kComponent = "namespace-controller";
// How soon a namespace whose content is still going away is looked at again (kube: 1 s when
// it has no estimate).
constexpr std::chrono::milliseconds kRecheck{1'000};

struct State {
    ControllerContext ctx;
    std::shared_ptr<WorkQueue> queue;
    std::shared_ptr<kc::Informer> ns_informer;
    std::shared_ptr<spdlog::logger> log = kedge::log::get(kComponent);

    explicit State(ControllerContext& c) : ctx(c) {}

    void maybe_enqueue(const json::object& ns) {
        if (needs_content_deletion(ns)) queue->add(std::string(kube::name(ns)));
    }

    // Deletes what is left of one type in the namespace and records what remains.
    awaitable<void> delete_content(DiscoveredResource dr, std::string ns, NamespaceContent& c) {
        const std::string label = dr.resource.resource + "." + dr.resource.group;
        auto list = co_await ctx.client->list_all(dr.resource, ns);
        if (!list) {
            if (!list.error().is(errc::not_found))  // a type that just went away has no content
                c.delete_failures.push_back(label + ": " + list.error().detail);
            co_return;
        }
        for (const auto& item : list->items) {
            const json::object* left = &item;
            std::optional<json::object> after;
            if (!kube::deletion_timestamp(item)) {
                kc::DeleteOptions o;
                o.propagation_policy = "Background";
                o.precondition_uid = std::string(kube::uid(item));
                auto d = co_await ctx.client->remove(dr.resource, ns, kube::name(item), o);
                if (!d) {
                    if (d.error().is(errc::not_found)) continue;
                    c.delete_failures.push_back(label + ": " + d.error().detail);
                } else if (!d->has_value()) {
                    continue;  // deleted at once
                } else {
                    after = std::move(**d);
                    left = &*after;
                }
            }
            ++c.remaining[label];
            for (const auto& f : kube::finalizers(*left)) ++c.finalizers[f];
        }
    }

    awaitable<Result<void>> sync(std::string name) {
        auto ns = ns_informer->store().get(name);
        if (!ns || !needs_content_deletion(*ns)) co_return Result<void>{};
        auto d = co_await discover(ctx.client);
        if (!d) co_return d.error();
        NamespaceContent content;
        content.discovery_failures = d->failed;
        for (const auto& r : d->resources) {
            if (!r.resource.namespaced || !r.can("list") || !r.can("delete")) continue;
            co_await delete_content(r, name, content);
        }
        auto conditions = namespace_conditions(*ns, content, kube::format_time(ctx.clock->now()));
        const auto* before = kube::get_path(*ns, "status.conditions");
        if (!before || *before != json::value(conditions)) {
            json::object patch{{"status", json::object{{"conditions", std::move(conditions)}}}};
            auto p = co_await ctx.client->patch(kc::resources::namespaces(), "", name,
                                                kube::PatchType::kMergePatch,
                                                json::serialize(patch), "status");
            if (!p && !p.error().is(errc::not_found)) co_return p.error();
        }
        if (!content.discovery_failures.empty() || !content.delete_failures.empty())
            co_return Error(errc::unavailable,
                            "namespace " + name + ": some content could not be deleted yet");
        if (!content.empty()) {
            queue->add_after(name, kRecheck);
            co_return Result<void>{};
        }
        // Empty: finalize, from the current object (the cached one may be a version behind).
        auto fresh = co_await ctx.client->get(kc::resources::namespaces(), "", name);
        if (!fresh) {
            if (fresh.error().is(errc::not_found)) co_return Result<void>{};
            co_return fresh.error();
        }
        auto req = finalize_request(*fresh);
        if (!req) co_return Result<void>{};
        auto u = co_await ctx.client->update(kc::resources::namespaces(), *req, "finalize");
        if (!u && !u.error().is(errc::not_found)) co_return u.error();
        log->info("namespace {}: content removed, finalized", name);
        co_return Result<void>{};
    }
};

class NamespaceController final : public StateController<State> {
public:
    using StateController::StateController;

    void start() override {
        auto s = state_;
        s->queue = WorkQueue::make(s->ctx.executor, "namespace");
        s->ns_informer = s->ctx.informers->get(kc::resources::namespaces());
        std::weak_ptr<State> weak = s;
        s->ns_informer->add_handlers(kc::EventHandlers{
            .on_add =
                [weak](const kc::ObjectPtr& o) {
                    if (auto st = weak.lock()) st->maybe_enqueue(*o);
                },
            .on_update =
                [weak](const kc::ObjectPtr&, const kc::ObjectPtr& o) {
                    if (auto st = weak.lock()) st->maybe_enqueue(*o);
                },
            .on_delete = {},
        });
        run_state_workers(kComponent);
    }

};

}  // namespace

std::unique_ptr<Controller> make_namespace_controller(ControllerContext& ctx) {
    return std::make_unique<NamespaceController>(ctx);
}

}  // namespace kedge::controllers
