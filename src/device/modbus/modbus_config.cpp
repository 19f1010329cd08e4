#include "device/modbus/modbus_config.hpp"

#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <vector>

#include "device/mapper/driver.hpp"

namespace kedge::device::modbus {
namespace {

// libmodbus' per-request limit for register reads (a Modbus PDU holds 125 words).
constexpr int kMaxRegisters = 125;

std::string lower(std::string_view s) {
    std::string out(s);
    std::transform(out.begin(), out.end(), out.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return out;
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
    return s;
}

std::string show(const boost::json::value& v) {
    std::string text = boost::json::serialize(v);
    if (text.size() > 64) text = text.substr(0, 61) + "...";
    return text;
}

// configData travels through DMI as protobuf wrappers (json_to_customized), so a number may
// come back as an int64, a double or even a string ("502"); accept each form a user or the
// conversion can produce. Go's encoding/json, which upstream mappers use, matches keys
// case-insensitively, so configs written for upstream use "slaveId", "SlaveID" alike.
class Fields {
public:
    Fields(const boost::json::object& obj, std::string_view what) : what_(what) {
        for (const auto& kv : obj)
            entries_.push_back({lower(kv.key()), std::string(kv.key()), &kv.value()});
    }

    // The value of key (lower-case), marking it as known; nullptr when absent or null.
    const boost::json::value* find(std::string_view key) {
        const boost::json::value* found = nullptr;
        for (auto& e : entries_) {
            if (e.lower == key) {
                e.used = true;
                if (!e.value->is_null()) found = e.value;
            }
        }
        return found;
    }

    // The original spelling of key when present (for messages).
    std::string spelled(std::string_view key) const {
        for (const auto& e : entries_) {
            if (e.lower == key) return e.original;
        }
        return std::string(key);
    }

    std::optional<std::string> first_unused() const {
        for (const auto& e : entries_) {
            if (!e.used) return e.original;
        }
        return std::nullopt;
    }

    Error bad(std::string_view key, std::string_view expected) const {
        return Error(errc::invalid_argument, std::string(what_) + " key \"" + spelled(key) +
                                                 "\" must be " + std::string(expected));
    }

    Result<std::optional<std::int64_t>> integer(std::string_view key, std::int64_t min,
                                                std::int64_t max) {
        const auto* v = find(key);
        if (v == nullptr) return std::optional<std::int64_t>{};
        std::string range = "an integer in [" + std::to_string(min) + ", " + std::to_string(max) +
                            "], got " + show(*v);
        std::optional<std::int64_t> n;
        if (v->is_int64()) {
            n = v->get_int64();
        } else if (v->is_uint64()) {
            if (v->get_uint64() <= static_cast<std::uint64_t>(max)) {
                n = static_cast<std::int64_t>(v->get_uint64());
            }
        } else if (v->is_double()) {
            double d = v->get_double();
            if (std::isfinite(d) && d == std::trunc(d) && std::fabs(d) < 9.0e15) {
                n = static_cast<std::int64_t>(d);
            }
        } else if (v->is_string()) {
            std::string_view s = trim(v->get_string());
            std::int64_t parsed = 0;
            auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), parsed);
            if (ec == std::errc() && ptr == s.data() + s.size() && !s.empty()) n = parsed;
        }
        if (!n || *n < min || *n > max) return bad(key, range);
        return n;
    }

    Result<std::optional<double>> number(std::string_view key) {
        const auto* v = find(key);
        if (v == nullptr) return std::optional<double>{};
        std::optional<double> d;
        if (v->is_number()) {
            d = v->to_number<double>();
        } else if (v->is_string()) {
            std::string_view s = trim(v->get_string());
            double parsed = 0;
            auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), parsed);
            if (ec == std::errc() && ptr == s.data() + s.size() && !s.empty()) d = parsed;
        }
        if (!d || !std::isfinite(*d)) return bad(key, "a finite number, got " + show(*v));
        return d;
    }

    Result<bool> boolean(std::string_view key) {
        const auto* v = find(key);
        if (v == nullptr) return false;
        if (v->is_bool()) return v->get_bool();
        if (v->is_int64() && (v->get_int64() == 0 || v->get_int64() == 1)) {
            return v->get_int64() == 1;
        }
        if (v->is_string()) {
            std::string s = lower(trim(v->get_string()));
            if (s == "true") return true;
            if (s == "false") return false;
        }
        return bad(key, "true or false, got " + show(*v));
    }

    Result<std::optional<std::string>> string(std::string_view key) {
        const auto* v = find(key);
        if (v == nullptr) return std::optional<std::string>{};
        if (!v->is_string()) return bad(key, "a string, got " + show(*v));
        return std::optional<std::string>(std::string(trim(v->get_string())));
    }

    const std::string& what() const { return what_; }

