#include "cri/cri_client.hpp"

#include <grpcpp/grpcpp.h>

#include <utility>

#include "api.grpc.pb.h"
#include "base/log.hpp"
#include "cri/grpc_mapping.hpp"

namespace kedge::cri {

namespace {

// kubelet's limit too: a node with many containers or a chatty ExecSync exceeds gRPC's 4 MiB.
constexpr int kMaxMessageBytes = 16 * 1024 * 1024;
// What kubelet sends as the CRI client version.
constexpr const char* kClientApiVersion = "0.1.0";
// kubelet's reconnect policy: after a runtime restart the channel is usable again within
// seconds instead of gRPC's default backoff of up to two minutes.
constexpr int kInitialReconnectBackoffMs = 100;
constexpr int kMaxReconnectBackoffMs = 3000;
// gRPC core also uses the minimum backoff as the connect timeout; a unix socket connects at once.
constexpr int kMinReconnectBackoffMs = 1000;

template <class T>
std::vector<T> take_all(google::protobuf::RepeatedPtrField<T>* items) {
    std::vector<T> out;
    out.reserve(static_cast<std::size_t>(items->size()));
    for (auto& item : *items) {
        out.push_back(std::move(item));
    }
    return out;
}

Result<void> require_id(std::string_view rpc, const std::string& id) {
    if (id.empty()) {
        return Error(errc::invalid_argument, std::string(rpc) + ": empty id");
    }
    return {};
}

}  // namespace

struct CriClient::Impl {
    CriClientOptions options;
    std::shared_ptr<grpc::Channel> channel;
    std::unique_ptr<v1::RuntimeService::Stub> runtime;
    std::unique_ptr<v1::ImageService::Stub> images;
    std::shared_ptr<spdlog::logger> log = log::get("cri");

    // One unary RPC with its own deadline; `invoke(context, response)` issues it on a stub.
    template <class Response, class Invoke>
    Result<Response> call(std::string_view rpc, std::string_view subject,
                          std::chrono::milliseconds timeout, Invoke&& invoke) {
        grpc::ClientContext context;
        context.set_deadline(std::chrono::system_clock::now() + timeout);
        Response response;
        grpc::Status status = invoke(&context, &response);
        if (!status.ok()) {
            Error error = rpc::rpc_error(status.error_code(), rpc, subject, status.error_message());
            log->debug("{}", error.detail);
            return error;
        }
        return response;
    }
};

CriClient::CriClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
CriClient::~CriClient() = default;

const CriClientOptions& CriClient::options() const { return impl_->options; }

Result<std::shared_ptr<CriClient>> CriClient::connect(CriClientOptions options) {
    auto target = grpc_target(options.endpoint);
    if (!target) {
        return target.error();
    }
    if (options.timeout.count() <= 0 || options.pull_timeout.count() <= 0) {
        return Error(errc::invalid_argument, "CRI client: timeouts must be positive");
    }
    grpc::ChannelArguments args;
    args.SetMaxReceiveMessageSize(kMaxMessageBytes);
    args.SetMaxSendMessageSize(kMaxMessageBytes);
    args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, kInitialReconnectBackoffMs);
    args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, kMaxReconnectBackoffMs);
    args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, kMinReconnectBackoffMs);
    auto impl = std::make_unique<Impl>();
    impl->options = std::move(options);
    impl->channel = grpc::CreateCustomChannel(*target, grpc::InsecureChannelCredentials(), args);
    impl->runtime = v1::RuntimeService::NewStub(impl->channel);
    impl->images = v1::ImageService::NewStub(impl->channel);
    std::shared_ptr<CriClient> client(new CriClient(std::move(impl)));
    auto version = client->version();
    if (!version) {
        const Error& e = version.error();
        return Error(
            e.is(errc::timeout) ? errc::timeout : errc::unavailable,
            "CRI runtime at " + client->options().endpoint + " does not answer: " + e.detail);
    }
    client->impl_->log->debug("connected to {} {} (CRI {}) at {}", version->runtime_name(),
                              version->runtime_version(), version->runtime_api_version(),
                              client->options().endpoint);
    return client;
}

// ---- RuntimeService ----

Result<v1::VersionResponse> CriClient::version() {
    v1::VersionRequest request;
    request.set_version(kClientApiVersion);
    return impl_->call<v1::VersionResponse>(
        "Version", {}, impl_->options.timeout, [&](auto* context, auto* response) {
            return impl_->runtime->Version(context, request, response);
        });
}

