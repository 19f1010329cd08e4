// The event bus module on a real bus::Context against a real mosquitto, with recording modules
// in place of "twin" and the edge hub ("websocket"), and mosquitto_pub / mosquitto_sub as the
// devices on the other side.

#include <gtest/gtest.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "bus/constants.hpp"
#include "bus/context.hpp"
#include "edge/eventbus/event_bus.hpp"
#include "edge/eventbus/sub_topics.hpp"
#include "support/bus_modules.hpp"
#include "support/coro.hpp"
#include "support/mosquitto.hpp"
#include "support/test_support.hpp"

namespace kedge::edge {
namespace {

using namespace std::chrono_literals;

constexpr const char* kThermoUpdate = "$hw/events/device/default/thermo/twin/update";

// One edgecore's bus: a Context on its own thread with twin, websocket and eventbus.
struct Edge {
    test::IoThread io;
    bus::Context ctx{io.executor()};
    std::shared_ptr<EventBus> eventbus;
    std::vector<bus::Message> twin_seen, hub_seen;

    Edge(const test::Mosquitto& broker, const std::string& db, EventBusConfig cfg = {}) {
        cfg.mqtt_server_external = broker.url();
        auto eb = EventBus::make({.node = "edge-1", .database = db, .config = cfg});
        if (!eb) throw std::runtime_error(eb.error().message());
        eventbus = *eb;
        ctx.add_module(std::make_shared<kedge::test::QueueOnlyModule>("twin", "twin")).value();
        ctx.add_module(std::make_shared<kedge::test::QueueOnlyModule>("websocket", "hub")).value();
        ctx.add_module(eventbus).value();
        ctx.start_modules();
    }
    ~Edge() { ctx.shutdown(); }

