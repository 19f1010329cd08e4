// Parsing of the Modbus protocol and visitor configData: upstream key names and defaults, the
// forms DMI's wrapper conversion produces, and errors that name the bad key.

#include <gtest/gtest.h>
#include <boost/json/parse.hpp>

#include "device/modbus/modbus_config.hpp"

namespace kedge::device::modbus {
namespace {

boost::json::object obj(std::string_view json) { return boost::json::parse(json).as_object(); }

TEST(ModbusProtocolConfig, ParsesUpstreamTcpKeys) {
    auto c = parse_protocol_config(obj(R"({"ip":"127.0.0.1","port":1502,"slaveID":3})"));
    ASSERT_TRUE(c) << c.error().message();
    EXPECT_EQ(c->ip, "127.0.0.1");
    EXPECT_EQ(c->port, 1502);
    EXPECT_EQ(c->slave_id, 3);
}

TEST(ModbusProtocolConfig, DefaultsPortAndSlave) {
    auto c = parse_protocol_config(obj(R"({"ip":"10.0.0.5"})"));
    ASSERT_TRUE(c) << c.error().message();
    EXPECT_EQ(c->port, 502);
    EXPECT_EQ(c->slave_id, 1);
}

TEST(ModbusProtocolConfig, AcceptsStringsAndDoublesFromWrapperConversion) {
    // Go's JSON matches keys case-insensitively; DMI may deliver numbers as text or doubles.
    auto c = parse_protocol_config(obj(R"({"IP":"127.0.0.1","port":"1502","slaveId":2.0})"));
    ASSERT_TRUE(c) << c.error().message();
    EXPECT_EQ(c->port, 1502);
    EXPECT_EQ(c->slave_id, 2);
}

TEST(ModbusProtocolConfig, RejectsSerialConfigClearly) {
    auto c = parse_protocol_config(
        obj(R"({"slaveID":1,"serialPort":"/dev/ttyS0","baudRate":9600,"parity":"even"})"));
    ASSERT_FALSE(c);
    EXPECT_TRUE(c.error().is(errc::invalid_argument));
    EXPECT_NE(c.error().detail.find("serial Modbus is not supported"), std::string::npos)
        << c.error().detail;
}

TEST(ModbusProtocolConfig, RejectsMissingIpBadPortUnknownKey) {
    auto no_ip = parse_protocol_config(obj(R"({"port":502})"));
    ASSERT_FALSE(no_ip);
    EXPECT_NE(no_ip.error().detail.find("\"ip\" is required"), std::string::npos);

    auto bad_port = parse_protocol_config(obj(R"({"ip":"1.2.3.4","port":70000})"));
    ASSERT_FALSE(bad_port);
    EXPECT_NE(bad_port.error().detail.find("\"port\""), std::string::npos)
        << bad_port.error().detail;

    auto text_port = parse_protocol_config(obj(R"({"ip":"1.2.3.4","port":"abc"})"));
    ASSERT_FALSE(text_port);

    auto bad_slave = parse_protocol_config(obj(R"({"ip":"1.2.3.4","slaveID":256})"));
    ASSERT_FALSE(bad_slave);
    EXPECT_NE(bad_slave.error().detail.find("slaveID"), std::string::npos);

    auto typo = parse_protocol_config(obj(R"({"ip":"1.2.3.4","slave":1})"));
    ASSERT_FALSE(typo);
    EXPECT_NE(typo.error().detail.find("unknown key \"slave\""), std::string::npos)
        << typo.error().detail;
}

TEST(ModbusVisitorConfig, ParsesHoldingRegisterWithDefaults) {
    auto v = parse_visitor_config(
        obj(R"({"register":"HoldingRegister","offset":10,"limit":1,"scale":0.1})"), "FLOAT");
    ASSERT_TRUE(v) << v.error().message();
    EXPECT_EQ(v->kind, RegisterKind::kHolding);
    EXPECT_EQ(v->offset, 10);
    EXPECT_EQ(v->limit, 1);
    EXPECT_DOUBLE_EQ(v->scale, 0.1);
    EXPECT_FALSE(v->swap_bytes);
    EXPECT_FALSE(v->swap_registers);
    EXPECT_EQ(v->data_type, DataType::kInt16);
}

TEST(ModbusVisitorConfig, DefaultTypeFollowsLimitAndPropertyType) {
    auto type_of = [](std::string_view json, std::string_view ptype) {
        auto v = parse_visitor_config(obj(json), ptype);
        EXPECT_TRUE(v) << v.error().message();
        return v ? v->data_type : DataType::kBit;
    };
    EXPECT_EQ(type_of(R"({"register":"InputRegister","limit":2})", "INT"), DataType::kInt32);
    EXPECT_EQ(type_of(R"({"register":"InputRegister","limit":2})", "FLOAT"), DataType::kFloat32);
    EXPECT_EQ(type_of(R"({"register":"InputRegister","limit":4})", "DOUBLE"), DataType::kFloat64);
    EXPECT_EQ(type_of(R"({"register":"InputRegister","limit":4})", "INT"), DataType::kInt64);
    EXPECT_EQ(type_of(R"({"register":"InputRegister","limit":5})", "STRING"), DataType::kString);
    // upstream's lower-case "int" keeps the integer reading even for a FLOAT property.
    EXPECT_EQ(type_of(R"({"register":"InputRegister","limit":2,"dataType":"int"})", "FLOAT"),
              DataType::kInt32);
}

TEST(ModbusVisitorConfig, ExplicitDataTypeSetsLimit) {
    auto v =
        parse_visitor_config(obj(R"({"register":"HoldingRegister","dataType":"uint32"})"), "INT");
    ASSERT_TRUE(v) << v.error().message();
    EXPECT_EQ(v->data_type, DataType::kUint32);
    EXPECT_EQ(v->limit, 2);

    auto mismatch = parse_visitor_config(
        obj(R"({"register":"HoldingRegister","limit":1,"dataType":"float32"})"), "FLOAT");
    ASSERT_FALSE(mismatch);
    EXPECT_NE(mismatch.error().detail.find("does not match dataType float32"), std::string::npos)
        << mismatch.error().detail;
}

TEST(ModbusVisitorConfig, BitsAreOneBit) {
    auto v =
        parse_visitor_config(obj(R"({"register":"CoilRegister","offset":2,"limit":1})"), "BOOLEAN");
    ASSERT_TRUE(v) << v.error().message();
    EXPECT_EQ(v->kind, RegisterKind::kCoil);
    EXPECT_EQ(v->data_type, DataType::kBit);

    auto many =
        parse_visitor_config(obj(R"({"register":"DiscreteInputRegister","limit":8})"), "BOOLEAN");
    ASSERT_FALSE(many);
    EXPECT_NE(many.error().detail.find("limit must be 1"), std::string::npos);
}

TEST(ModbusVisitorConfig, SwapsAndZeroScale) {
    auto v = parse_visitor_config(
        obj(R"({"register":"HoldingRegister","limit":2,"isSwap":true,"isRegisterSwap":"true",
                "scale":0})"),
        "INT");
    ASSERT_TRUE(v) << v.error().message();
    EXPECT_TRUE(v->swap_bytes);
    EXPECT_TRUE(v->swap_registers);
    EXPECT_DOUBLE_EQ(v->scale, 1.0);  // upstream: scale omitted/0 means 1
}

TEST(ModbusVisitorConfig, ErrorsNameTheKey) {
    struct Case {
        const char* json;
        const char* expect;
    };
    for (auto c : {
             Case{R"({"offset":1})", "\"register\" is required"},
             Case{R"({"register":"Holding"})", "\"register\""},
             Case{R"({"register":"HoldingRegister","offset":-1})", "\"offset\""},
             Case{R"({"register":"HoldingRegister","offset":65536})", "\"offset\""},
             Case{R"({"register":"HoldingRegister","limit":0})", "\"limit\""},
             Case{R"({"register":"HoldingRegister","limit":126})", "\"limit\""},
             Case{R"({"register":"HoldingRegister","limit":3})", "limit 3"},
             Case{R"({"register":"HoldingRegister","scale":"x"})", "\"scale\""},
             Case{R"({"register":"HoldingRegister","isSwap":"yes"})", "\"isSwap\""},
             Case{R"({"register":"HoldingRegister","dataType":"int8"})", "\"dataType\""},
             Case{R"({"register":"HoldingRegister","ofset":3})", "unknown key \"ofset\""},
             Case{R"({"register":7})", "\"register\""},
         }) {
        auto v = parse_visitor_config(obj(c.json), "INT");
        ASSERT_FALSE(v) << c.json;
        EXPECT_TRUE(v.error().is(errc::invalid_argument)) << c.json;
        EXPECT_NE(v.error().detail.find(c.expect), std::string::npos)
            << c.json << " -> " << v.error().detail;
    }
}

}  // namespace
}  // namespace kedge::device::modbus
