#pragma once
// An edge node with a real container runtime: the cloud (CloudCoreFixture via EdgeCoreFixture)
// plus a private containerd (CriEnv) and an edgecore that uses it, with short crash back-offs.
// Pod accessors read what the API shows, i.e. what edged reported.

#include <boost/json.hpp>

#include "integration/edgecore/edgecore_fixture.hpp"
#include "support/cri_env.hpp"

namespace kedge::edge::test {

class EdgedFixture : public EdgeCoreFixture {
protected:
    // Starts the private containerd; skips (outside CI) when the machine cannot run one.
    void start_cri(const std::string& label) {
        std::string reason;
        bool unsupported = false;
        env_ = kedge::test::CriEnv::start(label, &reason, &unsupported);
        if (!env_) {
            if (unsupported && !kedge::test::cri_env_must_run())
                GTEST_SKIP() << "containerd cannot run here: " << reason;
            FAIL() << "CriEnv did not start: " << reason;
        }
    }
    // The edgecore.yaml lines (under tailoredKubeletConfig) that point edged at the runtime.
    std::string runtime_yaml(const std::string& extra = {}) const {
        return "      containerRuntimeEndpoint: " + env_->endpoint() +
               "\n      cgroupRoot: " + env_->cgroup_parent() + "\n" + extra;
    }
    // containerd, then an edgecore node on it, Ready and talking to the runtime.
    void start_node(const std::string& node, const std::string& label = "edged") {
        start_cri(label);
        if (IsSkipped() || HasFatalFailure()) return;
        configure_edgecore(node, "  containerBackoffInitial: 1s\n  containerBackoffMax: 4s\n", {},
                           runtime_yaml());
        start_edgecore(node);
        ASSERT_TRUE(eventually([&] { return node_ready(node) == "True"; }, std::chrono::seconds(30)));
        ASSERT_TRUE(eventually(
            [&] {
                return kedge::test::read_file(edgecore(node).log())
                           .find("container runtime containerd") != std::string::npos;
            },
            std::chrono::seconds(30)))
            << kedge::test::read_file(edgecore(node).log());
    }
    void TearDown() override {
        // edgecore first (it would restart what the env's teardown removes).
        for (auto& [name, e] : edgecores_)
            if (e.process) e.process->stop();
        if (HasFailure() && env_)
            std::cerr << "---- containerd log (tail) ----\n"
                      << tail(kedge::test::read_file(env_->containerd_log()), 6'000);
        EdgeCoreFixture::TearDown();
        env_.reset();
    }

    boost::json::value pod(const std::string& name) { return get_json("pod " + name); }
    std::string phase(const std::string& name) {
        auto p = pod(name);
        if (!p.is_object()) return "";
        auto* st = p.as_object().if_contains("status");
        if (!st || !st->is_object()) return "";
        auto* ph = st->as_object().if_contains("phase");
        return ph && ph->is_string() ? std::string(ph->as_string()) : "";
    }
    // containerStatuses[0] of the pod (null when absent).
    boost::json::value container_status(const std::string& name) {
        auto p = pod(name);
        if (!p.is_object()) return nullptr;
        auto* st = p.as_object().if_contains("status");
        if (!st || !st->is_object()) return nullptr;
        auto* cs = st->as_object().if_contains("containerStatuses");
        if (!cs || !cs->is_array() || cs->as_array().empty()) return nullptr;
        return cs->as_array()[0];
    }

    std::unique_ptr<kedge::test::CriEnv> env_;
};

}  // namespace kedge::edge::test
