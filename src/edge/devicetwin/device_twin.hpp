#pragma once
// edgecore's device twin (upstream module "twin", group "twin"): the edge's view of its devices.
//
// It keeps every device bound to this node with its twins (desired "expected" values from the
// cloud, reported "actual" values from the mapper) in upstream's device/device_attr/device_twin
// tables of the edgecore SQLite file, registers devices and their models with the mapper of their
// protocol over DMI, serves the mappers' DeviceManagerService (MapperRegister,
// ReportDeviceStatus, ReportDeviceStates) on the DMI unix socket, answers the MQTT twin topics
// the event bus forwards, and reports changes up to the cloud (`twin/edge_updated`,
// `state/update`), keeping the latest unacknowledged report per device durably until the cloud
// answers it.
//
// Threads: all twin state lives on one strand of the Context's executor; SQLite writes run on a
// one-thread store pool and mapper calls (blocking gRPC, ~5 s deadline) on a one-thread mapper
// pool, both through net::run_blocking; DMI calls arrive on gRPC threads and are handed to the
// strand, waited for with a deadline. stats() is safe from any thread.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

#include "base/error.hpp"
#include "bus/module.hpp"

namespace kedge::edge::devicetwin {

struct DeviceTwinOptions {
    std::string node;
    // The edgecore database (database.dataSource); the twin opens its own connection.
    std::filesystem::path database;
    // The DMI socket (dmi_socket_path(modules.deviceTwin.dmiSockPath)); empty: no DMI server.
    std::string dmi_socket;
    // How long a report waits for the cloud's answer before it is retried later.
    std::chrono::milliseconds cloud_timeout{30'000};
    // Pending reports are re-sent this often while connected (and on cloud_connected).
    std::chrono::milliseconds resend_interval{10'000};
    // Deadline of each call to a mapper.
    std::chrono::milliseconds mapper_timeout{5'000};
    // How long a DMI call waits for the twin to handle it.
    std::chrono::milliseconds dmi_timeout{5'000};
    // How long the membership/detail request on cloud_connected waits for the cloud.
    std::chrono::milliseconds detail_timeout{30'000};
};

// Counters for /metrics.
struct DeviceTwinStats {
    std::uint64_t devices = 0;           // devices held now
    std::uint64_t mappers = 0;           // mappers registered now
    std::uint64_t reports = 0;           // twin/state reports applied (DMI and MQTT)
    std::uint64_t bad_reports = 0;       // reports refused (400 / INVALID_ARGUMENT)
    std::uint64_t pending = 0;           // reports waiting for the cloud's ack now
    std::uint64_t sent_to_cloud = 0;     // reports the cloud acknowledged
    std::uint64_t refused_by_cloud = 0;  // reports dropped after the cloud refused them 5 times
    std::uint64_t mapper_calls = 0;      // DMI calls to mappers that succeeded
    std::uint64_t mapper_failures = 0;   // DMI calls to mappers that failed
};

// The stats in the Prometheus text format (edgecore_twin_* gauges and counters), for edgecore's
// /metrics.
std::string render_metrics(const DeviceTwinStats& s);

class DeviceTwin : public bus::Module {
public:
    // Opens the store and loads the devices, pending reports and the Device/DeviceModel objects
    // the meta manager stored (blocking, at start-up). io_error naming the file on failure.
    static Result<std::shared_ptr<DeviceTwin>> create(DeviceTwinOptions options);
    ~DeviceTwin() override;

    std::string name() const override;   // "twin"
    std::string group() const override;  // "twin"
    // Spawns the receive loop on ctx's executor and starts the DMI server (a failure to listen
    // is logged; the MQTT path keeps working).
    void start(bus::Context& ctx) override;
    // Stops the DMI server (its socket removed) and the timers.
    void stop() override;

    DeviceTwinStats stats() const;
    // True when the DMI server is listening.
    bool dmi_listening() const;

    struct Impl;

private:
    explicit DeviceTwin(std::shared_ptr<Impl> impl);
    std::shared_ptr<Impl> impl_;
};

}  // namespace kedge::edge::devicetwin
