#include "base/log.hpp"

#include <gtest/gtest.h>

namespace kedge {
namespace {

TEST(Log, SpecSetsPerComponentLevels) {
    auto hub = log::get("test.hub");
    auto other = log::get("test.other");
    log::apply_spec("warn,test.hub=debug");
    EXPECT_EQ(hub->level(), spdlog::level::debug);
    EXPECT_EQ(other->level(), spdlog::level::warn);
    // A component created later inherits the default.
    EXPECT_EQ(log::get("test.late")->level(), spdlog::level::warn);
    log::apply_spec("bogus");  // ignored with a warning
    EXPECT_EQ(other->level(), spdlog::level::warn);
    log::apply_spec("info");
    EXPECT_EQ(hub->level(), spdlog::level::info);
}

TEST(Log, SameLoggerForSameComponent) {
    EXPECT_EQ(log::get("test.same"), log::get("test.same"));
}

}  // namespace
}  // namespace kedge
