#pragma once
// Which downstream messages the edge must acknowledge (PROTOCOL.md §3), and the facts about a
// message that the per-node send queue coalesces on: the object UID, its resourceVersion and
// whether the message deletes the object.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "bus/message.hpp"

namespace kedge::cloud {

// How a downstream message is delivered.
enum class AckMode {
    kAck,    // kept until the edge answers with a `response` whose parent_msg_id is its msg_id
    kNoAck,  // written once and forgotten
};

// Classifies a cloud -> edge message as upstream cloudcore does. Works on the cloud-side
// resource (`node/<n>/<ns>/<type>/<name>`) and on the edge-side form alike.
AckMode ack_mode(const bus::Message& msg);

// The resource type of a cloud- or edge-side resource string ("pod", "twin/cloud_updated",
// "membership"), or "" when the string has no recognisable type.
std::string resource_type_of(std::string_view resource);

// What the send queue needs to know about an object-carrying message.
struct ObjectFacts {
    std::string uid;                                // content.metadata.uid, "" when absent
    std::optional<std::uint64_t> resource_version;  // header.resourceversion, else metadata's
    bool is_delete = false;  // operation delete, or the object has a deletionTimestamp
};

// Reads the facts from the header and the content (parsed once, shared by every copy of the
// content). Never fails: missing or malformed parts leave the fields empty.
ObjectFacts object_facts(const bus::Message& msg);

// A resourceVersion as the uint64 decimal Kubernetes and upstream compare; nullopt when the
// text is not one.
std::optional<std::uint64_t> parse_resource_version(std::string_view rv);

}  // namespace kedge::cloud
