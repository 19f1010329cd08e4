#pragma once
// The harness of the controller tests: the real kedge-apiserver binary with its in-process
// controllers and short node-health timings, kubectl against it, and fake kubelets
// (fake_kubelet.py, python3-kubernetes) that register nodes, heartbeat them, mark bound pods
// Running+Ready and complete pod deletions. No container runtime is involved: only API objects.

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "support/test_support.hpp"

namespace kedge::controllers::test {

using kedge::test::CommandResult;
using kedge::test::Process;
using kedge::test::run_command;
using kedge::test::TempDir;

// A node a fake kubelet registers. Taints as Kubernetes JSON, e.g.
// {"key":"dedicated","value":"gpu","effect":"NoSchedule"}.
struct FakeNode {
    std::string name;
    std::map<std::string, std::string> labels;
    std::vector<boost::json::object> taints;
    std::map<std::string, std::string> capacity;  // cpu, memory, pods (defaults 4, 8Gi, 110)

    // A node carrying KubeEdge's edge role label.
    static FakeNode edge(std::string name) {
        FakeNode n{std::move(name), {}, {}, {}};
        n.labels["node-role.kubernetes.io/edge"] = "";
        return n;
    }
    static FakeNode cloud(std::string name) { return FakeNode{std::move(name), {}, {}, {}}; }
};

class ControllersFixture : public ::testing::Test {
  protected:
    // Node health timings the tests rely on: a node is Unknown ~4 s after its last heartbeat.
    static constexpr const char* kGracePeriod = "4s";

    void SetUp() override { start_apiserver(); }

    void TearDown() override {
        for (auto& k : kubelets_) k->stop();
        if (server_) server_->stop();
        if (HasFailure()) {
            std::cerr << "---- kedge-apiserver log (tail) ----\n"
                      << tail(kedge::test::read_file(dir_.file("apiserver.log")), 12'000);
            for (std::size_t i = 0; i < kubelets_.size(); ++i)
                std::cerr << "---- fake kubelet " << i << " log (tail) ----\n"
                          << tail(kedge::test::read_file(
                                      dir_.file("kubelet-" + std::to_string(i) + ".log")),
                                  4'000);
        }
    }

    // Starts kedge-apiserver (SQLite) with every controller and short timings; extra flags
    // override (later flags win in CLI11).
    void start_apiserver(std::vector<std::string> extra = {}) {
        std::vector<std::string> args = {
            "--data-dir", dir_.file("data"), "--bind-address", "127.0.0.1", "--secure-port", "0",
            "--log-level", "info", "--controllers", "*", "--node-monitor-period", "500ms",
            "--node-monitor-grace-period", kGracePeriod};
        args.insert(args.end(), extra.begin(), extra.end());
        std::string error;
        server_ = kedge::test::start_kedge_apiserver(args, kubeconfig(),
                                                     dir_.file("apiserver.log"), &error);
        ASSERT_TRUE(server_) << error;
    }

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
    // kubectl apply -f of a YAML/JSON document.
    std::string apply(const std::string& manifest) {
        std::string path = dir_.file("manifest-" + std::to_string(++manifests_) + ".yaml");
        kedge::test::write_file(path, manifest);
        return kubectl_ok("apply -f " + path);
    }
    // `kubectl get <args> -o json`, parsed; null when kubectl fails.
    boost::json::value get_json(const std::string& args) {
        auto r = run_command("kubectl --kubeconfig " + kubeconfig() +
                             " --request-timeout=20s get " + args + " -o json 2>/dev/null");
        if (r.exit_code != 0) return nullptr;
        boost::system::error_code ec;
        auto v = boost::json::parse(r.output, ec);
        return ec ? boost::json::value(nullptr) : v;
    }
    // The items of `kubectl get <args> -o json` (a list).
    std::vector<boost::json::object> get_items(const std::string& args) {
        std::vector<boost::json::object> out;
        auto v = get_json(args);
        if (!v.is_object()) return out;
        if (auto* items = v.as_object().if_contains("items"); items && items->is_array())
            for (auto& i : items->as_array())
                if (i.is_object()) out.push_back(i.as_object());
        return out;
    }

    // Starts a fake kubelet for these nodes and waits until they are registered.
    void start_kubelet(const std::vector<FakeNode>& nodes) {
        boost::json::array spec;
        for (const auto& n : nodes) {
            boost::json::object labels, capacity;
            for (const auto& [k, v] : n.labels) labels[k] = v;
            for (const auto& [k, v] : n.capacity) capacity[k] = v;
            boost::json::array taints;
            for (const auto& t : n.taints) taints.push_back(t);
            spec.push_back(boost::json::object{
                {"name", n.name}, {"labels", labels}, {"taints", taints}, {"capacity", capacity}});
        }
        const std::string index = std::to_string(kubelets_.size());
        const std::string nodes_file = dir_.file("kubelet-" + index + "-nodes.json");
        const std::string control = dir_.file("kubelet-" + index);
        kedge::test::write_file(nodes_file, boost::json::serialize(spec));
        std::filesystem::create_directories(control);
        for (const auto& n : nodes) control_dir_[n.name] = control;
        kubelets_.push_back(std::make_unique<Process>(
            std::vector<std::string>{"/usr/bin/python3",
                                     kedge::test::source_path(
                                         "tests/integration/controllers/fake_kubelet.py"),
                                     "--kubeconfig", kubeconfig(), "--nodes", nodes_file,
                                     "--control-dir", control, "--interval", "0.5"},
            dir_.file("kubelet-" + index + ".log")));
        ASSERT_TRUE(kedge::test::wait_until(
            [&] { return std::filesystem::exists(control + "/ready"); },
            std::chrono::seconds(30)))
            << "fake kubelet did not start:\n"
            << kedge::test::read_file(dir_.file("kubelet-" + index + ".log"));
    }
    // Stops the fake kubelet started index-th (its nodes stop heartbeating; objects stay).
    void stop_kubelet(std::size_t index) { kubelets_.at(index)->stop(); }

    // The node's kubelet stops heartbeating and touching its pods (kubelet or network down).
    void pause_heartbeat(const std::string& node) {
        kedge::test::write_file(control_dir_.at(node) + "/paused/" + node, "");
    }
    void resume_heartbeat(const std::string& node) {
        std::filesystem::remove(control_dir_.at(node) + "/paused/" + node);
    }

    // Polls cond every 200 ms (conditions usually run kubectl) until it holds or the deadline
    // passes.
    static bool eventually(const std::function<bool()>& cond,
                           std::chrono::milliseconds deadline = std::chrono::seconds(30)) {
        auto end = std::chrono::steady_clock::now() + deadline;
        for (;;) {
            if (cond()) return true;
            if (std::chrono::steady_clock::now() >= end) return false;
            std::this_thread::sleep_for(std::chrono::milliseconds(200));
        }
    }

    static std::string tail(const std::string& s, std::size_t n) {
        return s.size() <= n ? s : s.substr(s.size() - n);
    }

    TempDir dir_;
    std::unique_ptr<Process> server_;
    std::vector<std::unique_ptr<Process>> kubelets_;
    std::map<std::string, std::string> control_dir_;
    int manifests_ = 0;
};

}  // namespace kedge::controllers::test
