#pragma once
// Conversions between the Kubernetes objects of devices.kubeedge.io/v1beta1 (JSON, as the cloud
// sends them and the edge stores them) and the DMI protobuf messages (proto/dmi/dmi.proto), shared
// by edgecore's device twin (JSON -> proto, to call mappers) and the mapper SDK (proto -> its
// DeviceConfig). configData objects travel as map<string, Any> of google.protobuf wrapper types.

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <string>

#include "base/error.hpp"
#include "dmi.pb.h"

namespace kedge::device::dmi {

// A Device object ({apiVersion, kind, metadata, spec, status}) -> v1beta1::Device (name,
// namespace, spec with protocol/properties/methods, status twins). invalid_argument naming the
// field when the object is not a Device or a field has the wrong JSON type.
Result<v1beta1::Device> device_to_proto(const boost::json::object& device);
// A DeviceModel object -> v1beta1::DeviceModel.
Result<v1beta1::DeviceModel> model_to_proto(const boost::json::object& model);

// configData JSON object <-> CustomizedValue. Strings -> StringValue, integers -> Int64Value,
// other numbers -> DoubleValue, booleans -> BoolValue, objects/arrays -> StringValue holding
// their JSON text. Decoding also accepts Int32/UInt32/UInt64/Float wrappers.
v1beta1::CustomizedValue json_to_customized(const boost::json::object& config);
Result<boost::json::object> customized_to_json(const v1beta1::CustomizedValue& value);

}  // namespace kedge::device::dmi