private:
    struct Entry {
        std::string lower;
        std::string original;
        const boost::json::value* value;
        bool used = false;
    };
    std::string what_;
    std::vector<Entry> entries_;
};

// Keys of upstream's serial (RTU) configData; any of them means a serial device.
constexpr std::array<std::string_view, 8> kSerialKeys = {"serialport",   "baudrate", "databits",
                                                         "parity",       "stopbits", "serialtype",
                                                         "rs485enabled", "com"};

std::optional<RegisterKind> register_kind(std::string_view name) {
    if (name == "CoilRegister") return RegisterKind::kCoil;
    if (name == "DiscreteInputRegister") return RegisterKind::kDiscreteInput;
    if (name == "HoldingRegister") return RegisterKind::kHolding;
    if (name == "InputRegister") return RegisterKind::kInput;
    return std::nullopt;
}

// kedge's dataType names plus upstream's lower-case property type names ("int", "float"...).
// nullopt with *by_limit = true: an integer whose width follows limit.
std::optional<DataType> data_type(std::string_view name, bool* by_limit) {
    std::string n = lower(name);
    *by_limit = false;
    if (n == "int16") return DataType::kInt16;
    if (n == "uint16") return DataType::kUint16;
    if (n == "int32") return DataType::kInt32;
    if (n == "uint32") return DataType::kUint32;
    if (n == "int64") return DataType::kInt64;
    if (n == "uint64") return DataType::kUint64;
    if (n == "float32" || n == "float") return DataType::kFloat32;
    if (n == "float64" || n == "double") return DataType::kFloat64;
    if (n == "string") return DataType::kString;
    if (n == "int" || n == "integer" || n == "boolean" || n == "bool") *by_limit = true;
    return std::nullopt;
}

Result<DataType> default_type(int limit, std::string_view property_type, const Fields& f) {
    bool floating = property_type == kTypeFloat || property_type == kTypeDouble;
    switch (limit) {
        case 1:
            return DataType::kInt16;
        case 2:
            return floating ? DataType::kFloat32 : DataType::kInt32;
        case 4:
            return property_type == kTypeDouble ? DataType::kFloat64 : DataType::kInt64;
        default:
            if (property_type == kTypeString) return DataType::kString;
            return Error(errc::invalid_argument,
                         f.what() + ": limit " + std::to_string(limit) +
                             " registers is not a number width (1, 2 or 4); set dataType "
                             "(int16, uint16, int32, uint32, int64, uint64, float32, float64, "
                             "string)");
    }
}

}  // namespace

std::string_view to_string(RegisterKind kind) {
    switch (kind) {
        case RegisterKind::kCoil:
            return "CoilRegister";
        case RegisterKind::kDiscreteInput:
            return "DiscreteInputRegister";
        case RegisterKind::kHolding:
            return "HoldingRegister";
        case RegisterKind::kInput:
            return "InputRegister";
    }
    return "?";
}

std::string_view to_string(DataType type) {
    switch (type) {
        case DataType::kBit:
            return "bit";
        case DataType::kInt16:
            return "int16";
        case DataType::kUint16:
            return "uint16";
        case DataType::kInt32:
            return "int32";
        case DataType::kUint32:
            return "uint32";
        case DataType::kInt64:
            return "int64";
        case DataType::kUint64:
            return "uint64";
        case DataType::kFloat32:
            return "float32";
        case DataType::kFloat64:
            return "float64";
        case DataType::kString:
            return "string";
    }
    return "?";
}

int register_count(DataType type) {
    switch (type) {
        case DataType::kInt16:
        case DataType::kUint16:
            return 1;
        case DataType::kInt32:
        case DataType::kUint32:
        case DataType::kFloat32:
            return 2;
        case DataType::kInt64:
        case DataType::kUint64:
        case DataType::kFloat64:
            return 4;
        case DataType::kBit:
        case DataType::kString:
            return 0;
    }
    return 0;
}

