#include "device/mapper/runtime.hpp"

#include <fmt/format.h>
#include <grpcpp/grpcpp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <cstring>
#include <filesystem>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include "base/log.hpp"
#include "device/mapper/device_config.hpp"
#include "device/mapper/device_worker.hpp"
#include "device/mapper/dmi_client.hpp"
#include "device/mapper/push.hpp"
#include "dmi.grpc.pb.h"

namespace kedge::device {

namespace {

auto logger() {
    static auto l = log::get("mapper");
    return l;
}

// A device edgecore gave us; the worker exists once its model is known and the config valid.
struct DeviceEntry {
    v1beta1::Device device;
    std::unique_ptr<DeviceWorker> worker;
};

}  // namespace

struct MapperRuntime::Impl {
    class Service;

    std::unique_ptr<Driver> driver;
    MapperOptions options;
    std::string protocol;
    std::unique_ptr<DmiClient> dmi;
    Pusher pusher;
    WorkerContext worker_ctx;
    std::unique_ptr<Service> service;
    std::unique_ptr<grpc::Server> server;

    mutable std::mutex mutex_;  // devices, models
    std::map<std::string, DeviceEntry> devices;
    std::map<std::string, v1beta1::DeviceModel> models;

    std::mutex reg_mutex;  // the fields of the dmi thread
    std::condition_variable reg_cv;
    bool stopping = false;
    bool need_register = true;
    std::atomic<bool> registered{false};
    std::thread reg_thread;
    bool started = false;

    // Adds or replaces a device. An error names why it cannot be served (wrong protocol).
    Result<void> upsert_device(const v1beta1::Device& device);
    void remove_device(const std::string& key);
    void upsert_model(const v1beta1::DeviceModel& model);
    void remove_model(const std::string& key);
    // (Re)builds the worker of one device from its spec and model; mutex_ held. Returns the
    // worker that must be stopped outside the lock (a spec that no longer validates).
    std::unique_ptr<DeviceWorker> refresh(const std::string& key, DeviceEntry& entry);
    std::optional<v1beta1::Device> get_device(const std::string& key) const;
    void adopt(const v1beta1::MapperRegisterResponse& response);
    void register_loop();
    void request_register();
};

// DeviceMapperService as edgecore calls it; every handler is a short table update.
class MapperRuntime::Impl::Service final : public v1beta1::DeviceMapperService::Service {
public:
    explicit Service(Impl& impl) : impl_(impl) {}

    grpc::Status RegisterDevice(grpc::ServerContext*, const v1beta1::RegisterDeviceRequest* req,
                                v1beta1::RegisterDeviceResponse* resp) override {
        if (auto r = impl_.upsert_device(req->device()); !r) {
            return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, r.error().detail);
        }
        resp->set_devicename(req->device().name());
        resp->set_devicenamespace(req->device().namespace_());
        return grpc::Status::OK;
    }

    grpc::Status UpdateDevice(grpc::ServerContext*, const v1beta1::UpdateDeviceRequest* req,
                              v1beta1::UpdateDeviceResponse*) override {
        if (auto r = impl_.upsert_device(req->device()); !r) {
            return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, r.error().detail);
        }
        return grpc::Status::OK;
    }

    grpc::Status RemoveDevice(grpc::ServerContext*, const v1beta1::RemoveDeviceRequest* req,
                              v1beta1::RemoveDeviceResponse*) override {
        impl_.remove_device(object_key(req->devicenamespace(), req->devicename()));
        return grpc::Status::OK;
    }

    grpc::Status CreateDeviceModel(grpc::ServerContext*,
                                   const v1beta1::CreateDeviceModelRequest* req,
                                   v1beta1::CreateDeviceModelResponse* resp) override {
        impl_.upsert_model(req->model());
        resp->set_devicemodelname(req->model().name());
        resp->set_devicemodelnamespace(req->model().namespace_());
        return grpc::Status::OK;
    }

    grpc::Status UpdateDeviceModel(grpc::ServerContext*,
                                   const v1beta1::UpdateDeviceModelRequest* req,
                                   v1beta1::UpdateDeviceModelResponse*) override {
        impl_.upsert_model(req->model());
        return grpc::Status::OK;
    }

    grpc::Status RemoveDeviceModel(grpc::ServerContext*,
                                   const v1beta1::RemoveDeviceModelRequest* req,
                                   v1beta1::RemoveDeviceModelResponse*) override {
        impl_.remove_model(object_key(req->modelnamespace(), req->modelname()));
        return grpc::Status::OK;
    }

    grpc::Status GetDevice(grpc::ServerContext*, const v1beta1::GetDeviceRequest* req,
                           v1beta1::GetDeviceResponse* resp) override {
        auto device = impl_.get_device(object_key(req->devicenamespace(), req->devicename()));
        if (!device) {
            return grpc::Status(grpc::StatusCode::NOT_FOUND,
                                fmt::format("device {} is not managed by this mapper",
                                            object_key(req->devicenamespace(), req->devicename())));
        }
        *resp->mutable_device() = std::move(*device);
        return grpc::Status::OK;
    }

