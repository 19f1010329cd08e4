#include "cloud/devicecontroller/device_messages.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <cctype>
#include <charconv>
#include <cstdio>
#include <ctime>

#include "base/base64.hpp"
#include "base/uuid.hpp"
#include "bus/constants.hpp"
#include "bus/resource.hpp"
#include "kube/object.hpp"
#include "kube/time.hpp"

namespace kedge::cloud::devicecontroller {

namespace json = boost::json;

namespace {

constexpr std::size_t kMaxPropertyName = 128;
constexpr std::size_t kMaxValue = 512;

const json::array* properties_of(const json::object& obj) {
    const auto* v = kube::get_path(obj, "spec.properties");
    return v ? v->if_array() : nullptr;
}

const json::object* model_property(const json::object* model, std::string_view name) {
    if (!model) return nullptr;
    const auto* props = properties_of(*model);
    if (!props) return nullptr;
    for (const auto& p : *props) {
        const auto* o = p.if_object();
        if (!o) continue;
        const auto* n = o->if_contains("name");
        if (n && n->is_string() && n->get_string() == name) return o;
    }
    return nullptr;
}

std::string lower(std::string_view s) {
    std::string out(s);
    for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

// upstream's twin key rule: ^[a-zA-Z0-9-_.,:/@#]{1,128}$.
bool valid_property_name(std::string_view s) {
    if (s.empty() || s.size() > kMaxPropertyName) return false;
    for (char c : s) {
        if (std::isalnum(static_cast<unsigned char>(c))) continue;
        if (std::string_view("-_.,:/@#").find(c) == std::string_view::npos) return false;
    }
    return true;
}

// A scalar as the string the twin stores ("23.5", "true").
std::optional<std::string> scalar_text(const json::value& v) {
    if (v.is_string()) return std::string(v.get_string());
    if (v.is_double()) {
        // Shortest round-trip form ("3.5"), not Boost.JSON's "3.5E0".
        char buf[64];
        auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v.get_double());
        if (ec == std::errc{}) return std::string(buf, end);
        return std::nullopt;
    }
    if (v.is_int64() || v.is_uint64() || v.is_bool()) return json::serialize(v);
    return std::nullopt;
}

json::object msg_twin_expected(const std::string& value, std::string_view type,
                               std::int64_t now_ms) {
    json::object twin{{"expected", json::object{{"value", value},
                                                {"metadata", json::object{{"timestamp", now_ms}}}}},
                      {"optional", false}};
    if (!type.empty()) twin["metadata"] = json::object{{"type", type}};
    return twin;
}

json::object base_content(const Clock& clock) {
    return json::object{{"event_id", new_uuid()}, {"timestamp", clock.unix_millis()}};
}

// upstream's "2006-01-02 15:04:05" (edgecore's last_online), taken as UTC.
std::optional<std::string> from_upstream_time(std::string_view s) {
    int y, mo, d, h, mi, se;
    char tail;
    std::string text(s);
    if (std::sscanf(text.c_str(), "%4d-%2d-%2d %2d:%2d:%2d%c", &y, &mo, &d, &h, &mi, &se, &tail) !=
        6)
        return std::nullopt;
    if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 60 || y < 1970)
        return std::nullopt;
    char buf[32];
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02dZ", y, mo, d, h, mi, se);
    return std::string(buf);
}

}  // namespace

// ---- reading objects ----

std::string node_of(const json::object& device) {
    return kube::get_path_string(device, "spec.nodeName").value_or("");
}

std::string model_key_of(const json::object& device) {
    auto model = kube::get_path_string(device, "spec.deviceModelRef.name").value_or("");
    if (model.empty()) return {};
    return std::string(kube::namespace_of(device)) + "/" + model;
}