Result<TcpConfig> parse_protocol_config(const boost::json::object& config) {
    Fields f(config, "protocol configData");
    for (auto key : kSerialKeys) {
        if (f.find(key) != nullptr) {
            return Error(errc::invalid_argument,
                         "serial Modbus is not supported (protocol configData key \"" +
                             f.spelled(key) +
                             "\"): kedge's mapper-modbus speaks Modbus TCP; give ip, port and "
                             "slaveID");
        }
    }
    TcpConfig out;
    auto ip = f.string("ip");
    if (!ip) return ip.error();
    if (!*ip || (*ip)->empty()) {
        return Error(errc::invalid_argument,
                     "protocol configData key \"ip\" is required (the Modbus TCP server's "
                     "address)");
    }
    out.ip = **ip;
    auto port = f.integer("port", 1, 65535);
    if (!port) return port.error();
    if (*port) out.port = static_cast<int>(**port);
    // 0 is broadcast and 255 the usual "unit not used" id of TCP gateways; both are valid.
    auto slave = f.integer("slaveid", 0, 255);
    if (!slave) return slave.error();
    if (*slave) out.slave_id = static_cast<int>(**slave);
    if (auto unknown = f.first_unused()) {
        return Error(errc::invalid_argument, "protocol configData has unknown key \"" + *unknown +
                                                 "\" (known: ip, port, slaveID)");
    }
    return out;
}

Result<VisitorConfig> parse_visitor_config(const boost::json::object& config,
                                           std::string_view property_type) {
    Fields f(config, "visitor configData");
    VisitorConfig out;

    auto reg = f.string("register");
    if (!reg) return reg.error();
    if (!*reg) {
        return Error(errc::invalid_argument,
                     "visitor configData key \"register\" is required (CoilRegister, "
                     "DiscreteInputRegister, HoldingRegister or InputRegister)");
    }
    auto kind = register_kind(**reg);
    if (!kind) {
        return f.bad("register",
                     "CoilRegister, DiscreteInputRegister, HoldingRegister or "
                     "InputRegister, got \"" +
                         **reg + "\"");
    }
    out.kind = *kind;

    auto offset = f.integer("offset", 0, 65535);
    if (!offset) return offset.error();
    if (*offset) out.offset = static_cast<int>(**offset);

    auto limit = f.integer("limit", 1, kMaxRegisters);
    if (!limit) return limit.error();

    auto scale = f.number("scale");
    if (!scale) return scale.error();
    // Upstream marks scale omitempty with "defaults to 1.0": an explicit 0 means unset.
    if (*scale && **scale != 0.0) out.scale = **scale;

    auto swap = f.boolean("isswap");
    if (!swap) return swap.error();
    out.swap_bytes = *swap;
    auto swap_regs = f.boolean("isregisterswap");
    if (!swap_regs) return swap_regs.error();
    out.swap_registers = *swap_regs;

    auto type_name = f.string("datatype");
    if (!type_name) return type_name.error();

    if (auto unknown = f.first_unused()) {
        return Error(errc::invalid_argument,
                     "visitor configData has unknown key \"" + *unknown +
                         "\" (known: register, offset, limit, scale, isSwap, isRegisterSwap, "
                         "dataType)");
    }

    if (out.kind == RegisterKind::kCoil || out.kind == RegisterKind::kDiscreteInput) {
        if (*limit && **limit != 1) {
            return Error(errc::invalid_argument,
                         "visitor configData: a " + std::string(to_string(out.kind)) +
                             " property is one bit, so limit must be 1 (got " +
                             std::to_string(**limit) + ")");
        }
        out.limit = 1;
        out.data_type = DataType::kBit;
        return out;
    }

    bool by_limit = false;
    std::optional<DataType> type;
    if (*type_name) {
        type = data_type(**type_name, &by_limit);
        if (!type && !by_limit) {
            return f.bad("datatype",
                         "one of int16, uint16, int32, uint32, int64, uint64, "
                         "float32, float64, string, got \"" +
                             **type_name + "\"");
        }
    }
    if (type && *type != DataType::kString) {
        int width = register_count(*type);
        if (*limit && **limit != width) {
            return Error(errc::invalid_argument,
                         "visitor configData: limit " + std::to_string(**limit) +
                             " does not match dataType " + std::string(to_string(*type)) + " (" +
                             std::to_string(width) + " register" + (width > 1 ? "s" : "") + ")");
        }
        out.limit = width;
        out.data_type = *type;
        return out;
    }
    out.limit = *limit ? static_cast<int>(**limit) : 1;
    if (type) {  // string
        out.data_type = *type;
        return out;
    }
    auto def = default_type(out.limit, by_limit ? kTypeInt : property_type, f);
    if (!def) return def.error();
    out.data_type = *def;
    return out;
}

}  // namespace kedge::device::modbus
