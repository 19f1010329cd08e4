// The twin module over the bus: membership into upstream's tables, MQTT reports, bad reports,
// reports kept while the cloud is away (across a restart), and the membership detail on connect.

#include "twin_fixture.hpp"

namespace kedge::edge::devicetwin::test {
namespace {

using kedge::test::wait_until;

constexpr const char* kThermo = "default/thermo";
const std::string kUpdate = "$hw/events/device/default/thermo/twin/update";

std::string report(const std::string& prop, const std::string& value,
                   const std::string& event = "ev-1") {
    return R"({"event_id":")" + event + R"(","timestamp":1700000001000,"twin":{")" + prop +
           R"(":{"actual":{"value":")" + value + R"(","metadata":{"timestamp":1700000001000}}}}})";
}

class DeviceTwinTest : public TwinFixture {};

TEST_F(DeviceTwinTest, MembershipFillsAndEmptiesUpstreamTables) {
    membership(json::array{member(kThermo)});
    ASSERT_TRUE(wait_until([&] { return query("SELECT id FROM device") == kThermo; }, 5s));
    EXPECT_EQ(query("SELECT name FROM device"), "thermo");
    EXPECT_EQ(twin_column(kThermo, "temperature", "expected"), "20");
    EXPECT_EQ(twin_column(kThermo, "temperature", "expected_meta"),
              "{\"timestamp\":1700000000000}");
    EXPECT_EQ(twin_column(kThermo, "temperature", "expected_version"), "{\"cloud\":1,\"edge\":0}");
    EXPECT_EQ(twin_column(kThermo, "temperature", "attr_type"), "int");
    EXPECT_EQ(twin_column(kThermo, "temperature", "metadata"), "{\"type\":\"int\"}");
    EXPECT_EQ(twin_column(kThermo, "temperature", "actual"), "");
    EXPECT_EQ(twin_column(kThermo, "switch", "attr_type"), "boolean");
    EXPECT_EQ(twin_stats().devices, 1u);

    // An app asking for the membership gets it over MQTT.
    mqtt("$hw/events/node/edge-1/membership/get", R"({"event_id":"m1"})");
    ASSERT_TRUE(wait_until(
        [&] { return !published("$hw/events/node/edge-1/membership/get/result").empty(); }, 5s));
    auto got = published("$hw/events/node/edge-1/membership/get/result")[0];
    EXPECT_EQ(got.at("event_id"), "m1");
    ASSERT_EQ(got.at("devices").as_array().size(), 1u);
    EXPECT_EQ(got.at("devices").as_array()[0].at("id"), kThermo);

    membership({}, json::array{json::object{{"id", kThermo}}});
    ASSERT_TRUE(wait_until([&] { return !query("SELECT id FROM device").has_value(); }, 5s));
    EXPECT_FALSE(query("SELECT name FROM device_twin").has_value());
}

TEST_F(DeviceTwinTest, AnMqttReportUpdatesActualPublishesAndGoesUp) {
    membership(json::array{member(kThermo)});
    mqtt(kUpdate, report("temperature", "25"));
    ASSERT_TRUE(wait_until(
        [&] { return !sent_up("device/default/thermo/twin/edge_updated").empty(); }, 5s));
    EXPECT_EQ(twin_column(kThermo, "temperature", "actual"), "25");
    EXPECT_EQ(twin_column(kThermo, "temperature", "actual_meta"), "{\"timestamp\":1700000001000}");
    EXPECT_EQ(twin_column(kThermo, "temperature", "actual_version"), "{\"cloud\":0,\"edge\":1}");

    auto result = published(kUpdate + "/result");
    ASSERT_EQ(result.size(), 1u);
    EXPECT_EQ(result[0].at("event_id"), "ev-1");
    EXPECT_FALSE(result[0].contains("code"));
    auto doc = published(kUpdate + "/document");
    ASSERT_EQ(doc.size(), 1u);
    // Before: the twin had a desired value but no reported one.
    EXPECT_FALSE(doc[0].at("twin").at("temperature").at("last").as_object().contains("actual"));
    EXPECT_EQ(doc[0].at("twin").at("temperature").at("last").at("expected").at("value"), "20");
    EXPECT_EQ(doc[0].at("twin").at("temperature").at("current").at("actual").at("value"), "25");

    auto up = sent_up("device/default/thermo/twin/edge_updated")[0];
    EXPECT_EQ(up.at("twin").at("temperature").at("actual").at("value"), "25");
    EXPECT_EQ(up.at("twin").at("temperature").at("metadata").at("type"), "int");
    EXPECT_FALSE(up.at("twin").as_object().contains("switch"));  // only what changed
    auto msg = hub_->with("device/default/thermo/twin/edge_updated")[0];
    EXPECT_EQ(msg.source(), "twin");
    EXPECT_EQ(msg.group(), "twin");
    // Acked: nothing pending, in memory or on disk.
    ASSERT_TRUE(wait_until([&] { return twin_stats().pending == 0; }, 5s));
    ASSERT_TRUE(wait_until(
        [&] { return !query("SELECT content FROM kedge_twin_pending").has_value(); }, 5s));

    // The same value again changes nothing and sends nothing more.
    mqtt(kUpdate, report("temperature", "25", "ev-2"));
    ASSERT_TRUE(wait_until([&] { return published(kUpdate + "/result").size() == 2; }, 5s));
    EXPECT_EQ(published(kUpdate + "/document").size(), 1u);
    EXPECT_EQ(sent_up("device/default/thermo/twin/edge_updated").size(), 1u);

    // twin/get answers with the whole twin.
    mqtt("$hw/events/device/default/thermo/twin/get", R"({"event_id":"g"})");
    ASSERT_TRUE(wait_until(
        [&] { return !published("$hw/events/device/default/thermo/twin/get/result").empty(); },
        5s));
    auto get = published("$hw/events/device/default/thermo/twin/get/result")[0];
    EXPECT_EQ(get.at("twin").at("temperature").at("actual").at("value"), "25");
    EXPECT_EQ(get.at("twin").at("temperature").at("expected").at("value"), "20");
}

