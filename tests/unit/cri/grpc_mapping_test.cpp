#include "cri/grpc_mapping.hpp"

#include <gtest/gtest.h>

namespace kedge::cri {
namespace {

TEST(CriGrpcMapping, StatusCodesMapToErrc) {
    EXPECT_EQ(errc_from_grpc(grpc::StatusCode::NOT_FOUND), errc::not_found);
    EXPECT_EQ(errc_from_grpc(grpc::StatusCode::UNAVAILABLE), errc::unavailable);
    EXPECT_EQ(errc_from_grpc(grpc::StatusCode::DEADLINE_EXCEEDED), errc::timeout);
    EXPECT_EQ(errc_from_grpc(grpc::StatusCode::INVALID_ARGUMENT), errc::invalid_argument);
    EXPECT_EQ(errc_from_grpc(grpc::StatusCode::ALREADY_EXISTS), errc::already_exists);
    EXPECT_EQ(errc_from_grpc(grpc::StatusCode::UNAUTHENTICATED), errc::unauthorized);
    EXPECT_EQ(errc_from_grpc(grpc::StatusCode::PERMISSION_DENIED), errc::forbidden);
    for (auto code : {grpc::StatusCode::UNKNOWN, grpc::StatusCode::INTERNAL,
                      grpc::StatusCode::FAILED_PRECONDITION, grpc::StatusCode::UNIMPLEMENTED,
                      grpc::StatusCode::CANCELLED, grpc::StatusCode::RESOURCE_EXHAUSTED}) {
        EXPECT_EQ(errc_from_grpc(code), errc::io_error) << static_cast<int>(code);
    }
}

TEST(CriGrpcMapping, RpcErrorNamesRpcSubjectAndRuntimeMessage) {
    Error e = rpc_error(grpc::StatusCode::NOT_FOUND, "PullImage", "localhost:5000/x:1",
                        "failed to resolve reference: not found");
    EXPECT_TRUE(e.is(errc::not_found));
    EXPECT_EQ(e.detail,
              "PullImage localhost:5000/x:1: failed to resolve reference: not found "
              "(grpc NOT_FOUND)");

    Error no_subject = rpc_error(grpc::StatusCode::INTERNAL, "Status", "", "boom");
    EXPECT_TRUE(no_subject.is(errc::io_error));
    EXPECT_EQ(no_subject.detail, "Status: boom (grpc INTERNAL)");

    // (An out-of-range code cannot be made into a grpc::StatusCode without undefined
    // behaviour, so the "code N" fallback is not exercised here.)
    Error empty = rpc_error(grpc::StatusCode::UNAVAILABLE, "Version", "", "");
    EXPECT_EQ(empty.detail, "Version: (no message) (grpc UNAVAILABLE)");
    // A failure never turns into an "ok" error code.
    EXPECT_TRUE(rpc_error(grpc::StatusCode::OK, "Version", "", "x").is(errc::io_error));
}

TEST(CriGrpcMapping, UnixEndpointsBecomeGrpcTargets) {
    EXPECT_EQ(grpc_target("unix:///run/containerd/containerd.sock").value(),
              "unix:/run/containerd/containerd.sock");
    EXPECT_EQ(grpc_target("unix:/tmp/x.sock").value(), "unix:/tmp/x.sock");
    EXPECT_EQ(grpc_target("/var/run/crio/crio.sock").value(), "unix:/var/run/crio/crio.sock");
}

TEST(CriGrpcMapping, OtherEndpointsAreInvalid) {
    for (const char* bad :
         {"", "tcp://127.0.0.1:1234", "npipe:////./pipe/containerd", "relative/path.sock",
          "unix://", "unix:", "unix://relative.sock", "localhost:1234"}) {
        auto r = grpc_target(bad);
        ASSERT_FALSE(r) << bad;
        EXPECT_TRUE(r.error().is(errc::invalid_argument)) << bad;
        EXPECT_NE(r.error().detail.find(std::string("'") + bad + "'"), std::string::npos)
            << r.error().detail;
    }
    EXPECT_NE(grpc_target("tcp://127.0.0.1:1").error().detail.find("only unix sockets"),
              std::string::npos);
}

}  // namespace
}  // namespace kedge::cri
