#pragma once
// The real kedge-apiserver and cloudcore binaries on loopback (parts of
// tests/integration/cloudcore/cloudcore_fixture.hpp), and in this test process a bus::Context on
// its own io_context thread hosting the EdgeHub under test plus a "metamanager" (group meta) that
// only queues, so tests see exactly what the hub delivered.

#include <gtest/gtest.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "bus/context.hpp"
#include "edge/edgehub/edge_hub.hpp"
#include "support/bus_modules.hpp"
#include "support/test_support.hpp"

namespace kedge::edge::test {

using kedge::test::CommandResult;
using kedge::test::Process;
using kedge::test::run_command;
using kedge::test::TempDir;
using namespace std::chrono_literals;

class EdgeHubCloudFixture : public ::testing::Test {
protected:
    void SetUp() override {
        std::string error;
        apiserver_ = kedge::test::start_kedge_apiserver(
            {"--data-dir", dir_.file("apiserver"), "--bind-address", "127.0.0.1", "--secure-port",
             "0", "--controllers", "", "--log-level", "warn"},
            kubeconfig(), dir_.file("apiserver.log"), &error);
        ASSERT_TRUE(apiserver_) << error;
        kubectl_ok("apply -R -f " + kedge::test::source_path("deploy/crds"));
        hub_port_ = kedge::test::free_port();
        cert_port_ = kedge::test::free_port();
        metrics_port_ = kedge::test::free_port();
        start_cloudcore();
        io_thread_ = std::thread([this] { ioc_.run(); });
    }

