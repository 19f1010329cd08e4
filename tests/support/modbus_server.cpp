#include "support/modbus_server.hpp"

#include <chrono>
#include <cstdlib>
#include <stdexcept>

namespace kedge::test {

bool pymodbus_available() {
    return run_command(std::string(kSystemPython) + " -c 'import pymodbus' 2>&1").exit_code == 0;
}

ModbusServer::ModbusServer(const std::string& dir, std::vector<std::string> presets, int port,
                           std::string name)
    : log_(dir + "/" + name + ".log") {
    std::vector<std::string> argv = {kSystemPython,   source_path("tests/support/modbus_server.py"),
                                     "--port",        std::to_string(port),
                                     "--max-seconds", "300"};
    argv.insert(argv.end(), presets.begin(), presets.end());
    process_ = std::make_unique<Process>(argv, log_);
    bool ready = wait_until(
        [&] {
            auto text = read_file(log_);
            auto at = text.find("ready ");
            if (at == std::string::npos) return false;
            port_ = std::atoi(text.c_str() + at + 6);
            return port_ > 0;
        },
        std::chrono::seconds(15));
    if (!ready) throw std::runtime_error("modbus_server.py did not start:\n" + read_file(log_));
}

std::string ModbusServer::output() const { return read_file(log_); }

bool ModbusServer::saw(const std::string& line) const {
    return output().find(line + "\n") != std::string::npos;
}

void ModbusServer::stop() { process_->stop(); }

}  // namespace kedge::test
