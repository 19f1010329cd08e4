#include "edge/devicetwin/mapper_sync.hpp"

#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>

#include "base/log.hpp"
#include "device/dmi/convert.hpp"
#include "edge/devicetwin/device_spec.hpp"
#include "edge/devicetwin/dmi_grpc.hpp"
#include "net/run_blocking.hpp"

namespace kedge::edge::devicetwin {

namespace asio = boost::asio;

MapperSync::MapperSync(const Objects& devices, const Objects& models,
                       std::chrono::milliseconds timeout, ModelMissing model_missing)
    : devices_(devices),
      models_(models),
      timeout_(timeout),
      model_missing_(std::move(model_missing)),
      log_(kedge::log::get("twin")) {}

MapperSync::~MapperSync() {
    stopped_ = true;
    pool_.join();
}

bool MapperSync::enqueue(Op op) {
    ops_.push_back(std::move(op));
    if (busy_) return false;
    busy_ = true;
    return true;
}

bool MapperSync::sync(std::string id) { return enqueue({Op::Kind::sync, std::move(id), {}, {}}); }

bool MapperSync::remove(const std::string& id) {
    missing_.erase(id);
    auto r = registered_.find(id);
    if (r == registered_.end()) return false;
    Op op{Op::Kind::remove, id, r->second.protocol, r->second.model_key};
    registered_.erase(r);
    return enqueue(std::move(op));
}

bool MapperSync::model_changed(std::string model_key) {
    return enqueue({Op::Kind::update_model, {}, {}, std::move(model_key)});
}

asio::awaitable<void> MapperSync::drain() {
    while (!ops_.empty() && !stopped_) {
        auto op = std::move(ops_.front());
        ops_.pop_front();
        switch (op.kind) {
            case Op::Kind::sync:
                co_await sync_device(std::move(op.id));
                break;
            case Op::Kind::remove:
                co_await unregister(std::move(op));
                break;
            case Op::Kind::update_model:
                co_await update_model(std::move(op.model_key));
                break;
        }
    }
    busy_ = false;
}

template <class F>
asio::awaitable<Result<void>> MapperSync::call(F f) {
    auto r = co_await net::run_blocking(pool_, std::move(f));
    ++(r ? calls_ : failures_);
    co_return r;
}

asio::awaitable<void> MapperSync::sync_device(std::string id) {
    auto oi = devices_.find(id);
    if (oi == devices_.end()) co_return;
    auto view = spec_view(id, oi->second);
    auto model = models_.find(view.model_key);
    if (model == models_.end()) {
        if (missing_.insert(id).second) {
            log_->warn("device {}: model {} not found", id, view.model_name);
            co_await model_missing_(id);
        }
        co_return;
    }
    missing_.erase(id);
    auto mi = mappers_.find(view.protocol);
    if (mi == mappers_.end()) {
        log_->debug("device {}: no mapper for protocol {} yet", id, view.protocol);
        co_return;
    }
    // Copies: the maps may change while a call is on its way.
    std::string spec = spec_text(oi->second);
    std::string protocol = view.protocol;
    auto client = mi->second.client;
    auto reg = registered_.find(id);
    if (reg != registered_.end() && reg->second.protocol == protocol && reg->second.spec == spec)
        co_return;
    auto dev = device::dmi::device_to_proto(oi->second);
    if (!dev) {
        log_->warn("device {}: cannot describe it to the mapper: {}", id, dev.error().detail);
        co_return;
    }
    if (reg != registered_.end() && reg->second.protocol == protocol) {
        auto r = co_await call([client, d = *dev] { return client->update_device(d); });
        if (!r) {
            log_->warn("device {}: {}", id, r.error().detail);
            co_return;
        }
        if (auto again = registered_.find(id); again != registered_.end())
            again->second.spec = spec;
        co_return;
    }
    // The mapper that was asked must still be the registered one when the answer comes.
    auto same_mapper = [&] {
        auto m = mappers_.find(protocol);
        return m != mappers_.end() && m->second.client == client;
    };
    if (!mi->second.models.contains(view.model_key)) {
        auto pm = device::dmi::model_to_proto(model->second);
        if (!pm) {
            log_->warn("device model {}: cannot describe it to the mapper: {}", view.model_key,
                       pm.error().detail);
            co_return;
        }
        auto r = co_await call([client, m = *pm] { return client->create_model(m); });
        if (!r && !r.error().is(errc::already_exists)) {
            log_->warn("device {}: {} (registered again when the mapper registers)", id,
                       r.error().detail);
            co_return;
        }
        if (!same_mapper()) co_return;
        mappers_[protocol].models.insert(view.model_key);
    }
    auto r = co_await call([client, d = *dev] { return client->register_device(d); });
    if (!r && !r.error().is(errc::already_exists)) {
        log_->warn("device {}: {} (registered again when the mapper registers)", id,
                   r.error().detail);
        co_return;
    }
    if (!same_mapper() || !devices_.contains(id)) co_return;
    registered_[id] = Registration{protocol, view.model_key, spec};
    log_->info("device {} registered with the {} mapper", id, protocol);
}

asio::awaitable<void> MapperSync::unregister(Op op) {
    auto mi = mappers_.find(op.protocol);
    if (mi == mappers_.end()) co_return;
    auto client = mi->second.client;
    auto dev = split_id(op.id);
    auto r = co_await call(
        [client, ns = dev.first, name = dev.second] { return client->remove_device(ns, name); });
    if (!r) log_->warn("device {}: {}", op.id, r.error().detail);
    for (const auto& [id, reg] : registered_)
        if (reg.protocol == op.protocol && reg.model_key == op.model_key) co_return;
    auto model = split_id(op.model_key);
    auto rm = co_await call(
        [client, ns = model.first, name = model.second] { return client->remove_model(ns, name); });
    if (!rm) log_->warn("device model {}: {}", op.model_key, rm.error().detail);
    if (auto m = mappers_.find(op.protocol); m != mappers_.end())
        m->second.models.erase(op.model_key);
}

asio::awaitable<void> MapperSync::update_model(std::string key) {
    auto model = models_.find(key);
    if (model == models_.end()) co_return;
    auto pm = device::dmi::model_to_proto(model->second);
    if (!pm) {
        log_->warn("device model {}: cannot describe it to the mapper: {}", key, pm.error().detail);
        co_return;
    }
    std::vector<std::shared_ptr<MapperClient>> clients;
    for (const auto& [protocol, m] : mappers_)
        if (m.models.contains(key)) clients.push_back(m.client);
    for (auto& client : clients) {
        auto r = co_await call([client, m = *pm] { return client->update_model(m); });
        if (!r) log_->warn("device model {}: {}", key, r.error().detail);
    }
}

Result<v1beta1::MapperRegisterResponse> MapperSync::on_register(
    const v1beta1::MapperRegisterRequest& req, bool& needs_drain) {
    needs_drain = false;
    const auto& info = req.mapper();
    if (info.protocol().empty())
        return Error(errc::invalid_argument, "MapperRegister: mapper.protocol is empty");
    auto client = MapperClient::create(info.address(), timeout_);
    if (!client) return client.error();
    auto& mapper = mappers_[info.protocol()];
    mapper = Mapper{info.address(), *client, {}};
    for (auto it = registered_.begin(); it != registered_.end();)
        it = it->second.protocol == info.protocol() ? registered_.erase(it) : std::next(it);
    log_->info("mapper {} (protocol {}) registered at {}", info.name(), info.protocol(),
               info.address());
    v1beta1::MapperRegisterResponse resp;
    for (const auto& [id, obj] : devices_) {
        auto view = spec_view(id, obj);
        if (view.protocol != info.protocol()) continue;
        auto model = models_.find(view.model_key);
        if (!req.withdata() || model == models_.end()) {
            needs_drain = sync(id) || needs_drain;
            continue;
        }
        auto dev = device::dmi::device_to_proto(obj);
        if (!dev) {
            log_->warn("device {}: cannot describe it to the mapper: {}", id, dev.error().detail);
            continue;
        }
        if (!mapper.models.contains(view.model_key)) {
            auto pm = device::dmi::model_to_proto(model->second);
            if (!pm) {
                log_->warn("device model {}: cannot describe it to the mapper: {}", view.model_key,
                           pm.error().detail);
                continue;
            }
            *resp.add_modellist() = std::move(*pm);
            mapper.models.insert(view.model_key);
        }
        *resp.add_devicelist() = std::move(*dev);
        registered_[id] = Registration{info.protocol(), view.model_key, spec_text(obj)};
        missing_.erase(id);
    }
    return resp;
}

}  // namespace kedge::edge::devicetwin
