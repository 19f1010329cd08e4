#pragma once
// A Modbus TCP device for tests: tests/support/modbus_server.py (python3-pymodbus, an independent
// implementation) as a child process on 127.0.0.1, stopped by PID.

#include <memory>
#include <string>
#include <vector>

#include "support/test_support.hpp"

namespace kedge::test {

// The interpreter that sees Debian's python3-pymodbus (not the `python3` on PATH).
inline constexpr const char* kSystemPython = "/usr/bin/python3";

// True when kSystemPython can import pymodbus.
bool pymodbus_available();

// Skips the test when pymodbus is missing; in CI (in_ci()) that is a failure instead.
#define KEDGE_REQUIRE_PYMODBUS()                                               \
    do {                                                                       \
        if (!::kedge::test::pymodbus_available()) {                            \
            if (::kedge::test::in_ci())                                        \
                FAIL() << "python3-pymodbus is not installed (scripts/setup)"; \
            GTEST_SKIP() << "python3-pymodbus is not installed";               \
        }                                                                      \
    } while (0)

class ModbusServer {
public:
    // Starts modbus_server.py with presets ("--hr", "0=215", ...) on port (0: the kernel picks
    // one), logging to <dir>/<name>.log; throws std::runtime_error with its log when it does not
    // print "ready <port>" within 15 s.
    ModbusServer(const std::string& dir, std::vector<std::string> presets, int port = 0,
                 std::string name = "modbus-server");
    int port() const { return port_; }
    std::string log_path() const { return log_; }
    std::string output() const;
    // True when the server printed this line (e.g. "write h 1 24": a client wrote it).
    bool saw(const std::string& line) const;
    void stop();

private:
    std::string log_;
    std::unique_ptr<Process> process_;
    int port_ = 0;
};

}  // namespace kedge::test
