// Simulated edges against the real CloudHub (src/cloud/hub): the hub admits each node by its
// certificate, hands the inventory to the observer (standing in for the edge controller), and
// counts the edges' acks; the pod status patches arrive upstream.
#include <gtest/gtest.h>

#include <boost/asio/post.hpp>
#include <boost/json.hpp>

#include <map>
#include <mutex>
#include <set>

#include "cloud/certserver/cert_server.hpp"
#include "cloud/hub/cloud_hub.hpp"
#include "edgemark/fleet.hpp"
#include "hub/inventory.hpp"
#include "kube/time.hpp"
#include "support/test_support.hpp"
#include "unit/net_http/http_test_util.hpp"

namespace kedge::edgemark {
namespace {

namespace asio = boost::asio;
namespace json = boost::json;
using namespace std::chrono_literals;

// Answers every inventory with one pod (when the node has none) and the resync response, as
// the edge controller does; records what came up.
class Observer : public cloud::HubObserver {
public:
    explicit Observer(asio::any_io_executor ex) : ex_(std::move(ex)) {}
    void set_sink(std::weak_ptr<cloud::MessageSink> sink) { sink_ = std::move(sink); }

    void node_connected(const std::string& node) override {
        std::lock_guard lock(mutex_);
        ++connected_[node];
    }
    void node_disconnected(const std::string&) override {}
    void upstream(const std::string& node, bus::Message msg) override {
        {
            std::lock_guard lock(mutex_);
            if (msg.operation() == "patch") patches_[node].push_back(msg.resource());
        }
        if (!hub::is_inventory_message(msg)) return;
        asio::post(ex_, [this, node, msg] {
            auto sink = sink_.lock();
            auto inv = hub::parse_inventory(msg);
            if (!sink || !inv) return;
            hub::ResyncSummary summary{0, 0, 0, inv->size()};
            if (!inv->resources.count("pod")) {
                (void)sink->send(node, pod_for(node));
                summary.inserted = 1;
            }
            (void)sink->send(node, hub::make_resync_response(msg, summary));
        });
    }
    void acked(const std::string& node, const bus::Message&) override {
        std::lock_guard lock(mutex_);
        ++acked_[node];
    }

    static bus::Message pod_for(const std::string& node) {
        json::object meta{{"name", "p-" + node},
                          {"namespace", "default"},
                          {"uid", "uid-" + node},
                          {"resourceVersion", "7"},
                          {"annotations",
                           json::object{{kCreatedAtAnnotation,
                                         kube::format_micro_time(SystemClock::instance().now())}}}};
        json::object pod{{"apiVersion", "v1"}, {"kind", "Pod"}, {"metadata", meta}};
        return bus::Message::make("edgecontroller", "resource", "insert", "default/pod/p-" + node,
                                  bus::Content::encoded(pod))
            .with_resource_version("7");
    }

    int acked(const std::string& node) {
        std::lock_guard lock(mutex_);
        return acked_[node];
    }
    std::vector<std::string> patches(const std::string& node) {
        std::lock_guard lock(mutex_);
        return patches_[node];
    }

private:
    asio::any_io_executor ex_;
    std::weak_ptr<cloud::MessageSink> sink_;
    std::mutex mutex_;
    std::map<std::string, int> connected_, acked_;
    std::map<std::string, std::vector<std::string>> patches_;
};

class CloudHubFleetTest : public ::testing::Test {
protected:
    void SetUp() override {
        cloud::CloudPkiOptions po;
        po.server_sans.ips = {"127.0.0.1"};
        pki_ =
            io_.run(cloud::CloudPki::load_or_create(store_, po, SystemClock::instance())).value();
        cloud::CertServerOptions co;
        co.address = "127.0.0.1";
        co.port = 0;
        certs_ = std::make_unique<cloud::CertServer>(
            io_.executor(), pki_, co,
            [](std::string) -> asio::awaitable<Result<bool>> { co_return false; });
        ASSERT_TRUE(certs_->start());
        cloud::CloudHubOptions ho;
        ho.address = "127.0.0.1";
        ho.port = 0;
        ho.tls =
            net::TlsContext::make_server({net::PemSource::from_pem(pki_->ca_cert().to_pem()),
                                          net::PemSource::from_pem(pki_->server_cert().to_pem()),
                                          net::PemSource::from_pem(pki_->server_key().to_pem()),
                                          net::ClientAuth::require})
                .value();
        observer_ = std::make_shared<Observer>(io_.executor());
        auto hub = cloud::CloudHub::make(io_.executor(), ho, observer_);
        ASSERT_TRUE(hub) << hub.error().message();
        hub_ = *hub;
        observer_->set_sink(hub_);
        ASSERT_TRUE(hub_->start());
    }
    void TearDown() override {
        if (hub_) hub_->stop();
        if (certs_) certs_->stop();
    }

    test::TempDir dir_;
    cloud::FilePkiStore store_{dir_.file("secrets")};
    test::IoThread io_;
    std::shared_ptr<cloud::CloudPki> pki_;
    std::unique_ptr<cloud::CertServer> certs_;
    std::shared_ptr<Observer> observer_;
    std::shared_ptr<cloud::CloudHub> hub_;
};

TEST_F(CloudHubFleetTest, FleetConnectsResyncsAcksAndPatchesThroughTheRealHub) {
    FleetOptions o;
    o.hub_port = hub_->port();
    o.cert_port = certs_->port();
    o.token = pki_->token();
    o.nodes = 5;
    o.heartbeat = 300ms;
    o.reconnect.initial = 100ms;
    Fleet fleet(o);
    ASSERT_TRUE(fleet.join());
    fleet.start();
    ASSERT_TRUE(test::wait_until([&] { return fleet.stats().snapshot().level == 5; }, 20s));
    EXPECT_EQ(hub_->connected_nodes().size(), 5u);
    for (std::size_t i = 0; i < 5; ++i) {
        auto node = fleet.node_name(i);
        ASSERT_TRUE(test::wait_until([&] { return observer_->acked(node) == 1; }, 10s))
            << node;  // the pod (the resync summary needs no ack)
        ASSERT_TRUE(test::wait_until([&] { return observer_->patches(node).size() == 1; }, 10s));
        EXPECT_EQ(observer_->patches(node)[0], "default/podpatch/p-" + node);
    }
    EXPECT_TRUE(test::wait_until([&] { return hub_->stats().pending_acks == 0; }, 5s));
    // Heartbeats keep the sessions alive and are counted by the hub.
    EXPECT_TRUE(
        test::wait_until([&] { return hub_->stats().messages_in.count("keepalive") > 0; }, 5s));

    auto t = std::chrono::steady_clock::now();
    fleet.storm();
    ASSERT_TRUE(test::wait_until([&] { return fleet.all_level_since(t).has_value(); }, 20s));
    auto s = fleet.stats().snapshot();
    EXPECT_EQ(s.resyncs, 10u);
    EXPECT_EQ(s.resync_unchanged, 5u);  // the pods each node stored came back in its inventory
    EXPECT_EQ(s.pods_seen, 5u);
    EXPECT_EQ(hub_->stats().handshake_failures.size(), 0u);
}

}  // namespace
}  // namespace kedge::edgemark
