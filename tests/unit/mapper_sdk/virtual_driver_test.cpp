#include "virtual_driver.hpp"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>

#include <set>

namespace kedge::device::virt {
namespace {

PropertyConfig prop(std::string name, std::string_view type, const char* visitor,
                    bool writable = false) {
    PropertyConfig p;
    p.name = std::move(name);
    p.type = std::string(type);
    p.writable = writable;
    p.visitor = boost::json::parse(visitor).as_object();
    return p;
}

std::unique_ptr<DeviceClient> open_connected(DeviceConfig d) {
    VirtualDriver driver;
    auto c = driver.open(d);
    EXPECT_TRUE(c) << (c ? "" : c.error().message());
    if (!c) return nullptr;
    EXPECT_TRUE((*c)->connect());
    return std::move(*c);
}

TEST(VirtualDriver, ConstantValuesAreFormattedByType) {
    DeviceConfig d;
    d.properties = {prop("i", kTypeInt, R"({"value": 21})"),
                    prop("f", kTypeFloat, R"({"value": "21.50"})"),
                    prop("b", kTypeBoolean, R"({"value": true})"),
                    prop("s", kTypeString, R"({"value": "hello"})"),
                    prop("dflt", kTypeDouble, R"({"min": 3})")};
    auto c = open_connected(d);
    ASSERT_TRUE(c);
    EXPECT_EQ(*c->read(d.properties[0]), "21");
    EXPECT_EQ(*c->read(d.properties[1]), "21.5");
    EXPECT_EQ(*c->read(d.properties[2]), "true");
    EXPECT_EQ(*c->read(d.properties[3]), "hello");
    EXPECT_EQ(*c->read(d.properties[4]), "3");
}

TEST(VirtualDriver, WritesAreReadBackAndValidated) {
    DeviceConfig d;
    d.properties = {prop("sp", kTypeInt, R"({"mode": "constant", "value": 20})", true),
                    prop("on", kTypeBoolean, R"({})", true)};
    d.properties[0].minimum = 0;
    d.properties[0].maximum = 100;
    auto c = open_connected(d);
    ASSERT_TRUE(c);
    ASSERT_TRUE(c->write(d.properties[0], "42"));
    EXPECT_EQ(*c->read(d.properties[0]), "42");
    ASSERT_TRUE(c->write(d.properties[1], "1"));
    EXPECT_EQ(*c->read(d.properties[1]), "true");

    auto bad = c->write(d.properties[0], "4.5");
    ASSERT_FALSE(bad);
    EXPECT_TRUE(bad.error().is(errc::invalid_argument));
    auto out_of_range = c->write(d.properties[0], "101");
    ASSERT_FALSE(out_of_range);
    EXPECT_NE(out_of_range.error().detail.find("outside [0, 100]"), std::string::npos)
        << out_of_range.error().detail;
    EXPECT_FALSE(c->write(d.properties[1], "maybe"));
    EXPECT_EQ(*c->read(d.properties[0]), "42");  // refused writes change nothing
}

TEST(VirtualDriver, SimulatedModesStayInRange) {
    DeviceConfig d;
    d.properties = {
        prop("r", kTypeInt, R"({"mode": "random", "min": 10, "max": 12})"),
        prop("s", kTypeDouble, R"({"mode": "sine", "min": -1, "max": 1, "period": 50})"),
        prop("c", kTypeInt, R"({"mode": "counter", "value": 5, "max": 7, "min": 5})")};
    auto c = open_connected(d);
    ASSERT_TRUE(c);
    std::set<std::string> seen;
    for (int i = 0; i < 200; ++i) {
        auto r = c->read(d.properties[0]);
        ASSERT_TRUE(r);
        int v = std::stoi(*r);
        EXPECT_GE(v, 10);
        EXPECT_LE(v, 12);
        seen.insert(*r);
        double s = std::stod(*c->read(d.properties[1]));
        EXPECT_GE(s, -1.0);
        EXPECT_LE(s, 1.0);
    }
    EXPECT_EQ(seen.size(), 3u);  // all of 10, 11, 12 show up in 200 draws
    std::vector<std::string> counts;
    for (int i = 0; i < 4; ++i) counts.push_back(*c->read(d.properties[2]));
    EXPECT_EQ(counts, (std::vector<std::string>{"5", "6", "7", "5"}));
}

TEST(VirtualDriver, BadVisitorsNameTheProperty) {
    VirtualDriver driver;
    DeviceConfig d;
    d.properties = {prop("temp", kTypeInt, R"({"mode": "wobble"})")};
    auto r = driver.open(d);
    ASSERT_FALSE(r);
    EXPECT_TRUE(r.error().is(errc::invalid_argument));
    EXPECT_NE(r.error().detail.find("property temp"), std::string::npos) << r.error().detail;
    EXPECT_NE(r.error().detail.find("wobble"), std::string::npos);

    d.properties = {prop("temp", kTypeInt, R"({"mode": "random", "min": 5, "max": 1})")};
    EXPECT_FALSE(driver.open(d));
    d.properties = {prop("name", kTypeString, R"({"mode": "sine"})")};
    EXPECT_FALSE(driver.open(d));
    d.properties = {prop("temp", kTypeInt, R"({"value": "warm"})")};
    EXPECT_FALSE(driver.open(d));
}

TEST(VirtualDriver, OfflineDevicesRefuseToConnect) {
    VirtualDriver driver;
    DeviceConfig d;
    d.protocol = boost::json::parse(R"({"offline": true})").as_object();
    auto c = driver.open(d);
    ASSERT_TRUE(c);
    auto r = (*c)->connect();
    ASSERT_FALSE(r);
    EXPECT_TRUE(r.error().is(errc::unavailable));
}

}  // namespace
}  // namespace kedge::device::virt
