#pragma once
// The few protobuf request bodies kubectl sends to a server that advertises JSON only: `kubectl
// create rolebinding|clusterrolebinding` encode with client-go's typed clients, always in
// Kubernetes protobuf ("k8s\0" + runtime.Unknown). Decodes those kinds to JSON; everything else
// stays 415.

#include <optional>
#include <string>
#include <string_view>

namespace kedge::apiserver {

// The JSON of a protobuf-encoded RoleBinding or ClusterRoleBinding (rbac.authorization.k8s.io/v1:
// metadata name/generateName/namespace/labels/annotations, subjects, roleRef), or nullopt for
// anything else or malformed bytes.
std::optional<std::string> protobuf_body_to_json(std::string_view body);

}  // namespace kedge::apiserver
