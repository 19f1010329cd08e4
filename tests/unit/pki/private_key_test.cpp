#include "pki/private_key.hpp"

#include <gtest/gtest.h>

namespace kedge::pki {
namespace {

std::string hex(std::string_view bytes) {
    static constexpr char kDigits[] = "0123456789abcdef";
    std::string out;
    for (unsigned char c : bytes) {
        out += kDigits[c >> 4];
        out += kDigits[c & 15];
    }
    return out;
}

TEST(PrivateKey, GeneratesP256) {
    auto key = PrivateKey::generate();
    ASSERT_TRUE(key) << key.error().message();
    EXPECT_EQ(key->curve_name(), "prime256v1");
    auto other = PrivateKey::generate();
    ASSERT_TRUE(other);
    EXPECT_NE(key->to_der(), other->to_der());
}

// Go's x509.MarshalECPrivateKey for P-256 is always 121 bytes:
// SEQUENCE { INTEGER 1, OCTET STRING(32) d, [0] OID prime256v1, [1] BIT STRING 04||X||Y }.
// The join token HMAC key is these bytes, so the layout must match exactly.
TEST(PrivateKey, DerIsGoCompatibleSec1) {
    auto key = PrivateKey::generate();
    ASSERT_TRUE(key);
    const std::string& der = key->to_der();
    ASSERT_EQ(der.size(), 121u);
    std::string h = hex(der);
    EXPECT_EQ(h.substr(0, 14), "30770201010420");
    EXPECT_EQ(h.substr(78, 36), "a00a06082a8648ce3d030107a14403420004");
}

TEST(PrivateKey, PemIsSec1AndRoundTrips) {
    auto key = PrivateKey::generate();
    ASSERT_TRUE(key);
    std::string pem = key->to_pem();
    EXPECT_EQ(pem.rfind("-----BEGIN EC PRIVATE KEY-----\n", 0), 0u);
    EXPECT_NE(pem.find("-----END EC PRIVATE KEY-----\n"), std::string::npos);
    auto back = PrivateKey::from_pem(pem);
    ASSERT_TRUE(back) << back.error().message();
    EXPECT_EQ(back->to_der(), key->to_der());
}

TEST(PrivateKey, ReadsPkcs8Pem) {
    auto key = PrivateKey::generate();
    ASSERT_TRUE(key);
    auto pkcs8 = key->to_pkcs8_pem();
    ASSERT_TRUE(pkcs8);
    EXPECT_EQ(pkcs8->rfind("-----BEGIN PRIVATE KEY-----\n", 0), 0u);
    auto back = PrivateKey::from_pem(*pkcs8);
    ASSERT_TRUE(back) << back.error().message();
    EXPECT_EQ(back->to_der(), key->to_der());  // written back as SEC1
}

TEST(PrivateKey, DerRoundTrips) {
    auto key = PrivateKey::generate();
    ASSERT_TRUE(key);
    auto back = PrivateKey::from_der(key->to_der());
    ASSERT_TRUE(back) << back.error().message();
    EXPECT_EQ(back->to_der(), key->to_der());
    EXPECT_EQ(back->public_key_der(), key->public_key_der());
}

TEST(PrivateKey, RejectsGarbage) {
    auto pem = PrivateKey::from_pem("not a key");
    ASSERT_FALSE(pem);
    EXPECT_TRUE(pem.error().is(errc::parse_error)) << pem.error().message();
    auto der = PrivateKey::from_der(std::string("\x30\x03\x02\x01\x01", 5));
    ASSERT_FALSE(der);
    EXPECT_TRUE(der.error().is(errc::parse_error));
    EXPECT_FALSE(PrivateKey::from_der(""));
}

TEST(PrivateKey, RejectsTrailingBytesAfterDer) {
    auto key = PrivateKey::generate();
    ASSERT_TRUE(key);
    auto r = PrivateKey::from_der(key->to_der() + "x");
    ASSERT_FALSE(r);
    EXPECT_TRUE(r.error().is(errc::parse_error));
}

}  // namespace
}  // namespace kedge::pki
