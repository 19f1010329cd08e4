#include "pki/token.hpp"

#include <gtest/gtest.h>
#include <openssl/evp.h>

#include "pki/issue.hpp"

namespace kedge::pki {
namespace {

using std::chrono::hours;
using std::chrono::seconds;

std::string from_hex(std::string_view hex) {
    std::string out;
    for (std::size_t i = 0; i + 1 < hex.size(); i += 2) {
        out.push_back(static_cast<char>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16)));
    }
    return out;
}

// Independent of the code under test: OpenSSL's standard base64 after mapping the alphabet.
std::string b64url_decode(std::string s) {
    for (char& c : s) {
        if (c == '-') c = '+';
        if (c == '_') c = '/';
    }
    std::size_t unpadded = s.size();
    while (s.size() % 4 != 0) s.push_back('=');
    std::string out(s.size() / 4 * 3, '\0');
    int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                            reinterpret_cast<const unsigned char*>(s.data()),
                            static_cast<int>(s.size()));
    EXPECT_GE(n, 0);
    out.resize(static_cast<std::size_t>(n) - (s.size() - unpadded));
    return out;
}

std::string b64url_encode(std::string_view in) {
    std::string out(4 * ((in.size() + 2) / 3), '\0');
    int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                            reinterpret_cast<const unsigned char*>(in.data()),
                            static_cast<int>(in.size()));
    out.resize(static_cast<std::size_t>(n));
    while (!out.empty() && out.back() == '=') out.pop_back();
    for (char& c : out) {
        if (c == '+') c = '-';
        if (c == '/') c = '_';
    }
    return out;
}

std::vector<std::string> split(const std::string& s) {
    std::vector<std::string> parts;
    std::size_t start = 0, dot;
    while ((dot = s.find('.', start)) != std::string::npos) {
        parts.push_back(s.substr(start, dot - start));
        start = dot + 1;
    }
    parts.push_back(s.substr(start));
    return parts;
}

class TokenTest : public ::testing::Test {
  protected:
    void SetUp() override {
        auto ca = create_ca("KubeEdge", kDefaultCaLifetime, clock_.now());
        ASSERT_TRUE(ca) << ca.error().message();
        ca_.emplace(std::move(*ca));
        auto other = create_ca("KubeEdge", kDefaultCaLifetime, clock_.now());
        ASSERT_TRUE(other);
        other_.emplace(std::move(*other));
    }

    std::string make_token() {
        auto token = create_token(ca_->cert, ca_->key, clock_.now() + kDefaultTokenLifetime);
        EXPECT_TRUE(token) << token.error().message();
        return *token;
    }

    FakeClock clock_;
    std::optional<CertAndKey> ca_;
    std::optional<CertAndKey> other_;
};

