#include <gtest/gtest.h>

#include "controllers/manager/controller_manager.hpp"

namespace kedge::controllers {
namespace {

std::vector<std::string> all_names() {
    std::vector<std::string> out;
    for (const auto& c : all_controllers()) out.push_back(c.name);
    return out;
}

TEST(SelectControllers, StarEnablesAllAndMinusDisables) {
    auto all = select_controllers("*");
    ASSERT_TRUE(all);
    EXPECT_EQ(*all, all_names());
    EXPECT_TRUE(select_controllers("")->empty());
    ASSERT_FALSE(all_names().empty());
    const std::string first = all_names().front();
    auto without = select_controllers("*,-" + first);
    ASSERT_TRUE(without);
    EXPECT_EQ(without->size(), all_names().size() - 1);
    EXPECT_EQ(std::find(without->begin(), without->end(), first), without->end());
    auto only = select_controllers(first);
    ASSERT_TRUE(only);
    EXPECT_EQ(*only, std::vector<std::string>{first});
}

TEST(SelectControllers, UnknownNameIsAnErrorListingKnownOnes) {
    auto r = select_controllers("*,-bogus");
    ASSERT_FALSE(r);
    EXPECT_TRUE(r.error().is(errc::invalid_argument));
    EXPECT_NE(r.error().detail.find("\"bogus\""), std::string::npos);
}

}  // namespace
}  // namespace kedge::controllers
