#include "net/backoff.hpp"

#include <gtest/gtest.h>

#include <set>

namespace kedge::net {
namespace {

using std::chrono::milliseconds;

TEST(Backoff, WithoutJitterGrowsByTheMultiplierUpToMax) {
    Backoff b({milliseconds(100), milliseconds(1000), 2.0, Jitter::none}, 1);
    std::vector<long> got;
    for (int i = 0; i < 7; ++i) got.push_back(b.next().count());
    EXPECT_EQ(got, (std::vector<long>{100, 200, 400, 800, 1000, 1000, 1000}));
    EXPECT_EQ(b.attempts(), 7u);
}

TEST(Backoff, ResetStartsOver) {
    Backoff b({milliseconds(100), milliseconds(1000), 3.0, Jitter::none}, 1);
    b.next();
    b.next();
    b.reset();
    EXPECT_EQ(b.attempts(), 0u);
    EXPECT_EQ(b.next(), milliseconds(100));
}

TEST(Backoff, FullJitterStaysUnderTheGrowingCeilingAndVaries) {
    Backoff b({milliseconds(100), milliseconds(5000), 2.0, Jitter::full}, 42);
    double ceiling = 100;
    std::set<long> distinct;
    for (int i = 0; i < 200; ++i) {
        auto d = b.next().count();
        EXPECT_GE(d, 0);
        EXPECT_LE(d, static_cast<long>(ceiling));
        distinct.insert(d);
        ceiling = std::min(5000.0, ceiling * 2);
    }
    EXPECT_GT(distinct.size(), 50u);  // really random, not a constant
}

TEST(Backoff, DecorrelatedJitterStaysBetweenInitialAndMax) {
    Backoff b({milliseconds(100), milliseconds(2000), 3.0, Jitter::decorrelated}, 7);
    long max_seen = 0;
    for (int i = 0; i < 500; ++i) {
        auto d = b.next().count();
        EXPECT_GE(d, 100);
        EXPECT_LE(d, 2000);
        max_seen = std::max(max_seen, d);
    }
    EXPECT_GT(max_seen, 1000);  // it does grow
}

TEST(Backoff, SameSeedSameSequence) {
    BackoffOptions o{milliseconds(10), milliseconds(10000), 2.0, Jitter::full};
    Backoff a(o, 99), b(o, 99);
    for (int i = 0; i < 20; ++i) EXPECT_EQ(a.next(), b.next());
}

TEST(Backoff, NonsenseOptionsAreMadeSane) {
    Backoff b({milliseconds(500), milliseconds(100), 0.5, Jitter::none}, 1);
    EXPECT_EQ(b.next(), milliseconds(500));  // max raised to initial, multiplier to 1
    EXPECT_EQ(b.next(), milliseconds(500));
}

}  // namespace
}  // namespace kedge::net
