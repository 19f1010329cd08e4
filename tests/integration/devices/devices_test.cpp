// Devices end to end with real parts: kedge-apiserver + cloudcore (CloudCoreFixture), edgecore
// (its device twin serving DMI on a socket under the test's directory, its event bus on a real
// mosquitto), mapper-modbus, and a Modbus TCP thermometer from python3-pymodbus (an independent
// implementation). kubectl applies the model and devices; what the user sees is read back with
// kubectl and mosquitto_sub.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "integration/edgecore/edgecore_fixture.hpp"
#include "support/modbus_server.hpp"
#include "support/mosquitto.hpp"

namespace kedge::devices::test {
namespace {

namespace json = boost::json;
using kedge::test::build_path;
using kedge::test::ModbusServer;
using kedge::test::Mosquitto;
using kedge::test::MosquittoSub;
using kedge::test::Process;
using kedge::test::read_file;
using kedge::test::run_command;
using kedge::test::source_path;
using ::testing::HasSubstr;
using namespace std::chrono_literals;

constexpr const char* kNode = "dev-edge";

const char* kModel = R"(apiVersion: devices.kubeedge.io/v1beta1
kind: DeviceModel
metadata:
  name: thermometer
  namespace: default
spec:
  protocol: modbus
  properties:
  - name: temperature
    type: FLOAT
    accessMode: ReadOnly
    minimum: "-40"
    maximum: "125"
  - name: setpoint
    type: INT
    accessMode: ReadWrite
    minimum: "0"
    maximum: "100"
)";

std::string device_yaml(const std::string& name, int port, const std::string& model = "thermometer",
                        const std::string& setpoint = "21") {
    return R"(apiVersion: devices.kubeedge.io/v1beta1
kind: Device
metadata:
  name: )" + name + R"(
  namespace: default
spec:
  deviceModelRef:
    name: )" + model + R"(
  nodeName: )" + std::string(kNode) + R"(
  protocol:
    protocolName: modbus
    configData: {ip: 127.0.0.1, port: )" + std::to_string(port) + R"(, slaveID: 1}
  properties:
  - name: temperature
    collectCycle: 300
    reportCycle: 500
    reportToCloud: true
    visitors:
      protocolName: modbus
      configData: {register: HoldingRegister, offset: 0, limit: 1, scale: 0.1}
  - name: setpoint
    desired: {value: ")" + setpoint + R"("}
    collectCycle: 300
    reportCycle: 500
    reportToCloud: true
    visitors:
      protocolName: modbus
      configData: {register: HoldingRegister, offset: 1, limit: 1}
)";
}

class DevicesTest : public kedge::edge::test::EdgeCoreFixture {
protected:
    void SetUp() override {
        EdgeCoreFixture::SetUp();
        if (HasFatalFailure()) return;
        for (const char* d : {"mqtt", "sub-doc", "sub-offline", "sub-get"})
            std::filesystem::create_directories(dir_.file(d));
        broker_ = std::make_unique<Mosquitto>(dir_.file("mqtt"));
        KEDGE_REQUIRE_PYMODBUS();
        // The thermometer: 21.5 °C (215 in 0.1 steps) in register 0, set point 20 in 1.
        modbus_ = std::make_unique<ModbusServer>(
            dir_.path(), std::vector<std::string>{"--hr", "0=215", "--hr", "1=20"}, 0, "modbus");
        modbus_port_ = modbus_->port();

        auto& e = edgecores_[kNode];
        e.mqtt_port = broker_->port();
        configure_edgecore(kNode);
        start_edgecore(kNode);
        ASSERT_TRUE(eventually([&] { return node_registered(kNode); }, 30s))
            << read_file(edgecore(kNode).log());
        start_mapper();
    }

    void TearDown() override {
        if (mapper_) mapper_->stop();
        if (HasFailure()) {
            std::cerr << "---- mapper-modbus log (tail) ----\n"
                      << tail(read_file(dir_.file("mapper.log")), 6000)
                      << "---- modbus server log (tail) ----\n"
                      << tail(read_file(dir_.file("modbus.log")), 3000);
        }
        if (modbus_) modbus_->stop();
        broker_.reset();
        EdgeCoreFixture::TearDown();
    }

