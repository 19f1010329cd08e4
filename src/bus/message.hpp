#pragma once
// The message that travels between modules in process and between cloud and edge on the
// WebSocket (PROTOCOL.md §1). Field names mirror upstream beehive's model.Message.

#include <cstdint>
#include <string>

#include "base/clock.hpp"
#include "bus/content.hpp"

namespace kedge::bus {

// Identity and delivery metadata. Every field but msg_id and timestamp is omitted on the wire
// when empty/false.
struct MessageHeader {
    std::string msg_id;
    std::string parent_msg_id;     // set on responses: the msg_id of the request
    std::int64_t timestamp = 0;    // milliseconds since the Unix epoch
    std::string resource_version;  // wire key "resourceversion"
    bool sync = false;             // set on requests that wait for a response
    std::string type;

    bool operator==(const MessageHeader&) const = default;
};

// Where a message comes from and what it is about (wire key "route").
struct MessageRoute {
    std::string source;
    std::string destination;
    std::string group;
    std::string operation;
    std::string resource;

    bool operator==(const MessageRoute&) const = default;
};

// One message: header, route and shared immutable content. Copies share the content.
struct Message {
    MessageHeader header;
    MessageRoute route;
    Content content;

    // A new message with a fresh uuid msg_id and the current time.
    static Message make(std::string source, std::string group, std::string operation,
                        std::string resource, Content content = {},
                        const Clock& clock = SystemClock::instance());

    const std::string& id() const { return header.msg_id; }
    const std::string& parent_id() const { return header.parent_msg_id; }
    const std::string& source() const { return route.source; }
    const std::string& group() const { return route.group; }
    const std::string& operation() const { return route.operation; }
    const std::string& resource() const { return route.resource; }
    bool is_response() const { return !header.parent_msg_id.empty(); }

    // Small builders for the fields make() leaves empty.
    Message& with_destination(std::string d) & { return route.destination = std::move(d), *this; }
    Message&& with_destination(std::string d) && {
        return std::move(with_destination(std::move(d)));
    }
    Message& with_resource_version(std::string rv) & {
        return header.resource_version = std::move(rv), *this;
    }
    Message&& with_resource_version(std::string rv) && {
        return std::move(with_resource_version(std::move(rv)));
    }
    Message& with_parent(std::string parent) & {
        return header.parent_msg_id = std::move(parent), *this;
    }
    Message&& with_parent(std::string parent) && {
        return std::move(with_parent(std::move(parent)));
    }
};

// The response to request: new msg_id, parent_msg_id = request's msg_id, same source, group and
// resource, operation "response".
Message make_response(const Message& request, Content content,
                      const Clock& clock = SystemClock::instance());
// The same with operation "error".
Message make_error_response(const Message& request, Content content,
                            const Clock& clock = SystemClock::instance());

}  // namespace kedge::bus
