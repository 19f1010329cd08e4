#include "edge/devicetwin/device_spec.hpp"

#include <boost/json.hpp>

#include <map>
#include <set>

namespace kedge::edge::devicetwin {

namespace json = boost::json;

namespace {

const json::object* object_at(const json::object* o, std::string_view key) {
    if (!o) return nullptr;
    auto* v = o->if_contains(key);
    return v && v->is_object() ? &v->as_object() : nullptr;
}

std::string string_at(const json::object* o, std::string_view key) {
    if (!o) return {};
    auto* v = o->if_contains(key);
    return v && v->is_string() ? std::string(v->as_string()) : std::string();
}

std::int64_t parse_ms(const std::string& s) {
    try {
        return s.empty() ? 0 : std::stoll(s);
    } catch (...) {
        return 0;
    }
}

const json::array* properties(const json::object& obj) {
    auto* spec = object_at(&obj, "spec");
    auto* props = spec ? spec->if_contains("properties") : nullptr;
    return props && props->is_array() ? &props->as_array() : nullptr;
}

}  // namespace

std::pair<std::string, std::string> split_id(const std::string& id) {
    auto slash = id.find('/');
    if (slash == std::string::npos) return {"default", id};
    return {id.substr(0, slash), id.substr(slash + 1)};
}

DeviceSpecView spec_view(const std::string& id, const json::object& device) {
    DeviceSpecView v;
    const json::object* spec = object_at(&device, "spec");
    v.protocol = string_at(object_at(spec, "protocol"), "protocolName");
    v.model_name = string_at(object_at(spec, "deviceModelRef"), "name");
    v.model_key = split_id(id).first + "/" + v.model_name;
    return v;
}

bool apply_device_spec(DeviceRecord& d, const std::string& id, const json::object& device,
                       const json::object* model, std::int64_t now_ms) {
    d.id = id;
    d.name = split_id(id).second;
    std::map<std::string, std::string> types;
    if (model) {
        if (auto* props = properties(*model))
            for (const auto& p : *props)
                if (p.is_object())
                    types[string_at(&p.as_object(), "name")] =
                        twin_type_of(string_at(&p.as_object(), "type"));
    }
    auto* props = properties(device);
    if (!props) return false;
    bool changed = false;
    std::set<std::string> seen;
    for (const auto& pv : *props) {
        if (!pv.is_object()) continue;
        const auto& p = pv.as_object();
        std::string name = string_at(&p, "name");
        if (!valid_twin_key(name)) continue;
        seen.insert(name);
        auto& t = d.twins[name];
        t.name = name;
        if (auto ty = types.find(name); ty != types.end()) t.type = ty->second;
        if (auto* rtc = p.if_contains("reportToCloud"); rtc && rtc->is_bool())
            t.report_to_cloud = rtc->as_bool();
        const json::object* desired = object_at(&p, "desired");
        std::string value = string_at(desired, "value");
        if (!value.empty() && (!t.expected || t.expected->value != value)) {
            std::int64_t ts = parse_ms(string_at(object_at(desired, "metadata"), "timestamp"));
            t.expected = TwinValue{value, ts ? ts : now_ms};
            ++t.expected_version.cloud;
            changed = true;
        }
    }
    for (auto it = d.twins.begin(); it != d.twins.end();)
        it = seen.contains(it->first) ? std::next(it) : d.twins.erase(it);
    return changed;
}

void patch_desired(json::object& device, const std::string& prop, const std::string& value) {
    auto* spec = device.if_contains("spec");
    if (!spec || !spec->is_object()) return;
    auto* props = spec->as_object().if_contains("properties");
    if (!props || !props->is_array()) return;
    for (auto& p : props->as_array()) {
        if (!p.is_object() || string_at(&p.as_object(), "name") != prop) continue;
        auto& desired = p.as_object()["desired"];
        if (!desired.is_object()) desired = json::object{};
        desired.as_object()["value"] = value;
    }
}

std::string spec_text(const json::object& device) {
    auto* spec = device.if_contains("spec");
    return spec ? json::serialize(*spec) : std::string("null");
}

}  // namespace kedge::edge::devicetwin
