#pragma once
// cloudcore's device controller (upstream's `devicecontroller` module): the bridge between the
// devices.kubeedge.io Device/DeviceModel objects and the edge nodes' device twins. Downstream
// it sends each device's node the DeviceModel, the Device and the twin membership, and desired
// value changes as twin/cloud_updated; it answers membership/detail. Upstream it writes the
// twin and state reports of a node's own devices into Device.status (coalesced per device).

#include <boost/asio/any_io_executor.hpp>

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "base/clock.hpp"
#include "cloud/hub/cloud_hub.hpp"

namespace kedge::kube::client {
class Client;
class InformerFactory;
}  // namespace kedge::kube::client

namespace kedge::cloud::devicecontroller {

struct DeviceControllerOptions {
    // Reports waiting for one device's status patch; beyond it a report is answered with an
    // `error` (the edge keeps it and re-sends) instead of piling up memory.
    std::size_t max_waiting_reports_per_device = 256;
    // Upstream messages that arrive before the informers synced are held, up to this many.
    std::size_t max_early_messages = 1024;
    // Nodes whose send failed (queue full) get their devices again this often.
    std::chrono::milliseconds retry_interval{5000};
};

// Counters for /metrics and tests.
struct DeviceControllerStats {
    std::map<std::string, std::uint64_t> sent;      // "device", "devicemodel", "membership", ...
    std::map<std::string, std::uint64_t> upstream;  // "twin/edge_updated", "state/update", ...
    std::uint64_t status_patches = 0;               // successful Device.status writes
    std::uint64_t coalesced_reports = 0;            // reports folded into a write already pending
    std::uint64_t api_errors = 0;                   // failed writes (status, events)
    std::uint64_t denials = 0;                      // reports about a device bound to another node
    std::uint64_t unknown_devices = 0;              // reports about a device that does not exist
    std::uint64_t bad_messages = 0;
    std::uint64_t throttled = 0;       // max_waiting_reports_per_device reached
    std::uint64_t missing_models = 0;  // DeviceModelNotFound events emitted
    std::uint64_t send_failures = 0;   // queue full: the node gets its devices again later
};

// Prometheus text lines (cloudcore_devicecontroller_*) for cloudcore's /metrics.
std::string render_metrics(const DeviceControllerStats& stats);

class DeviceController : public HubObserver {
public:
    // ex: the single-threaded executor the factory's informers run on. Adds the devices and
    // devicemodels informers and their handlers: call before factory.start_all().
    static std::shared_ptr<DeviceController> make(boost::asio::any_io_executor ex,
                                                  std::shared_ptr<kube::client::Client> client,
                                                  kube::client::InformerFactory& factory,
                                                  DeviceControllerOptions options = {},
                                                  const Clock& clock = SystemClock::instance());
    ~DeviceController() override = default;

    // Where messages to nodes go (the CloudHub). Before start().
    virtual void attach(std::shared_ptr<MessageSink> sink) = 0;
    // Waits for the informers' sync in the background, then serves. Idempotent.
    virtual void start() = 0;
    // No message is sent and no API request started after it (pending ones complete).
    virtual void stop() = 0;
    // Safe from any thread.
    virtual DeviceControllerStats stats() const = 0;
};

}  // namespace kedge::cloud::devicecontroller
