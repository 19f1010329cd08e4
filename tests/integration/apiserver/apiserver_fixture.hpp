#pragma once
// Starts the real kedge-apiserver binary on port 0 in a temp dir and hands tests its kubeconfig,
// port and admin credentials (for kubectl, python3-kubernetes and curl).

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <regex>
#include <sstream>
#include <string>

#include "support/test_support.hpp"

namespace kedge::apiserver::test {

using kedge::test::CommandResult;
using kedge::test::Process;
using kedge::test::run_command;
using kedge::test::TempDir;

inline std::string binary_path() {
    return kedge::test::build_path("apps/kedge-apiserver/kedge-apiserver");
}

inline std::string shell_quote(const std::string& s) {
    std::string out = "'";
    for (char c : s) {
        if (c == '\'') out += "'\\''";
        else out += c;
    }
    return out + "'";
}

// The parameter is the storage backend: "sqlite" or "etcd" (a private etcd on loopback, started
// once per test and kept across server restarts), so the whole suite runs on both.
class ApiServerFixture : public ::testing::TestWithParam<std::string> {
  protected:
    // Starts (or restarts, reusing the data dir and etcd) the server; the kubeconfig is
    // rewritten with the new port each time.
    void start_server(std::vector<std::string> extra = {}) {
        if (GetParam() == "etcd") {
            if (etcd_flags_.empty()) etcd_flags_ = start_etcd();
            extra.insert(extra.end(), etcd_flags_.begin(), etcd_flags_.end());
        }
        std::remove(kubeconfig().c_str());
        std::vector<std::string> argv = {binary_path(),       "--data-dir", data_dir(),
                                         "--bind-address",    "127.0.0.1",  "--secure-port",
                                         "0",                 "--write-kubeconfig",
                                         kubeconfig(),        "--log-level", "info"};
        for (auto& e : extra) argv.push_back(e);
        extra_args_ = extra;
        server_ = std::make_unique<Process>(argv, dir_.file("server-" +
                                                            std::to_string(++starts_) + ".log"));
        ASSERT_TRUE(kedge::test::wait_until(
            [&] {
                std::ifstream f(kubeconfig());
                std::stringstream ss;
                ss << f.rdbuf();
                std::smatch m;
                std::string text = ss.str();
                static const std::regex re("server: https://127\\.0\\.0\\.1:([0-9]+)");
                if (!std::regex_search(text, m, re)) return false;
                port_ = std::stoi(m[1]);
                return true;
            },
            std::chrono::seconds(20)))
            << "kedge-apiserver did not write its kubeconfig; log:\n"
            << kedge::test::read_file(dir_.file("server-" + std::to_string(starts_) + ".log"));
    }

    // A private etcd on loopback (Debian's etcd-server); returns the --storage flags that use it.
    std::vector<std::string> start_etcd() {
        int client = kedge::test::free_port(), peer = kedge::test::free_port();
        std::string url = "http://127.0.0.1:" + std::to_string(client);
        etcd_ = std::make_unique<Process>(
            std::vector<std::string>{"etcd", "--data-dir", dir_.file("etcd"), "--name", "kedge",
                                     "--listen-client-urls", url, "--advertise-client-urls", url,
                                     "--listen-peer-urls",
                                     "http://127.0.0.1:" + std::to_string(peer),
                                     "--initial-advertise-peer-urls",
                                     "http://127.0.0.1:" + std::to_string(peer),
                                     "--initial-cluster",
                                     "kedge=http://127.0.0.1:" + std::to_string(peer)},
            dir_.file("etcd.log"));
        EXPECT_TRUE(kedge::test::wait_until(
            [&] { return run_command("curl -sf " + url + "/health").exit_code == 0; },
            std::chrono::seconds(20)))
            << kedge::test::read_file(dir_.file("etcd.log"));
        return {"--storage", "etcd", "--etcd-servers", url};
    }

    void TearDown() override {
        if (server_) server_->stop();
        if (etcd_) etcd_->stop();
    }

    std::string data_dir() const { return dir_.file("data"); }
    std::string kubeconfig() const { return dir_.file("kubeconfig"); }
    std::string pki(const std::string& f) const { return data_dir() + "/pki/" + f; }
    std::string base_url() const { return "https://127.0.0.1:" + std::to_string(port_); }

    CommandResult kubectl(const std::string& args) {
        return run_command("kubectl --kubeconfig " + kubeconfig() + " --request-timeout=20s " +
                           args + " 2>&1");
    }
    // kubectl that must succeed; returns its output.
    std::string kubectl_ok(const std::string& args) {
        auto r = kubectl(args);
        EXPECT_EQ(r.exit_code, 0) << "kubectl " << args << "\n" << r.output;
        return r.output;
    }

    struct Http {
        int code = 0;
        std::string body;
    };
    // curl with the admin client certificate (or none when anonymous).
    Http curl(const std::string& method, const std::string& path, const std::string& body = {},
              const std::string& content_type = "application/json", bool anonymous = false) {
        std::string out = dir_.file("curl.out");
        std::string cmd = "curl -s -o " + out + " -w '%{http_code}' -X " + method +
                          " --cacert " + pki("ca.crt");
        if (!anonymous) cmd += " --cert " + pki("admin.crt") + " --key " + pki("admin.key");
        if (!body.empty()) {
            std::string in = dir_.file("curl.in");
            kedge::test::write_file(in, body);
            cmd += " -H " + shell_quote("Content-Type: " + content_type) + " --data-binary @" + in;
        }
        cmd += " " + shell_quote(base_url() + path);
        auto r = run_command(cmd);
        Http h;
        try {
            h.code = std::stoi(r.output);
        } catch (const std::exception&) {
            h.code = -1;
        }
        h.body = kedge::test::read_file(out);
        return h;
    }

    TempDir dir_;
    std::unique_ptr<Process> server_;
    std::unique_ptr<Process> etcd_;
    std::vector<std::string> etcd_flags_;
    std::vector<std::string> extra_args_;
    int port_ = 0;
    int starts_ = 0;
};

// Runs every TEST_P of a fixture on both backends.
#define KEDGE_APISERVER_BACKENDS(Fixture)                                       \
    INSTANTIATE_TEST_SUITE_P(Backends, Fixture, ::testing::Values("sqlite", "etcd"), \
                             [](const auto& info) { return info.param; })

}  // namespace kedge::apiserver::test
