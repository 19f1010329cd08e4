#include "edge/eventbus/event_bus.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <atomic>
#include <chrono>
#include <mutex>
#include <optional>
#include <set>

#include "base/log.hpp"
#include "bus/constants.hpp"
#include "bus/context.hpp"
#include "edge/eventbus/sub_topics.hpp"
#include "mqtt/mqtt_client.hpp"
#include "net/run_blocking.hpp"

namespace kedge::edge {

namespace asio = boost::asio;

namespace {

// Subscriptions ask for at-least-once delivery, as upstream does: a device report must not be
// lost between the broker and the twin.
constexpr int kSubscribeQos = 1;
constexpr std::chrono::seconds kLogInterval{10};
// What the edge hub sends when the cloud link changes (edge_hub.hpp; not included here to keep
// the event bus free of the hub's dependencies).
constexpr std::string_view kConnectionResource = "node/connection";
constexpr std::string_view kConnectionSource = "edgehub";
// Upstream's source for messages the event bus sends up: the cloud router keys on it.
constexpr std::string_view kUploadSource = "bus";

// Topics whose messages belong to the device twin; the rest goes to the cloud.
bool is_twin_topic(std::string_view topic) {
    return topic.starts_with("$hw/events/device") || topic.starts_with("$hw/events/node");
}

// At most one log line per interval; counts what it suppressed in between. Thread-safe.
class RateLimit {
public:
    // The number of events since the last line (>= 1) when a line is due now, otherwise 0.
    std::uint64_t due() {
        std::lock_guard lock(mu_);
        ++pending_;
        auto now = std::chrono::steady_clock::now();
        if (logged_once_ && now - last_ < kLogInterval) return 0;
        logged_once_ = true;
        last_ = now;
        return std::exchange(pending_, 0);
    }

private:
    std::mutex mu_;
    bool logged_once_ = false;
    std::chrono::steady_clock::time_point last_{};
    std::uint64_t pending_ = 0;
};

}  // namespace

std::vector<std::string> default_event_bus_topics() {
    return {"$hw/events/device/+/+/twin/update",
            "$hw/events/device/+/+/twin/get",
            "$hw/events/device/+/+/state/update",
            "$hw/events/node/+/membership/get",
            "$hw/events/upload/#",
            "SYS/dis/upload_records"};
}

struct EventBus::Impl : std::enable_shared_from_this<EventBus::Impl> {
    EventBusOptions options;
    std::shared_ptr<spdlog::logger> log = log::get("eventbus");
    std::atomic<bus::Context*> ctx{nullptr};

    std::atomic<std::uint64_t> received{0}, published{0}, dropped{0}, publish_errors{0},
        undeliverable{0};
    RateLimit drop_log, error_log, undeliverable_log;

    mutable std::mutex subs_mu;
    std::set<std::string> subscriptions;  // guarded by subs_mu (for stats and logs)

    // SQLite work (sub_topics) runs here, never on the I/O thread.
    asio::thread_pool worker{1};
    std::optional<SubTopicStore> store;  // worker-owned
    bool store_failed_logged = false;    // worker-owned

    // Declared last: destroyed (stopped, network thread joined) before everything above.
    std::unique_ptr<mqtt::Client> client;

    explicit Impl(EventBusOptions o) : options(std::move(o)) {}

    ~Impl() {
        client.reset();
        worker.join();
    }

    // ---- MQTT -> bus (network thread) ----

    void on_mqtt_message(std::string topic, std::string payload) {
        auto* c = ctx.load();
        if (!c) return;
        bool twin = is_twin_topic(topic);
        auto msg =
            twin ? bus::Message::make(std::string(bus::kModuleEventBus),
                                      std::string(bus::kGroupTwin), std::string(bus::kOpPublish),
                                      topic, bus::Content::from_string(payload))
                 : bus::Message::make(std::string(kUploadSource), std::string(bus::kGroupUser),
                                      std::string(bus::kOpUpload), topic,
                                      bus::Content::from_string(payload));
        auto target = twin ? bus::kModuleTwin : bus::kModuleEdgeHub;
        if (auto r = c->send(target, std::move(msg)); r) {
            received.fetch_add(1);
        } else {
            undeliverable.fetch_add(1);
            if (auto n = undeliverable_log.due())
                log->warn(
                    "{}: MQTT message on {} not delivered to {}: {} ({} undelivered since "
                    "the last report)",
                    options.node, topic, target, r.error().message(), n);
        }
    }

