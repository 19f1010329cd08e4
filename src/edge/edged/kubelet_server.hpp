#pragma once
// The kubelet's read-only HTTP API on 127.0.0.1:10350 (edged.tailoredKubeletConfig.readOnlyPort),
// what `kubectl logs` through the stream tunnel, metrics-server and node monitoring read:
//   GET /containerLogs/{namespace}/{pod}/{container}  (tailLines|tail, follow, timestamps,
//       previous, sinceSeconds, sinceTime, limitBytes) from the CRI log files the pod manager
//       has containerd write under pod_logs_root;
//   GET /pods            a PodList of this node's pods;
//   GET /stats/summary   node CPU, memory and root filesystem from /proc and statvfs, plus the
//                        pods (references only, no per-pod usage);
//   GET /healthz         "ok".
// Plain HTTP: bind it to loopback only.
//
// Threads: the HTTP server runs on the executor given to start(); file reads, /proc reads and
// the pod lister run on the server's own small thread pool.

#include <boost/asio/any_io_executor.hpp>

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "base/error.hpp"

namespace kedge::edge {

// Where the kubelet server listens and what it reads.
struct KubeletServerOptions {
    std::string host = "127.0.0.1";
    unsigned short port = 10350;  // 0 picks a free port (tests)
    std::filesystem::path pod_logs_root = "/var/log/pods";
    std::string node_name;
    std::filesystem::path root_dir = "/var/lib/kubelet";  // node.fs of /stats/summary
    // How often a followed log file is checked for new lines.
    std::chrono::milliseconds follow_poll = std::chrono::milliseconds(200);
};

// The JSON texts (v1.Pod) of the pods this node runs. Called on the server's pool threads,
// so it must be thread-safe; an exception becomes a 500.
using PodLister = std::function<std::vector<std::string>()>;

// The running server; stop() or destruction closes it.
class KubeletServer {
public:
    // Binds and starts serving. unavailable naming the address when the port is taken.
    static Result<std::shared_ptr<KubeletServer>> start(boost::asio::any_io_executor ex,
                                                        KubeletServerOptions options,
                                                        PodLister pods);
    ~KubeletServer();
    KubeletServer(const KubeletServer&) = delete;
    KubeletServer& operator=(const KubeletServer&) = delete;

    unsigned short port() const;
    // /containerLogs responses being sent now (follow streams included); tests and metrics.
    std::size_t active_log_streams() const;
    // Stops listening and ends log streams (within the HTTP server's grace); idempotent.
    void stop();

    struct Impl;

private:
    explicit KubeletServer(std::shared_ptr<Impl> impl);
    std::shared_ptr<Impl> impl_;
};

}  // namespace kedge::edge