std::map<std::string, std::string> desired_values(const json::object& device) {
    std::map<std::string, std::string> out;
    const auto* props = properties_of(device);
    if (!props) return out;
    for (const auto& p : *props) {
        const auto* o = p.if_object();
        if (!o) continue;
        const auto* n = o->if_contains("name");
        if (!n || !n->is_string()) continue;
        const auto* v = kube::get_path(*o, "desired.value");
        if (!v) continue;
        if (auto text = scalar_text(*v)) out[std::string(n->get_string())] = *text;
    }
    return out;
}

std::string twin_type(const json::object* model, std::string_view property) {
    const auto* p = model_property(model, property);
    if (!p) return {};
    const auto* t = p->if_contains("type");
    return t && t->is_string() ? lower(t->get_string()) : std::string();
}

// ---- downstream ----

bus::Message object_message(std::string_view operation, std::string_view type,
                            const json::object& obj, const Clock& clock) {
    auto msg =
        bus::Message::make(std::string(bus::kModuleDeviceController),
                           std::string(bus::kGroupResource), std::string(operation),
                           bus::format_resource(kube::namespace_of(obj), type, kube::name(obj)),
                           bus::Content::encoded(json::value(obj)), clock);
    msg.header.resource_version = std::string(kube::resource_version(obj));
    return msg;
}

json::object membership_device(const json::object& device, const json::object* model,
                               std::int64_t now_ms) {
    std::string ns(kube::namespace_of(device)), name(kube::name(device));
    json::object d{{"id", ns + "/" + name}, {"name", name}};
    if (auto desc = kube::annotation(device, "description"); desc && !desc->empty())
        d["description"] = *desc;
    if (auto st = kube::get_path_string(device, "status.state"); st && !st->empty())
        d["state"] = *st;
    if (auto lo = kube::get_path_string(device, "status.lastOnlineTime"); lo && !lo->empty())
        d["last_online"] = *lo;
    d["attributes"] = json::object{};
    json::object twin;
    auto desired = desired_values(device);
    if (const auto* props = properties_of(device)) {
        for (const auto& p : *props) {
            const auto* o = p.if_object();
            const auto* n = o ? o->if_contains("name") : nullptr;
            if (!n || !n->is_string()) continue;
            std::string prop(n->get_string());
            std::string type = twin_type(model, prop);
            if (auto it = desired.find(prop); it != desired.end()) {
                twin[prop] = msg_twin_expected(it->second, type, now_ms);
            } else {
                json::object t{{"optional", false}};
                if (!type.empty()) t["metadata"] = json::object{{"type", type}};
                twin[prop] = std::move(t);
            }
        }
    }
    d["twin"] = std::move(twin);
    return d;
}

json::object removed_device(std::string_view ns, std::string_view name) {
    return json::object{{"id", std::string(ns) + "/" + std::string(name)}, {"name", name}};
}

bus::Message membership_update(json::array added, json::array removed, const Clock& clock) {
    auto content = base_content(clock);
    content["added_devices"] = std::move(added);
    content["removed_devices"] = std::move(removed);
    return bus::Message::make(std::string(bus::kModuleDeviceController),
                              std::string(bus::kGroupTwin), std::string(bus::kOpUpdate),
                              std::string(bus::kResMembership),
                              bus::Content::from_value(std::move(content)), clock);
}

bus::Message cloud_updated(const json::object& device, const json::object* model,
                           const std::vector<std::string>& properties, const Clock& clock) {
    auto desired = desired_values(device);
    const auto now_ms = clock.unix_millis();
    json::object twin;
    for (const auto& p : properties) {
        auto it = desired.find(p);
        twin[p] = msg_twin_expected(it == desired.end() ? std::string() : it->second,
                                    twin_type(model, p), now_ms);
    }
    auto content = base_content(clock);
    content["twin"] = std::move(twin);
    bus::DeviceResource res{
        {std::string(kube::namespace_of(device)), std::string(kube::name(device))},
        std::string(bus::kResTwinCloudUpdated)};
    return bus::Message::make(std::string(bus::kModuleDeviceController),
                              std::string(bus::kGroupTwin), std::string(bus::kOpUpdate),
                              bus::format_device_resource(res),
                              bus::Content::from_value(std::move(content)), clock);
}

