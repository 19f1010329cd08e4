#include "apiserver/device_validation.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>

namespace kedge::apiserver {
namespace {

namespace json = boost::json;

json::object parse(std::string_view text) { return json::parse(text).as_object(); }

const json::object kModel = parse(R"({
  "apiVersion": "devices.kubeedge.io/v1beta1", "kind": "DeviceModel",
  "metadata": {"name": "thermometer", "namespace": "default"},
  "spec": {"properties": [
    {"name": "temperature", "type": "INT", "accessMode": "ReadOnly"},
    {"name": "setpoint", "type": "INT", "accessMode": "ReadWrite", "minimum": "0", "maximum": "100"},
    {"name": "ratio", "type": "DOUBLE", "accessMode": "ReadWrite", "minimum": "-1.5", "maximum": "1.5"},
    {"name": "gain", "type": "FLOAT", "accessMode": "ReadWrite"},
    {"name": "enabled", "type": "BOOLEAN", "accessMode": "ReadWrite"},
    {"name": "label", "type": "STRING", "accessMode": "ReadWrite"}]}})");

// A device with one property (and its desired value, when given).
json::object device_with(std::string_view prop, std::string_view value = {}) {
    json::object p{{"name", prop}};
    if (!value.empty()) p["desired"] = json::object{{"value", value}};
    return json::object{
        {"apiVersion", "devices.kubeedge.io/v1beta1"},
        {"kind", "Device"},
        {"metadata", json::object{{"name", "t1"}, {"namespace", "default"}}},
        {"spec", json::object{{"deviceModelRef", json::object{{"name", "thermometer"}}},
                              {"nodeName", "edge-a"},
                              {"properties", json::array{p}}}}};
}

std::string only_message(const std::vector<kube::StatusCause>& causes) {
    EXPECT_EQ(causes.size(), 1u);
    return causes.empty() ? std::string() : causes[0].message;
}

TEST(DeviceValidation, ValueTypes) {
    EXPECT_FALSE(check_value_type("INT", "42"));
    EXPECT_FALSE(check_value_type("INT", "-7"));
    EXPECT_FALSE(check_value_type("INT", "+7"));
    EXPECT_EQ(check_value_type("INT", "4.2"), "is not an INT");
    EXPECT_EQ(check_value_type("INT", "hot"), "is not an INT");
    EXPECT_EQ(check_value_type("INT", "99999999999999999999"), "is not an INT");
    EXPECT_FALSE(check_value_type("FLOAT", "4.2"));
    EXPECT_FALSE(check_value_type("DOUBLE", "-1e3"));
    EXPECT_EQ(check_value_type("DOUBLE", "1.2.3"), "is not a DOUBLE");
    EXPECT_EQ(check_value_type("FLOAT", "nan"), "is not a FLOAT");
    EXPECT_EQ(check_value_type("FLOAT", " 1"), "is not a FLOAT");
    EXPECT_FALSE(check_value_type("BOOLEAN", "true"));
    EXPECT_FALSE(check_value_type("BOOLEAN", "false"));
    EXPECT_TRUE(check_value_type("BOOLEAN", "yes"));
    EXPECT_FALSE(check_value_type("STRING", "anything at all"));
}

TEST(DeviceValidation, ValidDevicesPass) {
    for (auto [prop, value] :
         std::vector<std::pair<std::string, std::string>>{{"temperature", ""},
                                                          {"setpoint", "0"},
                                                          {"setpoint", "100"},
                                                          {"ratio", "-1.5"},
                                                          {"gain", "3.25"},
                                                          {"enabled", "true"},
                                                          {"label", "kitchen"}}) {
        EXPECT_TRUE(validate_device(device_with(prop, value), &kModel).empty())
            << prop << "=" << value;
    }
}

TEST(DeviceValidation, WrongTypeNamesTheFieldThePropertyAndTheModel) {
    auto causes = validate_device(device_with("setpoint", "hot"), &kModel);
    ASSERT_EQ(causes.size(), 1u);
    EXPECT_EQ(causes[0].field, "spec.properties[0].desired.value");
    EXPECT_EQ(causes[0].reason, "FieldValueInvalid");
    EXPECT_NE(causes[0].message.find(
                  "property setpoint: value \"hot\" is not an INT (model thermometer)"),
              std::string::npos)
        << causes[0].message;
    EXPECT_NE(only_message(validate_device(device_with("enabled", "on"), &kModel))
                  .find("is not a BOOLEAN"),
              std::string::npos);
}

TEST(DeviceValidation, RangeIsEnforcedForNumbers) {
    EXPECT_NE(
        only_message(validate_device(device_with("setpoint", "101"), &kModel))
            .find("property setpoint: value 101 is above the maximum 100 (model thermometer)"),
        std::string::npos);
    EXPECT_NE(only_message(validate_device(device_with("setpoint", "-1"), &kModel))
                  .find("below the minimum 0"),
              std::string::npos);
    EXPECT_NE(only_message(validate_device(device_with("ratio", "1.6"), &kModel))
                  .find("above the maximum 1.5"),
              std::string::npos);
}

TEST(DeviceValidation, DesiredValueOnlyOnReadWrite) {
    auto causes = validate_device(device_with("temperature", "20"), &kModel);
    ASSERT_EQ(causes.size(), 1u);
    EXPECT_EQ(causes[0].field, "spec.properties[0].desired.value");
    EXPECT_NE(causes[0].message.find("property temperature is ReadOnly (model thermometer)"),
              std::string::npos)
        << causes[0].message;
}

TEST(DeviceValidation, UnknownPropertyNamesTheModelsProperties) {
    auto causes = validate_device(device_with("humidity", "3"), &kModel);
    ASSERT_EQ(causes.size(), 1u);
    EXPECT_EQ(causes[0].field, "spec.properties[0].name");
    EXPECT_NE(causes[0].message.find("property humidity does not exist in model thermometer"),
              std::string::npos);
    EXPECT_NE(causes[0].message.find("temperature, setpoint"), std::string::npos);
}

TEST(DeviceValidation, DuplicatePropertiesAreRefusedEvenWithoutAModel) {
    auto d = device_with("setpoint", "1");
    auto& props = d["spec"].as_object()["properties"].as_array();
    props.push_back(json::object{{"name", "setpoint"}});
    for (const json::object* model : {&kModel, static_cast<const json::object*>(nullptr)}) {
        auto causes = validate_device(d, model);
        ASSERT_EQ(causes.size(), 1u);
        EXPECT_EQ(causes[0].field, "spec.properties[1].name");
        EXPECT_EQ(causes[0].reason, "FieldValueDuplicate");
    }
}

TEST(DeviceValidation, MissingModelIsAllowed) {
    EXPECT_TRUE(validate_device(device_with("whatever", "not a number"), nullptr).empty());
}

TEST(DeviceValidation, ReportsEveryBadPropertyWithItsIndex) {
    auto d = device_with("setpoint", "x");
    auto& props = d["spec"].as_object()["properties"].as_array();
    props.push_back(json::object{{"name", "gain"}, {"desired", json::object{{"value", "y"}}}});
    auto causes = validate_device(d, &kModel);
    ASSERT_EQ(causes.size(), 2u);
    EXPECT_EQ(causes[0].field, "spec.properties[0].desired.value");
    EXPECT_EQ(causes[1].field, "spec.properties[1].desired.value");
}

json::object model_with(json::array props) {
    return json::object{{"apiVersion", "devices.kubeedge.io/v1beta1"},
                        {"kind", "DeviceModel"},
                        {"metadata", json::object{{"name", "m"}, {"namespace", "default"}}},
                        {"spec", json::object{{"properties", std::move(props)}}}};
}

TEST(DeviceModelValidation, GoodModelPasses) { EXPECT_TRUE(validate_device_model(kModel).empty()); }

TEST(DeviceModelValidation, RefusesDuplicatesUnknownEnumsAndInvertedRanges) {
    auto dup = validate_device_model(model_with({json::object{{"name", "a"}, {"type", "INT"}},
                                                 json::object{{"name", "a"}, {"type", "INT"}}}));
    ASSERT_EQ(dup.size(), 1u);
    EXPECT_EQ(dup[0].field, "spec.properties[1].name");

    auto type = validate_device_model(model_with({json::object{{"name", "a"}, {"type", "LONG"}}}));
    ASSERT_EQ(type.size(), 1u);
    EXPECT_EQ(type[0].field, "spec.properties[0].type");
    EXPECT_EQ(type[0].reason, "FieldValueNotSupported");

    auto mode = validate_device_model(
        model_with({json::object{{"name", "a"}, {"type", "INT"}, {"accessMode", "WriteOnly"}}}));
    ASSERT_EQ(mode.size(), 1u);
    EXPECT_EQ(mode[0].field, "spec.properties[0].accessMode");

    auto range = validate_device_model(model_with(
        {json::object{{"name", "a"}, {"type", "INT"}, {"minimum", "10"}, {"maximum", "5"}}}));
    ASSERT_EQ(range.size(), 1u);
    EXPECT_EQ(range[0].field, "spec.properties[0].minimum");
    EXPECT_NE(range[0].message.find("minimum 10 is greater than maximum 5"), std::string::npos);

    auto not_number = validate_device_model(
        model_with({json::object{{"name", "a"}, {"type", "INT"}, {"minimum", "1.5"}}}));
    ASSERT_EQ(not_number.size(), 1u);
    EXPECT_NE(not_number[0].message.find("minimum is not an INT"), std::string::npos);

    auto string_range = validate_device_model(
        model_with({json::object{{"name", "a"}, {"type", "STRING"}, {"maximum", "5"}}}));
    ASSERT_EQ(string_range.size(), 1u);
    EXPECT_EQ(string_range[0].field, "spec.properties[0].maximum");
}

TEST(DeviceAdmission, LooksUpTheModelOnlyForNewOrChangedSpecs) {
    ResourceType devices;
    devices.group = "devices.kubeedge.io";
    devices.version = "v1beta1";
    devices.resource = "devices";
    devices.kind = "Device";
    ResourceType pods;
    pods.version = "v1";
    pods.resource = "pods";
    pods.kind = "Pod";
    int lookups = 0;
    DeviceModelLookup find = [&](std::string_view ns,
                                 std::string_view name) -> std::optional<json::object> {
        ++lookups;
        EXPECT_EQ(ns, "default");
        EXPECT_EQ(name, "thermometer");
        return kModel;
    };
    auto bad = device_with("setpoint", "hot");
    EXPECT_EQ(admit_device_object(devices, nullptr, bad, find).size(), 1u);
    EXPECT_EQ(lookups, 1);
    // A status write (same spec) is never refused, even if the model changed since.
    auto with_status = bad;
    with_status["status"] = json::object{{"state", "online"}};
    EXPECT_TRUE(admit_device_object(devices, &bad, with_status, find).empty());
    EXPECT_EQ(lookups, 1);
    // Other types are not this rule's business.
    EXPECT_TRUE(admit_device_object(pods, nullptr, bad, find).empty());
    // No model stored: allowed.
    DeviceModelLookup none = [](std::string_view, std::string_view) {
        return std::optional<json::object>{};
    };
    EXPECT_TRUE(admit_device_object(devices, nullptr, bad, none).empty());
}

}  // namespace
}  // namespace kedge::apiserver