// A known answer computed with Python's hmac module over a fixed key: proves the JWT is plain
// standard HS256 keyed with the DER bytes, as golang-jwt makes it.
TEST(Jwt, KnownAnswer) {
    auto key = PrivateKey::from_der(from_hex(
        "307702010104207c3c6e0e77fb5c9be10117948cec2055f07e9985e88457dcb634b777a6b8205ea00a0608"
        "2a8648ce3d030107a14403420004968d650f8c9f7601728ab5d949b98f848c09f57b6641f0de0e4f4461ab"
        "c8893c35f3a028b8a219a964e1ddd6b6aa4085bc43d82df432718a0635bde58954525d"));
    ASSERT_TRUE(key) << key.error().message();
    auto jwt = create_jwt(*key, Clock::time_point(seconds(1'700'086'400)));
    ASSERT_TRUE(jwt);
    EXPECT_EQ(*jwt,
              "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJleHAiOjE3MDAwODY0MDB9."
              "ipIxQcmiAssYgXb470zrW1KLN8t_HhLoPtQ4WNvx3aM");
    auto claims = verify_jwt(*jwt, *key, Clock::time_point(seconds(1'700'000'000)));
    ASSERT_TRUE(claims) << claims.error().message();
    EXPECT_EQ(claims->expires_at, Clock::time_point(seconds(1'700'086'400)));
}

TEST_F(TokenTest, Format) {
    std::string token = make_token();
    auto parts = split(token);
    ASSERT_EQ(parts.size(), 4u);
    EXPECT_EQ(parts[0].size(), 64u);
    EXPECT_EQ(parts[0].find_first_not_of("0123456789abcdef"), std::string::npos);
    EXPECT_EQ(parts[0], ca_->cert.sha256_hex());
    EXPECT_EQ(b64url_decode(parts[1]), R"({"alg":"HS256","typ":"JWT"})");
    EXPECT_EQ(b64url_decode(parts[2]), "{\"exp\":1700086400}");  // now + 24 h, nothing else
    EXPECT_EQ(b64url_decode(parts[3]).size(), 32u);
    for (const auto& p : parts) EXPECT_EQ(p.find('='), std::string::npos);

    auto split_parts = split_token(token);
    ASSERT_TRUE(split_parts);
    EXPECT_EQ(split_parts->ca_hash, parts[0]);
    EXPECT_EQ(split_parts->jwt, parts[1] + "." + parts[2] + "." + parts[3]);
}

TEST_F(TokenTest, Verifies) {
    std::string token = make_token();
    auto claims = verify_token(token, ca_->cert, ca_->key, clock_.now());
    ASSERT_TRUE(claims) << claims.error().message();
    EXPECT_EQ(claims->expires_at, clock_.now() + hours(24));
    auto jwt = verify_jwt(split_token(token)->jwt, ca_->key, clock_.now());
    EXPECT_TRUE(jwt);
}

TEST_F(TokenTest, ExpiresAfterExp) {
    std::string token = make_token();
    clock_.advance(hours(24));
    EXPECT_TRUE(verify_token(token, ca_->cert, ca_->key, clock_.now()));  // now == exp is valid
    clock_.advance(seconds(1));
    auto r = verify_token(token, ca_->cert, ca_->key, clock_.now());
    ASSERT_FALSE(r);
    EXPECT_TRUE(r.error().is(errc::expired)) << r.error().message();
}

TEST_F(TokenTest, TamperedPayloadRefused) {
    auto parts = split(make_token());
    parts[2] = b64url_encode("{\"exp\":1900000000}");
    std::string token = parts[0] + "." + parts[1] + "." + parts[2] + "." + parts[3];
    auto r = verify_token(token, ca_->cert, ca_->key, clock_.now());
    ASSERT_FALSE(r);
    EXPECT_TRUE(r.error().is(errc::unauthorized)) << r.error().message();
    EXPECT_NE(r.error().detail.find("signature"), std::string::npos);
}

TEST_F(TokenTest, TamperedSignatureRefused) {
    auto parts = split(make_token());
    std::string sig = b64url_decode(parts[3]);
    sig[5] = static_cast<char>(sig[5] ^ 0x40);
    std::string token = parts[0] + "." + parts[1] + "." + parts[2] + "." + b64url_encode(sig);
    auto r = verify_token(token, ca_->cert, ca_->key, clock_.now());
    ASSERT_FALSE(r);
    EXPECT_TRUE(r.error().is(errc::unauthorized)) << r.error().message();

    // Changing only the unused low bits of the last character must not slip through either.
    std::string last = parts[3];
    last.back() = last.back() == 'A' ? 'B' : 'A';
    token = parts[0] + "." + parts[1] + "." + parts[2] + "." + last;
    EXPECT_FALSE(verify_token(token, ca_->cert, ca_->key, clock_.now()));

    // Truncated signature.
    token = parts[0] + "." + parts[1] + "." + parts[2] + "." + parts[3].substr(0, 40);
    EXPECT_FALSE(verify_token(token, ca_->cert, ca_->key, clock_.now()));
}

TEST_F(TokenTest, OtherCaRefused) {
    auto token = create_token(other_->cert, other_->key, clock_.now() + hours(24));
    ASSERT_TRUE(token);
    auto r = verify_token(*token, ca_->cert, ca_->key, clock_.now());
    ASSERT_FALSE(r);
    EXPECT_TRUE(r.error().is(errc::unauthorized));
    EXPECT_NE(r.error().detail.find("another CA"), std::string::npos) << r.error().detail;

    // The other CA's JWT under our hash: only the signature can tell.
    auto forged = ca_->cert.sha256_hex() + "." + split_token(*token)->jwt;
    auto f = verify_token(forged, ca_->cert, ca_->key, clock_.now());
    ASSERT_FALSE(f);
    EXPECT_TRUE(f.error().is(errc::unauthorized));
    EXPECT_NE(f.error().detail.find("signature"), std::string::npos);
}

TEST_F(TokenTest, AlgNoneRefused) {
    std::string header = b64url_encode(R"({"alg":"none","typ":"JWT"})");
    std::string claims = b64url_encode("{\"exp\":1900000000}");
    std::string hash = ca_->cert.sha256_hex();
    for (const std::string& sig : {std::string(), std::string("AAAA")}) {
        auto r = verify_token(hash + "." + header + "." + claims + "." + sig, ca_->cert, ca_->key,
                              clock_.now());
        ASSERT_FALSE(r);
        EXPECT_TRUE(r.error().is(errc::unauthorized)) << r.error().message();
        EXPECT_NE(r.error().detail.find("none"), std::string::npos);
    }
    // Other HMAC strengths are not what we issue either.
    std::string hs512 = b64url_encode(R"({"alg":"HS512","typ":"JWT"})");
    auto r = verify_jwt(hs512 + "." + claims + ".AAAA", ca_->key, clock_.now());
    ASSERT_FALSE(r);
    EXPECT_TRUE(r.error().is(errc::unauthorized));
}

TEST_F(TokenTest, MalformedRefusedAsParseError) {
    std::string hash = ca_->cert.sha256_hex();
    auto parts = split(make_token());
    std::string jwt = parts[1] + "." + parts[2] + "." + parts[3];
    const std::vector<std::string> bad_tokens = {
        "",
        "abc",
        hash,
        hash + "." + parts[1] + "." + parts[2],                    // 2 JWT parts
        hash + "." + jwt + ".extra",                               // 4 JWT parts
        hash.substr(1) + "." + jwt,                                // 63-char hash
        std::string(64, 'g') + "." + jwt,                          // not hex
        hash + ".!!!." + parts[2] + "." + parts[3],                // bad base64url
        hash + "." + parts[1] + "=." + parts[2] + "." + parts[3],  // padding
        hash + "." + b64url_encode("not json") + "." + parts[2] + "." + parts[3],
        hash + "." + b64url_encode("[1,2]") + "." + parts[2] + "." + parts[3],
        hash + "." + b64url_encode("{}") + "." + parts[2] + "." + parts[3],  // no alg
        std::string(5000, 'a'),
    };
    for (const auto& t : bad_tokens) {
        auto r = verify_token(t, ca_->cert, ca_->key, clock_.now());
        ASSERT_FALSE(r) << t;
        EXPECT_TRUE(r.error().is(errc::parse_error)) << t << ": " << r.error().message();
    }
}

TEST_F(TokenTest, ClaimsWithoutExpRefused) {
    // Correctly signed, but without an exp: we never issue such a token, so it is refused.
    std::string header = b64url_encode(R"({"alg":"HS256","typ":"JWT"})");
    for (std::string claims : {"{}", R"({"exp":"tomorrow"})", R"({"exp":null})", "5"}) {
        std::string input = header + "." + b64url_encode(claims);
        unsigned char mac[32];
        std::size_t len = 0;
        const std::string& k = ca_->key.to_der();
        ASSERT_NE(EVP_Q_mac(nullptr, "HMAC", nullptr, "SHA256", nullptr, k.data(), k.size(),
                            reinterpret_cast<const unsigned char*>(input.data()), input.size(), mac,
                            sizeof(mac), &len),
                  nullptr);
        std::string jwt =
            input + "." + b64url_encode(std::string_view(reinterpret_cast<const char*>(mac), len));
        auto r = verify_jwt(jwt, ca_->key, clock_.now());
        ASSERT_FALSE(r) << claims;
        EXPECT_TRUE(r.error().is(errc::parse_error)) << claims << ": " << r.error().message();
    }
}

TEST_F(TokenTest, CaHashMatches) {
    const std::string& der = ca_->cert.to_der();
    std::string hash = ca_->cert.sha256_hex();
    EXPECT_TRUE(ca_hash_matches(der, hash));
    std::string upper = hash;
    for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    EXPECT_TRUE(ca_hash_matches(der, upper));
    EXPECT_FALSE(ca_hash_matches(other_->cert.to_der(), hash));
    EXPECT_FALSE(ca_hash_matches(der, hash.substr(0, 63)));
    EXPECT_FALSE(ca_hash_matches(der, ""));
}

}  // namespace
}  // namespace kedge::pki
