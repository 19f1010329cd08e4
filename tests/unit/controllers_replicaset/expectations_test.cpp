#include "controllers/replicaset/expectations.hpp"

#include <gtest/gtest.h>

namespace kedge::controllers::replicaset {
namespace {

using namespace std::chrono_literals;

TEST(Expectations, UnknownKeyIsSatisfied) {
    Expectations e;
    FakeClock clock;
    EXPECT_TRUE(e.satisfied("ns/rs", clock.now()));
}

TEST(Expectations, CreationsMustAllBeObserved) {
    Expectations e;
    FakeClock clock;
    e.expect_creations("ns/rs", 2, clock.now());
    EXPECT_FALSE(e.satisfied("ns/rs", clock.now()));
    e.creation_observed("ns/rs");
    EXPECT_FALSE(e.satisfied("ns/rs", clock.now()));
    e.creation_observed("ns/rs");
    EXPECT_TRUE(e.satisfied("ns/rs", clock.now()));
    // An extra observation (a pod made before the record) does not go negative and wedge.
    e.creation_observed("ns/rs");
    e.expect_creations("ns/rs", 1, clock.now());
    EXPECT_EQ(e.pending_creations("ns/rs"), 1);
}

TEST(Expectations, DeletionsAreTrackedByPodKey) {
    Expectations e;
    FakeClock clock;
    e.expect_deletions("ns/rs", {"ns/a", "ns/b"}, clock.now());
    e.deletion_observed("ns/rs", "ns/a");
    e.deletion_observed("ns/rs", "ns/a");  // twice: terminating, then gone
    e.deletion_observed("ns/rs", "ns/other");
    EXPECT_FALSE(e.satisfied("ns/rs", clock.now()));
    EXPECT_EQ(e.pending_deletions("ns/rs"), 1u);
    e.deletion_observed("ns/rs", "ns/b");
    EXPECT_TRUE(e.satisfied("ns/rs", clock.now()));
}

TEST(Expectations, RecordsExpireSoALostEventDoesNotWedge) {
    Expectations e(1min);
    FakeClock clock;
    e.expect_creations("ns/rs", 3, clock.now());
    clock.advance(59s);
    EXPECT_FALSE(e.satisfied("ns/rs", clock.now()));
    clock.advance(2s);
    EXPECT_TRUE(e.satisfied("ns/rs", clock.now()));
}

TEST(Expectations, ForgetDropsTheRecord) {
    Expectations e;
    FakeClock clock;
    e.expect_creations("ns/rs", 3, clock.now());
    e.forget("ns/rs");
    EXPECT_TRUE(e.satisfied("ns/rs", clock.now()));
}

}  // namespace
}  // namespace kedge::controllers::replicaset
