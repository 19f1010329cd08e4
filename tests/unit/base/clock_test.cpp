#include "base/clock.hpp"

#include <gtest/gtest.h>

namespace kedge {
namespace {

TEST(FakeClock, MovesOnlyWhenAdvanced) {
    FakeClock clock;
    auto wall = clock.now();
    auto mono = clock.steady_now();
    EXPECT_EQ(clock.now(), wall);
    clock.advance(std::chrono::seconds(15));
    EXPECT_EQ(clock.now() - wall, std::chrono::seconds(15));
    EXPECT_EQ(clock.steady_now() - mono, std::chrono::seconds(15));
    EXPECT_EQ(clock.unix_millis(), 1'700'000'015'000);
}

TEST(FakeClock, WallStepDoesNotMoveSteady) {
    FakeClock clock;
    auto mono = clock.steady_now();
    clock.set_wall(Clock::time_point(std::chrono::seconds(42)));
    EXPECT_EQ(clock.unix_millis(), 42'000);
    EXPECT_EQ(clock.steady_now(), mono);
}

TEST(SystemClock, UnixMillisIsCurrent) {
    auto ms = SystemClock::instance().unix_millis();
    EXPECT_GT(ms, 1'700'000'000'000);  // after 2023
}

}  // namespace
}  // namespace kedge
