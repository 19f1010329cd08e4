#include "rpc/grpc_errors.hpp"

#include <string>

namespace kedge::rpc {

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

grpc::Status status_from_error(const Error& e) {
    grpc::StatusCode code = grpc::StatusCode::INTERNAL;
    if (e.is(errc::invalid_argument) || e.is(errc::parse_error))
        code = grpc::StatusCode::INVALID_ARGUMENT;
    else if (e.is(errc::not_found))
        code = grpc::StatusCode::NOT_FOUND;
    else if (e.is(errc::already_exists))
        code = grpc::StatusCode::ALREADY_EXISTS;
    else if (e.is(errc::timeout))
        code = grpc::StatusCode::DEADLINE_EXCEEDED;
    else if (e.is(errc::unavailable) || e.is(errc::closed))
        code = grpc::StatusCode::UNAVAILABLE;
    else if (e.is(errc::unauthorized))
        code = grpc::StatusCode::UNAUTHENTICATED;
    else if (e.is(errc::forbidden))
        code = grpc::StatusCode::PERMISSION_DENIED;
    return grpc::Status(code, e.detail.empty() ? e.message() : e.detail);
}

}  // namespace kedge::rpc