    void TearDown() override {
        if (ctx_) ctx_->shutdown();
        work_.reset();
        ioc_.stop();
        if (io_thread_.joinable()) io_thread_.join();
        if (cloudcore_) cloudcore_->stop();
        if (apiserver_) apiserver_->stop();
        if (HasFailure())
            std::cerr << "---- cloudcore log (tail) ----\n"
                      << tail(kedge::test::read_file(cloudcore_log()), 15'000);
    }

    std::string config_yaml() const {
        std::ostringstream y;
        y << "apiVersion: cloudcore.config.kubeedge.io/v1alpha1\n"
          << "kind: CloudCore\n"
          << "kubeAPIConfig:\n  kubeConfig: " << kubeconfig() << "\n"
          << "commonConfig:\n  monitorServer:\n    bindAddress: 127.0.0.1:" << metrics_port_ << "\n"
          << "modules:\n  cloudHub:\n    advertiseAddress: [127.0.0.1]\n"
          << "    keepaliveInterval: " << keepalive_interval_s_ << "\n"
          << "    websocket: {address: 127.0.0.1, port: " << hub_port_ << "}\n"
          << "    https: {address: 127.0.0.1, port: " << cert_port_ << "}\n"
          << "    unixsocket: {enable: false}\n";
        return y.str();
    }

    std::string cloudcore_log() const {
        return dir_.file("cloudcore-" + std::to_string(cloudcore_starts_) + ".log");
    }

    void start_cloudcore() {
        kedge::test::write_file(dir_.file("cloudcore.yaml"), config_yaml());
        ++cloudcore_starts_;
        std::string log = cloudcore_log();
        cloudcore_ = std::make_unique<Process>(
            std::vector<std::string>{kedge::test::build_path("apps/cloudcore/cloudcore"),
                                     "--config", dir_.file("cloudcore.yaml"), "--instance-id",
                                     "cloudcore-test", "--log-level", "info"},
            log);
        ASSERT_TRUE(kedge::test::wait_until(
            [&] {
                return kedge::test::read_file(log).find("cloudcore serving") != std::string::npos;
            },
            30s))
            << kedge::test::read_file(log);
    }
    void stop_cloudcore() { cloudcore_->stop(); }

    std::string kubeconfig() const { return dir_.file("kubeconfig"); }

    CommandResult kubectl(const std::string& args) {
        return run_command("kubectl --kubeconfig " + kubeconfig() + " --request-timeout=20s " +
                           args + " 2>&1");
    }
    std::string kubectl_ok(const std::string& args) {
        auto r = kubectl(args);
        EXPECT_EQ(r.exit_code, 0) << "kubectl " << args << "\n" << r.output;
        return r.output;
    }
    std::string apply(const std::string& manifest) {
        std::string path = dir_.file("manifest-" + std::to_string(++manifests_) + ".yaml");
        kedge::test::write_file(path, manifest);
        return kubectl_ok("apply -f " + path);
    }
    // The join token cloudcore stored in kubeedge/tokensecret.
    std::string token() {
        auto r = run_command("kubectl --kubeconfig " + kubeconfig() +
                             " get secret -n kubeedge tokensecret -o "
                             "jsonpath='{.data.tokendata}' | base64 -d");
        EXPECT_EQ(r.exit_code, 0) << r.output;
        return r.output;
    }
    void create_edge_node(const std::string& name) {
        apply("apiVersion: v1\nkind: Node\nmetadata:\n  name: " + name +
              "\n  labels:\n    node-role.kubernetes.io/edge: \"\"\n");
    }

    CertPaths cert_paths() const {
        return {dir_.file("edge/ca/rootCA.crt"), dir_.file("edge/certs/server.crt"),
                dir_.file("edge/certs/server.key")};
    }

    // Options that talk to this cloudcore, with test-sized timers.
    EdgeHubOptions hub_options(const std::string& node = "edge1") {
        EdgeHubOptions o;
        o.node = node;
        o.server = "127.0.0.1:" + std::to_string(hub_port_);
        o.http_server = "https://127.0.0.1:" + std::to_string(cert_port_);
        o.token = token();
        o.certs = cert_paths();
        o.heartbeat = 1s;
        o.read_deadline = 5s;
        o.reconnect = {100ms, 500ms, 2.0, net::Jitter::full};
        o.rotate_certificates = false;
        return o;
    }

    void start_hub(EdgeHubOptions o, InventoryProvider inv = empty_inventory()) {
        ctx_ = std::make_unique<bus::Context>(ioc_.get_executor());
        hub_ = std::make_shared<EdgeHub>(std::move(o), std::move(inv));
        ASSERT_TRUE(ctx_->add_module(hub_));
        ASSERT_TRUE(ctx_->add_module(
            std::make_shared<kedge::test::QueueOnlyModule>("metamanager", "meta")));
        ctx_->start_modules();
    }
    static InventoryProvider empty_inventory() {
        return [] { return Result<hub::Inventory>(hub::Inventory{}); };
    }

    // Everything "metamanager" received so far (read on the test thread only). Objects are
    // acked as a meta manager would after storing them: the cloud sends one unacked object per
    // node at a time, so without acks nothing after the first would come.
    const std::vector<bus::Message>& meta_inbox() {
        while (auto m = ctx_->try_receive("metamanager")) {
            if (!m->header.resource_version.empty() && !m->is_response())
                EXPECT_TRUE(ctx_->send("websocket",
                                       bus::make_response(*m, bus::Content::from_string("OK"))));
            inbox_.push_back(std::move(*m));
        }
        return inbox_;
    }
    std::optional<bus::Message> wait_meta(std::function<bool(const bus::Message&)> pred,
                                          std::chrono::milliseconds deadline = 20s,
                                          std::size_t from = 0) {
        std::optional<bus::Message> found;
        kedge::test::wait_until(
            [&] {
                auto& in = meta_inbox();
                for (std::size_t i = from; i < in.size(); ++i)
                    if (pred(in[i])) {
                        found = in[i];
                        return true;
                    }
                return false;
            },
            deadline);
        return found;
    }
    std::size_t count_meta(std::string_view content) {
        std::size_t n = 0;
        for (auto& m : meta_inbox())
            if (m.resource() == kConnectionResource && m.content.string_equals(content)) ++n;
        return n;
    }

    static std::string tail(const std::string& s, std::size_t n) {
        return s.size() <= n ? s : s.substr(s.size() - n);
    }

    TempDir dir_;
    std::unique_ptr<Process> apiserver_, cloudcore_;
    int hub_port_ = 0, cert_port_ = 0, metrics_port_ = 0;
    int cloudcore_starts_ = 0, manifests_ = 0;
    int keepalive_interval_s_ = 30;

    boost::asio::io_context ioc_;
    boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_{
        ioc_.get_executor()};
    std::thread io_thread_;
    std::unique_ptr<bus::Context> ctx_;
    std::shared_ptr<EdgeHub> hub_;
    std::vector<bus::Message> inbox_;
};

}  // namespace kedge::edge::test
