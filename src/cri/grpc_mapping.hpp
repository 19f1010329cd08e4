#pragma once
// How the CRI client turns gRPC outcomes into kedge errors and endpoint strings into gRPC targets;
// separate from CriClient so both rules are pinned by unit tests without a runtime.

#include <grpcpp/support/status_code_enum.h>

#include <string>
#include <string_view>

#include "base/error.hpp"

namespace kedge::cri {

// NOT_FOUND -> not_found, UNAVAILABLE -> unavailable, DEADLINE_EXCEEDED -> timeout,
// INVALID_ARGUMENT -> invalid_argument, ALREADY_EXISTS -> already_exists,
// UNAUTHENTICATED -> unauthorized, PERMISSION_DENIED -> forbidden, anything else -> io_error.
errc errc_from_grpc(grpc::StatusCode code);

// "ABORTED", "NOT_FOUND", ...; "code 42" for values outside the enum.
std::string grpc_code_name(grpc::StatusCode code);

// The Error for a failed RPC: "<Rpc> <subject>: <runtime message> (grpc <CODE>)"; the subject (an
// image, a container id) is left out when empty.
Error rpc_error(grpc::StatusCode code, std::string_view rpc, std::string_view subject,
                std::string_view message);

// The gRPC target for a CRI endpoint: "unix:///run/x.sock", "unix:/run/x.sock" and a bare
// absolute path "/run/x.sock" all name a unix socket. Anything else (tcp://, npipe://, relative
// paths, an empty path) is invalid_argument: edged only talks to a runtime on its own host.
Result<std::string> grpc_target(std::string_view endpoint);

}  // namespace kedge::cri
