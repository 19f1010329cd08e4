#include "edge/devicetwin/dmi_grpc.hpp"

#include <grpcpp/grpcpp.h>
#include <sys/stat.h>

#include <charconv>
#include <cstring>
#include <filesystem>
#include <system_error>

#include "dmi.grpc.pb.h"
#include "rpc/grpc_errors.hpp"

namespace kedge::edge::devicetwin {

std::string dmi_socket_path(std::string_view dmi_sock_path) {
    if (dmi_sock_path.ends_with(".sock")) return std::string(dmi_sock_path);
    std::string dir(dmi_sock_path);
    while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
    return dir + "/dmi.sock";
}

Result<std::string> mapper_target(std::string_view address) {
    if (address.empty()) return Error(errc::invalid_argument, "mapper announced no address");
    if (address.starts_with("unix:")) return std::string(address);
    return "unix:" + std::string(address);
}

std::string dmi_device_id(std::string_view ns, std::string_view name) {
    return (ns.empty() ? std::string("default") : std::string(ns)) + "/" + std::string(name);
}

Result<TwinReport> report_from_dmi(const v1beta1::ReportDeviceStatusRequest& req) {
    TwinReport report;
    for (const auto& t : req.reporteddevice().twins()) {
        const auto& value = t.reported().value();
        if (value.empty()) continue;
        if (auto ok = check_reported(t.propertyname(), value); !ok) return ok.error();
        ReportedValue rv{value, 0};
        if (auto m = t.reported().metadata().find("timestamp");
            m != t.reported().metadata().end()) {
            auto [p, ec] = std::from_chars(m->second.data(), m->second.data() + m->second.size(),
                                           rv.timestamp);
            if (ec != std::errc()) rv.timestamp = 0;
        }
        report.twins[t.propertyname()] = std::move(rv);
    }
    return report;
}

// ---- MapperClient ----

struct MapperClient::Impl {
    std::string address;
    std::chrono::milliseconds timeout;
    std::unique_ptr<v1beta1::DeviceMapperService::Stub> stub;

    template <class Call>
    Result<void> call(std::string_view rpc, std::string_view subject, Call&& invoke) {
        grpc::ClientContext context;
        context.set_deadline(std::chrono::system_clock::now() + timeout);
        auto status = invoke(context);
        if (status.ok()) return {};
        return rpc::rpc_error(status.error_code(), rpc,
                              std::string(subject) + " on mapper " + address,
                              status.error_message());
    }
};

MapperClient::MapperClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
MapperClient::~MapperClient() = default;

Result<std::shared_ptr<MapperClient>> MapperClient::create(std::string address,
                                                           std::chrono::milliseconds timeout) {
    auto target = mapper_target(address);
    if (!target) return target.error();
    auto impl = std::make_unique<Impl>();
    impl->address = std::move(address);
    impl->timeout = timeout;
    impl->stub = v1beta1::DeviceMapperService::NewStub(
        grpc::CreateChannel(*target, grpc::InsecureChannelCredentials()));
    return std::shared_ptr<MapperClient>(new MapperClient(std::move(impl)));
}

const std::string& MapperClient::address() const { return impl_->address; }

Result<void> MapperClient::register_device(const v1beta1::Device& device) {
    v1beta1::RegisterDeviceRequest req;
    *req.mutable_device() = device;
    v1beta1::RegisterDeviceResponse resp;
    return impl_->call("RegisterDevice", device.namespace_() + "/" + device.name(),
                       [&](auto& c) { return impl_->stub->RegisterDevice(&c, req, &resp); });
}

Result<void> MapperClient::update_device(const v1beta1::Device& device) {
    v1beta1::UpdateDeviceRequest req;
    *req.mutable_device() = device;
    v1beta1::UpdateDeviceResponse resp;
    return impl_->call("UpdateDevice", device.namespace_() + "/" + device.name(),
                       [&](auto& c) { return impl_->stub->UpdateDevice(&c, req, &resp); });
}

Result<void> MapperClient::remove_device(const std::string& ns, const std::string& name) {
    v1beta1::RemoveDeviceRequest req;
    req.set_devicenamespace(ns);
    req.set_devicename(name);
    v1beta1::RemoveDeviceResponse resp;
    return impl_->call("RemoveDevice", ns + "/" + name,
                       [&](auto& c) { return impl_->stub->RemoveDevice(&c, req, &resp); });
}

Result<void> MapperClient::create_model(const v1beta1::DeviceModel& model) {
    v1beta1::CreateDeviceModelRequest req;
    *req.mutable_model() = model;
    v1beta1::CreateDeviceModelResponse resp;
    return impl_->call("CreateDeviceModel", model.namespace_() + "/" + model.name(),
                       [&](auto& c) { return impl_->stub->CreateDeviceModel(&c, req, &resp); });
}

Result<void> MapperClient::update_model(const v1beta1::DeviceModel& model) {
    v1beta1::UpdateDeviceModelRequest req;
    *req.mutable_model() = model;
    v1beta1::UpdateDeviceModelResponse resp;
    return impl_->call("UpdateDeviceModel", model.namespace_() + "/" + model.name(),
                       [&](auto& c) { return impl_->stub->UpdateDeviceModel(&c, req, &resp); });
}

Result<void> MapperClient::remove_model(const std::string& ns, const std::string& name) {
    v1beta1::RemoveDeviceModelRequest req;
    req.set_modelnamespace(ns);
    req.set_modelname(name);
    v1beta1::RemoveDeviceModelResponse resp;
    return impl_->call("RemoveDeviceModel", ns + "/" + name,
                       [&](auto& c) { return impl_->stub->RemoveDeviceModel(&c, req, &resp); });
}

// ---- DmiServer ----

namespace {

class ManagerService final : public v1beta1::DeviceManagerService::Service {
public:
    explicit ManagerService(DmiHandlers h) : h_(std::move(h)) {}

