#include "pki/certificate_request.hpp"

#include <gtest/gtest.h>

#include "pki/private_key.hpp"

namespace kedge::pki {
namespace {

const Subject kNodeSubject{"system:node:edge1", {"system:nodes"}};

TEST(CertificateRequest, CreateReadsBack) {
    auto key = PrivateKey::generate();
    ASSERT_TRUE(key);
    auto csr = CertificateRequest::create(*key, kNodeSubject);
    ASSERT_TRUE(csr) << csr.error().message();
    EXPECT_EQ(csr->subject(), kNodeSubject);
    EXPECT_TRUE(csr->sans().empty());
    EXPECT_TRUE(csr->verify_signature());
    EXPECT_TRUE(csr->matches_key(*key));
    auto other = PrivateKey::generate();
    ASSERT_TRUE(other);
    EXPECT_FALSE(csr->matches_key(*other));
}

TEST(CertificateRequest, DerAndPemRoundTrip) {
    auto key = PrivateKey::generate();
    ASSERT_TRUE(key);
    SubjectAltNames sans{{"192.168.1.10", "fe80::1"}, {"edge1"}};
    auto csr = CertificateRequest::create(*key, kNodeSubject, sans);
    ASSERT_TRUE(csr);
    auto from_der = CertificateRequest::from_der(csr->to_der());
    ASSERT_TRUE(from_der) << from_der.error().message();
    EXPECT_EQ(from_der->subject(), kNodeSubject);
    EXPECT_EQ(from_der->sans(), sans);
    EXPECT_TRUE(from_der->verify_signature());

    std::string pem = csr->to_pem();
    EXPECT_EQ(pem.rfind("-----BEGIN CERTIFICATE REQUEST-----\n", 0), 0u);
    auto from_pem = CertificateRequest::from_pem(pem);
    ASSERT_TRUE(from_pem) << from_pem.error().message();
    EXPECT_EQ(from_pem->to_der(), csr->to_der());
}

TEST(CertificateRequest, TamperedSignatureDoesNotVerify) {
    auto key = PrivateKey::generate();
    ASSERT_TRUE(key);
    auto csr = CertificateRequest::create(*key, kNodeSubject);
    ASSERT_TRUE(csr);
    std::string der = csr->to_der();
    // The signature BIT STRING ends the DER; flipping its last byte keeps the encoding valid.
    der.back() = static_cast<char>(der.back() ^ 0x01);
    auto tampered = CertificateRequest::from_der(der);
    ASSERT_TRUE(tampered) << tampered.error().message();
    auto r = tampered->verify_signature();
    ASSERT_FALSE(r);
    EXPECT_TRUE(r.error().is(errc::unauthorized)) << r.error().message();
}

TEST(CertificateRequest, RejectsGarbage) {
    auto r = CertificateRequest::from_der("hello");
    ASSERT_FALSE(r);
    EXPECT_TRUE(r.error().is(errc::parse_error));
    auto p = CertificateRequest::from_pem("hello");
    ASSERT_FALSE(p);
    EXPECT_TRUE(p.error().is(errc::parse_error));
}

TEST(CertificateRequest, EveryTruncationIsRefusedCleanly) {
    auto key = PrivateKey::generate();
    ASSERT_TRUE(key);
    auto csr = CertificateRequest::create(*key, kNodeSubject);
    ASSERT_TRUE(csr);
    const std::string& der = csr->to_der();
    for (std::size_t n = 0; n < der.size(); ++n) {
        EXPECT_FALSE(CertificateRequest::from_der(der.substr(0, n))) << "length " << n;
    }
}

TEST(CertificateRequest, RejectsBadSan) {
    auto key = PrivateKey::generate();
    ASSERT_TRUE(key);
    auto r = CertificateRequest::create(*key, kNodeSubject, {{"not-an-ip"}, {}});
    ASSERT_FALSE(r);
    EXPECT_TRUE(r.error().is(errc::invalid_argument));
}

}  // namespace
}  // namespace kedge::pki
