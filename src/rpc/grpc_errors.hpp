#pragma once
// gRPC outcomes as kedge errors and back, shared by every gRPC user (the CRI client, edgecore's
// DMI server and mapper client, the mapper SDK), so one status means the same everywhere.

#include <grpcpp/support/status.h>
#include <grpcpp/support/status_code_enum.h>

#include <string>
#include <string_view>

#include "base/error.hpp"

namespace kedge::rpc {

// NOT_FOUND -> not_found, UNAVAILABLE -> unavailable, DEADLINE_EXCEEDED -> timeout,
// INVALID_ARGUMENT -> invalid_argument, ALREADY_EXISTS -> already_exists,
// UNAUTHENTICATED -> unauthorized, PERMISSION_DENIED -> forbidden, anything else -> io_error.
errc errc_from_grpc(grpc::StatusCode code);

// "ABORTED", "NOT_FOUND", ...; "code 42" for values outside the enum.
std::string grpc_code_name(grpc::StatusCode code);

// The Error for a failed RPC: "<Rpc> <subject>: <runtime message> (grpc <CODE>)"; the subject (an
// image, a container id, a peer) is left out when empty.
Error rpc_error(grpc::StatusCode code, std::string_view rpc, std::string_view subject,
                std::string_view message);

// The status a gRPC server answers for a failed operation: invalid_argument/parse_error ->
// INVALID_ARGUMENT, not_found -> NOT_FOUND, already_exists -> ALREADY_EXISTS, timeout ->
// DEADLINE_EXCEEDED, unavailable/closed -> UNAVAILABLE, unauthorized -> UNAUTHENTICATED,
// forbidden -> PERMISSION_DENIED, anything else -> INTERNAL; the message is the error's detail.
grpc::Status status_from_error(const Error& e);

}  // namespace kedge::rpc
