#include "net/host_port.hpp"

#include <charconv>

namespace kedge::net {

Result<std::pair<std::string, unsigned short>> split_host_port(std::string_view s) {
    auto quoted = "\"" + std::string(s) + "\"";
    auto colon = s.rfind(':');
    if (colon == std::string_view::npos || colon == 0)
        return Error(errc::invalid_argument, quoted + " is not host:port");
    auto digits = s.substr(colon + 1);
    unsigned port = 0;
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), port);
    if (digits.empty() || ec != std::errc{} || end != digits.data() + digits.size() || port > 65535)
        return Error(errc::invalid_argument, quoted + " has no valid port");
    std::string host(s.substr(0, colon));
    if (host.size() > 2 && host.front() == '[' && host.back() == ']')
        host = host.substr(1, host.size() - 2);
    return std::pair{host, static_cast<unsigned short>(port)};
}

}  // namespace kedge::net
