#pragma once
// edgecore's durable store of everything the cloud sent (PROTOCOL.md §7): SQLite in WAL mode with
// upstream's tables `meta` (key "<ns>/<type>/<name>", type, value) and `meta_v2` (key
// "/<group|core>/<version>/<resource>/<ns|null>/<name|null>", groupversionresource, namespace,
// name, resourceversion, value; column names and the groupversionresource text
// "<group>/<version>, Resource=<resource>" (core group "") are upstream's beego/Go ones, so an
// upstream edgecore reads the file), written together in one transaction, plus kedge's own tables:
// `kedge_outbox` (the latest not-yet-delivered upstream message per object, so status changes made
// offline survive a restart) and `kedge_state` (the resourceVersion high-water mark).
//
// apply() returns only after the transaction is committed (synchronous=FULL), so the caller may
// ack the cloud afterwards and a kill -9 or power loss never loses an acked object. Every
// committed change is also appended to an in-memory change log that the meta server's watches
// read; its positions are tied to the resourceVersion high-water mark so that "watch from
// resourceVersion X" replays a (possibly slightly larger) superset of what changed after X.
//
// Thread-safe: one connection behind a mutex (SQLite work is short; the edge has one writer).
// Subscriber callbacks run on the thread that called apply(), after the commit, without the
// store's lock held; they must be quick (post to your own executor).

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.hpp"
#include "hub/inventory.hpp"

namespace kedge::edge {

// The upstream meta key of one object: "<ns>/<type>/<name>", namespace "null" for
// cluster-scoped objects (PROTOCOL.md §1 "Resource strings", trimmed of "node/<node>/").
struct MetaKey {
    std::string ns;    // "null" for cluster-scoped objects
    std::string type;  // KubeEdge resource type: "pod", "configmap", "node", "devicemodel", ...
    std::string name;

    std::string str() const;  // "<ns>/<type>/<name>"
    // "<ns>/<type>/<name>"; invalid_argument for anything else (fewer parts, empty parts).
    static Result<MetaKey> parse(std::string_view key);
    bool operator==(const MetaKey&) const = default;
};

// Kubernetes identity of a stored object's kind: "core/v1/pods", "apps/v1/deployments",
// "devices.kubeedge.io/v1beta1/devices" (group "core" for the legacy group, as upstream's
// meta_v2 keys do).
struct GroupVersionResource {
    std::string group;        // "core" for the legacy API group
    std::string version;      // "v1"
    std::string resource;     // plural, lower case: "pods", "endpoints", "devicemodels"
    std::string str() const;  // "<group>/<version>/<resource>"
    bool operator==(const GroupVersionResource&) const = default;
};

// From an object's apiVersion and kind ("v1","Pod" -> core/v1/pods; "Endpoints" -> endpoints;
// "NetworkPolicy" -> networkpolicies; "Ingress" -> ingresses). invalid_argument when empty.
Result<GroupVersionResource> gvr_for(std::string_view api_version, std::string_view kind);
// For objects without apiVersion/kind: the GVR of a KubeEdge resource type ("pod" ->
// core/v1/pods, "lease" -> coordination.k8s.io/v1/leases, "device" ->
// devices.kubeedge.io/v1beta1/devices, ...); nullopt for an unknown type.
std::optional<GroupVersionResource> gvr_for_type(std::string_view type);
// The KubeEdge resource type of a GVR's kind: the lower-cased kind ("pods" -> "pod",
// "endpoints" -> "endpoints"); nullopt when the resource is unknown and not derivable.
std::optional<std::string> type_for_resource(std::string_view resource);

// One stored object.
struct MetaObject {
    MetaKey key;
    GroupVersionResource gvr;
    std::uint64_t resource_version = 0;  // metadata.resourceVersion as uint64 (0 if not numeric)
    std::string json;                    // the object as the cloud sent it
};

// One write of a batch given to apply().
struct MetaWrite {
    enum class Op { put, remove };
    Op op = Op::put;
    MetaKey key;
    // put: the object (JSON object text; its apiVersion/kind give the GVR, else the key's type).
    // remove: optional; when it is the deleted object (as the cloud's delete message carries it),
    // its metadata.resourceVersion raises the high-water mark, so that a watch from the RV of a
    // list taken before the delete sees it. Watchers see the last stored value as DELETED.
    std::string json;
};

enum class ChangeKind { added, modified, deleted };

// One committed change, as watchers see it.
struct MetaChange {
    ChangeKind kind = ChangeKind::added;
    MetaObject object;      // for deleted: the last stored value
    std::uint64_t seq = 0;  // position in the change log (local, monotonic, never reused)
};

// The latest undelivered upstream message for one object (kedge_outbox row).
struct OutboxEntry {
    std::string key;        // caller's coalescing key, e.g. "default/podpatch/web-1"
    std::uint64_t seq = 0;  // increases with every outbox_put; used by outbox_remove
    std::string message;    // the encoded bus::Message (bus::encode)
};

struct MetaStoreOptions {
    // Entries the in-memory change log keeps for watches; older resourceVersions get "gone".
    std::size_t change_log_capacity = 4096;
    // SQLite busy timeout (another process holding the file, e.g. a diagnostic sqlite3 shell).
    int busy_timeout_ms = 5000;
};

class MetaStore {
public:
    // Opens or creates the database (parent directory created, mode 0600), WAL, creates the
    // tables when missing, checks integrity (quick_check) and loads the high-water mark.
    // io_error naming the file on failure.
    static Result<std::shared_ptr<MetaStore>> open(const std::filesystem::path& file,
                                                   MetaStoreOptions options = {});
    ~MetaStore();
    MetaStore(const MetaStore&) = delete;
    MetaStore& operator=(const MetaStore&) = delete;

