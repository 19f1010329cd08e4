#pragma once
// One device's life in the mapper: its own thread opens the driver's client, connects (retrying
// with back-off), collects every property on its collectCycle, writes new desired values of
// ReadWrite properties and verifies them by reading back, pushes values, and reports twins
// (every reportCycle) and the connection state (on change and every state_heartbeat) to
// edgecore. The runtime owns the workers and calls update()/stop() from its own threads.

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "device/mapper/driver.hpp"
#include "dmi.pb.h"

namespace kedge::device {

class DmiClient;
class Pusher;

// What a worker needs from the runtime; outlives every worker.
struct WorkerContext {
    Driver* driver = nullptr;
    DmiClient* dmi = nullptr;
    Pusher* pusher = nullptr;
    // Called (from the worker thread) when edgecore did not answer a report: re-register.
    std::function<void()> on_dmi_unavailable;
    std::chrono::milliseconds state_heartbeat{30000};
    std::chrono::milliseconds reconnect_initial{1000};
    std::chrono::milliseconds reconnect_max{30000};
};

// A device's collect/report loop on its own thread. Thread-safe.
class DeviceWorker {
public:
    DeviceWorker(const WorkerContext& context, DeviceConfig config);
    ~DeviceWorker();  // stop()
    DeviceWorker(const DeviceWorker&) = delete;
    DeviceWorker& operator=(const DeviceWorker&) = delete;

    void start();
    // A new spec from edgecore: new desired values are written; a changed protocol or visitor
    // reconnects the device; values already read are kept for properties that remain.
    void update(DeviceConfig config);
    // Report state and twins now (after a re-registration with edgecore).
    void resync();
    // Ends the thread (after the driver call in progress returns) and disconnects.
    void stop();

    // The current twins (reported values, observed desired values), as GetDevice returns them.
    std::vector<v1beta1::Twin> twins() const;
    // "online", "offline" or "unknown" (not tried yet).
    std::string state() const;

private:
    using Clock = std::chrono::steady_clock;

    struct Property {
        PropertyConfig config;
        std::optional<std::string> value;
        std::int64_t value_ms = 0;
        std::optional<std::string> applied_desired;
        std::int64_t applied_ms = 0;
        bool desired_pending = false;
        int write_failures = 0;
        Clock::time_point next_collect{};
        std::string last_error;  // logged once until it changes
    };

    void run();
    void apply_config(DeviceConfig config);  // mutex_ held
    void step();
    void ensure_connected(Clock::time_point now);
    void lose_connection(Clock::time_point now, const std::string& why);
    void write_desired(Clock::time_point now);
    void collect(Clock::time_point now);
    void report_state(Clock::time_point now);
    void report_status(Clock::time_point now);
    Clock::time_point next_wakeup() const;           // mutex_ held
    std::chrono::milliseconds report_cycle() const;  // mutex_ held

    const WorkerContext& ctx_;
    std::string id_;  // "<ns>/<name>" for logs

    mutable std::mutex mutex_;
    std::condition_variable cv_;
    bool stop_ = false;
    std::optional<DeviceConfig> pending_config_;
    bool resync_ = false;
    // Everything below is written by the worker thread under mutex_ and read by twins()/state().
    DeviceConfig config_;
    std::vector<Property> props_;
    std::string state_ = "unknown";

    // Worker thread only.
    std::unique_ptr<DeviceClient> client_;
    bool reopen_ = false;
    bool open_failed_ = false;
    bool connected_ = false;
    bool last_read_ok_ = true;
    std::chrono::milliseconds backoff_{};
    Clock::time_point next_connect_{};
    Clock::time_point next_report_{};
    Clock::time_point next_state_{};
    std::string reported_state_;
    bool dmi_down_logged_ = false;

    std::thread thread_;
};

}  // namespace kedge::device
