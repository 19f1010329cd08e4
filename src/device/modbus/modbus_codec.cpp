#include "device/modbus/modbus_codec.hpp"

#include <algorithm>
#include <bit>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstring>
#include <limits>
#include <optional>
#include <variant>

namespace kedge::device::modbus {
namespace {

std::string_view trim(std::string_view s) {
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
    return s;
}

// Each register is a big-endian word on the wire; upstream works on that byte sequence.
std::vector<std::uint8_t> to_bytes(std::span<const std::uint16_t> registers) {
    std::vector<std::uint8_t> bytes;
    bytes.reserve(registers.size() * 2);
    for (auto r : registers) {
        bytes.push_back(static_cast<std::uint8_t>(r >> 8));
        bytes.push_back(static_cast<std::uint8_t>(r & 0xff));
    }
    return bytes;
}

std::vector<std::uint16_t> to_registers(const std::vector<std::uint8_t>& bytes) {
    std::vector<std::uint16_t> regs;
    for (std::size_t i = 0; i + 1 < bytes.size(); i += 2) {
        regs.push_back(static_cast<std::uint16_t>((bytes[i] << 8) | bytes[i + 1]));
    }
    return regs;
}

// Register reversal and the byte exchange inside each register commute and are each their
// own inverse, so the same function serves reads and writes.
void apply_swaps(const VisitorConfig& visitor, std::vector<std::uint8_t>& bytes) {
    std::size_t words = bytes.size() / 2;
    if (visitor.swap_registers) {
        for (std::size_t i = 0; i < words / 2; ++i) {
            std::size_t j = words - 1 - i;
            std::swap(bytes[2 * i], bytes[2 * j]);
            std::swap(bytes[2 * i + 1], bytes[2 * j + 1]);
        }
    }
    if (visitor.swap_bytes) {
        for (std::size_t i = 0; i < words; ++i) std::swap(bytes[2 * i], bytes[2 * i + 1]);
    }
}

std::uint64_t big_endian(const std::vector<std::uint8_t>& bytes) {
    std::uint64_t v = 0;
    for (auto b : bytes) v = (v << 8) | b;
    return v;
}

// A decoded register value before scaling: exact integers stay exact.
using Raw = std::variant<std::int64_t, std::uint64_t, double>;

Raw decode_number(DataType type, std::uint64_t bits) {
    switch (type) {
        case DataType::kInt16:
            return std::int64_t{static_cast<std::int16_t>(bits)};
        case DataType::kUint16:
            return std::uint64_t{bits & 0xffff};
        case DataType::kInt32:
            return std::int64_t{static_cast<std::int32_t>(bits)};
        case DataType::kUint32:
            return std::uint64_t{bits & 0xffffffff};
        case DataType::kInt64:
            return static_cast<std::int64_t>(bits);
        case DataType::kUint64:
            return bits;
        case DataType::kFloat32:
            return static_cast<double>(std::bit_cast<float>(static_cast<std::uint32_t>(bits)));
        case DataType::kFloat64:
            return std::bit_cast<double>(bits);
        case DataType::kBit:
        case DataType::kString:
            break;
    }
    return std::int64_t{0};
}

double as_double(const Raw& raw) {
    return std::visit([](auto v) { return static_cast<double>(v); }, raw);
}

std::string format_double(double v, int significant) {
    if (v == 0.0) return "0";  // also turns -0 into 0
    char buf[64];
    auto [ptr, ec] =
        std::to_chars(buf, buf + sizeof buf, v, std::chars_format::general, significant);
    return ec == std::errc() ? std::string(buf, ptr) : std::to_string(v);
}

std::string exact_integer(const Raw& raw) {
    if (auto* i = std::get_if<std::int64_t>(&raw)) return std::to_string(*i);
    return std::to_string(std::get<std::uint64_t>(raw));
}

Result<std::string> format_number(const Raw& raw, const VisitorConfig& visitor,
                                  const PropertyConfig& property) {
    bool integral = !std::holds_alternative<double>(raw);
    if (property.type == kTypeBoolean) return std::string(as_double(raw) != 0.0 ? "true" : "false");
    if (integral && visitor.scale == 1.0) return exact_integer(raw);
    double v = as_double(raw) * visitor.scale;
    if (!std::isfinite(v)) {
        return Error(errc::parse_error, "property " + property.name + ": the device returned " +
                                            format_double(v, 7) + " (" +
                                            std::string(to_string(visitor.data_type)) + ")");
    }
    if (property.type == kTypeInt) {
        double r = std::round(v);
        if (std::fabs(r) >= 9.2e18) {
            return Error(errc::parse_error, "property " + property.name + ": value " +
                                                format_double(v, 15) + " does not fit an INT");
        }
        return std::to_string(static_cast<long long>(r));
    }
    // A float32 carries ~7 significant digits; printing more would show binary noise.
    int significant = visitor.data_type == DataType::kFloat32 ? 7 : 15;
    return format_double(v, significant);
}

std::string bytes_to_text(const std::vector<std::uint8_t>& bytes) {
    std::string text;
    for (auto b : bytes) {
        if (b == 0) continue;  // NUL padding of fixed-width string registers
        text.push_back(std::isprint(b) ? static_cast<char>(b) : '?');
    }
    return text;
}

std::optional<bool> parse_bool(std::string_view s) {
    for (auto t : {"1", "t", "T", "TRUE", "true", "True"}) {
        if (s == t) return true;
    }
    for (auto f : {"0", "f", "F", "FALSE", "false", "False"}) {
        if (s == f) return false;
    }
    return std::nullopt;
}

std::optional<std::int64_t> parse_int(std::string_view s) {
    if (!s.empty() && s.front() == '+') s.remove_prefix(1);
    std::int64_t v = 0;
    auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || ptr != s.data() + s.size() || s.empty()) return std::nullopt;
    return v;
}

std::optional<double> parse_double(std::string_view s) {
    if (!s.empty() && s.front() == '+') s.remove_prefix(1);
    double v = 0;
    auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || ptr != s.data() + s.size() || s.empty() || !std::isfinite(v)) {
        return std::nullopt;
    }
    return v;
}

