// Downstream: Device and DeviceModel informers -> the device's node (model, object, membership,
// cloud_updated), node connects, and the retry of nodes whose queue was full.
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>

#include "bus/constants.hpp"
#include "cloud/devicecontroller/controller_impl.hpp"
#include "kube/object.hpp"

namespace kedge::cloud::devicecontroller {

namespace asio = boost::asio;
namespace json = boost::json;
namespace kc = kube::client;
using detail::ControllerImpl;

std::shared_ptr<DeviceController> DeviceController::make(asio::any_io_executor ex,
                                                         std::shared_ptr<kc::Client> client,
                                                         kc::InformerFactory& factory,
                                                         DeviceControllerOptions options,
                                                         const Clock& clock) {
    auto c = std::make_shared<ControllerImpl>(std::move(ex), std::move(client), factory,
                                              std::move(options), clock);
    c->register_handlers();
    return c;
}

namespace detail {

namespace {

std::vector<std::string> property_names(const json::object& device) {
    std::vector<std::string> out;
    const auto* props = kube::get_path(device, "spec.properties");
    if (!props || !props->is_array()) return out;
    for (const auto& p : props->get_array())
        if (auto n = kube::get_path_string(p, "name")) out.push_back(*n);
    return out;
}

bool spec_or_labels_changed(const json::object& a, const json::object& b) {
    auto field = [](const json::object& o, std::string_view path) {
        const auto* v = kube::get_path(o, path);
        return v ? *v : json::value(nullptr);
    };
    for (auto path : {"spec", "metadata.labels", "metadata.annotations"})
        if (field(a, path) != field(b, path)) return true;
    return false;
}

}  // namespace

ControllerImpl::ControllerImpl(asio::any_io_executor ex, std::shared_ptr<kc::Client> client,
                               kc::InformerFactory& factory, DeviceControllerOptions options,
                               const Clock& clock)
    : ex_(std::move(ex)),
      client_(std::move(client)),
      options_(std::move(options)),
      clock_(clock),
      log_(log::get("devicecontroller")) {
    devices_ = factory.get(kc::resources::devices());
    models_ = factory.get(kc::resources::device_models());
    devices_->add_index(std::string(kNodeIndex), [](const json::object& d) {
        auto n = node_of(d);
        return n.empty() ? std::vector<std::string>{} : std::vector<std::string>{n};
    });
    devices_->add_index(std::string(kModelIndex), [](const json::object& d) {
        auto m = model_key_of(d);
        return m.empty() ? std::vector<std::string>{} : std::vector<std::string>{m};
    });
}

void ControllerImpl::register_handlers() {
    std::weak_ptr<ControllerImpl> weak = shared_from_this();
    auto bind = [weak](auto f) {
        return [weak, f](auto&&... args) {
            if (auto self = weak.lock(); self && !self->stopped_.load()) f(*self, args...);
        };
    };
    kc::EventHandlers dev;
    dev.on_add = bind([](ControllerImpl& s, const ObjectPtr& o) { s.on_device_added(o); });
    dev.on_update = bind([](ControllerImpl& s, const ObjectPtr& old, const ObjectPtr& o) {
        s.on_device_updated(old, o);
    });
    dev.on_delete = bind([](ControllerImpl& s, const ObjectPtr& o) { s.on_device_deleted(o); });
    devices_->add_handlers(std::move(dev));

    kc::EventHandlers model;
    model.on_add =
        bind([](ControllerImpl& s, const ObjectPtr& o) { s.on_model(bus::kOpInsert, o); });
    model.on_update = bind([](ControllerImpl& s, const ObjectPtr& old, const ObjectPtr& o) {
        if (kube::resource_version(*old) != kube::resource_version(*o))
            s.on_model(bus::kOpUpdate, o);
    });
    model.on_delete =
        bind([](ControllerImpl& s, const ObjectPtr& o) { s.on_model(bus::kOpDelete, o); });
    models_->add_handlers(std::move(model));
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
        if (self->retry_timer_) self->retry_timer_->cancel();
    });
}

DeviceControllerStats ControllerImpl::stats() const {
    std::lock_guard lock(stats_mu_);
    return stats_;
}

void ControllerImpl::spawn(asio::awaitable<void> task, std::string what) {
    asio::co_spawn(ex_, std::move(task), log::log_exceptions(log_, std::move(what)));
}

