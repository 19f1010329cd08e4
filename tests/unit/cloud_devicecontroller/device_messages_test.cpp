#include "cloud/devicecontroller/device_messages.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "base/base64.hpp"
#include "bus/constants.hpp"
#include "cloud/hub/ack_policy.hpp"
#include "cloud/hub/upstream_router.hpp"

namespace kedge::cloud::devicecontroller {
namespace {

namespace json = boost::json;

json::object parse(std::string_view text) { return json::parse(text).as_object(); }

const json::object kModel = parse(R"({
  "apiVersion": "devices.kubeedge.io/v1beta1", "kind": "DeviceModel",
  "metadata": {"name": "thermometer", "namespace": "default", "resourceVersion": "3"},
  "spec": {"protocol": "modbus", "properties": [
    {"name": "temperature", "type": "INT", "accessMode": "ReadOnly"},
    {"name": "limit", "type": "FLOAT", "accessMode": "ReadWrite"}]}})");

json::object device(std::string_view limit = "30.5") {
    return parse(R"({
      "apiVersion": "devices.kubeedge.io/v1beta1", "kind": "Device",
      "metadata": {"name": "t1", "namespace": "default", "uid": "u1", "resourceVersion": "7"},
      "spec": {"deviceModelRef": {"name": "thermometer"}, "nodeName": "edge-a",
               "properties": [{"name": "temperature"},
                              {"name": "limit", "desired": {"value": ")" +
                 std::string(limit) + R"(", "metadata": {"unit": "C", "n": 1}}}]},
      "status": {"state": "online",
                 "twins": [{"propertyName": "other", "reported": {"value": "x"}},
                           {"propertyName": "temperature", "reported": {"value": "1"}}]}})");
}

const json::value& at(const json::value& v, std::string_view path) {
    const json::value* cur = &v;
    std::size_t start = 0;
    while (start <= path.size()) {
        auto dot = path.find('.', start);
        auto key = path.substr(start, dot == std::string_view::npos ? path.npos : dot - start);
        if (cur->is_array())
            cur = &cur->as_array().at(std::stoul(std::string(key)));
        else
            cur = &cur->as_object().at(key);
        if (dot == std::string_view::npos) break;
        start = dot + 1;
    }
    return *cur;
}

TEST(DeviceObjects, ReadsNodeModelDesiredAndTypes) {
    auto d = device();
    EXPECT_EQ(node_of(d), "edge-a");
    EXPECT_EQ(model_key_of(d), "default/thermometer");
    EXPECT_EQ(desired_values(d), (std::map<std::string, std::string>{{"limit", "30.5"}}));
    EXPECT_EQ(twin_type(&kModel, "temperature"), "int");
    EXPECT_EQ(twin_type(&kModel, "limit"), "float");
    EXPECT_EQ(twin_type(&kModel, "nope"), "");
    EXPECT_EQ(twin_type(nullptr, "limit"), "");
    EXPECT_EQ(model_key_of(parse(R"({"metadata":{"name":"x","namespace":"n"},"spec":{}})")), "");
}

TEST(Downstream, ObjectMessagesAreAckedAndAddressedAsTheEdgeSeesThem) {
    FakeClock clock;
    auto m = object_message(bus::kOpInsert, bus::kResDevice, device(), clock);
    EXPECT_EQ(m.source(), "devicecontroller");
    EXPECT_EQ(m.group(), "resource");
    EXPECT_EQ(m.resource(), "default/device/t1");
    EXPECT_EQ(m.header.resource_version, "7");
    EXPECT_EQ(ack_mode(m), AckMode::kAck);
    EXPECT_EQ(object_facts(m).uid, "u1");
    auto mm = object_message(bus::kOpUpdate, bus::kResDeviceModel, kModel, clock);
    EXPECT_EQ(mm.resource(), "default/devicemodel/thermometer");
}

