#pragma once
// Time spans as they appear in config files: `Duration` speaks Go's time.Duration syntax
// ("10s", "1m30s", "500ms"), `Seconds` is a plain integer count of seconds (upstream fields such
// as edgeHub.heartbeat). Distinct types make the unit of each config field explicit.

#include "base/error.hpp"

#include <chrono>
#include <compare>
#include <string>
#include <string_view>

namespace kedge {

// A Go-style duration: nanosecond resolution, parsed from and printed in time.Duration syntax.
class Duration {
public:
    constexpr Duration() = default;
    template <class Rep, class Period>
    constexpr Duration(std::chrono::duration<Rep, Period> d)  // NOLINT: implicit on purpose
        : ns_(std::chrono::duration_cast<std::chrono::nanoseconds>(d)) {}

    constexpr std::chrono::nanoseconds value() const { return ns_; }
    constexpr operator std::chrono::nanoseconds() const { return ns_; }  // NOLINT
    constexpr std::int64_t count_ns() const { return ns_.count(); }

    // Go's time.ParseDuration: "[-+]?([0-9]*(\.[0-9]*)?unit)+" with units ns, us (µs, μs), ms,
    // s, m, h, or the bare "0". Errors are errc::parse_error with the reason.
    static Result<Duration> parse(std::string_view text);

    // Go's Duration.String(): "0s", "1.5s", "1m30s", "1h0m0s", "500ms", "2µs".
    std::string to_string() const;

    friend constexpr auto operator<=>(const Duration&, const Duration&) = default;

private:
    std::chrono::nanoseconds ns_{0};
};

// A whole number of seconds, written as a plain integer (upstream's "seconds" fields). Parsing
// also accepts a Go duration string when it is a whole number of seconds ("15s", "2m").
class Seconds {
public:
    constexpr Seconds() = default;
    constexpr explicit Seconds(std::int64_t s) : s_(s) {}
    constexpr Seconds(std::chrono::seconds s) : s_(s) {}  // NOLINT: implicit on purpose

    constexpr std::chrono::seconds value() const { return s_; }
    constexpr operator std::chrono::seconds() const { return s_; }  // NOLINT
    constexpr std::int64_t count() const { return s_.count(); }

    static Result<Seconds> parse(std::string_view text);
    // The integer, e.g. "15".
    std::string to_string() const;

    friend constexpr auto operator<=>(const Seconds&, const Seconds&) = default;

private:
    std::chrono::seconds s_{0};
};

}  // namespace kedge
