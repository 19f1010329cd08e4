#pragma once
// metav1.Status error bodies with kube-apiserver's codes, reasons and messages, and the reverse:
// reading a Status a server sent back.

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.hpp"

namespace kedge::kube {

// One entry of status.details.causes (a field-level validation problem).
struct StatusCause {
    std::string reason;  // e.g. "FieldValueInvalid"
    std::string message;
    std::string field;  // e.g. "metadata.name"
};

// The resource (plural) and API group an error is about: "pods" / "", "deployments" / "apps".
struct GroupResource {
    std::string group;
    std::string resource;
    // "pods", "deployments.apps" (the form kube-apiserver puts in messages).
    std::string to_string() const;
};

// A metav1.Status. code 0 is never sent; reason and message as in kube-apiserver.
struct Status {
    int code = 500;
    std::string status = "Failure";  // "Success" for e.g. a delete that returns a Status
    std::string reason;
    std::string message;
    // details (omitted from JSON when all empty)
    std::string name;
    std::string group;
    std::string kind;
    std::string uid;
    std::vector<StatusCause> causes;
    std::optional<std::int64_t> retry_after_seconds;

    boost::json::object to_json() const;
    std::string to_json_string() const;
};

// Reads a Status body; invalid_argument if it is not one (kind must be "Status" when present,
// code must be a number when present).
Result<Status> parse_status(const boost::json::value& body);
Result<Status> parse_status_body(std::string_view body);

// The usual optimistic-concurrency conflict text.
inline constexpr std::string_view kOptimisticLockErrorMsg =
    "the object has been modified; please apply your changes to the latest version and try again";

// A field error for Invalid: builds message and reason the way apimachinery's field.Error does,
// e.g. field_invalid("metadata.name", "Foo", "must be lowercase") ->
// {reason "FieldValueInvalid", field "metadata.name", message "Invalid value: \"Foo\": must..."}.
StatusCause field_invalid(std::string field, const boost::json::value& bad_value,
                          std::string_view detail);
StatusCause field_required(std::string field, std::string_view detail = {});
StatusCause field_forbidden(std::string field, std::string_view detail);
StatusCause field_duplicate(std::string field, const boost::json::value& bad_value);
StatusCause field_not_supported(std::string field, const boost::json::value& bad_value,
                                const std::vector<std::string>& supported);

// ---- builders (messages match kube-apiserver) ----

// 404: pods "nginx" not found
Status status_not_found(const GroupResource& gr, std::string_view name);
// 409: pods "nginx" already exists
Status status_already_exists(const GroupResource& gr, std::string_view name);
// 409: Operation cannot be fulfilled on pods "x": <why> (why defaults to the optimistic-lock text)
Status status_conflict(const GroupResource& gr, std::string_view name,
                       std::string_view why = kOptimisticLockErrorMsg);
// 422: Pod "x" is invalid: <cause>  or  [<cause>, <cause>]. `kind` is the Kind ("Pod"),
// `group` its API group ("apps" -> "Deployment.apps").
Status status_invalid(std::string_view group, std::string_view kind, std::string_view name,
                      std::vector<StatusCause> causes);
// 410 reason Expired (a watch or list continue from a compacted resourceVersion).
Status status_expired(std::string_view message);
// "too old resource version: 5 (100)", the text of an expired watch.
std::string too_old_resource_version_message(std::uint64_t requested, std::uint64_t oldest);
// 410 reason Gone.
Status status_gone(std::string_view message);
// 403: pods "x" is forbidden: <why> (without name: pods is forbidden: <why>)
Status status_forbidden(const GroupResource& gr, std::string_view name, std::string_view why);
// 401: message defaults to "Unauthorized" as kube-apiserver's authentication filter sends.
Status status_unauthorized(std::string_view message = "Unauthorized");
// 400, message as given.
Status status_bad_request(std::string_view message);
// 405: <verb> is not supported on resources of kind "pods"
Status status_method_not_allowed(const GroupResource& gr, std::string_view verb);
// 413: Request entity too large: <message>
Status status_request_entity_too_large(std::string_view message);
// 415: the body of the request was in an unknown format - accepted media types include: ...
Status status_unsupported_media_type(const std::vector<std::string>& accepted);
// 503, message as given.
Status status_service_unavailable(std::string_view message);
// 500: Internal error occurred: <message>
Status status_internal_error(std::string_view message);
// 504: Timeout: <message>
Status status_timeout(std::string_view message, std::int64_t retry_after_seconds = 0);
// 429: message as given.
Status status_too_many_requests(std::string_view message, std::int64_t retry_after_seconds = 1);

// Maps a kedge Error (kedge::errc or kube::patch_errc) to the Status a server sends: not_found ->
// 404, conflict -> 409, patch errors -> 400/422/415, invalid_argument -> 400, and so on; gr and
// name fill the resource-specific messages when known.
Status status_from_error(const Error& e, const GroupResource& gr = {}, std::string_view name = {});

}  // namespace kedge::kube
