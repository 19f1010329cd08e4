#include <gtest/gtest.h>

#include "mqtt/mqtt_client.hpp"

namespace kedge::mqtt {
namespace {

struct Case {
    const char* filter;
    const char* topic;
    bool matches;
};

// MQTT 3.1.1 §4.7 examples plus the event bus's own filters.
constexpr Case kCases[] = {
    {"a/b", "a/b", true},
    {"a/b", "a/c", false},
    {"a/b", "a/b/c", false},
    {"a/b/c", "a/b", false},
    {"sport/tennis/player1/#", "sport/tennis/player1", true},
    {"sport/tennis/player1/#", "sport/tennis/player1/ranking", true},
    {"sport/tennis/player1/#", "sport/tennis/player1/score/wimbledon", true},
    {"sport/#", "sport", true},
    {"#", "sport/tennis", true},
    {"#", "/", true},
    {"sport/tennis/+", "sport/tennis/player1", true},
    {"sport/tennis/+", "sport/tennis/player1/ranking", false},
    {"sport/+", "sport", false},
    {"sport/+", "sport/", true},
    {"+/+", "/finance", true},
    {"/+", "/finance", true},
    {"+", "/finance", false},
    {"+/tennis/#", "sport/tennis/x/y", true},
    // A leading wildcard never matches "$" topics; an explicit "$..." level does.
    {"#", "$SYS/broker/load", false},
    {"+/monitor/Clients", "$SYS/monitor/Clients", false},
    {"$SYS/#", "$SYS/monitor/Clients", true},
    {"$SYS/monitor/+", "$SYS/monitor/Clients", true},
    // Invalid filters match nothing.
    {"sport/tennis#", "sport/tennis", false},
    {"sport/#/ranking", "sport/x/ranking", false},
    {"sport+", "sport", false},
    {"", "a", false},
    // Topic names cannot contain wildcards.
    {"a/+", "a/+", false},
    {"#", "a/#", false},
    {"a", "", false},
    // The event bus's subscriptions.
    {"$hw/events/device/+/+/twin/update", "$hw/events/device/default/thermo/twin/update", true},
    {"$hw/events/device/+/+/twin/update", "$hw/events/device/default/thermo/twin/update/result",
     false},
    {"$hw/events/device/+/+/twin/get", "$hw/events/device/ns/d/twin/get", true},
    {"$hw/events/node/+/membership/get", "$hw/events/node/edge1/membership/get", true},
    {"$hw/events/upload/#", "$hw/events/upload/a/b", true},
    {"$hw/events/upload/#", "$hw/events/upload", true},
    {"SYS/dis/upload_records", "SYS/dis/upload_records", true},
};

TEST(TopicMatches, Table) {
    for (const auto& c : kCases)
        EXPECT_EQ(topic_matches(c.filter, c.topic), c.matches)
            << "filter \"" << c.filter << "\" topic \"" << c.topic << "\"";
}

}  // namespace
}  // namespace kedge::mqtt
