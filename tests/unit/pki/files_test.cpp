#include "pki/files.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>

#include "pki/issue.hpp"
#include "support/test_support.hpp"

namespace kedge::pki {
namespace {

unsigned mode_of(const std::string& path) {
    struct stat st {};
    EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
    return st.st_mode & 0777;
}

TEST(Files, WritesKeyAndCertWithModesAndParents) {
    test::TempDir dir;
    auto ca = create_ca();
    ASSERT_TRUE(ca);
    std::string key_path = dir.file("ca/sub/rootCA.key");
    std::string cert_path = dir.file("ca/sub/rootCA.crt");
    ASSERT_TRUE(write_key_pem(key_path, ca->key));
    ASSERT_TRUE(write_cert_pem(cert_path, ca->cert));
    EXPECT_EQ(mode_of(key_path), 0600u);
    EXPECT_EQ(mode_of(cert_path), 0644u);

    auto key = read_key_pem(key_path);
    ASSERT_TRUE(key) << key.error().message();
    EXPECT_EQ(key->to_der(), ca->key.to_der());
    EXPECT_EQ(test::read_file(key_path).rfind("-----BEGIN EC PRIVATE KEY-----", 0), 0u);
    auto cert = read_cert_pem(cert_path);
    ASSERT_TRUE(cert) << cert.error().message();
    EXPECT_EQ(cert->to_der(), ca->cert.to_der());

    // Only the two files: no temp files left behind.
    std::size_t count = 0;
    for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(dir.file("ca/sub")))
        ++count;
    EXPECT_EQ(count, 2u);
}

TEST(Files, ReplacesExistingFile) {
    test::TempDir dir;
    std::string path = dir.file("x.pem");
    test::write_file(path, "old contents that are longer than the new ones");
    ASSERT_TRUE(write_file_atomic(path, "new", 0644));
    EXPECT_EQ(test::read_file(path), "new");
    EXPECT_EQ(mode_of(path), 0644u);
}

TEST(Files, ErrorsNameTheFile) {
    test::TempDir dir;
    auto missing = read_cert_pem(dir.file("nope.crt"));
    ASSERT_FALSE(missing);
    EXPECT_TRUE(missing.error().is(errc::not_found));
    EXPECT_NE(missing.error().detail.find("nope.crt"), std::string::npos);

    test::write_file(dir.file("bad.key"), "garbage");
    auto bad = read_key_pem(dir.file("bad.key"));
    ASSERT_FALSE(bad);
    EXPECT_TRUE(bad.error().is(errc::parse_error));
    EXPECT_NE(bad.error().detail.find("bad.key"), std::string::npos);

    // A parent that is a regular file cannot become a directory.
    auto blocked = write_file_atomic(dir.file("bad.key/child"), "x", 0600);
    ASSERT_FALSE(blocked);
    EXPECT_TRUE(blocked.error().is(errc::io_error));
}

TEST(Files, ReadFileSizeLimit) {
    test::TempDir dir;
    test::write_file(dir.file("big"), std::string(2000, 'x'));
    auto r = read_file(dir.file("big"), 1000);
    ASSERT_FALSE(r);
    EXPECT_TRUE(r.error().is(errc::too_large));
    auto ok = read_file(dir.file("big"), 2000);
    ASSERT_TRUE(ok);
    EXPECT_EQ(ok->size(), 2000u);
}

}  // namespace
}  // namespace kedge::pki