bus::Message detail_response(const bus::Message& request, json::array devices, const Clock& clock) {
    auto content = base_content(clock);
    content["devices"] = std::move(devices);
    auto msg = bus::make_response(request, bus::Content::from_value(std::move(content)), clock);
    msg.route.source = std::string(bus::kModuleDeviceController);
    msg.route.destination.clear();
    return msg;
}

bus::Message reply(const bus::Message& request, std::string_view text, bool error,
                   const Clock& clock) {
    auto content = bus::Content::from_string(text);
    auto msg = error ? bus::make_error_response(request, std::move(content), clock)
                     : bus::make_response(request, std::move(content), clock);
    msg.route.source = std::string(bus::kModuleDeviceController);
    msg.route.destination.clear();
    return msg;
}

// ---- upstream ----

Result<json::value> content_json(const bus::Message& msg) {
    auto v = msg.content.value();
    if (!v) return v.error();
    const json::value& value = **v;
    if (value.is_object()) return value;
    if (value.is_string()) {
        std::string_view text = value.get_string();
        boost::system::error_code ec;
        auto parsed = json::parse(text, ec);
        if (!ec && parsed.is_object()) return parsed;
        std::string decoded;
        if (base64_decode(text, decoded)) {
            parsed = json::parse(decoded, ec);
            if (!ec && parsed.is_object()) return parsed;
        }
    }
    return Error(errc::invalid_argument,
                 "the content of " + msg.resource() + " is not a JSON object");
}

Result<std::map<std::string, TwinReport>> parse_edge_updated(const json::value& content) {
    const auto* obj = content.if_object();
    const auto* twin_v = obj ? obj->if_contains("twin") : nullptr;
    const auto* twin = twin_v ? twin_v->if_object() : nullptr;
    if (!twin) return Error(errc::invalid_argument, "twin/edge_updated: no \"twin\" object");
    std::map<std::string, TwinReport> out;
    for (const auto& [key, value] : *twin) {
        std::string prop(key);
        if (!valid_property_name(prop))
            return Error(errc::invalid_argument, "twin/edge_updated: invalid property name \"" +
                                                     prop.substr(0, 140) +
                                                     "\" (1-128 of a-z A-Z 0-9 - _ . , : / @ #)");
        const auto* t = value.if_object();
        if (!t) {
            // A null twin deletes it upstream; the cloud has nothing to record for it.
            if (value.is_null()) continue;
            return Error(errc::invalid_argument,
                         "twin/edge_updated: property " + prop + " is not an object");
        }
        TwinReport r;
        if (const auto* actual = t->if_contains("actual"); actual && actual->is_object()) {
            if (const auto* v = actual->as_object().if_contains("value"); v && !v->is_null()) {
                auto text = scalar_text(*v);
                if (!text)
                    return Error(errc::invalid_argument, "twin/edge_updated: property " + prop +
                                                             ": actual.value is not a string");
                if (text->size() > kMaxValue)
                    return Error(errc::invalid_argument,
                                 "twin/edge_updated: property " + prop + ": value longer than " +
                                     std::to_string(kMaxValue) + " characters");
                r.value = std::move(*text);
            }
            if (const auto* ts = kube::get_path(*actual, "metadata.timestamp")) {
                if (ts->is_int64())
                    r.timestamp_ms = ts->get_int64();
                else if (ts->is_uint64())
                    r.timestamp_ms = static_cast<std::int64_t>(ts->get_uint64());
                else if (ts->is_double())
                    r.timestamp_ms = static_cast<std::int64_t>(ts->get_double());
            }
        }
        if (auto type = kube::get_path_string(value, "metadata.type")) r.type = *type;
        out[prop] = std::move(r);
    }
    return out;
}

