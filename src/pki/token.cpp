#include "pki/token.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <algorithm>
#include <array>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <cmath>
#include <optional>
#include <vector>

#include "pki/certificate.hpp"
#include "pki/ossl_util.hpp"
#include "pki/private_key.hpp"

namespace kedge::pki {

namespace {

// Exactly what golang-jwt writes for jwt.SigningMethodHS256 (Go's json.Marshal sorts the keys).
constexpr std::string_view kJwtHeader = R"({"alg":"HS256","typ":"JWT"})";
// Far above a real token (~200 bytes); refuses junk before any parsing.
constexpr std::size_t kMaxTokenSize = 4096;
constexpr std::size_t kHmacSize = 32;

constexpr char kB64Url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

std::string base64url_encode(std::string_view in) {
    std::string out;
    out.reserve((in.size() * 4 + 2) / 3);
    std::size_t i = 0;
    auto byte = [&](std::size_t k) { return static_cast<unsigned char>(in[k]); };
    for (; i + 3 <= in.size(); i += 3) {
        unsigned v = (byte(i) << 16) | (byte(i + 1) << 8) | byte(i + 2);
        out += {kB64Url[v >> 18], kB64Url[(v >> 12) & 63], kB64Url[(v >> 6) & 63], kB64Url[v & 63]};
    }
    if (in.size() - i == 1) {
        unsigned v = byte(i) << 16;
        out += {kB64Url[v >> 18], kB64Url[(v >> 12) & 63]};
    } else if (in.size() - i == 2) {
        unsigned v = (byte(i) << 16) | (byte(i + 1) << 8);
        out += {kB64Url[v >> 18], kB64Url[(v >> 12) & 63], kB64Url[(v >> 6) & 63]};
    }
    return out;
}

int b64url_value(char c) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '-') return 62;
    if (c == '_') return 63;
    return -1;
}

// Strict: no padding, no foreign characters, unused trailing bits must be zero. The last rule
// makes the encoding canonical, so a changed signature character always changes the bytes.
std::optional<std::string> base64url_decode(std::string_view in) {
    if (in.size() % 4 == 1) return std::nullopt;
    std::string out;
    out.reserve(in.size() * 3 / 4);
    unsigned acc = 0;
    int bits = 0;
    for (char c : in) {
        int v = b64url_value(c);
        if (v < 0) return std::nullopt;
        acc = (acc << 6) | static_cast<unsigned>(v);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out.push_back(static_cast<char>((acc >> bits) & 0xff));
        }
    }
    if ((acc & ((1u << bits) - 1)) != 0) return std::nullopt;
    return out;
}

Result<std::array<unsigned char, kHmacSize>> hmac_sha256(std::string_view key,
                                                         std::string_view data) {
    std::array<unsigned char, kHmacSize> mac{};
    std::size_t len = 0;
    if (EVP_Q_mac(nullptr, "HMAC", nullptr, "SHA256", nullptr, key.data(), key.size(),
                  detail::uchars(data), data.size(), mac.data(), mac.size(), &len) == nullptr ||
        len != kHmacSize) {
        return detail::ossl_error(errc::crypto_error, "HMAC-SHA256 failed");
    }
    return mac;
}

std::vector<std::string_view> split_dots(std::string_view s) {
    std::vector<std::string_view> parts;
    std::size_t start = 0;
    while (true) {
        std::size_t dot = s.find('.', start);
        parts.push_back(s.substr(start, dot == std::string_view::npos ? dot : dot - start));
        if (dot == std::string_view::npos) return parts;
        start = dot + 1;
    }
}

// Decodes one base64url JSON object segment of a JWT.
Result<boost::json::object> decode_segment(std::string_view segment, std::string_view what) {
    auto bytes = base64url_decode(segment);
    if (!bytes) return Error(errc::parse_error, "JWT " + std::string(what) + " is not base64url");
    boost::system::error_code ec;
    boost::json::value v = boost::json::parse(*bytes, ec);
    if (ec) {
        return Error(errc::parse_error,
                     "JWT " + std::string(what) + " is not JSON: " + ec.message());
    }
    if (!v.is_object()) {
        return Error(errc::parse_error, "JWT " + std::string(what) + " is not a JSON object");
    }
    return std::move(v.as_object());
}

// A NumericDate claim in whole seconds, or nullopt if absent; parse_error if not a number.
Result<std::optional<double>> numeric_claim(const boost::json::object& claims,
                                            std::string_view name) {
    const boost::json::value* v = claims.if_contains(name);
    if (v == nullptr) return std::optional<double>();
    if (!v->is_number()) {
        return Error(errc::parse_error, "JWT claim '" + std::string(name) + "' is not a number");
    }
    boost::system::error_code ec;
    double d = v->to_number<double>(ec);
    if (ec || !std::isfinite(d)) {
        return Error(errc::parse_error, "JWT claim '" + std::string(name) + "' is not a number");
    }
    return std::optional<double>(d);
}

// Claims come from the network: keep huge or negative numbers inside what a time_point holds.
std::int64_t clamp_seconds(double s) {
    constexpr double kLimit = 9.0e9;  // year ~2255, below the int64 nanosecond limit
    return static_cast<std::int64_t>(std::clamp(s, -kLimit, kLimit));
}

std::int64_t unix_seconds(Clock::time_point t) {
    return std::chrono::floor<std::chrono::seconds>(t.time_since_epoch()).count();
}

}  // namespace