TEST(Downstream, MembershipCarriesUpstreamDevicesWithExpectedTwins) {
    FakeClock clock;
    auto d = membership_device(device(), &kModel, 1234);
    json::value v = d;
    EXPECT_EQ(at(v, "id"), "default/t1");
    EXPECT_EQ(at(v, "name"), "t1");
    EXPECT_EQ(at(v, "state"), "online");
    EXPECT_EQ(at(v, "twin.limit.expected.value"), "30.5");
    EXPECT_EQ(at(v, "twin.limit.expected.metadata.timestamp"), 1234);
    EXPECT_EQ(at(v, "twin.limit.optional"), false);
    EXPECT_EQ(at(v, "twin.limit.metadata.type"), "float");
    EXPECT_FALSE(at(v, "twin.temperature").as_object().contains("expected"));
    EXPECT_EQ(at(v, "twin.temperature.metadata.type"), "int");

    auto m =
        membership_update(json::array{d}, json::array{removed_device("default", "old")}, clock);
    EXPECT_EQ(m.group(), "twin");
    EXPECT_EQ(m.operation(), "update");
    EXPECT_EQ(m.resource(), "membership");
    EXPECT_EQ(ack_mode(m), AckMode::kNoAck);
    json::value c = **m.content.value();
    EXPECT_FALSE(at(c, "event_id").as_string().empty());
    EXPECT_EQ(at(c, "timestamp"), clock.unix_millis());
    EXPECT_EQ(at(c, "added_devices.0.id"), "default/t1");
    EXPECT_EQ(at(c, "removed_devices.0.id"), "default/old");
}

TEST(Downstream, CloudUpdatedNamesTheDeviceAndCarriesTheNewDesiredValue) {
    FakeClock clock;
    auto m = cloud_updated(device("42"), &kModel, {"limit"}, clock);
    EXPECT_EQ(m.resource(), "device/default/t1/twin/cloud_updated");
    EXPECT_EQ(m.group(), "twin");
    EXPECT_EQ(ack_mode(m), AckMode::kNoAck);
    json::value c = **m.content.value();
    EXPECT_EQ(at(c, "twin.limit.expected.value"), "42");
    EXPECT_EQ(at(c, "twin.limit.metadata.type"), "float");
    EXPECT_FALSE(c.as_object().at("twin").as_object().contains("temperature"));
}

TEST(Downstream, DetailResponseAnswersTheRequest) {
    FakeClock clock;
    auto req = bus::Message::make("twin", "twin", "get", "membership/detail", {}, clock);
    auto r = detail_response(req, json::array{membership_device(device(), &kModel, 1)}, clock);
    EXPECT_EQ(r.parent_id(), req.id());
    EXPECT_EQ(r.operation(), "response");
    EXPECT_EQ(r.source(), "devicecontroller");
    EXPECT_EQ(r.resource(), "membership/detail");
    EXPECT_EQ(ack_mode(r), AckMode::kNoAck);
    EXPECT_EQ(at(**r.content.value(), "devices.0.id"), "default/t1");
    auto ok = reply(req, "OK", false, clock);
    EXPECT_EQ(ok.operation(), "response");
    EXPECT_TRUE(ok.content.string_equals("OK"));
    EXPECT_EQ(reply(req, "no", true, clock).operation(), "error");
}

bus::Message upstream_msg(std::string resource, bus::Content content) {
    return bus::Message::make("twin", "twin", "update", std::move(resource), std::move(content));
}

TEST(Upstream, ContentMayBeAnObjectJsonTextOrBase64) {
    const std::string text = R"({"twin":{"temperature":{"actual":{"value":"21"}}}})";
    auto as_obj = content_json(upstream_msg("x", bus::Content::from_value(json::parse(text))));
    auto as_text = content_json(upstream_msg("x", bus::Content::from_string(text)));
    auto as_b64 = content_json(upstream_msg("x", bus::Content::from_string(base64_encode(text))));
    ASSERT_TRUE(as_obj && as_text && as_b64);
    EXPECT_EQ(*as_obj, *as_text);
    EXPECT_EQ(*as_obj, *as_b64);
    EXPECT_FALSE(content_json(upstream_msg("x", bus::Content::from_string("nope"))));
    EXPECT_FALSE(content_json(upstream_msg("x", bus::Content::from_value(json::array{1}))));
}

