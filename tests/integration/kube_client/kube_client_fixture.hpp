#pragma once
// The real kedge-apiserver on a fixed loopback port (so a restarted server is found again by
// clients that keep their connection settings) plus an io_context on its own thread for the
// client under test. Test bodies run coroutines there with run() and read loop-owned state
// (informer stores, handler logs) with call().

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/json.hpp>

#include <chrono>
#include <filesystem>
#include <future>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "kube/client/client.hpp"
#include "kube/client/informer.hpp"
#include "support/test_support.hpp"

namespace kedge::kube::client::test {

namespace asio = boost::asio;
namespace json = boost::json;
using namespace std::chrono_literals;

// An io_context run by one background thread.
class Loop {
public:
    Loop() : guard_(asio::make_work_guard(ioc_)), thread_([this] { ioc_.run(); }) {}
    ~Loop() {
        guard_.reset();
        ioc_.stop();
        thread_.join();
    }
    asio::any_io_executor executor() { return ioc_.get_executor(); }

    // Runs a coroutine on the loop and waits for its result.
    template <class T>
    T run(asio::awaitable<T> aw, std::chrono::seconds limit = 60s) {
        auto fut = asio::co_spawn(ioc_, std::move(aw), asio::use_future);
        if (fut.wait_for(limit) != std::future_status::ready)
            throw std::runtime_error("coroutine did not finish in time");
        return fut.get();
    }

    // Runs f on the loop thread and returns what it returns.
    template <class F>
    auto call(F f) -> decltype(f()) {
        std::packaged_task<decltype(f())()> task(std::move(f));
        auto fut = task.get_future();
        asio::post(ioc_, [&task] { task(); });
        return fut.get();
    }

private:
    asio::io_context ioc_;
    asio::executor_work_guard<asio::io_context::executor_type> guard_;
    std::thread thread_;
};

class KubeClientFixture : public ::testing::Test {
protected:
    void SetUp() override { start_server(); }
    void TearDown() override {
        if (server_) server_->stop();
    }

    static std::string binary() {
        return kedge::test::build_path("apps/kedge-apiserver/kedge-apiserver");
    }

    // Starts (or restarts on the same data dir) the server on `port` (default: the fixture's).
    // The first start retries on another port if the one picked was taken in the meantime.
    void start_server(std::vector<std::string> extra = {}, int port = 0) {
        for (int attempt = 0; attempt < 3; ++attempt) {
            bool fixed = port != 0 || starts_ > 0;
            if (try_start(extra, port == 0 ? port_ : port)) return;
            if (fixed || HasFatalFailure()) break;
            port_ = kedge::test::free_port();
        }
        FAIL() << "kedge-apiserver did not come up; log:\n" << kedge::test::read_file(log_);
    }

    bool try_start(const std::vector<std::string>& extra, int port) {
        std::filesystem::remove(kubeconfig());
        std::vector<std::string> argv = {binary(),
                                         "--data-dir",
                                         dir_.file("data"),
                                         "--bind-address",
                                         "127.0.0.1",
                                         "--secure-port",
                                         std::to_string(port),
                                         "--write-kubeconfig",
                                         kubeconfig(),
                                         "--log-level",
                                         "warn"};
        // Newer servers run in-process controllers; these tests want a quiet cluster.
        static const bool has_controllers =
            kedge::test::run_command(binary() + " --help").output.find("--controllers") !=
            std::string::npos;
        if (has_controllers) {
            argv.push_back("--controllers");
            argv.push_back("");  // none
        }
        for (auto& e : extra) argv.push_back(e);
        log_ = dir_.file("server-" + std::to_string(++starts_) + ".log");
        server_ = std::make_unique<kedge::test::Process>(argv, log_);
        bool exited = false;
        bool up = kedge::test::wait_until(
            [&] {
                if (!server_->running()) exited = true;
                return exited || (std::filesystem::exists(kubeconfig()) && healthy(port));
            },
            30s);
        return up && !exited;
    }

    bool healthy(int port) {
        std::string pki = dir_.file("data") + "/pki/";
        return kedge::test::run_command(
                   "curl -sf --cacert " + pki + "ca.crt --cert " + pki + "admin.crt --key " + pki +
                   "admin.key https://127.0.0.1:" + std::to_string(port) + "/healthz")
                   .exit_code == 0;
    }

    std::string kubeconfig() const { return dir_.file("kubeconfig"); }

    std::shared_ptr<Client> make_client(double qps = 100, int burst = 200) {
        auto cfg = load_kubeconfig(kubeconfig());
        EXPECT_TRUE(cfg) << cfg.error().message();
        cfg->qps = qps;
        cfg->burst = burst;
        cfg->timeout = 20s;
        auto c = Client::make(loop_.executor(), *cfg);
        EXPECT_TRUE(c) << c.error().message();
        return *c;
    }

    static json::object config_map(const std::string& ns, const std::string& name,
                                   json::object data = {}, json::object labels = {}) {
        json::object md{{"name", name}, {"namespace", ns}};
        if (!labels.empty()) md["labels"] = std::move(labels);
        return json::object{{"apiVersion", "v1"},
                            {"kind", "ConfigMap"},
                            {"metadata", std::move(md)},
                            {"data", std::move(data)}};
    }

    static json::object pod(const std::string& ns, const std::string& name,
                            const std::string& node = {}) {
        json::object spec{
            {"containers", json::array{json::object{{"name", "c"}, {"image", "busybox"}}}}};
        if (!node.empty()) spec["nodeName"] = node;
        return json::object{{"apiVersion", "v1"},
                            {"kind", "Pod"},
                            {"metadata", json::object{{"name", name}, {"namespace", ns}}},
                            {"spec", std::move(spec)}};
    }

    void create_namespace(Client& c, const std::string& ns) {
        auto r = loop_.run(c.create(resources::namespaces(), {},
                                    json::object{{"apiVersion", "v1"},
                                                 {"kind", "Namespace"},
                                                 {"metadata", json::object{{"name", ns}}}}));
        ASSERT_TRUE(r) << r.error().message();
    }

    kedge::test::TempDir dir_;
    int port_ = kedge::test::free_port();
    int starts_ = 0;
    std::string log_;
    std::unique_ptr<kedge::test::Process> server_;
    Loop loop_;  // last: destroyed first, so no coroutine outlives the fixture's state
};

}  // namespace kedge::kube::client::test
