#pragma once
// Internal to the etcd backend (etcd_storage.cpp, etcd_watch.cpp): the shared client state and
// helpers. Includes the generated gRPC headers, so only the backend's own sources include it.

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "apiserver/storage/etcd_storage.hpp"
#include "kv.pb.h"
#include "rpc.grpc.pb.h"
#include "rpc.pb.h"

namespace kedge::apiserver::storage {

struct EtcdFeed;

struct EtcdStorage::Impl {
    EtcdOptions options;
    std::string ns;  // options.key_prefix without a trailing '/'
    std::shared_ptr<grpc::Channel> channel;
    std::unique_ptr<etcdserverpb::KV::Stub> kv_stub;
    std::unique_ptr<etcdserverpb::Watch::Stub> watch_stub;
    // The highest revision any response showed us: the base of the ValueFn prediction and the
    // answer of current_revision() when etcd does not answer.
    std::atomic<std::uint64_t> seen_rev{0};
    std::atomic<std::uint64_t> compacted{0};
    std::mutex write_mu;  // held across predict + Txn when options.serialize_writes

    std::unique_lock<std::mutex> write_lock() {
        return options.serialize_writes ? std::unique_lock(write_mu)
                                        : std::unique_lock<std::mutex>();
    }

    // The shared change feed (etcd_watch.cpp): one etcd watcher for all live subscriptions,
    // started by the first watch_from, stopped by ~EtcdStorage.
    std::mutex feed_init_mu;
    std::shared_ptr<EtcdFeed> feed;
    Result<void> ensure_feed();
    void stop_feed();

    // Periodic compaction.
    std::mutex mu;
    std::condition_variable cv;
    bool stopping = false;
    std::thread compactor;

    void saw(std::uint64_t rev) noexcept;
    // A context with the request deadline that waits for a (re)connecting channel.
    std::unique_ptr<grpc::ClientContext> context() const;
    // Runs an idempotent call (reads, compaction), retried with backoff on UNAVAILABLE within
    // the request deadline: a connection that drops under a call (etcd restarting) fails it
    // even with wait_for_ready. Writes are not retried: they may have committed.
    template <typename Call>
    grpc::Status read_call(Call&& call) const {
        const auto deadline = std::chrono::system_clock::now() + options.request_timeout;
        auto backoff = std::chrono::milliseconds(50);
        for (;;) {
            grpc::ClientContext ctx;
            ctx.set_deadline(deadline);
            ctx.set_wait_for_ready(true);
            auto status = call(&ctx);
            if (status.error_code() != grpc::StatusCode::UNAVAILABLE ||
                std::chrono::system_clock::now() + backoff >= deadline) {
                return status;
            }
            std::this_thread::sleep_for(backoff);  // retry backoff, not synchronisation
            backoff = std::min(backoff * 2, std::chrono::milliseconds(1'000));
        }
    }
    // Keys in the caller's space must start with '/' when a namespace is set.
    Result<void> check_key(std::string_view key) const;
    std::string to_etcd(std::string_view key) const { return ns + std::string(key); }
    bool in_namespace(std::string_view etcd_key) const {
        return ns.empty() || (etcd_key.size() > ns.size() && etcd_key.starts_with(ns) &&
                              etcd_key[ns.size()] == '/');
    }
    std::string from_etcd(const std::string& key) const {
        return key.size() >= ns.size() ? key.substr(ns.size()) : key;
    }
    // The etcd [key, range_end) of a caller prefix ("" = the whole namespace).
    std::pair<std::string, std::string> range_of(std::string_view prefix) const;
    KeyValue to_kv(const mvccpb::KeyValue& kv) const;
    // Range of one point key at rev (0 = latest): errc::expired when compacted.
    Result<std::uint64_t> probe(std::uint64_t rev, bool serializable);
    // Finds etcd's compaction revision (the oldest readable revision) by bisection.
    Result<std::uint64_t> refresh_compacted();
    Result<void> compact(std::uint64_t rev);
    void compaction_loop();
};

// Maps a failed call to an Error: compacted -> expired, future revision -> timeout (Kubernetes'
// "too large resource version"), deadline -> timeout, unavailable -> unavailable.
Error etcd_error(const grpc::Status& status, std::string_view what);

// Sets metadata.resourceVersion to mod_rev when the stored value carries one that differs (the
// revision predicted at write time lost a race); other values are returned unchanged.
std::string with_real_resource_version(std::string value, std::uint64_t mod_rev);

}  // namespace kedge::apiserver::storage