private:
    Impl& impl_;
};

Result<void> MapperRuntime::Impl::upsert_device(const v1beta1::Device& device) {
    if (device.name().empty()) return Error(errc::invalid_argument, "device without a name");
    const std::string& proto = device.spec().protocol().protocolname();
    std::string key = object_key(device.namespace_(), device.name());
    if (!proto.empty() && proto != protocol) {
        return Error(
            errc::invalid_argument,
            fmt::format("device {} uses protocol {}, this mapper serves {}", key, proto, protocol));
    }
    std::unique_ptr<DeviceWorker> old;
    {
        std::lock_guard lock(mutex_);
        DeviceEntry& entry = devices[key];
        entry.device = device;
        old = refresh(key, entry);
    }
    if (old) old->stop();
    return {};
}

std::unique_ptr<DeviceWorker> MapperRuntime::Impl::refresh(const std::string& key,
                                                           DeviceEntry& entry) {
    std::string model_key =
        object_key(entry.device.namespace_(), entry.device.spec().devicemodelreference());
    auto model = models.find(model_key);
    if (model == models.end()) {
        logger()->warn("device {}: model {} not known yet; waiting for it", key, model_key);
        return std::move(entry.worker);
    }
    auto config = make_device_config(entry.device, model->second);
    if (!config) {
        logger()->error("device {}: {}", key, config.error().message());
        return std::move(entry.worker);
    }
    if (entry.worker) {
        entry.worker->update(std::move(*config));
        return nullptr;
    }
    logger()->info("device {}: managed ({} properties)", key, config->properties.size());
    entry.worker = std::make_unique<DeviceWorker>(worker_ctx, std::move(*config));
    entry.worker->start();
    return nullptr;
}

void MapperRuntime::Impl::remove_device(const std::string& key) {
    std::unique_ptr<DeviceWorker> worker;
    {
        std::lock_guard lock(mutex_);
        auto it = devices.find(key);
        if (it == devices.end()) return;
        worker = std::move(it->second.worker);
        devices.erase(it);
    }
    logger()->info("device {}: removed", key);
    if (worker) worker->stop();
}

void MapperRuntime::Impl::upsert_model(const v1beta1::DeviceModel& model) {
    std::string model_key = object_key(model.namespace_(), model.name());
    std::vector<std::unique_ptr<DeviceWorker>> stale;
    {
        std::lock_guard lock(mutex_);
        models[model_key] = model;
        for (auto& [key, entry] : devices) {
            if (object_key(entry.device.namespace_(), entry.device.spec().devicemodelreference()) ==
                model_key) {
                if (auto old = refresh(key, entry)) stale.push_back(std::move(old));
            }
        }
    }
    for (auto& w : stale) w->stop();
}

void MapperRuntime::Impl::remove_model(const std::string& key) {
    // Devices of the model keep their last configuration: edgecore removes them separately.
    std::lock_guard lock(mutex_);
    models.erase(key);
}

std::optional<v1beta1::Device> MapperRuntime::Impl::get_device(const std::string& key) const {
    std::lock_guard lock(mutex_);
    auto it = devices.find(key);
    if (it == devices.end()) return std::nullopt;
    v1beta1::Device out = it->second.device;
    if (it->second.worker) {
        auto* twins = out.mutable_status()->mutable_twins();
        twins->Clear();
        for (auto& t : it->second.worker->twins()) *twins->Add() = std::move(t);
    }
    return out;
}

void MapperRuntime::Impl::adopt(const v1beta1::MapperRegisterResponse& response) {
    std::vector<std::string> running;  // workers that reported to a previous edgecore
    {
        std::lock_guard lock(mutex_);
        for (const auto& [key, entry] : devices) {
            if (entry.worker) running.push_back(key);
        }
    }
    for (const auto& m : response.modellist()) upsert_model(m);
    std::map<std::string, bool> listed;
    for (const auto& d : response.devicelist()) {
        listed[object_key(d.namespace_(), d.name())] = true;
        if (auto r = upsert_device(d); !r) logger()->warn("register: {}", r.error().detail);
    }
    // With withData edgecore's answer is the whole set for our protocol.
    std::vector<std::string> gone;
    {
        std::lock_guard lock(mutex_);
        for (const auto& [key, entry] : devices) {
            if (!listed.contains(key)) gone.push_back(key);
        }
        for (const auto& key : running) {
            auto it = devices.find(key);
            if (it != devices.end() && it->second.worker) it->second.worker->resync();
        }
    }
    for (const auto& key : gone) remove_device(key);
}

void MapperRuntime::Impl::request_register() {
    {
        std::lock_guard lock(reg_mutex);
        if (need_register) return;
        need_register = true;
    }
    registered = false;
    logger()->warn("edgecore's DMI at {} is unavailable; registering again when it returns",
                   options.dmi_socket);
    reg_cv.notify_all();
}

