// CriClient against an in-process gRPC server on a unix socket: what edged sees when the runtime
// is absent, slow, or answers with an error (the real runtime is in tests/integration/cri).
#include "cri/cri_client.hpp"

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <future>
#include <memory>

#include "api.grpc.pb.h"
#include "support/test_support.hpp"

namespace kedge::cri {
namespace {

// A runtime that answers Version, fails PullImage like containerd does for a missing image,
// has no images, and blocks ContainerStatus until the test releases it.
class FakeRuntime final : public v1::RuntimeService::Service {
public:
    std::promise<void> release_status;
    std::shared_future<void> status_released = release_status.get_future().share();
    std::string last_cgroup_parent;

    grpc::Status Version(grpc::ServerContext*, const v1::VersionRequest* request,
                         v1::VersionResponse* response) override {
        response->set_version(request->version());
        response->set_runtime_name("fake");
        response->set_runtime_version("1.0");
        response->set_runtime_api_version("v1");
        return grpc::Status::OK;
    }
    grpc::Status RunPodSandbox(grpc::ServerContext*, const v1::RunPodSandboxRequest* request,
                               v1::RunPodSandboxResponse* response) override {
        last_cgroup_parent = request->config().linux().cgroup_parent();
        response->set_pod_sandbox_id("sandbox-1");
        return grpc::Status::OK;
    }
    grpc::Status ContainerStatus(grpc::ServerContext*, const v1::ContainerStatusRequest*,
                                 v1::ContainerStatusResponse*) override {
        status_released.wait();
        return grpc::Status(grpc::StatusCode::NOT_FOUND, "released");
    }
    grpc::Status StopContainer(grpc::ServerContext*, const v1::StopContainerRequest* request,
                               v1::StopContainerResponse*) override {
        return grpc::Status(grpc::StatusCode::NOT_FOUND,
                            "an error occurred when try to find container \"" +
                                request->container_id() + "\": not found");
    }
};

class FakeImages final : public v1::ImageService::Service {
public:
    grpc::Status PullImage(grpc::ServerContext*, const v1::PullImageRequest* request,
                           v1::PullImageResponse*) override {
        return grpc::Status(
            grpc::StatusCode::NOT_FOUND,
            "failed to pull and unpack image \"" + request->image().image() + "\": not found");
    }
    grpc::Status ImageStatus(grpc::ServerContext*, const v1::ImageStatusRequest*,
                             v1::ImageStatusResponse*) override {
        return grpc::Status::OK;  // no image field: not present
    }
};

class CriClientTest : public ::testing::Test {
protected:
    void SetUp() override {
        socket_ = dir_.file("cri.sock");
        grpc::ServerBuilder builder;
        builder.AddListeningPort("unix:" + socket_, grpc::InsecureServerCredentials());
        builder.RegisterService(&runtime_);
        builder.RegisterService(&images_);
        server_ = builder.BuildAndStart();
        ASSERT_NE(server_, nullptr);
    }
    void TearDown() override {
        try {
            runtime_.release_status.set_value();
        } catch (const std::future_error&) {
        }
        server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(5));
    }

    std::shared_ptr<CriClient> connect(
        std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
        CriClientOptions options;
        options.endpoint = "unix://" + socket_;
        options.timeout = timeout;
        auto client = CriClient::connect(options);
        EXPECT_TRUE(client) << (client ? "" : client.error().message());
        return client ? *client : nullptr;
    }

