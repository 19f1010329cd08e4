#pragma once
// What the simulated fleet measured, shared by every SimEdge of a Fleet: lock-free counters that
// any edge strand bumps, and latency samples behind a small mutex (a few per pod, never on the
// per-frame path).

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace kedge::edgemark {

// Downstream operations counted separately; everything else is kOther.
enum class OpKind : std::size_t { kInsert, kUpdate, kDelete, kResponse, kError, kOther, kCount };
OpKind op_kind(std::string_view operation);
std::string_view op_kind_name(OpKind kind);

// Percentiles of a set of latencies, in microseconds.
struct LatencySummary {
    std::size_t count = 0;
    double p50_us = 0, p90_us = 0, p99_us = 0, max_us = 0;
    // "n=… p50=…ms p90=…ms p99=…ms max=…ms"
    std::string to_string() const;
};

// Latency samples (microseconds). Keeps at most max_samples (the first ones) so a long run
// cannot grow without bound; the count goes on. Thread-safe.
class LatencyRecorder {
public:
    explicit LatencyRecorder(std::size_t max_samples = 1'000'000) : max_(max_samples) {}
    void record(std::chrono::microseconds latency);
    LatencySummary summary() const;
    void clear();

private:
    mutable std::mutex mutex_;
    std::vector<std::int64_t> samples_;
    std::size_t max_;
    std::size_t dropped_ = 0;
};

// A plain copy of FleetStats at one moment.
struct StatsSnapshot {
    std::uint64_t joined = 0, join_failures = 0;
    std::uint64_t connected = 0, level = 0;
    std::uint64_t connects = 0, connect_failures = 0, disconnects = 0;
    std::uint64_t resyncs = 0, resync_inserted = 0, resync_updated = 0, resync_deleted = 0,
                  resync_unchanged = 0;
    std::array<std::uint64_t, static_cast<std::size_t>(OpKind::kCount)> messages_in{};
    std::uint64_t bytes_in = 0, messages_out = 0, bytes_out = 0;
    std::uint64_t acks_sent = 0, keepalives_sent = 0, pod_patches_sent = 0, pods_seen = 0;
    std::uint64_t malformed = 0, send_failures = 0;
    std::uint64_t messages_in_total() const;
};

// Counters of a whole fleet. Gauges (connected, level) go up and down; the rest only grow.
struct FleetStats {
    std::atomic<std::uint64_t> joined{0}, join_failures{0};
    std::atomic<std::uint64_t> connected{0}, level{0};
    std::atomic<std::uint64_t> connects{0}, connect_failures{0}, disconnects{0};
    std::atomic<std::uint64_t> resyncs{0}, resync_inserted{0}, resync_updated{0}, resync_deleted{0},
        resync_unchanged{0};
    std::array<std::atomic<std::uint64_t>, static_cast<std::size_t>(OpKind::kCount)> messages_in{};
    std::atomic<std::uint64_t> bytes_in{0}, messages_out{0}, bytes_out{0};
    std::atomic<std::uint64_t> acks_sent{0}, keepalives_sent{0}, pod_patches_sent{0}, pods_seen{0};
    std::atomic<std::uint64_t> malformed{0}, send_failures{0};

    // Pod creation (kedge.io/created-at, else creationTimestamp) -> arrival at the edge.
    LatencyRecorder pod_latency;
    // Session established -> resync response received.
    LatencyRecorder resync_latency;

    void count_in(std::string_view operation, std::size_t bytes);
    void count_out(std::size_t bytes);
    StatsSnapshot snapshot() const;
};

}  // namespace kedge::edgemark
