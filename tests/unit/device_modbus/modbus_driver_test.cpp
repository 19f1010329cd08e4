// The driver's open() validation and the checks it makes before touching the network. Talking
// to a real server is in tests/integration/device_modbus.

#include <gtest/gtest.h>
#include <boost/json/parse.hpp>

#include "device/modbus/modbus_driver.hpp"

namespace kedge::device::modbus {
namespace {

PropertyConfig property(std::string name, std::string type, std::string_view visitor) {
    PropertyConfig p;
    p.name = std::move(name);
    p.type = std::move(type);
    p.visitor_protocol = "modbus";
    p.visitor = boost::json::parse(visitor).as_object();
    return p;
}

DeviceConfig device() {
    DeviceConfig d;
    d.name = "thermo";
    d.namespace_ = "default";
    d.protocol_name = "modbus";
    // Port 1 on loopback: nothing listens there, and these tests must never get that far.
    d.protocol = boost::json::parse(R"({"ip":"127.0.0.1","port":1,"slaveID":1})").as_object();
    d.properties.push_back(property("temperature", "FLOAT",
                                    R"({"register":"HoldingRegister","offset":0,"scale":0.1})"));
    d.properties.push_back(property("alarm", "BOOLEAN", R"({"register":"DiscreteInputRegister"})"));
    return d;
}

TEST(ModbusDriver, NameIsModbus) { EXPECT_EQ(make_modbus_driver()->protocol(), "modbus"); }

TEST(ModbusDriver, OpensAValidDeviceWithoutConnecting) {
    auto client = make_modbus_driver()->open(device());
    ASSERT_TRUE(client) << client.error().message();
}

TEST(ModbusDriver, OpenNamesTheBadProperty) {
    auto d = device();
    d.properties.push_back(property("level", "INT", R"({"register":"HoldingRegister","limit":3})"));
    auto client = make_modbus_driver()->open(d);
    ASSERT_FALSE(client);
    EXPECT_TRUE(client.error().is(errc::invalid_argument));
    EXPECT_NE(client.error().detail.find("device default/thermo: property level: "),
              std::string::npos)
        << client.error().detail;
}

TEST(ModbusDriver, OpenRejectsSerialAndForeignProtocols) {
    auto serial = device();
    serial.protocol =
        boost::json::parse(R"({"serialPort":"/dev/ttyUSB0","slaveID":1})").as_object();
    auto a = make_modbus_driver()->open(serial);
    ASSERT_FALSE(a);
    EXPECT_NE(a.error().detail.find("serial Modbus is not supported"), std::string::npos);

    auto other = device();
    other.protocol_name = "opcua";
    EXPECT_FALSE(make_modbus_driver()->open(other));

    auto visitor = device();
    visitor.properties[0].visitor_protocol = "bluetooth";
    auto c = make_modbus_driver()->open(visitor);
    ASSERT_FALSE(c);
    EXPECT_NE(c.error().detail.find("temperature"), std::string::npos);
}

TEST(ModbusDriver, WriteValidatesBeforeConnecting) {
    auto d = device();
    d.properties[0].maximum = 50;
    auto client = make_modbus_driver()->open(d);
    ASSERT_TRUE(client);
    // Nothing listens on port 1: an invalid_argument proves no connection was attempted.
    auto too_hot = (*client)->write(d.properties[0], "80");
    ASSERT_FALSE(too_hot);
    EXPECT_TRUE(too_hot.error().is(errc::invalid_argument)) << too_hot.error().message();
    auto garbage = (*client)->write(d.properties[0], "warm");
    ASSERT_FALSE(garbage);
    EXPECT_TRUE(garbage.error().is(errc::invalid_argument));
    auto read_only = (*client)->write(d.properties[1], "true");
    ASSERT_FALSE(read_only);
    EXPECT_TRUE(read_only.error().is(errc::invalid_argument));
    EXPECT_NE(read_only.error().detail.find("read-only"), std::string::npos);
}

}  // namespace
}  // namespace kedge::device::modbus
