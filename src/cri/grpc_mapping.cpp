#include "cri/grpc_mapping.hpp"

#include <string>

namespace kedge::cri {

errc errc_from_grpc(grpc::StatusCode code) {
    switch (code) {
        case grpc::StatusCode::OK:
            return errc::ok;
        case grpc::StatusCode::NOT_FOUND:
            return errc::not_found;
        case grpc::StatusCode::UNAVAILABLE:
            return errc::unavailable;
        case grpc::StatusCode::DEADLINE_EXCEEDED:
            return errc::timeout;
        case grpc::StatusCode::INVALID_ARGUMENT:
            return errc::invalid_argument;
        case grpc::StatusCode::ALREADY_EXISTS:
            return errc::already_exists;
        case grpc::StatusCode::UNAUTHENTICATED:
            return errc::unauthorized;
        case grpc::StatusCode::PERMISSION_DENIED:
            return errc::forbidden;
        default:
            return errc::io_error;
    }
}

std::string grpc_code_name(grpc::StatusCode code) {
    switch (code) {
        case grpc::StatusCode::OK:
            return "OK";
        case grpc::StatusCode::CANCELLED:
            return "CANCELLED";
        case grpc::StatusCode::UNKNOWN:
            return "UNKNOWN";
        case grpc::StatusCode::INVALID_ARGUMENT:
            return "INVALID_ARGUMENT";
        case grpc::StatusCode::DEADLINE_EXCEEDED:
            return "DEADLINE_EXCEEDED";
        case grpc::StatusCode::NOT_FOUND:
            return "NOT_FOUND";
        case grpc::StatusCode::ALREADY_EXISTS:
            return "ALREADY_EXISTS";
        case grpc::StatusCode::PERMISSION_DENIED:
            return "PERMISSION_DENIED";
        case grpc::StatusCode::RESOURCE_EXHAUSTED:
            return "RESOURCE_EXHAUSTED";
        case grpc::StatusCode::FAILED_PRECONDITION:
            return "FAILED_PRECONDITION";
        case grpc::StatusCode::ABORTED:
            return "ABORTED";
        case grpc::StatusCode::OUT_OF_RANGE:
            return "OUT_OF_RANGE";
        case grpc::StatusCode::UNIMPLEMENTED:
            return "UNIMPLEMENTED";
        case grpc::StatusCode::INTERNAL:
            return "INTERNAL";
        case grpc::StatusCode::UNAVAILABLE:
            return "UNAVAILABLE";
        case grpc::StatusCode::DATA_LOSS:
            return "DATA_LOSS";
        case grpc::StatusCode::UNAUTHENTICATED:
            return "UNAUTHENTICATED";
        default:
            return "code " + std::to_string(static_cast<int>(code));
    }
}

Error rpc_error(grpc::StatusCode code, std::string_view rpc, std::string_view subject,
                std::string_view message) {
    std::string detail(rpc);
    if (!subject.empty()) {
        detail += ' ';
        detail += subject;
    }
    detail += ": ";
    detail += message.empty() ? std::string_view("(no message)") : message;
    detail += " (grpc " + grpc_code_name(code) + ")";
    errc e = errc_from_grpc(code);
    // A failed status that claims OK would otherwise become a success-looking error.
    return Error(e == errc::ok ? errc::io_error : e, std::move(detail));
}

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
