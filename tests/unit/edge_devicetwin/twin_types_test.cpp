// The twin's pure rules: upstream's key/value patterns, type checks, topics, payload shapes,
// the DMI socket path rule, and the store's round trip through upstream's columns.

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "edge/devicetwin/device_twin.hpp"
#include "edge/devicetwin/dmi_grpc.hpp"
#include "edge/devicetwin/twin_messages.hpp"
#include "edge/devicetwin/twin_store.hpp"
#include "edge/devicetwin/twin_types.hpp"
#include "support/test_support.hpp"

namespace kedge::edge::devicetwin {
namespace {

namespace json = boost::json;

TEST(TwinRules, KeysAndValuesFollowUpstreamPatterns) {
    EXPECT_TRUE(valid_twin_key("temperature"));
    EXPECT_TRUE(valid_twin_key("a-b_c.d,e:f/g@h#1"));
    EXPECT_FALSE(valid_twin_key(""));
    EXPECT_FALSE(valid_twin_key("has space"));
    EXPECT_FALSE(valid_twin_key("quote\""));
    EXPECT_FALSE(valid_twin_key("semi;colon"));  // inside 9-_ in ASCII, but not in Go's class
    EXPECT_TRUE(valid_twin_key(std::string(128, 'k')));
    EXPECT_FALSE(valid_twin_key(std::string(129, 'k')));
    EXPECT_TRUE(valid_twin_value(std::string(512, 'v')));
    EXPECT_FALSE(valid_twin_value(std::string(513, 'v')));
    EXPECT_TRUE(valid_twin_value("-12.5"));
    EXPECT_FALSE(valid_twin_value("{\"x\":1}"));
}

TEST(TwinRules, ValuesMustParseAsTheirType) {
    EXPECT_TRUE(check_value_type("int", "-42"));
    EXPECT_FALSE(check_value_type("int", "4.2"));
    EXPECT_FALSE(check_value_type("int", "hot"));
    EXPECT_TRUE(check_value_type("float", "4.25"));
    EXPECT_TRUE(check_value_type("double", "-1e3"));
    EXPECT_FALSE(check_value_type("double", "1.2.3"));
    EXPECT_TRUE(check_value_type("boolean", "true"));
    EXPECT_FALSE(check_value_type("boolean", "yes"));
    EXPECT_TRUE(check_value_type("string", "anything"));
    auto e = check_value_type("int", "hot");
    EXPECT_NE(e.error().detail.find("\"hot\" is not an int"), std::string::npos);
    EXPECT_EQ(twin_type_of("BOOLEAN"), "boolean");
    EXPECT_EQ(twin_type_of(""), "string");
}

TEST(TwinRules, TopicsAreParsedWithNamespacedIds) {
    auto t = parse_topic("$hw/events/device/default/thermo/twin/update");
    EXPECT_EQ(t.kind, TwinTopic::Kind::twin_update);
    EXPECT_EQ(t.subject, "default/thermo");
    EXPECT_EQ(parse_topic("$hw/events/device/ns/d/twin/get").kind, TwinTopic::Kind::twin_get);
    EXPECT_EQ(parse_topic("$hw/events/device/ns/d/state/update").kind,
              TwinTopic::Kind::state_update);
    auto m = parse_topic("$hw/events/node/edge-1/membership/get");
    EXPECT_EQ(m.kind, TwinTopic::Kind::membership_get);
    EXPECT_EQ(m.subject, "edge-1");
    // Results the twin publishes itself are not requests.
    EXPECT_EQ(parse_topic("$hw/events/device/ns/d/twin/update/result").kind,
              TwinTopic::Kind::unknown);
    EXPECT_EQ(parse_topic("$hw/events/device//twin/update").kind, TwinTopic::Kind::unknown);
    EXPECT_EQ(parse_topic("other/topic").kind, TwinTopic::Kind::unknown);
    EXPECT_EQ(device_topic("ns/d", "twin/update/delta"),
              "$hw/events/device/ns/d/twin/update/delta");
}

TEST(TwinRules, TwinReportsAreValidatedBeforeAnythingIsUsed) {
    auto ok = parse_twin_report(
        R"({"event_id":"e","timestamp":1,"twin":{"temperature":{"actual":{"value":"21",
            "metadata":{"timestamp":1700000000123}}}}})");
    ASSERT_TRUE(ok);
    EXPECT_EQ(ok->event_id, "e");
    EXPECT_EQ(ok->twins.at("temperature").value, "21");
    EXPECT_EQ(ok->twins.at("temperature").timestamp, 1700000000123);

    EXPECT_NE(parse_twin_report("{not json").error().detail.find("not JSON"), std::string::npos);
    EXPECT_FALSE(parse_twin_report("[]"));
    EXPECT_FALSE(parse_twin_report(R"({"twin":5})"));
    EXPECT_NE(parse_twin_report(R"({"twin":{"bad key":{"actual":{"value":"1"}}}})")
                  .error()
                  .detail.find("bad key"),
              std::string::npos);
    EXPECT_FALSE(parse_twin_report(R"({"twin":{"t":{"actual":{"value":"a b"}}}})"));
    EXPECT_FALSE(parse_twin_report(R"({"twin":{"t":{"actual":{"value":1}}}})"));
    EXPECT_FALSE(parse_twin_report(R"({"twin":{"t":{"expected":{"value":"1"}}}})"));
}