Result<StateReport> parse_state_update(const json::value& content, Clock::time_point now) {
    const auto* obj = content.if_object();
    if (!obj) return Error(errc::invalid_argument, "state/update: content is not an object");
    const auto* st = obj->if_contains("state");
    if (!st || !st->is_string() || st->get_string().empty())
        return Error(errc::invalid_argument, "state/update: no \"state\" string");
    if (st->get_string().size() > 64)
        return Error(errc::invalid_argument, "state/update: state longer than 64 characters");
    StateReport r;
    r.state = std::string(st->get_string());
    if (const auto* lo = obj->if_contains("last_online");
        lo && lo->is_string() && !lo->get_string().empty()) {
        std::string_view text = lo->get_string();
        if (auto t = kube::parse_time(text)) {
            r.last_online = kube::format_time(*t);
        } else if (auto u = from_upstream_time(text)) {
            r.last_online = *u;
        } else {
            return Error(errc::invalid_argument,
                         "state/update: last_online \"" + std::string(text.substr(0, 64)) +
                             "\" is neither RFC 3339 nor \"2006-01-02 15:04:05\"");
        }
    }
    if (r.last_online.empty() && r.state == "online") r.last_online = kube::format_time(now);
    return r;
}

void PendingStatus::merge(PendingStatus other) {
    for (auto& [k, v] : other.twins) twins[k] = std::move(v);
    if (other.state) {
        if (other.state->last_online.empty() && state)
            other.state->last_online = state->last_online;
        state = std::move(other.state);
    }
}

json::object status_patch(const json::object& device, const json::object* model,
                          const PendingStatus& pending, std::int64_t now_ms) {
    json::object status;
    if (!pending.twins.empty()) {
        auto desired = desired_values(device);
        // The spec's desired metadata (string values only, as the schema has it).
        auto desired_meta = [&](const std::string& prop) {
            json::object meta;
            const auto* props = properties_of(device);
            if (!props) return meta;
            for (const auto& p : *props) {
                const auto* o = p.if_object();
                const auto* n = o ? o->if_contains("name") : nullptr;
                if (!n || !n->is_string() || n->get_string() != prop) continue;
                if (const auto* m = kube::get_path(*o, "desired.metadata"); m && m->is_object())
                    for (const auto& [k, v] : m->get_object())
                        if (v.is_string()) meta[k] = v;
            }
            return meta;
        };
        auto entry = [&](const std::string& prop, const TwinReport& r) {
            json::object reported_meta{
                {"timestamp", std::to_string(r.timestamp_ms ? r.timestamp_ms : now_ms)}};
            std::string type = r.type.empty() ? twin_type(model, prop) : r.type;
            if (!type.empty()) reported_meta["type"] = type;
            json::object reported{{"metadata", std::move(reported_meta)}};
            if (r.value) reported["value"] = *r.value;
            json::object e{{"propertyName", prop}, {"reported", std::move(reported)}};
            if (auto it = desired.find(prop); it != desired.end())
                e["observedDesired"] =
                    json::object{{"value", it->second}, {"metadata", desired_meta(prop)}};
            return e;
        };
        json::array twins;
        std::map<std::string, bool> done;
        if (const auto* cur = kube::get_path(device, "status.twins"); cur && cur->is_array()) {
            for (const auto& t : cur->get_array()) {
                const auto* o = t.if_object();
                const auto* n = o ? o->if_contains("propertyName") : nullptr;
                if (!n || !n->is_string()) continue;
                std::string prop(n->get_string());
                if (done.contains(prop)) continue;
                done[prop] = true;
                auto it = pending.twins.find(prop);
                twins.push_back(it == pending.twins.end() ? t
                                                          : json::value(entry(prop, it->second)));
            }
        }
        for (const auto& [prop, r] : pending.twins)
            if (!done.contains(prop)) twins.push_back(entry(prop, r));
        status["twins"] = std::move(twins);
    }
    if (pending.state) {
        status["state"] = pending.state->state;
        if (!pending.state->last_online.empty())
            status["lastOnlineTime"] = pending.state->last_online;
    }
    return json::object{{"status", std::move(status)}};
}

}  // namespace kedge::cloud::devicecontroller
