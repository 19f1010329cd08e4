#include "rpc/grpc_errors.hpp"

#include <gtest/gtest.h>

namespace kedge::rpc {
namespace {

TEST(GrpcErrors, StatusCodesMapToErrc) {
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

TEST(GrpcErrors, RpcErrorNamesRpcSubjectAndRuntimeMessage) {
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

TEST(GrpcErrors, ServerStatusFromError) {
    auto code = [](errc e) { return status_from_error(Error(e, "why")).error_code(); };
    EXPECT_EQ(code(errc::invalid_argument), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_EQ(code(errc::parse_error), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_EQ(code(errc::not_found), grpc::StatusCode::NOT_FOUND);
    EXPECT_EQ(code(errc::already_exists), grpc::StatusCode::ALREADY_EXISTS);
    EXPECT_EQ(code(errc::timeout), grpc::StatusCode::DEADLINE_EXCEEDED);
    EXPECT_EQ(code(errc::unavailable), grpc::StatusCode::UNAVAILABLE);
    EXPECT_EQ(code(errc::closed), grpc::StatusCode::UNAVAILABLE);
    EXPECT_EQ(code(errc::forbidden), grpc::StatusCode::PERMISSION_DENIED);
    EXPECT_EQ(code(errc::io_error), grpc::StatusCode::INTERNAL);
    EXPECT_EQ(status_from_error(Error(errc::not_found, "device x")).error_message(), "device x");
    // Round trip: what a server answers is what its client sees.
    for (errc e : {errc::invalid_argument, errc::not_found, errc::already_exists, errc::timeout,
                   errc::unavailable, errc::unauthorized, errc::forbidden}) {
        EXPECT_EQ(errc_from_grpc(code(e)), e) << static_cast<int>(e);
    }
}

}  // namespace
}  // namespace kedge::rpc
