#pragma once
// An MQTT 3.1.1 client for the edge (event bus) and mappers (push method): a small facade over
// libmosquitto that connects in the background, reconnects with back-off forever, and re-sends
// its subscriptions on every (re)connect. No Asio here: handlers run on the client's network
// thread, so a user with an event loop posts from them.

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "base/error.hpp"

namespace kedge::mqtt {

struct TlsFiles {
    std::string ca_file, cert_file, key_file;
};

struct ClientOptions {
    // tcp://host:port, mqtt://host:port (plain) or ssl://host:port, mqtts://host:port (TLS).
    std::string server = "tcp://127.0.0.1:1883";
    // Empty: a random one ("kedge-<uuid>"). The broker drops an older session with the same id.
    std::string client_id;
    std::string username, password;
    std::chrono::seconds keepalive{30};
    bool clean_session = true;
    std::chrono::milliseconds reconnect_min{1000}, reconnect_max{30000};
    std::optional<TlsFiles> tls;
    // Publishes larger than this are refused with too_large; received ones are dropped with a
    // warning.
    std::size_t max_payload = 1 << 20;
};

// One connection to one broker. Thread-safe.
class Client {
  public:
    using MessageHandler = std::function<void(std::string topic, std::string payload)>;
    using ConnectionHandler = std::function<void(bool connected)>;

    // invalid_argument for a bad server URL or TLS files that cannot be read.
    static Result<std::unique_ptr<Client>> make(ClientOptions options);
    virtual ~Client() = default;

    // Set before start(); called on the network thread.
    virtual void on_message(MessageHandler handler) = 0;
    virtual void on_connection(ConnectionHandler handler) = 0;

    // Starts the network thread; connecting happens in the background (a broker that is not
    // up yet is retried with back-off, logged once per outage).
    virtual Result<void> start() = 0;
    // Disconnects and joins the network thread. Idempotent; also done by the destructor.
    virtual void stop() = 0;

    // Remembered, sent now when connected and again after every reconnect.
    virtual Result<void> subscribe(std::string filter, int qos) = 0;
    virtual void unsubscribe(const std::string& filter) = 0;
    // unavailable when not connected (the caller decides whether to keep it), too_large,
    // invalid_argument for a topic with wildcards.
    virtual Result<void> publish(std::string_view topic, std::string_view payload, int qos,
                                 bool retain) = 0;
    virtual bool connected() const = 0;
};

// MQTT topic filter matching ('+' one level, '#' the rest), for routing received messages.
bool topic_matches(std::string_view filter, std::string_view topic);

}  // namespace kedge::mqtt