asio::awaitable<void> ControllerImpl::run() {
    auto self = shared_from_this();
    for (auto* inf : {&devices_, &models_}) {
        while (!stopped_.load() && !co_await (*inf)->wait_synced(std::chrono::seconds(5)))
            log_->info("waiting for the {} informer to sync", (*inf)->options().resource.resource);
    }
    if (stopped_.load()) co_return;
    synced_ = true;
    devices_->store().for_each([this](const ObjectPtr& d) { check_model(d); });
    log_->info("informers synced: {} device(s), {} model(s); serving {} connected node(s)",
               devices_->store().size(), models_->store().size(), connected_.size());
    for (const auto& node : connected_) sync_node(node);
    auto early = std::move(early_);
    early_.clear();
    for (auto& [node, msg] : early) handle_upstream(node, std::move(msg));

    retry_timer_ = std::make_unique<asio::steady_timer>(ex_);
    while (!stopped_.load()) {
        retry_timer_->expires_after(options_.retry_interval);
        co_await retry_timer_->async_wait(asio::as_tuple(asio::use_awaitable));
        if (stopped_.load()) break;
        auto retry = std::move(needs_resync_);
        needs_resync_.clear();
        for (const auto& node : retry) {
            if (!connected_.contains(node)) continue;
            log_->info("[{}] resending its devices after a failed send", node);
            sync_node(node);
            auto all = devices_of(node);
            if (!all.empty())
                send(node, membership_update(std::move(all), {}, clock_), "membership");
        }
    }
}

// ---- connects ----

void ControllerImpl::node_connected(const std::string& node) {
    asio::post(ex_, [self = shared_from_this(), node] {
        if (self->stopped_.load()) return;
        self->connected_.insert(node);
        self->objects_sent_.erase(node);
        self->models_sent_.erase(node);
        self->needs_resync_.erase(node);
        if (self->synced_) self->sync_node(node);
    });
}

void ControllerImpl::node_disconnected(const std::string& node) {
    asio::post(ex_, [self = shared_from_this(), node] {
        self->connected_.erase(node);
        self->objects_sent_.erase(node);
        self->models_sent_.erase(node);
        self->needs_resync_.erase(node);
    });
}

bool ControllerImpl::live(const std::string& node) const {
    return synced_ && !node.empty() && connected_.contains(node);
}

void ControllerImpl::sync_node(const std::string& node) {
    models_sent_.erase(node);
    auto devices = devices_->store().by_index(kNodeIndex, node);
    for (const auto& d : devices) send_device(node, d, bus::kOpInsert);
    if (connected_.contains(node)) objects_sent_.insert(node);
    if (!devices.empty())
        log_->debug("[{}] sent {} device(s) and {} model(s)", node, devices.size(),
                    models_sent_[node].size());
}

json::array ControllerImpl::devices_of(const std::string& node) const {
    json::array out;
    const auto now = clock_.unix_millis();
    for (const auto& d : devices_->store().by_index(kNodeIndex, node)) {
        auto model = model_of(*d);
        out.push_back(membership_device(*d, model.get(), now));
    }
    return out;
}

ObjectPtr ControllerImpl::model_of(const json::object& device) const {
    auto key = model_key_of(device);
    return key.empty() ? nullptr : models_->store().get(key);
}

// ---- sending ----

bool ControllerImpl::send(const std::string& node, bus::Message msg, std::string_view kind) {
    if (!sink_ || stopped_.load()) return false;
    auto r = sink_->send(node, std::move(msg));
    if (r) {
        with_stats([&](auto& s) { ++s.sent[std::string(kind)]; });
        return true;
    }
    if (r.error().is(errc::queue_full)) {
        with_stats([](auto& s) { ++s.send_failures; });
        needs_resync_.insert(node);
        objects_sent_.erase(node);
        log_->warn("[{}] send queue full ({}); its devices are sent again later", node, kind);
    }
    return false;
}

void ControllerImpl::send_model_if_needed(const std::string& node, const std::string& model_key) {
    if (model_key.empty()) return;
    auto model = models_->store().get(model_key);
    if (!model) return;
    auto& sent = models_sent_[node];
    std::string rv(kube::resource_version(*model));
    auto it = sent.find(model_key);
    if (it != sent.end() && it->second == rv) return;
    auto op = it == sent.end() ? bus::kOpInsert : bus::kOpUpdate;
    if (send(node, object_message(op, bus::kResDeviceModel, *model, clock_), bus::kResDeviceModel))
        sent[model_key] = rv;
}

void ControllerImpl::send_device(const std::string& node, const ObjectPtr& device,
                                 std::string_view op) {
    // The model first, so that the edge can type the device's twins when the device arrives.
    send_model_if_needed(node, model_key_of(*device));
    send(node, object_message(op, bus::kResDevice, *device, clock_), bus::kResDevice);
}

void ControllerImpl::remove_device(const std::string& node, const ObjectPtr& device) {
    json::array removed{removed_device(kube::namespace_of(*device), kube::name(*device))};
    send(node, membership_update({}, std::move(removed), clock_), "membership");
    send(node, object_message(bus::kOpDelete, bus::kResDevice, *device, clock_), bus::kResDevice);
    drop_model_if_unused(node, model_key_of(*device));
}

