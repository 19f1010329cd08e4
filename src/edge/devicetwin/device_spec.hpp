#pragma once
// What the twin reads from (and writes into) the Device and DeviceModel objects the cloud sends
// (devices.kubeedge.io/v1beta1 JSON): the protocol and model of a device, its twins from
// spec.properties, and the desired value patched in when twin/cloud_updated arrives first.
// Pure functions, no Asio.

#include <boost/json/object.hpp>

#include <cstdint>
#include <string>
#include <utility>

#include "edge/devicetwin/twin_types.hpp"

namespace kedge::edge::devicetwin {

// The parts of a Device object that decide where it goes.
struct DeviceSpecView {
    std::string protocol;    // spec.protocol.protocolName
    std::string model_name;  // spec.deviceModelRef.name
    std::string model_key;   // "<device namespace>/<model name>"
};

// "<ns>/<name>" -> {ns, name} ("default" when there is no namespace).
std::pair<std::string, std::string> split_id(const std::string& id);

DeviceSpecView spec_view(const std::string& id, const boost::json::object& device);

// Brings d's twins in line with the Device's spec.properties: one twin per property (others are
// dropped), desired.value -> expected (with expected_version.cloud + 1 when it changed),
// reportToCloud, and the type of the model's property when the model is given. Returns true when
// an expected value changed.
bool apply_device_spec(DeviceRecord& d, const std::string& id, const boost::json::object& device,
                       const boost::json::object* model, std::int64_t now_ms);

// Sets spec.properties[name=prop].desired.value in a Device object.
void patch_desired(boost::json::object& device, const std::string& prop, const std::string& value);

// The Device's spec as JSON text (what the mapper was last given, to notice changes).
std::string spec_text(const boost::json::object& device);

}  // namespace kedge::edge::devicetwin
