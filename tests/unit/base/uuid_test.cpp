#include "base/uuid.hpp"

#include <gtest/gtest.h>

#include <set>

namespace kedge {
namespace {

TEST(Uuid, IsVersion4Canonical) {
    for (int i = 0; i < 100; ++i) {
        auto u = new_uuid();
        ASSERT_TRUE(is_uuid(u)) << u;
        EXPECT_EQ(u[14], '4') << u;
        EXPECT_TRUE(u[19] == '8' || u[19] == '9' || u[19] == 'a' || u[19] == 'b') << u;
    }
}

TEST(Uuid, DistinctValues) {
    std::set<std::string> seen;
    for (int i = 0; i < 10000; ++i) seen.insert(new_uuid());
    EXPECT_EQ(seen.size(), 10000u);
}

TEST(Uuid, RejectsMalformed) {
    EXPECT_FALSE(is_uuid(""));
    EXPECT_FALSE(is_uuid("1b4e28ba-2fa1-4d2e-8b3c-7e5b1c9d0a2"));
    EXPECT_FALSE(is_uuid("1b4e28ba-2fa1-4d2e-8b3c-7e5b1c9d0a2g"));
    EXPECT_FALSE(is_uuid("1b4e28ba02fa1-4d2e-8b3c-7e5b1c9d0a21"));
    EXPECT_TRUE(is_uuid("1B4E28BA-2FA1-4D2E-8B3C-7E5B1C9D0A21"));
}

}  // namespace
}  // namespace kedge