std::string sha256_hex(std::string_view data) {
    std::string digest = detail::sha256_bytes(data);
    return detail::hex_lower(detail::uchars(digest), digest.size());
}

Result<std::string> create_jwt(const PrivateKey& ca_key, Clock::time_point expires_at) {
    std::string payload = "{\"exp\":" + std::to_string(unix_seconds(expires_at)) + "}";
    std::string signing_input = base64url_encode(kJwtHeader) + "." + base64url_encode(payload);
    auto mac = hmac_sha256(ca_key.to_der(), signing_input);
    if (!mac) return mac.error();
    std::string_view mac_bytes(reinterpret_cast<const char*>(mac->data()), mac->size());
    return signing_input + "." + base64url_encode(mac_bytes);
}

Result<std::string> create_token(const Certificate& ca_cert, const PrivateKey& ca_key,
                                 Clock::time_point expires_at) {
    auto jwt = create_jwt(ca_key, expires_at);
    if (!jwt) return jwt.error();
    return ca_cert.sha256_hex() + "." + *jwt;
}

Result<TokenClaims> verify_jwt(std::string_view jwt, const PrivateKey& ca_key,
                               Clock::time_point now) {
    if (jwt.size() > kMaxTokenSize) return Error(errc::parse_error, "JWT is too long");
    auto parts = split_dots(jwt);
    if (parts.size() != 3) {
        return Error(errc::parse_error,
                     "JWT must have 3 dot-separated parts, got " + std::to_string(parts.size()));
    }
    auto header = decode_segment(parts[0], "header");
    if (!header) return header.error();
    const boost::json::value* alg = header->if_contains("alg");
    if (alg == nullptr || !alg->is_string()) {
        return Error(errc::parse_error, "JWT header has no \"alg\"");
    }
    if (alg->as_string() != "HS256") {
        return Error(errc::unauthorized, "JWT alg \"" + std::string(alg->as_string()) +
                                             "\" is not accepted (only HS256)");
    }

    auto signature = base64url_decode(parts[2]);
    if (!signature) return Error(errc::parse_error, "JWT signature is not base64url");
    std::string_view signing_input = jwt.substr(0, parts[0].size() + 1 + parts[1].size());
    auto mac = hmac_sha256(ca_key.to_der(), signing_input);
    if (!mac) return mac.error();
    if (signature->size() != mac->size() ||
        CRYPTO_memcmp(signature->data(), mac->data(), mac->size()) != 0) {
        return Error(errc::unauthorized, "JWT signature does not verify with this CA key");
    }

    auto claims = decode_segment(parts[1], "claims");
    if (!claims) return claims.error();
    auto exp = numeric_claim(*claims, "exp");
    if (!exp) return exp.error();
    if (!*exp) return Error(errc::parse_error, "JWT has no \"exp\" claim");
    auto nbf = numeric_claim(*claims, "nbf");
    if (!nbf) return nbf.error();
    // Same rule as golang-jwt: valid while now <= exp.
    auto now_s = static_cast<double>(unix_seconds(now));
    if (now_s > **exp) {
        return Error(errc::expired,
                     "JWT expired at unix time " + std::to_string(clamp_seconds(**exp)));
    }
    if (*nbf && now_s < **nbf) {
        return Error(errc::expired,
                     "JWT is not valid before unix time " + std::to_string(clamp_seconds(**nbf)));
    }
    return TokenClaims{Clock::time_point(std::chrono::seconds(clamp_seconds(**exp)))};
}

Result<TokenParts> split_token(std::string_view token) {
    if (token.size() > kMaxTokenSize) return Error(errc::parse_error, "token is too long");
    auto parts = split_dots(token);
    if (parts.size() != 4) {
        return Error(errc::parse_error,
                     "token must be <ca hash>.<jwt header>.<jwt claims>.<jwt signature>, got " +
                         std::to_string(parts.size()) + " dot-separated parts");
    }
    std::string hash(parts[0]);
    bool hex = hash.size() == 64;
    for (char& c : hash) {
        if (c >= 'A' && c <= 'F') c = static_cast<char>(c - 'A' + 'a');
        hex = hex && ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'));
    }
    if (!hex) {
        return Error(errc::parse_error,
                     "token CA hash must be 64 hex characters (sha256 of the CA certificate)");
    }
    return TokenParts{std::move(hash), std::string(token.substr(parts[0].size() + 1))};
}

Result<TokenClaims> verify_token(std::string_view token, const Certificate& ca_cert,
                                 const PrivateKey& ca_key, Clock::time_point now) {
    auto parts = split_token(token);
    if (!parts) return parts.error();
    std::string expected = ca_cert.sha256_hex();
    if (parts->ca_hash != expected) {
        return Error(errc::unauthorized, "token was made for another CA (CA hash " +
                                             parts->ca_hash + ", this CA is " + expected + ")");
    }
    return verify_jwt(parts->jwt, ca_key, now);
}

bool ca_hash_matches(std::string_view ca_der, std::string_view hash_hex) {
    std::string actual = sha256_hex(ca_der);
    if (hash_hex.size() != actual.size()) return false;
    for (std::size_t i = 0; i < actual.size(); ++i) {
        char c = hash_hex[i];
        if (c >= 'A' && c <= 'F') c = static_cast<char>(c - 'A' + 'a');
        if (c != actual[i]) return false;
    }
    return true;
}

}  // namespace kedge::pki