TEST_F(DeviceTwinTest, BadReportsGet400AndChangeNothingWhileOtherDevicesWork) {
    membership(json::array{member(kThermo), member("default/other")});
    ASSERT_TRUE(wait_until([&] { return twin_stats().devices == 2; }, 5s));
    const std::string bad[] = {
        report("pressure", "3"),       // no such property
        report("temperature", "hot"),  // not an int
        report("temperature", "2 5"),  // breaks the value pattern
        "{\"twin\": {",                // not JSON
        R"({"event_id":"x","twin":{"temperature":{"actual":{"value":25}}}})",  // not a string
    };
    for (const auto& payload : bad) mqtt(kUpdate, payload);
    ASSERT_TRUE(wait_until([&] { return published(kUpdate + "/result").size() == 5; }, 5s));
    auto results = published(kUpdate + "/result");
    for (const auto& r : results) {
        EXPECT_EQ(r.at("code"), 400) << json::serialize(r);
        EXPECT_FALSE(r.at("reason").as_string().empty());
    }
    EXPECT_NE(std::string(results[0].at("reason").as_string()).find("pressure"), std::string::npos);
    EXPECT_NE(std::string(results[1].at("reason").as_string()).find("not an int"),
              std::string::npos);
    EXPECT_EQ(twin_stats().bad_reports, 5u);
    EXPECT_EQ(twin_column(kThermo, "temperature", "actual"), "");
    EXPECT_TRUE(published(kUpdate + "/document").empty());
    EXPECT_TRUE(hub_->with("device/default/thermo/twin/edge_updated").empty());

    // A report mixing a good and a bad property changes nothing either.
    mqtt(kUpdate, R"({"event_id":"mix","twin":{"temperature":{"actual":{"value":"30"}},
                     "switch":{"actual":{"value":"maybe"}}}})");
    ASSERT_TRUE(wait_until([&] { return published(kUpdate + "/result").size() == 6; }, 5s));
    EXPECT_EQ(twin_column(kThermo, "temperature", "actual"), "");

    mqtt("$hw/events/device/default/other/twin/update", report("switch", "true"));
    ASSERT_TRUE(
        wait_until([&] { return twin_column("default/other", "switch", "actual") == "true"; }, 5s));
}

TEST_F(DeviceTwinTest, ReportsMadeOfflineAreKeptAcrossARestartAndSentOnConnect) {
    offline_ = true;  // the hub answers every request with "cloud not connected"
    membership(json::array{member(kThermo)});
    mqtt(kUpdate, report("temperature", "25"));
    mqtt(kUpdate, report("temperature", "26", "ev-2"));
    mqtt(kUpdate, report("switch", "true", "ev-3"));
    mqtt("$hw/events/device/default/thermo/state/update", R"({"event_id":"s","state":"online"})");
    ASSERT_TRUE(wait_until([&] { return twin_column(kThermo, "switch", "actual") == "true"; }, 5s));
    ASSERT_TRUE(
        wait_until([&] { return query("SELECT count(*) FROM kedge_twin_pending") == "2"; }, 5s));
    EXPECT_EQ(query("SELECT state FROM device"), "online");
    EXPECT_FALSE(query("SELECT last_online FROM device").value_or("").empty());

    restart_twin();
    EXPECT_EQ(twin_stats().pending, 2u);  // loaded from the database
    offline_ = false;
    connection(kCloudConnected);
    ASSERT_TRUE(wait_until([&] { return twin_stats().pending == 0; }, 5s));
    ASSERT_TRUE(wait_until(
        [&] { return !query("SELECT content FROM kedge_twin_pending").has_value(); }, 5s));
    // Coalesced: one edge_updated with the latest value of each property.
    auto up = sent_up("device/default/thermo/twin/edge_updated");
    ASSERT_EQ(up.size(), 1u);
    EXPECT_EQ(up[0].at("twin").at("temperature").at("actual").at("value"), "26");
    EXPECT_EQ(up[0].at("twin").at("switch").at("actual").at("value"), "true");
    auto state = sent_up("device/default/thermo/state/update");
    ASSERT_EQ(state.size(), 1u);
    EXPECT_EQ(state[0].at("state"), "online");
    EXPECT_FALSE(state[0].at("last_online").as_string().empty());
    // The twin survived the restart too.
    EXPECT_EQ(twin_column(kThermo, "temperature", "actual"), "26");
}

