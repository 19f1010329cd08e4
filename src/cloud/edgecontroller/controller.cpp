#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>

#include "bus/constants.hpp"
#include "cloud/edgecontroller/controller_impl.hpp"
#include "kube/object.hpp"

namespace kedge::cloud::edgecontroller {

namespace asio = boost::asio;
namespace json = boost::json;
namespace kc = kube::client;
using detail::ControllerImpl;

std::shared_ptr<EdgeController> EdgeController::make(asio::any_io_executor ex,
                                                     std::shared_ptr<kc::Client> client,
                                                     kc::InformerFactory& factory,
                                                     EdgeControllerOptions options,
                                                     const Clock& clock) {
    auto c = std::make_shared<ControllerImpl>(std::move(ex), std::move(client), factory,
                                              std::move(options), clock);
    c->register_handlers();
    return c;
}

namespace detail {

ControllerImpl::ControllerImpl(asio::any_io_executor ex, std::shared_ptr<kc::Client> client,
                               kc::InformerFactory& factory, EdgeControllerOptions options,
                               const Clock& clock)
    : ex_(std::move(ex)),
      client_(std::move(client)),
      options_(std::move(options)),
      clock_(clock),
      log_(log::get("edgecontroller")) {
    pods_ = factory.get(kc::resources::pods());
    nodes_ = factory.get(kc::resources::nodes());
    config_maps_ = factory.get(kc::resources::config_maps());
    secrets_ = factory.get(kc::resources::secrets());
    services_ = factory.get(kc::resources::services());
    endpoints_ = factory.get(kc::resources::endpoints());
    if (options_.object_sync) {
        object_syncs_ = factory.get(kc::resources::object_syncs());
        cluster_object_syncs_ = factory.get(kc::resources::cluster_object_syncs());
    }
    pods_->add_index(std::string(kNodeIndex), kc::indexers::by_node_name());
}

void ControllerImpl::register_handlers() {
    std::weak_ptr<ControllerImpl> weak = shared_from_this();
    auto bind = [weak](auto f) {
        return [weak, f](auto&&... args) {
            if (auto self = weak.lock(); self && !self->stopped_.load()) f(*self, args...);
        };
    };
    kc::EventHandlers pod;
    pod.on_add = bind([](ControllerImpl& s, const kc::ObjectPtr& o) { s.on_pod(nullptr, o); });
    pod.on_update = bind([](ControllerImpl& s, const kc::ObjectPtr& old, const kc::ObjectPtr& o) {
        s.on_pod(old, o);
    });
    pod.on_delete = bind([](ControllerImpl& s, const kc::ObjectPtr& o) { s.on_pod_deleted(o); });
    pods_->add_handlers(std::move(pod));

    auto per_type = [&](std::shared_ptr<kc::Informer>& inf, auto on_event) {
        kc::EventHandlers h;
        h.on_add = bind([on_event](ControllerImpl& s, const kc::ObjectPtr& o) {
            on_event(s, bus::kOpInsert, o);
        });
        h.on_update = bind([on_event](ControllerImpl& s, const kc::ObjectPtr&,
                                      const kc::ObjectPtr& o) { on_event(s, bus::kOpUpdate, o); });
        h.on_delete = bind([on_event](ControllerImpl& s, const kc::ObjectPtr& o) {
            on_event(s, bus::kOpDelete, o);
        });
        inf->add_handlers(std::move(h));
    };
    per_type(config_maps_, [](ControllerImpl& s, std::string_view op, const kc::ObjectPtr& o) {
        s.on_referenced(bus::kResConfigMap, op, o);
    });
    per_type(secrets_, [](ControllerImpl& s, std::string_view op, const kc::ObjectPtr& o) {
        s.on_referenced(bus::kResSecret, op, o);
    });
    per_type(nodes_, [](ControllerImpl& s, std::string_view op, const kc::ObjectPtr& o) {
        s.on_node(op, o);
    });
    per_type(services_, [](ControllerImpl& s, std::string_view op, const kc::ObjectPtr& o) {
        s.on_broadcast(bus::kResService, op, o);
    });
    per_type(endpoints_, [](ControllerImpl& s, std::string_view op, const kc::ObjectPtr& o) {
        s.on_broadcast(bus::kResEndpoints, op, o);
    });
}

void ControllerImpl::start() {
    asio::post(ex_, [self = shared_from_this()] {
        if (self->started_ || self->stopped_.load()) return;
        self->started_ = true;
        self->spawn(self->run(), "start");
    });
}

void ControllerImpl::stop() {
    stopped_.store(true);
    asio::post(ex_, [self = shared_from_this()] {
        for (auto& [n, st] : self->nodes_state_)
            if (st.timer) st.timer->cancel();
        if (self->retry_timer_) self->retry_timer_->cancel();
    });
}

EdgeControllerStats ControllerImpl::stats() const {
    std::lock_guard lock(stats_mu_);
    return stats_;
}

void ControllerImpl::spawn(asio::awaitable<void> task, std::string what) {
    asio::co_spawn(ex_, std::move(task), log::log_exceptions(log_, std::move(what)));
}

asio::awaitable<void> ControllerImpl::run() {
    auto self = shared_from_this();
    for (auto* inf : {&pods_, &nodes_, &config_maps_, &secrets_, &services_, &endpoints_}) {
        while (!stopped_.load() && !co_await (*inf)->wait_synced(std::chrono::seconds(5)))
            log_->info("waiting for the {} informer to sync", (*inf)->options().resource.resource);
    }
    if (stopped_.load()) co_return;
    synced_ = true;
    log_->info("informers synced; serving {} connected node(s)", nodes_state_.size());
    for (auto& [node, st] : nodes_state_) {
        if (st.pending_inventory) {
            auto inv = std::move(*st.pending_inventory);
            st.pending_inventory.reset();
            resync_inventory(node, inv);
        } else {
            start_inventory_wait(node);
        }
    }
    retry_timer_ = std::make_unique<asio::steady_timer>(ex_);
    while (!stopped_.load()) {
        retry_timer_->expires_after(options_.retry_interval);
        co_await retry_timer_->async_wait(asio::as_tuple(asio::use_awaitable));
        if (stopped_.load()) break;
        std::vector<std::string> retry;
        for (auto& [node, st] : nodes_state_)
            if (st.ready && st.needs_resync) retry.push_back(node);
        for (const auto& node : retry) {
            log_->info("[{}] resending everything after a failed send", node);
            nodes_state_[node].needs_resync = false;
            send_delta(node, full_delta(expected_for(node)), bus::kOpUpdate);
        }
    }
}

// ---- connects ----

void ControllerImpl::node_connected(const std::string& node) {
    asio::post(ex_, [self = shared_from_this(), node] {
        if (!self->stopped_.load()) self->on_connected(node);
    });
}

void ControllerImpl::node_disconnected(const std::string& node) {
    asio::post(ex_, [self = shared_from_this(), node] {
        auto it = self->nodes_state_.find(node);
        if (it == self->nodes_state_.end()) return;
        if (it->second.timer) it->second.timer->cancel();
        self->nodes_state_.erase(it);
        self->log_->debug("[{}] disconnected", node);
    });
}

void ControllerImpl::on_connected(const std::string& node) {
    auto& st = nodes_state_[node];
    if (st.timer) st.timer->cancel();
    st = NodeState{};
    st.session = ++sessions_;
    log_->debug("[{}] connected (session {})", node, st.session);
    annotate_node(node);
    if (synced_) start_inventory_wait(node);
}

void ControllerImpl::start_inventory_wait(const std::string& node) {
    auto& st = nodes_state_[node];
    st.timer = std::make_shared<asio::steady_timer>(ex_, options_.inventory_wait);
    st.timer->async_wait([self = shared_from_this(), node, session = st.session,
                          timer = st.timer](boost::system::error_code ec) {
        if (ec || self->stopped_.load()) return;
        auto it = self->nodes_state_.find(node);
        if (it == self->nodes_state_.end() || it->second.session != session) return;
        if (!it->second.awaiting_inventory) return;
        self->resync_full(node);
    });
}

void ControllerImpl::annotate_node(const std::string& node) {
    auto obj = nodes_->store().get(node);
    if (!obj) return;  // not registered yet: registration sets it
    auto current = kube::annotation(*obj, kCloudcoreAnnotation);
    if (current && *current == options_.cloudcore_id) return;
    json::object patch{
        {"metadata", json::object{{"annotations", json::object{{std::string(kCloudcoreAnnotation),
                                                                options_.cloudcore_id}}}}}};
    auto body = json::serialize(patch);
    spawn(
        [](std::shared_ptr<ControllerImpl> self, std::string node,
           std::string body) -> asio::awaitable<void> {
            auto r = co_await self->client_->patch(kc::resources::nodes(), {}, node,
                                                   kube::PatchType::kMergePatch, std::move(body));
            if (!r) {
                self->with_stats([](auto& s) { ++s.api_errors; });
                self->log_->warn("[{}] cannot annotate the node with its cloudcore: {}", node,
                                 r.error().message());
            }
        }(shared_from_this(), node, std::move(body)),
        "annotate node");
}

// ---- what a node should have ----

const kc::Store* ControllerImpl::store_for(std::string_view type) const {
    if (type == bus::kResPod) return &pods_->store();
    if (type == bus::kResConfigMap) return &config_maps_->store();
    if (type == bus::kResSecret) return &secrets_->store();
    if (type == bus::kResNode) return &nodes_->store();
    if (type == bus::kResService) return &services_->store();
    if (type == bus::kResEndpoints) return &endpoints_->store();
    return nullptr;
}

ExpectedSet ControllerImpl::expected_for(const std::string& node) const {
    ExpectedSet out;
    for (auto& pod : pods_->store().by_index(kNodeIndex, node))
        out["pod"].emplace(kube::cache_key(*pod), pod);
    for (const auto& ref : tracker_.needed_by(node))
        if (auto obj = store_for(ref.type)->get(ref.key)) out[ref.type].emplace(ref.key, obj);
    if (auto n = nodes_->store().get(node)) out["node"].emplace(node, n);
    services_->store().for_each(
        [&](const kc::ObjectPtr& o) { out["service"].emplace(kube::cache_key(*o), o); });
    endpoints_->store().for_each(
        [&](const kc::ObjectPtr& o) { out["endpoints"].emplace(kube::cache_key(*o), o); });
    return out;
}

void ControllerImpl::send_delta(const std::string& node, const ResyncDelta& delta,
                                std::string_view insert_op) {
    for (const auto& d : delta.inserts)
        send(node, object_message(insert_op, d.type, *d.object, {}, clock_));
    for (const auto& d : delta.updates)
        send(node, object_message(bus::kOpUpdate, d.type, *d.object, {}, clock_));
    for (const auto& d : delta.deletes) send(node, delete_by_key(d.type, d.key, clock_));
}

void ControllerImpl::resync_inventory(const std::string& node, const bus::Message& inventory) {
    auto inv = hub::parse_inventory(inventory);
    if (!inv) {
        with_stats([](auto& s) { ++s.bad_messages; });
        log_->warn("[{}] bad inventory: {}", node, inv.error().message());
        send(node,
             reply(inventory, bus::Content::from_string(inv.error().message()), true, clock_));
        return;
    }
    auto& st = nodes_state_[node];
    st.awaiting_inventory = false;
    st.inventory_mode = true;
    if (st.timer) st.timer->cancel();
    auto delta = compute_delta(*inv, expected_for(node));
    send_delta(node, delta, bus::kOpInsert);
    send(node, hub::make_resync_response(inventory, delta.summary()));
    st.ready = true;
    with_stats([](auto& s) { ++s.resyncs_inventory; });
    auto sum = delta.summary();
    log_->info("[{}] inventory resync: {} inserted, {} updated, {} deleted, {} unchanged", node,
               sum.inserted, sum.updated, sum.deleted, sum.unchanged);
}

void ControllerImpl::resync_full(const std::string& node) {
    auto& st = nodes_state_[node];
    st.awaiting_inventory = false;
    auto expected = expected_for(node);
    auto delta = full_delta(expected);
    if (options_.object_sync) delta.deletes = object_sync_deletes(node, expected);
    send_delta(node, delta, bus::kOpInsert);
    st.ready = true;
    with_stats([](auto& s) { ++s.resyncs_full; });
    log_->info("[{}] no inventory: full sync of {} object(s), {} delete(s)", node,
               delta.inserts.size(), delta.deletes.size());
}

// ---- sending ----

bool ControllerImpl::send(const std::string& node, bus::Message msg) {
    if (!sink_ || stopped_.load()) return false;
    auto op = msg.operation();
    auto r = sink_->send(node, std::move(msg));
    if (r) {
        with_stats([&](auto& s) { ++s.sent_by_operation[op]; });
        return true;
    }
    if (r.error().code == make_error_code(errc::queue_full)) {
        with_stats([](auto& s) { ++s.send_failures; });
        auto it = nodes_state_.find(node);
        if (it != nodes_state_.end()) it->second.needs_resync = true;
        log_->warn("[{}] send queue full; the node will be resynced", node);
    }
    return false;
}

void ControllerImpl::send_live(const std::string& node, bus::Message msg) {
    auto it = nodes_state_.find(node);
    if (it == nodes_state_.end() || !it->second.ready) return;
    if (sink_ && !sink_->is_connected(node)) return;
    send(node, std::move(msg));
}

// ---- downstream events ----

void ControllerImpl::apply_need_changes(const std::vector<NeedChange>& changes, bool adds) {
    for (const auto& c : changes) {
        if (adds) {
            for (const auto& k : c.added)
                if (auto obj = store_for(k.type)->get(k.key))
                    send_live(c.node, object_message(bus::kOpInsert, k.type, *obj, {}, clock_));
        } else {
            for (const auto& k : c.removed) {
                auto obj = store_for(k.type)->get(k.key);
                send_live(c.node, obj ? object_message(bus::kOpDelete, k.type, *obj, {}, clock_)
                                      : delete_by_key(k.type, k.key, clock_));
            }
        }
    }
}

void ControllerImpl::on_pod(const kc::ObjectPtr& old, const kc::ObjectPtr& now) {
    auto key = kube::cache_key(*now);
    auto node = kube::get_path_string(*now, "spec.nodeName").value_or("");
    auto old_node = tracker_.node_of(key);
    auto changes = tracker_.set_pod(key, node, pod_references(*now));
    // Referenced objects first, so that the pod finds them on the edge.
    apply_need_changes(changes, true);
    if (!old_node.empty() && old_node != node)
        send_live(old_node, object_message(bus::kOpDelete, bus::kResPod, *now, {}, clock_));
    if (!node.empty()) {
        auto op = old && old_node == node ? bus::kOpUpdate : bus::kOpInsert;
        send_live(node, object_message(op, bus::kResPod, *now, {}, clock_));
    }
    apply_need_changes(changes, false);
}

void ControllerImpl::on_pod_deleted(const kc::ObjectPtr& last) {
    auto key = kube::cache_key(*last);
    auto node = tracker_.node_of(key);
    auto changes = tracker_.remove_pod(key);
    if (!node.empty())
        send_live(node, object_message(bus::kOpDelete, bus::kResPod, *last, {}, clock_));
    apply_need_changes(changes, false);
}

void ControllerImpl::on_referenced(std::string_view type, std::string_view op,
                                   const kc::ObjectPtr& obj) {
    auto nodes = tracker_.nodes_needing({std::string(type), kube::cache_key(*obj)});
    if (nodes.empty()) return;
    auto content = bus::Content::encoded(json::value(*obj));  // serialized once for all nodes
    for (const auto& n : nodes) send_live(n, object_message(op, type, *obj, content, clock_));
}

void ControllerImpl::on_node(std::string_view op, const kc::ObjectPtr& obj) {
    std::string node(kube::name(*obj));
    if (op == bus::kOpDelete) {
        send_live(node, object_message(bus::kOpDelete, bus::kResNode, *obj, {}, clock_));
        return;
    }
    // Upstream sends the node's own object as update, also for the first sight of it.
    send_live(node, object_message(bus::kOpUpdate, bus::kResNode, *obj, {}, clock_));
    auto it = nodes_state_.find(node);
    if (it != nodes_state_.end() && op == bus::kOpInsert) annotate_node(node);
}

void ControllerImpl::on_broadcast(std::string_view type, std::string_view op,
                                  const kc::ObjectPtr& obj) {
    if (nodes_state_.empty()) return;
    auto content = bus::Content::encoded(json::value(*obj));
    for (const auto& [node, st] : nodes_state_)
        if (st.ready) send_live(node, object_message(op, type, *obj, content, clock_));
}

// ---- facts for the authorizer ----

std::optional<std::string> ControllerImpl::pod_node(std::string_view ns,
                                                    std::string_view name) const {
    auto pod = pods_->store().get(ns, name);
    if (!pod) return std::nullopt;
    return kube::get_path_string(*pod, "spec.nodeName").value_or("");
}

bool ControllerImpl::node_references(std::string_view node, const ObjectKey& object) const {
    return tracker_.needs(node, object);
}

bool ControllerImpl::node_uses_service_account(std::string_view node, std::string_view ns,
                                               std::string_view name) const {
    for (const auto& pod : pods_->store().by_index(kNodeIndex, node)) {
        if (kube::namespace_of(*pod) != ns) continue;
        auto sa = kube::get_path_string(*pod, "spec.serviceAccountName").value_or("default");
        if (sa.empty()) sa = "default";
        if (sa == name) return true;
    }
    return false;
}

}  // namespace detail
}  // namespace kedge::cloud::edgecontroller
