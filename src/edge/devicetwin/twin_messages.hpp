#pragma once
// The device twin's MQTT topics and payloads (PROTOCOL.md §9) and the contents of what it sends
// to the cloud (devices_design.md): pure functions, no bus, no Asio.

#include <boost/json/object.hpp>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.hpp"
#include "edge/devicetwin/twin_types.hpp"

namespace kedge::edge::devicetwin {

// What an MQTT topic the event bus forwards asks the twin to do.
struct TwinTopic {
    enum class Kind { twin_update, twin_get, state_update, membership_get, unknown };
    Kind kind = Kind::unknown;
    std::string subject;  // the device id ("<ns>/<name>") or, for membership_get, the node
};

// `$hw/events/device/<id>/twin/update`, `.../twin/get`, `.../state/update`,
// `$hw/events/node/<node>/membership/get`; anything else is Kind::unknown.
TwinTopic parse_topic(std::string_view topic);
// `$hw/events/device/<id>/<suffix>` (suffix e.g. "twin/update/result").
std::string device_topic(std::string_view id, std::string_view suffix);
// `$hw/events/node/<node>/membership/get/result`.
std::string membership_result_topic(std::string_view node);

// One reported property of a twin update: the actual value and its timestamp (0 = now).
struct ReportedValue {
    std::string value;
    std::int64_t timestamp = 0;
};

// A parsed `twin/update` payload {event_id, timestamp, twin:{<prop>: {actual:{value,
// metadata:{timestamp}}}}}. invalid_argument with the reason when it is not JSON, not of that
// shape, a key or a value breaks upstream's patterns, or a property has no actual value.
struct TwinReport {
    std::string event_id;
    std::map<std::string, ReportedValue> twins;
};
Result<TwinReport> parse_twin_report(std::string_view payload);
// Upstream's key and value patterns for one reported property; invalid_argument saying which.
Result<void> check_reported(std::string_view name, std::string_view value);

// `{event_id, timestamp}` of any payload (empty when unreadable), for replies to bad requests.
std::string event_id_of(std::string_view payload);

// {event_id, timestamp[, code, reason]}.
std::string result_payload(std::string_view event_id, std::int64_t now_ms,
                           std::optional<int> code = {}, std::string_view reason = {});
// {event_id, timestamp, twin:{<prop>:{last: MsgTwin|null, current: MsgTwin}}}.
std::string document_payload(std::string_view event_id, std::int64_t now_ms,
                             const std::map<std::string, std::optional<Twin>>& last,
                             const DeviceRecord& d);
// {event_id, timestamp, twin:{all MsgTwins}, delta:{<prop>: expected}} for every property whose
// expected value differs from its actual one; nullopt when there is none.
std::optional<std::string> delta_payload(std::string_view event_id, std::int64_t now_ms,
                                         const DeviceRecord& d);
// {event_id, timestamp, twin:{all MsgTwins}}.
std::string get_result_payload(std::string_view event_id, std::int64_t now_ms,
                               const DeviceRecord& d);
// {event_id, timestamp, devices:[{id, name, description, state, last_online, ...}]}.
std::string membership_payload(std::string_view event_id, std::int64_t now_ms,
                               const std::vector<const DeviceRecord*>& devices);

// Content of `twin/edge_updated`: {event_id, timestamp, twin:{<prop>: {actual:{value,
// metadata:{timestamp}}, optional, metadata:{type}}}} for the named properties.
boost::json::object edge_updated_content(std::string_view event_id, std::int64_t now_ms,
                                         const DeviceRecord& d,
                                         const std::vector<std::string>& props);
// Content of `state/update`: {event_id, timestamp, state, last_online}.
boost::json::object state_content(std::string_view event_id, std::int64_t now_ms,
                                  const DeviceRecord& d);

}  // namespace kedge::edge::devicetwin
