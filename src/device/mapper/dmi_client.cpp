#include "device/mapper/dmi_client.hpp"

#include <fmt/format.h>
#include <grpcpp/grpcpp.h>

#include <algorithm>

#include "dmi.grpc.pb.h"
#include "rpc/grpc_errors.hpp"

namespace kedge::device {

namespace {

Error rpc_error(const grpc::Status& status, std::string_view rpc, const std::string& socket) {
    return rpc::rpc_error(status.error_code(), rpc, "to edgecore at " + socket,
                          status.error_message());
}

}  // namespace

struct DmiClient::Impl {
    std::string socket;
    std::chrono::milliseconds timeout;
    std::unique_ptr<v1beta1::DeviceManagerService::Stub> stub;

    void set_deadline(grpc::ClientContext& ctx) const {
        ctx.set_deadline(std::chrono::system_clock::now() + timeout);
    }
};

DmiClient::DmiClient(std::string socket_path, std::chrono::milliseconds timeout,
                     std::chrono::milliseconds reconnect_max)
    : impl_(std::make_unique<Impl>()) {
    impl_->socket = std::move(socket_path);
    impl_->timeout = timeout;
    grpc::ChannelArguments args;
    // gRPC's default reconnect backoff grows to 120 s; edgecore restarts must be seen sooner.
    int max_ms = static_cast<int>(std::clamp<std::int64_t>(reconnect_max.count(), 100, 60000));
    args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, std::min(100, max_ms));
    args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, std::min(100, max_ms));
    args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, max_ms);
    auto channel = grpc::CreateCustomChannel("unix:" + impl_->socket,
                                             grpc::InsecureChannelCredentials(), args);
    impl_->stub = v1beta1::DeviceManagerService::NewStub(channel);
}

DmiClient::~DmiClient() = default;

Result<v1beta1::MapperRegisterResponse> DmiClient::register_mapper(
    const v1beta1::MapperInfo& info) {
    grpc::ClientContext ctx;
    impl_->set_deadline(ctx);
    v1beta1::MapperRegisterRequest request;
    request.set_withdata(true);
    *request.mutable_mapper() = info;
    v1beta1::MapperRegisterResponse response;
    grpc::Status status = impl_->stub->MapperRegister(&ctx, request, &response);
    if (!status.ok()) return rpc_error(status, "MapperRegister", impl_->socket);
    return response;
}

Result<void> DmiClient::report_status(const v1beta1::ReportDeviceStatusRequest& request) {
    grpc::ClientContext ctx;
    impl_->set_deadline(ctx);
    v1beta1::ReportDeviceStatusResponse response;
    grpc::Status status = impl_->stub->ReportDeviceStatus(&ctx, request, &response);
    if (!status.ok()) return rpc_error(status, "ReportDeviceStatus", impl_->socket);
    return {};
}

Result<void> DmiClient::report_state(const v1beta1::ReportDeviceStatesRequest& request) {
    grpc::ClientContext ctx;
    impl_->set_deadline(ctx);
    v1beta1::ReportDeviceStatesResponse response;
    grpc::Status status = impl_->stub->ReportDeviceStates(&ctx, request, &response);
    if (!status.ok()) return rpc_error(status, "ReportDeviceStates", impl_->socket);
    return {};
}

}  // namespace kedge::device
