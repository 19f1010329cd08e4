#include "bus/message.hpp"

#include "base/uuid.hpp"
#include "bus/constants.hpp"

namespace kedge::bus {
namespace {

Message respond(const Message& request, std::string_view op, Content content, const Clock& clock) {
    Message m = Message::make(request.route.source, request.route.group, std::string(op),
                              request.route.resource, std::move(content), clock);
    m.header.parent_msg_id = request.header.msg_id;
    return m;
}

}  // namespace

Message Message::make(std::string source, std::string group, std::string operation,
                      std::string resource, Content content, const Clock& clock) {
    Message m;
    m.header.msg_id = new_uuid();
    m.header.timestamp = clock.unix_millis();
    m.route.source = std::move(source);
    m.route.group = std::move(group);
    m.route.operation = std::move(operation);
    m.route.resource = std::move(resource);
    m.content = std::move(content);
    return m;
}

Message make_response(const Message& request, Content content, const Clock& clock) {
    return respond(request, kOpResponse, std::move(content), clock);
}

Message make_error_response(const Message& request, Content content, const Clock& clock) {
    return respond(request, kOpError, std::move(content), clock);
}

}  // namespace kedge::bus