    // Applies every write in ONE committed transaction; on error nothing is applied. Returns the
    // changes that happened (put of a new key = added, of an existing key = modified unless the
    // stored value is byte-identical (then no change), remove of a missing key = no change),
    // after notifying subscribers. invalid_argument for a put whose JSON is not an object.
    Result<std::vector<MetaChange>> apply(std::span<const MetaWrite> writes);

    Result<std::optional<MetaObject>> get(const MetaKey& key) const;
    // Every object of a KubeEdge type, optionally of one namespace ("" = all), by key order.
    Result<std::vector<MetaObject>> list_type(std::string_view type,
                                              std::string_view ns = {}) const;
    // Every object of a GVR, optionally of one namespace ("" = all; "null" = cluster-scoped).
    Result<std::vector<MetaObject>> list_gvr(const GroupVersionResource& gvr,
                                             std::string_view ns = {}) const;
    // The distinct GVRs stored (for discovery of "any other synced resource").
    Result<std::vector<GroupVersionResource>> stored_gvrs() const;
    // What the edge holds, per type, for the resync message (hub/inventory.hpp): "<ns>/<name>"
    // (cluster-scoped: "<name>") -> resourceVersion string as stored in the object.
    Result<hub::Inventory> inventory() const;
    // Number of stored objects.
    Result<std::size_t> size() const;

    // The highest resourceVersion of any object ever stored (persisted; never decreases).
    std::uint64_t high_water_mark() const;

    // ---- outbox: durable latest upstream message per key ----
    // Replaces any earlier entry with the same key (only the latest status matters).
    Result<OutboxEntry> outbox_put(std::string_view key, std::string_view encoded_message);
    // Oldest first.
    Result<std::vector<OutboxEntry>> outbox_list() const;
    // Removes the entry only when its seq is still `seq` (a newer put in the meantime stays).
    Result<void> outbox_remove(std::string_view key, std::uint64_t seq);

    // ---- change log for watches ----
    using Subscriber = std::function<void(const std::vector<MetaChange>&)>;
    class Subscription;  // unsubscribes when destroyed
    // Atomically: the changes after resource version `from_rv` still in the log (replayed from
    // the first change at which the high-water mark reached from_rv, so nothing after from_rv is
    // missed; a few older ones may repeat), and a subscription for every later change.
    // errc::expired ("too old resource version") when the log no longer reaches back that far
    // (entries dropped from the ring, or committed before this process opened the store), which a
    // client answers with a relist (HTTP 410). from_rv > high_water_mark: no replay. from_rv 0:
    // no replay (the caller serves "any version" itself).
    // Known limit: a change that does not raise the high-water mark (a remove without the
    // deleted object's RV) made after a list at RV X and already dropped from the ring when the
    // watch from X arrives is not replayed; pass the deleted object to remove to avoid it.
    // Subscriber callbacks must not call apply() (it returns errc::internal); get/list are fine.
    struct Subscribed {
        std::vector<MetaChange> replay;
        std::unique_ptr<Subscription> subscription;
    };
    Result<Subscribed> subscribe(std::uint64_t from_rv, Subscriber subscriber);

    const std::filesystem::path& path() const;

    struct Impl;

private:
    explicit MetaStore(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

// Keeps a subscriber registered; its destructor waits for a callback running on another thread.
class MetaStore::Subscription {
public:
    Subscription(std::weak_ptr<void> owner, std::uint64_t id) : owner_(std::move(owner)), id_(id) {}
    ~Subscription();
    Subscription(const Subscription&) = delete;
    Subscription& operator=(const Subscription&) = delete;

private:
    std::weak_ptr<void> owner_;
    std::uint64_t id_;
};

}  // namespace kedge::edge