Result<v1::RuntimeStatus> CriClient::status() {
    v1::StatusRequest request;
    auto response = impl_->call<v1::StatusResponse>(
        "Status", {}, impl_->options.timeout, [&](auto* context, auto* response) {
            return impl_->runtime->Status(context, request, response);
        });
    if (!response) {
        return response.error();
    }
    return std::move(*response->mutable_status());
}

Result<std::string> CriClient::run_pod_sandbox(const v1::PodSandboxConfig& config,
                                               const std::string& runtime_handler) {
    v1::RunPodSandboxRequest request;
    *request.mutable_config() = config;
    request.set_runtime_handler(runtime_handler);
    auto response = impl_->call<v1::RunPodSandboxResponse>(
        "RunPodSandbox", config.metadata().name(), impl_->options.timeout,
        [&](auto* context, auto* response) {
            return impl_->runtime->RunPodSandbox(context, request, response);
        });
    if (!response) {
        return response.error();
    }
    if (response->pod_sandbox_id().empty()) {
        return Error(errc::io_error, "RunPodSandbox " + config.metadata().name() +
                                         ": the runtime returned no sandbox id");
    }
    return std::move(*response->mutable_pod_sandbox_id());
}

Result<void> CriClient::stop_pod_sandbox(const std::string& sandbox_id) {
    if (auto ok = require_id("StopPodSandbox", sandbox_id); !ok) {
        return ok;
    }
    v1::StopPodSandboxRequest request;
    request.set_pod_sandbox_id(sandbox_id);
    auto response = impl_->call<v1::StopPodSandboxResponse>(
        "StopPodSandbox", sandbox_id, impl_->options.timeout, [&](auto* context, auto* response) {
            return impl_->runtime->StopPodSandbox(context, request, response);
        });
    if (!response) {
        return response.error();
    }
    return {};
}

Result<void> CriClient::remove_pod_sandbox(const std::string& sandbox_id) {
    if (auto ok = require_id("RemovePodSandbox", sandbox_id); !ok) {
        return ok;
    }
    v1::RemovePodSandboxRequest request;
    request.set_pod_sandbox_id(sandbox_id);
    auto response = impl_->call<v1::RemovePodSandboxResponse>(
        "RemovePodSandbox", sandbox_id, impl_->options.timeout, [&](auto* context, auto* response) {
            return impl_->runtime->RemovePodSandbox(context, request, response);
        });
    if (!response) {
        return response.error();
    }
    return {};
}

Result<v1::PodSandboxStatus> CriClient::pod_sandbox_status(const std::string& sandbox_id) {
    if (auto ok = require_id("PodSandboxStatus", sandbox_id); !ok) {
        return ok.error();
    }
    v1::PodSandboxStatusRequest request;
    request.set_pod_sandbox_id(sandbox_id);
    auto response = impl_->call<v1::PodSandboxStatusResponse>(
        "PodSandboxStatus", sandbox_id, impl_->options.timeout, [&](auto* context, auto* response) {
            return impl_->runtime->PodSandboxStatus(context, request, response);
        });
    if (!response) {
        return response.error();
    }
    if (!response->has_status()) {
        return Error(errc::io_error,
                     "PodSandboxStatus " + sandbox_id + ": the runtime returned no status");
    }
    return std::move(*response->mutable_status());
}

Result<std::vector<v1::PodSandbox>> CriClient::list_pod_sandboxes(
    const v1::PodSandboxFilter& filter) {
    v1::ListPodSandboxRequest request;
    *request.mutable_filter() = filter;
    auto response = impl_->call<v1::ListPodSandboxResponse>(
        "ListPodSandbox", {}, impl_->options.timeout, [&](auto* context, auto* response) {
            return impl_->runtime->ListPodSandbox(context, request, response);
        });
    if (!response) {
        return response.error();
    }
    return take_all(response->mutable_items());
}