    grpc::Status MapperRegister(grpc::ServerContext*, const v1beta1::MapperRegisterRequest* req,
                                v1beta1::MapperRegisterResponse* resp) override {
        if (!h_.mapper_register) return grpc::Status(grpc::StatusCode::UNIMPLEMENTED, "");
        auto r = h_.mapper_register(*req);
        if (!r) return rpc::status_from_error(r.error());
        *resp = std::move(*r);
        return grpc::Status::OK;
    }
    grpc::Status ReportDeviceStatus(grpc::ServerContext*,
                                    const v1beta1::ReportDeviceStatusRequest* req,
                                    v1beta1::ReportDeviceStatusResponse*) override {
        if (!h_.report_status) return grpc::Status(grpc::StatusCode::UNIMPLEMENTED, "");
        auto r = h_.report_status(*req);
        return r ? grpc::Status::OK : rpc::status_from_error(r.error());
    }
    grpc::Status ReportDeviceStates(grpc::ServerContext*,
                                    const v1beta1::ReportDeviceStatesRequest* req,
                                    v1beta1::ReportDeviceStatesResponse*) override {
        if (!h_.report_states) return grpc::Status(grpc::StatusCode::UNIMPLEMENTED, "");
        auto r = h_.report_states(*req);
        return r ? grpc::Status::OK : rpc::status_from_error(r.error());
    }

private:
    DmiHandlers h_;
};

}  // namespace

struct DmiServer::Impl {
    std::string path;
    std::unique_ptr<ManagerService> service;
    std::unique_ptr<grpc::Server> server;
};

DmiServer::DmiServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
DmiServer::~DmiServer() { shutdown(); }

Result<std::unique_ptr<DmiServer>> DmiServer::start(std::string socket_path, DmiHandlers handlers) {
    namespace fs = std::filesystem;
    std::error_code ec;
    fs::path p(socket_path);
    if (p.has_parent_path()) {
        fs::create_directories(p.parent_path(), ec);
        if (ec)
            return Error(errc::io_error,
                         "DMI socket directory " + p.parent_path().string() + ": " + ec.message());
    }
    // A socket left by a previous run would make the bind fail.
    if (fs::is_socket(fs::symlink_status(p, ec)))
        fs::remove(p, ec);
    else if (fs::exists(fs::symlink_status(p, ec)))
        return Error(errc::already_exists,
                     "DMI socket " + socket_path + " exists and is not a socket");
    auto impl = std::make_unique<Impl>();
    impl->path = socket_path;
    impl->service = std::make_unique<ManagerService>(std::move(handlers));
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("unix:" + socket_path, grpc::InsecureServerCredentials(), &port);
    builder.RegisterService(impl->service.get());
    impl->server = builder.BuildAndStart();
    if (!impl->server || !fs::exists(p, ec))
        return Error(errc::io_error, "cannot listen on DMI socket " + socket_path);
    if (::chmod(socket_path.c_str(), 0600) != 0)
        return Error(errc::io_error, "chmod 0600 " + socket_path + ": " + std::strerror(errno));
    return std::unique_ptr<DmiServer>(new DmiServer(std::move(impl)));
}

const std::string& DmiServer::socket_path() const { return impl_->path; }

void DmiServer::shutdown() {
    if (!impl_ || !impl_->server) return;
    impl_->server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
    impl_->server->Wait();
    impl_->server.reset();
    std::error_code ec;
    std::filesystem::remove(impl_->path, ec);
}

}  // namespace kedge::edge::devicetwin
