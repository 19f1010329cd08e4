// Simulated edges against a real join server (CertServer + CloudPki) and a small hub on a real
// mutually-authenticated WebSocket server: the join flow and its cache, the session headers and
// certificate identity, inventory resync, acks, pod status patches, heartbeats and a reconnect
// storm.
#include "edgemark/fleet.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <signal.h>
#include <sys/wait.h>

#include <map>
#include <mutex>
#include <set>

#include "bus/codec.hpp"
#include "cloud/certserver/cert_server.hpp"
#include "edgemark/join.hpp"
#include "hub/inventory.hpp"
#include "hub/message_stream.hpp"
#include "kube/time.hpp"
#include "net/ws_server.hpp"
#include "pki/issue.hpp"
#include "support/test_support.hpp"
#include "unit/net_http/http_test_util.hpp"

namespace kedge::edgemark {
namespace {

namespace asio = boost::asio;
namespace json = boost::json;
using namespace std::chrono_literals;

// What the small hub saw from one node.
struct NodeLog {
    std::vector<std::string> cns;          // certificate CN per session
    std::vector<std::string> targets;      // request target per session
    std::vector<std::string> project_ids;  // project_id header per session
    std::vector<hub::Inventory> inventories;
    std::set<std::string> pod_msg_ids;  // pods we sent
    std::set<std::string> acked;        // parent ids of acks
    std::vector<std::string> patches;   // podpatch resources
    int keepalives = 0;
};

class FleetTest : public ::testing::Test {
protected:
    void SetUp() override {
        cloud::CloudPkiOptions po;
        po.server_sans.ips = {"127.0.0.1"};
        auto p = io_.run(cloud::CloudPki::load_or_create(store_, po, SystemClock::instance()));
        ASSERT_TRUE(p) << p.error().message();
        pki_ = *p;
        cloud::CertServerOptions co;
        co.address = "127.0.0.1";
        co.port = 0;
        cert_server_ = std::make_unique<cloud::CertServer>(
            io_.executor(), pki_, co,
            [](std::string) -> asio::awaitable<Result<bool>> { co_return false; });
        ASSERT_TRUE(cert_server_->start());

        net::WsServerOptions wo;
        wo.tls =
            net::TlsContext::make_server({net::PemSource::from_pem(pki_->ca_cert().to_pem()),
                                          net::PemSource::from_pem(pki_->server_cert().to_pem()),
                                          net::PemSource::from_pem(pki_->server_key().to_pem()),
                                          net::ClientAuth::require})
                .value();
        hub_ = net::WsServer::create(io_.executor(), wo).value();
        hub_->set_handler(
            [this](std::shared_ptr<net::WsConnection> c) { return serve(std::move(c)); });
        ASSERT_TRUE(hub_->start());
    }
    void TearDown() override {
        hub_->stop();
        cert_server_->stop();
    }

    // Per session: record the identity, answer the inventory with one pod (the first time) and
    // the resync response, then record acks, patches and keepalives.
    asio::awaitable<void> serve(std::shared_ptr<net::WsConnection> c) {
        std::string node = c->request_header("node_id");
        {
            std::lock_guard lock(mutex_);
            auto& log = nodes_[node];
            log.cns.push_back(c->peer().common_name);
            log.targets.push_back(c->target());
            log.project_ids.push_back(c->request_header("project_id"));
        }
        for (;;) {
            auto msg = co_await hub::read_message(*c);
            if (!msg) co_return;
            std::lock_guard lock(mutex_);
            auto& log = nodes_[node];
            if (hub::is_inventory_message(*msg)) {
                auto inv = hub::parse_inventory(*msg);
                if (!inv) co_return;
                log.inventories.push_back(*inv);
                hub::ResyncSummary summary{0, 0, 0, inv->size()};
                if (!inv->resources.count("pod")) {
                    auto pod = make_pod(node);
                    log.pod_msg_ids.insert(pod.header.msg_id);
                    (void)hub::send_message(*c, pod);
                    summary.inserted = 1;
                }
                (void)hub::send_message(*c, hub::make_resync_response(*msg, summary));
            } else if (msg->operation() == "response") {
                if (log.pod_msg_ids.count(msg->parent_id())) log.acked.insert(msg->parent_id());
            } else if (msg->operation() == "patch") {
                log.patches.push_back(msg->resource());
            } else if (msg->operation() == "keepalive") {
                ++log.keepalives;
            }
        }
    }

    static bus::Message make_pod(const std::string& node) {
        json::object meta{{"name", "pod-" + node},
                          {"namespace", "default"},
                          {"uid", "uid-" + node},
                          {"resourceVersion", "100"},
                          {"creationTimestamp", kube::format_time(SystemClock::instance().now())},
                          {"annotations",
                           json::object{{kCreatedAtAnnotation,
                                         kube::format_micro_time(SystemClock::instance().now())}}}};
        json::object pod{{"apiVersion", "v1"},
                         {"kind", "Pod"},
                         {"metadata", meta},
                         {"spec", json::object{{"nodeName", node}}}};
        return bus::Message::make("edgecontroller", "resource", "insert", "default/pod/pod-" + node,
                                  bus::Content::encoded(pod))
            .with_resource_version("100");
    }

