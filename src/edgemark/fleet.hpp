#pragma once
// N simulated edge nodes in one process on a few threads: joins them all (or loads their
// certificates from a cache), runs one SimEdge each, and can drop every session at once (a
// reconnect storm). What a benchmark of cloudcore's fan-out drives.

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/error.hpp"
#include "edgemark/sim_edge.hpp"
#include "edgemark/stats.hpp"

namespace kedge::edgemark {

// What a fleet simulates and against which cloud.
struct FleetOptions {
    std::string cloud = "127.0.0.1";
    unsigned short hub_port = 10000;
    unsigned short cert_port = 10002;
    std::string token;  // join token "<ca hash>.<jwt>"
    std::size_t nodes = 1;
    std::string name_prefix = "edgemark-";
    std::string cert_cache_dir;  // empty: no cache
    std::string project_id = std::string(kDefaultProjectId);
    std::chrono::milliseconds heartbeat{15'000};
    net::BackoffOptions reconnect{std::chrono::milliseconds(1000), std::chrono::seconds(30), 2.0,
                                  net::Jitter::full};
    std::size_t max_connecting = 256;  // TCP+TLS+upgrade in flight at once
    std::size_t max_joining = 16;      // /edge.crt requests in flight at once
    std::size_t threads = 2;
};

// The fleet. Owns an io_context and its threads; the public functions are called from one
// controlling thread (main or a test).
class Fleet {
public:
    explicit Fleet(FleetOptions options);
    ~Fleet();
    Fleet(const Fleet&) = delete;
    Fleet& operator=(const Fleet&) = delete;

    // "<prefix><i>" for i in [0, nodes).
    std::string node_name(std::size_t i) const;

    // Fetches and pins the CA, then gets every node's certificate (cache first). Blocks. Fails
    // when the CA cannot be fetched or pinned, or any node cannot join (the first error).
    Result<void> join();
    // Starts every node's connect loop (after join()).
    void start();
    // Drops every session at once; nodes reconnect after their backoff.
    void storm();
    // Stops every node and waits (bounded) for their loops to end.
    void stop();

    std::size_t size() const { return edges_.size(); }
    const SimEdge& edge(std::size_t i) const { return *edges_.at(i); }
    FleetStats& stats() { return *stats_; }
    // Nodes whose last resync completed at or after t.
    std::size_t level_since(std::chrono::steady_clock::time_point t) const;
    // When every node had resynced at or after t: the latest of their level times.
    std::optional<std::chrono::steady_clock::time_point> all_level_since(
        std::chrono::steady_clock::time_point t) const;

    // Joined nodes that came from the cache.
    std::size_t cached_joins() const { return cached_joins_; }

    struct Impl;

private:
    FleetOptions options_;
    std::shared_ptr<FleetStats> stats_;
    std::unique_ptr<Impl> impl_;
    std::vector<std::shared_ptr<SimEdge>> edges_;
    std::size_t cached_joins_ = 0;
};

}  // namespace kedge::edgemark
