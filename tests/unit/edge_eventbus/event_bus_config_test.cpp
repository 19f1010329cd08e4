#include <gtest/gtest.h>

#include "base/log.hpp"
#include "edge/eventbus/event_bus.hpp"
#include "support/log_capture.hpp"
#include "support/test_support.hpp"

namespace kedge::edge {
namespace {

TEST(EventBusConfig, BadBrokerUrlNamesTheKey) {
    test::TempDir dir;
    EventBusConfig cfg;
    cfg.mqtt_server_external = "127.0.0.1:1883";
    auto eb = EventBus::make({.node = "n", .database = dir.file("db"), .config = cfg});
    ASSERT_FALSE(eb);
    EXPECT_TRUE(eb.error().is(errc::invalid_argument));
    EXPECT_NE(eb.error().detail.find("modules.eventBus.mqttServerExternal"), std::string::npos)
        << eb.error().detail;
}

TEST(EventBusConfig, UnreadableTlsFilesNameTheKey) {
    test::TempDir dir;
    EventBusConfig cfg;
    cfg.event_bus_tls.enable = true;
    cfg.event_bus_tls.tls_mqtt_ca_file = dir.file("missing-ca.crt");
    auto eb = EventBus::make({.node = "n", .database = dir.file("db"), .config = cfg});
    ASSERT_FALSE(eb);
    EXPECT_NE(eb.error().detail.find("modules.eventBus.eventBusTLS"), std::string::npos)
        << eb.error().detail;
    EXPECT_NE(eb.error().detail.find("missing-ca.crt"), std::string::npos) << eb.error().detail;
}

TEST(EventBusConfig, InternalBrokerModesWarnAndFallBackToTheExternalOne) {
    test::TempDir dir;
    test::LoggerCapture logs(log::get("eventbus"));
    EventBusConfig cfg;
    cfg.mqtt_mode = kMqttModeBoth;
    cfg.mqtt_password = "do-not-log-me";
    auto eb = EventBus::make({.node = "n", .database = dir.file("db"), .config = cfg});
    ASSERT_TRUE(eb) << eb.error().message();
    EXPECT_NE(logs.text().find("does not embed"), std::string::npos) << logs.text();
    EXPECT_EQ(logs.text().find("do-not-log-me"), std::string::npos) << logs.text();
    EXPECT_EQ((*eb)->name(), "eventbus");
    EXPECT_EQ((*eb)->group(), "bus");
    EXPECT_FALSE((*eb)->stats().connected);
}

TEST(EventBusConfig, DefaultTopicsAreTheDesignsList) {
    auto topics = default_event_bus_topics();
    for (const char* want :
         {"$hw/events/device/+/+/twin/update", "$hw/events/device/+/+/twin/get",
          "$hw/events/device/+/+/state/update", "$hw/events/node/+/membership/get",
          "$hw/events/upload/#", "SYS/dis/upload_records"})
        EXPECT_NE(std::find(topics.begin(), topics.end(), want), topics.end()) << want;
}

}  // namespace
}  // namespace kedge::edge