void ControllerImpl::drop_model_if_unused(const std::string& node, const std::string& model_key) {
    if (model_key.empty()) return;
    auto sent = models_sent_.find(node);
    if (sent == models_sent_.end() || !sent->second.contains(model_key)) return;
    for (const auto& d : devices_->store().by_index(kNodeIndex, node))
        if (model_key_of(*d) == model_key) return;
    sent->second.erase(model_key);
    if (auto model = models_->store().get(model_key))
        send(node, object_message(bus::kOpDelete, bus::kResDeviceModel, *model, clock_),
             bus::kResDeviceModel);
}

// ---- informer events ----

void ControllerImpl::check_model(const ObjectPtr& device) {
    if (!synced_) return;  // the models informer may not have listed yet
    auto key = model_key_of(*device);
    if (key.empty() || models_->store().get(key)) return;
    auto [it, fresh] = missing_reported_.emplace(kube::cache_key(*device), key);
    if (!fresh) return;
    log_->warn("device {} references device model {}, which does not exist", it->first, key);
    spawn(emit_missing_model_event(device, key.substr(key.find('/') + 1)), "device event");
}

void ControllerImpl::on_device_added(const ObjectPtr& device) {
    check_model(device);
    auto node = node_of(*device);
    if (!live(node)) return;
    send_device(node, device, bus::kOpInsert);
    auto model = model_of(*device);
    json::array added{membership_device(*device, model.get(), clock_.unix_millis())};
    send(node, membership_update(std::move(added), {}, clock_), "membership");
}

void ControllerImpl::on_device_updated(const ObjectPtr& old, const ObjectPtr& now) {
    if (kube::resource_version(*old) == kube::resource_version(*now)) return;  // resync
    const auto old_model = model_key_of(*old), new_model = model_key_of(*now);
    if (old_model != new_model) {
        missing_reported_.erase({kube::cache_key(*old), old_model});
        check_model(now);
    }
    const auto old_node = node_of(*old), node = node_of(*now);
    if (old_node != node) {
        if (live(old_node)) remove_device(old_node, old);
        if (!node.empty())
            log_->info("device {} moved from node \"{}\" to \"{}\"", kube::cache_key(*now),
                       old_node, node);
        on_device_added(now);
        return;
    }
    if (!live(node)) return;
    // Our own status writes come back as updates: the edge has no use for them (upstream sends
    // only spec changes too).
    if (!spec_or_labels_changed(*old, *now)) return;
    send_device(node, now, bus::kOpUpdate);
    if (old_model != new_model) drop_model_if_unused(node, old_model);
    auto model = model_of(*now);
    if (old_model != new_model || property_names(*old) != property_names(*now)) {
        json::array added{membership_device(*now, model.get(), clock_.unix_millis())};
        send(node, membership_update(std::move(added), {}, clock_), "membership");
    }
    auto before = desired_values(*old), after = desired_values(*now);
    std::vector<std::string> changed;
    for (const auto& [prop, value] : after) {
        auto it = before.find(prop);
        if (it == before.end() || it->second != value) changed.push_back(prop);
    }
    if (!changed.empty())
        send(node, cloud_updated(*now, model.get(), changed, clock_), "twin/cloud_updated");
}

void ControllerImpl::on_device_deleted(const ObjectPtr& last) {
    auto key = kube::cache_key(*last);
    missing_reported_.erase({key, model_key_of(*last)});
    if (auto it = status_.find(key); it != status_.end() && !it->second.in_flight)
        status_.erase(it);
    auto node = node_of(*last);
    if (live(node)) remove_device(node, last);
}

void ControllerImpl::on_model(std::string_view op, const ObjectPtr& model) {
    auto key = kube::cache_key(*model);
    auto devices = devices_->store().by_index(kModelIndex, key);
    if (op == bus::kOpDelete) {
        for (auto& [node, sent] : models_sent_) {
            if (!sent.erase(key)) continue;
            send(node, object_message(bus::kOpDelete, bus::kResDeviceModel, *model, clock_),
                 bus::kResDeviceModel);
        }
        for (const auto& d : devices) check_model(d);
        return;
    }
    // node -> its devices of this model, for the nodes that are connected.
    std::map<std::string, json::array> by_node;
    for (const auto& d : devices) {
        if (missing_reported_.erase({kube::cache_key(*d), key}))
            log_->info("device model {} now exists (device {})", key, kube::cache_key(*d));
        auto node = node_of(*d);
        if (live(node))
            by_node[node].push_back(membership_device(*d, model.get(), clock_.unix_millis()));
    }
    for (auto& [node, added] : by_node) {
        send_model_if_needed(node, key);
        // A new model types the twins of devices the node already has.
        if (op == bus::kOpInsert)
            send(node, membership_update(std::move(added), {}, clock_), "membership");
    }
}

}  // namespace detail
}  // namespace kedge::cloud::devicecontroller
