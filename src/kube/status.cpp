#include "kube/status.hpp"

#include <boost/json/array.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/string.hpp>

#include "kube/patch.hpp"

namespace kedge::kube {

namespace json = boost::json;

namespace {

// Go's %q for the names that occur here (JSON string escaping is the same for them).
std::string quote(std::string_view s) { return json::serialize(json::string(s)); }

// Go's %#v of a field value.
std::string go_value(const json::value& v) { return json::serialize(v); }

std::string kind_string(std::string_view group, std::string_view kind) {
    std::string out(kind);
    if (!group.empty()) out.append(".").append(group);
    return out;
}

Status make(int code, std::string reason, std::string message) {
    Status s;
    s.code = code;
    s.reason = std::move(reason);
    s.message = std::move(message);
    return s;
}

Status with_resource(Status s, const GroupResource& gr, std::string_view name) {
    s.name = std::string(name);
    s.group = gr.group;
    s.kind = gr.resource;
    return s;
}

std::string str_member(const json::object& o, std::string_view key) {
    const json::value* v = o.if_contains(key);
    return v != nullptr && v->is_string() ? std::string(v->get_string()) : std::string();
}

}  // namespace

std::string GroupResource::to_string() const {
    return group.empty() ? resource : resource + "." + group;
}

json::object Status::to_json() const {
    json::object o;
    o["kind"] = "Status";
    o["apiVersion"] = "v1";
    o["metadata"] = json::object();
    o["status"] = status;
    if (!message.empty()) o["message"] = message;
    if (!reason.empty()) o["reason"] = reason;
    json::object details;
    if (!name.empty()) details["name"] = name;
    if (!group.empty()) details["group"] = group;
    if (!kind.empty()) details["kind"] = kind;
    if (!uid.empty()) details["uid"] = uid;
    if (!causes.empty()) {
        json::array arr;
        for (const auto& c : causes) {
            json::object co;
            if (!c.reason.empty()) co["reason"] = c.reason;
            if (!c.message.empty()) co["message"] = c.message;
            if (!c.field.empty()) co["field"] = c.field;
            arr.push_back(std::move(co));
        }
        details["causes"] = std::move(arr);
    }
    if (retry_after_seconds && *retry_after_seconds > 0) {
        details["retryAfterSeconds"] = *retry_after_seconds;
    }
    if (!details.empty()) o["details"] = std::move(details);
    o["code"] = code;
    return o;
}

std::string Status::to_json_string() const { return json::serialize(to_json()); }

Result<Status> parse_status(const json::value& body) {
    const json::object* o = body.if_object();
    if (o == nullptr) return Error(errc::invalid_argument, "a Status must be a JSON object");
    if (const json::value* k = o->if_contains("kind");
        k != nullptr && !(k->is_string() && k->get_string() == "Status")) {
        return Error(errc::invalid_argument, "not a Status: kind is " + json::serialize(*k));
    }
    Status s;
    s.code = 0;
    if (const json::value* c = o->if_contains("code"); c != nullptr) {
        if (c->is_int64()) {
            s.code = static_cast<int>(c->get_int64());
        } else if (c->is_uint64()) {
            s.code = static_cast<int>(c->get_uint64());
        } else {
            return Error(errc::invalid_argument, "Status code must be a number");
        }
    }
    s.status = str_member(*o, "status");
    s.reason = str_member(*o, "reason");
    s.message = str_member(*o, "message");
    if (const json::value* d = o->if_contains("details"); d != nullptr && d->is_object()) {
        const json::object& det = d->get_object();
        s.name = str_member(det, "name");
        s.group = str_member(det, "group");
        s.kind = str_member(det, "kind");
        s.uid = str_member(det, "uid");
        if (const json::value* r = det.if_contains("retryAfterSeconds"); r && r->is_int64()) {
            s.retry_after_seconds = r->get_int64();
        }
        if (const json::value* cs = det.if_contains("causes"); cs && cs->is_array()) {
            for (const json::value& c : cs->get_array()) {
                if (!c.is_object()) continue;
                const json::object& co = c.get_object();
                s.causes.push_back(
                    {str_member(co, "reason"), str_member(co, "message"), str_member(co, "field")});
            }
        }
    }
    return s;
}

Result<Status> parse_status_body(std::string_view body) {
    boost::system::error_code ec;
    json::value v = json::parse(body, ec);
    if (ec) return Error(errc::parse_error, "Status body is not JSON: " + ec.message());
    return parse_status(v);
}

StatusCause field_invalid(std::string field, const json::value& bad_value,
                          std::string_view detail) {
    std::string msg = "Invalid value: " + go_value(bad_value);
    if (!detail.empty()) msg.append(": ").append(detail);
    return {"FieldValueInvalid", std::move(msg), std::move(field)};
}

StatusCause field_required(std::string field, std::string_view detail) {
    std::string msg = "Required value";
    if (!detail.empty()) msg.append(": ").append(detail);
    return {"FieldValueRequired", std::move(msg), std::move(field)};
}

StatusCause field_forbidden(std::string field, std::string_view detail) {
    std::string msg = "Forbidden";
    if (!detail.empty()) msg.append(": ").append(detail);
    return {"FieldValueForbidden", std::move(msg), std::move(field)};
}

StatusCause field_duplicate(std::string field, const json::value& bad_value) {
    return {"FieldValueDuplicate", "Duplicate value: " + go_value(bad_value), std::move(field)};
}

StatusCause field_not_supported(std::string field, const json::value& bad_value,
                                const std::vector<std::string>& supported) {
    std::string msg = "Unsupported value: " + go_value(bad_value);
    if (!supported.empty()) {
        msg += ": supported values: ";
        for (std::size_t i = 0; i < supported.size(); ++i) {
            if (i > 0) msg += ", ";
            msg += quote(supported[i]);
        }
    }
    return {"FieldValueNotSupported", std::move(msg), std::move(field)};
}

Status status_not_found(const GroupResource& gr, std::string_view name) {
    return with_resource(make(404, "NotFound", gr.to_string() + " " + quote(name) + " not found"),
                         gr, name);
}

Status status_already_exists(const GroupResource& gr, std::string_view name) {
    return with_resource(
        make(409, "AlreadyExists", gr.to_string() + " " + quote(name) + " already exists"), gr,
        name);
}

Status status_conflict(const GroupResource& gr, std::string_view name, std::string_view why) {
    return with_resource(make(409, "Conflict",
                              "Operation cannot be fulfilled on " + gr.to_string() + " " +
                                  quote(name) + ": " + std::string(why)),
                         gr, name);
}

Status status_invalid(std::string_view group, std::string_view kind, std::string_view name,
                      std::vector<StatusCause> causes) {
    std::string msg = kind_string(group, kind) + " " + quote(name) + " is invalid";
    if (!causes.empty()) {
        auto one = [](const StatusCause& c) {
            return c.field.empty() ? c.message : c.field + ": " + c.message;
        };
        msg += ": ";
        if (causes.size() == 1) {
            msg += one(causes[0]);
        } else {
            msg += '[';
            for (std::size_t i = 0; i < causes.size(); ++i) {
                if (i > 0) msg += ", ";
                msg += one(causes[i]);
            }
            msg += ']';
        }
    }
    Status s = make(422, "Invalid", std::move(msg));
    s.name = std::string(name);
    s.group = std::string(group);
    s.kind = std::string(kind);
    s.causes = std::move(causes);
    return s;
}

Status status_expired(std::string_view message) {
    return make(410, "Expired", std::string(message));
}

std::string too_old_resource_version_message(std::uint64_t requested, std::uint64_t oldest) {
    return "too old resource version: " + std::to_string(requested) + " (" +
           std::to_string(oldest) + ")";
}

Status status_gone(std::string_view message) { return make(410, "Gone", std::string(message)); }

Status status_forbidden(const GroupResource& gr, std::string_view name, std::string_view why) {
    std::string msg;
    if (gr.resource.empty()) {
        msg = "forbidden: " + std::string(why);
    } else if (name.empty()) {
        msg = gr.to_string() + " is forbidden: " + std::string(why);
    } else {
        msg = gr.to_string() + " " + quote(name) + " is forbidden: " + std::string(why);
    }
    return with_resource(make(403, "Forbidden", std::move(msg)), gr, name);
}

Status status_unauthorized(std::string_view message) {
    return make(401, "Unauthorized", message.empty() ? "not authorized" : std::string(message));
}

Status status_bad_request(std::string_view message) {
    return make(400, "BadRequest", std::string(message));
}

Status status_method_not_allowed(const GroupResource& gr, std::string_view verb) {
    return with_resource(
        make(405, "MethodNotAllowed",
             std::string(verb) + " is not supported on resources of kind " + quote(gr.to_string())),
        gr, "");
}

Status status_request_entity_too_large(std::string_view message) {
    return make(413, "RequestEntityTooLarge", "Request entity too large: " + std::string(message));
}

Status status_unsupported_media_type(const std::vector<std::string>& accepted) {
    std::string msg =
        "the body of the request was in an unknown format - accepted media types include: ";
    for (std::size_t i = 0; i < accepted.size(); ++i) {
        if (i > 0) msg += ", ";
        msg += accepted[i];
    }
    return make(415, "UnsupportedMediaType", std::move(msg));
}

Status status_service_unavailable(std::string_view message) {
    return make(503, "ServiceUnavailable", std::string(message));
}

Status status_internal_error(std::string_view message) {
    Status s = make(500, "InternalError", "Internal error occurred: " + std::string(message));
    s.causes.push_back({"", std::string(message), ""});
    return s;
}

Status status_timeout(std::string_view message, std::int64_t retry_after_seconds) {
    Status s = make(504, "Timeout", "Timeout: " + std::string(message));
    if (retry_after_seconds > 0) s.retry_after_seconds = retry_after_seconds;
    return s;
}

Status status_too_many_requests(std::string_view message, std::int64_t retry_after_seconds) {
    Status s = make(429, "TooManyRequests", std::string(message));
    if (retry_after_seconds > 0) s.retry_after_seconds = retry_after_seconds;
    return s;
}

Status status_from_error(const Error& e, const GroupResource& gr, std::string_view name) {
    const std::string& d = e.detail.empty() ? e.code.message() : e.detail;
    if (e.code.category() == patch_category()) {
        switch (static_cast<patch_errc>(e.code.value())) {
            case patch_errc::malformed_patch:
                return status_bad_request(d);
            case patch_errc::apply_failed:
                return make(422, "Invalid", d);
            case patch_errc::unsupported_media_type:
                return make(415, "UnsupportedMediaType", d);
            case patch_errc::ok:
                break;
        }
        return status_internal_error(d);
    }
    if (e.code.category() != kedge_category()) return status_internal_error(d);
    switch (static_cast<errc>(e.code.value())) {
        case errc::invalid_argument:
        case errc::parse_error:
            return status_bad_request(d);
        case errc::not_found:
            return gr.resource.empty() ? make(404, "NotFound", d) : status_not_found(gr, name);
        case errc::already_exists:
            return gr.resource.empty() ? make(409, "AlreadyExists", d)
                                       : status_already_exists(gr, name);
        case errc::conflict:
            return gr.resource.empty() ? make(409, "Conflict", d)
                                       : status_conflict(gr, name,
                                                         e.detail.empty() ? kOptimisticLockErrorMsg
                                                                          : std::string_view(d));
        case errc::unauthorized:
            return status_unauthorized();
        case errc::forbidden:
            return status_forbidden(gr, name, d);
        case errc::too_large:
            return status_request_entity_too_large(d);
        case errc::expired:
            return status_expired(d);
        case errc::timeout:
            return status_timeout(d);
        case errc::queue_full:
            return status_too_many_requests(d);
        case errc::unavailable:
        case errc::closed:
            return status_service_unavailable(d);
        default:
            return status_internal_error(d);
    }
}

}  // namespace kedge::kube
