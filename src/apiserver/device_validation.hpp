#pragma once
// Admission rules of devices.kubeedge.io (PROTOCOL.md §9) that a structural schema cannot say:
// a Device's properties must exist in its DeviceModel, and a desired value must parse as the
// property's type, lie within its minimum/maximum and be set only on ReadWrite properties; a
// DeviceModel's property names are unique, its types and access modes known and its ranges
// ordered. Pure functions on JSON objects: the registry supplies the stored model.

#include <boost/json/object.hpp>

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "apiserver/resource_types.hpp"
#include "kube/status.hpp"

namespace kedge::apiserver {

inline constexpr std::string_view kDevicesGroup = "devices.kubeedge.io";

bool is_device_type(const ResourceType& type);        // devices.kubeedge.io devices
bool is_device_model_type(const ResourceType& type);  // devices.kubeedge.io devicemodels

// Why value is not a valid `type` ("INT", "FLOAT", "DOUBLE", "BOOLEAN", "STRING", "BYTES",
// "STREAM"), e.g. "is not an INT"; nullopt when it is. Unknown types accept anything.
std::optional<std::string> check_value_type(std::string_view type, std::string_view value);

// Causes for a Device against its model; model null = the model does not exist, which is
// allowed (the device controller reports it): then only the property names' uniqueness is
// checked. Fields are named like "spec.properties[0].desired.value"; messages name the property
// and the model ("property temperature: value \"hot\" is not an INT (model thermometer)").
std::vector<kube::StatusCause> validate_device(const boost::json::object& device,
                                               const boost::json::object* model);

// Causes for a DeviceModel: unique property names, type and accessMode in their enums, minimum
// and maximum numbers of the property's type with minimum <= maximum.
std::vector<kube::StatusCause> validate_device_model(const boost::json::object& model);

// Reads the stored DeviceModel <ns>/<name>; nullopt when there is none.
using DeviceModelLookup =
    std::function<std::optional<boost::json::object>(std::string_view ns, std::string_view name)>;

// The registry's admission step for a create (old null) or update of any object: the rules
// above for devices.kubeedge.io types whose spec is new or changed (a status write or a
// metadata change never fails because the model changed since), nothing for other types.
std::vector<kube::StatusCause> admit_device_object(const ResourceType& type,
                                                   const boost::json::object* old,
                                                   const boost::json::object& obj,
                                                   const DeviceModelLookup& find_model);

}  // namespace kedge::apiserver
