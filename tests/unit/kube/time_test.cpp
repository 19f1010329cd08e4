#include <gtest/gtest.h>

#include "kube/time.hpp"

namespace kedge::kube {
namespace {

TEST(KubeTime, FormatsSecondsAndMicroseconds) {
    Clock::time_point t{std::chrono::seconds(1'764'018'000) + std::chrono::microseconds(123'456)};
    EXPECT_EQ(format_time(t), "2025-11-24T21:00:00Z");
    EXPECT_EQ(format_micro_time(t), "2025-11-24T21:00:00.123456Z");
}

TEST(KubeTime, ParsesWhatItFormatsAndOffsets) {
    auto t = parse_time("2025-11-24T21:00:00Z");
    ASSERT_TRUE(t);
    EXPECT_EQ(std::chrono::duration_cast<std::chrono::seconds>(t->time_since_epoch()).count(),
              1'764'018'000);
    auto micro = parse_time("2025-11-24T21:00:00.123456Z");
    ASSERT_TRUE(micro);
    EXPECT_EQ(*micro - *t, std::chrono::microseconds(123'456));
    auto offset = parse_time("2025-11-24T23:00:00+02:00");
    ASSERT_TRUE(offset);
    EXPECT_EQ(*offset, *t);
}

TEST(KubeTime, RejectsMalformedTimes) {
    for (const char* bad : {"", "2025-11-24", "2025-13-01T00:00:00Z", "2025-02-30T00:00:00Z",
                            "2025-11-24T21:00:00", "2025-11-24T21:00:00Zjunk",
                            "2025-11-24T21:00:00.Z", "yesterday"}) {
        auto r = parse_time(bad);
        EXPECT_FALSE(r) << bad;
        if (!r) EXPECT_TRUE(r.error().is(errc::invalid_argument));
    }
}

}  // namespace
}  // namespace kedge::kube
