#include "edge/devicetwin/twin_types.hpp"

#include <boost/json.hpp>

#include <cctype>
#include <charconv>
#include <chrono>
#include <cmath>
#include <ctime>

namespace kedge::edge::devicetwin {

namespace json = boost::json;

namespace {

// The character class of upstream's twin key/value regexes. (In Go's Perl syntax `0-9-_` is a
// range followed by a literal '-' and '_'.)
bool twin_char(char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.' ||
           c == ',' || c == ':' || c == '/' || c == '@' || c == '#';
}

bool twin_text(std::string_view s, std::size_t max) {
    if (s.empty() || s.size() > max) return false;
    for (char c : s)
        if (!twin_char(c)) return false;
    return true;
}

std::string string_field(const json::object& o, std::string_view key) {
    if (auto* v = o.if_contains(key); v && v->is_string()) return std::string(v->as_string());
    return {};
}

std::int64_t int_field(const json::object& o, std::string_view key) {
    auto* v = o.if_contains(key);
    if (!v) return 0;
    if (v->is_int64()) return v->as_int64();
    if (v->is_uint64()) return static_cast<std::int64_t>(v->as_uint64());
    if (v->is_double()) return static_cast<std::int64_t>(v->as_double());
    return 0;
}

json::object value_json(const TwinValue& v) {
    return json::object{{"value", v.value}, {"metadata", json::object{{"timestamp", v.timestamp}}}};
}

json::object version_json(const TwinVersion& v) {
    return json::object{{"cloud", v.cloud}, {"edge", v.edge}};
}

}  // namespace

bool valid_twin_key(std::string_view key) { return twin_text(key, 128); }
bool valid_twin_value(std::string_view value) { return twin_text(value, 512); }

Result<void> check_value_type(std::string_view type, std::string_view value) {
    if (type == "int" || type == "integer") {
        std::int64_t n = 0;
        auto [p, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
        if (ec != std::errc() || p != value.data() + value.size())
            return Error(errc::invalid_argument,
                         "value \"" + std::string(value) + "\" is not an int");
        return {};
    }
    if (type == "float" || type == "double") {
        double d = 0;
        auto [p, ec] = std::from_chars(value.data(), value.data() + value.size(), d);
        if (ec != std::errc() || p != value.data() + value.size() || !std::isfinite(d))
            return Error(errc::invalid_argument,
                         "value \"" + std::string(value) + "\" is not a " + std::string(type));
        return {};
    }
    if (type == "boolean" || type == "bool") {
        if (value != "true" && value != "false")
            return Error(errc::invalid_argument,
                         "value \"" + std::string(value) + "\" is not a boolean (true/false)");
        return {};
    }
    return {};
}

std::string twin_type_of(std::string_view model_type) {
    std::string out;
    for (char c : model_type) out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out.empty() ? "string" : out;
}

json::object msg_twin_json(const Twin& t, bool with_versions) {
    json::object o;
    if (t.expected) o["expected"] = value_json(*t.expected);
    if (t.actual) o["actual"] = value_json(*t.actual);
    o["optional"] = t.optional;
    o["metadata"] = json::object{{"type", t.type}};
    if (with_versions) {
        if (t.expected) o["expected_version"] = version_json(t.expected_version);
        if (t.actual) o["actual_version"] = version_json(t.actual_version);
    }
    return o;
}

json::object device_json(const DeviceRecord& d) {
    json::object attrs;
    for (const auto& [name, a] : d.attributes) {
        attrs[name] = json::object{{"value", a.value},
                                   {"optional", a.optional},
                                   {"metadata", json::object{{"type", a.type}}}};
    }
    json::object twins;
    for (const auto& [name, t] : d.twins) twins[name] = msg_twin_json(t);
    return json::object{{"id", d.id},
                        {"name", d.name},
                        {"description", d.description},
                        {"state", d.state},
                        {"last_online", d.last_online},
                        {"attributes", std::move(attrs)},
                        {"twin", std::move(twins)}};
}

Result<void> apply_msg_twin(Twin& t, const json::object& mt) {
    if (auto* meta = mt.if_contains("metadata"); meta && meta->is_object()) {
        auto type = string_field(meta->as_object(), "type");
        if (!type.empty()) t.type = twin_type_of(type);
    }
    if (auto* opt = mt.if_contains("optional"); opt && opt->is_bool()) t.optional = opt->as_bool();
    if (auto* exp = mt.if_contains("expected"); exp && !exp->is_null()) {
        if (!exp->is_object())
            return Error(errc::invalid_argument, "twin " + t.name + ": expected is not an object");
        auto* value = exp->as_object().if_contains("value");
        if (!value || !value->is_string())
            return Error(errc::invalid_argument,
                         "twin " + t.name + ": expected.value is not a string");
        TwinValue v{std::string(value->as_string()), 0};
        if (auto* meta = exp->as_object().if_contains("metadata"); meta && meta->is_object())
            v.timestamp = int_field(meta->as_object(), "timestamp");
        t.expected = std::move(v);
    }
    return {};
}

Result<DeviceRecord> device_from_json(const json::value& v) {
    if (!v.is_object()) return Error(errc::invalid_argument, "device is not an object");
    const auto& o = v.as_object();
    DeviceRecord d;
    d.id = string_field(o, "id");
    if (d.id.empty()) return Error(errc::invalid_argument, "device has no id");
    d.name = string_field(o, "name");
    d.description = string_field(o, "description");
    d.state = string_field(o, "state");
    d.last_online = string_field(o, "last_online");
    if (auto* attrs = o.if_contains("attributes"); attrs && attrs->is_object()) {
        for (const auto& [name, av] : attrs->as_object()) {
            if (!av.is_object()) continue;
            Attr a;
            a.name = std::string(name);
            a.value = string_field(av.as_object(), "value");
            if (auto* opt = av.as_object().if_contains("optional"); opt && opt->is_bool())
                a.optional = opt->as_bool();
            if (auto* meta = av.as_object().if_contains("metadata"); meta && meta->is_object()) {
                auto type = string_field(meta->as_object(), "type");
                if (!type.empty()) a.type = type;
            }
            d.attributes[a.name] = std::move(a);
        }
    }
    if (auto* twins = o.if_contains("twin"); twins && twins->is_object()) {
        for (const auto& [name, tv] : twins->as_object()) {
            if (!tv.is_object())
                return Error(errc::invalid_argument, "device " + d.id + ": twin " +
                                                         std::string(name) + " is not an object");
            Twin t;
            t.name = std::string(name);
            if (auto r = apply_msg_twin(t, tv.as_object()); !r) return r.error();
            d.twins[t.name] = std::move(t);
        }
    }
    return d;
}

std::string value_meta_text(const TwinValue& v) {
    return "{\"timestamp\":" + std::to_string(v.timestamp) + "}";
}

std::string version_text(const TwinVersion& v) {
    return "{\"cloud\":" + std::to_string(v.cloud) + ",\"edge\":" + std::to_string(v.edge) + "}";
}

TwinVersion parse_version_text(std::string_view text) {
    boost::system::error_code ec;
    auto v = json::parse(text, ec);
    if (ec || !v.is_object()) return {};
    return TwinVersion{int_field(v.as_object(), "cloud"), int_field(v.as_object(), "edge")};
}

std::int64_t parse_meta_timestamp(std::string_view text) {
    boost::system::error_code ec;
    auto v = json::parse(text, ec);
    if (ec || !v.is_object()) return 0;
    return int_field(v.as_object(), "timestamp");
}

std::string rfc3339_now() {
    auto t = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
    std::tm tm{};
    ::gmtime_r(&t, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

}  // namespace kedge::edge::devicetwin
