#include "apiserver/crd/field_validation.hpp"

namespace kedge::apiserver::crd {

Result<FieldValidation> parse_field_validation(std::string_view value) {
    if (value.empty() || value == "Warn") return FieldValidation::kWarn;
    if (value == "Ignore") return FieldValidation::kIgnore;
    if (value == "Strict") return FieldValidation::kStrict;
    return Error(errc::invalid_argument,
                 "fieldValidation parameter unsupported: " + std::string(value) +
                     ", must be one of: Ignore, Warn, Strict");
}

std::string unknown_field_warning(std::string_view path) {
    return "unknown field \"" + std::string(path) + "\"";
}

kube::Status strict_decoding_error(const std::vector<std::string>& pruned) {
    std::string message = "strict decoding error: ";
    for (std::size_t i = 0; i < pruned.size(); ++i) {
        if (i > 0) message += ", ";
        message += unknown_field_warning(pruned[i]);
    }
    return kube::status_bad_request(message);
}

}  // namespace kedge::apiserver::crd
