// The CRD manifests shipped in deploy/crds/ are valid CRDs, and their schemas accept and reject
// Device / DeviceModel / ObjectSync objects the way users rely on.

#include <gtest/gtest.h>
#include <boost/json.hpp>

#include "apiserver/crd/crd.hpp"
#include "support/test_support.hpp"
#include "yaml_json.hpp"

namespace kedge::apiserver::crd {
namespace {

namespace json = boost::json;
using kedge::test::yaml_to_json;

CustomResourceDefinition load(const std::string& relative) {
    auto docs = kedge::test::yaml_file_to_json(kedge::test::source_path(relative));
    EXPECT_EQ(docs.size(), 1u) << relative;
    json::object crd = docs.at(0).as_object();
    apply_crd_defaults(crd);
    auto causes = validate_crd(crd);
    std::string all;
    for (const auto& c : causes) all += c.field + ": " + c.message + "\n";
    EXPECT_TRUE(causes.empty()) << relative << "\n" << all;
    auto parsed = parse_crd(crd);
    if (!parsed) throw std::runtime_error(relative + ": " + parsed.error().detail);
    return *parsed;
}

std::vector<std::string> lines(const std::vector<kube::StatusCause>& causes) {
    std::vector<std::string> out;
    for (const auto& c : causes) out.push_back(c.field + ": " + c.message);
    return out;
}

const StructuralSchema& schema_of(const CustomResourceDefinition& crd) {
    return *crd.storage_version().schema;
}

TEST(Manifests, DeviceCrd) {
    auto crd = load("deploy/crds/devices/devices_v1beta1_device.yaml");
    EXPECT_EQ(crd.name, "devices.devices.kubeedge.io");
    auto served = crd.served_resources();
    ASSERT_EQ(served.size(), 1u);
    EXPECT_EQ(served[0].group_version(), "devices.kubeedge.io/v1beta1");
    EXPECT_EQ(served[0].kind, "Device");
    EXPECT_EQ(served[0].list_kind, "DeviceList");
    EXPECT_TRUE(served[0].namespaced);
    EXPECT_TRUE(served[0].has_status);

    json::value good = yaml_to_json(R"(
apiVersion: devices.kubeedge.io/v1beta1
kind: Device
metadata: {name: thermometer-1, namespace: default}
spec:
  deviceModelRef: {name: thermometer}
  nodeName: edge1
  protocol:
    protocolName: modbus
    configData: {ip: 127.0.0.1, port: 5020, slaveID: 1, nested: {anything: [1, 2]}}
  properties:
    - name: temperature
      desired: {value: "25", metadata: {type: int}}
      visitors:
        protocolName: modbus
        configData: {register: HoldingRegister, offset: 0, limit: 1, scale: 0.1}
      reportCycle: 10000
      collectCycle: 5000
      reportToCloud: true
      pushMethod: {mqtt: {address: "tcp://127.0.0.1:1883", topic: temp, qos: 0, retained: false}}
  methods:
    - {name: read-all, description: reads everything, propertyNames: [temperature]}
status:
  twins:
    - propertyName: temperature
      reported: {value: "24", metadata: {timestamp: "1700000000000", type: int}}
      observedDesired: {value: "25", metadata: {timestamp: "1700000000000"}}
  state: online
  lastOnlineTime: "2024-01-01T00:00:00Z"
  reportToCloud: true
  reportCycle: 10000
)");
    const json::value before = good;
    auto out = schema_of(crd).process(good);
    EXPECT_TRUE(out.errors.empty()) << ::testing::PrintToString(lines(out.errors));
    EXPECT_TRUE(out.pruned.empty()) << ::testing::PrintToString(out.pruned);
    EXPECT_EQ(good, before);  // open configData survives pruning untouched

    json::value bad = yaml_to_json(R"(
apiVersion: devices.kubeedge.io/v1beta1
kind: Device
metadata: {name: thermometer-2}
spec:
  deviceModelRef: {name: thermometer}
  properties:
    - name: temperature
      reportCycle: often
    - desired: {value: "1"}
)");
    out = schema_of(crd).process(bad);
    EXPECT_EQ(lines(out.errors),
              (std::vector<std::string>{
                  "spec.properties[0].reportCycle: Invalid value: \"string\": "
                  "spec.properties[0].reportCycle in body must be of type integer: \"string\"",
                  "spec.properties[1].name: Required value"}));

    json::value unknown = yaml_to_json(
        "{apiVersion: devices.kubeedge.io/v1beta1, kind: Device, metadata: {name: d},"
        " spec: {nodeName: edge1, nodname: typo}}");
    out = schema_of(crd).process(unknown);
    EXPECT_TRUE(out.errors.empty());
    EXPECT_EQ(out.pruned, std::vector<std::string>{"spec.nodname"});
}

TEST(Manifests, DeviceModelCrd) {
    auto crd = load("deploy/crds/devices/devices_v1beta1_devicemodel.yaml");
    EXPECT_EQ(crd.name, "devicemodels.devices.kubeedge.io");
    EXPECT_EQ(crd.names.kind, "DeviceModel");
    EXPECT_TRUE(crd.namespaced);
    EXPECT_EQ(crd.storage_version().name, "v1beta1");

    json::value good = yaml_to_json(R"(
apiVersion: devices.kubeedge.io/v1beta1
kind: DeviceModel
metadata: {name: thermometer, namespace: default}
spec:
  protocol: modbus
  properties:
    - {name: temperature, description: degrees, type: FLOAT, accessMode: ReadOnly,
       minimum: "-40", maximum: "125", unit: C}
    - {name: enabled, type: BOOLEAN, accessMode: ReadWrite}
)");
    auto out = schema_of(crd).process(good);
    EXPECT_TRUE(out.errors.empty()) << ::testing::PrintToString(lines(out.errors));
    EXPECT_TRUE(out.pruned.empty());

    json::value bad = yaml_to_json(R"(
apiVersion: devices.kubeedge.io/v1beta1
kind: DeviceModel
metadata: {name: thermometer}
spec:
  protocol: modbus
  properties:
    - {name: temperature, type: float, accessMode: WriteOnly}
    - {name: humidity, type: INT, minimum: [0]}
)");
    out = schema_of(crd).process(bad);
    EXPECT_EQ(lines(out.errors),
              (std::vector<std::string>{
                  "spec.properties[0].accessMode: Unsupported value: \"WriteOnly\": supported "
                  "values: \"ReadWrite\", \"ReadOnly\"",
                  "spec.properties[0].type: Unsupported value: \"float\": supported values: "
                  "\"INT\", \"FLOAT\", \"DOUBLE\", \"STRING\", \"BOOLEAN\", \"BYTES\", \"STREAM\"",
                  "spec.properties[1].minimum: Invalid value: \"array\": "
                  "spec.properties[1].minimum in body must be of type string: \"array\""}));
}

TEST(Manifests, ReliableSyncCrds) {
    auto ns = load("deploy/crds/reliablesyncs/objectsync_v1alpha1.yaml");
    auto cluster = load("deploy/crds/reliablesyncs/clusterobjectsync_v1alpha1.yaml");
    EXPECT_EQ(ns.name, "objectsyncs.reliablesyncs.kubeedge.io");
    EXPECT_EQ(cluster.name, "clusterobjectsyncs.reliablesyncs.kubeedge.io");
    EXPECT_TRUE(ns.namespaced);
    EXPECT_FALSE(cluster.namespaced);
    EXPECT_EQ(ns.names.kind, "ObjectSync");
    EXPECT_EQ(cluster.names.kind, "ClusterObjectSync");
    for (const auto* crd : {&ns, &cluster}) {
        auto served = crd->served_resources();
        ASSERT_EQ(served.size(), 1u);
        EXPECT_EQ(served[0].group_version(), "reliablesyncs.kubeedge.io/v1alpha1");
        EXPECT_TRUE(served[0].has_status);
    }
    // Both may be established side by side in one group: no name collides.
    json::object status = compute_crd_status(ns, nullptr, "2024-01-01T00:00:00Z", {cluster});
    EXPECT_EQ(status.at("conditions").as_array()[1].at("status"), "True");

    json::value sync = json::parse(R"({
        "apiVersion": "reliablesyncs.kubeedge.io/v1alpha1", "kind": "ObjectSync",
        "metadata": {"name": "edge1.6f1c-uid", "namespace": "default"},
        "spec": {"objectAPIVersion": "v1", "objectKind": "Pod", "objectName": "nginx"},
        "status": {"objectResourceVersion": "12345"}})");
    auto out = schema_of(ns).process(sync);
    EXPECT_TRUE(out.errors.empty()) << ::testing::PrintToString(lines(out.errors));
    EXPECT_TRUE(out.pruned.empty());

    json::value bad =
        json::parse(R"({"spec": {"objectName": 7}, "status": {"objectResourceVersion": 5}})");
    out = schema_of(cluster).process(bad);
    EXPECT_EQ(out.errors.size(), 2u);
    EXPECT_EQ(out.errors.at(0).field, "spec.objectName");
    EXPECT_EQ(out.errors.at(1).field, "status.objectResourceVersion");
}

}  // namespace
}  // namespace kedge::apiserver::crd