Result<std::string> CriClient::create_container(const std::string& sandbox_id,
                                                const v1::ContainerConfig& config,
                                                const v1::PodSandboxConfig& sandbox_config) {
    if (auto ok = require_id("CreateContainer", sandbox_id); !ok) {
        return ok.error();
    }
    v1::CreateContainerRequest request;
    request.set_pod_sandbox_id(sandbox_id);
    *request.mutable_config() = config;
    *request.mutable_sandbox_config() = sandbox_config;
    auto response = impl_->call<v1::CreateContainerResponse>(
        "CreateContainer", config.metadata().name(), impl_->options.timeout,
        [&](auto* context, auto* response) {
            return impl_->runtime->CreateContainer(context, request, response);
        });
    if (!response) {
        return response.error();
    }
    if (response->container_id().empty()) {
        return Error(errc::io_error, "CreateContainer " + config.metadata().name() +
                                         ": the runtime returned no container id");
    }
    return std::move(*response->mutable_container_id());
}

Result<void> CriClient::start_container(const std::string& container_id) {
    if (auto ok = require_id("StartContainer", container_id); !ok) {
        return ok;
    }
    v1::StartContainerRequest request;
    request.set_container_id(container_id);
    auto response = impl_->call<v1::StartContainerResponse>(
        "StartContainer", container_id, impl_->options.timeout, [&](auto* context, auto* response) {
            return impl_->runtime->StartContainer(context, request, response);
        });
    if (!response) {
        return response.error();
    }
    return {};
}

Result<void> CriClient::stop_container(const std::string& container_id,
                                       std::int64_t timeout_seconds) {
    if (auto ok = require_id("StopContainer", container_id); !ok) {
        return ok;
    }
    if (timeout_seconds < 0) {
        timeout_seconds = 0;
    }
    v1::StopContainerRequest request;
    request.set_container_id(container_id);
    request.set_timeout(timeout_seconds);
    // The runtime may legitimately wait out the whole grace period before it answers.
    auto deadline = impl_->options.timeout + std::chrono::seconds(timeout_seconds);
    auto response = impl_->call<v1::StopContainerResponse>(
        "StopContainer", container_id, deadline, [&](auto* context, auto* response) {
            return impl_->runtime->StopContainer(context, request, response);
        });
    if (!response) {
        return response.error();
    }
    return {};
}

Result<void> CriClient::remove_container(const std::string& container_id) {
    if (auto ok = require_id("RemoveContainer", container_id); !ok) {
        return ok;
    }
    v1::RemoveContainerRequest request;
    request.set_container_id(container_id);
    auto response = impl_->call<v1::RemoveContainerResponse>(
        "RemoveContainer", container_id, impl_->options.timeout,
        [&](auto* context, auto* response) {
            return impl_->runtime->RemoveContainer(context, request, response);
        });
    if (!response) {
        return response.error();
    }
    return {};
}

Result<std::vector<v1::Container>> CriClient::list_containers(const v1::ContainerFilter& filter) {
    v1::ListContainersRequest request;
    *request.mutable_filter() = filter;
    auto response = impl_->call<v1::ListContainersResponse>(
        "ListContainers", {}, impl_->options.timeout, [&](auto* context, auto* response) {
            return impl_->runtime->ListContainers(context, request, response);
        });
    if (!response) {
        return response.error();
    }
    return take_all(response->mutable_containers());
}

Result<v1::ContainerStatus> CriClient::container_status(const std::string& container_id) {
    if (auto ok = require_id("ContainerStatus", container_id); !ok) {
        return ok.error();
    }
    v1::ContainerStatusRequest request;
    request.set_container_id(container_id);
    auto response = impl_->call<v1::ContainerStatusResponse>(
        "ContainerStatus", container_id, impl_->options.timeout,
        [&](auto* context, auto* response) {
            return impl_->runtime->ContainerStatus(context, request, response);
        });
    if (!response) {
        return response.error();
    }
    if (!response->has_status()) {
        return Error(errc::io_error,
                     "ContainerStatus " + container_id + ": the runtime returned no status");
    }
    return std::move(*response->mutable_status());
}