    void start_mapper() {
        mapper_ = std::make_unique<Process>(
            std::vector<std::string>{build_path("apps/mapper-modbus/mapper-modbus"), "--dmi-sock",
                                     edgecore(kNode).dmi_socket(), "--sock",
                                     dir_.file("modbus-mapper.sock"), "--register-retry-ms", "200",
                                     "--log-level", "info"},
            dir_.file("mapper.log"));
    }

    // Writes a holding register of the device from outside, as the physical world would.
    void set_register(int address, int value) {
        auto r =
            run_command(std::string(kedge::test::kSystemPython) +
                        " -c \"from pymodbus.client import ModbusTcpClient; "
                        "c = ModbusTcpClient('127.0.0.1', port=" +
                        std::to_string(modbus_port_) + "); c.connect(); r = c.write_register(" +
                        std::to_string(address) + ", " + std::to_string(value) +
                        ", slave=1); c.close(); assert not r.isError(), r\" 2>&1");
        ASSERT_EQ(r.exit_code, 0) << r.output;
    }

    json::object device(const std::string& name) {
        auto v = get_json("device " + name);
        return v.is_object() ? v.as_object() : json::object{};
    }
    // status.twins[propertyName].reported.value, or "" when not there.
    std::string reported(const std::string& name, const std::string& property) {
        auto d = device(name);
        const auto* status = d.if_contains("status");
        if (!status || !status->is_object()) return "";
        const auto* twins = status->as_object().if_contains("twins");
        if (!twins || !twins->is_array()) return "";
        for (const auto& t : twins->as_array()) {
            if (!t.is_object() || t.as_object().if_contains("propertyName") == nullptr ||
                t.at("propertyName") != json::value(property.c_str()))
                continue;
            const auto* rep = t.as_object().if_contains("reported");
            if (!rep || !rep->is_object()) return "";
            const auto* value = rep->as_object().if_contains("value");
            return value && value->is_string() ? std::string(value->as_string()) : "";
        }
        return "";
    }
    std::string state(const std::string& name) {
        auto d = device(name);
        const auto* status = d.if_contains("status");
        if (!status || !status->is_object()) return "";
        const auto* s = status->as_object().if_contains("state");
        return s && s->is_string() ? std::string(s->as_string()) : "";
    }
    bool reported_number(const std::string& name, const std::string& property, double want) {
        auto v = reported(name, property);
        if (v.empty()) return false;
        try {
            return std::abs(std::stod(v) - want) < 1e-6;
        } catch (...) {
            return false;
        }
    }

    std::unique_ptr<Mosquitto> broker_;
    std::unique_ptr<ModbusServer> modbus_;
    std::unique_ptr<Process> mapper_;
    int modbus_port_ = 0;
};

TEST_F(DevicesTest, RegisterValueBecomesTheReportedTwinAndDesiredValueReachesTheDevice) {
    MosquittoSub documents(*broker_, dir_.file("sub-doc"),
                           "$hw/events/device/default/thermo-1/twin/update/document");
    apply(kModel);
    apply(device_yaml("thermo-1", modbus_port_));

    // The register value, read by mapper-modbus, reported through edgecore to the cloud.
    EXPECT_TRUE(eventually([&] { return reported_number("thermo-1", "temperature", 21.5); }, 30s))
        << kubectl("get device thermo-1 -o yaml").output << read_file(dir_.file("mapper.log"));
    EXPECT_TRUE(eventually([&] { return state("thermo-1") == "online"; }, 30s))
        << kubectl("get device thermo-1 -o yaml").output;
    // The initial desired set point was written to the device.
    EXPECT_TRUE(eventually([&] { return modbus_->saw("write h 1 21"); }, 30s)) << modbus_->output();
    // The edge published the twin document on the upstream topic.
    EXPECT_TRUE(eventually(
        [&] {
            for (const auto& l : documents.lines())
                if (l.find("21.5") != std::string::npos) return true;
            return false;
        },
        20s))
        << documents.output();

    // A new desired value with kubectl changes the register on the pymodbus server.
    kubectl_ok(
        "patch device thermo-1 --type json -p "
        "'[{\"op\":\"replace\",\"path\":\"/spec/properties/1/desired/value\",\"value\":\"24\"}]'");
    EXPECT_TRUE(eventually([&] { return modbus_->saw("write h 1 24"); }, 30s))
        << modbus_->output() << read_file(dir_.file("mapper.log"));
    EXPECT_TRUE(eventually([&] { return reported_number("thermo-1", "setpoint", 24); }, 30s))
        << kubectl("get device thermo-1 -o yaml").output;

    // The physical value changes: the twin follows.
    set_register(0, 230);
    EXPECT_TRUE(eventually([&] { return reported_number("thermo-1", "temperature", 23.0); }, 30s))
        << kubectl("get device thermo-1 -o yaml").output;
}

