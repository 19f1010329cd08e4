#pragma once
// The network between a cloud on the host and edge nodes in their own network namespaces, for
// partition tests: a bridge the test creates (address .1 of a /24 claimed like CriEnv's) and one
// veth link per namespace (the namespace end gets .<n>). Cutting a node = taking its host-side
// link down. Everything is removed on destruction. Needs root and iproute2.

#include <map>
#include <memory>
#include <string>

#include "support/cri_env.hpp"

namespace kedge::test {

class TestNetwork {
public:
    // nullptr + *reason when it cannot be made (no root, no free /24, ip failed).
    static std::unique_ptr<TestNetwork> create(std::string* reason);
    ~TestNetwork();
    TestNetwork(const TestNetwork&) = delete;
    TestNetwork& operator=(const TestNetwork&) = delete;

    // The bridge's address: where cloud servers bind so that the namespaces reach them.
    std::string host_address() const { return subnet_->address(1); }
    const std::string& bridge() const { return bridge_; }

    // Links an existing namespace (e.g. CriEnv::netns()) to the bridge; returns the address the
    // namespace got, or "" + *reason.
    std::string attach(const std::string& netns, std::string* reason);
    // Takes the namespace's link down / up (a partition and its end).
    bool cut(const std::string& netns);
    bool restore(const std::string& netns);

private:
    TestNetwork() = default;
    struct Link {
        std::string host_end, ns_end, address;
    };
    std::unique_ptr<ClaimedSubnet> subnet_;
    std::string bridge_;
    std::map<std::string, Link> links_;  // by netns
    int next_host_ = 2;
};

// Runs a shell command inside a network namespace (nsenter --net, which keeps the host's
// /sys and cgroup mounts, unlike `ip netns exec`).
CommandResult in_netns(const std::string& netns, const std::string& command);

}  // namespace kedge::test
