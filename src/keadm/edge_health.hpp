#pragma once
// Is a supervised edgecore healthy? Judged from the edge itself — its monitor's /readyz
// (connected to the cloud) and the node object the cloud sent back to its meta server (Ready) —
// so no cloud credentials are needed. Used by join and upgrade/rollback.

#include <chrono>
#include <string>

#include "base/error.hpp"
#include "edge/config/edgecore_config.hpp"
#include "keadm/keadm.hpp"

namespace kedge::keadm {

struct EdgeState {
    bool connected = false;
    std::string ready;  // "True", "False", "Unknown" or "" (node not stored yet)
};

// One look (at most ~5 s).
EdgeState look_at_edge(const edge::EdgeCoreConfig& config, const std::string& node);

// Waits until edgecore (under layout's pid file) is connected and its node Ready. Returns what
// was seen ("connected, Ready"); an error whose detail says why not (edgecore exited or restarted
// under its supervisor, or not Ready in time) followed by the log's last lines.
Result<std::string> wait_edge_ready(const Layout& layout, const edge::EdgeCoreConfig& config,
                                    const std::string& node, std::chrono::seconds limit);

}  // namespace kedge::keadm
