#pragma once
// KubeEdge join tokens (PROTOCOL.md §4), byte-compatible with upstream:
//   token = <lowercase hex sha256 of the CA certificate DER> "." <JWT>
//   JWT   = HS256, header {"alg":"HS256","typ":"JWT"}, claims {"exp":<unix seconds>},
//           base64url without padding, HMAC key = the CA private key's SEC1 DER.
// cloudcore checks the JWT (sent as "Authorization: Bearer <jwt>"); the edge uses the hash to pin
// the CA it downloads from GET /ca.crt before trusting it.

#include <chrono>
#include <string>
#include <string_view>

#include "base/clock.hpp"
#include "base/error.hpp"

namespace kedge::pki {

class Certificate;
class PrivateKey;

// Upstream's default validity (refreshed every 12 h).
inline constexpr std::chrono::hours kDefaultTokenLifetime{24};

// A token split at its first dot.
struct TokenParts {
    std::string ca_hash;  // 64 lowercase hex characters
    std::string jwt;      // header.payload.signature
};

// What a verified JWT says.
struct TokenClaims {
    Clock::time_point expires_at;
};

// The JWT alone (what cloudcore expects after "Bearer ").
Result<std::string> create_jwt(const PrivateKey& ca_key, Clock::time_point expires_at);
// The full join token: CA hash prefix + JWT.
Result<std::string> create_token(const Certificate& ca_cert, const PrivateKey& ca_key,
                                 Clock::time_point expires_at);

// Checks a JWT at time `now`. Errors: parse_error (not three parts, bad base64url, bad JSON, no
// numeric exp), unauthorized (alg other than HS256, including "none"; bad signature), expired
// (now is past exp, or before nbf).
Result<TokenClaims> verify_jwt(std::string_view jwt, const PrivateKey& ca_key,
                               Clock::time_point now);
// Checks a full join token: the CA hash must be this CA's (unauthorized otherwise), then as
// verify_jwt.
Result<TokenClaims> verify_token(std::string_view token, const Certificate& ca_cert,
                                 const PrivateKey& ca_key, Clock::time_point now);

// Splits a join token into CA hash and JWT without checking the signature (the edge cannot: it
// has no CA key). parse_error unless it is <64 hex>.<a>.<b>.<c>.
Result<TokenParts> split_token(std::string_view token);

// The edge's pin check: sha256(ca_der) equals hash_hex (hex digits in either case).
bool ca_hash_matches(std::string_view ca_der, std::string_view hash_hex);

// Lowercase hex SHA-256 of data.
std::string sha256_hex(std::string_view data);

}  // namespace kedge::pki
