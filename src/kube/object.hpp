#pragma once
// Typed accessors on Kubernetes objects held as JSON documents (the shape client-go calls
// "unstructured"): the fields servers and controllers need, without structs for the whole API.

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <compare>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.hpp"

namespace kedge::kube {

// Labels or annotations as a sorted map; transparent comparator so string_view lookups work.
using Labels = std::map<std::string, std::string, std::less<>>;

// The two halves of an apiVersion: "apps/v1" -> {"apps", "v1"}, "v1" -> {"", "v1"}.
struct GroupVersion {
    std::string group;
    std::string version;

    friend bool operator==(const GroupVersion&, const GroupVersion&) = default;
    // Back to the apiVersion form.
    std::string to_string() const;
};

// One entry of metadata.ownerReferences.
struct OwnerReference {
    std::string api_version;
    std::string kind;
    std::string name;
    std::string uid;
    bool controller = false;
    bool block_owner_deletion = false;
};

// ---- reading (absent or wrongly typed fields read as empty / nullopt, never throw) ----

std::string_view api_version(const boost::json::object& obj);
std::string_view kind(const boost::json::object& obj);
std::string_view name(const boost::json::object& obj);
// metadata.namespace ("namespace" is a keyword).
std::string_view namespace_of(const boost::json::object& obj);
std::string_view uid(const boost::json::object& obj);
std::string_view resource_version(const boost::json::object& obj);
std::string_view generate_name(const boost::json::object& obj);
// metadata.generation; 0 when absent.
std::int64_t generation(const boost::json::object& obj);
// RFC 3339 timestamps as stored; empty / nullopt when absent.
std::string_view creation_timestamp(const boost::json::object& obj);
std::optional<std::string_view> deletion_timestamp(const boost::json::object& obj);

// metadata itself, or nullptr.
const boost::json::object* metadata(const boost::json::object& obj);
// metadata.labels / metadata.annotations as JSON (nullptr when absent); non-string values are
// skipped by the copying forms below.
const boost::json::object* labels_json(const boost::json::object& obj);
Labels labels(const boost::json::object& obj);
Labels annotations(const boost::json::object& obj);
std::optional<std::string_view> label(const boost::json::object& obj, std::string_view key);
std::optional<std::string_view> annotation(const boost::json::object& obj, std::string_view key);
std::vector<OwnerReference> owner_references(const boost::json::object& obj);
// The ownerReference with controller=true, if any.
std::optional<OwnerReference> controller_of(const boost::json::object& obj);
std::vector<std::string> finalizers(const boost::json::object& obj);
bool has_finalizer(const boost::json::object& obj, std::string_view finalizer);

// "<namespace>/<name>" or "<name>" for cluster-scoped objects: the informer cache key.
std::string cache_key(const boost::json::object& obj);

// ---- writing (metadata is created when missing) ----

boost::json::object& ensure_metadata(boost::json::object& obj);
void set_api_version(boost::json::object& obj, std::string_view v);
void set_kind(boost::json::object& obj, std::string_view v);
void set_name(boost::json::object& obj, std::string_view v);
void set_namespace(boost::json::object& obj, std::string_view v);
void set_uid(boost::json::object& obj, std::string_view v);
void set_resource_version(boost::json::object& obj, std::string_view v);
void set_generation(boost::json::object& obj, std::int64_t v);
void set_creation_timestamp(boost::json::object& obj, std::string_view rfc3339);
void set_deletion_timestamp(boost::json::object& obj, std::string_view rfc3339);
void set_label(boost::json::object& obj, std::string_view key, std::string_view value);
void remove_label(boost::json::object& obj, std::string_view key);
void set_annotation(boost::json::object& obj, std::string_view key, std::string_view value);
void remove_annotation(boost::json::object& obj, std::string_view key);
void set_finalizers(boost::json::object& obj, const std::vector<std::string>& finalizers);
// Removes one finalizer; true when it was present.
bool remove_finalizer(boost::json::object& obj, std::string_view finalizer);

// ---- paths, versions ----

// Field lookup by dotted path ("spec.nodeName", "metadata.name"); nullptr when any step is
// absent or not an object. Array elements are addressed by decimal index ("spec.containers.0").
const boost::json::value* get_path(const boost::json::value& v, std::string_view path);
const boost::json::value* get_path(const boost::json::object& obj, std::string_view path);
// The field as text the way field selectors compare it: strings as-is, booleans "true"/"false",
// integers in decimal, null as "". nullopt when absent or an object/array.
std::optional<std::string> get_path_string(const boost::json::value& v, std::string_view path);
std::optional<std::string> get_path_string(const boost::json::object& obj, std::string_view path);

// Splits an apiVersion; invalid_argument for "", "a/b/c", "/v1", "apps/".
Result<GroupVersion> parse_api_version(std::string_view api_version);

// resourceVersions are opaque to clients but kedge (like etcd-backed Kubernetes) issues uint64
// decimals; invalid_argument for anything else, including "".
Result<std::uint64_t> parse_resource_version(std::string_view rv);
Result<std::strong_ordering> compare_resource_versions(std::string_view a, std::string_view b);

// Names of the ConfigMaps and Secrets (in the pod's namespace) a pod references through volumes
// (configMap, secret, projected sources), env valueFrom, envFrom and imagePullSecrets, over
// initContainers, containers and ephemeralContainers. Exactly what cloudcore sends to a node.
struct PodReferences {
    std::set<std::string> config_maps;
    std::set<std::string> secrets;
};
PodReferences referenced_configmaps_and_secrets(const boost::json::object& pod);

// JSON with object keys sorted at every level and whole-number doubles written as integers: the
// same value always gives the same text (template hashes of Deployments and DaemonSets).
std::string canonical_json(const boost::json::value& v);

}  // namespace kedge::kube
