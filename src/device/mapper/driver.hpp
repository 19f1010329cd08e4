#pragma once
// The protocol side of a mapper: what a new protocol implements, and nothing else. The mapper SDK
// (MapperRuntime) owns everything around it — DMI registration with edgecore, the device list,
// collect/report cycles, desired values, push methods — and calls a driver only through these
// two interfaces, from one worker thread per device, so a driver may block (libmodbus does).

#include <boost/json/object.hpp>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.hpp"

namespace kedge::device {

// Property types of a DeviceModel (devices.kubeedge.io/v1beta1 ModelProperty.type).
inline constexpr std::string_view kTypeInt = "INT";
inline constexpr std::string_view kTypeFloat = "FLOAT";
inline constexpr std::string_view kTypeDouble = "DOUBLE";
inline constexpr std::string_view kTypeString = "STRING";
inline constexpr std::string_view kTypeBoolean = "BOOLEAN";
inline constexpr std::string_view kTypeBytes = "BYTES";

// Device connection states reported to edgecore (ReportDeviceStates) and shown in
// Device.status.state.
inline constexpr std::string_view kStateOnline = "online";
inline constexpr std::string_view kStateOffline = "offline";
inline constexpr std::string_view kStateUnknown = "unknown";

// Where a property's collected value is pushed besides the twin (Device.spec.properties[].
// pushMethod). Empty optionals: not configured.
struct PushMqtt {
    std::string address;  // mqtt://127.0.0.1:1883 or tcp://...
    std::string topic;
    int qos = 0;
    bool retained = false;
};
struct PushHttp {
    std::string hostname;  // http://127.0.0.1 (scheme optional)
    int port = 80;
    std::string request_path;
    std::chrono::milliseconds timeout{5000};
};

// One property of one device: the model's half (type, access, range) joined with the device's
// half (visitor, cycles, desired value, push method).
struct PropertyConfig {
    std::string name;
    std::string type = std::string(kTypeString);  // one of kType*
    bool writable = false;                         // model accessMode ReadWrite
    std::optional<double> minimum, maximum;        // model minimum/maximum, when numeric
    std::string unit;
    std::string visitor_protocol;                  // visitors.protocolName
    boost::json::object visitor;                   // visitors.configData, as JSON
    std::chrono::milliseconds collect_cycle{1000};
    std::chrono::milliseconds report_cycle{1000};
    bool report_to_cloud = true;
    std::optional<std::string> desired;            // desired.value, when the user set one
    std::optional<PushMqtt> push_mqtt;
    std::optional<PushHttp> push_http;
};

// Everything a driver needs to reach one device.
struct DeviceConfig {
    std::string name;
    std::string namespace_;
    std::string model;
    std::string protocol_name;     // spec.protocol.protocolName
    boost::json::object protocol;  // spec.protocol.configData, as JSON
    std::vector<PropertyConfig> properties;
};

// A connection to one physical (or simulated) device. Created by Driver::open(); every call
// comes from the same worker thread; calls may block but should honour the driver's own I/O
// timeouts so that stop() is never held up for long.
class DeviceClient {
  public:
    virtual ~DeviceClient() = default;
    // Connects (or reconnects after a failure). An error makes the device "offline"; the
    // runtime retries with back-off and keeps serving other devices.
    virtual Result<void> connect() = 0;
    // Reads one property and returns it as twin text in the property's type ("21.5", "true",
    // "42"), after the visitor's scale/offset. An error is logged, marks the device offline
    // when it looks like a lost connection (errc::unavailable / errc::timeout), and the
    // previous value stays reported.
    virtual Result<std::string> read(const PropertyConfig& property) = 0;
    // Writes a desired value given as twin text; invalid_argument when it does not parse as
    // the property's type or is out of range.
    virtual Result<void> write(const PropertyConfig& property, std::string_view value) = 0;
    // Closes the connection; connect() may follow.
    virtual void disconnect() = 0;
};

// A protocol: one per mapper process ("modbus", "virtual").
class Driver {
  public:
    virtual ~Driver() = default;
    // The protocol name devices name in spec.protocol.protocolName and the mapper announces in
    // MapperInfo.protocol.
    virtual std::string protocol() const = 0;
    // Validates the device's protocol and visitor config and makes a client (not yet
    // connected). invalid_argument with a message naming the bad key/property: the device is
    // reported offline and the message logged, other devices are unaffected.
    virtual Result<std::unique_ptr<DeviceClient>> open(const DeviceConfig& device) = 0;
};

}  // namespace kedge::device
