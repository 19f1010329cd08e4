#pragma once
// The "virtual" protocol: devices whose properties are simulated, for demos and tests without
// hardware. A property's visitor configData chooses how its value moves:
//   {"mode": "constant"|"random"|"sine"|"counter", "value": <start or constant>,
//    "min": <number>, "max": <number>, "period": <sine period in ms>}
// min/max default to the model's minimum/maximum, else 0 and 100. Writes store the value (a
// constant property reads it back; a counter continues from it). The device's protocol
// configData may say {"offline": true} to simulate a device that cannot be reached.

#include <memory>
#include <string>

#include "device/mapper/driver.hpp"

namespace kedge::device::virt {

inline constexpr const char* kProtocol = "virtual";

// Driver for simulated devices; clients are independent (one per device).
class VirtualDriver final : public Driver {
public:
    std::string protocol() const override { return kProtocol; }
    Result<std::unique_ptr<DeviceClient>> open(const DeviceConfig& device) override;
};

}  // namespace kedge::device::virt
