#pragma once
// Internal to kube_client: the pure pieces of Client (error mapping, watch line parsing, query
// escaping), separate so unit tests can drive them with inputs a real server never sends.

#include <string>
#include <string_view>

#include "base/error.hpp"
#include "kube/client/client.hpp"

namespace kedge::kube::client::detail {

// The errc an HTTP status (and, for 409, the Status reason) stands for; see client.hpp.
errc errc_for_status(int code, std::string_view reason);

// The Error for a non-2xx response: the Status message as detail when the body is a Status,
// else "<method> <target>: HTTP <code>: <start of the body>".
Error error_from_response(int code, std::string_view body, const std::string& method,
                          const std::string& target);

// One watch line {"type":..., "object":{...}}; parse_error for anything else. Objects of
// ADDED/MODIFIED/DELETED get apiVersion/kind from r when they lack them.
Result<WatchEvent> parse_watch_event(std::string_view line, const ApiResource& r);

// Percent-encoding of a query parameter value (unreserved characters kept).
std::string query_escape(std::string_view s);

}  // namespace kedge::kube::client::detail
