#pragma once
// Kubernetes resource quantities ("100m", "1.5", "128Mi", "1G", "2e3") as exact milli-units,
// the unit kube-scheduler compares cpu in; memory and counts use the same unit so one type
// serves every resource. Pure: no Asio, no allocation beyond error text.

#include <boost/json/fwd.hpp>

#include <cstdint>
#include <string_view>

#include "base/error.hpp"

namespace kedge::kube {

// Saturation bound: quantities larger than this (about 9.2e15 units) compare as equal to it.
inline constexpr std::int64_t kMaxMilli = INT64_MAX;

// The quantity times 1000, rounded up (as resource.Quantity.MilliValue does), saturated at
// kMaxMilli / -kMaxMilli. invalid_argument names the text for anything that is not a quantity
// (empty, "1.2.3", "5Q", "Mi", "1e", spaces).
Result<std::int64_t> parse_quantity_milli(std::string_view text);

// The same for a JSON value: strings are parsed; numbers (a YAML `cpu: 2` sent by kubectl
// before any server normalised it) are taken as plain numbers.
Result<std::int64_t> parse_quantity_milli(const boost::json::value& v);

}  // namespace kedge::kube
