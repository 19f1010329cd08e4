#pragma once
// The whole chain on loopback: the real kedge-apiserver and cloudcore (CloudCoreFixture) plus
// real edgecore processes, each with its own edgecore.yaml, SQLite file, certificates and ports
// under the test's TempDir, joined with the token cloudcore stored.

#include <sys/stat.h>

#include <set>

#include "integration/cloudcore/cloudcore_fixture.hpp"

namespace kedge::edge::test {

using kedge::cloud::test::CloudCoreFixture;
using kedge::test::Process;
using kedge::test::run_command;

struct EdgeCoreInstance {
    std::string node;
    std::string dir;
    int meta_port = 0;
    int monitor_port = 0;
    int kubelet_port = 0;
    int mqtt_port = 0;  // the broker edgecore's event bus uses; 0: none
    int starts = 0;
    std::unique_ptr<Process> process;

    std::string config() const { return dir + "/edgecore.yaml"; }
    std::string db() const { return dir + "/edgecore.db"; }
    std::string log() const { return dir + "/edgecore-" + std::to_string(starts) + ".log"; }
    std::string meta_url() const { return "http://127.0.0.1:" + std::to_string(meta_port); }
    std::string dmi_socket() const { return dir + "/dmi.sock"; }
};

class EdgeCoreFixture : public CloudCoreFixture {
protected:
    void TearDown() override {
        for (auto& [name, e] : edgecores_)
            if (e.process) e.process->stop();
        if (HasFailure()) {
            for (auto& [name, e] : edgecores_)
                std::cerr << "---- edgecore " << name << " log (tail) ----\n"
                          << tail(kedge::test::read_file(e.log()), 8'000);
        }
        CloudCoreFixture::TearDown();
    }

    // Writes edgecore.yaml for node (ports picked now, kept across restarts).
    // extra_yaml goes under `kedge:`; edged_yaml under `modules.edged.tailoredKubeletConfig:`
    // (indented 6). Without a runtime endpoint in edged_yaml, edged points at a socket that does
    // not exist: these tests never touch a container runtime the machine may have.
    EdgeCoreInstance& configure_edgecore(const std::string& node, const std::string& extra_yaml = {},
                                         const std::string& token_override = {},
                                         const std::string& edged_yaml = {}) {
        auto& e = edgecores_[node];
        e.node = node;
        e.dir = dir_.file("edgecore-" + node);
        std::filesystem::create_directories(e.dir);
        if (!e.meta_port) e.meta_port = kedge::test::free_port();
        if (!e.monitor_port) e.monitor_port = kedge::test::free_port();
        if (!e.kubelet_port) e.kubelet_port = kedge::test::free_port();
        std::ostringstream y;
        y << "apiVersion: edgecore.config.kubeedge.io/v1alpha2\nkind: EdgeCore\n"
          << "database:\n  dataSource: " << e.db() << "\n"
          << "modules:\n"
          << "  edged:\n    hostnameOverride: " << node << "\n    nodeIP: 127.0.0.1\n"
          << "    rootDirectory: " << e.dir << "/kubelet\n"
          << "    tailoredKubeletConfig:\n      nodeStatusUpdateFrequency: 1s\n"
          << "      readOnlyPort: " << e.kubelet_port << "\n"
          << "      staticPodPath: " << e.dir << "/manifests\n"
          << (edged_yaml.find("containerRuntimeEndpoint") == std::string::npos
                  ? "      containerRuntimeEndpoint: unix://" + e.dir + "/no-runtime.sock\n"
                  : std::string())
          << edged_yaml
          << "  edgeHub:\n    heartbeat: 2\n"
          << "    tlsCaFile: " << e.dir << "/ca/rootCA.crt\n"
          << "    tlsCertFile: " << e.dir << "/certs/server.crt\n"
          << "    tlsPrivateKeyFile: " << e.dir << "/certs/server.key\n"
          << "    token: " << (token_override.empty() ? token() : token_override) << "\n"
          << "    httpServer: https://127.0.0.1:" << cert_port_ << "\n"
          << "    websocket:\n      server: 127.0.0.1:" << hub_port_ << "\n"
          << "  metaManager:\n    metaServer:\n      server: 127.0.0.1:" << e.meta_port << "\n"
          // The DMI socket under the test's directory; the MQTT broker: the test's own when it
          // starts one (mqtt_port), else a port nothing listens on.
          << "  deviceTwin:\n    dmiSockPath: " << e.dir << "/dmi.sock\n"
          << "  eventBus:\n    mqttServerExternal: tcp://127.0.0.1:"
          << (e.mqtt_port ? e.mqtt_port : kedge::test::free_port()) << "\n"
          << "kedge:\n  monitorServer:\n    bindAddress: 127.0.0.1:" << e.monitor_port << "\n"
          << "  reconnect:\n    initialBackoff: 200ms\n    maxBackoff: 1s\n"
          << "  podLogsDirectory: " << e.dir << "/log/pods\n"
          << "  containerLogsDirectory: " << e.dir << "/log/containers\n"
          << extra_yaml;
        kedge::test::write_file(e.config(), y.str());
        return e;
    }

    // Starts (or restarts) edgecore for node; waits for its "edgecore serving" line.
    EdgeCoreInstance& start_edgecore(const std::string& node, bool wait = true) {
        auto& e = edgecores_.at(node);
        ++e.starts;
        e.process = std::make_unique<Process>(
            std::vector<std::string>{kedge::test::build_path("apps/edgecore/edgecore"), "--config",
                                     e.config(), "--log-level", "info"},
            e.log());
        if (wait) {
            EXPECT_TRUE(kedge::test::wait_until(
                [&] {
                    return kedge::test::read_file(e.log()).find("edgecore serving") !=
                           std::string::npos;
                },
                std::chrono::seconds(30)))
                << kedge::test::read_file(e.log());
        }
        return e;
    }

    EdgeCoreInstance& edgecore(const std::string& node) { return edgecores_.at(node); }

    // GET on the edge's meta server; {status, body}.
    std::pair<int, std::string> meta_get(const std::string& node, const std::string& path) {
        auto r = run_command("curl -s -m 10 -o /dev/stdout -w '\\n%{http_code}' '" +
                             edgecore(node).meta_url() + path + "'");
        auto nl = r.output.rfind('\n');
        if (nl == std::string::npos) return {0, r.output};
        int code = std::atoi(r.output.c_str() + nl + 1);
        return {code, r.output.substr(0, nl)};
    }
    boost::json::value meta_json(const std::string& node, const std::string& path) {
        auto [code, body] = meta_get(node, path);
        if (code != 200) return nullptr;
        boost::system::error_code ec;
        auto v = boost::json::parse(body, ec);
        return ec ? boost::json::value(nullptr) : v;
    }
    // Names of the items of a list served by the edge's meta server (empty on any error).
    std::set<std::string> meta_names(const std::string& node, const std::string& path) {
        std::set<std::string> out;
        auto v = meta_json(node, path);
        if (!v.is_object()) return out;
        auto* items = v.as_object().if_contains("items");
        if (!items || !items->is_array()) return out;
        for (auto& it : items->as_array())
            out.insert(std::string(it.at("metadata").at("name").as_string()));
        return out;
    }

    std::string edge_metrics(const std::string& node) {
        return run_command("curl -s -m 5 http://127.0.0.1:" +
                           std::to_string(edgecore(node).monitor_port) + "/metrics")
            .output;
    }
    // A counter or gauge of the edge's /metrics (-1 when absent).
    double edge_metric(const std::string& node, const std::string& name) {
        std::istringstream in(edge_metrics(node));
        std::string line;
        while (std::getline(in, line)) {
            if (line.rfind(name + " ", 0) == 0) return std::stod(line.substr(name.size() + 1));
        }
        return -1;
    }

    // The Ready condition of node in the API ("" when the node or condition is missing).
    std::string node_ready(const std::string& node) {
        auto v = get_json("node " + node);
        if (!v.is_object()) return "";
        auto* st = v.as_object().if_contains("status");
        if (!st || !st->is_object()) return "";
        auto* conds = st->as_object().if_contains("conditions");
        if (!conds || !conds->is_array()) return "";
        for (auto& c : conds->as_array())
            if (c.at("type").as_string() == "Ready") return std::string(c.at("status").as_string());
        return "";
    }

    // The node registered itself and reports status. Without a container runtime (these tests
    // have none) Ready is False with reason KubeletNotReady, as the kubelet reports it.
    bool node_registered(const std::string& node) { return !node_ready(node).empty(); }

    // A pod bound to node (no scheduler needed).
    void create_bound_pod(const std::string& name, const std::string& node,
                          const std::string& labels = "app: web", const std::string& extra = {}) {
        apply("apiVersion: v1\nkind: Pod\nmetadata:\n  name: " + name +
              "\n  namespace: default\n  labels:\n    " + labels + "\nspec:\n  nodeName: " + node +
              "\n  containers:\n  - name: c\n    image: busybox\n" + extra);
    }

    std::map<std::string, EdgeCoreInstance> edgecores_;
};

}  // namespace kedge::edge::test