TEST(Upstream, EdgeUpdatedParsesValuesTimestampsAndTypes) {
    auto r = parse_edge_updated(json::parse(R"({"event_id":"e","timestamp":1,"twin":{
        "temperature":{"actual":{"value":"21","metadata":{"timestamp":1700000000123}},
                       "optional":false,"metadata":{"type":"int"}},
        "limit":{"actual":{"value":3.5}},
        "gone":null}})"));
    ASSERT_TRUE(r) << r.error().message();
    ASSERT_EQ(r->size(), 2u);
    EXPECT_EQ(r->at("temperature").value, "21");
    EXPECT_EQ(r->at("temperature").timestamp_ms, 1700000000123);
    EXPECT_EQ(r->at("temperature").type, "int");
    EXPECT_EQ(r->at("limit").value, "3.5");
}

TEST(Upstream, EdgeUpdatedRefusesWhatUpstreamRefuses) {
    for (const char* bad : {R"({})", R"({"twin":[]})", R"({"twin":{"a b":{}}})",
                            R"({"twin":{"t":"x"}})", R"({"twin":{"t":{"actual":{"value":{}}}}})"}) {
        auto r = parse_edge_updated(json::parse(bad));
        EXPECT_FALSE(r) << bad;
        if (!r) EXPECT_FALSE(r.error().message().empty());
    }
    std::string long_name(129, 'a');
    EXPECT_FALSE(parse_edge_updated(json::parse(R"({"twin":{")" + long_name + R"(":{}}})")));
    std::string long_value(513, 'v');
    auto r = parse_edge_updated(
        json::parse(R"({"twin":{"t":{"actual":{"value":")" + long_value + R"("}}}})"));
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().message().find("property t"), std::string::npos);
}

TEST(Upstream, StateUpdateNormalisesLastOnline) {
    FakeClock clock;
    auto rfc = parse_state_update(
        json::parse(R"({"state":"online","last_online":"2024-05-01T12:00:00Z"})"), clock.now());
    ASSERT_TRUE(rfc);
    EXPECT_EQ(rfc->state, "online");
    EXPECT_EQ(rfc->last_online, "2024-05-01T12:00:00Z");
    auto go = parse_state_update(
        json::parse(R"({"state":"offline","last_online":"2024-05-01 12:00:05"})"), clock.now());
    ASSERT_TRUE(go);
    EXPECT_EQ(go->last_online, "2024-05-01T12:00:05Z");
    auto none = parse_state_update(json::parse(R"({"state":"online"})"), clock.now());
    ASSERT_TRUE(none);
    EXPECT_EQ(none->last_online, "2023-11-14T22:13:20Z");  // FakeClock's start
    auto off = parse_state_update(json::parse(R"({"state":"offline"})"), clock.now());
    ASSERT_TRUE(off);
    EXPECT_EQ(off->last_online, "");
    EXPECT_FALSE(parse_state_update(json::parse(R"({"state":""})"), clock.now()));
    EXPECT_FALSE(parse_state_update(json::parse(R"({"state":"online","last_online":"yesterday"})"),
                                    clock.now()));
    EXPECT_FALSE(parse_state_update(json::parse(R"([1])"), clock.now()));
}

TEST(StatusPatch, MergesReportsIntoTheCurrentTwinsKeyedByProperty) {
    PendingStatus p;
    p.twins["temperature"] = TwinReport{"22", 1700000000000, "int"};
    p.twins["limit"] = TwinReport{"30.5", 0, ""};
    auto patch = status_patch(device(), &kModel, p, 99);
    json::value v = patch;
    const auto& twins = at(v, "status.twins").as_array();
    ASSERT_EQ(twins.size(), 3u);
    // Existing order kept, untouched entries as they were, new ones appended.
    EXPECT_EQ(at(twins[0], "propertyName"), "other");
    EXPECT_EQ(at(twins[0], "reported.value"), "x");
    EXPECT_EQ(at(twins[1], "propertyName"), "temperature");
    EXPECT_EQ(at(twins[1], "reported.value"), "22");
    EXPECT_EQ(at(twins[1], "reported.metadata.timestamp"), "1700000000000");
    EXPECT_EQ(at(twins[1], "reported.metadata.type"), "int");
    EXPECT_FALSE(twins[1].as_object().contains("observedDesired"));
    EXPECT_EQ(at(twins[2], "propertyName"), "limit");
    EXPECT_EQ(at(twins[2], "reported.metadata.timestamp"), "99");
    EXPECT_EQ(at(twins[2], "reported.metadata.type"), "float");  // from the model
    EXPECT_EQ(at(twins[2], "observedDesired.value"), "30.5");
    EXPECT_EQ(at(twins[2], "observedDesired.metadata.unit"), "C");
    EXPECT_FALSE(at(twins[2], "observedDesired.metadata").as_object().contains("n"));
    EXPECT_FALSE(at(v, "status").as_object().contains("state"));
}

