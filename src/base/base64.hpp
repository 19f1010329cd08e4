#pragma once
// Standard base64 (RFC 4648 §4, with padding): Secret data, kube's continue tokens.

#include <string>
#include <string_view>

namespace kedge {

std::string base64_encode(std::string_view data);
// False (out unspecified) when text is not valid base64.
bool base64_decode(std::string_view text, std::string& out);

}  // namespace kedge