void MapperRuntime::Impl::register_loop() {
    v1beta1::MapperInfo info;
    info.set_name(options.name);
    info.set_version(options.version);
    info.set_api_version(options.api_version);
    info.set_protocol(protocol);
    info.set_address(options.socket);
    info.set_state("ok");
    bool logged_failure = false;
    std::unique_lock lock(reg_mutex);
    while (!stopping) {
        if (!need_register) {
            reg_cv.wait(lock, [&] { return stopping || need_register; });
            continue;
        }
        lock.unlock();
        auto r = dmi->register_mapper(info);
        if (r) {
            logger()->info("registered with edgecore at {}: {} devices, {} models",
                           options.dmi_socket, r->devicelist_size(), r->modellist_size());
            adopt(*r);
            logged_failure = false;
        } else if (!logged_failure) {
            logger()->warn("MapperRegister: {} (retrying every {} ms)", r.error().message(),
                           options.register_retry.count());
            logged_failure = true;
        }
        lock.lock();
        if (r) {
            need_register = false;
            registered = true;
        } else {
            reg_cv.wait_for(lock, options.register_retry, [&] { return stopping; });
        }
    }
}

MapperRuntime::MapperRuntime(std::unique_ptr<Driver> driver, MapperOptions options)
    : impl_(std::make_unique<Impl>()) {
    impl_->driver = std::move(driver);
    impl_->protocol = impl_->driver->protocol();
    if (options.socket.empty()) options.socket = "/etc/kubeedge/" + impl_->protocol + ".sock";
    if (options.name.empty()) options.name = impl_->protocol + "-mapper";
    impl_->options = std::move(options);
    auto reconnect = std::max(impl_->options.register_retry, std::chrono::milliseconds(1000));
    impl_->dmi = std::make_unique<DmiClient>(impl_->options.dmi_socket, impl_->options.rpc_timeout,
                                             reconnect);
    impl_->worker_ctx.driver = impl_->driver.get();
    impl_->worker_ctx.dmi = impl_->dmi.get();
    impl_->worker_ctx.pusher = &impl_->pusher;
    impl_->worker_ctx.on_dmi_unavailable = [impl = impl_.get()] { impl->request_register(); };
}

MapperRuntime::~MapperRuntime() { stop(); }

Result<void> MapperRuntime::start() {
    namespace fs = std::filesystem;
    const std::string& path = impl_->options.socket;
    std::error_code ec;
    auto status = fs::symlink_status(path, ec);
    if (!ec && fs::exists(status)) {
        if (!fs::is_socket(status)) {
            return Error(errc::io_error,
                         fmt::format("{} exists and is not a socket; not removing it", path));
        }
        fs::remove(path, ec);  // stale: a previous run did not clean up
    }
    fs::path parent = fs::path(path).parent_path();
    if (!parent.empty()) fs::create_directories(parent, ec);

    impl_->service = std::make_unique<Impl::Service>(*impl_);
    grpc::ServerBuilder builder;
    builder.AddListeningPort("unix:" + path, grpc::InsecureServerCredentials());
    builder.RegisterService(impl_->service.get());
    impl_->server = builder.BuildAndStart();
    if (!impl_->server) {
        return Error(errc::io_error, fmt::format("cannot serve DeviceMapperService on {}", path));
    }
    if (::chmod(path.c_str(), 0660) != 0) {
        logger()->warn("chmod 0660 {}: {}", path, std::strerror(errno));
    }
    logger()->info("{} mapper {} serving DeviceMapperService on {}", impl_->protocol,
                   impl_->options.name, path);
    impl_->started = true;
    impl_->reg_thread = std::thread([impl = impl_.get()] { impl->register_loop(); });
    return {};
}

void MapperRuntime::stop() {
    if (!impl_ || !impl_->started) return;
    impl_->started = false;
    {
        std::lock_guard lock(impl_->reg_mutex);
        impl_->stopping = true;
    }
    impl_->reg_cv.notify_all();
    if (impl_->reg_thread.joinable()) impl_->reg_thread.join();
    impl_->server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
    impl_->server->Wait();
    std::map<std::string, DeviceEntry> devices;
    {
        std::lock_guard lock(impl_->mutex_);
        devices.swap(impl_->devices);
    }
    for (auto& [key, entry] : devices) {
        if (entry.worker) entry.worker->stop();
    }
    impl_->pusher.stop();
    std::error_code ec;
    std::filesystem::remove(impl_->options.socket, ec);
    logger()->info("mapper stopped");
}

const std::string& MapperRuntime::socket_path() const { return impl_->options.socket; }

bool MapperRuntime::registered() const { return impl_->registered; }

std::size_t MapperRuntime::device_count() const {
    std::lock_guard lock(impl_->mutex_);
    return impl_->devices.size();
}

std::optional<std::string> MapperRuntime::device_state(const std::string& ns,
                                                       const std::string& name) const {
    std::lock_guard lock(impl_->mutex_);
    auto it = impl_->devices.find(object_key(ns, name));
    if (it == impl_->devices.end() || !it->second.worker) return std::nullopt;
    return it->second.worker->state();
}

}  // namespace kedge::device