    test::TempDir dir_;
    std::string socket_;
    FakeRuntime runtime_;
    FakeImages images_;
    std::unique_ptr<grpc::Server> server_;
};

TEST_F(CriClientTest, ConnectChecksVersion) {
    auto client = connect();
    ASSERT_NE(client, nullptr);
    auto v = client->version();
    ASSERT_TRUE(v);
    EXPECT_EQ(v->runtime_name(), "fake");
    EXPECT_EQ(v->version(), "0.1.0");  // what we sent
}

TEST_F(CriClientTest, ConnectToMissingSocketIsUnavailableNamingEndpoint) {
    CriClientOptions options;
    options.endpoint = dir_.file("nobody-home.sock");
    options.timeout = std::chrono::seconds(5);
    auto client = CriClient::connect(options);
    ASSERT_FALSE(client);
    EXPECT_TRUE(client.error().is(errc::unavailable)) << client.error().message();
    EXPECT_NE(client.error().detail.find(options.endpoint), std::string::npos)
        << client.error().detail;
}

TEST_F(CriClientTest, ConnectRejectsTcpEndpoint) {
    CriClientOptions options;
    options.endpoint = "tcp://127.0.0.1:1";
    auto client = CriClient::connect(options);
    ASSERT_FALSE(client);
    EXPECT_TRUE(client.error().is(errc::invalid_argument));
}

TEST_F(CriClientTest, RuntimeErrorsKeepCodeAndMessage) {
    auto client = connect();
    ASSERT_NE(client, nullptr);
    auto pulled = client->pull_image("localhost:5000/missing:1");
    ASSERT_FALSE(pulled);
    EXPECT_TRUE(pulled.error().is(errc::not_found));
    EXPECT_EQ(pulled.error().detail,
              "PullImage localhost:5000/missing:1: failed to pull and unpack image "
              "\"localhost:5000/missing:1\": not found (grpc NOT_FOUND)");

    auto stopped = client->stop_container("abc", 0);
    ASSERT_FALSE(stopped);
    EXPECT_TRUE(stopped.error().is(errc::not_found));
    EXPECT_NE(stopped.error().detail.find("StopContainer abc: "), std::string::npos);
}

TEST_F(CriClientTest, UnimplementedRpcIsIoError) {
    auto client = connect();
    ASSERT_NE(client, nullptr);
    auto fs = client->image_fs_info();
    ASSERT_FALSE(fs);
    EXPECT_TRUE(fs.error().is(errc::io_error));
    EXPECT_NE(fs.error().detail.find("ImageFsInfo"), std::string::npos);
}

TEST_F(CriClientTest, AbsentImageIsNullopt) {
    auto client = connect();
    ASSERT_NE(client, nullptr);
    auto status = client->image_status("localhost:5000/none:1");
    ASSERT_TRUE(status) << status.error().message();
    EXPECT_FALSE(status->has_value());
}

TEST_F(CriClientTest, RequestReachesRuntime) {
    auto client = connect();
    ASSERT_NE(client, nullptr);
    v1::PodSandboxConfig config;
    config.mutable_metadata()->set_name("p");
    config.mutable_linux()->set_cgroup_parent("/kedge/p");
    auto id = client->run_pod_sandbox(config);
    ASSERT_TRUE(id);
    EXPECT_EQ(*id, "sandbox-1");
    EXPECT_EQ(runtime_.last_cgroup_parent, "/kedge/p");
}

TEST_F(CriClientTest, EmptyIdsAreRejectedLocally) {
    auto client = connect();
    ASSERT_NE(client, nullptr);
    EXPECT_TRUE(client->start_container("").error().is(errc::invalid_argument));
    EXPECT_TRUE(client->pod_sandbox_status("").error().is(errc::invalid_argument));
    EXPECT_TRUE(
        client->exec_sync("c", {}, std::chrono::seconds(1)).error().is(errc::invalid_argument));
    EXPECT_TRUE(client->pull_image("").error().is(errc::invalid_argument));
}

TEST_F(CriClientTest, SlowRuntimeHitsDeadline) {
    auto client = connect(std::chrono::milliseconds(300));
    ASSERT_NE(client, nullptr);
    auto started = std::chrono::steady_clock::now();
    auto status = client->container_status("slow");
    auto took = std::chrono::steady_clock::now() - started;
    runtime_.release_status.set_value();
    ASSERT_FALSE(status);
    EXPECT_TRUE(status.error().is(errc::timeout)) << status.error().message();
    EXPECT_NE(status.error().detail.find("ContainerStatus slow"), std::string::npos);
    EXPECT_LT(took, std::chrono::seconds(5));
}

}  // namespace
}  // namespace kedge::cri
