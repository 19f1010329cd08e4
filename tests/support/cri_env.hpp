#pragma once
// A real containerd node for tests: one private containerd (CRI plugin, bridge CNI, its own
// cgroup parent) and a loopback registry serving locally built busybox and pause images. Driven by
// tests/support/cri-env.sh; see TESTING.md ("Pods: containerd + runc + CNI through CRI").

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "support/test_support.hpp"

namespace kedge::test {

class CriEnv;

// How a CriEnv node is laid out (outside the class so it can be a default argument).
struct CriEnvOptions {
    // A /24 (or any prefix) inside 10.80.0.0/12; empty allocates a free /24 machine-wide.
    std::string subnet;
    // Run containerd inside its own network namespace (images are imported, not pulled).
    bool own_netns = false;
};

// One simulated node's container runtime, torn down completely (pods, containerd, shims, mounts,
// bridge, netns, cgroups, registry) when the object goes away, even after a failed test.
class CriEnv {
public:
    using Options = CriEnvOptions;

    // Starts registry + containerd. name is a short label; the node name adds the pid and a
    // counter, so tests in parallel processes and several envs in one process never collide.
    // On failure returns nullptr, puts why into *reason, and sets *unsupported when the machine
    // lacks the capability (not root, a package missing, no cgroup fs) rather than the env broke.
    static std::unique_ptr<CriEnv> start(const std::string& name, std::string* reason,
                                         bool* unsupported = nullptr, Options options = {});

    // Non-empty when this machine cannot run containerd pods at all (says what is missing).
    static std::string missing_capability();

    ~CriEnv();
    CriEnv(const CriEnv&) = delete;
    CriEnv& operator=(const CriEnv&) = delete;

    const std::string& name() const { return name_; }
    const std::string& base_dir() const { return base_; }
    const std::string& node_dir() const { return node_dir_; }
    const std::string& socket_path() const { return socket_; }
    std::string endpoint() const { return "unix://" + socket_; }  // the CRI endpoint
    const std::string& registry() const { return registry_; }     // "127.0.0.1:<port>"
    std::string busybox_image() const;  // localhost:<port>/test/busybox:1.35
    std::string pause_image() const;    // localhost:<port>/test/pause:3.9 (the sandbox image)
    const std::string& cgroup_parent() const { return cgroup_parent_; }  // "/kedge-cri-<name>"
    const std::string& subnet() const { return subnet_; }
    const std::string& bridge() const { return bridge_; }
    // "cri-<name>" when started with own_netns, else empty.
    const std::string& netns() const { return netns_; }
    std::string containerd_log() const { return node_dir_ + "/containerd.log"; }
    int containerd_pid() const;  // -1 while stopped
    int registry_pid() const;

    // Runs `ctr -a <socket> -n k8s.io <args>` (args go through the shell; 5 s connect timeout).
    CommandResult ctr(const std::string& args) const;

    // Stops containerd only (SIGTERM by pid); shims and pods keep running, as after a crash.
    void stop_containerd();
    // Starts it again with the same config and waits until it answers; false + *reason if not.
    bool start_containerd(std::string* reason = nullptr);
    bool containerd_running() const;

    // True when `ip route get ip` leaves through this env's bridge: check this before sending
    // to a pod address from the host (TESTING.md network safety).
    bool routes_via_bridge(const std::string& ip) const;

    // The harness script, e.g. for tests that call it directly.
    static std::string script_path();

private:
    CriEnv() = default;
    bool start_impl(const std::string& label, Options options, std::string* reason);
    bool start_registry(std::string* reason);
    void teardown();

    std::string name_, base_, node_dir_, socket_, registry_, cgroup_parent_, subnet_, bridge_,
        netns_;
    std::string containerd_cmd_;
    int port_ = 0;
    int subnet_slot_ = -1;
    bool owns_base_ = false;
    std::unique_ptr<Process> registry_proc_;
    std::unique_ptr<Process> containerd_proc_;
};

// True when a missing capability must fail rather than skip (CI=true).
bool cri_env_must_run();

// A /24 of 10.80.0.0/12 claimed machine-wide with the same slot files as CriEnv (so parallel
// tests never pick the same addresses), for other test networks; released on destruction.
class ClaimedSubnet {
public:
    // nullptr when every slot is taken.
    static std::unique_ptr<ClaimedSubnet> claim();
    ~ClaimedSubnet();
    ClaimedSubnet(const ClaimedSubnet&) = delete;
    ClaimedSubnet& operator=(const ClaimedSubnet&) = delete;
    const std::string& cidr() const { return cidr_; }  // "10.x.y.0/24"
    std::string address(int host) const;               // "10.x.y.<host>"

private:
    ClaimedSubnet() = default;
    int slot_ = -1;
    std::string cidr_;
};

}  // namespace kedge::test

// Starts a CriEnv into `var` (std::unique_ptr<CriEnv>) or ends the test: skipped when the
// machine lacks the capability outside CI, failed otherwise (CI=true must never skip silently).
#define KEDGE_START_CRI_ENV(var, label, ...)                                                    \
    std::unique_ptr<::kedge::test::CriEnv> var;                                                 \
    do {                                                                                        \
        std::string kedge_cri_reason_;                                                          \
        bool kedge_cri_unsupported_ = false;                                                    \
        var = ::kedge::test::CriEnv::start(label, &kedge_cri_reason_,                           \
                                           &kedge_cri_unsupported_ __VA_OPT__(, ) __VA_ARGS__); \
        if (!var) {                                                                             \
            if (kedge_cri_unsupported_ && !::kedge::test::cri_env_must_run())                   \
                GTEST_SKIP() << "containerd cannot run here: " << kedge_cri_reason_;            \
            FAIL() << "CriEnv did not start: " << kedge_cri_reason_;                            \
        }                                                                                       \
    } while (false)
