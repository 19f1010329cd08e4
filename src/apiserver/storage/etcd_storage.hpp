#pragma once
// The etcd v3 storage backend of kedge-apiserver (--storage etcd): the same Storage interface as
// SqliteStorage, on a real etcd cluster over gRPC. Writes are etcd transactions guarded on the
// key's create/mod revision, the change feed is an etcd Watch stream, compaction is etcd's.

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "apiserver/storage/storage.hpp"

namespace kedge::apiserver::storage {

// Settings of the etcd backend.
struct EtcdOptions {
    // Client URLs: "http://127.0.0.1:2379" (several = one cluster; IPv4 literals only when more
    // than one). TLS (https://) is not supported yet.
    std::vector<std::string> endpoints;
    // Prepended to every key in etcd and stripped on read, so several clusters (or test runs)
    // can share one etcd, like kube-apiserver's --etcd-prefix. Empty = keys as given. When set,
    // keys must start with '/'; a trailing '/' is dropped.
    std::string key_prefix;
    std::chrono::milliseconds dial_timeout{5'000};      // open() waits this long for etcd
    std::chrono::milliseconds request_timeout{10'000};  // deadline of each unary call
    // Periodic compaction keeping the last compaction_retain revisions; 0 = off.
    std::chrono::seconds compaction_interval{0};
    std::uint64_t compaction_retain = 10'000;
    // One write in flight at a time from this client, so the revision handed to a ValueFn is
    // exactly the one the write gets (unless another etcd client writes). Costs concurrency:
    // measured here ~0.8 ms per write sequentially vs ~0.35 ms with 16 concurrent writers.
    bool serialize_writes = false;
    // The change feed watches the whole etcd keyspace and drops other keys locally, so writes
    // by other etcd users (another key prefix) still advance the feed's progress revision and
    // a watch cache's "most recent" list never waits for a revision it cannot see. When etcd is
    // shared with heavy foreign writers, true limits the stream to key_prefix; such writes then
    // make those lists wait the cache's fresh_timeout and fall back to storage.
    bool feed_namespace_only = false;
};

// etcd implementation of Storage. Thread-safe; every call is one synchronous gRPC round trip (the
// failure branch of each write transaction reads the key, so a refused write needs no second
// call). All live subscriptions share one etcd Watch stream and its reader thread.
//
// resourceVersion: etcd assigns the revision at commit, and no transaction can be guarded on
// the global revision, so a value cannot be made for its exact revision in advance. ValueFn is
// called with a prediction (the last revision this client saw + 1, exact when no other write
// commits in between), and every value read back (get, list, watch events) whose metadata has a
// resourceVersion gets it set to the key's real mod_revision, as kube-apiserver does on decode.
// So stored objects always read with resourceVersion == mod_rev; only the bytes a ValueFn made
// during a write race may carry the predicted number (callers answer with the returned revision,
// or set serialize_writes).
class EtcdStorage final : public Storage {
public:
    // Connects and checks that etcd answers within dial_timeout. errc::invalid_argument for bad
    // options, errc::unavailable when etcd does not answer.
    static Result<std::unique_ptr<EtcdStorage>> open(EtcdOptions options);
    ~EtcdStorage() override;

    using Storage::create;
    using Storage::update;

    Result<std::uint64_t> create(std::string_view key, const ValueFn& make_value) override;
    Result<KeyValue> get(std::string_view key) override;
    Result<ListResult> list(std::string_view prefix, const ListOptions& options) override;
    Result<std::uint64_t> update(std::string_view key, const ValueFn& make_value,
                                 std::uint64_t expected_mod_rev) override;
    Result<DeleteResult> remove(std::string_view key, std::uint64_t expected_mod_rev) override;
    // etcd's header revision (1 for a fresh etcd: its first write is revision 2). On an error
    // the last revision seen is returned.
    std::uint64_t current_revision() override;
    std::uint64_t compacted_revision() override;
    // Progress advances on every etcd write (see feed_namespace_only), not only on the
    // prefix's. Callbacks run on the shared feed's thread (or, while a subscription reads older
    // history, on its catch-up stream's thread); streams reconnect from the last revision they
    // handed on when etcd restarts. Subscriptions stop receiving when the storage is destroyed.
    Result<std::unique_ptr<Subscription>> watch_from(std::string_view prefix,
                                                     std::uint64_t from_rev,
                                                     WatchCallback callback) override;

    // etcd Compact. errc::invalid_argument for a future revision; a revision at or below the
    // current compaction is a no-op.
    Result<void> compact(std::uint64_t rev);

    struct Impl;

private:
    explicit EtcdStorage(std::shared_ptr<Impl> impl);
    std::shared_ptr<Impl> impl_;
};

}  // namespace kedge::apiserver::storage