TEST_F(DeviceTwinTest, AReportTheCloudDoesNotAnswerIsRetried) {
    membership(json::array{member(kThermo)});
    std::atomic<int> asked{0};
    hub_->answer = [&](const bus::Message& m) -> std::optional<bus::Message> {
        if (m.resource().ends_with("edge_updated") && asked++ == 0) return std::nullopt;  // lost
        return bus::make_response(m, bus::Content::from_string("OK"));
    };
    connection(kCloudConnected);
    mqtt(kUpdate, report("temperature", "25"));
    // The first try times out (cloud_timeout 2 s); the resend timer sends it again.
    ASSERT_TRUE(wait_until([&] { return twin_stats().pending == 0 && asked >= 2; }, 10s));
    EXPECT_GE(sent_up("device/default/thermo/twin/edge_updated").size(), 2u);
}

TEST_F(DeviceTwinTest, ARefusedReportIsRetriedAFewTimesThenDropped) {
    membership(json::array{member(kThermo), member("default/other")});
    std::atomic<int> refusals{0};
    hub_->answer = [&](const bus::Message& m) -> std::optional<bus::Message> {
        // The cloud is not ready for thermo twice, and never takes reports of "other".
        if (m.resource().find("/thermo/") != std::string::npos && refusals++ < 2)
            return bus::make_error_response(
                m, bus::Content::from_string("device controller not ready; retry later"));
        if (m.resource().find("/other/") != std::string::npos)
            return bus::make_error_response(m, bus::Content::from_string("no such device"));
        return bus::make_response(m, bus::Content::from_string("OK"));
    };
    connection(kCloudConnected);
    mqtt(kUpdate, report("temperature", "25"));
    mqtt("$hw/events/device/default/other/twin/update", report("temperature", "26"));
    ASSERT_TRUE(wait_until(
        [&] {
            auto st = twin_stats();
            return st.sent_to_cloud == 1 && st.refused_by_cloud == 1 && st.pending == 0;
        },
        10s));
    EXPECT_EQ(sent_up("device/default/thermo/twin/edge_updated").size(), 3u);
    EXPECT_EQ(sent_up("device/default/other/twin/edge_updated").size(), 5u);
}

TEST_F(DeviceTwinTest, MembershipDetailOnConnectReconcilesTheDeviceList) {
    membership(json::array{member(kThermo), member("default/stale")});
    ASSERT_TRUE(wait_until([&] { return twin_stats().devices == 2; }, 5s));
    hub_->answer = [](const bus::Message& m) -> std::optional<bus::Message> {
        if (m.resource() == "membership/detail") {
            auto fresh = member("default/fresh");
            auto thermo = member(kThermo);
            thermo["twin"].as_object()["temperature"].as_object()["expected"].as_object()["value"] =
                "22";
            json::object c{{"event_id", ""},
                           {"timestamp", 1},
                           {"devices", json::array{std::move(thermo), std::move(fresh)}}};
            return bus::make_response(m, bus::Content::encoded(std::move(c)));
        }
        return bus::make_response(m, bus::Content::from_string("OK"));
    };
    connection(kCloudConnected);
    ASSERT_TRUE(wait_until(
        [&] {
            return query("SELECT count(*) FROM device WHERE id='default/fresh'") == "1" &&
                   query("SELECT count(*) FROM device WHERE id='default/stale'") == "0";
        },
        5s));
    auto detail = hub_->with("membership/detail");
    ASSERT_EQ(detail.size(), 1u);
    EXPECT_EQ(detail[0].operation(), "get");
    EXPECT_EQ(detail[0].source(), "twin");
    ASSERT_TRUE(
        wait_until([&] { return twin_column(kThermo, "temperature", "expected") == "22"; }, 5s));
    EXPECT_EQ(twin_column(kThermo, "temperature", "expected_version"), "{\"cloud\":2,\"edge\":0}");
    // The new desired value is announced to the device.
    ASSERT_TRUE(wait_until(
        [&] { return !published("$hw/events/device/default/thermo/twin/update/delta").empty(); },
        5s));
    auto delta = published("$hw/events/device/default/thermo/twin/update/delta").back();
    EXPECT_EQ(delta.at("delta").at("temperature"), "22");
}

TEST_F(DeviceTwinTest, AnAnswerWithoutADeviceListRemovesNothing) {
    membership(json::array{member(kThermo)});
    connection(kCloudConnected);  // the fake cloud answers the detail request with "OK"
    ASSERT_TRUE(wait_until([&] { return !hub_->with("membership/detail").empty(); }, 5s));
    std::this_thread::sleep_for(200ms);  // let a wrong reconcile show itself
    EXPECT_EQ(query("SELECT id FROM device"), kThermo);
}

}  // namespace
}  // namespace kedge::edge::devicetwin::test