Error bad_value(const PropertyConfig& property, std::string_view text, std::string why) {
    return Error(errc::invalid_argument, "property " + property.name + ": desired value \"" +
                                             std::string(text) + "\" " + why);
}

// The desired value in engineering units; exact when it is an integer.
Result<Raw> parse_desired(const PropertyConfig& property, std::string_view text) {
    std::string_view s = trim(text);
    if (property.type == kTypeBoolean) {
        auto b = parse_bool(s);
        if (!b) return bad_value(property, text, "is not a BOOLEAN (true or false)");
        return Raw{std::int64_t{*b ? 1 : 0}};
    }
    if (property.type == kTypeInt) {
        auto i = parse_int(s);
        if (!i) return bad_value(property, text, "is not an INT");
        return Raw{*i};
    }
    if (auto i = parse_int(s)) return Raw{*i};
    auto d = parse_double(s);
    if (!d) return bad_value(property, text, "is not a number");
    return Raw{*d};
}

Result<void> check_range(const PropertyConfig& property, std::string_view text, double v) {
    if (property.minimum && v < *property.minimum) {
        return bad_value(property, text,
                         "is below the minimum " + format_double(*property.minimum, 15));
    }
    if (property.maximum && v > *property.maximum) {
        return bad_value(property, text,
                         "is above the maximum " + format_double(*property.maximum, 15));
    }
    return {};
}

struct IntRange {
    double min, max;
};

IntRange int_range(DataType type) {
    switch (type) {
        case DataType::kInt16:
            return {-32768.0, 32767.0};
        case DataType::kUint16:
            return {0.0, 65535.0};
        case DataType::kInt32:
            return {-2147483648.0, 2147483647.0};
        case DataType::kUint32:
            return {0.0, 4294967295.0};
        // The largest doubles strictly inside the 64-bit ranges.
        case DataType::kInt64:
            return {-9223372036854775808.0, 9223372036854774784.0};
        case DataType::kUint64:
            return {0.0, 18446744073709549568.0};
        default:
            return {0.0, 0.0};
    }
}

