#pragma once
// Small value types shared by the HTTP server and client: header lists with case-insensitive
// lookup. No Beast or Asio here.

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace kedge::net {

// Header fields in wire order; names compare case-insensitively, repeated names are kept.
using HttpHeaders = std::vector<std::pair<std::string, std::string>>;

bool iequals(std::string_view a, std::string_view b) noexcept;

// The first value of a header, or nullopt when it is absent.
std::optional<std::string> find_header(const HttpHeaders& headers, std::string_view name);

}  // namespace kedge::net
