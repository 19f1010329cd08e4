#pragma once
// The node half of edged (the rest — pods on containerd — is issue 7): registers the Node
// (label node-role.kubernetes.io/edge plus the configured labels, taints, capacity from the
// machine, addresses, nodeInfo), reports its status every nodeStatusUpdateFrequency as
// upstream's `null/nodepatch/<node>` (a strategic-merge patch of status, so conditions merge by
// type) and renews its Lease in kube-node-lease. Everything goes through the meta manager, so a
// status made while the cloud is away is kept (the latest one) and delivered after reconnect.
//
// Threads: one coroutine on the given executor; stop() is safe from any thread.

#include <boost/asio/any_io_executor.hpp>

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "base/clock.hpp"

namespace kedge::bus {
class Context;
}

namespace kedge::edge {

// What the machine is (read once at start; capacity does not change at run time).
struct MachineInfo {
    std::int64_t cpus = 1;
    std::int64_t memory_kib = 0;
    std::string kernel_version, os_image, architecture, machine_id, boot_id, hostname;
    static MachineInfo read();  // uname, /proc/meminfo, /etc/os-release, machine-id, boot_id
};

struct NodeTaint {
    std::string key, value, effect;
};

struct NodeStatusOptions {
    std::string node;
    std::string node_ip;  // InternalIP address
    std::map<std::string, std::string> labels;
    std::vector<NodeTaint> taints;
    bool schedulable = true;
    std::int32_t max_pods = 110;
    std::uint16_t kubelet_port = 10350;
    std::chrono::milliseconds update_frequency{10'000};
    std::chrono::seconds lease_duration{40};
    std::string runtime_version;  // nodeInfo.containerRuntimeVersion ("" until edged has CRI)
};

// kubeletVersion as upstream edgecore reports it: "<k8s version>-kubeedge-<version>".
std::string edgecore_kubelet_version();

class NodeStatusReporter {
public:
    static std::shared_ptr<NodeStatusReporter> start(bus::Context& ctx, NodeStatusOptions options,
                                                     MachineInfo machine,
                                                     const Clock& clock = SystemClock::instance());
    ~NodeStatusReporter();
    void stop();
    // nodeInfo.containerRuntimeVersion once the runtime answered ("containerd://1.6.20").
    void set_runtime_version(std::string version);
    // Whether the container runtime works (RuntimeReady and NetworkReady). Until told, and
    // while false, Ready is False with reason KubeletNotReady and this message, as the kubelet
    // reports a node whose runtime is down.
    void set_runtime_state(bool ready, std::string message);

    // The Node object sent at registration / the status patch (tests check the shapes).
    std::string node_object_json() const;
    std::string status_patch_json() const;
    std::string lease_json() const;

    struct Impl;

private:
    explicit NodeStatusReporter(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}
    std::shared_ptr<Impl> impl_;
};

}  // namespace kedge::edge
