#include <gtest/gtest.h>

#include "kube/client/rate_limiter.hpp"

namespace kedge::kube::client {
namespace {

using namespace std::chrono_literals;
using TP = TokenBucket::TimePoint;

TEST(TokenBucket, BurstThenOnePerInterval) {
    TP t0{};
    TokenBucket b(5, 2, t0);  // 5 qps: one token every 200 ms
    EXPECT_EQ(b.reserve(t0), 0ns);
    EXPECT_EQ(b.reserve(t0), 0ns);
    EXPECT_EQ(b.reserve(t0), 200ms);  // reservations queue up
    EXPECT_EQ(b.reserve(t0), 400ms);
    // After 1 s the debt of 2 is paid and 3 more tokens accrued, capped at the burst of 2.
    EXPECT_EQ(b.reserve(t0 + 1s), 0ns);
    EXPECT_EQ(b.reserve(t0 + 1s), 0ns);
    EXPECT_EQ(b.reserve(t0 + 1s), 200ms);
}

TEST(TokenBucket, ElevenRequestsAtFiveQpsBurstOneTakeTwoSeconds) {
    TP t0{};
    TokenBucket b(5, 1, t0);
    std::chrono::nanoseconds last{};
    for (int i = 0; i < 11; ++i) last = b.reserve(t0);
    EXPECT_EQ(last, 2s);
}

TEST(TokenBucket, DisabledNeverWaits) {
    TP t0{};
    TokenBucket b(0, 1, t0);
    EXPECT_FALSE(b.enabled());
    for (int i = 0; i < 1000; ++i) EXPECT_EQ(b.reserve(t0), 0ns);
}

TEST(TokenBucket, ClockGoingBackwardsDoesNotMintTokens) {
    TP t0 = TP{} + 10s;
    TokenBucket b(1, 1, t0);
    EXPECT_EQ(b.reserve(t0), 0ns);
    EXPECT_EQ(b.reserve(t0 - 5s), 1s);
}

}  // namespace
}  // namespace kedge::kube::client
