// EdgeHub against the real cloudcore and kedge-apiserver: join, resync, pods, reconnects,
// keepalives, offline requests, rate limit, certificate rotation.

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include "base/log.hpp"
#include "edge_hub_fixture.hpp"
#include "pki/files.hpp"
#include "support/coro.hpp"
#include "support/log_capture.hpp"

namespace kedge::edge::test {
namespace {

namespace asio = boost::asio;

auto connection_is(std::string_view content) {
    return [content](const bus::Message& m) {
        return m.resource() == kConnectionResource && m.content.string_equals(content);
    };
}

// use_future needs a default-constructible result.
asio::awaitable<std::optional<Result<NodeCredentials>>> renew(asio::any_io_executor ex,
                                                              std::string base, StoredIdentity id,
                                                              std::string node) {
    co_return co_await renew_node_cert(ex, base, id.ca, id.creds, node);
}

unsigned mode_of(const std::filesystem::path& p) {
    struct stat st {};
    EXPECT_EQ(::stat(p.c_str(), &st), 0) << p;
    return st.st_mode & 07777;
}

TEST_F(EdgeHubCloudFixture, JoinsWithTheTokenThenConnectsAndResyncs) {
    create_edge_node("edge1");
    start_hub(hub_options());
    ASSERT_TRUE(wait_meta(connection_is(kCloudConnected)));
    EXPECT_EQ(hub_->stats().joins, 1u);

    // The files, checked with the openssl CLI (independent of our pki code).
    auto paths = cert_paths();
    EXPECT_EQ(mode_of(paths.key), 0600u);
    EXPECT_NE(kedge::test::read_file(paths.key).find("-----BEGIN EC PRIVATE KEY-----"),
              std::string::npos);
    auto subject =
        run_command("openssl x509 -noout -subject -nameopt RFC2253 -in " + paths.cert.string());
    ASSERT_EQ(subject.exit_code, 0) << subject.output;
    EXPECT_NE(subject.output.find("CN=system:node:edge1"), std::string::npos) << subject.output;
    EXPECT_NE(subject.output.find("O=system:nodes"), std::string::npos) << subject.output;
    auto verify =
        run_command("openssl verify -CAfile " + paths.ca.string() + " " + paths.cert.string());
    EXPECT_EQ(verify.exit_code, 0) << verify.output;

    // The cloud answered the inventory: the resync response reached the meta manager.
    auto resync = wait_meta([](const bus::Message& m) { return hub::is_resync_response(m); });
    ASSERT_TRUE(resync);
    EXPECT_TRUE(hub::parse_resync_response(*resync));

    // A restart uses the stored identity instead of joining again.
    ctx_->shutdown();
    inbox_.clear();
    auto o = hub_options();
    o.token.clear();
    start_hub(o);
    ASSERT_TRUE(wait_meta(connection_is(kCloudConnected)));
    EXPECT_EQ(hub_->stats().joins, 0u);
}

TEST_F(EdgeHubCloudFixture, TokenForAnotherCaIsRefusedWithAClearLogAndRetried) {
    kedge::test::LoggerCapture logs(kedge::log::get("edgehub"));
    auto o = hub_options();
    auto dot = o.token.find('.');
    ASSERT_NE(dot, std::string::npos);
    o.token = std::string(dot, 'a') + o.token.substr(dot);  // same JWT, wrong CA hash
    start_hub(o);
    ASSERT_TRUE(kedge::test::wait_until(
        [&] {
            auto text = logs.text();
            auto first = text.find("refusing the CA");
            return first != std::string::npos &&
                   text.find("refusing the CA", first + 1) != std::string::npos;  // retried
        },
        20s))
        << logs.text();
    auto text = logs.text();
    EXPECT_NE(text.find("is not the token's " + std::string(dot, 'a')), std::string::npos) << text;
    EXPECT_EQ(text.find(o.token.substr(dot + 1)), std::string::npos) << "the token was logged";
    EXPECT_FALSE(std::filesystem::exists(cert_paths().cert));
    EXPECT_FALSE(hub_->connected());
    EXPECT_EQ(hub_->stats().joins, 0u);
}

TEST_F(EdgeHubCloudFixture, NodeInsertedThroughTheHubThenABoundPodArrives) {
    start_hub(hub_options());
    ASSERT_TRUE(wait_meta(connection_is(kCloudConnected)));
    // Register the node the way edged does: insert null/node/<n> upstream.
    boost::json::object node{{"apiVersion", "v1"},
                             {"kind", "Node"},
                             {"metadata", boost::json::object{{"name", "edge1"}}}};
    auto insert = bus::Message::make("edged", "resource", "insert", "null/node/edge1",
                                     bus::Content::from_value(node));
    ASSERT_TRUE(ctx_->send("websocket", insert));
    ASSERT_TRUE(
        kedge::test::wait_until([&] { return kubectl("get node edge1").exit_code == 0; }, 20s));
    apply(R"(apiVersion: v1
kind: Pod
metadata:
  name: nginx
  namespace: default
spec:
  nodeName: edge1
  containers:
  - name: nginx
    image: nginx
)");
    auto pod = wait_meta([](const bus::Message& m) {
        return m.resource() == "default/pod/nginx" &&
               (m.operation() == "insert" || m.operation() == "update");
    });
    ASSERT_TRUE(pod) << [&] {
        std::string all = "metamanager got:\n";
        for (auto& m : meta_inbox()) all += m.operation() + " " + m.resource() + "\n";
        return all;
    }();
    auto v = pod->content.value();
    ASSERT_TRUE(v);
    EXPECT_EQ((*v)->at("spec").at("nodeName").as_string(), "edge1");
    EXPECT_FALSE(pod->header.resource_version.empty());
}

TEST_F(EdgeHubCloudFixture, CloudcoreRestartIsToldToModulesAndTheHubReconnects) {
    create_edge_node("edge1");
    start_hub(hub_options());
    ASSERT_TRUE(wait_meta(connection_is(kCloudConnected)));
    stop_cloudcore();
    ASSERT_TRUE(wait_meta(connection_is(kCloudDisconnected)));
    EXPECT_FALSE(hub_->connected());

    // While the cloud is away, a sync request gets an error at once (the requester falls back).
    auto query = bus::Message::make("metamanager", "resource", "query", "default/configmap/c");
    auto began = std::chrono::steady_clock::now();
    auto fut = asio::co_spawn(ioc_, ctx_->request("websocket", query, 20s), asio::use_future);
    ASSERT_EQ(fut.wait_for(5s), std::future_status::ready);
    auto r = fut.get();
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(r->operation(), "error");
    EXPECT_TRUE(r->content.string_equals("cloud not connected"));
    EXPECT_LT(std::chrono::steady_clock::now() - began, 2s);

    auto mark = meta_inbox().size();
    start_cloudcore();
    ASSERT_TRUE(wait_meta(connection_is(kCloudConnected), 20s, mark));
    EXPECT_TRUE(hub_->connected());
    EXPECT_GE(hub_->stats().sessions, 2u);
    // Every disconnect follows a connect.
    EXPECT_EQ(count_meta(kCloudConnected), count_meta(kCloudDisconnected) + 1);
    // The new session resyncs too.
    EXPECT_TRUE(
        wait_meta([](const bus::Message& m) { return hub::is_resync_response(m); }, 20s, mark));
}

// cloudcore drops a session that stays silent for keepaliveInterval (here 2 s); the hub's
// keepalives (every 500 ms) keep it alive. The hub's own WebSocket pings come only every
// (readDeadline + heartbeat) / 2 = 5.25 s, so they alone would not.
class EdgeHubKeepaliveTest : public EdgeHubCloudFixture {
protected:
    EdgeHubKeepaliveTest() { keepalive_interval_s_ = 2; }
};

TEST_F(EdgeHubKeepaliveTest, KeepalivesHoldTheSessionPastTheCloudsKeepaliveInterval) {
    create_edge_node("edge1");
    auto o = hub_options();
    o.heartbeat = 500ms;
    o.read_deadline = 10s;
    start_hub(o);
    ASSERT_TRUE(wait_meta(connection_is(kCloudConnected)));
    auto sessions = hub_->stats().sessions;
    auto until = std::chrono::steady_clock::now() + 7s;
    // Not a sleep for synchronisation: the session must simply survive this long.
    EXPECT_FALSE(kedge::test::wait_until(
        [&] { return count_meta(kCloudDisconnected) > 0 || !hub_->connected(); }, 7s));
    EXPECT_GE(std::chrono::steady_clock::now(), until - 100ms);
    EXPECT_EQ(hub_->stats().sessions, sessions);
    EXPECT_TRUE(hub_->connected());
}

TEST_F(EdgeHubCloudFixture, UpstreamRateLimitBurstThenQps) {
    create_edge_node("edge1");
    auto o = hub_options();
    o.heartbeat = 10s;  // keepalives stay out of the count
    o.message_qps = 10;
    o.message_burst = 5;
    start_hub(o);
    ASSERT_TRUE(wait_meta(connection_is(kCloudConnected)));
    constexpr int kN = 20;
    auto base = hub_->stats().messages_up;
    auto began = std::chrono::steady_clock::now();
    for (int i = 0; i < kN; ++i) {
        // Keepalives: harmless for the cloud whatever their number.
        auto ka = bus::Message::make("websocket", "resource", "keepalive", "node",
                                     bus::Content::from_string("ping"));
        ASSERT_TRUE(ctx_->send("websocket", ka));
    }
    ASSERT_TRUE(
        kedge::test::wait_until([&] { return hub_->stats().messages_up >= base + kN; }, 10s));
    // (N - burst) / qps = 1.5 s; a generous lower bound, no upper bound.
    EXPECT_GE(std::chrono::steady_clock::now() - began, 1200ms);
    EXPECT_GE(hub_->stats().rate_limited, 10u);
    EXPECT_TRUE(hub_->connected());
}

TEST_F(EdgeHubCloudFixture, RenewNodeCertGivesANewCertificateOverMtls) {
    create_edge_node("edge1");
    start_hub(hub_options());
    ASSERT_TRUE(wait_meta(connection_is(kCloudConnected)));
    auto id = load_identity(cert_paths(), "edge1", SystemClock::instance().now());
    ASSERT_TRUE(id);
    asio::io_context io;
    auto base = "https://127.0.0.1:" + std::to_string(cert_port_);
    auto renewed = *kedge::test::run_coro(io, renew(io.get_executor(), base, *id, "edge1"));
    ASSERT_TRUE(renewed) << renewed.error().message();
    EXPECT_NE(renewed->cert.serial_hex(), id->creds.cert.serial_hex());
    EXPECT_GE(renewed->cert.not_after(), id->creds.cert.not_after());
    EXPECT_EQ(renewed->cert.subject().common_name, "system:node:edge1");
    EXPECT_TRUE(renewed->cert.verify_chain(id->ca, SystemClock::instance().now()));
    EXPECT_NE(renewed->key.to_der(), id->creds.key.to_der());

    // Another node's certificate cannot renew for edge1.
    auto refused = *kedge::test::run_coro(io, renew(io.get_executor(), base, *id, "edge2"));
    ASSERT_FALSE(refused);
    EXPECT_TRUE(refused.error().is(errc::forbidden)) << refused.error().message();
}

TEST_F(EdgeHubCloudFixture, HubRotatesItsCertificateAndReconnectsWithIt) {
    create_edge_node("edge1");
    auto o = hub_options();
    o.rotate_certificates = true;
    o.rotation_delay = 3s;
    start_hub(o);
    ASSERT_TRUE(wait_meta(connection_is(kCloudConnected)));
    auto first = hub_->credentials();
    ASSERT_TRUE(first);
    ASSERT_TRUE(kedge::test::wait_until([&] { return hub_->stats().rotations >= 1; }, 20s));
    // The session with the old certificate ends and a new one starts.
    ASSERT_TRUE(kedge::test::wait_until(
        [&] { return count_meta(kCloudConnected) >= 2 && hub_->connected(); }, 20s));
    EXPECT_GE(hub_->stats().sessions, 2u);
    auto now = hub_->credentials();
    ASSERT_TRUE(now);
    EXPECT_NE(now->cert.serial_hex(), first->cert.serial_hex());
    // Written to disk, so a restart uses the rotated certificate.
    auto stored = load_identity(cert_paths(), "edge1", SystemClock::instance().now());
    ASSERT_TRUE(stored);
    EXPECT_EQ(stored->creds.cert.serial_hex(), now->cert.serial_hex());
    EXPECT_EQ(mode_of(cert_paths().key), 0600u);
    EXPECT_TRUE(hub_->connected());
}

}  // namespace
}  // namespace kedge::edge::test
