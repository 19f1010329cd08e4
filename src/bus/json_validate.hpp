#pragma once
// Validation of JSON text without building a DOM: the same grammar and limits as the lazy parse
// of message content, so content that decoded once always parses later.

#include <cstddef>
#include <string_view>

#include "base/error.hpp"

namespace kedge::bus {

// Nesting limit for everything the bus parses (Kubernetes objects stay far below it).
inline constexpr int kMaxJsonDepth = 128;

// Ok when text is exactly one JSON value (surrounding whitespace allowed), strict RFC 8259:
// UTF-8 only, no comments, no trailing commas, no lone surrogates. The error says at which
// byte offset and why.
Result<void> validate_json(std::string_view text, int max_depth = kMaxJsonDepth);

}  // namespace kedge::bus
