#include "kube/quantity.hpp"

#include <gtest/gtest.h>
#include <boost/json/parse.hpp>

namespace kedge::kube {
namespace {

std::int64_t milli(std::string_view s) {
    auto r = parse_quantity_milli(s);
    EXPECT_TRUE(r) << s << ": " << (r ? "" : r.error().detail);
    return r ? *r : -1;
}

TEST(Quantity, DecimalSuffixes) {
    EXPECT_EQ(milli("100m"), 100);
    EXPECT_EQ(milli("1"), 1000);
    EXPECT_EQ(milli("1.5"), 1500);
    EXPECT_EQ(milli("0.25"), 250);
    EXPECT_EQ(milli(".5"), 500);
    EXPECT_EQ(milli("2k"), 2'000'000);
    EXPECT_EQ(milli("1G"), 1'000'000'000'000LL);
    EXPECT_EQ(milli("1M"), 1'000'000'000LL);
    EXPECT_EQ(milli("3T"), 3'000'000'000'000'000LL);
    EXPECT_EQ(milli("0"), 0);
    EXPECT_EQ(milli("0m"), 0);
}

TEST(Quantity, BinarySuffixes) {
    EXPECT_EQ(milli("128Mi"), 128LL * 1024 * 1024 * 1000);
    EXPECT_EQ(milli("1Ki"), 1024'000);
    EXPECT_EQ(milli("1.5Gi"), 1536LL * 1024 * 1024 * 1000);
    EXPECT_EQ(milli("2Ti"), 2LL * 1024 * 1024 * 1024 * 1024 * 1000);
}

TEST(Quantity, Exponents) {
    EXPECT_EQ(milli("2e3"), 2'000'000);
    EXPECT_EQ(milli("1E3"), 1'000'000);
    EXPECT_EQ(milli("5e-3"), 5);
    EXPECT_EQ(milli("1e+2"), 100'000);
}

TEST(Quantity, RoundsUpToWholeMilli) {
    EXPECT_EQ(milli("1n"), 1);      // smallest positive amount rounds up to 1m
    EXPECT_EQ(milli("1500u"), 2);   // 1.5m -> 2m
    EXPECT_EQ(milli("0.0001"), 1);  // 0.1m -> 1m
    EXPECT_EQ(milli("1e-40"), 1);
}

TEST(Quantity, Saturates) {
    EXPECT_EQ(milli("1e100"), kMaxMilli);
    EXPECT_EQ(milli("16Ei"), kMaxMilli);
    EXPECT_EQ(milli("123456789012345678901234567890"), kMaxMilli);
}

TEST(Quantity, Signs) {
    EXPECT_EQ(milli("+1"), 1000);
    EXPECT_EQ(milli("-100m"), -100);
}

TEST(Quantity, RejectsMalformed) {
    for (std::string_view bad : {"", "m", "Mi", "1.2.3", "5Q", "1e", "1e+", "1 ", " 1", "1Mb",
                                 "1ki", "--1", "1e3.5", "abc", "."}) {
        auto r = parse_quantity_milli(bad);
        ASSERT_FALSE(r) << "\"" << bad << "\" parsed";
        EXPECT_TRUE(r.error().is(errc::invalid_argument));
        EXPECT_NE(r.error().detail.find(std::string(bad)), std::string::npos) << r.error().detail;
    }
}

TEST(Quantity, JsonNumbersAndStrings) {
    EXPECT_EQ(*parse_quantity_milli(boost::json::parse("2")), 2000);
    EXPECT_EQ(*parse_quantity_milli(boost::json::parse("0.5")), 500);
    EXPECT_EQ(*parse_quantity_milli(boost::json::parse("\"250m\"")), 250);
    EXPECT_FALSE(parse_quantity_milli(boost::json::parse("null")));
    EXPECT_FALSE(parse_quantity_milli(boost::json::parse("[1]")));
}

}  // namespace
}  // namespace kedge::kube
