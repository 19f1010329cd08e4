#pragma once
// The JSON wire form of Message, byte-compatible with Go's encoding/json on upstream's struct
// (field order, omitempty, escaping), and a decoder that accepts what upstream accepts (missing
// header/route/omitempty fields, unknown fields, keys in any case) while rejecting anything
// malformed with an Error instead of throwing. Content is never re-encoded: the decoder keeps
// its bytes and the encoder splices them.

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "base/error.hpp"
#include "bus/message.hpp"

namespace kedge::bus {

// Limits applied by decode().
struct DecodeOptions {
    // Larger inputs fail with errc::too_large before any parsing.
    std::size_t max_size = 8 * 1024 * 1024;
};

// The wire JSON of msg.
std::string encode(const Message& msg);
// Appends the wire JSON of msg to out (reuse one buffer per connection).
void encode_to(const Message& msg, std::string& out);

// Decodes a message; the content's bytes are copied out of json (only the content span).
Result<Message> decode(std::string_view json, const DecodeOptions& opts = {});
// Decodes a message whose content stays a slice of *json (no copy; json is kept alive by the
// content for as long as the message or a copy of its content lives).
Result<Message> decode(std::shared_ptr<const std::string> json, const DecodeOptions& opts = {});

}  // namespace kedge::bus
