#pragma once
// The watch cache of one resource type (one key prefix): the current objects in memory, sorted by
// key, plus a ring buffer of recent events, fed by the storage change feed. It serves lists and
// watches so that thousands of watchers never reach storage, and answers errc::expired (HTTP 410)
// for revisions older than its window, like kube-apiserver's cacher.

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "apiserver/storage/storage.hpp"
#include "base/clock.hpp"

namespace kedge::apiserver::storage {

// Label and field values of an object, computed once per write so that thousands of filtered
// watchers do not each parse the JSON.
struct ObjectAttrs {
    std::map<std::string, std::string, std::less<>> labels;
    // Selectable fields: "metadata.name", "metadata.namespace" by default, more from an AttrsFn.
    std::map<std::string, std::string, std::less<>> fields;
};

// An immutable cached object, shared by the cache, list results and every watcher's queue.
struct Object {
    std::string key;
    std::string value;  // JSON; metadata.resourceVersion == mod_rev
    std::uint64_t mod_rev = 0;
    std::uint64_t create_rev = 0;
    ObjectAttrs attrs;
};
using ObjectPtr = std::shared_ptr<const Object>;

// Computes the attributes of an object from its key and JSON.
using AttrsFn = std::function<ObjectAttrs(std::string_view key, std::string_view value)>;
// metadata.labels, metadata.name and metadata.namespace (a value that is not JSON has none).
ObjectAttrs default_attrs(std::string_view key, std::string_view value);

// One event as watchers see it. For kDeleted, object is the last state with its
// resourceVersion set to the revision of the delete (what Kubernetes sends).
struct WatchEvent {
    EventType type = EventType::kAdded;
    ObjectPtr object;
    ObjectPtr prev_object;  // null for kAdded and synthetic events
    std::uint64_t revision = 0;
};
using WatchEventPtr = std::shared_ptr<const WatchEvent>;

// Selects objects for a list or a watch (label/field selectors); empty = everything.
using ObjectFilter = std::function<bool(const Object&)>;

// Settings of one watch cache.
struct WatchCacheOptions {
    std::string prefix;                 // e.g. "/registry/pods/"
    std::size_t capacity = 1'000;       // events kept for watch resumption
    std::chrono::seconds max_age{300};  // events older than this are dropped too (0 = never)
    // How long a list waits for the cache to reach a requested resourceVersion.
    std::chrono::milliseconds fresh_timeout{3'000};
    AttrsFn attrs;                 // default_attrs when empty
    const Clock* clock = nullptr;  // SystemClock when null
};

// resourceVersionMatch of a list.
enum class RvMatch { kNotOlderThan, kExact };

// A list request with Kubernetes resourceVersion semantics.
struct CacheListOptions {
    // nullopt = most recent (consistent with storage); 0 = any (whatever the cache has).
    std::optional<std::uint64_t> resource_version;
    RvMatch match = RvMatch::kNotOlderThan;
    std::string key_prefix;  // inside the cache prefix, e.g. one namespace; empty = all
    std::size_t limit = 0;   // 0 = no limit
    // From a continue token: the next key and the snapshot revision of the first page.
    std::string continue_key;
    std::uint64_t continue_rev = 0;
    ObjectFilter filter;
};

// A page of a list. next_key + revision go into the continue token when more is set.
struct CacheListResult {
    std::vector<ObjectPtr> items;
    std::uint64_t revision = 0;
    bool more = false;
    std::string next_key;
    bool from_storage = false;  // served by storage (exact revision or continue)
};

// A watch request.
struct WatchOptions {
    // Events after this revision; 0 = the current state as synthetic ADDED events, then live.
    std::uint64_t from_revision = 0;
    std::string key_prefix;  // inside the cache prefix; empty = all
    ObjectFilter filter;
    // Live events queued for this watcher beyond which it is terminated as too slow.
    std::size_t queue_capacity = 1'000;
    // Called (from a writer thread, with cache locks held) when events become available or the
    // watcher is closed. It must only signal (post to an executor, notify); never call back into
    // the cache or the watcher from it.
    std::function<void()> on_ready;
};

class WatchCache;
class Watcher;

namespace detail {
// The part of a cache its watchers share: they unregister through it, so a watcher may outlive
// its cache or be destroyed on any thread while the cache dispatches.
struct WatchRegistry {
    std::mutex mu;  // the cache lock: guards the cache state and this map
    std::uint64_t revision = 0;
    std::unordered_map<std::uint64_t, Watcher*> watchers;  // not owning
};
}  // namespace detail

// One watch: a bounded queue the cache fills and the server drains. Never blocks the cache; a
// watcher whose queue is full is closed with errc::queue_full (the client re-watches from the
// last revision it saw, as with kube-apiserver).
class Watcher {
  public:
    ~Watcher();
    Watcher(const Watcher&) = delete;
    Watcher& operator=(const Watcher&) = delete;