TEST_F(DevicesTest, OfflineTheTwinKeepsUpdatingLocallyAndTheCloudCatchesUp) {
    apply(kModel);
    apply(device_yaml("thermo-1", modbus_port_));
    ASSERT_TRUE(eventually([&] { return reported_number("thermo-1", "temperature", 21.5); }, 30s))
        << kubectl("get device thermo-1 -o yaml").output;

    MosquittoSub documents(*broker_, dir_.file("sub-offline"),
                           "$hw/events/device/default/thermo-1/twin/update/document");
    stop_cloudcore();
    ASSERT_TRUE(eventually(
        [&] { return edge_metric(kNode, "edgecore_cloud_connected") == 0; }, 30s));
    set_register(0, 250);
    // The edge keeps the twin current without the cloud: the document carries 25.
    EXPECT_TRUE(eventually(
        [&] {
            for (const auto& l : documents.lines())
                if (l.find("\"25") != std::string::npos) return true;
            return false;
        },
        30s))
        << documents.output();
    // The edge answers twin/get from its own store.
    MosquittoSub get_result(*broker_, dir_.file("sub-get"),
                            "$hw/events/device/default/thermo-1/twin/get/result");
    auto pub = broker_->publish("$hw/events/device/default/thermo-1/twin/get",
                                "{\"event_id\":\"e1\",\"timestamp\":1}");
    ASSERT_EQ(pub.exit_code, 0) << pub.output;
    EXPECT_TRUE(eventually(
        [&] {
            for (const auto& l : get_result.lines())
                if (l.find("\"25") != std::string::npos) return true;
            return false;
        },
        20s))
        << get_result.output();

    // Back online: the cloud gets the latest value.
    start_cloudcore();
    EXPECT_TRUE(eventually([&] { return reported_number("thermo-1", "temperature", 25.0); }, 60s))
        << kubectl("get device thermo-1 -o yaml").output << read_file(edgecore(kNode).log());
}

TEST_F(DevicesTest, BadDevicesGetAClearStatusAndOthersKeepWorking) {
    apply(kModel);
    // A property of the wrong type is refused by the API with the property named.
    std::string bad = device_yaml("thermo-bad", modbus_port_, "thermometer", "warm");
    kedge::test::write_file(dir_.file("bad.yaml"), bad);
    auto r = kubectl("apply -f " + dir_.file("bad.yaml"));
    EXPECT_NE(r.exit_code, 0);
    EXPECT_THAT(r.output, HasSubstr("setpoint"));
    EXPECT_THAT(r.output, HasSubstr("warm"));

    // An unreachable Modbus server: that device goes offline, the good one keeps reporting.
    int closed_port = kedge::test::free_port();
    apply(device_yaml("thermo-gone", closed_port));
    apply(device_yaml("thermo-1", modbus_port_));
    EXPECT_TRUE(eventually([&] { return state("thermo-gone") == "offline"; }, 30s))
        << kubectl("get device thermo-gone -o yaml").output;
    EXPECT_TRUE(eventually([&] { return reported_number("thermo-1", "temperature", 21.5); }, 30s));
    EXPECT_THAT(read_file(dir_.file("mapper.log")), HasSubstr("thermo-gone"));

    // A device whose model does not exist: an event says so.
    apply(device_yaml("thermo-nomodel", modbus_port_, "no-such-model"));
    EXPECT_TRUE(eventually(
        [&] {
            return kubectl("get events --field-selector involvedObject.name=thermo-nomodel")
                       .output.find("no-such-model") != std::string::npos;
        },
        30s))
        << kubectl("get events").output;
    // The good device is unaffected.
    set_register(0, 199);
    EXPECT_TRUE(eventually([&] { return reported_number("thermo-1", "temperature", 19.9); }, 30s));
}

}  // namespace
}  // namespace kedge::devices::test
