#include "edgemark/stats.hpp"

#include <algorithm>
#include <cstdio>

namespace kedge::edgemark {

namespace {
constexpr std::array<std::string_view, static_cast<std::size_t>(OpKind::kCount)> kOpNames = {
    "insert", "update", "delete", "response", "error", "other"};

double percentile(const std::vector<std::int64_t>& sorted, double p) {
    if (sorted.empty()) return 0;
    // Nearest-rank: the smallest sample with at least p of the samples at or below it.
    auto rank = static_cast<std::size_t>(p * static_cast<double>(sorted.size()) + 0.999999);
    rank = std::clamp<std::size_t>(rank, 1, sorted.size());
    return static_cast<double>(sorted[rank - 1]);
}
}  // namespace

OpKind op_kind(std::string_view operation) {
    for (std::size_t i = 0; i + 1 < kOpNames.size(); ++i)
        if (kOpNames[i] == operation) return static_cast<OpKind>(i);
    return OpKind::kOther;
}

std::string_view op_kind_name(OpKind kind) { return kOpNames[static_cast<std::size_t>(kind)]; }

std::string LatencySummary::to_string() const {
    char buf[160];
    std::snprintf(buf, sizeof buf, "n=%zu p50=%.1fms p90=%.1fms p99=%.1fms max=%.1fms", count,
                  p50_us / 1000, p90_us / 1000, p99_us / 1000, max_us / 1000);
    return buf;
}

void LatencyRecorder::record(std::chrono::microseconds latency) {
    std::lock_guard lock(mutex_);
    if (samples_.size() < max_)
        samples_.push_back(latency.count());
    else
        ++dropped_;
}

LatencySummary LatencyRecorder::summary() const {
    std::vector<std::int64_t> sorted;
    {
        std::lock_guard lock(mutex_);
        sorted = samples_;
    }
    std::sort(sorted.begin(), sorted.end());
    LatencySummary s;
    s.count = sorted.size();
    s.p50_us = percentile(sorted, 0.50);
    s.p90_us = percentile(sorted, 0.90);
    s.p99_us = percentile(sorted, 0.99);
    s.max_us = sorted.empty() ? 0 : static_cast<double>(sorted.back());
    return s;
}

void LatencyRecorder::clear() {
    std::lock_guard lock(mutex_);
    samples_.clear();
    dropped_ = 0;
}

std::uint64_t StatsSnapshot::messages_in_total() const {
    std::uint64_t n = 0;
    for (auto v : messages_in) n += v;
    return n;
}

void FleetStats::count_in(std::string_view operation, std::size_t bytes) {
    messages_in[static_cast<std::size_t>(op_kind(operation))].fetch_add(1,
                                                                        std::memory_order_relaxed);
    bytes_in.fetch_add(bytes, std::memory_order_relaxed);
}

void FleetStats::count_out(std::size_t bytes) {
    messages_out.fetch_add(1, std::memory_order_relaxed);
    bytes_out.fetch_add(bytes, std::memory_order_relaxed);
}

StatsSnapshot FleetStats::snapshot() const {
    StatsSnapshot s;
    auto get = [](const std::atomic<std::uint64_t>& a) {
        return a.load(std::memory_order_relaxed);
    };
    s.joined = get(joined);
    s.join_failures = get(join_failures);
    s.connected = get(connected);
    s.level = get(level);
    s.connects = get(connects);
    s.connect_failures = get(connect_failures);
    s.disconnects = get(disconnects);
    s.resyncs = get(resyncs);
    s.resync_inserted = get(resync_inserted);
    s.resync_updated = get(resync_updated);
    s.resync_deleted = get(resync_deleted);
    s.resync_unchanged = get(resync_unchanged);
    for (std::size_t i = 0; i < s.messages_in.size(); ++i) s.messages_in[i] = get(messages_in[i]);
    s.bytes_in = get(bytes_in);
    s.messages_out = get(messages_out);
    s.bytes_out = get(bytes_out);
    s.acks_sent = get(acks_sent);
    s.keepalives_sent = get(keepalives_sent);
    s.pod_patches_sent = get(pod_patches_sent);
    s.pods_seen = get(pods_seen);
    s.malformed = get(malformed);
    s.send_failures = get(send_failures);
    return s;
}

}  // namespace kedge::edgemark
