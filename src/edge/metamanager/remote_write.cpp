#include "edge/metamanager/remote_write.hpp"

#include <boost/json.hpp>

#include <random>

#include "base/uuid.hpp"
#include "bus/constants.hpp"
#include "bus/resource.hpp"
#include "kube/status.hpp"

namespace kedge::edge {

namespace json = boost::json;

namespace {

constexpr std::string_view kSource = "metamanager";

std::string random_suffix() {
    static constexpr char kAlphabet[] = "bcdfghjklmnpqrstvwxz2456789";
    thread_local std::mt19937 rng{std::random_device{}()};
    std::uniform_int_distribution<int> pick(0, sizeof(kAlphabet) - 2);
    std::string s;
    for (int i = 0; i < 5; ++i) s += kAlphabet[pick(rng)];
    return s;
}

Result<json::object> parse_object(const std::string& body) {
    boost::system::error_code ec;
    auto v = json::parse(body, ec);
    if (ec || !v.is_object())
        return Error(errc::invalid_argument, "the request body is not a JSON object");
    return std::move(v.as_object());
}

std::string resource_of(const MetaKey& key, std::string_view type) {
    return bus::format_resource(key.ns == "null" ? std::string_view{} : std::string_view(key.ns),
                                type, key.name);
}

// {"status": <status of body>} for a PUT on .../status.
Result<std::string> status_patch_from_object(const std::string& body) {
    auto obj = parse_object(body);
    if (!obj) return obj.error();
    auto it = obj->find("status");
    if (it == obj->end()) return Error(errc::invalid_argument, "the object has no status");
    return json::serialize(json::object{{"status", it->value()}});
}

int code_for(const std::string& text) {
    static const std::pair<std::string_view, int> kByClass[] = {
        {"(kedge: not found)", 404},        {"(kedge: already exists)", 409},
        {"(kedge: conflict)", 409},         {"(kedge: invalid argument)", 400},
        {"(kedge: parse error)", 400},      {"(kedge: forbidden)", 403},
        {"(kedge: unauthorized)", 401},     {"(kedge: unavailable)", 503},
        {"(kedge: timed out)", 504},        {"(kedge: too large)", 413},
    };
    for (auto [marker, code] : kByClass)
        if (text.find(marker) != std::string::npos) return code;
    if (text.find(" may not ") != std::string::npos) return 403;
    return 500;
}

std::string reason_for(int code) {
    switch (code) {
        case 400: return "BadRequest";
        case 401: return "Unauthorized";
        case 403: return "Forbidden";
        case 404: return "NotFound";
        case 409: return "Conflict";
        case 413: return "RequestEntityTooLarge";
        case 503: return "ServiceUnavailable";
        case 504: return "Timeout";
        default: return "InternalError";
    }
}

}  // namespace

Result<bus::Message> remote_write_message(const RemoteWrite& w, const std::string& node) {
    const std::string& type = w.key.type;
    if (w.subresource == "status" && (type == bus::kResPod || type == bus::kResNode)) {
        std::string patch = w.body;
        if (w.verb == "update") {
            auto p = status_patch_from_object(w.body);
            if (!p) return p.error();
            patch = std::move(*p);
        } else if (w.verb != "patch") {
            return Error(errc::invalid_argument, "the status subresource takes only PUT and PATCH");
        } else if (w.patch_type.find("json-patch") != std::string::npos) {
            return Error(errc::invalid_argument,
                         "the edge forwards status changes as strategic-merge or merge patches; "
                         "JSON patches are not supported");
        }
        auto resource = type == bus::kResPod ? resource_of(w.key, bus::kResPodPatch)
                                             : bus::format_resource({}, bus::kResNodePatch, w.key.name);
        return bus::Message::make(std::string(kSource), std::string(bus::kGroupResource),
                                  std::string(bus::kOpPatch), std::move(resource),
                                  bus::Content::from_string(patch));
    }
    if (!w.subresource.empty())
        return Error(errc::invalid_argument,
                     "the edge meta server does not forward writes to the " + w.subresource +
                         " subresource");
    MetaKey key = w.key;
    std::string op;
    bus::Content content;
    if (w.verb == "create" || w.verb == "update") {
        auto obj = parse_object(w.body);
        if (!obj) return obj.error();
        auto& meta = (*obj)["metadata"];
        if (!meta.is_object()) meta = json::object{};
        auto& m = meta.as_object();
        if (w.verb == "create" && key.name.empty()) {
            if (auto n = m.if_contains("name"); n && n->is_string() && !n->as_string().empty()) {
                key.name = std::string(n->as_string());
            } else if (auto g = m.if_contains("generateName"); g && g->is_string()) {
                key.name = std::string(g->as_string()) + random_suffix();
                m["name"] = key.name;
            } else {
                return Error(errc::invalid_argument,
                             "metadata.name or metadata.generateName is required");
            }
        }
        if (key.ns != "null" && !m.contains("namespace")) m["namespace"] = key.ns;
        op = w.verb == "create" ? std::string(bus::kOpInsert) : std::string(bus::kOpUpdate);
        content = bus::Content::encoded(json::value(std::move(*obj)));
    } else if (w.verb == "patch") {
        op = std::string(bus::kOpPatch);
        content = bus::Content::from_string(w.body);
    } else if (w.verb == "delete") {
        op = std::string(bus::kOpDelete);
        if (!w.body.empty()) {
            auto c = bus::Content::from_json(w.body);
            if (!c) return Error(errc::invalid_argument, "the DeleteOptions body is not JSON");
            content = std::move(*c);
        }
    } else {
        return Error(errc::invalid_argument, "unsupported verb " + w.verb);
    }
    (void)node;
    return bus::Message::make(std::string(kSource), std::string(bus::kGroupResource),
                              std::move(op), resource_of(key, type), std::move(content));
}

RemoteResult remote_result(const RemoteWrite& w, const bus::Message& reply) {
    int ok_code = w.verb == "create" ? 201 : 200;
    if (reply.operation() == bus::kOpError) {
        auto text = reply.content.as_string();
        std::string message = text ? *text : reply.content.to_json();
        kube::Status st;
        st.code = code_for(message);
        st.reason = reason_for(st.code);
        st.message = "the cloud refused the write: " + message;
        st.name = w.key.name;
        st.group = w.gvr.group == "core" ? "" : w.gvr.group;
        st.kind = w.gvr.resource;
        return {st.code, st.to_json_string()};
    }
    if (reply.content.string_equals("OK")) {
        if (!w.body.empty() && (w.verb == "create" || w.verb == "update"))
            return {ok_code, w.body};
        kube::Status st;
        st.code = 200;
        st.status = "Success";
        return {200, st.to_json_string()};
    }
    auto v = reply.content.value();
    if (!v || !(*v)->is_object()) {
        kube::Status st;
        st.code = 502;
        st.reason = "InternalError";
        st.message = "the cloud's answer is not an object: " + reply.content.to_json();
        return {502, st.to_json_string()};
    }
    const auto& obj = (*v)->as_object();
    if (obj.contains("Object") || obj.contains("Err")) {
        auto err = obj.if_contains("Err");
        if (err && err->is_object()) {
            if (auto es = err->as_object().if_contains("ErrStatus"); es && es->is_object()) {
                auto st = kube::parse_status(*es);
                int code = st ? st->code : 500;
                return {code, json::serialize(*es)};
            }
        }
        auto o = obj.if_contains("Object");
        if (o && o->is_object()) return {ok_code, json::serialize(*o)};
        kube::Status st;
        st.code = 200;
        st.status = "Success";
        return {200, st.to_json_string()};
    }
    return {ok_code, json::serialize(obj)};
}

}  // namespace kedge::edge
