#pragma once
// Everything edgecore does after flag parsing: the SQLite meta store, the bus with the edge hub
// and the meta manager, the meta server on 127.0.0.1:10550, the node status reporter (edged's
// node half), and metrics/health on kedge.monitorServer (127.0.0.1:9092), run until
// SIGTERM/SIGINT.

#include <filesystem>
#include <optional>
#include <string>

#include "edge/config/edgecore_config.hpp"

namespace kedge::edge {

struct EdgeCoreRunOptions {
    EdgeCoreConfig config;
    std::filesystem::path proc_root = "/proc";  // where to look for a running kubelet
};

// Prints "edgecore serving node=<name> metaserver=<port> monitor=<port> kubelet=<port>" once every
// listener is up. Returns the exit code: start-up failures (a running kubelet, the database,
// ports) are logged with what to fix and return 1.
int run_edgecore(const EdgeCoreRunOptions& options);

// The pid of a process named "kubelet" under proc_root, if any.
std::optional<int> find_running_kubelet(const std::filesystem::path& proc_root);

// The node name edgecore uses: hostnameOverride, else the host name, lower-cased.
std::string node_name_for(const EdgeCoreConfig& config);

}  // namespace kedge::edge
