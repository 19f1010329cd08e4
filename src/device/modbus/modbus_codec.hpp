#pragma once
// Value conversion between Modbus registers and twin text, separate from the I/O so that every
// scale, swap, type and range rule is unit-tested without a server.
//
// Read:  registers -> bytes (big-endian words) -> isRegisterSwap / isSwap -> number of dataType
//        -> * scale -> text in the property's type (INT rounds, FLOAT/DOUBLE keep decimals,
//        BOOLEAN "true"/"false").
// Write: text parsed as the property's type -> checked against minimum/maximum -> / scale ->
//        rounded for integer types and checked against the dataType's range -> bytes -> the
//        same swaps (each is its own inverse) -> registers.

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.hpp"
#include "device/mapper/driver.hpp"
#include "device/modbus/modbus_config.hpp"

namespace kedge::device::modbus {

// The twin text of limit registers read for a property. parse_error when the register count
// does not match the visitor (a short reply).
Result<std::string> decode_registers(const VisitorConfig& visitor, const PropertyConfig& property,
                                     std::span<const std::uint16_t> registers);

// The twin text of one coil/discrete input: "true"/"false" for BOOLEAN (and STRING/BYTES)
// properties, "1"/"0" for numeric ones.
std::string decode_bit(bool bit, const PropertyConfig& property);

// The registers to write for a desired value. invalid_argument when the text does not parse
// as the property's type, is outside minimum/maximum, or does not fit the dataType after scale.
Result<std::vector<std::uint16_t>> encode_registers(const VisitorConfig& visitor,
                                                    const PropertyConfig& property,
                                                    std::string_view text);

// The coil state for a desired value: BOOLEAN accepts Go's ParseBool forms (true/false, 1/0,
// t/f, TRUE/FALSE, True/False); numeric types accept 0 and 1.
Result<bool> encode_bit(const PropertyConfig& property, std::string_view text);

}  // namespace kedge::device::modbus
