#pragma once
// Turns what edgecore sends over DMI (a v1beta1::Device and its v1beta1::DeviceModel) into the
// DeviceConfig a driver sees, and back into twins for reports. Pure: no threads, no I/O.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "base/error.hpp"
#include "device/mapper/driver.hpp"
#include "dmi.pb.h"

namespace kedge::device {

// "<namespace>/<name>", the namespace defaulting to "default" as the API server would.
std::string object_key(std::string_view ns, std::string_view name);

// Joins a device with its model: each device property takes type, access mode, range and unit
// from the model property of the same name. invalid_argument naming the property when the model
// lacks it or its visitor configData cannot be decoded. Cycles of 0 become 1000 ms.
Result<DeviceConfig> make_device_config(const v1beta1::Device& device,
                                        const v1beta1::DeviceModel& model);

// The twin type name reported in metadata.type: the model type in lower case ("int", "float",
// "double", "string", "boolean", "bytes"), as device twins and the cloud name them.
std::string twin_type(std::string_view model_type);

// Milliseconds since the Unix epoch, the unit of every DMI timestamp.
std::int64_t unix_millis(std::chrono::system_clock::time_point t);

// True when two twin texts mean the same value of the type ("21" and "21.0" for FLOAT, "1"
// and "true" for BOOLEAN): a desired value is verified by reading it back.
bool same_value(std::string_view type, std::string_view a, std::string_view b);

}  // namespace kedge::device
