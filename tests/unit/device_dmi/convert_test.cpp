#include "device/dmi/convert.hpp"

#include <google/protobuf/wrappers.pb.h>
#include <gtest/gtest.h>

#include <boost/json/parse.hpp>

namespace kedge::device::dmi {
namespace {

namespace json = boost::json;

// A Device as kubectl stores it (server-set metadata included), with a status written by the
// cloud's device controller.
constexpr const char* kDevice = R"({
  "apiVersion": "devices.kubeedge.io/v1beta1",
  "kind": "Device",
  "metadata": {
    "name": "thermometer-1", "namespace": "factory",
    "uid": "1c7e0d4e-5f0a-4b8e-9a51-6a1c3b7d2e11", "resourceVersion": "812",
    "creationTimestamp": "2024-05-02T10:11:12Z", "generation": 3,
    "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{}"}
  },
  "spec": {
    "deviceModelRef": {"name": "thermometer"},
    "nodeName": "edge-1",
    "protocol": {
      "protocolName": "modbus",
      "configData": {"ip": "127.0.0.1", "port": 5020, "slaveID": 1, "timeout": 2.5,
                     "tcp": true, "tags": ["a", "b"], "extra": {"k": 1}}
    },
    "properties": [
      {
        "name": "temperature", "reportCycle": 5000, "collectCycle": 1000, "reportToCloud": true,
        "visitors": {"protocolName": "modbus",
                     "configData": {"register": "HoldingRegister", "offset": 0, "limit": 1,
                                    "scale": 0.1, "isSwap": false}},
        "pushMethod": {
          "mqtt": {"address": "tcp://127.0.0.1:1883", "topic": "temp", "qos": 1, "retained": true},
          "http": {"hostName": "http://127.0.0.1", "port": 8080, "requestPath": "/in",
                   "timeout": 3000}
        }
      },
      {
        "name": "setpoint", "desired": {"value": "21", "metadata": {"type": "int"}},
        "reportCycle": 2000, "collectCycle": 500,
        "visitors": {"protocolName": "modbus", "configData": {"register": "HoldingRegister",
                                                             "offset": 1}}
      }
    ],
    "methods": [{"name": "set", "description": "change the setpoint",
                 "propertyNames": ["setpoint"]}]
  },
  "status": {
    "state": "online", "lastOnlineTime": "2024-05-02T10:12:00Z",
    "twins": [{"propertyName": "setpoint",
               "reported": {"value": "20", "metadata": {"timestamp": "1714644720000",
                                                        "type": "int"}},
               "observedDesired": {"value": "21", "metadata": {"timestamp": "1714644720000"}}}]
  }
})";

constexpr const char* kModel = R"({
  "apiVersion": "devices.kubeedge.io/v1beta1", "kind": "DeviceModel",
  "metadata": {"name": "thermometer", "namespace": "factory", "resourceVersion": "5"},
  "spec": {
    "protocol": "modbus",
    "properties": [
      {"name": "temperature", "description": "degrees", "type": "INT", "accessMode": "ReadOnly",
       "minimum": "-40", "maximum": "125", "unit": "celsius"},
      {"name": "setpoint", "type": "FLOAT", "accessMode": "ReadWrite", "minimum": 0,
       "maximum": 100.5}
    ]
  }
})";

json::object parse(const char* text) { return json::parse(text).as_object(); }

