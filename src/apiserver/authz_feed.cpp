#include "apiserver/authz_feed.hpp"

#include <boost/json.hpp>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "apiserver/registry_detail.hpp"
#include "base/log.hpp"

namespace kedge::apiserver {
namespace json = boost::json;

namespace {
constexpr std::size_t kQueue = 1'000'000;  // authorization state must never skip an event
}

struct AuthzFeed::Impl {
    Registry& registry;
    std::shared_ptr<auth::InMemoryNodeGraph> graph;
    std::shared_ptr<auth::RbacStore> rbac;
    std::vector<ResourceType> pod_types, rbac_types;
    std::vector<std::shared_ptr<storage::Watcher>> pod_watchers, rbac_watchers;
    std::mutex mu;
    std::condition_variable cv;
    bool ready = false;
    std::atomic<bool> stop{false};
    std::thread thread;

    Impl(Registry& r, std::shared_ptr<auth::InMemoryNodeGraph> g,
         std::shared_ptr<auth::RbacStore> s)
        : registry(r), graph(std::move(g)), rbac(std::move(s)) {}

    std::function<void()> notifier() {
        return [this] {
            {
                std::lock_guard lock(mu);
                ready = true;
            }
            cv.notify_one();
        };
    }

    // Lists the types, hands the objects to `reset`, and watches from the list's revision.
    Result<std::vector<std::shared_ptr<storage::Watcher>>> relist(
        const std::vector<ResourceType>& types,
        const std::function<void(const std::vector<json::object>&)>& reset) {
        std::vector<json::object> objects;
        std::vector<std::uint64_t> revs;
        for (const auto& t : types) {
            auto cache = registry.cache_for(t);
            if (!cache) return cache.error();
            auto l = (*cache)->list({});
            if (!l) return l.error();
            for (const auto& o : l->items) {
                boost::system::error_code ec;
                auto v = detail::parse_json(o->value, ec);
                if (!ec && v.is_object()) objects.push_back(std::move(v.as_object()));
            }
            revs.push_back(l->revision);
        }
        reset(objects);
        std::vector<std::shared_ptr<storage::Watcher>> out;
        for (std::size_t i = 0; i < types.size(); ++i) {
            Registry::WatchRequest req;
            req.from_revision = revs[i];
            req.key_prefix = Registry::type_prefix(types[i]);
            auto w = registry.watch(Scope{types[i], "", "", ""}, req, notifier(), kQueue);
            if (!w) return Error(errc::unavailable, w.error().status.message);
            out.push_back(*w);
        }
        return out;
    }

    Result<void> relist_pods() {
        auto w = relist(pod_types, [&](const std::vector<json::object>& o) { graph->reset(o); });
        if (!w) return w.error();
        pod_watchers = std::move(*w);
        return {};
    }
    Result<void> relist_rbac() {
        auto w = relist(rbac_types, [&](const std::vector<json::object>& o) {
            for (const auto& e : rbac->reset(o))
                log::get("apiserver")->warn("RBAC object ignored: {}", e.detail);
        });
        if (!w) return w.error();
        rbac_watchers = std::move(*w);
        return {};
    }

    // Applies queued events; false when a watcher was closed (the caller relists).
    template <class Apply>
    bool drain(std::vector<std::shared_ptr<storage::Watcher>>& watchers, Apply apply) {
        bool healthy = true;
        for (auto& w : watchers) {
            for (const auto& ev : w->take()) {
                boost::system::error_code ec;
                auto v = detail::parse_json(ev->object->value, ec);
                if (!ec && v.is_object())
                    apply(v.as_object(), ev->type == storage::EventType::kDeleted);
            }
            if (w->closed()) healthy = false;
        }
        return healthy;
    }

    void run() {
        auto log = log::get("apiserver");
        while (!stop) {
            {
                std::unique_lock lock(mu);
                cv.wait_for(lock, std::chrono::seconds(1), [&] { return ready || stop.load(); });
                ready = false;
            }
            if (stop) break;
            if (graph && !drain(pod_watchers, [&](const json::object& o, bool d) {
                    graph->on_pod_event(o, d);
                })) {
                if (auto r = relist_pods(); !r) log->error("node graph relist: {}", r.error().detail);
            }
            if (rbac && !drain(rbac_watchers, [&](const json::object& o, bool d) {
                    if (auto r = rbac->on_event(o, d); !r)
                        log->warn("RBAC object ignored: {}", r.error().detail);
                })) {
                if (auto r = relist_rbac(); !r) log->error("RBAC relist: {}", r.error().detail);
            }
        }
    }
};

AuthzFeed::AuthzFeed(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

AuthzFeed::~AuthzFeed() {
    impl_->stop = true;
    impl_->cv.notify_one();
    if (impl_->thread.joinable()) impl_->thread.join();
    for (auto& w : impl_->pod_watchers) w->stop();
    for (auto& w : impl_->rbac_watchers) w->stop();
}

Result<std::unique_ptr<AuthzFeed>> AuthzFeed::start(Registry& registry,
                                                    std::shared_ptr<auth::InMemoryNodeGraph> graph,
                                                    std::shared_ptr<auth::RbacStore> rbac) {
    auto impl = std::make_unique<Impl>(registry, std::move(graph), std::move(rbac));
    const auto& types = registry.types();
    if (impl->graph) {
        if (auto t = types.find("", "v1", "pods")) impl->pod_types.push_back(*t);
        if (auto r = impl->relist_pods(); !r) return r.error();
    }
    if (impl->rbac) {
        for (const char* r : {"roles", "rolebindings", "clusterroles", "clusterrolebindings"})
            if (auto t = types.find("rbac.authorization.k8s.io", "v1", r))
                impl->rbac_types.push_back(*t);
        if (auto r = impl->relist_rbac(); !r) return r.error();
    }
    Impl* raw = impl.get();
    impl->thread = std::thread([raw] { raw->run(); });
    return std::unique_ptr<AuthzFeed>(new AuthzFeed(std::move(impl)));
}

}  // namespace kedge::apiserver
