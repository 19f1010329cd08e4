#include "device/mapper/device_config.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>

#include "device/dmi/convert.hpp"

namespace kedge::device {

namespace {

std::chrono::milliseconds cycle(std::int64_t ms) {
    return std::chrono::milliseconds(ms > 0 ? ms : 1000);
}

std::optional<double> parse_double(std::string_view s) {
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
    if (s.empty()) return std::nullopt;
    if (s.front() == '+') s.remove_prefix(1);
    double v = 0;
    auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || ptr != s.data() + s.size()) return std::nullopt;
    return v;
}

std::optional<bool> parse_bool(std::string_view s) {
    std::string lower(s);
    std::transform(lower.begin(), lower.end(), lower.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (lower == "true" || lower == "1") return true;
    if (lower == "false" || lower == "0") return false;
    return std::nullopt;
}

std::string upper(std::string_view s) {
    std::string out(s);
    std::transform(out.begin(), out.end(), out.begin(),
                   [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
    return out;
}

Result<PropertyConfig> make_property(const v1beta1::DeviceProperty& dp,
                                     const v1beta1::DeviceModel& model) {
    const v1beta1::ModelProperty* mp = nullptr;
    for (const auto& p : model.spec().properties()) {
        if (p.name() == dp.name()) mp = &p;
    }
    if (mp == nullptr) {
        return Error(errc::invalid_argument,
                     fmt::format("property {}: not in model {}", dp.name(), model.name()));
    }
    PropertyConfig pc;
    pc.name = dp.name();
    if (!mp->type().empty()) pc.type = upper(mp->type());
    pc.writable = mp->accessmode() == "ReadWrite";
    pc.minimum = parse_double(mp->minimum());
    pc.maximum = parse_double(mp->maximum());
    pc.unit = mp->unit();
    pc.visitor_protocol = dp.visitors().protocolname();
    auto visitor = dmi::customized_to_json(dp.visitors().configdata());
    if (!visitor) {
        return Error(errc::invalid_argument,
                     fmt::format("property {}: visitors.{}", dp.name(), visitor.error().detail));
    }
    pc.visitor = std::move(*visitor);
    pc.collect_cycle = cycle(dp.collectcycle());
    pc.report_cycle = cycle(dp.reportcycle());
    pc.report_to_cloud = dp.reporttocloud();
    if (dp.has_desired() && !dp.desired().value().empty()) pc.desired = dp.desired().value();
    if (dp.has_pushmethod()) {
        const auto& pm = dp.pushmethod();
        if (pm.has_mqtt() && !pm.mqtt().address().empty()) {
            pc.push_mqtt = PushMqtt{pm.mqtt().address(), pm.mqtt().topic(), pm.mqtt().qos(),
                                    pm.mqtt().retained()};
        }
        if (pm.has_http() && !pm.http().hostname().empty()) {
            PushHttp h;
            h.hostname = pm.http().hostname();
            if (pm.http().port() > 0) h.port = static_cast<int>(pm.http().port());
            h.request_path = pm.http().requestpath();
            if (pm.http().timeout() > 0) h.timeout = std::chrono::milliseconds(pm.http().timeout());
            pc.push_http = std::move(h);
        }
    }
    return pc;
}

}  // namespace

std::string object_key(std::string_view ns, std::string_view name) {
    return fmt::format("{}/{}", ns.empty() ? std::string_view("default") : ns, name);
}

Result<DeviceConfig> make_device_config(const v1beta1::Device& device,
                                        const v1beta1::DeviceModel& model) {
    DeviceConfig dc;
    dc.name = device.name();
    dc.namespace_ = device.namespace_();
    dc.model = device.spec().devicemodelreference();
    dc.protocol_name = device.spec().protocol().protocolname();
    auto protocol = dmi::customized_to_json(device.spec().protocol().configdata());
    if (!protocol) {
        return Error(errc::invalid_argument, fmt::format("protocol.{}", protocol.error().detail));
    }
    dc.protocol = std::move(*protocol);
    for (const auto& dp : device.spec().properties()) {
        auto pc = make_property(dp, model);
        if (!pc) return pc.error();
        dc.properties.push_back(std::move(*pc));
    }
    return dc;
}

std::string twin_type(std::string_view model_type) {
    std::string out(model_type);
    std::transform(out.begin(), out.end(), out.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return out;
}

std::int64_t unix_millis(std::chrono::system_clock::time_point t) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

bool same_value(std::string_view type, std::string_view a, std::string_view b) {
    if (a == b) return true;
    std::string t = upper(type);
    if (t == kTypeInt || t == kTypeFloat || t == kTypeDouble) {
        auto x = parse_double(a), y = parse_double(b);
        if (!x || !y) return false;
        // FLOAT travels as 32 bits on many devices: compare at that precision.
        double tolerance = (t == kTypeFloat ? 1e-6 : 1e-12) * std::max(1.0, std::fabs(*x));
        return std::fabs(*x - *y) <= tolerance;
    }
    if (t == kTypeBoolean) {
        auto x = parse_bool(a), y = parse_bool(b);
        return x && y && *x == *y;
    }
    return false;
}

}  // namespace kedge::device
