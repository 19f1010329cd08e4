#pragma once
// How the CRI client turns endpoint strings into gRPC targets (gRPC outcomes become kedge errors
// through rpc/grpc_errors.hpp); separate from CriClient so the rule is pinned by unit tests.

#include <string>
#include <string_view>

#include "base/error.hpp"
#include "rpc/grpc_errors.hpp"

namespace kedge::cri {

// The gRPC target for a CRI endpoint: "unix:///run/x.sock", "unix:/run/x.sock" and a bare
// absolute path "/run/x.sock" all name a unix socket. Anything else (tcp://, npipe://, relative
// paths, an empty path) is invalid_argument: edged only talks to a runtime on its own host.
Result<std::string> grpc_target(std::string_view endpoint);

}  // namespace kedge::cri
