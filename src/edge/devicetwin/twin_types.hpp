#pragma once
// The device twin's data model (upstream dttype: Device, MsgAttr, MsgTwin) and the pure rules on
// it: upstream's JSON shapes (membership devices, MsgTwin, the MQTT payloads), key/value
// validation (PROTOCOL.md §9) and the type check of reported values. No Asio, no SQLite.

#include <boost/json/fwd.hpp>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "base/error.hpp"

namespace kedge::edge::devicetwin {

// One side of a twin: the value as text and when it was set (ms since the epoch).
struct TwinValue {
    std::string value;
    std::int64_t timestamp = 0;

    bool operator==(const TwinValue&) const = default;
};

// How many times each side changed a value (upstream TwinVersion, stored as JSON
// {"cloud":N,"edge":N} in *_version columns).
struct TwinVersion {
    std::int64_t cloud = 0;
    std::int64_t edge = 0;

    bool operator==(const TwinVersion&) const = default;
};

// One property of a device: the desired (expected, from the cloud) and reported (actual, from the
// mapper) values with their versions.
struct Twin {
    std::string name;
    std::string description;
    std::optional<TwinValue> expected;
    std::optional<TwinValue> actual;
    TwinVersion expected_version;
    TwinVersion actual_version;
    bool optional = false;
    std::string type = "string";  // lower case: int, float, double, string, boolean, bytes, stream
    bool report_to_cloud = true;  // from the Device spec; not stored (the spec is)

    bool operator==(const Twin&) const = default;
};

// A static attribute of a device (upstream MsgAttr).
struct Attr {
    std::string name;
    std::string description;
    std::string value;
    bool optional = false;
    std::string type = "string";

    bool operator==(const Attr&) const = default;
};

// A device as the twin keeps it: identity, connection state and its twins.
struct DeviceRecord {
    std::string id;  // "<namespace>/<name>"
    std::string name;
    std::string description;
    std::string state;        // "online", "offline", "unknown", "" (never reported)
    std::string last_online;  // RFC 3339
    std::map<std::string, Attr> attributes;
    std::map<std::string, Twin> twins;

    bool operator==(const DeviceRecord&) const = default;
};

// ---- validation (upstream dtcommon) ----

// ^[a-zA-Z0-9-_.,:/@#]{1,128}$
bool valid_twin_key(std::string_view key);
// ^[a-zA-Z0-9-_.,:/@#]{1,512}$
bool valid_twin_value(std::string_view value);
// The value parses as the twin's type (int: int64, float/double: a finite number, boolean:
// true/false); invalid_argument saying why otherwise. Other types accept any valid value.
Result<void> check_value_type(std::string_view type, std::string_view value);
// A DeviceModel property type (INT, FLOAT, ...) in the twin's lower-case form.
std::string twin_type_of(std::string_view model_type);

// ---- JSON (upstream's wire shapes) ----

// MsgTwin: {expected?:{value, metadata:{timestamp}}, actual?:{...}, optional, metadata:{type},
// expected_version?, actual_version?}.
boost::json::object msg_twin_json(const Twin& t, bool with_versions = true);
// A membership device: {id, name, description, state, last_online, attributes:{}, twin:{}}.
boost::json::object device_json(const DeviceRecord& d);
// Parses a membership device (upstream types.Device); invalid_argument naming the field.
Result<DeviceRecord> device_from_json(const boost::json::value& v);
// Reads a MsgTwin's expected value, type and optional flag into t (name already set).
Result<void> apply_msg_twin(Twin& t, const boost::json::object& msg_twin);

// {"timestamp":N} and {"cloud":N,"edge":N}: the text of the *_meta / *_version columns.
std::string value_meta_text(const TwinValue& v);
std::string version_text(const TwinVersion& v);
TwinVersion parse_version_text(std::string_view text);
std::int64_t parse_meta_timestamp(std::string_view text);

// The current time as upstream's last_online (RFC 3339, UTC, seconds).
std::string rfc3339_now();

}  // namespace kedge::edge::devicetwin