    FleetOptions options(std::size_t nodes) {
        FleetOptions o;
        o.cloud = "127.0.0.1";
        o.hub_port = hub_->port();
        o.cert_port = cert_server_->port();
        o.token = pki_->token();
        o.nodes = nodes;
        o.name_prefix = "sim-";
        o.cert_cache_dir = dir_.file("certs");
        o.heartbeat = 200ms;
        o.reconnect.initial = 100ms;
        o.threads = 2;
        return o;
    }

    NodeLog log_of(const std::string& node) {
        std::lock_guard lock(mutex_);
        return nodes_[node];
    }

    test::TempDir dir_;
    cloud::FilePkiStore store_{dir_.file("secrets")};
    test::IoThread io_;
    std::shared_ptr<cloud::CloudPki> pki_;
    std::unique_ptr<cloud::CertServer> cert_server_;
    std::shared_ptr<net::WsServer> hub_;
    std::mutex mutex_;
    std::map<std::string, NodeLog> nodes_;
};

TEST_F(FleetTest, NodesJoinConnectResyncAckAndPatch) {
    Fleet fleet(options(3));
    ASSERT_TRUE(fleet.join());
    EXPECT_EQ(cert_server_->certificates_issued(), 3u);
    EXPECT_EQ(fleet.cached_joins(), 0u);
    fleet.start();
    ASSERT_TRUE(test::wait_until([&] { return fleet.stats().snapshot().level == 3; }, 20s));
    ASSERT_TRUE(test::wait_until([&] { return fleet.stats().snapshot().acks_sent == 6; }, 10s));

    for (std::size_t i = 0; i < 3; ++i) {
        std::string node = "sim-" + std::to_string(i);
        // The edge counts an ack when it sends it; the server logs it when it arrives.
        ASSERT_TRUE(test::wait_until(
            [&] {
                auto l = log_of(node);
                return !l.patches.empty() && l.acked == l.pod_msg_ids;
            },
            10s))
            << node;
        auto log = log_of(node);
        ASSERT_EQ(log.cns.size(), 1u);
        EXPECT_EQ(log.cns[0], "system:node:" + node);
        EXPECT_EQ(log.targets[0], "/" + std::string(kDefaultProjectId) + "/" + node + "/events");
        EXPECT_EQ(log.project_ids[0], kDefaultProjectId);
        ASSERT_EQ(log.inventories.size(), 1u);
        EXPECT_EQ(log.inventories[0].size(), 0u);  // a new node stores nothing yet
        EXPECT_EQ(log.acked, log.pod_msg_ids);
        EXPECT_EQ(log.patches, std::vector<std::string>{"default/podpatch/pod-" + node});
        EXPECT_EQ(fleet.edge(i).inventory_size(), 1u);
    }
    auto s = fleet.stats().snapshot();
    EXPECT_EQ(s.connected, 3u);
    EXPECT_EQ(s.pods_seen, 3u);
    EXPECT_EQ(s.resyncs, 3u);
    EXPECT_EQ(s.resync_inserted, 3u);
    auto lat = fleet.stats().pod_latency.summary();
    EXPECT_EQ(lat.count, 3u);
    EXPECT_LT(lat.max_us, 10e6);
    // Heartbeats every 200 ms.
    EXPECT_TRUE(test::wait_until([&] { return log_of("sim-0").keepalives >= 2; }, 5s));
}

TEST_F(FleetTest, StormReconnectsEveryNodeWithItsInventory) {
    Fleet fleet(options(4));
    ASSERT_TRUE(fleet.join());
    fleet.start();
    ASSERT_TRUE(test::wait_until([&] { return fleet.stats().snapshot().level == 4; }, 20s));
    ASSERT_TRUE(test::wait_until([&] { return fleet.stats().snapshot().acks_sent == 8; }, 10s));

    auto t = std::chrono::steady_clock::now();
    fleet.storm();
    ASSERT_TRUE(test::wait_until([&] { return fleet.all_level_since(t).has_value(); }, 20s));
    EXPECT_EQ(fleet.level_since(t), 4u);
    for (std::size_t i = 0; i < 4; ++i) {
        std::string node = "sim-" + std::to_string(i);
        auto log = log_of(node);
        ASSERT_EQ(log.inventories.size(), 2u) << node;
        // The second session reports the pod the first one delivered, at its version.
        EXPECT_EQ(log.inventories[1].resources.at("pod").at("default/pod-" + node), "100");
        EXPECT_EQ(log.pod_msg_ids.size(), 1u);  // so the hub did not send it again
        EXPECT_EQ(fleet.edge(i).sessions(), 2u);
    }
    auto s = fleet.stats().snapshot();
    EXPECT_EQ(s.resyncs, 8u);
    EXPECT_EQ(s.resync_unchanged, 4u);
    EXPECT_EQ(s.pods_seen, 4u);  // no pod counted twice
}

TEST_F(FleetTest, CachedCertificatesAreReusedAndStillWork) {
    {
        Fleet first(options(2));
        ASSERT_TRUE(first.join());
    }
    EXPECT_EQ(cert_server_->certificates_issued(), 2u);
    Fleet again(options(3));
    ASSERT_TRUE(again.join());
    EXPECT_EQ(again.cached_joins(), 2u);
    EXPECT_EQ(cert_server_->certificates_issued(), 3u);  // only the new node joined
    again.start();
    ASSERT_TRUE(test::wait_until([&] { return again.stats().snapshot().level == 3; }, 20s));
    EXPECT_EQ(log_of("sim-0").cns.at(0), "system:node:sim-0");
}

TEST_F(FleetTest, CacheFromAnotherCaIsIgnored) {
    CertCache cache(dir_.file("certs"));
    auto other = pki::create_ca("other").value();
    auto key = pki::PrivateKey::generate().value();
    auto csr = pki::CertificateRequest::create(key, {"system:node:sim-0", {"system:nodes"}});
    auto cert = pki::sign_csr(other.cert, other.key, csr.value()).value();
    ASSERT_TRUE(cache.store(other.cert, "sim-0", {cert, key}));
    EXPECT_TRUE(cache.load(other.cert, "sim-0").has_value());
    EXPECT_FALSE(cache.load(pki_->ca_cert(), "sim-0").has_value());

    Fleet fleet(options(1));
    ASSERT_TRUE(fleet.join());
    EXPECT_EQ(fleet.cached_joins(), 0u);
    EXPECT_EQ(cert_server_->certificates_issued(), 1u);
}

TEST_F(FleetTest, TokenWithAnotherCaHashIsRefusedBeforeTrustingTheServer) {
    auto o = options(1);
    o.token = std::string(64, 'a') + o.token.substr(64);
    Fleet fleet(o);
    auto r = fleet.join();
    ASSERT_FALSE(r);
    EXPECT_TRUE(r.error().is(errc::unauthorized)) << r.error().message();
    EXPECT_EQ(cert_server_->certificates_issued(), 0u);
}

TEST_F(FleetTest, TamperedJwtIsRefusedByTheJoinServer) {
    auto o = options(1);
    o.token.back() = o.token.back() == 'A' ? 'B' : 'A';
    Fleet fleet(o);
    auto r = fleet.join();
    ASSERT_FALSE(r);
    EXPECT_TRUE(r.error().is(errc::unauthorized) || r.error().is(errc::invalid_argument))
        << r.error().message();
    EXPECT_NE(r.error().detail.find("/edge.crt"), std::string::npos) << r.error().detail;
}

// The command-line tool end to end: milestones on stdout, a storm on SIGUSR1, and the final
// BENCH line on SIGTERM.
TEST_F(FleetTest, BinaryReportsMilestonesStormAndBenchLine) {
    auto out = dir_.file("edgemark.out");
    test::Process em({test::build_path("apps/kedge-edgemark/kedge-edgemark"),
                      "--cloud",
                      "127.0.0.1",
                      "--hub-port",
                      std::to_string(hub_->port()),
                      "--cert-port",
                      std::to_string(cert_server_->port()),
                      "--token",
                      pki_->token(),
                      "--nodes",
                      "5",
                      "--name-prefix",
                      "bin-",
                      "--cert-cache",
                      dir_.file("bincerts"),
                      "--heartbeat",
                      "0.5",
                      "--reconnect-initial-ms",
                      "200",
                      "--report-every",
                      "0.5"},
                     out);
    auto has = [&](const std::string& s) {
        return test::read_file(out).find(s) != std::string::npos;
    };
    ASSERT_TRUE(test::wait_until([&] { return has("EDGEMARK all-level"); }, 30s))
        << test::read_file(out);
    EXPECT_TRUE(has("EDGEMARK joined nodes=5 cached=0"));
    EXPECT_TRUE(has("EDGEMARK all-connected"));
    ASSERT_TRUE(test::wait_until([&] { return has("pods=5"); }, 10s)) << test::read_file(out);
    ::kill(em.pid(), SIGUSR1);
    ASSERT_TRUE(test::wait_until([&] { return has("EDGEMARK storm-resynced"); }, 30s))
        << test::read_file(out);
    int status = em.stop();
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
    auto text = test::read_file(out);
    auto bench = text.find("BENCH edgemark nodes=5 joined=5");
    ASSERT_NE(bench, std::string::npos) << text;
    auto line = text.substr(bench);
    EXPECT_NE(line.find("resyncs=10"), std::string::npos) << line;
    EXPECT_NE(line.find("pods=5"), std::string::npos) << line;
    EXPECT_NE(line.find("pod_latency_n=5"), std::string::npos) << line;
    EXPECT_EQ(line.find("storm_resync_s=na"), std::string::npos) << line;
    for (int i = 0; i < 5; ++i)
        EXPECT_EQ(log_of("bin-" + std::to_string(i)).inventories.size(), 2u) << i;
}

}  // namespace
}  // namespace kedge::edgemark
