#include "cri/grpc_mapping.hpp"

#include <string>

namespace kedge::cri {

Result<std::string> grpc_target(std::string_view endpoint) {
    std::string_view path;
    if (endpoint.starts_with("unix://")) {
        path = endpoint.substr(7);
    } else if (endpoint.starts_with("unix:")) {
        path = endpoint.substr(5);
    } else if (endpoint.starts_with("/")) {
        path = endpoint;
    } else if (endpoint.find("://") != std::string_view::npos) {
        return Error(errc::invalid_argument,
                     "CRI endpoint '" + std::string(endpoint) +
                         "': only unix sockets are supported (unix:///path or /path)");
    } else {
        return Error(errc::invalid_argument, "CRI endpoint '" + std::string(endpoint) +
                                                 "': expected unix:///absolute/path or /path");
    }
    if (path.empty() || !path.starts_with("/")) {
        return Error(errc::invalid_argument, "CRI endpoint '" + std::string(endpoint) +
                                                 "': the socket path must be absolute");
    }
    return "unix:" + std::string(path);
}

}  // namespace kedge::cri