TEST(TwinRules, PayloadShapes) {
    DeviceRecord d;
    d.id = "default/thermo";
    Twin t;
    t.name = "temperature";
    t.type = "int";
    t.expected = TwinValue{"30", 5};
    t.actual = TwinValue{"25", 6};
    t.expected_version = {2, 0};
    t.actual_version = {0, 3};
    d.twins["temperature"] = t;

    auto delta = json::parse(delta_payload("ev", 9, d).value()).as_object();
    EXPECT_EQ(delta.at("event_id"), "ev");
    EXPECT_EQ(delta.at("delta").at("temperature"), "30");
    EXPECT_EQ(delta.at("twin").at("temperature").at("expected_version").at("cloud"), 2);
    d.twins["temperature"].actual->value = "30";
    EXPECT_FALSE(delta_payload("ev", 9, d));  // level: no delta

    auto up = edge_updated_content("ev", 9, d, {"temperature"});
    EXPECT_EQ(up.at("twin").at("temperature").at("actual").at("value"), "30");
    EXPECT_EQ(up.at("twin").at("temperature").at("actual").at("metadata").at("timestamp"), 6);
    EXPECT_EQ(up.at("twin").at("temperature").at("metadata").at("type"), "int");
    EXPECT_FALSE(up.at("twin").at("temperature").as_object().contains("expected"));

    auto bad = json::parse(result_payload("ev", 9, 400, "why")).as_object();
    EXPECT_EQ(bad.at("code"), 400);
    EXPECT_EQ(bad.at("reason"), "why");
    EXPECT_FALSE(json::parse(result_payload("ev", 9)).as_object().contains("code"));
}

TEST(TwinRules, MembershipDevicesParse) {
    auto d = device_from_json(json::parse(R"({"id":"default/thermo","name":"thermo",
        "attributes":{"vendor":{"value":"acme","optional":true,"metadata":{"type":"string"}}},
        "twin":{"temperature":{"expected":{"value":"20","metadata":{"timestamp":7}},
                               "optional":false,"metadata":{"type":"int"}}}})"));
    ASSERT_TRUE(d) << d.error().message();
    EXPECT_EQ(d->twins.at("temperature").expected->value, "20");
    EXPECT_EQ(d->twins.at("temperature").expected->timestamp, 7);
    EXPECT_EQ(d->twins.at("temperature").type, "int");
    EXPECT_EQ(d->attributes.at("vendor").value, "acme");
    EXPECT_FALSE(device_from_json(json::parse(R"({"name":"x"})")));
    EXPECT_FALSE(device_from_json(json::parse(R"({"id":"a/b","twin":{"t":3}})")));
}

TEST(TwinRules, DmiSocketPathFollowsUpstreamConfig) {
    EXPECT_EQ(dmi_socket_path("/etc/kubeedge/dmi.sock"), "/etc/kubeedge/dmi.sock");
    EXPECT_EQ(dmi_socket_path("/var/lib/kedge/"), "/var/lib/kedge/dmi.sock");
    EXPECT_EQ(dmi_socket_path("/run/kedge"), "/run/kedge/dmi.sock");
    EXPECT_EQ(mapper_target("/tmp/m.sock").value(), "unix:/tmp/m.sock");
    EXPECT_EQ(mapper_target("unix:///tmp/m.sock").value(), "unix:///tmp/m.sock");
    EXPECT_FALSE(mapper_target(""));
}

