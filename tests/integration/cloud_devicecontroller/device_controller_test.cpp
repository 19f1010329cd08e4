// The device controller in the real cloudcore, against the real kedge-apiserver (with the
// devices.kubeedge.io CRDs from deploy/crds), driven with kubectl, and edges written
// independently in Python (tests/integration/cloudcore/fake_edge.py) that store and ack what
// they receive and send what a test drops in their outbox.

#include <boost/json.hpp>

#include "integration/cloudcore/cloudcore_fixture.hpp"

namespace kedge::cloud::test {
namespace {

namespace json = boost::json;

const char* const kModel = R"(apiVersion: devices.kubeedge.io/v1beta1
kind: DeviceModel
metadata: {name: thermometer, namespace: default}
spec:
  protocol: modbus
  properties:
  - {name: temperature, type: INT, accessMode: ReadOnly}
  - {name: setpoint, type: INT, accessMode: ReadWrite, minimum: "0", maximum: "100"}
)";

std::string device_yaml(const std::string& name, const std::string& node,
                        const std::string& setpoint, const std::string& model = "thermometer") {
    return "apiVersion: devices.kubeedge.io/v1beta1\nkind: Device\nmetadata: {name: " + name +
           ", namespace: default}\nspec:\n  deviceModelRef: {name: " + model +
           "}\n  nodeName: " + node +
           "\n  protocol: {protocolName: modbus}\n  properties:\n  - {name: temperature}\n"
           "  - name: setpoint\n    desired: {value: \"" +
           setpoint + "\"}\n";
}

// The value at a dotted path ("content.added_devices.0.id"), null when absent.
json::value at(const json::value& v, std::string_view path) {
    const json::value* cur = &v;
    std::size_t start = 0;
    for (;;) {
        auto dot = path.find('.', start);
        std::string key(
            path.substr(start, dot == std::string_view::npos ? path.npos : dot - start));
        if (cur->is_array()) {
            auto i = std::stoul(key);
            if (i >= cur->as_array().size()) return nullptr;
            cur = &cur->as_array()[i];
        } else if (cur->is_object() && cur->as_object().contains(key)) {
            cur = &cur->as_object().at(key);
        } else {
            return nullptr;
        }
        if (dot == std::string_view::npos) return *cur;
        start = dot + 1;
    }
}

std::string str(const json::value& v) {
    return v.is_string() ? std::string(v.as_string()) : std::string();
}

class DeviceControllerTest : public CloudCoreFixture {
protected:
    // Membership messages whose added (or removed) devices include id.
    std::vector<json::object> membership(const std::string& node, const std::string& list,
                                         const std::string& id) {
        std::vector<json::object> out;
        for (auto& m : received(node, "membership", "update")) {
            json::value v = m;
            const auto devs = at(v, "content." + list);
            if (!devs.is_array()) continue;
            for (const auto& d : devs.as_array())
                if (str(at(d, "id")) == id) out.push_back(m);
        }
        return out;
    }
    std::size_t index_of(const std::string& node, const std::string& resource,
                         const std::string& op) {
        auto all = inbox(node);
        for (std::size_t i = 0; i < all.size(); ++i) {
            json::value v = all[i];
            if (str(at(v, "route.resource")) == resource && str(at(v, "route.operation")) == op)
                return i;
        }
        return std::string::npos;
    }
    std::string report(const std::string& node, const std::string& device, const std::string& kind,
                       json::object content) {
        content["event_id"] = "ev";
        content["timestamp"] = 1;
        return send_from_edge(node, "update", "device/default/" + device + "/" + kind,
                              std::move(content), "twin", "twin");
    }
    std::string twin_report(const std::string& node, const std::string& device,
                            const std::string& value) {
        json::object twin{
            {"temperature",
             json::object{
                 {"actual", json::object{{"value", value},
                                         {"metadata", json::object{{"timestamp", 1700000000000}}}}},
                 {"optional", false},
                 {"metadata", json::object{{"type", "int"}}}}}};
        return report(node, device, "twin/edge_updated", json::object{{"twin", twin}});
    }
    std::optional<json::object> answer(const std::string& node, const std::string& id) {
        std::optional<json::object> r;
        eventually([&] { return (r = response_to(node, id)).has_value(); });
        return r;
    }
    std::string reported(const std::string& device, const std::string& property) {
        auto d = get_json("device " + device);
        auto twins = at(d, "status.twins");
        if (!twins.is_array()) return {};
        for (const auto& t : twins.as_array())
            if (str(at(t, "propertyName")) == property) return str(at(t, "reported.value"));
        return {};
    }
    std::uint64_t metric(const std::string& name) {
        auto text = metrics();
        auto pos = text.find("\n" + name + " ");
        if (pos == std::string::npos) return 0;
        return std::stoull(text.substr(pos + name.size() + 2));
    }
};

TEST_F(DeviceControllerTest, ModelDeviceAndMembershipReachOnlyTheBoundNode) {
    create_edge_node("edge-a");
    create_edge_node("edge-b");
    start_edge("edge-a");
    start_edge("edge-b");
    apply(kModel);
    apply(device_yaml("t1", "edge-a", "20"));

    // Objects are acked one at a time; the (unacked) membership may overtake them.
    ASSERT_TRUE(
        eventually([&] { return !membership("edge-a", "added_devices", "default/t1").empty(); }));
    ASSERT_TRUE(eventually([&] { return !received("edge-a", "default/device/t1").empty(); }));
    auto model_at = index_of("edge-a", "default/devicemodel/thermometer", "insert");
    auto device_at = index_of("edge-a", "default/device/t1", "insert");
    ASSERT_NE(model_at, std::string::npos);
    ASSERT_NE(device_at, std::string::npos);
    EXPECT_LT(model_at, device_at) << "the model must reach the node before its device";
    json::value dev = received("edge-a", "default/device/t1", "insert").front();
    EXPECT_EQ(str(at(dev, "route.source")), "devicecontroller");
    EXPECT_EQ(str(at(dev, "content.kind")), "Device");
    EXPECT_FALSE(str(at(dev, "header.resourceversion")).empty());
    json::value mem = membership("edge-a", "added_devices", "default/t1").front();
    EXPECT_EQ(str(at(mem, "route.group")), "twin");
    json::value added = at(mem, "content.added_devices.0");
    EXPECT_EQ(str(at(added, "name")), "t1");
    EXPECT_EQ(str(at(added, "twin.setpoint.expected.value")), "20");
    EXPECT_EQ(str(at(added, "twin.setpoint.metadata.type")), "int");
    EXPECT_EQ(str(at(added, "twin.temperature.metadata.type")), "int");

    std::this_thread::sleep_for(std::chrono::milliseconds(500));  // B's chance to wrongly get it
    EXPECT_TRUE(received("edge-b", "default/device/t1").empty());
    EXPECT_TRUE(received("edge-b", "default/devicemodel/thermometer").empty());
    EXPECT_TRUE(membership("edge-b", "added_devices", "default/t1").empty());

    // The edge's twin asks for its membership: every device of the node, as a response.
    const auto sent_before = received("edge-a", "default/device/t1").size();
    auto ask = send_from_edge("edge-a", "get", "membership/detail", json::object{}, "twin", "twin");
    auto detail = answer("edge-a", ask);
    ASSERT_TRUE(detail);
    json::value d = *detail;
    EXPECT_EQ(str(at(d, "route.operation")), "response");
    EXPECT_EQ(str(at(d, "route.resource")), "membership/detail");
    EXPECT_EQ(str(at(d, "content.devices.0.id")), "default/t1");
    EXPECT_TRUE(at(d, "content.devices.1").is_null());
    // This session already got the Device: the answer is the list, not the objects again.
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    EXPECT_EQ(received("edge-a", "default/device/t1").size(), sent_before);
}

TEST_F(DeviceControllerTest, ReportsFromTheBoundNodeReachDeviceStatusOthersAreRefused) {
    create_edge_node("edge-a");
    create_edge_node("edge-b");
    start_edge("edge-a");
    start_edge("edge-b");
    apply(kModel);
    apply(device_yaml("t1", "edge-a", "20"));
    ASSERT_TRUE(eventually([&] { return !received("edge-a", "default/device/t1").empty(); }));

    auto ok = answer("edge-a", twin_report("edge-a", "t1", "21"));
    ASSERT_TRUE(ok);
    EXPECT_EQ(str(at(json::value(*ok), "route.operation")), "response");
    EXPECT_EQ(str(at(json::value(*ok), "content")), "OK");
    EXPECT_TRUE(eventually([&] { return reported("t1", "temperature") == "21"; }))
        << kubectl("get device t1 -o yaml").output;
    auto yaml = kubectl_ok("get device t1 -o yaml");
    EXPECT_NE(yaml.find("propertyName: temperature"), std::string::npos) << yaml;
    auto dev = get_json("device t1");
    json::value twin = at(dev, "status.twins.0");
    EXPECT_EQ(str(at(twin, "reported.metadata.timestamp")), "1700000000000");
    EXPECT_EQ(str(at(twin, "reported.metadata.type")), "int");

    auto state =
        answer("edge-a",
               report("edge-a", "t1", "state/update",
                      json::object{{"state", "online"}, {"last_online", "2026-01-02T03:04:05Z"}}));
    ASSERT_TRUE(state);
    EXPECT_EQ(str(at(json::value(*state), "content")), "OK");
    EXPECT_TRUE(eventually([&] {
        auto d = get_json("device t1");
        return str(at(d, "status.state")) == "online" &&
               str(at(d, "status.lastOnlineTime")) == "2026-01-02T03:04:05Z";
    })) << kubectl("get device t1 -o yaml").output;
    EXPECT_EQ(reported("t1", "temperature"), "21") << "the state write lost the twins";

    // Another node may not report for A's device.
    auto denied = answer("edge-b", twin_report("edge-b", "t1", "99"));
    ASSERT_TRUE(denied);
    EXPECT_EQ(str(at(json::value(*denied), "route.operation")), "error");
    EXPECT_NE(str(at(json::value(*denied), "content")).find("not bound"), std::string::npos);
    // A device that does not exist.
    auto unknown = answer("edge-a", twin_report("edge-a", "nope", "1"));
    ASSERT_TRUE(unknown);
    EXPECT_EQ(str(at(json::value(*unknown), "route.operation")), "error");
    EXPECT_NE(str(at(json::value(*unknown), "content")).find("does not exist"), std::string::npos);
    // Garbage content.
    auto bad = answer("edge-a", report("edge-a", "t1", "twin/edge_updated",
                                       json::object{{"twin", "not an object"}}));
    ASSERT_TRUE(bad);
    EXPECT_EQ(str(at(json::value(*bad), "route.operation")), "error");

    EXPECT_EQ(reported("t1", "temperature"), "21");
    // The status writes are not echoed to the node as Device updates.
    EXPECT_TRUE(received("edge-a", "default/device/t1", "update").empty());
    EXPECT_EQ(metric("cloudcore_devicecontroller_denials_total"), 1u) << metrics();
    EXPECT_EQ(metric("cloudcore_devicecontroller_unknown_devices_total"), 1u);
    EXPECT_GE(metric("cloudcore_devicecontroller_status_patches_total"), 2u);
}

TEST_F(DeviceControllerTest, ABurstOfReportsIsCoalescedAndEveryReportAnswered) {
    create_edge_node("edge-a");
    start_edge("edge-a");
    apply(kModel);
    apply(device_yaml("t1", "edge-a", "20"));
    ASSERT_TRUE(eventually([&] { return !received("edge-a", "default/device/t1").empty(); }));
    std::vector<std::string> ids;
    for (int i = 0; i < 30; ++i) ids.push_back(twin_report("edge-a", "t1", std::to_string(i)));
    for (const auto& id : ids) {
        auto r = answer("edge-a", id);
        ASSERT_TRUE(r) << id;
        EXPECT_EQ(str(at(json::value(*r), "content")), "OK");
    }
    // The edge sends its outbox in batches whose order the test does not control; one more
    // report after the burst must be what the API ends with.
    auto final_id = twin_report("edge-a", "t1", "100");
    ASSERT_TRUE(answer("edge-a", final_id));
    EXPECT_TRUE(eventually([&] { return reported("t1", "temperature") == "100"; }))
        << kubectl("get device t1 -o yaml").output;
    auto patches = metric("cloudcore_devicecontroller_status_patches_total");
    RecordProperty("status_patches", std::to_string(patches));
    EXPECT_LT(patches, 31u) << metrics();
    EXPECT_GT(metric("cloudcore_devicecontroller_coalesced_reports_total"), 0u);
}

TEST_F(DeviceControllerTest, DesiredChangeFlowsDownAndAMoveChangesNodes) {
    create_edge_node("edge-a");
    create_edge_node("edge-b");
    start_edge("edge-a");
    start_edge("edge-b");
    apply(kModel);
    apply(device_yaml("t1", "edge-a", "20"));
    ASSERT_TRUE(eventually([&] { return !received("edge-a", "default/device/t1").empty(); }));

    apply(device_yaml("t1", "edge-a", "25"));
    ASSERT_TRUE(eventually(
        [&] { return !received("edge-a", "device/default/t1/twin/cloud_updated").empty(); }));
    json::value cu = received("edge-a", "device/default/t1/twin/cloud_updated").front();
    EXPECT_EQ(str(at(cu, "content.twin.setpoint.expected.value")), "25");
    EXPECT_TRUE(at(cu, "content.twin.temperature").is_null());
    EXPECT_TRUE(eventually([&] {
        for (auto& m : received("edge-a", "default/device/t1", "update"))
            if (str(at(json::value(m), "content.spec.properties.1.desired.value")) == "25")
                return true;
        return false;
    }));

    // Move to B: A loses it (membership removal, delete, and the model nobody on A uses now),
    // B gets it.
    apply(device_yaml("t1", "edge-b", "25"));
    EXPECT_TRUE(
        eventually([&] { return !membership("edge-a", "removed_devices", "default/t1").empty(); }));
    EXPECT_TRUE(
        eventually([&] { return !received("edge-a", "default/device/t1", "delete").empty(); }));
    EXPECT_TRUE(eventually(
        [&] { return !received("edge-a", "default/devicemodel/thermometer", "delete").empty(); }));
    EXPECT_TRUE(
        eventually([&] { return !membership("edge-b", "added_devices", "default/t1").empty(); }));
    EXPECT_TRUE(
        eventually([&] { return !received("edge-b", "default/device/t1", "insert").empty(); }));
    EXPECT_FALSE(received("edge-b", "default/devicemodel/thermometer", "insert").empty());
    // Reports now come from B, and A's are refused.
    auto from_b = answer("edge-b", twin_report("edge-b", "t1", "30"));
    ASSERT_TRUE(from_b);
    EXPECT_EQ(str(at(json::value(*from_b), "content")), "OK");
    auto from_a = answer("edge-a", twin_report("edge-a", "t1", "31"));
    ASSERT_TRUE(from_a);
    EXPECT_EQ(str(at(json::value(*from_a), "route.operation")), "error");

    kubectl_ok("delete device t1");
    EXPECT_TRUE(
        eventually([&] { return !membership("edge-b", "removed_devices", "default/t1").empty(); }));
    EXPECT_TRUE(
        eventually([&] { return !received("edge-b", "default/device/t1", "delete").empty(); }));
}

TEST_F(DeviceControllerTest, AReconnectingNodeGetsWhatWasBoundWhileItWasAway) {
    create_edge_node("edge-a");
    start_edge("edge-a");
    stop_edge("edge-a");
    apply(kModel);
    apply(device_yaml("t1", "edge-a", "20"));  // bound while the node is away
    start_edge("edge-a");
    EXPECT_TRUE(
        eventually([&] { return !received("edge-a", "default/device/t1", "insert").empty(); }));
    EXPECT_FALSE(received("edge-a", "default/devicemodel/thermometer", "insert").empty());
    // Its twin then asks for the membership and learns about the device.
    auto ask = send_from_edge("edge-a", "get", "membership/detail", json::object{}, "twin", "twin");
    auto detail = answer("edge-a", ask);
    ASSERT_TRUE(detail);
    EXPECT_EQ(str(at(json::value(*detail), "content.devices.0.id")), "default/t1");
}

TEST_F(DeviceControllerTest, InvalidDevicesAreRefusedNamingThePropertyAndTheModel) {
    apply(kModel);
    std::string path = dir_.file("bad.yaml");
    kedge::test::write_file(path, device_yaml("bad", "edge-a", "hot"));
    auto r = kubectl("apply -f " + path);
    EXPECT_NE(r.exit_code, 0);
    EXPECT_NE(r.output.find("spec.properties[1].desired.value"), std::string::npos) << r.output;
    EXPECT_NE(r.output.find("property setpoint: value \"hot\" is not an INT (model thermometer)"),
              std::string::npos)
        << r.output;
    kedge::test::write_file(path, device_yaml("bad", "edge-a", "101"));
    r = kubectl("apply -f " + path);
    EXPECT_NE(r.exit_code, 0);
    EXPECT_NE(r.output.find("above the maximum 100"), std::string::npos) << r.output;
    EXPECT_NE(kubectl("get device bad").exit_code, 0);

    // An update is checked too.
    apply(device_yaml("good", "edge-a", "50"));
    kedge::test::write_file(path, device_yaml("good", "edge-a", "fifty"));
    r = kubectl("apply -f " + path);
    EXPECT_NE(r.exit_code, 0);
    EXPECT_NE(r.output.find("property setpoint"), std::string::npos) << r.output;

    // A model with an inverted range.
    kedge::test::write_file(path, R"(apiVersion: devices.kubeedge.io/v1beta1
kind: DeviceModel
metadata: {name: inverted, namespace: default}
spec:
  properties:
  - {name: p, type: INT, accessMode: ReadWrite, minimum: "10", maximum: "5"}
)");
    r = kubectl("apply -f " + path);
    EXPECT_NE(r.exit_code, 0);
    EXPECT_NE(r.output.find("minimum 10 is greater than maximum 5"), std::string::npos) << r.output;
}

TEST_F(DeviceControllerTest, AMissingModelIsReportedOnceAndTheModelFollowsWhenCreated) {
    create_edge_node("edge-a");
    start_edge("edge-a");
    apply(device_yaml("orphan", "edge-a", "whatever"));  // no model: allowed
    EXPECT_TRUE(eventually([&] {
        return kubectl(
                   "get events --field-selector reason=DeviceModelNotFound -o "
                   "jsonpath='{.items[*].message}'")
                   .output.find("thermometer") != std::string::npos;
    })) << kubectl("get events -o yaml").output;
    EXPECT_TRUE(eventually([&] { return !received("edge-a", "default/device/orphan").empty(); }));
    // Still one event after further updates of the device.
    kubectl_ok("label device orphan touched=yes");
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    auto events = kubectl("get events --field-selector reason=DeviceModelNotFound -o name").output;
    EXPECT_EQ(std::count(events.begin(), events.end(), '\n'), 1) << events;
    EXPECT_NE(kedge::test::read_file(dir_.file("cloudcore-1.log"))
                  .find("references device model default/thermometer, which does not exist"),
              std::string::npos);

    kedge::test::write_file(dir_.file("model.yaml"), kModel);
    // Once the model exists it goes to the node, with a membership update that types the
    // device's twins.
    kubectl_ok("apply -f " + dir_.file("model.yaml"));
    EXPECT_TRUE(eventually(
        [&] { return !received("edge-a", "default/devicemodel/thermometer", "insert").empty(); }));
    EXPECT_TRUE(eventually([&] {
        for (auto& m : membership("edge-a", "added_devices", "default/orphan"))
            if (str(at(json::value(m), "content.added_devices.0.twin.temperature.metadata.type")) ==
                "int")
                return true;
        return false;
    }));
}

}  // namespace
}  // namespace kedge::cloud::test
