#include <gtest/gtest.h>
#include <sys/stat.h>

#include <random>
#include <set>

#include "edge/certs/edge_certs.hpp"
#include "pki/files.hpp"
#include "support/test_support.hpp"
#include "test_identity.hpp"

namespace kedge::edge {
namespace {

using test::TestCa;

CertPaths paths_in(const kedge::test::TempDir& dir) {
    return {dir.file("ca/rootCA.crt"), dir.file("certs/server.crt"), dir.file("certs/server.key")};
}

unsigned mode_of(const std::filesystem::path& p) {
    struct stat st {};
    EXPECT_EQ(::stat(p.c_str(), &st), 0) << p;
    return st.st_mode & 07777;
}

TEST(RotationTime, FallsBetween70And90PercentOfTheLifetimeWithJitter) {
    auto ca = TestCa::make();
    auto creds = ca.node_cert("edge1", std::chrono::hours(1000));
    auto begin = creds.cert.not_before();
    auto life = creds.cert.not_after() - begin;
    std::mt19937_64 rng(42);
    std::set<Clock::time_point> seen;
    for (int i = 0; i < 200; ++i) {
        auto t = rotation_time(creds.cert, rng);
        EXPECT_GE(t, begin + life * 7 / 10);
        EXPECT_LE(t, begin + life * 9 / 10);
        seen.insert(t);
    }
    // Jittered: a fleet issued at the same moment must not rotate in step.
    EXPECT_GT(seen.size(), 150u);
}

TEST(Identity, StoreThenLoadRoundTripsWithUpstreamPemTypesAndModes) {
    kedge::test::TempDir dir;
    auto ca = TestCa::make();
    auto creds = ca.node_cert("edge1");
    auto paths = paths_in(dir);
    ASSERT_TRUE(store_identity(paths, ca.ca.cert, creds));

    EXPECT_EQ(mode_of(paths.key), 0600u);
    auto key_text = kedge::test::read_file(paths.key);
    EXPECT_NE(key_text.find("-----BEGIN EC PRIVATE KEY-----"), std::string::npos);
    EXPECT_NE(kedge::test::read_file(paths.cert).find("-----BEGIN CERTIFICATE-----"),
              std::string::npos);
    EXPECT_NE(kedge::test::read_file(paths.ca).find("-----BEGIN CERTIFICATE-----"),
              std::string::npos);

    std::string why;
    auto id = load_identity(paths, "edge1", SystemClock::instance().now(), &why);
    ASSERT_TRUE(id) << why;
    EXPECT_EQ(id->ca.to_der(), ca.ca.cert.to_der());
    EXPECT_EQ(id->creds.cert.to_der(), creds.cert.to_der());
    EXPECT_EQ(id->creds.key.to_der(), creds.key.to_der());
}

TEST(Identity, StoreReplacesAnExistingIdentity) {
    kedge::test::TempDir dir;
    auto ca = TestCa::make();
    auto paths = paths_in(dir);
    ASSERT_TRUE(store_identity(paths, ca.ca.cert, ca.node_cert("edge1")));
    auto second = ca.node_cert("edge1");
    ASSERT_TRUE(store_identity(paths, ca.ca.cert, second));
    auto id = load_identity(paths, "edge1", SystemClock::instance().now());
    ASSERT_TRUE(id);
    EXPECT_EQ(id->creds.cert.serial_hex(), second.cert.serial_hex());
    EXPECT_EQ(mode_of(paths.key), 0600u);
}

TEST(Identity, MissingFilesSayWhichOne) {
    kedge::test::TempDir dir;
    auto paths = paths_in(dir);
    std::string why;
    EXPECT_FALSE(load_identity(paths, "edge1", SystemClock::instance().now(), &why));
    EXPECT_NE(why.find(paths.ca.string()), std::string::npos) << why;

    auto ca = TestCa::make();
    ASSERT_TRUE(pki::write_cert_pem(paths.ca, ca.ca.cert));
    EXPECT_FALSE(load_identity(paths, "edge1", SystemClock::instance().now(), &why));
    EXPECT_NE(why.find(paths.cert.string()), std::string::npos) << why;

    ASSERT_TRUE(pki::write_cert_pem(paths.cert, ca.node_cert("edge1").cert));
    EXPECT_FALSE(load_identity(paths, "edge1", SystemClock::instance().now(), &why));
    EXPECT_NE(why.find(paths.key.string()), std::string::npos) << why;
}

TEST(Identity, CertificateOfAnotherNodeIsRefused) {
    kedge::test::TempDir dir;
    auto ca = TestCa::make();
    auto paths = paths_in(dir);
    ASSERT_TRUE(store_identity(paths, ca.ca.cert, ca.node_cert("edge2")));
    std::string why;
    EXPECT_FALSE(load_identity(paths, "edge1", SystemClock::instance().now(), &why));
    EXPECT_NE(why.find("system:node:edge2"), std::string::npos) << why;
    EXPECT_TRUE(load_identity(paths, "edge2", SystemClock::instance().now()));
}

TEST(Identity, ExpiredCertificateIsRefused) {
    kedge::test::TempDir dir;
    auto ca = TestCa::make();
    auto paths = paths_in(dir);
    auto creds = ca.node_cert("edge1", std::chrono::hours(1));
    ASSERT_TRUE(store_identity(paths, ca.ca.cert, creds));
    std::string why;
    EXPECT_TRUE(load_identity(paths, "edge1", SystemClock::instance().now(), &why)) << why;
    EXPECT_FALSE(
        load_identity(paths, "edge1", creds.cert.not_after() + std::chrono::minutes(1), &why));
    EXPECT_FALSE(why.empty());
}

TEST(Identity, KeyThatDoesNotMatchTheCertificateIsRefused) {
    kedge::test::TempDir dir;
    auto ca = TestCa::make();
    auto paths = paths_in(dir);
    auto creds = ca.node_cert("edge1");
    creds.key = ca.node_cert("edge1").key;
    ASSERT_TRUE(store_identity(paths, ca.ca.cert, creds));
    std::string why;
    EXPECT_FALSE(load_identity(paths, "edge1", SystemClock::instance().now(), &why));
    EXPECT_NE(why.find("not for the key"), std::string::npos) << why;
}

TEST(Identity, CertificateFromAnotherCaIsRefused) {
    kedge::test::TempDir dir;
    auto ca = TestCa::make();
    auto other = TestCa::make();
    auto paths = paths_in(dir);
    ASSERT_TRUE(store_identity(paths, ca.ca.cert, other.node_cert("edge1")));
    std::string why;
    EXPECT_FALSE(load_identity(paths, "edge1", SystemClock::instance().now(), &why));
    EXPECT_NE(why.find("against CA"), std::string::npos) << why;
}

TEST(Identity, GarbageFilesAreRefusedNotFatal) {
    kedge::test::TempDir dir;
    auto paths = paths_in(dir);
    std::filesystem::create_directories(paths.cert.parent_path());
    std::filesystem::create_directories(paths.ca.parent_path());
    kedge::test::write_file(paths.ca, "not a pem");
    kedge::test::write_file(paths.cert, "");
    kedge::test::write_file(paths.key, "-----BEGIN EC PRIVATE KEY-----\nAAAA\n");
    std::string why;
    EXPECT_FALSE(load_identity(paths, "edge1", SystemClock::instance().now(), &why));
    EXPECT_FALSE(why.empty());
}

}  // namespace
}  // namespace kedge::edge
