// kedge::mqtt::Client against a real mosquitto broker, with mosquitto_pub / mosquitto_sub as the
// independent client on the other side.

#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <utility>
#include <vector>

#include "base/log.hpp"
#include "mqtt/mqtt_client.hpp"
#include "support/log_capture.hpp"
#include "support/mosquitto.hpp"
#include "support/test_support.hpp"

namespace kedge::mqtt {
namespace {

using namespace std::chrono_literals;

// What the client's handlers saw (they run on its network thread).
struct Inbox {
    std::mutex mu;
    std::vector<std::pair<std::string, std::string>> messages;
    std::vector<bool> connection_changes;

    void attach(Client& c) {
        c.on_message([this](std::string topic, std::string payload) {
            std::lock_guard lock(mu);
            messages.emplace_back(std::move(topic), std::move(payload));
        });
        c.on_connection([this](bool up) {
            std::lock_guard lock(mu);
            connection_changes.push_back(up);
        });
    }
    bool has(const std::string& topic, const std::string& payload) {
        std::lock_guard lock(mu);
        for (auto& [t, p] : messages)
            if (t == topic && p == payload) return true;
        return false;
    }
    std::size_t count() {
        std::lock_guard lock(mu);
        return messages.size();
    }
    std::vector<bool> changes() {
        std::lock_guard lock(mu);
        return connection_changes;
    }
};

class MqttClientTest : public ::testing::Test {
protected:
    std::unique_ptr<Client> make_client(ClientOptions o = {}) {
        if (o.server == ClientOptions{}.server) o.server = broker->url();
        o.reconnect_min = 100ms;
        o.reconnect_max = 500ms;
        auto c = Client::make(std::move(o));
        EXPECT_TRUE(c) << (c ? "" : c.error().message());
        return c ? std::move(*c) : nullptr;
    }
    // Starts the client and waits for the connection.
    void start_connected(Client& c) {
        ASSERT_TRUE(c.start());
        ASSERT_TRUE(test::wait_until([&] { return c.connected(); }))
            << "not connected to " << broker->url() << "\n"
            << broker->log();
    }

