#include "virtual_driver.hpp"

#include <fmt/format.h>

#include <boost/json/serialize.hpp>

#include <charconv>
#include <chrono>
#include <cmath>
#include <map>
#include <numbers>
#include <optional>
#include <random>

namespace kedge::device::virt {

namespace {

namespace json = boost::json;

enum class Mode { kConstant, kRandom, kSine, kCounter };

struct Sim {
    Mode mode = Mode::kConstant;
    double min = 0, max = 100;
    std::chrono::milliseconds period{60000};
    std::string value;  // constant/last written value as twin text
    double counter = 0;
};

bool is_numeric(const std::string& type) {
    return type == kTypeInt || type == kTypeFloat || type == kTypeDouble;
}

std::optional<double> to_double(std::string_view s) {
    if (!s.empty() && s.front() == '+') s.remove_prefix(1);
    double v = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || p != s.data() + s.size() || !std::isfinite(v)) return std::nullopt;
    return v;
}

// The twin text of a number in the property's type: INT without decimals, FLOAT/DOUBLE rounded
// to 1e-3 and printed in the shortest form ("21.5", not "21.500000").
std::string format_number(const std::string& type, double v) {
    if (type == kTypeInt) return std::to_string(std::llround(v));
    if (type == kTypeBoolean) return v != 0 ? "true" : "false";
    double rounded = std::round(v * 1000.0) / 1000.0;
    if (rounded == 0) rounded = 0;  // no "-0"
    return fmt::format("{}", rounded);
}

// Validates and normalises a value given as twin text for the property's type.
Result<std::string> normalise(const PropertyConfig& p, std::string_view text) {
    if (p.type == kTypeString || p.type == kTypeBytes) return std::string(text);
    if (p.type == kTypeBoolean) {
        if (text == "true" || text == "1") return std::string("true");
        if (text == "false" || text == "0") return std::string("false");
        return Error(errc::invalid_argument,
                     fmt::format("property {}: '{}' is not a boolean", p.name, text));
    }
    auto v = to_double(text);
    if (!v || (p.type == kTypeInt && std::trunc(*v) != *v)) {
        return Error(errc::invalid_argument,
                     fmt::format("property {}: '{}' is not {}", p.name, text,
                                 p.type == kTypeInt ? "an integer" : "a number"));
    }
    if ((p.minimum && *v < *p.minimum) || (p.maximum && *v > *p.maximum)) {
        return Error(errc::invalid_argument,
                     fmt::format("property {}: {} is outside [{}, {}]", p.name, text,
                                 p.minimum ? fmt::format("{}", *p.minimum) : "-inf",
                                 p.maximum ? fmt::format("{}", *p.maximum) : "inf"));
    }
    return format_number(p.type, *v);
}

Result<double> number_field(const PropertyConfig& p, const char* key, double fallback) {
    const json::value* v = p.visitor.if_contains(key);
    if (v == nullptr || v->is_null()) return fallback;
    if (v->is_number()) return v->to_number<double>();
    if (v->is_string()) {
        if (auto d = to_double(v->get_string())) return *d;
    }
    return Error(errc::invalid_argument,
                 fmt::format("property {}: visitor {} must be a number", p.name, key));
}

Result<Sim> make_sim(const PropertyConfig& p) {
    Sim s;
    std::string mode = "constant";
    if (const json::value* m = p.visitor.if_contains("mode")) {
        if (!m->is_string()) {
            return Error(errc::invalid_argument,
                         fmt::format("property {}: visitor mode must be a string", p.name));
        }
        mode = std::string(m->get_string());
    }
    if (mode == "constant") {
        s.mode = Mode::kConstant;
    } else if (mode == "random") {
        s.mode = Mode::kRandom;
    } else if (mode == "sine") {
        s.mode = Mode::kSine;
    } else if (mode == "counter") {
        s.mode = Mode::kCounter;
    } else {
        return Error(errc::invalid_argument,
                     fmt::format("property {}: unknown visitor mode '{}' (constant, random, sine, "
                                 "counter)",
                                 p.name, mode));
    }
    auto min = number_field(p, "min", p.minimum.value_or(0));
    auto max = number_field(p, "max", p.maximum.value_or(100));
    auto period = number_field(p, "period", 60000);
    if (!min) return min.error();
    if (!max) return max.error();
    if (!period) return period.error();
    if (*max < *min) {
        return Error(
            errc::invalid_argument,
            fmt::format("property {}: visitor max {} is below min {}", p.name, *max, *min));
    }
    if (*period <= 0) {
        return Error(errc::invalid_argument,
                     fmt::format("property {}: visitor period must be positive", p.name));
    }
    s.min = *min;
    s.max = *max;
    s.period = std::chrono::milliseconds(static_cast<std::int64_t>(*period));
    if (const json::value* v = p.visitor.if_contains("value"); v != nullptr && !v->is_null()) {
        std::string text = v->is_string() ? std::string(v->get_string()) : json::serialize(*v);
        PropertyConfig unbounded = p;  // the range check is for writes
        unbounded.minimum.reset();
        unbounded.maximum.reset();
        auto norm = normalise(unbounded, text);
        if (!norm) return norm.error();
        s.value = *norm;
    } else if (p.type == kTypeString || p.type == kTypeBytes) {
        s.value = "";
    } else if (p.type == kTypeBoolean) {
        s.value = "false";
    } else {
        s.value = format_number(p.type, s.min);
    }
    if (is_numeric(p.type)) s.counter = to_double(s.value).value_or(s.min);
    if (!is_numeric(p.type) && p.type != kTypeBoolean && s.mode != Mode::kConstant) {
        return Error(errc::invalid_argument,
                     fmt::format("property {}: mode {} needs a numeric or boolean type, not {}",
                                 p.name, mode, p.type));
    }
    return s;
}

class VirtualClient final : public DeviceClient {
public:
    VirtualClient(bool offline, std::map<std::string, Sim> sims)
        : offline_(offline), sims_(std::move(sims)), rng_(std::random_device{}()) {}

