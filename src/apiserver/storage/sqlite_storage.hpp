#pragma once
// The default kedge-apiserver storage backend: one SQLite file (<data-dir>/state.db) in WAL mode,
// one cluster-wide revision counter, an events table kept for a retention window (the change feed
// and the source of old-revision list snapshots), group commit for concurrent writers.

#include <chrono>
#include <memory>
#include <string>

#include "apiserver/storage/storage.hpp"
#include "base/clock.hpp"

namespace kedge::apiserver::storage {

// What an acknowledged write survives.
enum class Durability {
    // synchronous=FULL: every commit fsyncs the WAL before the write is acknowledged, so it
    // survives kill -9 and power loss (etcd's guarantee). Concurrent writers share one fsync.
    kFull,
    // synchronous=NORMAL: the WAL is written (not fsynced) before the acknowledgement, so a write
    // survives kill -9 of the server but the last commits may be lost on power loss or a kernel
    // crash. Much faster for a single sequential writer.
    kNormal,
};

// Settings of the SQLite backend, with defaults for a single-machine cluster.
struct SqliteOptions {
    std::string data_dir;  // created when missing; the database is data_dir/state.db
    Durability durability = Durability::kFull;
    // Events (the watch/list-at-revision history) older than the last retain_revisions revisions
    // are compacted; also those older than retain_for when it is non-zero.
    std::uint64_t retain_revisions = 10'000;
    std::chrono::seconds retain_for{0};
    int busy_timeout_ms = 5'000;
    // Upper bound of writes committed together by one fsync.
    std::size_t max_batch = 512;
    const Clock* clock = nullptr;  // SystemClock when null; used for event timestamps
};

// SQLite implementation of Storage. Thread-safe: one writer at a time (concurrent writers are
// queued and committed in groups), readers on their own pooled connections. A second process
// opening the same data dir gets errc::unavailable.
class SqliteStorage final : public Storage {
  public:
    static Result<std::unique_ptr<SqliteStorage>> open(SqliteOptions options);
    ~SqliteStorage() override;

    using Storage::create;
    using Storage::update;

    Result<std::uint64_t> create(std::string_view key, const ValueFn& make_value) override;
    Result<KeyValue> get(std::string_view key) override;
    Result<ListResult> list(std::string_view prefix, const ListOptions& options) override;
    Result<std::uint64_t> update(std::string_view key, const ValueFn& make_value,
                                 std::uint64_t expected_mod_rev) override;
    Result<DeleteResult> remove(std::string_view key, std::uint64_t expected_mod_rev) override;
    std::uint64_t current_revision() override;
    std::uint64_t compacted_revision() override;
    Result<std::unique_ptr<Subscription>> watch_from(std::string_view prefix,
                                                     std::uint64_t from_rev,
                                                     WatchCallback callback) override;

    // Drops the history at or below rev (etcd's Compact). errc::invalid_argument for a future
    // revision; a revision at or below the current compaction is a no-op.
    Result<void> compact(std::uint64_t rev);

    // Counters for tests and metrics.
    struct Stats {
        std::uint64_t writes = 0;   // committed write operations
        std::uint64_t commits = 0;  // SQLite transactions (fsyncs with kFull)
    };
    Stats stats() const;

    struct Impl;

  private:
    explicit SqliteStorage(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

}  // namespace kedge::apiserver::storage