    test::TempDir dir;
    std::unique_ptr<test::Mosquitto> broker = std::make_unique<test::Mosquitto>(dir.path());
};

TEST_F(MqttClientTest, RoundTripBothWays) {
    // Declared first: the client's handlers write into it until the client is gone.
    Inbox inbox;
    auto client = make_client();
    inbox.attach(*client);
    ASSERT_TRUE(client->subscribe("kedge/in/#", 0));
    start_connected(*client);
    EXPECT_EQ(inbox.changes(), std::vector<bool>{true});

    // The subscription is sent right after CONNACK; publish until it is in place.
    ASSERT_TRUE(test::wait_until([&] {
        broker->publish("kedge/in/a", "hello");
        return inbox.has("kedge/in/a", "hello");
    }));
    EXPECT_FALSE(inbox.has("kedge/other", "x"));

    test::MosquittoSub sub(*broker, dir.path(), "kedge/out/#");
    ASSERT_TRUE(client->publish("kedge/out/b", R"({"v":1})", 0, false));
    EXPECT_TRUE(sub.wait_for_line(R"(kedge/out/b {"v":1})")) << sub.output();

    // Binary-safe both ways: bytes are passed through untouched.
    std::string binary("a\0b\xff", 4);
    ASSERT_TRUE(client->publish("kedge/in/bin", binary, 0, false));
    EXPECT_TRUE(test::wait_until([&] { return inbox.has("kedge/in/bin", binary); }));
}

TEST_F(MqttClientTest, QosOneBothWays) {
    Inbox inbox;
    auto client = make_client();
    inbox.attach(*client);
    ASSERT_TRUE(client->subscribe("q/in", 1));
    start_connected(*client);
    ASSERT_TRUE(test::wait_until([&] {
        broker->publish("q/in", "one", "-q 1");
        return inbox.has("q/in", "one");
    }));

    test::MosquittoSub sub(*broker, dir.path(), "q/out", "-q 1");
    ASSERT_TRUE(client->publish("q/out", "two", 1, false));
    ASSERT_TRUE(sub.wait_for_line("q/out two")) << sub.output();
    // mosquitto_sub -d shows the QoS the message was delivered with.
    EXPECT_NE(sub.output().find("received PUBLISH (d0, q1"), std::string::npos) << sub.output();
}

TEST_F(MqttClientTest, RetainedMessageReachesLaterSubscribers) {
    auto client = make_client();
    start_connected(*client);
    ASSERT_TRUE(client->publish("r/state", "on", 1, true));
    ASSERT_TRUE(client->publish("r/volatile", "x", 1, false));
    // A QoS 1 publish is acked before the broker answers a later subscribe from another client,
    // so wait for the retained one by subscribing until it shows up.
    std::unique_ptr<test::MosquittoSub> sub;
    ASSERT_TRUE(test::wait_until([&] {
        sub = std::make_unique<test::MosquittoSub>(*broker, dir.path(), "r/#");
        return sub->wait_for_line("r/state on", 500ms);
    }));
    EXPECT_NE(sub->output().find("r1"), std::string::npos) << sub->output();
    for (const auto& l : sub->lines()) EXPECT_NE(l, "r/volatile x");
}

TEST_F(MqttClientTest, ResubscribesAfterTheBrokerRestarts) {
    Inbox inbox;
    auto client = make_client();
    inbox.attach(*client);
    ASSERT_TRUE(client->subscribe("restart/#", 1));
    start_connected(*client);
    ASSERT_TRUE(test::wait_until([&] {
        broker->publish("restart/before", "1");
        return inbox.has("restart/before", "1");
    }));

    broker->stop();  // no persistence: the broker forgets every subscription
    ASSERT_TRUE(test::wait_until([&] { return !client->connected(); }));
    auto down = client->publish("restart/x", "lost", 0, false);
    ASSERT_FALSE(down);
    EXPECT_TRUE(down.error().is(errc::unavailable)) << down.error().message();

    // Subscribed while the broker is away: remembered and sent on the next connect.
    ASSERT_TRUE(client->subscribe("later/#", 0));
    broker->start();
    ASSERT_TRUE(test::wait_until([&] { return client->connected(); }, 15s)) << broker->log();
    ASSERT_TRUE(test::wait_until([&] {
        broker->publish("restart/after", "2");
        broker->publish("later/x", "3");
        return inbox.has("restart/after", "2") && inbox.has("later/x", "3");
    }));
    EXPECT_EQ(inbox.changes(), (std::vector<bool>{true, false, true}));
}

TEST_F(MqttClientTest, KeepsRetryingUntilTheBrokerComesUp) {
    broker->stop();
    auto client = make_client();
    ASSERT_TRUE(client->start());
    EXPECT_FALSE(client->connected());
    broker->start();
    EXPECT_TRUE(test::wait_until([&] { return client->connected(); }, 15s));
}

TEST_F(MqttClientTest, UnsubscribeStopsDelivery) {
    Inbox inbox;
    auto client = make_client();
    inbox.attach(*client);
    ASSERT_TRUE(client->subscribe("u/a", 1));
    ASSERT_TRUE(client->subscribe("u/b", 1));
    start_connected(*client);
    ASSERT_TRUE(test::wait_until([&] {
        broker->publish("u/a", "1", "-q 1");
        return inbox.has("u/a", "1");
    }));
    client->unsubscribe("u/a");
    // u/b is still subscribed: once its message arrives (published after u/a's), the broker
    // has processed the UNSUBSCRIBE that went out before both.
    ASSERT_TRUE(test::wait_until([&] {
        broker->publish("u/a", "2", "-q 1");
        broker->publish("u/b", "2", "-q 1");
        return inbox.has("u/b", "2");
    }));
    auto before = inbox.count();
    broker->publish("u/a", "3", "-q 1");
    broker->publish("u/b", "3", "-q 1");
    ASSERT_TRUE(test::wait_until([&] { return inbox.has("u/b", "3"); }));
    EXPECT_FALSE(inbox.has("u/a", "3"));
    EXPECT_EQ(inbox.count(), before + 1);
}

TEST_F(MqttClientTest, OversizedMessagesAreRefusedAndDropped) {
    ClientOptions o;
    o.max_payload = 1024;
    Inbox inbox;
    auto client = make_client(o);
    inbox.attach(*client);
    ASSERT_TRUE(client->subscribe("big/#", 1));
    start_connected(*client);

    auto r = client->publish("big/out", std::string(1025, 'x'), 0, false);
    ASSERT_FALSE(r);
    EXPECT_TRUE(r.error().is(errc::too_large)) << r.error().message();
    EXPECT_TRUE(client->publish("big/out", std::string(1024, 'x'), 0, false));

    test::LoggerCapture logs(log::get("mqtt"));
    ASSERT_TRUE(test::wait_until([&] {
        broker->publish("big/in", std::string(2000, 'y'), "-q 1");
        broker->publish("big/in", "small", "-q 1");
        return inbox.has("big/in", "small");
    }));
    EXPECT_FALSE(inbox.has("big/in", std::string(2000, 'y')));
    EXPECT_TRUE(inbox.has("big/out", std::string(1024, 'x')));
    EXPECT_NE(logs.text().find("exceed the limit of 1024"), std::string::npos) << logs.text();
}

TEST_F(MqttClientTest, StopDisconnectsCleanlyAndIsIdempotent) {
    Inbox inbox;
    auto client = make_client();
    inbox.attach(*client);
    start_connected(*client);
    client->stop();
    EXPECT_FALSE(client->connected());
    client->stop();
    EXPECT_EQ(inbox.changes(), (std::vector<bool>{true, false}));
    auto again = client->start();
    ASSERT_FALSE(again);
    EXPECT_TRUE(again.error().is(errc::closed));
    // The broker saw a DISCONNECT, not a dropped socket.
    EXPECT_TRUE(test::wait_until([&] {
        return broker->log().find(" disconnected.") != std::string::npos;
    })) << broker->log();
}

TEST_F(MqttClientTest, StopFromAHandlerDoesNotDeadlock) {
    auto client = make_client();
    std::atomic<bool> stopped_inside{false};
    Client* raw = client.get();
    client->on_connection([&](bool up) {
        if (!up) return;
        raw->stop();
        stopped_inside = true;
    });
    ASSERT_TRUE(client->start());
    ASSERT_TRUE(test::wait_until([&] { return stopped_inside.load(); }));
    client.reset();  // joins the network thread from here
}

TEST(MqttClientAuth, UsernameAndPasswordAndTheLogNeverShowsThePassword) {
    test::TempDir dir;
    test::Mosquitto broker(dir.path(), {.username = "edge", .password = "pa55-word"});
    test::LoggerCapture logs(log::get("mqtt"));

    ClientOptions bad;
    bad.server = broker.url();
    bad.username = "edge";
    bad.password = "wrong-pa55";
    bad.reconnect_min = 100ms;
    bad.reconnect_max = 200ms;
    auto refused = Client::make(bad);
    ASSERT_TRUE(refused);
    ASSERT_TRUE((*refused)->start());
    ASSERT_TRUE(test::wait_until([&] { return logs.text().find("refused") != std::string::npos; }))
        << logs.text();
    EXPECT_FALSE((*refused)->connected());
    (*refused)->stop();

    ClientOptions good = bad;
    good.password = "pa55-word";
    auto ok = Client::make(good);
    ASSERT_TRUE(ok);
    ASSERT_TRUE((*ok)->start());
    ASSERT_TRUE(test::wait_until([&] { return (*ok)->connected(); })) << broker.log();
    (*ok)->stop();

    auto text = logs.text();
    EXPECT_EQ(text.find("pa55-word"), std::string::npos) << text;
    EXPECT_EQ(text.find("wrong-pa55"), std::string::npos) << text;
}

TEST(MqttClientTls, MutualTlsWithTheClusterCa) {
    test::TempDir dir;
    auto pki = test::make_test_pki(dir.path());
    test::Mosquitto broker(dir.path(), {.ca_file = pki.ca_cert,
                                        .cert_file = pki.server_cert,
                                        .key_file = pki.server_key,
                                        .require_certificate = true});
    ClientOptions o;
    o.server = broker.url();
    o.tls = TlsFiles{pki.ca_cert, pki.client_cert, pki.client_key};
    o.reconnect_min = 100ms;
    o.reconnect_max = 500ms;
    Inbox inbox;  // outlives the client, whose handlers write into it
    auto client = Client::make(o);
    ASSERT_TRUE(client) << client.error().message();
    inbox.attach(**client);
    ASSERT_TRUE((*client)->subscribe("tls/#", 1));
    ASSERT_TRUE((*client)->start());
    ASSERT_TRUE(test::wait_until([&] { return (*client)->connected(); })) << broker.log();
    ASSERT_TRUE(test::wait_until([&] {
        (void)(*client)->publish("tls/echo", "secure", 1, false);
        return inbox.has("tls/echo", "secure");
    }));

    // A broker certificate from another CA is not trusted.
    ClientOptions wrong = o;
    wrong.tls = TlsFiles{pki.other_ca_cert, pki.other_client_cert, pki.other_client_key};
    auto untrusting = Client::make(wrong);
    ASSERT_TRUE(untrusting);
    test::LoggerCapture logs(log::get("mqtt"));
    ASSERT_TRUE((*untrusting)->start());
    ASSERT_TRUE(test::wait_until([&] {
        return logs.text().find("not reachable") != std::string::npos;
    })) << logs.text();
    EXPECT_FALSE((*untrusting)->connected());
}

}  // namespace
}  // namespace kedge::mqtt
