#pragma once
// The generic registry of kedge-apiserver: Kubernetes object semantics (create, get, list, update,
// patch, delete, deletecollection, watch, pods/binding, */scale) for any ResourceType, on JSON
// objects kept in a Storage and served to lists and watches from one WatchCache per type. Every
// call is synchronous and thread-safe; the HTTP layer runs them on its blocking-work pool.

#include <boost/json/object.hpp>
#include <boost/system/result.hpp>

#include <functional>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "apiserver/resource_types.hpp"
#include "apiserver/storage/storage.hpp"
#include "apiserver/storage/watch_cache.hpp"
#include "base/clock.hpp"
#include "kube/patch.hpp"
#include "kube/status.hpp"

namespace kedge::apiserver {

// A failed API call: the Status the client receives (code, reason, message, causes).
struct ApiError {
    kube::Status status;
};
[[noreturn]] void throw_exception_from_error(const ApiError& e, const boost::source_location& loc);

template <class T>
using ApiResult = boost::system::result<T, ApiError>;

// What a request addresses: the resource type and, from the URL, the namespace, name and
// subresource ("" for the main resource).
struct Scope {
    ResourceType type;
    std::string namespace_;
    std::string name;
    std::string subresource;
};

// ?fieldValidation= of writes. Warn is kube-apiserver's default.
enum class FieldValidation { kIgnore, kWarn, kStrict };
Result<FieldValidation> parse_field_validation(std::string_view value);

// Options of create/update/patch.
struct WriteOptions {
    FieldValidation field_validation = FieldValidation::kWarn;
    bool dry_run = false;
};

// The answer to a write: the HTTP code (200/201), the JSON body and warnings (sent as
// "Warning: 299 - ..." headers).
struct WriteResult {
    int code = 200;
    std::string body;
    std::vector<std::string> warnings;
};

// Query parameters of list, watch and deletecollection.
struct ListParams {
    std::string label_selector;
    std::string field_selector;
    std::string resource_version;        // "" = most recent, "0" = any
    std::string resource_version_match;  // "", "NotOlderThan", "Exact"
    std::int64_t limit = 0;
    std::string continue_token;
};

// DeleteOptions, from the body and the query.
struct DeleteParams {
    std::optional<std::int64_t> grace_period_seconds;
    std::optional<std::string> precondition_uid;
    std::optional<std::string> precondition_resource_version;
    std::string propagation_policy;  // "", Orphan, Background, Foreground
    bool dry_run = false;
};
// Reads a DeleteOptions body ("" = none) and the query's gracePeriodSeconds/propagationPolicy.
ApiResult<DeleteParams> parse_delete_params(std::string_view body,
                                            std::optional<std::string> grace_query,
                                            std::optional<std::string> propagation_query);

// Settings of one registry.
struct RegistryOptions {
    std::size_t watch_cache_capacity = 1'000;  // events kept per type for watch resumption
    const Clock* clock = nullptr;              // SystemClock when null
};

// The object store of the API server. Owns one WatchCache per resource type (started on first
// use). Thread-safe.
class Registry {
  public:
    Registry(storage::Storage& storage, std::shared_ptr<ResourceTypes> types,
             RegistryOptions options = {});
    ~Registry();
    Registry(const Registry&) = delete;
    Registry& operator=(const Registry&) = delete;

    // Creates default, kube-system, kube-public and kube-node-lease when missing.
    Result<void> ensure_default_namespaces();

