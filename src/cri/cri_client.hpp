#pragma once
// A client of the Kubernetes Container Runtime Interface (`runtime.v1` RuntimeService and
// ImageService) over gRPC, as edged uses it to run pods on containerd. The messages are our copy
// of the public cri-api `api.proto` (field names and numbers kept; only what edged needs), in
// proto/cri; callers build and read them directly (`runtime::v1::PodSandboxConfig`, ...).
//
// Every call is synchronous with a deadline and returns a Result: gRPC status codes map to errc
// (NOT_FOUND -> not_found, UNAVAILABLE -> unavailable, DEADLINE_EXCEEDED -> timeout,
// INVALID_ARGUMENT -> invalid_argument, ALREADY_EXISTS -> already_exists, UNAUTHENTICATED /
// PERMISSION_DENIED -> unauthorized / forbidden, anything else -> io_error), with the RPC name
// and the runtime's message in the detail ("PullImage localhost:5000/x: ... not found").
// Thread-safe: one gRPC channel shared by all calls; call it from a worker pool, not from an
// event loop thread (a pull can take minutes).

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "api.pb.h"  // generated from proto/cri/api.proto (runtime.v1)
#include "base/error.hpp"

namespace kedge::cri {

namespace v1 = ::runtime::v1;

struct CriClientOptions {
    // "unix:///run/containerd/containerd.sock" (a bare path is taken as a unix socket too).
    std::string endpoint = "unix:///run/containerd/containerd.sock";
    std::chrono::milliseconds timeout{std::chrono::minutes(2)};        // every call but pulls
    std::chrono::milliseconds pull_timeout{std::chrono::minutes(10)};  // PullImage
};

struct ExecResult {
    std::string stdout_data, stderr_data;
    std::int32_t exit_code = 0;
};

class CriClient {
public:
    // Creates the channel and checks the runtime answers Version (unavailable naming the
    // endpoint when it does not).
    static Result<std::shared_ptr<CriClient>> connect(CriClientOptions options);
    ~CriClient();

    const CriClientOptions& options() const;

    // ---- RuntimeService ----
    Result<v1::VersionResponse> version();
    Result<v1::RuntimeStatus> status();  // RuntimeReady / NetworkReady conditions
    Result<std::string> run_pod_sandbox(const v1::PodSandboxConfig& config,
                                        const std::string& runtime_handler = {});
    Result<void> stop_pod_sandbox(const std::string& sandbox_id);
    Result<void> remove_pod_sandbox(const std::string& sandbox_id);
    Result<v1::PodSandboxStatus> pod_sandbox_status(const std::string& sandbox_id);
    Result<std::vector<v1::PodSandbox>> list_pod_sandboxes(const v1::PodSandboxFilter& filter = {});
    Result<std::string> create_container(const std::string& sandbox_id,
                                         const v1::ContainerConfig& config,
                                         const v1::PodSandboxConfig& sandbox_config);
    Result<void> start_container(const std::string& container_id);
    Result<void> stop_container(const std::string& container_id, std::int64_t timeout_seconds);
    Result<void> remove_container(const std::string& container_id);
    Result<std::vector<v1::Container>> list_containers(const v1::ContainerFilter& filter = {});
    Result<v1::ContainerStatus> container_status(const std::string& container_id);
    Result<ExecResult> exec_sync(const std::string& container_id, const std::vector<std::string>& cmd,
                                 std::chrono::seconds timeout);
    // Asks the runtime to reopen a container's log file (after rotation).
    Result<void> reopen_container_log(const std::string& container_id);

    // ---- ImageService ----
    // Returns the image reference the runtime resolved ("sha256:...").
    Result<std::string> pull_image(const std::string& image, const v1::AuthConfig* auth = nullptr,
                                   const v1::PodSandboxConfig* sandbox_config = nullptr);
    // nullopt when the image is not present.
    Result<std::optional<v1::Image>> image_status(const std::string& image);
    Result<std::vector<v1::Image>> list_images();
    Result<void> remove_image(const std::string& image);
    Result<v1::ImageFsInfoResponse> image_fs_info();

    struct Impl;

private:
    explicit CriClient(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

}  // namespace kedge::cri
