#pragma once
// The mapper runtime behind run_mapper(), usable on its own (tests, or a process with its own
// signal handling): serves DeviceMapperService, registers with edgecore and runs one
// DeviceWorker per device.
//
// Threads: gRPC's server threads run the DeviceMapperService handlers (they only update the
// device/model tables and hand configs to workers); one "dmi" thread registers with edgecore
// and re-registers whenever a report found edgecore gone; one thread per device (DeviceWorker).

#include <memory>
#include <optional>
#include <string>

#include "base/error.hpp"
#include "device/mapper/driver.hpp"
#include "device/mapper/mapper.hpp"

namespace kedge::device {

// Owns the server socket, the DMI client, the device table and the workers.
class MapperRuntime {
public:
    MapperRuntime(std::unique_ptr<Driver> driver, MapperOptions options);
    ~MapperRuntime();  // stop()
    MapperRuntime(const MapperRuntime&) = delete;
    MapperRuntime& operator=(const MapperRuntime&) = delete;

    // Serves the socket (a stale socket file is removed first, the new one is mode 0660) and
    // starts registering. io_error when the socket cannot be served.
    Result<void> start();
    // Stops registering, the server and every worker; removes the socket. Idempotent.
    void stop();

    // The socket actually served (options.socket or /etc/kubeedge/<protocol>.sock).
    const std::string& socket_path() const;
    // MapperRegister has succeeded at least once (and not been invalidated since).
    bool registered() const;
    // Devices currently managed, and the state of one ("online"/"offline"/"unknown"); nullopt
    // when the device is not managed or waits for its model.
    std::size_t device_count() const;
    std::optional<std::string> device_state(const std::string& ns, const std::string& name) const;

    struct Impl;

private:
    std::unique_ptr<Impl> impl_;
};

}  // namespace kedge::device