    // ---- bus -> MQTT (bus loop) ----

    asio::awaitable<void> run() {
        auto self = shared_from_this();
        auto stored = co_await net::run_blocking(worker, [this] { return load_stored(); });
        std::vector<std::string> topics = default_event_bus_topics();
        topics.insert(topics.end(), stored.begin(), stored.end());
        for (const auto& t : topics) {
            if (auto r = client->subscribe(t, kSubscribeQos); !r) {
                log->warn("{}: not subscribing {}: {}", options.node, t, r.error().message());
                continue;
            }
            std::lock_guard lock(subs_mu);
            subscriptions.insert(t);
        }
        if (auto r = client->start(); !r) {
            // Only after stop(): the module is shutting down before it got going.
            log->debug("{}: MQTT client not started: {}", options.node, r.error().message());
            co_return;
        }
        log->info("{}: event bus using MQTT broker {} ({} topics, {} restored from sub_topics)",
                  options.node, options.config.mqtt_server_external, topics.size(), stored.size());

        auto* c = ctx.load();
        for (;;) {
            auto next = co_await c->receive(std::string(bus::kModuleEventBus));
            if (!next) {
                if (!next.error().is(errc::closed))
                    log->warn("{}: receive: {}", options.node, next.error().message());
                co_return;
            }
            co_await dispatch(std::move(*next));
        }
    }

    asio::awaitable<void> dispatch(bus::Message m) {
        if (m.resource() == kConnectionResource && m.source() == kConnectionSource) {
            // The cloud link does not change anything between the edge and its broker.
            auto state = m.content.as_string();
            log->debug("{}: {}", options.node, state ? *state : std::string("connection change"));
            co_return;
        }
        const auto& op = m.operation();
        if (op == bus::kOpPublish) {
            publish(m);
        } else if (op == bus::kOpSubscribe) {
            co_await subscribe(m.resource());
        } else if (op == bus::kOpUnsubscribe) {
            co_await unsubscribe(m.resource());
        } else {
            log->debug("{}: ignoring {} {} from {}", options.node, op, m.resource(), m.source());
        }
    }

    // The bytes to publish: a JSON string's value (what modules and the cloud router send),
    // any other JSON as its text.
    static std::string payload_of(const bus::Content& content) {
        if (content.is_null()) return {};
        if (auto s = content.as_string()) return std::move(*s);
        return content.to_json();
    }

    void publish(const bus::Message& m) {
        const auto& topic = m.resource();
        auto r = client->publish(topic, payload_of(m.content), options.config.mqtt_qos,
                                 options.config.mqtt_retain);
        if (r) {
            published.fetch_add(1);
            return;
        }
        if (r.error().is(errc::unavailable)) {
            dropped.fetch_add(1);
            if (auto n = drop_log.due())
                log->debug(
                    "{}: MQTT broker not connected, dropped {} publish(es) (latest on {} "
                    "from {})",
                    options.node, n, topic, m.source());
            return;
        }
        publish_errors.fetch_add(1);
        if (auto n = error_log.due())
            log->warn("{}: cannot publish {} from {}: {} ({} failed since the last report)",
                      options.node, topic, m.source(), r.error().message(), n);
    }

    asio::awaitable<void> subscribe(std::string filter) {
        if (auto r = client->subscribe(filter, kSubscribeQos); !r) {
            log->warn("{}: not subscribing {}: {}", options.node, filter, r.error().message());
            co_return;
        }
        {
            std::lock_guard lock(subs_mu);
            subscriptions.insert(filter);
        }
        log->info("{}: subscribed {}", options.node, filter);
        co_await net::run_blocking(worker, [this, filter] {
            with_store([&](SubTopicStore& s) { return s.add(filter); }, "storing", filter);
            return 0;
        });
    }

