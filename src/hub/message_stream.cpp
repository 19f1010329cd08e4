#include "hub/message_stream.hpp"

#include "base/log.hpp"

namespace kedge::hub {

boost::asio::awaitable<Result<bus::Message>> read_message(net::WsConnection& conn,
                                                          bus::DecodeOptions options) {
    auto frame = co_await conn.read();
    if (!frame) co_return frame.error();
    auto bytes = std::make_shared<const std::string>(std::move(*frame));
    auto msg = bus::decode(bytes, options);
    if (!msg) {
        static auto log = log::get("hub");
        log->warn("ws#{} {}: closing: malformed message: {}", conn.id(), conn.remote_address(),
                  msg.error().message());
        conn.close(kWsCloseInvalidPayload, "malformed message");
        co_return msg.error();
    }
    co_return std::move(*msg);
}

Result<void> send_message(net::WsConnection& conn, const bus::Message& msg) {
    return conn.send(std::make_shared<const std::string>(bus::encode(msg)));
}

}  // namespace kedge::hub
