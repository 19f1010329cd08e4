#include "base/error.hpp"

#include <gtest/gtest.h>

namespace kedge {
namespace {

Result<int> parse_positive(int v) {
    if (v <= 0) return Error(errc::invalid_argument, "value must be positive, got " + std::to_string(v));
    return v;
}

TEST(Error, ResultCarriesValueOrErrorWithDetail) {
    auto ok = parse_positive(3);
    ASSERT_TRUE(ok);
    EXPECT_EQ(*ok, 3);

    auto bad = parse_positive(-1);
    ASSERT_FALSE(bad);
    EXPECT_TRUE(bad.error().is(errc::invalid_argument));
    EXPECT_EQ(bad.error().message(), "value must be positive, got -1 (invalid argument)");
    EXPECT_THROW(bad.value(), ErrorException);
}

TEST(Error, ErrcConvertsToErrorCode) {
    boost::system::error_code ec = errc::queue_full;
    EXPECT_EQ(ec.category().name(), std::string("kedge"));
    EXPECT_EQ(ec.message(), "queue full");
    Error e(ec);
    EXPECT_EQ(e.message(), "queue full");
}

}  // namespace
}  // namespace kedge