    Result<void> connect() override {
        if (offline_) return Error(errc::unavailable, "simulated device is offline");
        connected_ = true;
        return {};
    }

    Result<std::string> read(const PropertyConfig& p) override {
        if (!connected_) return Error(errc::unavailable, "not connected");
        auto it = sims_.find(p.name);
        if (it == sims_.end()) {
            return Error(errc::not_found, fmt::format("property {}: not simulated", p.name));
        }
        Sim& s = it->second;
        switch (s.mode) {
            case Mode::kConstant:
                return s.value;
            case Mode::kRandom: {
                if (p.type == kTypeInt) {
                    std::uniform_int_distribution<long long> d(std::llround(std::ceil(s.min)),
                                                               std::llround(std::floor(s.max)));
                    return std::to_string(d(rng_));
                }
                if (p.type == kTypeBoolean)
                    return std::bernoulli_distribution(0.5)(rng_) ? "true" : "false";
                return format_number(p.type,
                                     std::uniform_real_distribution<double>(s.min, s.max)(rng_));
            }
            case Mode::kSine: {
                using namespace std::chrono;
                double t = static_cast<double>(
                    duration_cast<milliseconds>(steady_clock::now() - start_).count());
                double phase = 2 * std::numbers::pi * t / static_cast<double>(s.period.count());
                double mid = (s.min + s.max) / 2, amp = (s.max - s.min) / 2;
                return format_number(p.type, mid + amp * std::sin(phase));
            }
            case Mode::kCounter: {
                if (p.type == kTypeBoolean) {
                    s.value = s.value == "true" ? "false" : "true";
                    return s.value;
                }
                std::string out = format_number(p.type, s.counter);
                s.counter += 1;
                if (s.counter > s.max) s.counter = s.min;
                return out;
            }
        }
        return Error(errc::internal, "unreachable");
    }

    Result<void> write(const PropertyConfig& p, std::string_view value) override {
        if (!connected_) return Error(errc::unavailable, "not connected");
        auto it = sims_.find(p.name);
        if (it == sims_.end()) {
            return Error(errc::not_found, fmt::format("property {}: not simulated", p.name));
        }
        auto norm = normalise(p, value);
        if (!norm) return norm.error();
        it->second.value = *norm;
        if (is_numeric(p.type)) it->second.counter = *to_double(*norm);
        return {};
    }

    void disconnect() override { connected_ = false; }

private:
    bool offline_;
    bool connected_ = false;
    std::map<std::string, Sim> sims_;
    std::mt19937_64 rng_;
    std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
};

}  // namespace

Result<std::unique_ptr<DeviceClient>> VirtualDriver::open(const DeviceConfig& device) {
    bool offline = false;
    if (const json::value* v = device.protocol.if_contains("offline")) {
        if (!v->is_bool()) {
            return Error(errc::invalid_argument, "protocol configData offline must be a boolean");
        }
        offline = v->get_bool();
    }
    std::map<std::string, Sim> sims;
    for (const auto& p : device.properties) {
        auto sim = make_sim(p);
        if (!sim) return sim.error();
        sims.emplace(p.name, std::move(*sim));
    }
    return std::unique_ptr<DeviceClient>(std::make_unique<VirtualClient>(offline, std::move(sims)));
}

}  // namespace kedge::device::virt
