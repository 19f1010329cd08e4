#pragma once
// The Modbus halves of a Device: spec.protocol.configData (where the device is) and
// properties[].visitors.configData (which registers hold a property and how to decode them),
// parsed and validated without touching the network so that a bad Device is rejected at open()
// with a message naming the key.

#include <boost/json/object.hpp>

#include <cstdint>
#include <string>
#include <string_view>

#include "base/error.hpp"

namespace kedge::device::modbus {

// The four Modbus data tables (upstream visitor key `register`).
enum class RegisterKind {
    kCoil,           // "CoilRegister": read/write bits (function codes 1, 5)
    kDiscreteInput,  // "DiscreteInputRegister": read-only bits (2)
    kHolding,        // "HoldingRegister": read/write 16-bit words (3, 6, 16)
    kInput,          // "InputRegister": read-only 16-bit words (4)
};

// How the words of a register property are interpreted (kedge's optional visitor key
// `dataType`; upstream decides from the property type and `limit`).
enum class DataType {
    kBit,  // coils and discrete inputs: one bit
    kInt16,
    kUint16,
    kInt32,
    kUint32,
    kInt64,
    kUint64,
    kFloat32,
    kFloat64,
    kString,  // the registers' bytes as text (NUL padding dropped)
};

// Where a Modbus TCP device is: configData {ip, port, slaveID}.
struct TcpConfig {
    std::string ip;
    int port = 502;
    int slave_id = 1;
};

// One property's visitor: which registers, and how their bytes become a number.
struct VisitorConfig {
    RegisterKind kind = RegisterKind::kHolding;
    int offset = 0;               // first register/bit address (0-based, as on the wire)
    int limit = 1;                // number of registers (bits: always 1)
    double scale = 1.0;           // engineering value = raw * scale
    bool swap_bytes = false;      // isSwap: high and low byte of each register exchanged
    bool swap_registers = false;  // isRegisterSwap: register order reversed
    DataType data_type = DataType::kInt16;
};

// Parses spec.protocol.configData. invalid_argument naming the key for a missing/bad ip, port
// or slaveID, for unknown keys, and for serial keys ("serial Modbus is not supported").
Result<TcpConfig> parse_protocol_config(const boost::json::object& config);

// Parses properties[].visitors.configData for a property of the given type (kType* of
// driver.hpp). Without `dataType` the type follows upstream: bits for coils/discrete inputs;
// registers by limit (1 -> int16, 2 -> int32, 4 -> int64) except FLOAT/DOUBLE properties over
// 2 registers (IEEE float32) and DOUBLE over 4 (float64).
Result<VisitorConfig> parse_visitor_config(const boost::json::object& config,
                                           std::string_view property_type);

// Names as they appear in configData ("HoldingRegister", "float32").
std::string_view to_string(RegisterKind kind);
std::string_view to_string(DataType type);

// How many 16-bit registers a fixed-width type occupies (0 for kBit and kString).
int register_count(DataType type);

}  // namespace kedge::device::modbus