TEST(StatusPatch, StateOnlyPatchLeavesTwinsAlone) {
    PendingStatus p;
    p.state = StateReport{"offline", "2024-05-01T12:00:00Z"};
    json::value v = status_patch(device(), &kModel, p, 1);
    EXPECT_FALSE(at(v, "status").as_object().contains("twins"));
    EXPECT_EQ(at(v, "status.state"), "offline");
    EXPECT_EQ(at(v, "status.lastOnlineTime"), "2024-05-01T12:00:00Z");
}

TEST(StatusPatch, PendingMergeKeepsTheLatestPerPropertyAndTheLastOnlineTime) {
    PendingStatus a;
    a.twins["t"] = TwinReport{"1", 1, ""};
    a.state = StateReport{"online", "2024-05-01T12:00:00Z"};
    PendingStatus b;
    b.twins["t"] = TwinReport{"2", 2, ""};
    b.twins["u"] = TwinReport{"9", 2, ""};
    b.state = StateReport{"offline", ""};
    a.merge(std::move(b));
    EXPECT_EQ(a.twins.at("t").value, "2");
    EXPECT_EQ(a.twins.at("u").value, "9");
    EXPECT_EQ(a.state->state, "offline");
    EXPECT_EQ(a.state->last_online, "2024-05-01T12:00:00Z");
    EXPECT_TRUE(PendingStatus{}.empty());
}

// ---- the hub's dispatch by source ----

struct Recorder : HubObserver {
    std::vector<std::string> calls;
    void node_connected(const std::string& n) override { calls.push_back("connected " + n); }
    void node_disconnected(const std::string& n) override { calls.push_back("gone " + n); }
    void upstream(const std::string& n, bus::Message m) override {
        calls.push_back("up " + n + " " + m.resource());
    }
    void acked(const std::string& n, const bus::Message& m) override {
        calls.push_back("acked " + n + " " + m.resource());
    }
};

TEST(UpstreamRouter, TwinMessagesGoToDevicesTheRestToEdgesConnectsToBoth) {
    auto edges = std::make_shared<Recorder>();
    auto devices = std::make_shared<Recorder>();
    UpstreamRouter router(edges, devices);
    router.node_connected("e");
    router.upstream("e", bus::Message::make("twin", "twin", "get", "membership/detail"));
    router.upstream("e", bus::Message::make("edged", "resource", "patch", "default/podpatch/p"));
    router.acked("e",
                 bus::Message::make("devicecontroller", "resource", "insert", "default/device/d"));
    router.acked("e", bus::Message::make("edgecontroller", "resource", "insert", "default/pod/p"));
    router.node_disconnected("e");
    EXPECT_EQ(edges->calls, (std::vector<std::string>{"connected e", "up e default/podpatch/p",
                                                      "acked e default/pod/p", "gone e"}));
    EXPECT_EQ(devices->calls, (std::vector<std::string>{"connected e", "up e membership/detail",
                                                        "acked e default/device/d", "gone e"}));

    // Device controller off: everything to the edge controller, as before.
    auto only = std::make_shared<Recorder>();
    UpstreamRouter off(only, nullptr);
    off.upstream("e", bus::Message::make("twin", "twin", "get", "membership/detail"));
    EXPECT_EQ(only->calls, (std::vector<std::string>{"up e membership/detail"}));
}

}  // namespace
}  // namespace kedge::cloud::devicecontroller
