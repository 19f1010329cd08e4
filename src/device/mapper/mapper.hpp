#pragma once
// The mapper SDK's runtime: a mapper process is a Driver plus run_mapper(). It serves
// DeviceMapperService on its own unix socket, registers with edgecore's DeviceManagerService
// (MapperRegister withData, retried until edgecore answers, again whenever edgecore restarts),
// keeps one worker per device (connect, collect each property every collectCycle, report the
// twins every reportCycle with ReportDeviceStatus, the state with ReportDeviceStates, push
// values by MQTT/HTTP when configured, write desired values of ReadWrite properties), and stops
// cleanly on SIGINT/SIGTERM.

#include <chrono>
#include <memory>
#include <string>

#include "device/mapper/driver.hpp"

namespace kedge::device {

struct MapperOptions {
    std::string name;                       // MapperInfo.name, e.g. "modbus-mapper"
    std::string version = "v1.0.0";
    std::string api_version = "v1beta1";
    std::string dmi_socket = "/etc/kubeedge/dmi.sock";  // edgecore's DeviceManagerService
    std::string socket;                     // ours; empty: /etc/kubeedge/<protocol>.sock
    std::chrono::milliseconds register_retry{2000};
    std::chrono::milliseconds rpc_timeout{5000};
};

// Parses the common mapper flags (--dmi-sock, --sock, --name, --config <yaml with upstream's
// common/grpc_server keys>, --register-retry-ms, --log-level; flags win over the file); exits
// with a usage message on bad flags or a config file that does not load.
MapperOptions parse_mapper_flags(int argc, char** argv, std::string default_name);

// Runs until SIGINT/SIGTERM; returns the process exit code (0 on a clean stop, 1 when the
// socket cannot be served).
int run_mapper(std::unique_ptr<Driver> driver, MapperOptions options);

}  // namespace kedge::device
