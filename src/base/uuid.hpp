#pragma once
// RFC 4122 version 4 UUIDs, the form of every msg_id and object uid.

#include <string>
#include <string_view>

namespace kedge {

// A random v4 UUID in canonical lowercase form, e.g. "1b4e28ba-2fa1-4d2e-8b3c-7e5b1c9d0a21".
std::string new_uuid();

// True when s has the canonical 8-4-4-4-12 hex form (any version).
bool is_uuid(std::string_view s) noexcept;

}  // namespace kedge
