#pragma once
// edgecore's event bus (upstream module "eventbus", group "bus"): the bridge between the
// in-process bus and the MQTT broker that devices and mappers use (modules.eventBus).
//
// From MQTT: messages on `$hw/events/device/...` and `$hw/events/node/...` go to module "twin"
// ({source "eventbus", group "twin", operation "publish", resource = the topic, content = the
// payload as a JSON string}); everything else it is subscribed to (`$hw/events/upload/#`,
// `SYS/dis/upload_records`, topics subscribed through the bus) goes up to the cloud through the
// hub ({source "bus", group "user", operation "upload", resource = the topic}, as upstream sends
// it: upstream's router keys its listeners on that source).
// To MQTT: operation "publish" (from edge modules, and from the cloud's router with group
// "user") publishes the content (a JSON string's value, or other JSON as text) on the topic in
// route.resource with modules.eventBus.mqttQOS / mqttRetain. Operations "subscribe" /
// "unsubscribe" (resource = filter) change the subscriptions, persisted in table
// `sub_topics(topic PK)` of the edgecore database and restored on every start and re-sent on
// every reconnect, together with the built-in topics.
//
// The broker being away never blocks anything: publishes while disconnected are dropped
// (counted, debug log at most every 10 s), and the MQTT client reconnects with back-off.
//
// Threads: the bus loop runs on the Context's executor; SQLite work runs on the module's own
// worker thread; MQTT messages are forwarded from the MQTT client's network thread
// (Context::send is thread-safe). stats() and connected() are safe from any thread.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "base/error.hpp"
#include "bus/module.hpp"
#include "edge/config/edgecore_config.hpp"

namespace kedge::edge {

// The filters the event bus always subscribes (PROTOCOL.md §9).
std::vector<std::string> default_event_bus_topics();

struct EventBusOptions {
    std::string node;       // for log lines
    std::string database;   // modules.database.dataSource: the edgecore SQLite file
    EventBusConfig config;  // modules.eventBus
    // MQTT payloads larger than this are neither published nor forwarded.
    std::size_t max_payload = 1 << 20;
};

// Counters for /metrics.
struct EventBusStats {
    bool connected = false;
    std::uint64_t received = 0;        // MQTT messages forwarded to the bus
    std::uint64_t published = 0;       // bus messages published on MQTT
    std::uint64_t dropped = 0;         // publishes refused: broker not connected
    std::uint64_t publish_errors = 0;  // publishes refused for another reason (size, topic)
    std::uint64_t undeliverable = 0;   // MQTT messages the bus could not take (module off, full)
    std::size_t subscriptions = 0;
};

class EventBus : public bus::Module {
public:
    // invalid_argument naming the modules.eventBus key for a bad broker URL or unreadable TLS
    // files. Connecting happens later, in the background.
    static Result<std::shared_ptr<EventBus>> make(EventBusOptions options);
    ~EventBus() override;

    std::string name() const override;   // "eventbus"
    std::string group() const override;  // "bus"
    void start(bus::Context& ctx) override;
    // Stops the MQTT client (sends DISCONNECT) and the worker.
    void stop() override;

    bool connected() const;
    EventBusStats stats() const;

    struct Impl;

private:
    explicit EventBus(std::shared_ptr<Impl> impl);
    std::shared_ptr<Impl> impl_;
};

}  // namespace kedge::edge
