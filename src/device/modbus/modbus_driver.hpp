#pragma once
// The Modbus TCP protocol for the mapper SDK: a Driver whose clients read and write coils,
// discrete inputs, holding and input registers through libmodbus (blocking, on the runtime's
// per-device worker thread, every request bounded by the response timeout).

#include <chrono>
#include <memory>

#include "device/mapper/driver.hpp"

namespace kedge::device::modbus {

// The protocol name devices give in spec.protocol.protocolName.
inline constexpr std::string_view kProtocolName = "modbus";

struct ModbusDriverOptions {
    // Bounds connect() and every request, so that an unreachable or silent server makes the
    // device offline quickly instead of holding up the worker (and stop()).
    std::chrono::milliseconds response_timeout{1000};
};

// Makes the "modbus" driver. open() validates spec.protocol.configData ({ip, port, slaveID};
// serial keys are rejected) and every property's visitor (modbus_config.hpp) and returns an
// unconnected client. Client errors: unavailable (refused, reset, server failure), timeout (no
// answer within response_timeout), invalid_argument (bad desired value, read-only register, the
// device refused the address or value), io_error (a malformed reply). After unavailable,
// timeout or a malformed reply the connection is closed; the next call reconnects.
std::unique_ptr<Driver> make_modbus_driver(ModbusDriverOptions options = {});

}  // namespace kedge::device::modbus
