#include "edge/devicetwin/twin_messages.hpp"

#include <boost/json.hpp>

namespace kedge::edge::devicetwin {

namespace json = boost::json;

namespace {

constexpr std::string_view kDevicePrefix = "$hw/events/device/";
constexpr std::string_view kNodePrefix = "$hw/events/node/";

json::object base(std::string_view event_id, std::int64_t now_ms) {
    return json::object{{"event_id", event_id}, {"timestamp", now_ms}};
}

std::int64_t as_int(const json::value* v) {
    if (!v) return 0;
    if (v->is_int64()) return v->as_int64();
    if (v->is_uint64()) return static_cast<std::int64_t>(v->as_uint64());
    if (v->is_double()) return static_cast<std::int64_t>(v->as_double());
    return 0;
}

}  // namespace

TwinTopic parse_topic(std::string_view topic) {
    TwinTopic t;
    if (topic.starts_with(kDevicePrefix)) {
        auto rest = topic.substr(kDevicePrefix.size());
        static constexpr std::pair<std::string_view, TwinTopic::Kind> kSuffixes[] = {
            {"/twin/update", TwinTopic::Kind::twin_update},
            {"/twin/get", TwinTopic::Kind::twin_get},
            {"/state/update", TwinTopic::Kind::state_update}};
        for (auto [suffix, kind] : kSuffixes) {
            if (rest.size() > suffix.size() && rest.ends_with(suffix)) {
                t.kind = kind;
                t.subject = std::string(rest.substr(0, rest.size() - suffix.size()));
                return t;
            }
        }
        return t;
    }
    constexpr std::string_view kMembershipGet = "/membership/get";
    if (topic.starts_with(kNodePrefix)) {
        auto rest = topic.substr(kNodePrefix.size());
        if (rest.size() > kMembershipGet.size() && rest.ends_with(kMembershipGet) &&
            rest.substr(0, rest.size() - kMembershipGet.size()).find('/') ==
                std::string_view::npos) {
            t.kind = TwinTopic::Kind::membership_get;
            t.subject = std::string(rest.substr(0, rest.size() - kMembershipGet.size()));
        }
    }
    return t;
}

std::string device_topic(std::string_view id, std::string_view suffix) {
    return std::string(kDevicePrefix) + std::string(id) + "/" + std::string(suffix);
}

std::string membership_result_topic(std::string_view node) {
    return std::string(kNodePrefix) + std::string(node) + "/membership/get/result";
}

Result<TwinReport> parse_twin_report(std::string_view payload) {
    boost::system::error_code ec;
    auto v = json::parse(payload, ec);
    if (ec) return Error(errc::invalid_argument, "the payload is not JSON: " + ec.message());
    if (!v.is_object()) return Error(errc::invalid_argument, "the payload is not a JSON object");
    const auto& o = v.as_object();
    TwinReport r;
    if (auto* id = o.if_contains("event_id"); id && id->is_string())
        r.event_id = std::string(id->as_string());
    auto* twin = o.if_contains("twin");
    if (!twin || !twin->is_object())
        return Error(errc::invalid_argument, "the payload has no \"twin\" object");
    for (const auto& [key, t] : twin->as_object()) {
        std::string name(key);
        if (!valid_twin_key(name)) return check_reported(name, "x").error();
        if (!t.is_object())
            return Error(errc::invalid_argument, "twin " + name + " is not an object");
        auto* actual = t.as_object().if_contains("actual");
        if (!actual || !actual->is_object())
            return Error(errc::invalid_argument, "twin " + name + " has no actual value");
        auto* value = actual->as_object().if_contains("value");
        if (!value || !value->is_string())
            return Error(errc::invalid_argument, "twin " + name + ": actual.value is not a string");
        std::string text(value->as_string());
        if (auto ok = check_reported(name, text); !ok) return ok.error();
        ReportedValue rv{std::move(text), 0};
        if (auto* meta = actual->as_object().if_contains("metadata"); meta && meta->is_object())
            rv.timestamp = as_int(meta->as_object().if_contains("timestamp"));
        r.twins[name] = std::move(rv);
    }
    return r;
}

Result<void> check_reported(std::string_view name, std::string_view value) {
    if (!valid_twin_key(name))
        return Error(errc::invalid_argument, "twin key \"" + std::string(name) +
                                                 "\" does not match ^[a-zA-Z0-9-_.,:/@#]{1,128}$");
    if (!valid_twin_value(value))
        return Error(errc::invalid_argument, "twin " + std::string(name) + ": value \"" +
                                                 std::string(value) +
                                                 "\" does not match ^[a-zA-Z0-9-_.,:/@#]{1,512}$");
    return {};
}

std::string event_id_of(std::string_view payload) {
    boost::system::error_code ec;
    auto v = json::parse(payload, ec);
    if (ec || !v.is_object()) return {};
    if (auto* id = v.as_object().if_contains("event_id"); id && id->is_string())
        return std::string(id->as_string());
    return {};
}

std::string result_payload(std::string_view event_id, std::int64_t now_ms, std::optional<int> code,
                           std::string_view reason) {
    auto o = base(event_id, now_ms);
    if (code) o["code"] = *code;
    if (!reason.empty()) o["reason"] = reason;
    return json::serialize(o);
}

std::string document_payload(std::string_view event_id, std::int64_t now_ms,
                             const std::map<std::string, std::optional<Twin>>& last,
                             const DeviceRecord& d) {
    json::object twins;
    for (const auto& [name, before] : last) {
        auto it = d.twins.find(name);
        if (it == d.twins.end()) continue;
        json::object doc;
        doc["last"] = before ? json::value(msg_twin_json(*before)) : json::value(nullptr);
        doc["current"] = msg_twin_json(it->second);
        twins[name] = std::move(doc);
    }
    auto o = base(event_id, now_ms);
    o["twin"] = std::move(twins);
    return json::serialize(o);
}

std::optional<std::string> delta_payload(std::string_view event_id, std::int64_t now_ms,
                                         const DeviceRecord& d) {
    json::object twins, delta;
    for (const auto& [name, t] : d.twins) {
        twins[name] = msg_twin_json(t);
        if (t.expected && (!t.actual || t.actual->value != t.expected->value))
            delta[name] = t.expected->value;
    }
    if (delta.empty()) return std::nullopt;
    auto o = base(event_id, now_ms);
    o["twin"] = std::move(twins);
    o["delta"] = std::move(delta);
    return json::serialize(o);
}

std::string get_result_payload(std::string_view event_id, std::int64_t now_ms,
                               const DeviceRecord& d) {
    json::object twins;
    for (const auto& [name, t] : d.twins) twins[name] = msg_twin_json(t);
    auto o = base(event_id, now_ms);
    o["twin"] = std::move(twins);
    return json::serialize(o);
}

std::string membership_payload(std::string_view event_id, std::int64_t now_ms,
                               const std::vector<const DeviceRecord*>& devices) {
    json::array list;
    for (const auto* d : devices) {
        auto dj = device_json(*d);
        list.push_back(std::move(dj));
    }
    auto o = base(event_id, now_ms);
    o["devices"] = std::move(list);
    return json::serialize(o);
}

json::object edge_updated_content(std::string_view event_id, std::int64_t now_ms,
                                  const DeviceRecord& d, const std::vector<std::string>& props) {
    json::object twins;
    for (const auto& name : props) {
        auto it = d.twins.find(name);
        if (it == d.twins.end() || !it->second.actual) continue;
        const auto& t = it->second;
        twins[name] = json::object{
            {"actual",
             json::object{{"value", t.actual->value},
                          {"metadata", json::object{{"timestamp", t.actual->timestamp}}}}},
            {"optional", t.optional},
            {"metadata", json::object{{"type", t.type}}}};
    }
    auto o = base(event_id, now_ms);
    o["twin"] = std::move(twins);
    return o;
}

json::object state_content(std::string_view event_id, std::int64_t now_ms, const DeviceRecord& d) {
    auto o = base(event_id, now_ms);
    o["state"] = d.state;
    o["last_online"] = d.last_online;
    return o;
}

}  // namespace kedge::edge::devicetwin
