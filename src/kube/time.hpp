#pragma once
// metav1.Time on the wire: RFC 3339 in UTC with second precision ("2026-11-24T21:00:00Z"), and
// MicroTime (Lease renewTime, Event eventTime) with microseconds.

#include <string>
#include <string_view>

#include "base/clock.hpp"
#include "base/error.hpp"

namespace kedge::kube {

// "2026-11-24T21:00:00Z".
std::string format_time(Clock::time_point t);
// "2026-11-24T21:00:00.123456Z".
std::string format_micro_time(Clock::time_point t);
// Accepts RFC 3339 with or without fractional seconds, "Z" or a numeric offset;
// invalid_argument otherwise.
Result<Clock::time_point> parse_time(std::string_view text);

}  // namespace kedge::kube