// The register bits of a desired value for an integer dataType.
Result<std::uint64_t> integer_bits(const VisitorConfig& visitor, const PropertyConfig& property,
                                   std::string_view text, const Raw& desired) {
    IntRange range = int_range(visitor.data_type);
    auto out_of_range = [&](const std::string& raw) {
        return bad_value(property, text,
                         "is " + raw + " in registers" +
                             (visitor.scale != 1.0
                                  ? " (divided by scale " + format_double(visitor.scale, 15) + ")"
                                  : std::string()) +
                             ", outside " + std::string(to_string(visitor.data_type)));
    };
    // Exact path: an integer with scale 1 must not lose precision through a double.
    if (visitor.scale == 1.0 && std::holds_alternative<std::int64_t>(desired)) {
        std::int64_t v = std::get<std::int64_t>(desired);
        bool fits = visitor.data_type == DataType::kInt64 ||
                    (visitor.data_type == DataType::kUint64 && v >= 0) ||
                    (static_cast<double>(v) >= range.min && static_cast<double>(v) <= range.max);
        if (!fits) return out_of_range(std::to_string(v));
        return static_cast<std::uint64_t>(v);
    }
    double raw = std::round(as_double(desired) / visitor.scale);
    if (!std::isfinite(raw) || raw < range.min || raw > range.max) {
        return out_of_range(format_double(raw, 15));
    }
    if (visitor.data_type == DataType::kUint64) return static_cast<std::uint64_t>(raw);
    return static_cast<std::uint64_t>(static_cast<std::int64_t>(raw));
}

}  // namespace

Result<std::string> decode_registers(const VisitorConfig& visitor, const PropertyConfig& property,
                                     std::span<const std::uint16_t> registers) {
    if (registers.size() != static_cast<std::size_t>(visitor.limit)) {
        return Error(errc::parse_error, "property " + property.name + ": expected " +
                                            std::to_string(visitor.limit) + " registers, got " +
                                            std::to_string(registers.size()));
    }
    auto bytes = to_bytes(registers);
    apply_swaps(visitor, bytes);
    if (visitor.data_type == DataType::kString) return bytes_to_text(bytes);
    if (visitor.data_type == DataType::kBit) {
        return Error(errc::internal,
                     "property " + property.name + ": a bit visitor has no registers");
    }
    return format_number(decode_number(visitor.data_type, big_endian(bytes)), visitor, property);
}

std::string decode_bit(bool bit, const PropertyConfig& property) {
    bool numeric =
        property.type == kTypeInt || property.type == kTypeFloat || property.type == kTypeDouble;
    if (numeric) return bit ? "1" : "0";
    return bit ? "true" : "false";
}

Result<std::vector<std::uint16_t>> encode_registers(const VisitorConfig& visitor,
                                                    const PropertyConfig& property,
                                                    std::string_view text) {
    std::vector<std::uint8_t> bytes;
    if (visitor.data_type == DataType::kString) {
        std::size_t capacity = static_cast<std::size_t>(visitor.limit) * 2;
        if (text.size() > capacity) {
            return bad_value(property, text,
                             "is longer than the " + std::to_string(capacity) + " bytes of " +
                                 std::to_string(visitor.limit) + " registers");
        }
        bytes.assign(text.begin(), text.end());
        bytes.resize(capacity, 0);
    } else {
        auto desired = parse_desired(property, text);
        if (!desired) return desired.error();
        if (auto r = check_range(property, text, as_double(*desired)); !r) return r.error();
        std::uint64_t bits = 0;
        if (visitor.data_type == DataType::kFloat32) {
            double raw = as_double(*desired) / visitor.scale;
            if (std::fabs(raw) > std::numeric_limits<float>::max()) {
                return bad_value(property, text, "does not fit a float32");
            }
            bits = std::bit_cast<std::uint32_t>(static_cast<float>(raw));
        } else if (visitor.data_type == DataType::kFloat64) {
            bits = std::bit_cast<std::uint64_t>(as_double(*desired) / visitor.scale);
        } else {
            auto b = integer_bits(visitor, property, text, *desired);
            if (!b) return b.error();
            bits = *b;
        }
        int count = register_count(visitor.data_type);
        for (int i = count * 2 - 1; i >= 0; --i) {
            bytes.push_back(static_cast<std::uint8_t>(bits >> (8 * i)));
        }
    }
    apply_swaps(visitor, bytes);
    return to_registers(bytes);
}

Result<bool> encode_bit(const PropertyConfig& property, std::string_view text) {
    std::string_view s = trim(text);
    if (property.type == kTypeBoolean || property.type == kTypeString ||
        property.type == kTypeBytes) {
        auto b = parse_bool(s);
        if (!b) return bad_value(property, text, "is not a BOOLEAN (true or false)");
        return *b;
    }
    auto d = parse_double(s);
    if (!d || (*d != 0.0 && *d != 1.0))
        return bad_value(property, text, "is not a coil state (0 or 1)");
    if (auto r = check_range(property, text, *d); !r) return r.error();
    return *d == 1.0;
}

}  // namespace kedge::device::modbus
