#pragma once
// Time source interface so heartbeats, leases, token expiry and backoff can be tested with a
// FakeClock instead of sleeping.

#include <atomic>
#include <chrono>

namespace kedge {

class Clock {
public:
    using duration = std::chrono::nanoseconds;
    using time_point = std::chrono::time_point<std::chrono::system_clock, duration>;

    virtual ~Clock() = default;
    // Wall-clock time (certificate validity, timestamps on the wire).
    virtual time_point now() const = 0;
    // Monotonic time for intervals; never jumps.
    virtual std::chrono::steady_clock::time_point steady_now() const = 0;

    // Milliseconds since the Unix epoch, the unit of message timestamps on the wire.
    std::int64_t unix_millis() const {
        return std::chrono::duration_cast<std::chrono::milliseconds>(now().time_since_epoch())
            .count();
    }
};

// The real clock.
class SystemClock final : public Clock {
public:
    time_point now() const override { return std::chrono::system_clock::now(); }
    std::chrono::steady_clock::time_point steady_now() const override {
        return std::chrono::steady_clock::now();
    }
    // A process-wide instance for code that is not handed a clock.
    static const SystemClock& instance();
};

// A clock that only moves when a test advances it. Thread-safe reads.
class FakeClock final : public Clock {
public:
    explicit FakeClock(time_point start = time_point(std::chrono::seconds(1'700'000'000)))
        : wall_(start.time_since_epoch().count()) {}
    time_point now() const override { return time_point(duration(wall_.load())); }
    std::chrono::steady_clock::time_point steady_now() const override {
        return std::chrono::steady_clock::time_point(
            std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                duration(steady_.load())));
    }
    void advance(duration d) {
        wall_ += d.count();
        steady_ += d.count();
    }
    // Moves only the wall clock, as an NTP step would.
    void set_wall(time_point t) { wall_ = t.time_since_epoch().count(); }

private:
    std::atomic<std::int64_t> wall_;
    std::atomic<std::int64_t> steady_{0};
};

}  // namespace kedge
