#pragma once
// Replies of the meta manager that other edge modules act on (header-only, no link needed).

#include <string_view>

namespace kedge::edge {

// The `error` reply to a sync update the cloud did not get now but that the outbox will deliver
// after reconnect (node registration treats it as done: the outbox keeps the order).
inline constexpr std::string_view kQueuedForDelivery = "cloud not connected; queued for delivery";

}  // namespace kedge::edge