    void drain() {
        while (auto m = ctx.try_receive("twin")) twin_seen.push_back(std::move(*m));
        while (auto m = ctx.try_receive("websocket")) hub_seen.push_back(std::move(*m));
    }
    static std::optional<bus::Message> find(const std::vector<bus::Message>& seen,
                                            const std::string& resource,
                                            const std::string& payload) {
        for (const auto& m : seen)
            if (m.resource() == resource && m.content.string_equals(payload)) return m;
        return std::nullopt;
    }
    // Publishes with mosquitto_pub until the message reaches twin (or the hub).
    std::optional<bus::Message> pub_until_twin_gets(const test::Mosquitto& broker,
                                                    const std::string& topic,
                                                    const std::string& payload) {
        return pub_until(broker, topic, payload, twin_seen);
    }
    std::optional<bus::Message> pub_until_hub_gets(const test::Mosquitto& broker,
                                                   const std::string& topic,
                                                   const std::string& payload) {
        return pub_until(broker, topic, payload, hub_seen);
    }
    bool wait_connected(std::chrono::milliseconds d = 10s) {
        return test::wait_until([&] { return eventbus->connected(); }, d);
    }
    void send(std::string source, std::string group, std::string op, std::string resource,
              bus::Content content = {}) {
        ctx.send("eventbus", bus::Message::make(std::move(source), std::move(group), std::move(op),
                                                std::move(resource), std::move(content)))
            .value();
    }

private:
    std::optional<bus::Message> pub_until(const test::Mosquitto& broker, const std::string& topic,
                                          const std::string& payload,
                                          std::vector<bus::Message>& seen) {
        std::optional<bus::Message> got;
        test::wait_until([&] {
            broker.publish(topic, payload);
            drain();
            got = find(seen, topic, payload);
            return got.has_value();
        });
        return got;
    }
};

class EventBusTest : public ::testing::Test {
protected:
    test::TempDir dir;
    std::string db = dir.file("var/edgecore.db");
    test::Mosquitto broker{dir.path()};
};

TEST_F(EventBusTest, DeviceReportReachesTheTwin) {
    Edge edge(broker, db);
    ASSERT_TRUE(edge.wait_connected()) << broker.log();
    const std::string payload =
        R"({"event_id":"e1","timestamp":1700000000000,"twin":{"temperature":{"actual":{"value":"21"}}}})";
    auto m = edge.pub_until_twin_gets(broker, kThermoUpdate, payload);
    ASSERT_TRUE(m) << "twin got nothing on " << kThermoUpdate;
    EXPECT_EQ(m->source(), "eventbus");
    EXPECT_EQ(m->group(), "twin");
    EXPECT_EQ(m->operation(), "publish");
    // The payload travels as a JSON string, byte for byte.
    ASSERT_TRUE(m->content.is_string());
    EXPECT_EQ(m->content.as_string().value(), payload);
    EXPECT_TRUE(edge.hub_seen.empty());
    EXPECT_GE(edge.eventbus->stats().received, 1u);

    // The other built-in twin topics arrive too; a topic nobody subscribed does not.
    EXPECT_TRUE(edge.pub_until_twin_gets(broker, "$hw/events/node/edge-1/membership/get", "{}"));
    EXPECT_TRUE(edge.pub_until_twin_gets(broker, "$hw/events/device/ns/d/state/update", "{}"));
    broker.publish("$hw/events/device/default/thermo/twin/update/result", "{}");
    EXPECT_TRUE(edge.pub_until_twin_gets(broker, "$hw/events/device/ns/d/twin/get", "{}"));
    edge.drain();
    EXPECT_FALSE(
        Edge::find(edge.twin_seen, "$hw/events/device/default/thermo/twin/update/result", "{}"));
}

TEST_F(EventBusTest, UploadsGoToTheCloudThroughTheHub) {
    Edge edge(broker, db);
    ASSERT_TRUE(edge.wait_connected());
    auto m = edge.pub_until_hub_gets(broker, "$hw/events/upload/sensor1", "42");
    ASSERT_TRUE(m);
    EXPECT_EQ(m->group(), "user");
    EXPECT_EQ(m->operation(), "upload");
    EXPECT_EQ(m->source(), "bus");  // upstream's cloud router keys its listeners on it
    EXPECT_TRUE(edge.pub_until_hub_gets(broker, "SYS/dis/upload_records", "r"));
    edge.drain();
    EXPECT_FALSE(Edge::find(edge.twin_seen, "$hw/events/upload/sensor1", "42"));
}

TEST_F(EventBusTest, TwinAndCloudPublishesReachMqttWithTheConfiguredQosAndRetain) {
    EventBusConfig cfg;
    cfg.mqtt_qos = 1;
    cfg.mqtt_retain = true;
    Edge edge(broker, db, cfg);
    ASSERT_TRUE(edge.wait_connected());

    test::MosquittoSub sub(broker, dir.path(), "$hw/events/device/#", "-q 1");
    const std::string result = R"({"event_id":"e1","timestamp":1})";
    edge.send("twin", "bus", "publish", "$hw/events/device/default/thermo/twin/update/result",
              bus::Content::from_string(result));
    ASSERT_TRUE(sub.wait_for_line("$hw/events/device/default/thermo/twin/update/result " + result))
        << sub.output();
    EXPECT_NE(sub.output().find("received PUBLISH (d0, q1"), std::string::npos) << sub.output();

    // What the cloud's router sends (edgehub routes group "user" to the event bus).
    edge.send("router_eventbus", "user", "publish", "$hw/events/device/ns/d/updated",
              bus::Content::from_string("from-cloud"));
    ASSERT_TRUE(sub.wait_for_line("$hw/events/device/ns/d/updated from-cloud")) << sub.output();
    // JSON content that is not a string is published as its text.
    edge.send("twin", "bus", "publish", "$hw/events/device/ns/d/doc",
              bus::Content::from_json(R"({"a":1})").value());
    ASSERT_TRUE(sub.wait_for_line(R"($hw/events/device/ns/d/doc {"a":1})")) << sub.output();

    // Retained: a subscriber that comes later still gets the last result.
    test::MosquittoSub late(broker, dir.path(),
                            "$hw/events/device/default/thermo/twin/update/result");
    EXPECT_TRUE(
        late.wait_for_line("$hw/events/device/default/thermo/twin/update/result " + result));
    EXPECT_EQ(edge.eventbus->stats().published, 3u);

    // The hub's connection notices are not publishes.
    edge.send("edgehub", "resource", "publish", "node/connection",
              bus::Content::from_string("cloud_connected"));
    edge.send("twin", "bus", "publish", "$hw/events/device/ns/d/after",
              bus::Content::from_string("x"));
    ASSERT_TRUE(sub.wait_for_line("$hw/events/device/ns/d/after x"));
    EXPECT_EQ(edge.eventbus->stats().published, 4u);
}

TEST_F(EventBusTest, SubscriptionsSurviveAModuleRestartAndUnsubscribeForgetsThem) {
    {
        Edge edge(broker, db);
        ASSERT_TRUE(edge.wait_connected());
        edge.send("router_eventbus", "user", "subscribe", "default/custom/#");
        EXPECT_TRUE(edge.pub_until_hub_gets(broker, "default/custom/a", "1"));
        EXPECT_EQ(edge.eventbus->stats().subscriptions, default_event_bus_topics().size() + 1);
    }
    {
        auto store = SubTopicStore::open(db).value();
        EXPECT_EQ(store.list().value(), std::vector<std::string>{"default/custom/#"});
    }
    {
        Edge edge(broker, db);  // a new process: only sub_topics remembers
        ASSERT_TRUE(edge.wait_connected());
        EXPECT_TRUE(edge.pub_until_hub_gets(broker, "default/custom/b", "2"));
        edge.send("router_eventbus", "user", "unsubscribe", "default/custom/#");
        // Ordering on one bus queue: after this publish goes out, the unsubscribe was handled.
        test::MosquittoSub sub(broker, dir.path(), "marker");
        edge.send("twin", "bus", "publish", "marker", bus::Content::from_string("m"));
        ASSERT_TRUE(sub.wait_for_line("marker m"));
        ASSERT_TRUE(test::wait_until([&] {
            auto store = SubTopicStore::open(db).value();
            return store.list().value().empty();
        }));
    }
}

TEST_F(EventBusTest, BrokerRestartResubscribesAndOutagesDropPublishes) {
    Edge edge(broker, db);
    ASSERT_TRUE(edge.wait_connected());
    edge.send("twin", "bus", "subscribe", "extra/topic");
    ASSERT_TRUE(edge.pub_until_hub_gets(broker, "extra/topic", "before"));

    broker.stop();
    ASSERT_TRUE(test::wait_until([&] { return !edge.eventbus->connected(); }));
    for (int i = 0; i < 5; ++i)
        edge.send("twin", "bus", "publish", "$hw/events/device/ns/d/twin/update/result",
                  bus::Content::from_string("lost"));
    ASSERT_TRUE(test::wait_until([&] { return edge.eventbus->stats().dropped == 5; }));
    EXPECT_FALSE(edge.eventbus->stats().connected);

    broker.start();  // no persistence: it forgot every subscription
    ASSERT_TRUE(edge.wait_connected(20s)) << broker.log();
    EXPECT_TRUE(edge.pub_until_twin_gets(broker, kThermoUpdate, "after"));
    EXPECT_TRUE(edge.pub_until_hub_gets(broker, "extra/topic", "after"));
}

TEST_F(EventBusTest, StartsWithoutABrokerAndConnectsWhenItComes) {
    broker.stop();
    EventBusConfig cfg;
    cfg.mqtt_mode = kMqttModeInternal;  // not embedded: warned about, external broker used
    Edge edge(broker, db, cfg);
    edge.send("twin", "bus", "publish", "a/b", bus::Content::from_string("x"));
    ASSERT_TRUE(test::wait_until([&] { return edge.eventbus->stats().dropped == 1; }));
    broker.start();
    ASSERT_TRUE(edge.wait_connected(20s));
    EXPECT_TRUE(edge.pub_until_twin_gets(broker, kThermoUpdate, "hello"));
}

TEST_F(EventBusTest, StopDisconnectsFromTheBroker) {
    auto edge = std::make_unique<Edge>(broker, db);
    ASSERT_TRUE(edge->wait_connected());
    auto eb = edge->eventbus;
    edge.reset();  // Context::shutdown stops the module
    EXPECT_FALSE(eb->connected());
    EXPECT_TRUE(test::wait_until([&] {
        return broker.log().find(" disconnected.") != std::string::npos;
    })) << broker.log();
}

}  // namespace
}  // namespace kedge::edge
