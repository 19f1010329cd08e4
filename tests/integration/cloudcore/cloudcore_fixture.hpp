#pragma once
// Process-level harness of cloudcore: the real kedge-apiserver, the real cloudcore binary with a
// generated cloudcore.yaml on loopback ports, kubectl, and edges written independently in Python
// (fake_edge.py: ssl + websocket-client + openssl CLI) that join with the token, connect, store
// and ack, and send what a test drops in their outbox.

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "support/test_support.hpp"

namespace kedge::cloud::test {

using kedge::test::CommandResult;
using kedge::test::Process;
using kedge::test::run_command;
using kedge::test::TempDir;

class CloudCoreFixture : public ::testing::Test {
  protected:
    void SetUp() override {
        start_apiserver();
        if (HasFatalFailure()) return;
        kubectl_ok("apply -R -f " + kedge::test::source_path("deploy/crds"));
        hub_port_ = kedge::test::free_port();
        cert_port_ = kedge::test::free_port();
        metrics_port_ = kedge::test::free_port();
        write_config();
        start_cloudcore();
    }

    void TearDown() override {
        for (auto& [name, e] : edges_) e->stop();
        if (cloudcore_) cloudcore_->stop();
        if (replica_) replica_->stop();
        if (apiserver_) apiserver_->stop();
        if (HasFailure()) {
            std::cerr << "---- cloudcore log (tail) ----\n"
                      << tail(kedge::test::read_file(dir_.file("cloudcore-" +
                                                              std::to_string(cloudcore_starts_) +
                                                              ".log")),
                              15'000);
            for (auto& [name, e] : edges_)
                std::cerr << "---- edge " << name << " log ----\n"
                          << tail(kedge::test::read_file(edge_dir(name) + ".log"), 3'000);
        }
    }

    void start_apiserver() {
        std::string error;
        apiserver_ = kedge::test::start_kedge_apiserver(
            {"--data-dir", dir_.file("apiserver"), "--bind-address", "127.0.0.1", "--secure-port",
             "0", "--controllers", "", "--log-level", "warn"},
            kubeconfig(), dir_.file("apiserver.log"), &error);
        ASSERT_TRUE(apiserver_) << error;
    }

    void write_config() { kedge::test::write_file(config_path(), config_yaml()); }

    std::string config_yaml() const {
        std::ostringstream y;
        y << "apiVersion: cloudcore.config.kubeedge.io/v1alpha1\n"
          << "kind: CloudCore\n"
          << "kubeAPIConfig:\n  kubeConfig: " << kubeconfig() << "\n"
          << "commonConfig:\n  monitorServer:\n    bindAddress: 127.0.0.1:" << metrics_port_
          << "\n"
          << "modules:\n  cloudHub:\n    advertiseAddress: [127.0.0.1]\n"
          << "    keepaliveInterval: 30\n"
          << "    websocket: {address: 127.0.0.1, port: " << hub_port_ << "}\n"
          << "    https: {address: 127.0.0.1, port: " << cert_port_ << "}\n"
          << "    unixsocket: {enable: false}\n";
        return y.str();
    }

    // Another cloudcore replica on its own ports against the same API server (as behind a load
    // balancer). The fixture's ports then point at it, so start_edge() dials the replica.
    void start_replica() {
        hub_port_ = kedge::test::free_port();
        cert_port_ = kedge::test::free_port();
        metrics_port_ = kedge::test::free_port();
        std::string path = dir_.file("cloudcore-replica.yaml");
        kedge::test::write_file(path, config_yaml());
        std::string log = dir_.file("cloudcore-replica.log");
        replica_ = std::make_unique<Process>(
            std::vector<std::string>{kedge::test::build_path("apps/cloudcore/cloudcore"),
                                     "--config", path, "--instance-id", "cloudcore-replica"},
            log);
        ASSERT_TRUE(kedge::test::wait_until(
            [&] {
                return kedge::test::read_file(log).find("cloudcore serving") != std::string::npos;
            },
            std::chrono::seconds(30)))
            << kedge::test::read_file(log);
    }

    void start_cloudcore() {
        ++cloudcore_starts_;
        std::string log = dir_.file("cloudcore-" + std::to_string(cloudcore_starts_) + ".log");
        cloudcore_ = std::make_unique<Process>(
            std::vector<std::string>{kedge::test::build_path("apps/cloudcore/cloudcore"),
                                     "--config", config_path(), "--instance-id", "cloudcore-test",
                                     "--log-level", "info"},
            log);
        ASSERT_TRUE(kedge::test::wait_until(
            [&] {
                return kedge::test::read_file(log).find("cloudcore serving") != std::string::npos;
            },
            std::chrono::seconds(30)))
            << kedge::test::read_file(log);
    }
    void stop_cloudcore() { cloudcore_->stop(); }

    std::string kubeconfig() const { return dir_.file("kubeconfig"); }
    std::string config_path() const { return dir_.file("cloudcore.yaml"); }
    std::string edge_dir(const std::string& node) const { return dir_.file("edge-" + node); }

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
    boost::json::value get_json(const std::string& args) {
        auto r = run_command("kubectl --kubeconfig " + kubeconfig() +
                             " --request-timeout=20s get " + args + " -o json 2>/dev/null");
        if (r.exit_code != 0) return nullptr;
        boost::system::error_code ec;
        auto v = boost::json::parse(r.output, ec);
        return ec ? boost::json::value(nullptr) : v;
    }

    // The join token cloudcore stored in kubeedge/tokensecret.
    std::string token() {
        auto r = run_command("kubectl --kubeconfig " + kubeconfig() +
                             " get secret -n kubeedge tokensecret -o "
                             "jsonpath='{.data.tokendata}' | base64 -d");
        EXPECT_EQ(r.exit_code, 0) << r.output;
        return r.output;
    }

    // A Node object with KubeEdge's edge label (what edgecore would register).
    void create_edge_node(const std::string& name) {
        apply("apiVersion: v1\nkind: Node\nmetadata:\n  name: " + name +
              "\n  labels:\n    node-role.kubernetes.io/edge: \"\"\n");
    }

    // Starts fake_edge.py for node; extra flags as in its --help. wait: until connected.
    Process& start_edge(const std::string& node, std::vector<std::string> extra = {},
                        bool wait = true, std::string token_override = {}) {
        std::vector<std::string> argv = {
            "/usr/bin/python3",
            kedge::test::source_path("tests/integration/cloudcore/fake_edge.py"),
            "--hub-port", std::to_string(hub_port_), "--cert-port", std::to_string(cert_port_),
            "--token", token_override.empty() ? token() : token_override, "--node", node,
            "--dir", edge_dir(node), "--heartbeat", "2"};
        for (auto& e : extra) argv.push_back(e);
        std::filesystem::create_directories(edge_dir(node));
        std::filesystem::remove(edge_dir(node) + "/connected");
        edges_[node] = std::make_unique<Process>(argv, edge_dir(node) + ".log");
        if (wait) {
            EXPECT_TRUE(kedge::test::wait_until(
                [&] { return std::filesystem::exists(edge_dir(node) + "/connected"); },
                std::chrono::seconds(20)))
                << kedge::test::read_file(edge_dir(node) + ".log");
        }
        return *edges_[node];
    }
    void stop_edge(const std::string& node) { edges_.at(node)->stop(); }

    // Messages the edge received so far.
    std::vector<boost::json::object> inbox(const std::string& node) {
        std::vector<boost::json::object> out;
        std::istringstream in(kedge::test::read_file(edge_dir(node) + "/inbox.jsonl"));
        std::string line;
        while (std::getline(in, line)) {
            boost::system::error_code ec;
            auto v = boost::json::parse(line, ec);
            if (!ec && v.is_object()) out.push_back(v.as_object());
        }
        return out;
    }
    // Received messages whose route.resource is resource (and operation op, if given).
    std::vector<boost::json::object> received(const std::string& node,
                                              const std::string& resource,
                                              const std::string& op = {}) {
        std::vector<boost::json::object> out;
        for (auto& m : inbox(node)) {
            auto* route = m.if_contains("route");
            if (!route || !route->is_object()) continue;
            auto& r = route->as_object();
            auto* res = r.if_contains("resource");
            auto* o = r.if_contains("operation");
            if (!res || !res->is_string() || res->as_string() != resource) continue;
            if (!op.empty() && (!o || !o->is_string() || o->as_string() != op)) continue;
            out.push_back(m);
        }
        return out;
    }
    // Drops a message into the edge's outbox (sent on its next loop turn); returns its msg_id.
    std::string send_from_edge(const std::string& node, const std::string& op,
                               const std::string& resource, boost::json::value content,
                               std::string source = "edged", std::string group = "resource") {
        static int seq = 0;
        std::string id = "test-" + std::to_string(++seq) + "-" + node;
        boost::json::object msg{
            {"header", boost::json::object{{"msg_id", id}, {"timestamp", 1}}},
            {"route", boost::json::object{{"source", source},
                                          {"group", group},
                                          {"operation", op},
                                          {"resource", resource}}},
            {"content", std::move(content)}};
        std::string tmp = edge_dir(node) + "/outbox/" + id + ".tmp";
        kedge::test::write_file(tmp, boost::json::serialize(msg));
        std::filesystem::rename(tmp, edge_dir(node) + "/outbox/" + id + ".json");
        return id;
    }
    void send_raw_from_edge(const std::string& node, const std::string& text) {
        std::string tmp = edge_dir(node) + "/outbox/raw.tmp";
        kedge::test::write_file(tmp, text);
        std::filesystem::rename(tmp, edge_dir(node) + "/outbox/0-raw.raw");
    }
    // The response (or error) to msg_id, if it arrived.
    std::optional<boost::json::object> response_to(const std::string& node,
                                                    const std::string& msg_id) {
        for (auto& m : inbox(node)) {
            auto* h = m.if_contains("header");
            if (!h || !h->is_object()) continue;
            auto* p = h->as_object().if_contains("parent_msg_id");
            if (p && p->is_string() && p->as_string() == msg_id) return m;
        }
        return std::nullopt;
    }

    std::string metrics() {
        return run_command("curl -s http://127.0.0.1:" + std::to_string(metrics_port_) +
                           "/metrics")
            .output;
    }
    // apiserver_request_total summed over every label set with this verb and resource.
    std::uint64_t apiserver_requests(const std::string& verb, const std::string& resource) {
        auto text = kubectl("get --raw /metrics").output;
        std::uint64_t total = 0;
        std::istringstream in(text);
        std::string line;
        const std::string v = "verb=\"" + verb + "\"", r = "resource=\"" + resource + "\"";
        while (std::getline(in, line)) {
            if (line.rfind("apiserver_request_total{", 0) != 0) continue;
            if (line.find(v) == std::string::npos || line.find(r) == std::string::npos) continue;
            total += std::stoull(line.substr(line.rfind(' ') + 1));
        }
        return total;
    }

    static bool eventually(const std::function<bool()>& cond,
                           std::chrono::milliseconds deadline = std::chrono::seconds(20)) {
        auto end = std::chrono::steady_clock::now() + deadline;
        for (;;) {
            if (cond()) return true;
            if (std::chrono::steady_clock::now() >= end) return false;
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
        }
    }
    static std::string tail(const std::string& s, std::size_t n) {
        return s.size() <= n ? s : s.substr(s.size() - n);
    }

    TempDir dir_;
    std::unique_ptr<Process> apiserver_, cloudcore_, replica_;
    std::map<std::string, std::unique_ptr<Process>> edges_;
    int hub_port_ = 0, cert_port_ = 0, metrics_port_ = 0;
    int cloudcore_starts_ = 0, manifests_ = 0;
};

}  // namespace kedge::cloud::test