    // POST to a collection (and pods/binding).
    ApiResult<WriteResult> create(const Scope& scope, std::string_view body,
                                  const WriteOptions& options = {});
    // GET of one object or of a subresource (scale, status).
    ApiResult<std::string> get(const Scope& scope);
    // GET of a collection: a <Kind>List body.
    ApiResult<std::string> list(const Scope& scope, const ListParams& params);
    // PUT of an object or a subresource (status, scale).
    ApiResult<WriteResult> update(const Scope& scope, std::string_view body,
                                  const WriteOptions& options = {});
    // PATCH of an object or a subresource (status, scale).
    ApiResult<WriteResult> patch(const Scope& scope, kube::PatchType type, std::string_view body,
                                 const WriteOptions& options = {});
    // DELETE of one object: a Status (deleted) or the object (still terminating / finalizers).
    ApiResult<WriteResult> remove(const Scope& scope, const DeleteParams& params);
    // DELETE of a collection: the list of the objects deleted or marked for deletion.
    ApiResult<std::string> delete_collection(const Scope& scope, const ListParams& list,
                                             const DeleteParams& params);

    // Parsed, validated watch parameters. from_revision 0 = current state as ADDED first.
    struct WatchRequest {
        std::uint64_t from_revision = 0;
        std::string key_prefix;
        storage::ObjectFilter filter;
    };
    ApiResult<WatchRequest> prepare_watch(const Scope& scope, const ListParams& params);
    // Registers a watcher (errc::expired -> 410 is in the returned Status).
    ApiResult<std::shared_ptr<storage::Watcher>> watch(const Scope& scope, WatchRequest request,
                                                       std::function<void()> on_ready,
                                                       std::size_t queue_capacity = 1'000);

    // The storage key prefix of a type: "/registry/<resource>/" for core, with the group
    // ("/registry/<group>/<resource>/") for the others.
    static std::string type_prefix(const ResourceType& type);
    // The watch cache of a type, started on first use.
    Result<std::shared_ptr<storage::WatchCache>> cache_for(const ResourceType& type);

    const ResourceTypes& types() const { return *types_; }
    storage::Storage& storage() { return storage_; }

    // Serves the custom resources of every stored, established CustomResourceDefinition (call
    // once at start; later CRD writes through this registry update the served types at once).
    Result<void> load_custom_resources();

    // Stops every watch cache (closes their watchers).
    void stop();

  private:
    // Turns the current object into the one the client asked for (before the registry's rules).
    using Mutate =
        std::function<ApiResult<boost::json::object>(const boost::json::object& current)>;
    // The read-modify-write shared by update, patch, status, scale and binding: preconditions,
    // status/main-resource rules, generation, no-op detection, deletion when the last finalizer
    // goes. Returns the stored object.
    ApiResult<boost::json::object> apply_update(const Scope& scope, const Mutate& mutate,
                                                const WriteOptions& options,
                                                std::vector<std::string>* warnings = nullptr);
    ApiResult<WriteResult> bind(const Scope& scope, std::string_view body,
                                const WriteOptions& options);
    // Object rules that need more than the object: CRD defaulting/validation/status, and the
    // structural schema of custom resources (prune, default, validate). old is null on create.
    ApiResult<void> finalize_object(const ResourceType& type, const boost::json::object* old,
                                    boost::json::object& obj, const WriteOptions& options,
                                    std::vector<std::string>& warnings);
    // After a CRD write or delete: add/replace/remove the custom types it defines.
    void sync_crd(const boost::json::object& crd, bool deleted);
    std::shared_ptr<const void> schema_for(const ResourceType& type) const;

    ApiResult<WriteResult> finish_write(const Scope& scope, ApiResult<boost::json::object> r,
                                        std::vector<std::string> warnings);

    storage::Storage& storage_;
    std::shared_ptr<ResourceTypes> types_;
    RegistryOptions options_;
    std::mutex caches_mu_;
    std::map<std::string, std::shared_ptr<storage::WatchCache>> caches_;
    bool stopped_ = false;
    // Custom types by CRD name -> "group/version/plural" -> crd::StructuralSchema (type-erased so
    // that this header does not include the crd library).
    mutable std::mutex crd_mu_;
    std::map<std::string, std::map<std::string, std::shared_ptr<const void>>> crd_types_;
};

}  // namespace kedge::apiserver
