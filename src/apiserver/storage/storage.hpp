#pragma once
// The storage interface behind kedge-apiserver: a revisioned key-value store with etcd v3
// semantics (one cluster-wide revision, mod/create revisions per key, prefix ranges with limits,
// a change feed from a revision, compaction). Backends: SQLite (sqlite_storage.hpp); etcd later.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.hpp"

namespace kedge::apiserver::storage {

// One stored key with the revision of its last write (= the object's resourceVersion) and the
// revision that created it.
struct KeyValue {
    std::string key;
    std::string value;
    std::uint64_t mod_rev = 0;
    std::uint64_t create_rev = 0;
};

// Produces the bytes to store for the revision being written. Backends call it exactly once per
// attempt, inside the write, so the stored JSON can carry metadata.resourceVersion == mod_rev.
// An error aborts the write and is returned to the caller unchanged.
using ValueFn = std::function<Result<std::string>(std::uint64_t rev)>;

// The read-modify-write step of guaranteed_update: given the current object and the revision the
// write will get, the new bytes (or an error, which stops the update).
using UpdateFn = std::function<Result<std::string>(const KeyValue& current, std::uint64_t rev)>;

// A range read: keys starting with a prefix, in key order, optionally paged and at an old revision.
struct ListOptions {
    std::size_t limit = 0;     // 0 = no limit
    std::string continue_key;  // first key to return (inclusive); empty = from the prefix start
    std::uint64_t at_revision = 0;  // 0 = latest; otherwise the state as of this revision
};

// A page of a range read. revision is the snapshot the page was read at: pass it back as
// at_revision with next_key as continue_key to get the next page of the same snapshot.
struct ListResult {
    std::vector<KeyValue> items;
    std::uint64_t revision = 0;
    bool more = false;
    std::string next_key;  // set when more: last returned key + '\0'
};

// The result of a delete: the last state of the key and the revision of the delete.
struct DeleteResult {
    KeyValue prev;
    std::uint64_t rev = 0;
};

enum class EventType { kAdded, kModified, kDeleted };

const char* to_string(EventType t) noexcept;

// One committed write. For kDeleted, value is empty, prev_value holds the last state and mod_rev
// is the revision of the delete. create_rev is the key's create revision (of the deleted
// generation for kDeleted).
struct Event {
    EventType type = EventType::kAdded;
    std::string key;
    std::string value;
    std::string prev_value;
    std::uint64_t mod_rev = 0;
    std::uint64_t create_rev = 0;
    std::uint64_t prev_mod_rev = 0;  // 0 for kAdded
};

// Receives committed events in revision order: a batch (possibly empty) and the store revision
// the subscriber is now up to date with (progress, usable for bookmarks). Called on a writer
// thread, never concurrently for one subscription; it must not call back into Storage writes and
// should return quickly (hand off, do not block).
using WatchCallback =
    std::function<void(const std::vector<Event>& events, std::uint64_t progress_rev)>;

// A live change-feed registration; destroying it (or cancel()) stops the callbacks. After
// cancel() returns, the callback is not running and will not run again.
class Subscription {
  public:
    virtual ~Subscription() = default;
    virtual void cancel() = 0;
};

// The storage interface. All calls are synchronous and thread-safe (the server runs them on its
// worker pool). Keys look like "/registry/pods/<ns>/<name>", values are JSON object text.
class Storage {
  public:
    virtual ~Storage() = default;

    // errc::already_exists when the key is live.
    virtual Result<std::uint64_t> create(std::string_view key, const ValueFn& make_value) = 0;
    Result<std::uint64_t> create(std::string_view key, std::string value);

    // errc::not_found when absent.
    virtual Result<KeyValue> get(std::string_view key) = 0;

    // errc::expired when at_revision is older than the compacted revision; errc::timeout
    // ("too large resource version") when it is newer than the current revision.
    virtual Result<ListResult> list(std::string_view prefix, const ListOptions& options) = 0;

    // expected_mod_rev 0 = unconditional. errc::not_found when absent, errc::conflict when the
    // key's mod_rev differs from expected_mod_rev.
    virtual Result<std::uint64_t> update(std::string_view key, const ValueFn& make_value,
                                         std::uint64_t expected_mod_rev) = 0;
    Result<std::uint64_t> update(std::string_view key, std::string value,
                                 std::uint64_t expected_mod_rev);

    // Deletes with a precondition on the current mod_rev (0 = unconditional).
    virtual Result<DeleteResult> remove(std::string_view key, std::uint64_t expected_mod_rev) = 0;

    // The revision of the last committed write (0 for an empty store).
    virtual std::uint64_t current_revision() = 0;
    // Events at or below this revision are gone: watch_from / list at older revisions fail.
    virtual std::uint64_t compacted_revision() = 0;

    // Delivers every committed event with rev > from_rev whose key starts with prefix, first the
    // retained history, then live. errc::expired when from_rev < compacted_revision().
    virtual Result<std::unique_ptr<Subscription>> watch_from(std::string_view prefix,
                                                             std::uint64_t from_rev,
                                                             WatchCallback callback) = 0;

    // get + fn + conditional update, retried on conflict (another writer won the race). Returns
    // the stored state. errc::not_found when the key is absent; fn's errors pass through.
    Result<KeyValue> guaranteed_update(std::string_view key, const UpdateFn& fn,
                                       int max_attempts = 16);
};

// The smallest key greater than every key starting with prefix ("" = no upper bound), as etcd's
// WithPrefix computes it.
std::string prefix_end(std::string_view prefix);

// Sets metadata.resourceVersion of a JSON object to rev (as the decimal string Kubernetes uses).
// errc::parse_error when json is not a JSON object.
Result<std::string> set_resource_version(std::string_view json, std::uint64_t rev);

// A ValueFn that stores json with metadata.resourceVersion set to the revision being written.
ValueFn with_resource_version(std::string json);

}  // namespace kedge::apiserver::storage
