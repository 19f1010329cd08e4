#pragma once
// What the device controller puts on the wire and reads from it (PROTOCOL.md §1, §9 and the
// devices design): Device/DeviceModel object messages, membership updates and the
// membership/detail answer with upstream's types.Device entries, twin/cloud_updated, and the
// parsing of twin/edge_updated and state/update reports plus the Device.status merge patch they
// turn into. Pure: no client, no executor.

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/clock.hpp"
#include "base/error.hpp"
#include "bus/message.hpp"

namespace kedge::cloud::devicecontroller {

// ---- reading Device and DeviceModel objects ----

// spec.nodeName, "" when unbound.
std::string node_of(const boost::json::object& device);
// "<ns>/<model>" of spec.deviceModelRef.name (the model lives in the device's namespace), ""
// when the device names no model.
std::string model_key_of(const boost::json::object& device);
// spec.properties[].desired.value by property name (properties without a desired value are
// left out).
std::map<std::string, std::string> desired_values(const boost::json::object& device);
// The model's type of a property in the twin's lower-case form ("int", "float", "double",
// "string", "boolean", "bytes", "stream"); "" when the model or the property is unknown.
std::string twin_type(const boost::json::object* model, std::string_view property);

// ---- downstream ----

// An insert/update/delete of a Device or DeviceModel: route {devicecontroller, resource, op,
// "<ns>/<type>/<name>"}, header resourceversion, content the whole object.
bus::Message object_message(std::string_view operation, std::string_view type,
                            const boost::json::object& obj,
                            const Clock& clock = SystemClock::instance());

// upstream's types.Device: {id "<ns>/<name>", name, description, state, last_online,
// attributes {}, twin {<prop>: MsgTwin}} with the desired values as `expected`.
boost::json::object membership_device(const boost::json::object& device,
                                      const boost::json::object* model, std::int64_t now_ms);
// The short form a removal needs: {id, name}.
boost::json::object removed_device(std::string_view ns, std::string_view name);

// group twin, op update, resource "membership" (the hub writes it as the node sees it),
// content {event_id, timestamp, added_devices, removed_devices}.
bus::Message membership_update(boost::json::array added, boost::json::array removed,
                               const Clock& clock = SystemClock::instance());

// group twin, op update, resource "device/<ns>/<name>/twin/cloud_updated", content {event_id,
// timestamp, twin {<prop>: MsgTwin with expected}} for the given properties.
bus::Message cloud_updated(const boost::json::object& device, const boost::json::object* model,
                           const std::vector<std::string>& properties,
                           const Clock& clock = SystemClock::instance());

// The answer to membership/detail: a response to request with content {event_id, timestamp,
// devices}.
bus::Message detail_response(const bus::Message& request, boost::json::array devices,
                             const Clock& clock = SystemClock::instance());

// A response (or error) to an upstream request, from the device controller.
bus::Message reply(const bus::Message& request, std::string_view text, bool error,
                   const Clock& clock = SystemClock::instance());

// ---- upstream ----

// One property of a twin/edge_updated report.
struct TwinReport {
    std::optional<std::string> value;  // actual.value; nullopt when the edge sent none
    std::int64_t timestamp_ms = 0;     // actual.metadata.timestamp (0: unknown)
    std::string type;                  // metadata.type ("" when absent)
};

// The content of an upstream message as JSON: an object, or (as upstream edges send it) a JSON
// string holding the JSON text or its base64.
Result<boost::json::value> content_json(const bus::Message& msg);

// {event_id, timestamp, twin: {<prop>: MsgTwin}} -> the reported values by property. Property
// names and values follow upstream's limits (PROTOCOL.md §9); anything else is
// invalid_argument naming the property.
Result<std::map<std::string, TwinReport>> parse_edge_updated(const boost::json::value& content);

// A state/update report, normalised.
struct StateReport {
    std::string state;        // "online", "offline", "unknown", ...
    std::string last_online;  // RFC 3339 ("" when the edge sent none)
};
// {event_id, timestamp, state, last_online}. last_online may be RFC 3339 or upstream's
// "2006-01-02 15:04:05" (taken as UTC); an online report without one gets `now`.
Result<StateReport> parse_state_update(const boost::json::value& content, Clock::time_point now);

// Reports not yet written to the API, coalesced per device (the latest value per property
// wins).
struct PendingStatus {
    std::map<std::string, TwinReport> twins;
    std::optional<StateReport> state;
    bool empty() const { return twins.empty() && !state; }
    void merge(PendingStatus other);
};

// The merge patch body for devices/<name>/status: {"status": {twins: [...], state,
// lastOnlineTime}}. twins is the device's current status.twins with every pending property
// replaced or added: reported {value, metadata {timestamp, type}} and observedDesired = the
// spec's desired value (when there is one). A merge patch replaces lists whole, so the base must
// be the latest known Device.
boost::json::object status_patch(const boost::json::object& device,
                                 const boost::json::object* model, const PendingStatus& pending,
                                 std::int64_t now_ms);

}  // namespace kedge::cloud::devicecontroller