TEST(DeviceToProto, ConvertsAKubectlStoredDevice) {
    auto r = device_to_proto(parse(kDevice));
    ASSERT_TRUE(r) << r.error().message();
    const v1beta1::Device& d = *r;
    EXPECT_EQ(d.name(), "thermometer-1");
    EXPECT_EQ(d.namespace_(), "factory");
    EXPECT_EQ(d.spec().devicemodelreference(), "thermometer");
    EXPECT_EQ(d.spec().protocol().protocolname(), "modbus");
    ASSERT_EQ(d.spec().properties_size(), 2);

    const auto& temp = d.spec().properties(0);
    EXPECT_EQ(temp.name(), "temperature");
    EXPECT_EQ(temp.reportcycle(), 5000);
    EXPECT_EQ(temp.collectcycle(), 1000);
    EXPECT_TRUE(temp.reporttocloud());
    EXPECT_FALSE(temp.has_desired());
    EXPECT_EQ(temp.visitors().protocolname(), "modbus");
    EXPECT_EQ(temp.pushmethod().mqtt().address(), "tcp://127.0.0.1:1883");
    EXPECT_EQ(temp.pushmethod().mqtt().topic(), "temp");
    EXPECT_EQ(temp.pushmethod().mqtt().qos(), 1);
    EXPECT_TRUE(temp.pushmethod().mqtt().retained());
    EXPECT_EQ(temp.pushmethod().http().hostname(), "http://127.0.0.1");
    EXPECT_EQ(temp.pushmethod().http().port(), 8080);
    EXPECT_EQ(temp.pushmethod().http().requestpath(), "/in");
    EXPECT_EQ(temp.pushmethod().http().timeout(), 3000);

    const auto& sp = d.spec().properties(1);
    EXPECT_EQ(sp.desired().value(), "21");
    EXPECT_EQ(sp.desired().metadata().at("type"), "int");
    EXPECT_FALSE(sp.reporttocloud());
    EXPECT_FALSE(sp.has_pushmethod());

    ASSERT_EQ(d.spec().methods_size(), 1);
    EXPECT_EQ(d.spec().methods(0).name(), "set");
    ASSERT_EQ(d.spec().methods(0).propertynames_size(), 1);
    EXPECT_EQ(d.spec().methods(0).propertynames(0), "setpoint");

    ASSERT_EQ(d.status().twins_size(), 1);
    const auto& twin = d.status().twins(0);
    EXPECT_EQ(twin.propertyname(), "setpoint");
    EXPECT_EQ(twin.reported().value(), "20");
    EXPECT_EQ(twin.reported().metadata().at("timestamp"), "1714644720000");
    EXPECT_EQ(twin.observeddesired().value(), "21");
}

TEST(DeviceToProto, ConfigDataRoundTripsThroughTheProto) {
    auto r = device_to_proto(parse(kDevice));
    ASSERT_TRUE(r) << r.error().message();

    // The wire form must be what upstream mappers decode: wrapper types in Any.
    const auto& data = r->spec().protocol().configdata().data();
    EXPECT_TRUE(data.at("ip").Is<google::protobuf::StringValue>());
    EXPECT_TRUE(data.at("port").Is<google::protobuf::Int64Value>());
    EXPECT_TRUE(data.at("timeout").Is<google::protobuf::DoubleValue>());
    EXPECT_TRUE(data.at("tcp").Is<google::protobuf::BoolValue>());

    auto protocol = customized_to_json(r->spec().protocol().configdata());
    ASSERT_TRUE(protocol) << protocol.error().message();
    EXPECT_EQ(protocol->at("ip"), "127.0.0.1");
    EXPECT_EQ(protocol->at("port"), 5020);
    EXPECT_EQ(protocol->at("slaveID"), 1);
    EXPECT_EQ(protocol->at("timeout"), 2.5);
    EXPECT_EQ(protocol->at("tcp"), true);
    // Nested JSON travels as its text.
    EXPECT_EQ(protocol->at("tags"), R"(["a","b"])");
    EXPECT_EQ(protocol->at("extra"), R"({"k":1})");

    auto visitor = customized_to_json(r->spec().properties(0).visitors().configdata());
    ASSERT_TRUE(visitor) << visitor.error().message();
    json::object want =
        parse(R"({"register":"HoldingRegister","offset":0,"limit":1,"scale":0.1,"isSwap":false})");
    EXPECT_EQ(*visitor, want);
}

