#pragma once
// "host:port" as configuration files write listen and dial addresses ("127.0.0.1:10550",
// "[::1]:10000").

#include <string>
#include <string_view>
#include <utility>

#include "base/error.hpp"

namespace kedge::net {

// host (brackets of an IPv6 literal removed) and port; invalid_argument quoting s otherwise.
Result<std::pair<std::string, unsigned short>> split_host_port(std::string_view s);

}  // namespace kedge::net
