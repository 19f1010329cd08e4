#include "pki/issue.hpp"

#include <gtest/gtest.h>

namespace kedge::pki {
namespace {

using std::chrono::hours;
using std::chrono::minutes;

const Clock::time_point kNow{std::chrono::seconds(1'700'000'000)};

CertAndKey make_ca() {
    auto ca = create_ca("KubeEdge", kDefaultCaLifetime, kNow);
    EXPECT_TRUE(ca) << ca.error().message();
    return std::move(*ca);
}

CertificateRequest make_csr(const PrivateKey& key, const Subject& subject,
                            const SubjectAltNames& sans = {}) {
    auto csr = CertificateRequest::create(key, subject, sans);
    EXPECT_TRUE(csr) << csr.error().message();
    return std::move(*csr);
}

const Subject kNodeSubject{"system:node:edge1", {"system:nodes"}};

TEST(CreateCa, IsSelfSignedCaWithUsages) {
    auto ca = make_ca();
    EXPECT_EQ(ca.cert.subject(), (Subject{"KubeEdge", {}}));
    EXPECT_EQ(ca.cert.issuer(), ca.cert.subject());
    EXPECT_TRUE(ca.cert.is_ca());
    EXPECT_TRUE(ca.cert.has_key_usage(KeyUsage::kKeyCertSign));
    EXPECT_TRUE(ca.cert.has_key_usage(KeyUsage::kCrlSign));
    EXPECT_TRUE(ca.cert.has_key_usage(KeyUsage::kDigitalSignature));
    EXPECT_TRUE(ca.cert.has_ext_key_usage(ExtKeyUsage::kServerAuth));
    EXPECT_TRUE(ca.cert.has_ext_key_usage(ExtKeyUsage::kClientAuth));
    EXPECT_TRUE(ca.cert.matches_key(ca.key));
    EXPECT_EQ(ca.key.curve_name(), "prime256v1");
    EXPECT_TRUE(ca.cert.verify_signed_by(ca.cert));
    EXPECT_TRUE(ca.cert.verify_chain(ca.cert, kNow));
    EXPECT_EQ(ca.cert.not_before(), kNow - kClockSkewAllowance);
    EXPECT_EQ(ca.cert.not_after(), kNow + kDefaultCaLifetime);
}

TEST(CreateCa, UsesGivenCommonNameAndRandomSerials) {
    auto a = create_ca("my-ca", hours(24), kNow);
    auto b = create_ca("my-ca", hours(24), kNow);
    ASSERT_TRUE(a && b);
    EXPECT_EQ(a->cert.subject().common_name, "my-ca");
    EXPECT_EQ(a->cert.serial_hex().size(), 32u);  // 128 bits
    EXPECT_NE(a->cert.serial_hex(), b->cert.serial_hex());
}

TEST(CreateCa, RefusesNonPositiveLifetime) {
    auto r = create_ca("KubeEdge", std::chrono::seconds(0), kNow);
    ASSERT_FALSE(r);
    EXPECT_TRUE(r.error().is(errc::invalid_argument));
}

TEST(IssueServerCert, HasSansAndServerAuth) {
    auto ca = make_ca();
    auto server = issue_server_cert(ca.cert, ca.key, {"KubeEdge", {"KubeEdge"}},
                                    {{"127.0.0.1", "::1"}, {"localhost", "cloudcore.kubeedge"}},
                                    kDefaultLeafLifetime, kNow);
    ASSERT_TRUE(server) << server.error().message();
    const Certificate& cert = server->cert;
    EXPECT_EQ(cert.subject(), (Subject{"KubeEdge", {"KubeEdge"}}));
    EXPECT_EQ(cert.sans().ips, (std::vector<std::string>{"127.0.0.1", "::1"}));
    EXPECT_EQ(cert.sans().dns_names, (std::vector<std::string>{"localhost", "cloudcore.kubeedge"}));
    EXPECT_TRUE(cert.has_ext_key_usage(ExtKeyUsage::kServerAuth));
    EXPECT_FALSE(cert.has_ext_key_usage(ExtKeyUsage::kClientAuth));
    EXPECT_TRUE(cert.has_key_usage(KeyUsage::kDigitalSignature));
    EXPECT_FALSE(cert.has_key_usage(KeyUsage::kKeyCertSign));
    EXPECT_FALSE(cert.is_ca());
    EXPECT_TRUE(cert.matches_key(server->key));
    EXPECT_FALSE(cert.matches_key(ca.key));
    EXPECT_TRUE(cert.verify_signed_by(ca.cert));
    EXPECT_TRUE(cert.verify_chain(ca.cert, kNow, ExtKeyUsage::kServerAuth));
    auto as_client = cert.verify_chain(ca.cert, kNow, ExtKeyUsage::kClientAuth);
    ASSERT_FALSE(as_client);
    EXPECT_TRUE(as_client.error().is(errc::unauthorized));
}

TEST(IssueServerCert, RefusesBadIp) {
    auto ca = make_ca();
    auto r = issue_server_cert(ca.cert, ca.key, {"KubeEdge", {}}, {{"300.1.1.1"}, {}},
                               kDefaultLeafLifetime, kNow);
    ASSERT_FALSE(r);
    EXPECT_TRUE(r.error().is(errc::invalid_argument));
    EXPECT_NE(r.error().detail.find("300.1.1.1"), std::string::npos);
}

TEST(IssueServerCert, RefusesMismatchedCaKey) {
    auto ca = make_ca();
    auto other = make_ca();
    auto r =
        issue_server_cert(ca.cert, other.key, {"KubeEdge", {}}, {}, kDefaultLeafLifetime, kNow);
    ASSERT_FALSE(r);
    EXPECT_TRUE(r.error().is(errc::invalid_argument));
}

TEST(IssueServerCert, RefusesLeafAsCa) {
    auto ca = make_ca();
    auto server = issue_server_cert(ca.cert, ca.key, {"KubeEdge", {}}, {}, hours(1), kNow);
    ASSERT_TRUE(server);
    auto r = issue_server_cert(server->cert, server->key, {"x", {}}, {}, hours(1), kNow);
    ASSERT_FALSE(r);
    EXPECT_TRUE(r.error().is(errc::invalid_argument));
}

TEST(SignCsr, DefaultIsClientCertForOneYear) {
    auto ca = make_ca();
    auto key = PrivateKey::generate();
    ASSERT_TRUE(key);
    auto csr = make_csr(*key, kNodeSubject);
    SignOptions opts;
    opts.now = kNow;
    auto cert = sign_csr(ca.cert, ca.key, csr, opts);
    ASSERT_TRUE(cert) << cert.error().message();
    EXPECT_EQ(cert->subject(), kNodeSubject);
    EXPECT_EQ(cert->issuer(), ca.cert.subject());
    EXPECT_TRUE(cert->matches_key(*key));
    EXPECT_TRUE(cert->has_ext_key_usage(ExtKeyUsage::kClientAuth));
    EXPECT_FALSE(cert->has_ext_key_usage(ExtKeyUsage::kServerAuth));
    EXPECT_FALSE(cert->is_ca());
    EXPECT_EQ(cert->not_after() - kNow, hours(24 * 365));
    EXPECT_EQ(kNow - cert->not_before(), minutes(5));
    EXPECT_TRUE(cert->verify_signed_by(ca.cert));
    EXPECT_TRUE(cert->verify_chain(ca.cert, kNow, ExtKeyUsage::kClientAuth));
    // Clock skew: a peer 4 minutes behind still accepts the fresh certificate.
    EXPECT_TRUE(cert->verify_chain(ca.cert, kNow - minutes(4)));
}

TEST(SignCsr, ChainFailsOutsideValidityAndWithOtherCa) {
    auto ca = make_ca();
    auto other = make_ca();
    auto key = PrivateKey::generate();
    ASSERT_TRUE(key);
    SignOptions opts;
    opts.now = kNow;
    opts.lifetime = hours(1);
    auto cert = sign_csr(ca.cert, ca.key, make_csr(*key, kNodeSubject), opts);
    ASSERT_TRUE(cert);
    auto late = cert->verify_chain(ca.cert, kNow + hours(2));
    ASSERT_FALSE(late);
    EXPECT_TRUE(late.error().is(errc::expired)) << late.error().message();
    EXPECT_FALSE(cert->valid_at(kNow + hours(2)));
    EXPECT_TRUE(cert->valid_at(kNow));

    auto wrong = cert->verify_signed_by(other.cert);
    ASSERT_FALSE(wrong);
    EXPECT_TRUE(wrong.error().is(errc::unauthorized));
    auto wrong_chain = cert->verify_chain(other.cert, kNow);
    ASSERT_FALSE(wrong_chain);
    EXPECT_TRUE(wrong_chain.error().is(errc::unauthorized));
}

TEST(SignCsr, SameNameOtherCaKeyFailsSignatureCheck) {
    // Both CAs are called "KubeEdge": the name matches, only the signature tells them apart.
    auto ca = make_ca();
    auto other = make_ca();
    auto server = issue_server_cert(other.cert, other.key, {"s", {}}, {}, hours(1), kNow);
    ASSERT_TRUE(server);
    auto r = server->cert.verify_signed_by(ca.cert);
    ASSERT_FALSE(r);
    EXPECT_TRUE(r.error().is(errc::unauthorized));
    EXPECT_NE(r.error().detail.find("signature"), std::string::npos);
}

TEST(SignCsr, ServerAndClientUsagesOnRequest) {
    auto ca = make_ca();
    auto key = PrivateKey::generate();
    ASSERT_TRUE(key);
    SignOptions opts;
    opts.now = kNow;
    opts.ext_key_usages = {ExtKeyUsage::kServerAuth, ExtKeyUsage::kClientAuth};
    auto cert = sign_csr(ca.cert, ca.key, make_csr(*key, kNodeSubject), opts);
    ASSERT_TRUE(cert);
    EXPECT_TRUE(cert->has_ext_key_usage(ExtKeyUsage::kServerAuth));
    EXPECT_TRUE(cert->has_ext_key_usage(ExtKeyUsage::kClientAuth));

    opts.ext_key_usages.clear();
    auto none = sign_csr(ca.cert, ca.key, make_csr(*key, kNodeSubject), opts);
    ASSERT_FALSE(none);
    EXPECT_TRUE(none.error().is(errc::invalid_argument));
}

TEST(SignCsr, SansOnlyWhenAsked) {
    auto ca = make_ca();
    auto key = PrivateKey::generate();
    ASSERT_TRUE(key);
    SubjectAltNames sans{{"10.0.0.1"}, {"edge1.local"}};
    auto csr = make_csr(*key, kNodeSubject, sans);
    SignOptions opts;
    opts.now = kNow;
    auto plain = sign_csr(ca.cert, ca.key, csr, opts);
    ASSERT_TRUE(plain);
    EXPECT_TRUE(plain->sans().empty());
    opts.copy_sans = true;
    auto with = sign_csr(ca.cert, ca.key, csr, opts);
    ASSERT_TRUE(with);
    EXPECT_EQ(with->sans(), sans);
}

TEST(SignCsr, SubjectOverrideAndRequirement) {
    auto ca = make_ca();
    auto key = PrivateKey::generate();
    ASSERT_TRUE(key);
    auto csr = make_csr(*key, kNodeSubject);
    SignOptions opts;
    opts.now = kNow;
    opts.subject_override = Subject{"system:node:other", {"system:nodes"}};
    auto overridden = sign_csr(ca.cert, ca.key, csr, opts);
    ASSERT_TRUE(overridden);
    EXPECT_EQ(overridden->subject(), *opts.subject_override);

    opts.subject_override.reset();
    opts.required_subject = kNodeSubject;
    EXPECT_TRUE(sign_csr(ca.cert, ca.key, csr, opts));
    opts.required_subject = Subject{"system:node:edge2", {"system:nodes"}};
    auto refused = sign_csr(ca.cert, ca.key, csr, opts);
    ASSERT_FALSE(refused);
    EXPECT_TRUE(refused.error().is(errc::forbidden));
    EXPECT_NE(refused.error().detail.find("system:node:edge1"), std::string::npos);
}

TEST(SignCsr, RefusesTamperedCsr) {
    auto ca = make_ca();
    auto key = PrivateKey::generate();
    ASSERT_TRUE(key);
    std::string der = make_csr(*key, kNodeSubject).to_der();
    // Change one character of the CN inside the signed part: the DER still parses but the
    // signature no longer covers what it says.
    auto pos = der.find("edge1");
    ASSERT_NE(pos, std::string::npos);
    der[pos + 4] = '2';
    auto tampered = CertificateRequest::from_der(der);
    ASSERT_TRUE(tampered) << tampered.error().message();
    EXPECT_EQ(tampered->subject().common_name, "system:node:edge2");
    auto r = sign_csr(ca.cert, ca.key, *tampered);
    ASSERT_FALSE(r);
    EXPECT_TRUE(r.error().is(errc::unauthorized)) << r.error().message();
}

}  // namespace
}  // namespace kedge::pki