Result<ExecResult> CriClient::exec_sync(const std::string& container_id,
                                        const std::vector<std::string>& cmd,
                                        std::chrono::seconds timeout) {
    if (auto ok = require_id("ExecSync", container_id); !ok) {
        return ok.error();
    }
    if (cmd.empty()) {
        return Error(errc::invalid_argument, "ExecSync " + container_id + ": empty command");
    }
    v1::ExecSyncRequest request;
    request.set_container_id(container_id);
    for (const auto& arg : cmd) {
        request.add_cmd(arg);
    }
    request.set_timeout(timeout.count() > 0 ? timeout.count() : 0);
    // As kubelet does: the command's own limit plus room for the runtime to clean up.
    auto deadline =
        impl_->options.timeout +
        (timeout.count() > 0 ? std::chrono::milliseconds(timeout) : std::chrono::milliseconds(0));
    auto response = impl_->call<v1::ExecSyncResponse>(
        "ExecSync", container_id, deadline, [&](auto* context, auto* response) {
            return impl_->runtime->ExecSync(context, request, response);
        });
    if (!response) {
        return response.error();
    }
    ExecResult result;
    result.stdout_data = std::move(*response->mutable_stdout());
    result.stderr_data = std::move(*response->mutable_stderr());
    result.exit_code = response->exit_code();
    return result;
}

Result<void> CriClient::reopen_container_log(const std::string& container_id) {
    if (auto ok = require_id("ReopenContainerLog", container_id); !ok) {
        return ok;
    }
    v1::ReopenContainerLogRequest request;
    request.set_container_id(container_id);
    auto response = impl_->call<v1::ReopenContainerLogResponse>(
        "ReopenContainerLog", container_id, impl_->options.timeout,
        [&](auto* context, auto* response) {
            return impl_->runtime->ReopenContainerLog(context, request, response);
        });
    if (!response) {
        return response.error();
    }
    return {};
}

// ---- ImageService ----

Result<std::string> CriClient::pull_image(const std::string& image, const v1::AuthConfig* auth,
                                          const v1::PodSandboxConfig* sandbox_config) {
    if (image.empty()) {
        return Error(errc::invalid_argument, "PullImage: empty image name");
    }
    v1::PullImageRequest request;
    request.mutable_image()->set_image(image);
    if (auth != nullptr) {
        *request.mutable_auth() = *auth;
    }
    if (sandbox_config != nullptr) {
        *request.mutable_sandbox_config() = *sandbox_config;
    }
    auto response = impl_->call<v1::PullImageResponse>(
        "PullImage", image, impl_->options.pull_timeout, [&](auto* context, auto* response) {
            return impl_->images->PullImage(context, request, response);
        });
    if (!response) {
        return response.error();
    }
    if (response->image_ref().empty()) {
        return Error(errc::io_error, "PullImage " + image + ": the runtime returned no image ref");
    }
    return std::move(*response->mutable_image_ref());
}

Result<std::optional<v1::Image>> CriClient::image_status(const std::string& image) {
    if (image.empty()) {
        return Error(errc::invalid_argument, "ImageStatus: empty image name");
    }
    v1::ImageStatusRequest request;
    request.mutable_image()->set_image(image);
    auto response = impl_->call<v1::ImageStatusResponse>(
        "ImageStatus", image, impl_->options.timeout, [&](auto* context, auto* response) {
            return impl_->images->ImageStatus(context, request, response);
        });
    if (!response) {
        return response.error();
    }
    if (!response->has_image()) {
        return std::optional<v1::Image>();
    }
    return std::optional<v1::Image>(std::move(*response->mutable_image()));
}

Result<std::vector<v1::Image>> CriClient::list_images() {
    v1::ListImagesRequest request;
    auto response = impl_->call<v1::ListImagesResponse>(
        "ListImages", {}, impl_->options.timeout, [&](auto* context, auto* response) {
            return impl_->images->ListImages(context, request, response);
        });
    if (!response) {
        return response.error();
    }
    return take_all(response->mutable_images());
}

Result<void> CriClient::remove_image(const std::string& image) {
    if (image.empty()) {
        return Error(errc::invalid_argument, "RemoveImage: empty image name");
    }
    v1::RemoveImageRequest request;
    request.mutable_image()->set_image(image);
    auto response = impl_->call<v1::RemoveImageResponse>(
        "RemoveImage", image, impl_->options.timeout, [&](auto* context, auto* response) {
            return impl_->images->RemoveImage(context, request, response);
        });
    if (!response) {
        return response.error();
    }
    return {};
}

Result<v1::ImageFsInfoResponse> CriClient::image_fs_info() {
    v1::ImageFsInfoRequest request;
    return impl_->call<v1::ImageFsInfoResponse>(
        "ImageFsInfo", {}, impl_->options.timeout, [&](auto* context, auto* response) {
            return impl_->images->ImageFsInfo(context, request, response);
        });
}

}  // namespace kedge::cri
