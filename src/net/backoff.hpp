#pragma once
// Delays between reconnect attempts: exponential growth capped at a maximum, with jitter so
// that thousands of edge nodes that lost the cloud at the same moment do not come back in step.
// Pure (no Asio, no clock): the caller sleeps for what next() returns.

#include <chrono>
#include <cstdint>
#include <random>

namespace kedge::net {

enum class Jitter {
    none,          // exactly initial * multiplier^n, capped (tests, deterministic schedules)
    full,          // uniform in [0, capped exponential] (AWS "full jitter")
    decorrelated,  // uniform in [initial, previous * multiplier], capped (AWS "decorrelated")
};

struct BackoffOptions {
    std::chrono::milliseconds initial{1000};
    std::chrono::milliseconds max{30000};
    double multiplier = 2.0;
    Jitter jitter = Jitter::full;
};

// Exponential backoff with jitter; one instance per reconnect loop, not thread-safe.
class Backoff {
public:
    // seed makes the jitter reproducible in tests; production passes std::random_device{}().
    explicit Backoff(BackoffOptions options = {}, std::uint64_t seed = std::random_device{}());

    // The delay before the next attempt; each call grows the ceiling until it reaches max.
    std::chrono::milliseconds next();
    // Back to the initial delay (call after a connection that worked).
    void reset();
    // Attempts since construction or the last reset().
    std::uint32_t attempts() const { return attempts_; }
    const BackoffOptions& options() const { return options_; }

private:
    BackoffOptions options_;
    std::mt19937_64 rng_;
    std::uint32_t attempts_ = 0;
    double ceiling_ms_;   // capped exponential for none/full
    double previous_ms_;  // last delay for decorrelated
};

}  // namespace kedge::net
