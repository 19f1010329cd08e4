#pragma once
// edged's pod half (upstream module "edged"): runs the pods bound to this node on a container
// runtime through CRI, as the kubelet does for what edge workloads use.
//
// Desired state: the pods the meta manager hands over (insert/update/delete of `<ns>/pod/<name>`
// after they are committed) and, at start, every pod of this node in the MetaStore — so after a
// reboot with the cloud unreachable the pods come back from the local store. Actual state: the
// runtime's sandboxes and containers, found by the kubelet's labels
// (io.kubernetes.pod.uid/name/namespace, io.kubernetes.container.name), so an edgecore restart
// adopts running containers instead of restarting them.
//
// Per pod, serialized: prepare volumes -> a READY sandbox (host network or CNI) -> init
// containers in order -> containers (image pull per imagePullPolicy, env, mounts, command/args,
// log path) -> restartPolicy with crash back-off (initial, doubling, capped; reset after 10
// minutes running) -> status. The status (phase, conditions, containerStatuses with state,
// lastState, restartCount, ready, image IDs, podIP, hostIP, startTime) goes up as a `podpatch`
// through the meta manager only when it changed. Deleting a pod stops its containers within
// terminationGracePeriodSeconds, removes the sandbox, then tells the cloud it is gone.
//
// Threads: the module loop runs on a strand of the Context's executor; CRI calls (blocking) run
// on the manager's own thread pool, one strand per pod, so one slow image pull does not hold up
// the others.

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>

#include "bus/module.hpp"

namespace kedge::cri {
class CriClient;
}

namespace kedge::edge {

class MetaStore;

struct PodManagerOptions {
    std::string node;
    std::string host_ip;
    std::filesystem::path root_directory = "/var/lib/kubelet";  // volumes: <root>/pods/<uid>
    std::filesystem::path pod_logs_root = "/var/log/pods";
    std::filesystem::path container_logs_root = "/var/log/containers";
    std::string cgroup_parent;  // linux.cgroup_parent of every sandbox ("" = runtime default)
    // How often the runtime's state is relisted (the kubelet's PLEG period).
    std::chrono::milliseconds relist_period{1000};
    // Crash back-off: initial delay, doubling, capped (the kubelet: 10 s, 5 min).
    std::chrono::milliseconds backoff_initial{10'000};
    std::chrono::milliseconds backoff_max{300'000};
    std::size_t workers = 4;  // threads for CRI calls
    // Static pod manifests (staticPodPath; "" = none) and how often the directory is read (the
    // kubelet's fileCheckFrequency, 20 s).
    std::filesystem::path static_pod_path;
    std::chrono::milliseconds static_pod_scan{20'000};
    // Told the runtime's health (RuntimeReady and NetworkReady) every 10 s and on a change.
    std::function<void(bool ready, std::string message)> on_runtime_state;
};

struct PodManagerStats {
    std::size_t pods = 0;               // pods this node runs now
    std::uint64_t syncs = 0;
    std::uint64_t sandboxes_started = 0;
    std::uint64_t containers_started = 0;
    std::uint64_t status_updates = 0;   // podpatch messages sent
};

class PodManager : public bus::Module {
public:
    PodManager(PodManagerOptions options, std::shared_ptr<cri::CriClient> cri,
               std::shared_ptr<MetaStore> store);
    ~PodManager() override;

    std::string name() const override;   // "edged"
    std::string group() const override;  // "edged"
    void start(bus::Context& ctx) override;
    void stop() override;

    PodManagerStats stats() const;

    struct Impl;

private:
    std::shared_ptr<Impl> impl_;
};

}  // namespace kedge::edge
