#include "mqtt/mqtt_client.hpp"

#include <mosquitto.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <condition_variable>
#include <cstring>
#include <map>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include "base/log.hpp"
#include "base/uuid.hpp"
#include "net/backoff.hpp"

namespace kedge::mqtt {

namespace {

// How long one mosquitto_loop() call waits for traffic. It bounds how late keepalive pings go
// out; stop() and publishes wake the loop at once through libmosquitto's socket pair.
constexpr int kLoopTimeoutMs = 500;
// Oversized received messages are reported at most this often (a chatty device must not flood
// the log).
constexpr std::chrono::seconds kDropLogInterval{10};
// After stop() asks for a DISCONNECT, the loop runs this many more rounds to send it.
constexpr int kDisconnectRounds = 10;
// A session that lasted this long was a working link: the next reconnect starts from
// reconnect_min again. Shorter ones (a broker that accepts and then kicks us, e.g. for a
// duplicate client id) keep backing off instead of reconnecting in a tight loop.
constexpr std::chrono::seconds kStableSession{10};

struct Endpoint {
    std::string host;
    int port = 0;
    bool tls = false;
};

std::string lower(std::string_view s) {
    std::string out(s);
    std::transform(out.begin(), out.end(), out.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return out;
}

Result<Endpoint> parse_server(std::string_view url) {
    auto sep = url.find("://");
    if (sep == std::string_view::npos)
        return Error{errc::invalid_argument,
                     "MQTT server \"" + std::string(url) +
                         "\" has no scheme (expected tcp://host:port or ssl://host:port)"};
    Endpoint ep;
    auto scheme = lower(url.substr(0, sep));
    if (scheme == "tcp" || scheme == "mqtt") {
        ep.tls = false;
    } else if (scheme == "ssl" || scheme == "mqtts" || scheme == "tls" || scheme == "tcps") {
        ep.tls = true;
    } else {
        return Error{errc::invalid_argument,
                     "MQTT server scheme \"" + scheme + "\" is not one of tcp, mqtt, ssl, mqtts"};
    }
    auto rest = url.substr(sep + 3);
    while (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
    // Never echo a URL that carries credentials: it would end up in logs.
    if (rest.find('@') != std::string_view::npos)
        return Error{errc::invalid_argument,
                     "MQTT server URL must not carry credentials; use the username and password "
                     "settings"};
    if (rest.find('/') != std::string_view::npos)
        return Error{errc::invalid_argument,
                     "MQTT server \"" + std::string(url) + "\" has a path; expected host:port"};

    std::string_view port_text;
    if (!rest.empty() && rest.front() == '[') {  // [IPv6]:port
        auto close = rest.find(']');
        if (close == std::string_view::npos)
            return Error{errc::invalid_argument,
                         "MQTT server \"" + std::string(url) + "\" has an unclosed '['"};
        ep.host = std::string(rest.substr(1, close - 1));
        auto after = rest.substr(close + 1);
        if (!after.empty()) {
            if (after.front() != ':')
                return Error{errc::invalid_argument,
                             "MQTT server \"" + std::string(url) + "\": junk after ']'"};
            port_text = after.substr(1);
        }
    } else {
        auto colon = rest.rfind(':');
        if (colon == std::string_view::npos) {
            ep.host = std::string(rest);
        } else {
            ep.host = std::string(rest.substr(0, colon));
            port_text = rest.substr(colon + 1);
        }
    }
    if (ep.host.empty())
        return Error{errc::invalid_argument,
                     "MQTT server \"" + std::string(url) + "\" has no host"};
    if (port_text.empty()) {
        ep.port = ep.tls ? 8883 : 1883;
    } else {
        auto [p, ec] =
            std::from_chars(port_text.data(), port_text.data() + port_text.size(), ep.port);
        if (ec != std::errc{} || p != port_text.data() + port_text.size() || ep.port < 1 ||
            ep.port > 65535)
            return Error{errc::invalid_argument, "MQTT server \"" + std::string(url) +
                                                     "\" has a bad port \"" +
                                                     std::string(port_text) + "\""};
    }
    return ep;
}

Result<void> check_readable(const std::string& what, const std::string& path) {
    if (::access(path.c_str(), R_OK) != 0)
        return Error{errc::invalid_argument, "MQTT TLS " + what + " \"" + path +
                                                 "\" cannot be read: " + std::strerror(errno)};
    return {};
}

void lib_init_once() {
    static std::once_flag once;
    std::call_once(once, [] { mosquitto_lib_init(); });
}

std::string random_client_id() {
    // MQTT 3.1.1 guarantees brokers accept ids of up to 23 characters.
    auto id = new_uuid();
    id.erase(std::remove(id.begin(), id.end(), '-'), id.end());
    return "kedge-" + id.substr(0, 16);
}

class MosquittoClient final : public Client {
public:
    MosquittoClient(ClientOptions options, Endpoint ep, mosquitto* mosq, std::string client_id)
        : options_(std::move(options)),
          ep_(std::move(ep)),
          mosq_(mosq),
          client_id_(std::move(client_id)),
          log_(log::get("mqtt")) {}

    ~MosquittoClient() override {
        stop();
        if (thread_.joinable()) thread_.join();
        mosquitto_destroy(mosq_);
    }

    // Installs the callbacks; `this` outlives the handle (destroyed in the destructor).
    void bind_callbacks() {
        mosquitto_user_data_set(mosq_, this);
        mosquitto_connect_callback_set(mosq_, [](mosquitto*, void* self, int rc) {
            static_cast<MosquittoClient*>(self)->handle_connect(rc);
        });
        mosquitto_disconnect_callback_set(mosq_, [](mosquitto*, void* self, int rc) {
            static_cast<MosquittoClient*>(self)->handle_disconnect(rc);
        });
        mosquitto_message_callback_set(mosq_,
                                       [](mosquitto*, void* self, const mosquitto_message* m) {
                                           static_cast<MosquittoClient*>(self)->handle_message(m);
                                       });
    }

    void on_message(MessageHandler handler) override { message_handler_ = std::move(handler); }
    void on_connection(ConnectionHandler handler) override {
        connection_handler_ = std::move(handler);
    }

    Result<void> start() override {
        std::lock_guard lock(mu_);
        if (stopping_) return Error{errc::closed, "MQTT client was stopped"};
        if (started_) return {};
        started_ = true;
        thread_ = std::thread([this] { run(); });
        return {};
    }

    void stop() override {
        {
            std::lock_guard lock(mu_);
            if (stopping_) return;
            stopping_ = true;
            if (!started_) return;
        }
        // Queues a DISCONNECT when connected and wakes the loop; the network thread sends it.
        mosquitto_disconnect(mosq_);
        cv_.notify_all();
        // From a handler (the network thread itself) the loop ends on its own after the
        // handler returns; the destructor, called from elsewhere, joins it.
        if (std::this_thread::get_id() == thread_.get_id()) return;
        if (thread_.joinable()) thread_.join();
        connected_.store(false);
    }

    Result<void> subscribe(std::string filter, int qos) override {
        if (qos < 0 || qos > 2)
            return Error{errc::invalid_argument,
                         "MQTT QoS " + std::to_string(qos) + " is not 0, 1 or 2"};
        if (mosquitto_sub_topic_check(filter.c_str()) != MOSQ_ERR_SUCCESS)
            return Error{errc::invalid_argument,
                         "\"" + filter + "\" is not a valid MQTT topic filter"};
        bool now = false;
        {
            std::lock_guard lock(mu_);
            subscriptions_[filter] = qos;
            now = connected_.load();
        }
        if (now) {
            int rc = mosquitto_subscribe(mosq_, nullptr, filter.c_str(), qos);
            // Not fatal: the filter is remembered and sent again on the next connect.
            if (rc != MOSQ_ERR_SUCCESS)
                log_->debug("subscribe {} not sent now: {}", filter, mosquitto_strerror(rc));
        }
        return {};
    }

    void unsubscribe(const std::string& filter) override {
        bool now = false;
        {
            std::lock_guard lock(mu_);
            if (subscriptions_.erase(filter) == 0) return;
            now = connected_.load();
        }
        if (now) mosquitto_unsubscribe(mosq_, nullptr, filter.c_str());
    }

    Result<void> publish(std::string_view topic, std::string_view payload, int qos,
                         bool retain) override {
        std::string t(topic);
        if (mosquitto_pub_topic_check(t.c_str()) != MOSQ_ERR_SUCCESS)
            return Error{errc::invalid_argument,
                         "\"" + t + "\" is not a valid MQTT topic name (empty or with wildcards)"};
        if (qos < 0 || qos > 2)
            return Error{errc::invalid_argument,
                         "MQTT QoS " + std::to_string(qos) + " is not 0, 1 or 2"};
        if (payload.size() > options_.max_payload)
            return Error{errc::too_large, "MQTT payload of " + std::to_string(payload.size()) +
                                              " bytes for " + t + " exceeds the limit of " +
                                              std::to_string(options_.max_payload)};
        if (!connected_.load())
            return Error{errc::unavailable, "MQTT broker " + options_.server + " not connected"};
        int rc = mosquitto_publish(mosq_, nullptr, t.c_str(), static_cast<int>(payload.size()),
                                   payload.data(), qos, retain);
        if (rc == MOSQ_ERR_NO_CONN || rc == MOSQ_ERR_CONN_LOST)
            return Error{errc::unavailable, "MQTT broker " + options_.server + " not connected"};
        if (rc == MOSQ_ERR_PAYLOAD_SIZE || rc == MOSQ_ERR_OVERSIZE_PACKET)
            return Error{errc::too_large, "MQTT publish to " + t + ": " + mosquitto_strerror(rc)};
        if (rc != MOSQ_ERR_SUCCESS)
            return Error{errc::io_error, "MQTT publish to " + t + ": " + mosquitto_strerror(rc)};
        return {};
    }

    bool connected() const override { return connected_.load(); }

private:
    bool stopping() {
        std::lock_guard lock(mu_);
        return stopping_;
    }

    // The network thread: connect, run the loop until the connection ends, back off, repeat.
    // Our own loop rather than mosquitto_loop_forever(), which gives up for good on DNS or TLS
    // errors; an edge broker that comes back later must be found again.
    void run() {
        net::Backoff backoff(
            {options_.reconnect_min, options_.reconnect_max, 2.0, net::Jitter::decorrelated});
        while (!stopping()) {
            session_worked_ = false;
            int rc = mosquitto_connect_async(mosq_, ep_.host.c_str(), ep_.port,
                                             static_cast<int>(options_.keepalive.count()));
            if (rc == MOSQ_ERR_SUCCESS) {
                while (!stopping()) {
                    rc = mosquitto_loop(mosq_, kLoopTimeoutMs, 1);
                    if (rc != MOSQ_ERR_SUCCESS) break;
                }
            }
            if (stopping()) break;
            if (session_worked_ &&
                std::chrono::steady_clock::now() - connected_at_ >= kStableSession)
                backoff.reset();
            note_failure(rc);
            auto delay = backoff.next();
            std::unique_lock lock(mu_);
            cv_.wait_for(lock, delay, [this] { return stopping_; });
        }
        // Let the DISCONNECT queued by stop() go out.
        for (int i = 0; i < kDisconnectRounds && connected_.load(); ++i)
            mosquitto_loop(mosq_, 100, 1);
    }

    // One warning per outage; the retries after it are debug.
    void note_failure(int rc) {
        std::string why = rc == MOSQ_ERR_ERRNO ? std::strerror(errno) : mosquitto_strerror(rc);
        if (!outage_logged_) {
            log_->warn("MQTT broker {} not reachable ({}); retrying with back-off up to {} ms",
                       options_.server, why, options_.reconnect_max.count());
            outage_logged_ = true;
        } else {
            log_->debug("MQTT broker {} still not reachable: {}", options_.server, why);
        }
    }

    void handle_connect(int rc) {
        if (rc != 0) {
            // Refused (bad credentials, not authorised): worth a warning each outage.
            if (!outage_logged_) {
                log_->warn("MQTT broker {} refused client {}: {}", options_.server, client_id_,
                           mosquitto_connack_string(rc));
                outage_logged_ = true;
            }
            return;
        }
        std::vector<std::pair<std::string, int>> subs;
        {
            std::lock_guard lock(mu_);
            connected_.store(true);
            subs.assign(subscriptions_.begin(), subscriptions_.end());
        }
        for (const auto& [filter, qos] : subs) {
            int r = mosquitto_subscribe(mosq_, nullptr, filter.c_str(), qos);
            if (r != MOSQ_ERR_SUCCESS)
                log_->warn("re-subscribing {} failed: {}", filter, mosquitto_strerror(r));
        }
        session_worked_ = true;
        connected_at_ = std::chrono::steady_clock::now();
        log_->info("{} MQTT broker {} as {} ({} subscription(s))",
                   outage_logged_ ? "reconnected to" : "connected to", options_.server, client_id_,
                   subs.size());
        outage_logged_ = false;
        if (connection_handler_) call_guarded([&] { connection_handler_(true); });
    }

    void handle_disconnect(int rc) {
        // Also called when a connection attempt fails; only a real session counts.
        if (!connected_.exchange(false)) return;
        if (rc == 0) {
            log_->info("disconnected from MQTT broker {}", options_.server);
        } else {
            log_->warn("lost the MQTT broker {}: {}", options_.server, mosquitto_strerror(rc));
            outage_logged_ = true;
        }
        if (connection_handler_) call_guarded([&] { connection_handler_(false); });
    }

    void handle_message(const mosquitto_message* m) {
        if (!m || !m->topic) return;
        auto size = static_cast<std::size_t>(std::max(m->payloadlen, 0));
        if (size > options_.max_payload) {
            ++dropped_since_log_;
            auto now = std::chrono::steady_clock::now();
            if (now - last_drop_log_ >= kDropLogInterval) {
                log_->warn(
                    "dropping MQTT message on {}: {} bytes exceed the limit of {} "
                    "({} dropped since the last report)",
                    m->topic, size, options_.max_payload, dropped_since_log_);
                last_drop_log_ = now;
                dropped_since_log_ = 0;
            }
            return;
        }
        if (!message_handler_) return;
        std::string payload(static_cast<const char*>(m->payload), size);
        call_guarded([&] { message_handler_(m->topic, std::move(payload)); });
    }

    // Exceptions must not unwind through libmosquitto's C frames.
    template <class F>
    void call_guarded(F&& f) {
        try {
            f();
        } catch (const std::exception& e) {
            log_->error("MQTT handler threw: {}", e.what());
        } catch (...) {
            log_->error("MQTT handler threw a non-standard exception");
        }
    }

    const ClientOptions options_;
    const Endpoint ep_;
    mosquitto* const mosq_;
    const std::string client_id_;
    std::shared_ptr<spdlog::logger> log_;

    MessageHandler message_handler_;        // set before start(), then read by the network thread
    ConnectionHandler connection_handler_;  // likewise

    std::mutex mu_;
    std::condition_variable cv_;
    bool started_ = false;                      // guarded by mu_
    bool stopping_ = false;                     // guarded by mu_
    std::map<std::string, int> subscriptions_;  // guarded by mu_
    std::atomic<bool> connected_{false};
    std::thread thread_;

    // Network thread only.
    bool outage_logged_ = false;
    bool session_worked_ = false;
    std::chrono::steady_clock::time_point connected_at_{};
    std::uint64_t dropped_since_log_ = 0;
    std::chrono::steady_clock::time_point last_drop_log_{};
};

}  // namespace

Result<std::unique_ptr<Client>> Client::make(ClientOptions options) {
    auto ep = parse_server(options.server);
    if (!ep) return ep.error();
    if (options.tls) {
        const auto& t = *options.tls;
        if (!t.ca_file.empty())
            if (auto r = check_readable("CA file", t.ca_file); !r) return r.error();
        if (t.cert_file.empty() != t.key_file.empty())
            return Error{errc::invalid_argument,
                         "MQTT TLS needs both a client certificate and its key, or neither"};
        if (!t.cert_file.empty()) {
            if (auto r = check_readable("certificate", t.cert_file); !r) return r.error();
            if (auto r = check_readable("private key", t.key_file); !r) return r.error();
        }
    }
    if (options.reconnect_min.count() <= 0 || options.reconnect_max < options.reconnect_min)
        return Error{errc::invalid_argument,
                     "MQTT reconnect delays must satisfy 0 < reconnect_min <= reconnect_max"};
    if (options.keepalive.count() < 5 || options.keepalive.count() > 65535)
        return Error{errc::invalid_argument, "MQTT keepalive must be 5..65535 seconds"};

    lib_init_once();
    std::string client_id = options.client_id.empty() ? random_client_id() : options.client_id;
    mosquitto* mosq = mosquitto_new(client_id.c_str(), options.clean_session, nullptr);
    if (!mosq)
        return Error{errc::internal, std::string("mosquitto_new failed: ") + std::strerror(errno)};
    // From here the client owns mosq (its destructor destroys it).
    auto client = std::make_unique<MosquittoClient>(options, *ep, mosq, client_id);
    client->bind_callbacks();
    // Our own network thread drives mosquitto_loop(); other threads only queue packets.
    mosquitto_threaded_set(mosq, true);
    mosquitto_int_option(mosq, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V311);
    if (!options.username.empty()) {
        int rc = mosquitto_username_pw_set(
            mosq, options.username.c_str(),
            options.password.empty() ? nullptr : options.password.c_str());
        if (rc != MOSQ_ERR_SUCCESS)
            return Error{errc::invalid_argument,
                         std::string("MQTT username rejected: ") + mosquitto_strerror(rc)};
    }
    if (options.tls || ep->tls) {
        TlsFiles files = options.tls.value_or(TlsFiles{});
        // Without a CA file the system's trust store verifies the broker.
        const char* ca = files.ca_file.empty() ? nullptr : files.ca_file.c_str();
        const char* capath = files.ca_file.empty() ? "/etc/ssl/certs" : nullptr;
        const char* cert = files.cert_file.empty() ? nullptr : files.cert_file.c_str();
        const char* key = files.key_file.empty() ? nullptr : files.key_file.c_str();
        int rc = mosquitto_tls_set(mosq, ca, capath, cert, key, nullptr);
        if (rc != MOSQ_ERR_SUCCESS)
            return Error{errc::invalid_argument,
                         std::string("MQTT TLS setup failed: ") + mosquitto_strerror(rc)};
        // A null version keeps libmosquitto's default: TLS 1.2 and newer.
        rc = mosquitto_tls_opts_set(mosq, 1 /* SSL_VERIFY_PEER */, nullptr, nullptr);
        if (rc != MOSQ_ERR_SUCCESS)
            return Error{errc::invalid_argument,
                         std::string("MQTT TLS options rejected: ") + mosquitto_strerror(rc)};
    }
    return std::unique_ptr<Client>(std::move(client));
}

}  // namespace kedge::mqtt
