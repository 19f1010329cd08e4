#pragma once
// Push methods of device properties (Device.spec.properties[].pushMethod): every collected value
// is also sent, as JSON {"device","namespace","property","value","timestamp"}, by HTTP POST or
// MQTT publish. Thread-safe; called from device workers, blocking up to the push timeout.

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "base/error.hpp"
#include "device/mapper/driver.hpp"

namespace kedge::mqtt {
class Client;
}

namespace kedge::device {

// The JSON body both push methods send.
std::string push_payload(const DeviceConfig& device, const PropertyConfig& property,
                         std::string_view value, std::int64_t timestamp_ms);

// One HTTP/1.1 POST of a JSON body to http://host[:port]/path over plain TCP, waiting at most
// timeout for the whole exchange. Ok for any 2xx answer; unavailable when the peer cannot be
// reached, io_error with the status line otherwise. https is refused (invalid_argument).
Result<void> http_post_json(const PushHttp& target, std::string_view body);

// Sends values by the property's configured push methods; keeps one MQTT client per broker
// address for the life of the mapper (they reconnect by themselves).
class Pusher {
public:
    Pusher();
    ~Pusher();
    Pusher(const Pusher&) = delete;
    Pusher& operator=(const Pusher&) = delete;

    // Errors are returned (the worker logs them); a broker that is down is unavailable.
    Result<void> push(const DeviceConfig& device, const PropertyConfig& property,
                      std::string_view value, std::int64_t timestamp_ms);
    // Stops every MQTT client (also done by the destructor).
    void stop();

private:
    Result<void> push_mqtt(const PushMqtt& target, std::string_view payload);

    std::mutex mutex_;
    std::map<std::string, std::unique_ptr<mqtt::Client>> mqtt_;
};

}  // namespace kedge::device
