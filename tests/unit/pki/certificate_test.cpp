#include "pki/certificate.hpp"

#include <gtest/gtest.h>

#include "pki/issue.hpp"
#include "pki/token.hpp"

using namespace std::string_literals;

namespace kedge::pki {
namespace {

const Clock::time_point kNow{std::chrono::seconds(1'700'000'000)};

CertAndKey make_server() {
    auto ca = create_ca("KubeEdge", kDefaultCaLifetime, kNow);
    EXPECT_TRUE(ca);
    auto server = issue_server_cert(ca->cert, ca->key, {"KubeEdge", {"KubeEdge", "Second"}},
                                    {{"127.0.0.1"}, {"localhost"}}, kDefaultLeafLifetime, kNow);
    EXPECT_TRUE(server) << server.error().message();
    return std::move(*server);
}

TEST(Certificate, DerRoundTrip) {
    auto server = make_server();
    auto back = Certificate::from_der(server.cert.to_der());
    ASSERT_TRUE(back) << back.error().message();
    EXPECT_EQ(back->to_der(), server.cert.to_der());
    EXPECT_EQ(back->subject(), server.cert.subject());
    EXPECT_EQ(back->sans(), server.cert.sans());
    EXPECT_EQ(back->not_before(), server.cert.not_before());
    EXPECT_EQ(back->not_after(), server.cert.not_after());
    EXPECT_EQ(back->serial_hex(), server.cert.serial_hex());
}

TEST(Certificate, PemRoundTrip) {
    auto server = make_server();
    std::string pem = server.cert.to_pem();
    EXPECT_EQ(pem.rfind("-----BEGIN CERTIFICATE-----\n", 0), 0u);
    EXPECT_TRUE(pem.ends_with("-----END CERTIFICATE-----\n"));
    // 64-column lines, as every PEM reader expects.
    std::size_t line_start = pem.find('\n') + 1;
    EXPECT_EQ(pem.find('\n', line_start) - line_start, 64u);
    auto back = Certificate::from_pem(pem);
    ASSERT_TRUE(back) << back.error().message();
    EXPECT_EQ(back->to_der(), server.cert.to_der());
}

TEST(Certificate, SubjectWithSeveralOrganizations) {
    auto server = make_server();
    EXPECT_EQ(server.cert.subject().organizations,
              (std::vector<std::string>{"KubeEdge", "Second"}));
    EXPECT_EQ(server.cert.subject().to_string(), "O=KubeEdge, O=Second, CN=KubeEdge");
}

TEST(Certificate, ReadsBundle) {
    auto ca = create_ca("a", std::chrono::hours(1), kNow);
    auto cb = create_ca("b", std::chrono::hours(1), kNow);
    ASSERT_TRUE(ca && cb);
    auto all = Certificate::all_from_pem(ca->cert.to_pem() + cb->cert.to_pem());
    ASSERT_TRUE(all) << all.error().message();
    ASSERT_EQ(all->size(), 2u);
    EXPECT_EQ((*all)[1].subject().common_name, "b");
    EXPECT_FALSE(Certificate::all_from_pem("nothing here"));
}

TEST(Certificate, Sha256IsOfDer) {
    auto server = make_server();
    EXPECT_EQ(server.cert.sha256_hex(), sha256_hex(server.cert.to_der()));
    EXPECT_EQ(server.cert.sha256_hex().size(), 64u);
    EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(Certificate, RejectsGarbageAndTrailingBytes) {
    auto server = make_server();
    auto trailing = Certificate::from_der(server.cert.to_der() + "\0"s);
    ASSERT_FALSE(trailing);
    EXPECT_TRUE(trailing.error().is(errc::parse_error));
    auto truncated = Certificate::from_der(server.cert.to_der().substr(0, 100));
    ASSERT_FALSE(truncated);
    EXPECT_TRUE(truncated.error().is(errc::parse_error));
    auto pem =
        Certificate::from_pem("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n");
    ASSERT_FALSE(pem);
    EXPECT_TRUE(pem.error().is(errc::parse_error));
    EXPECT_FALSE(Certificate::from_der(""));
}

TEST(Certificate, EveryTruncationIsRefusedCleanly) {
    auto server = make_server();
    const std::string& der = server.cert.to_der();
    for (std::size_t n = 0; n < der.size(); ++n) {
        EXPECT_FALSE(Certificate::from_der(der.substr(0, n))) << "length " << n;
    }
}

TEST(Certificate, ExtKeyUsageFromGoNumbers) {
    EXPECT_EQ(*ext_key_usage_from_go(1), ExtKeyUsage::kServerAuth);
    EXPECT_EQ(*ext_key_usage_from_go(2), ExtKeyUsage::kClientAuth);
    auto bad = ext_key_usage_from_go(0);
    ASSERT_FALSE(bad);
    EXPECT_TRUE(bad.error().is(errc::invalid_argument));
}

}  // namespace
}  // namespace kedge::pki
