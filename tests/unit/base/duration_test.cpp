#include "base/duration.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>

namespace kedge {
namespace {

using namespace std::chrono_literals;

std::chrono::nanoseconds parse(std::string_view s) {
    auto d = Duration::parse(s);
    EXPECT_TRUE(d) << s << ": " << (d ? "" : d.error().detail);
    return d ? d->value() : std::chrono::nanoseconds(-12345);
}

TEST(Duration, ParsesGoSyntax) {
    EXPECT_EQ(parse("0"), 0ns);
    EXPECT_EQ(parse("10s"), 10s);
    EXPECT_EQ(parse("1m30s"), 90s);
    EXPECT_EQ(parse("500ms"), 500ms);
    EXPECT_EQ(parse("1h"), 1h);
    EXPECT_EQ(parse("1.5s"), 1500ms);
    EXPECT_EQ(parse(".5s"), 500ms);
    EXPECT_EQ(parse("1h2m3s4ms5us6ns"), 1h + 2min + 3s + 4ms + 5us + 6ns);
    EXPECT_EQ(parse("3\xC2\xB5s"), 3us);  // micro sign, as Go prints it
    EXPECT_EQ(parse("3\xCE\xBCs"), 3us);  // Greek mu
    EXPECT_EQ(parse("-1.5h"), -90min);
    EXPECT_EQ(parse("+5m"), 5min);
    EXPECT_EQ(parse("2562047h47m16.854775807s"), std::chrono::nanoseconds(INT64_MAX));
}

TEST(Duration, RejectsWhatGoRejects) {
    for (const char* bad : {"", "10", "1.5", "s", "10x", "1s1", "--1s", ".s", "1 s", "abc",
                            "9223372036854775808ns", "2562048h"}) {
        auto d = Duration::parse(bad);
        EXPECT_FALSE(d) << "'" << bad << "' parsed as " << (d ? d->to_string() : "");
        if (!d) {
            EXPECT_TRUE(d.error().is(errc::parse_error));
            EXPECT_NE(d.error().detail.find(bad), std::string::npos) << d.error().detail;
        }
    }
    EXPECT_NE(Duration::parse("10").error().detail.find("missing unit"), std::string::npos);
    EXPECT_NE(Duration::parse("10d").error().detail.find("unknown unit 'd'"), std::string::npos);
}

TEST(Duration, PrintsLikeGo) {
    EXPECT_EQ(Duration().to_string(), "0s");
    EXPECT_EQ(Duration(10s).to_string(), "10s");
    EXPECT_EQ(Duration(90s).to_string(), "1m30s");
    EXPECT_EQ(Duration(1h).to_string(), "1h0m0s");
    EXPECT_EQ(Duration(500ms).to_string(), "500ms");
    EXPECT_EQ(Duration(1500ms).to_string(), "1.5s");
    EXPECT_EQ(Duration(2us).to_string(), "2\xC2\xB5s");
    EXPECT_EQ(Duration(1500ns).to_string(), "1.5\xC2\xB5s");
    EXPECT_EQ(Duration(7ns).to_string(), "7ns");
    EXPECT_EQ(Duration(-90s).to_string(), "-1m30s");
    EXPECT_EQ(Duration(1h + 2min + 3s + 4ms).to_string(), "1h2m3.004s");
    EXPECT_EQ(Duration(std::chrono::nanoseconds(INT64_MIN)).to_string(),
              "-2562047h47m16.854775808s");
}

TEST(Duration, PrintThenParseIsIdentity) {
    for (std::int64_t ns :
         {std::int64_t{0}, std::int64_t{1}, std::int64_t{999}, std::int64_t{1'000},
          std::int64_t{1'234'567}, std::int64_t{1'000'000'000}, std::int64_t{61'000'000'001},
          std::int64_t{-3'600'000'000'000}, INT64_MAX, INT64_MIN}) {
        Duration d{std::chrono::nanoseconds(ns)};
        auto back = Duration::parse(d.to_string());
        ASSERT_TRUE(back) << d.to_string();
        EXPECT_EQ(*back, d) << d.to_string();
    }
}

TEST(Seconds, IntegerOrWholeSecondDuration) {
    EXPECT_EQ(Seconds::parse("15")->count(), 15);
    EXPECT_EQ(Seconds::parse("0")->count(), 0);
    EXPECT_EQ(Seconds::parse("2m")->count(), 120);
    EXPECT_EQ(Seconds(15).to_string(), "15");
    EXPECT_FALSE(Seconds::parse("1500ms"));
    EXPECT_NE(Seconds::parse("1500ms").error().detail.find("whole number"), std::string::npos);
    EXPECT_FALSE(Seconds::parse("abc"));
    EXPECT_FALSE(Seconds::parse(""));
    EXPECT_FALSE(Seconds::parse("99999999999999999999"));
    std::chrono::seconds s = Seconds(3);  // usable where a chrono duration is expected
    EXPECT_EQ(s, 3s);
}

}  // namespace
}  // namespace kedge
