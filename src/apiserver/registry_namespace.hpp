#pragma once
// Internal to the registry: namespace lifecycle (NamespaceLifecycle admission, Terminating
// namespaces, the finalize subresource) and the garbage-collection finalizers a DELETE adds
// (kube-apiserver's propagationPolicy handling). Not for other libraries.

#include <boost/json/object.hpp>

#include <string>
#include <string_view>
#include <vector>

#include "apiserver/registry.hpp"

namespace kedge::apiserver::detail {

inline constexpr std::string_view kFinalizerOrphan = "orphan";
inline constexpr std::string_view kFinalizerForeground = "foregroundDeletion";
inline constexpr std::string_view kFinalizerKubernetes = "kubernetes";

inline bool is_namespace_type(const ResourceType& t) {
    return t.group.empty() && t.resource == "namespaces";
}
// A v1 Namespace object (by apiVersion/kind).
bool is_namespace_object(const boost::json::object& obj);

// default, kube-system, kube-public and kube-node-lease may never be deleted.
bool is_immortal_namespace(std::string_view name);

// NamespaceLifecycle admission of a create of `name` (may be empty: generateName) of a namespaced
// type in `ns`: 404 when the namespace does not exist, 403 (with a NamespaceTerminating cause)
// when it is being terminated.
ApiResult<void> admit_create_in_namespace(storage::Storage& storage, const ResourceType& type,
                                          const std::string& ns, std::string_view name);

// metadata.finalizers after a DELETE with this propagationPolicy ("" = keep what the object
// says): Foreground adds foregroundDeletion, Orphan adds orphan, Background drops both.
std::vector<std::string> deletion_finalizers(const std::vector<std::string>& current,
                                             std::string_view policy);

// A namespace's spec.finalizers ("kubernetes" until the namespace controller is done).
std::vector<std::string> spec_finalizers(const boost::json::object& ns);

// PUT namespaces/<name>/finalize: the stored namespace with spec.finalizers from `body` (the
// rest of the body is ignored, as kube does); 422 for a finalizer that is not a qualified name.
ApiResult<boost::json::object> apply_namespace_finalize(const boost::json::object& current,
                                                        const boost::json::object& body);

// The object may be removed from storage now: being deleted, no finalizers left (for namespaces
// also no spec.finalizers), no grace period pending.
bool ready_to_remove(const boost::json::object& obj);

}  // namespace kedge::apiserver::detail
