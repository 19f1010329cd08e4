#include "device/mapper/device_config.hpp"

#include <gtest/gtest.h>

#include "fake_dmi.hpp"

namespace kedge::device {
namespace {

TEST(MakeDeviceConfig, JoinsDeviceAndModel) {
    auto d = test::make_device("t1", "virtual", "thermo", 0, 2500, "factory");
    (*d.mutable_spec()->mutable_protocol()->mutable_configdata()->mutable_data())["port"] =
        test::any_int(502);
    auto* sp = d.mutable_spec()->mutable_properties(1);
    sp->mutable_desired()->set_value("30");
    auto* push = sp->mutable_pushmethod();
    push->mutable_mqtt()->set_address("tcp://127.0.0.1:1883");
    push->mutable_mqtt()->set_topic("t");
    push->mutable_mqtt()->set_qos(1);
    push->mutable_http()->set_hostname("http://127.0.0.1");
    push->mutable_http()->set_port(8080);
    push->mutable_http()->set_requestpath("/v");

    auto c = make_device_config(d, test::make_model("thermo", "factory"));
    ASSERT_TRUE(c) << c.error().message();
    EXPECT_EQ(c->name, "t1");
    EXPECT_EQ(c->namespace_, "factory");
    EXPECT_EQ(c->model, "thermo");
    EXPECT_EQ(c->protocol_name, "virtual");
    EXPECT_EQ(c->protocol.at("port"), 502);
    ASSERT_EQ(c->properties.size(), 2u);
    const auto& t = c->properties[0];
    EXPECT_EQ(t.type, "INT");
    EXPECT_FALSE(t.writable);
    EXPECT_EQ(t.collect_cycle, std::chrono::milliseconds(1000));  // 0 -> 1000
    EXPECT_EQ(t.report_cycle, std::chrono::milliseconds(2500));
    EXPECT_EQ(t.visitor.at("register"), "temperature");
    EXPECT_FALSE(t.desired);
    const auto& s = c->properties[1];
    EXPECT_TRUE(s.writable);
    EXPECT_EQ(s.minimum, 0.0);
    EXPECT_EQ(s.maximum, 100.0);
    EXPECT_EQ(s.desired, "30");
    ASSERT_TRUE(s.push_mqtt);
    EXPECT_EQ(s.push_mqtt->topic, "t");
    EXPECT_EQ(s.push_mqtt->qos, 1);
    ASSERT_TRUE(s.push_http);
    EXPECT_EQ(s.push_http->port, 8080);
    EXPECT_EQ(s.push_http->request_path, "/v");
}

TEST(MakeDeviceConfig, PropertyMissingFromTheModelIsNamed) {
    auto d = test::make_device("t1", "virtual", "thermo", 0, 0);
    d.mutable_spec()->add_properties()->set_name("humidity");
    auto c = make_device_config(d, test::make_model("thermo"));
    ASSERT_FALSE(c);
    EXPECT_TRUE(c.error().is(errc::invalid_argument));
    EXPECT_EQ(c.error().detail, "property humidity: not in model thermo");
}

TEST(SameValue, ComparesByType) {
    EXPECT_TRUE(same_value("INT", "42", "42"));
    EXPECT_TRUE(same_value("FLOAT", "21", "21.0"));
    EXPECT_TRUE(same_value("DOUBLE", "0.1", "1e-1"));
    EXPECT_FALSE(same_value("INT", "42", "43"));
    EXPECT_TRUE(same_value("BOOLEAN", "1", "true"));
    EXPECT_FALSE(same_value("BOOLEAN", "false", "true"));
    EXPECT_FALSE(same_value("STRING", "a", "A"));
    EXPECT_EQ(twin_type("BOOLEAN"), "boolean");
    EXPECT_EQ(object_key("", "d"), "default/d");
}

}  // namespace
}  // namespace kedge::device