TEST(CustomizedToJson, AcceptsTheOtherWrapperTypes) {
    v1beta1::CustomizedValue v;
    google::protobuf::Int32Value i32;
    i32.set_value(-7);
    (*v.mutable_data())["a"].PackFrom(i32);
    google::protobuf::UInt32Value u32;
    u32.set_value(7);
    (*v.mutable_data())["b"].PackFrom(u32);
    google::protobuf::FloatValue f;
    f.set_value(1.5f);
    (*v.mutable_data())["c"].PackFrom(f);
    google::protobuf::UInt64Value u64;
    u64.set_value(18446744073709551615ull);
    (*v.mutable_data())["d"].PackFrom(u64);
    auto r = customized_to_json(v);
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(r->at("a"), -7);
    EXPECT_EQ(r->at("b"), 7u);
    EXPECT_EQ(r->at("c"), 1.5);
    EXPECT_EQ(r->at("d").as_uint64(), 18446744073709551615ull);
}

TEST(CustomizedToJson, UnknownAnyTypeNamesTheKey) {
    v1beta1::CustomizedValue v;
    v1beta1::MapperInfo info;  // not a wrapper type
    (*v.mutable_data())["weird"].PackFrom(info);
    auto r = customized_to_json(v);
    ASSERT_FALSE(r);
    EXPECT_TRUE(r.error().is(errc::invalid_argument));
    EXPECT_NE(r.error().detail.find("configData.weird"), std::string::npos) << r.error().detail;
    EXPECT_NE(r.error().detail.find("v1beta1.MapperInfo"), std::string::npos) << r.error().detail;
}

TEST(CustomizedToJson, CorruptPayloadIsAnError) {
    v1beta1::CustomizedValue v;
    auto& any = (*v.mutable_data())["port"];
    any.set_type_url("type.googleapis.com/google.protobuf.Int64Value");
    any.set_value("\xff\xff\xff");
    auto r = customized_to_json(v);
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().detail.find("configData.port"), std::string::npos) << r.error().detail;
}

// Each case: a mutation of a valid device and the field the error must name.
struct BadField {
    const char* pointer;  // JSON pointer to replace
    const char* value;    // replacement JSON
    const char* expect;   // must appear in the error detail
};

class DeviceWrongTypes : public ::testing::TestWithParam<BadField> {};

TEST_P(DeviceWrongTypes, InvalidArgumentNamesTheField) {
    json::object device = parse(kDevice);
    json::value root = device;
    root.at_pointer(GetParam().pointer) = json::parse(GetParam().value);
    auto r = device_to_proto(root.as_object());
    ASSERT_FALSE(r) << "accepted " << GetParam().pointer << " = " << GetParam().value;
    EXPECT_TRUE(r.error().is(errc::invalid_argument));
    EXPECT_NE(r.error().detail.find(GetParam().expect), std::string::npos) << r.error().detail;
}

INSTANTIATE_TEST_SUITE_P(
    Fields, DeviceWrongTypes,
    ::testing::Values(
        BadField{"/spec/properties/0/reportCycle", R"("5s")",
                 "spec.properties[0].reportCycle: expected an integer, got a string"},
        BadField{"/spec/properties/1/collectCycle", "1.5", "spec.properties[1].collectCycle"},
        BadField{"/spec/properties/0/reportToCloud", R"("yes")",
                 "spec.properties[0].reportToCloud"},
        BadField{"/spec/properties/1/desired/value", "21", "spec.properties[1].desired.value"},
        BadField{"/spec/properties/1/desired/metadata/type", "1",
                 "spec.properties[1].desired.metadata.type"},
        BadField{"/spec/properties/0/visitors/configData", R"("register")",
                 "spec.properties[0].visitors.configData: expected an object"},
        BadField{"/spec/properties/0/pushMethod/mqtt/qos", "3",
                 "spec.properties[0].pushMethod.mqtt.qos"},
        BadField{"/spec/properties/0/pushMethod/http/port", R"("80")",
                 "spec.properties[0].pushMethod.http.port"},
        BadField{"/spec/properties/1", "42", "spec.properties[1]: expected an object"},
        BadField{"/spec/properties/0/name", R"("")", "spec.properties[0].name: required"},
        BadField{"/spec/protocol", "[]", "spec.protocol: expected an object, got an array"},
        BadField{"/spec/deviceModelRef/name", "true", "spec.deviceModelRef.name"},
        BadField{"/spec/methods/0/propertyNames/0", "1", "spec.methods[0].propertyNames[0]"},
        BadField{"/status/twins/0/reported", R"("20")", "status.twins[0].reported"},
        BadField{"/metadata/name", "7", "metadata.name"},
        BadField{"/kind", R"("Pod")", "kind: expected Device, got Pod"}));