    asio::awaitable<void> unsubscribe(std::string filter) {
        client->unsubscribe(filter);
        {
            std::lock_guard lock(subs_mu);
            subscriptions.erase(filter);
        }
        log->info("{}: unsubscribed {}", options.node, filter);
        co_await net::run_blocking(worker, [this, filter] {
            with_store([&](SubTopicStore& s) { return s.remove(filter); }, "removing", filter);
            return 0;
        });
    }

    // ---- sub_topics (worker) ----

    bool ensure_store() {
        if (store) return true;
        auto s = SubTopicStore::open(options.database);
        if (!s) {
            if (!store_failed_logged)
                log->error("{}: subscriptions will not survive a restart: {}", options.node,
                           s.error().message());
            store_failed_logged = true;
            return false;
        }
        store.emplace(std::move(*s));
        return true;
    }

    std::vector<std::string> load_stored() {
        if (!ensure_store()) return {};
        auto topics = store->list();
        if (!topics) {
            log->error("{}: cannot read sub_topics: {}", options.node, topics.error().message());
            return {};
        }
        return std::move(*topics);
    }

    template <class F>
    void with_store(F&& f, const char* what, const std::string& filter) {
        if (!ensure_store()) return;
        if (auto r = f(*store); !r)
            log->error("{}: {} subscription {} in sub_topics failed: {}", options.node, what,
                       filter, r.error().message());
    }
};

Result<std::shared_ptr<EventBus>> EventBus::make(EventBusOptions options) {
    const auto& cfg = options.config;
    auto log = log::get("eventbus");
    if (cfg.mqtt_mode != kMqttModeExternal)
        log->warn(
            "modules.eventBus.mqttMode {} asks for the internal MQTT broker, which kedge "
            "does not embed; using the external broker {} (mqttServerExternal)",
            cfg.mqtt_mode, cfg.mqtt_server_external);

    mqtt::ClientOptions co;
    co.server = cfg.mqtt_server_external;
    co.client_id =
        !cfg.mqtt_sub_client_id.empty() ? cfg.mqtt_sub_client_id : cfg.mqtt_pub_client_id;
    co.username = cfg.mqtt_username;
    co.password = cfg.mqtt_password;
    co.max_payload = options.max_payload;
    if (cfg.event_bus_tls.enable)
        co.tls =
            mqtt::TlsFiles{cfg.event_bus_tls.tls_mqtt_ca_file, cfg.event_bus_tls.tls_mqtt_cert_file,
                           cfg.event_bus_tls.tls_mqtt_private_key_file};
    auto client = mqtt::Client::make(std::move(co));
    if (!client) {
        bool tls = client.error().detail.find("TLS") != std::string::npos;
        return Error{errc::invalid_argument,
                     std::string(tls ? "modules.eventBus.eventBusTLS: "
                                     : "modules.eventBus.mqttServerExternal: ") +
                         client.error().detail};
    }

    auto impl = std::make_shared<Impl>(std::move(options));
    impl->client = std::move(*client);
    Impl* raw = impl.get();  // the client (owned by impl) is stopped before impl goes away
    impl->client->on_message([raw](std::string topic, std::string payload) {
        raw->on_mqtt_message(std::move(topic), std::move(payload));
    });
    return std::shared_ptr<EventBus>(new EventBus(std::move(impl)));
}

EventBus::EventBus(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}

EventBus::~EventBus() { stop(); }

std::string EventBus::name() const { return std::string(bus::kModuleEventBus); }
std::string EventBus::group() const { return std::string(bus::kGroupBus); }

void EventBus::start(bus::Context& ctx) {
    impl_->ctx.store(&ctx);
    asio::co_spawn(ctx.get_executor(), impl_->run(), log::log_exceptions(impl_->log, "event bus loop"));
}

void EventBus::stop() { impl_->client->stop(); }

bool EventBus::connected() const { return impl_->client->connected(); }

EventBusStats EventBus::stats() const {
    EventBusStats s;
    s.connected = impl_->client->connected();
    s.received = impl_->received.load();
    s.published = impl_->published.load();
    s.dropped = impl_->dropped.load();
    s.publish_errors = impl_->publish_errors.load();
    s.undeliverable = impl_->undeliverable.load();
    std::lock_guard lock(impl_->subs_mu);
    s.subscriptions = impl_->subscriptions.size();
    return s;
}

}  // namespace kedge::edge