TEST(TwinStoreTest, DevicesAndPendingReportsRoundTripThroughUpstreamColumns) {
    kedge::test::TempDir dir;
    DeviceRecord d;
    d.id = "default/thermo";
    d.name = "thermo";
    d.state = "online";
    d.last_online = "2024-01-01T00:00:00Z";
    d.attributes["vendor"] = Attr{"vendor", "", "acme", true, "string"};
    Twin t;
    t.name = "temperature";
    t.type = "int";
    t.expected = TwinValue{"30", 1700000000000};
    t.actual = TwinValue{"25", 1700000000001};
    t.expected_version = {3, 0};
    t.actual_version = {0, 4};
    d.twins["temperature"] = t;
    Twin never;
    never.name = "switch";
    never.type = "boolean";
    d.twins["switch"] = never;
    {
        auto store = TwinStore::open(dir.file("db/edgecore.db")).value();
        ASSERT_TRUE(store->put_device(d));
        ASSERT_TRUE(store->put_pending({"default/thermo", "twin", "{\"a\":1}"}));
        ASSERT_TRUE(store->put_pending({"default/thermo", "twin", "{\"a\":2}"}));  // replaces
        // A stale delete (content no longer current) keeps the newer entry.
        ASSERT_TRUE(store->remove_pending({"default/thermo", "twin", "{\"a\":1}"}));
    }
    auto store = TwinStore::open(dir.file("db/edgecore.db")).value();
    auto loaded = store->load_devices().value();
    ASSERT_EQ(loaded.size(), 1u);
    EXPECT_EQ(loaded[0].id, d.id);
    EXPECT_EQ(loaded[0].state, "online");
    EXPECT_EQ(loaded[0].attributes, d.attributes);
    EXPECT_EQ(loaded[0].twins.at("temperature").expected, t.expected);
    EXPECT_EQ(loaded[0].twins.at("temperature").actual, t.actual);
    EXPECT_EQ(loaded[0].twins.at("temperature").expected_version, t.expected_version);
    EXPECT_EQ(loaded[0].twins.at("temperature").actual_version, t.actual_version);
    EXPECT_FALSE(loaded[0].twins.at("switch").expected.has_value());
    auto pend = store->list_pending().value();
    ASSERT_EQ(pend.size(), 1u);
    EXPECT_EQ(pend[0].content, "{\"a\":2}");
    EXPECT_TRUE(store->load_objects().value().empty());  // no meta table: nothing, no error

    ASSERT_TRUE(store->remove_device("default/thermo"));
    EXPECT_TRUE(store->load_devices().value().empty());
    EXPECT_TRUE(store->list_pending().value().empty());
}

TEST(TwinRules, DmiReportsBecomeTwinReports) {
    v1beta1::ReportDeviceStatusRequest req;
    req.set_devicename("thermo");
    auto* t = req.mutable_reporteddevice()->add_twins();
    t->set_propertyname("temperature");
    t->mutable_reported()->set_value("21");
    (*t->mutable_reported()->mutable_metadata())["timestamp"] = "1700000000123";
    req.mutable_reporteddevice()->add_twins()->set_propertyname("switch");  // nothing read yet
    EXPECT_EQ(dmi_device_id(req.devicenamespace(), req.devicename()), "default/thermo");
    auto r = report_from_dmi(req);
    ASSERT_TRUE(r);
    ASSERT_EQ(r->twins.size(), 1u);
    EXPECT_EQ(r->twins.at("temperature").value, "21");
    EXPECT_EQ(r->twins.at("temperature").timestamp, 1700000000123);

    req.mutable_reporteddevice()->mutable_twins(0)->mutable_reported()->set_value("2 1");
    EXPECT_FALSE(report_from_dmi(req));
    req.mutable_reporteddevice()->mutable_twins(0)->set_propertyname("te mp");
    EXPECT_NE(report_from_dmi(req).error().detail.find("te mp"), std::string::npos);
}

TEST(TwinMetrics, StatsRenderAsPrometheusText) {
    DeviceTwinStats s;
    s.devices = 3;
    s.bad_reports = 2;
    auto text = render_metrics(s);
    EXPECT_NE(text.find("# TYPE edgecore_twin_devices gauge\nedgecore_twin_devices 3\n"),
              std::string::npos);
    EXPECT_NE(text.find("edgecore_twin_bad_reports_total 2\n"), std::string::npos);
}

}  // namespace
}  // namespace kedge::edge::devicetwin