TEST(DeviceToProto, MissingNameIsAnError) {
    auto r = device_to_proto(parse(R"({"kind":"Device","metadata":{},"spec":{}})"));
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().detail, "metadata.name: required");
    auto r2 = device_to_proto(parse(R"({"kind":"Device"})"));
    ASSERT_FALSE(r2);
    EXPECT_EQ(r2.error().detail, "metadata: required");
}

TEST(DeviceToProto, NullAndMissingFieldsAreZeroValues) {
    auto r = device_to_proto(parse(R"({"metadata":{"name":"d"},
        "spec":{"protocol":null,"properties":[{"name":"p","reportCycle":null,"desired":null}]}})"));
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(r->namespace_(), "");
    EXPECT_FALSE(r->spec().has_protocol());
    EXPECT_EQ(r->spec().properties(0).reportcycle(), 0);
    EXPECT_FALSE(r->spec().properties(0).has_desired());
    EXPECT_FALSE(r->has_status());
}

TEST(ModelToProto, ConvertsAModel) {
    auto r = model_to_proto(parse(kModel));
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(r->name(), "thermometer");
    EXPECT_EQ(r->namespace_(), "factory");
    ASSERT_EQ(r->spec().properties_size(), 2);
    const auto& t = r->spec().properties(0);
    EXPECT_EQ(t.name(), "temperature");
    EXPECT_EQ(t.description(), "degrees");
    EXPECT_EQ(t.type(), "INT");
    EXPECT_EQ(t.accessmode(), "ReadOnly");
    EXPECT_EQ(t.minimum(), "-40");
    EXPECT_EQ(t.maximum(), "125");
    EXPECT_EQ(t.unit(), "celsius");
    // Unquoted numbers are accepted for the range.
    EXPECT_EQ(r->spec().properties(1).minimum(), "0");
    EXPECT_EQ(r->spec().properties(1).maximum(), "100.5");
}

TEST(ModelToProto, WrongTypesNameTheField) {
    json::value m = parse(kModel);
    m.at_pointer("/spec/properties/1/accessMode") = 1;
    auto r = model_to_proto(m.as_object());
    ASSERT_FALSE(r);
    EXPECT_TRUE(r.error().is(errc::invalid_argument));
    EXPECT_EQ(r.error().detail, "spec.properties[1].accessMode: expected a string, got an integer");

    auto wrong_kind = model_to_proto(parse(kDevice));
    ASSERT_FALSE(wrong_kind);
    EXPECT_EQ(wrong_kind.error().detail, "kind: expected DeviceModel, got Device");
}

TEST(JsonToCustomized, DropsNullsAndKeepsLargeUnsigned) {
    auto v = json_to_customized(parse(R"({"a":null,"b":18446744073709551615})"));
    EXPECT_EQ(v.data().count("a"), 0u);
    ASSERT_EQ(v.data().count("b"), 1u);
    EXPECT_TRUE(v.data().at("b").Is<google::protobuf::UInt64Value>());
}

}  // namespace
}  // namespace kedge::device::dmi
