#pragma once
// KubeEdge messages over one WebSocket connection, shared by cloudhub and edgehub: one JSON
// message per frame (PROTOCOL.md §2). A frame that is not a valid message closes that connection
// with 1007 and a logged reason; it never reaches a module and never affects other connections.

#include "base/error.hpp"
#include "bus/codec.hpp"
#include "bus/message.hpp"
#include "net/ws_connection.hpp"

#include <boost/asio/awaitable.hpp>

#include <cstdint>

namespace kedge::hub {

// RFC 6455 §7.4.1: the frame's payload is not what the protocol says it must be.
inline constexpr std::uint16_t kWsCloseInvalidPayload = 1007;

// Reads the next message. On a malformed frame the connection is closed with 1007 and the
// decode error is returned (errc::parse_error / too_large); at the end of the connection the
// read error (errc::closed with the reason) is returned.
boost::asio::awaitable<Result<bus::Message>> read_message(net::WsConnection& conn,
                                                          bus::DecodeOptions options = {});

// Encodes and queues one message (errc::queue_full / errc::closed from the connection).
Result<void> send_message(net::WsConnection& conn, const bus::Message& msg);

}  // namespace kedge::hub
