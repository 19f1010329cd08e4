#pragma once
// The Kubernetes calls keadm makes, as plain blocking functions: each runs kube::client on a
// private io_context until it finishes or its deadline passes. The CLI has nothing else to do
// while it waits, so blocking keeps the commands simple.

#include <boost/json/object.hpp>

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "base/error.hpp"

namespace kedge::keadm {

// Polls GET /readyz through the kubeconfig until it answers 200 or the deadline passes (the
// kubeconfig file may appear only while waiting).
Result<void> wait_api_ready(const std::filesystem::path& kubeconfig,
                            std::chrono::milliseconds deadline);

// The YAML documents of a manifest file as JSON objects (empty documents skipped). Plain scalars
// become booleans, null and numbers where they parse as such, as the Kubernetes decoder does.
Result<std::vector<boost::json::object>> load_manifests(const std::filesystem::path& file);

// What ensure_crd did.
enum class CrdOutcome { kCreated, kUnchanged, kUpdated };

// Creates the CRD when missing; with replace=true an existing one is updated to crd's spec.
// Then waits (up to deadline) until its Established condition is True.
Result<CrdOutcome> ensure_crd(const std::filesystem::path& kubeconfig,
                              const boost::json::object& crd, bool replace,
                              std::chrono::milliseconds deadline);

// The token in Secret kubeedge/tokensecret (key tokendata); nullopt when the Secret or the key
// is not there yet.
Result<std::optional<std::string>> read_token(const std::filesystem::path& kubeconfig);

}  // namespace kedge::keadm