    // Removes up to max queued events, oldest first.
    std::vector<WatchEventPtr> take(std::size_t max = SIZE_MAX);
    // Blocks until an event is queued or the watcher is closed, or the timeout passes (for
    // thread-based consumers and tests). True when take() or closed() has news.
    bool wait_for(std::chrono::milliseconds timeout);
    // Terminated (too slow, cache stopped) or stopped. Queued events can still be taken.
    bool closed() const;
    // Why the watcher was terminated; nullopt when open or stopped by its owner.
    std::optional<Error> error() const;
    // The revision a BOOKMARK may carry now: every event up to it has been taken. nullopt while
    // events are still queued.
    std::optional<std::uint64_t> bookmark_revision() const;
    // Unregisters from the cache; idempotent (also done by the destructor). Not from inside
    // on_ready.
    void stop();

  private:
    friend class WatchCache;
    Watcher(std::shared_ptr<detail::WatchRegistry> registry, std::uint64_t id, WatchOptions options,
            std::uint64_t from_rev);
    void unregister();
    // Filters/converts ev for this watcher and queues it; false when the queue overflowed.
    bool offer(const WatchEventPtr& ev);
    void queue_initial(const WatchEventPtr& ev);
    void close(std::optional<Error> reason);
    WatchEventPtr convert(const WatchEventPtr& ev) const;

    std::shared_ptr<detail::WatchRegistry> registry_;
    std::uint64_t id_;
    WatchOptions options_;
    std::uint64_t from_rev_;
    mutable std::mutex mu_;
    std::condition_variable cv_;
    std::deque<WatchEventPtr> initial_;  // replay and synthetic events: not capacity bound
    std::deque<WatchEventPtr> queue_;    // live events: bounded by options_.queue_capacity
    bool closed_ = false;
    std::optional<Error> error_;
};

// The cache of one resource prefix. Create with start(); thread-safe.
class WatchCache {
  public:
    // Loads the objects as of (up to) capacity revisions ago and replays the events since, so
    // watchers that resume after a server restart find their revision in the window.
    static Result<std::shared_ptr<WatchCache>> start(Storage& storage, WatchCacheOptions options);
    ~WatchCache();
    WatchCache(const WatchCache&) = delete;
    WatchCache& operator=(const WatchCache&) = delete;

    // Stops the feed and closes every watcher with errc::closed. Idempotent.
    void stop();

    // errc::timeout when the requested resourceVersion is not reached within fresh_timeout
    // ("too large resource version"); errc::expired for an exact revision or continue token
    // older than storage's history; errc::invalid_argument for bad combinations.
    Result<CacheListResult> list(const CacheListOptions& options);

    // errc::expired ("too old resource version") when from_revision is older than the window.
    Result<std::shared_ptr<Watcher>> watch(WatchOptions options);

    // The revision the cache is up to date with (progress of the change feed).
    std::uint64_t revision() const;
    // The oldest from_revision a watch can start at.
    std::uint64_t oldest_revision() const;
    std::size_t object_count() const;
    std::size_t watcher_count() const;

  private:
    friend class Watcher;
    WatchCache(Storage& storage, WatchCacheOptions options);
    Result<void> load();
    void on_feed(const std::vector<Event>& events, std::uint64_t progress);
    ObjectPtr make_object(std::string key, std::string value, std::uint64_t mod_rev,
                          std::uint64_t create_rev) const;
    Result<std::string> scope(const std::string& key_prefix) const;
    Result<CacheListResult> list_from_storage(const CacheListOptions& options, std::uint64_t rev,
                                              const std::string& scope);
    const Clock& clock() const;

    Storage& storage_;
    WatchCacheOptions options_;
    std::unique_ptr<Subscription> subscription_;

    std::shared_ptr<detail::WatchRegistry> registry_ = std::make_shared<detail::WatchRegistry>();
    std::mutex& mu_ = registry_->mu;
    std::condition_variable fresh_cv_;
    std::map<std::string, ObjectPtr, std::less<>> objects_;
    struct Buffered {
        WatchEventPtr event;
        std::chrono::steady_clock::time_point at;
    };
    std::deque<Buffered> buffer_;
    std::uint64_t& revision_ = registry_->revision;
    std::uint64_t window_start_ = 0;  // every event after this revision is in buffer_
    // A Watcher unregisters itself (under mu_) when stopped or destroyed.
    std::unordered_map<std::uint64_t, Watcher*>& watchers_ = registry_->watchers;
    std::uint64_t next_watcher_id_ = 1;
    bool stopped_ = false;
};

}  // namespace kedge::apiserver::storage
