// keadm debug check: is this machine fit to be (or still fit as) an edge node? One line per
// check, "[check] cpu: OK 2 cores"; exit 1 when one fails, 2 for an unknown check name.

#include <unistd.h>

#include <algorithm>
#include <iostream>

#include "base/config_yaml.hpp"
#include "edge/config/edgecore_config.hpp"
#include "keadm/keadm.hpp"
#include "keadm/preflight.hpp"
#include "net/host_port.hpp"

namespace kedge::keadm {

namespace fs = std::filesystem;

namespace {

const std::vector<std::string> kAllChecks = {"cpu",     "memory",  "disk",
                                             "runtime", "network", "ports"};

// The ports edgecore uses: from the root's edgecore.yaml when there is one, else the defaults.
std::vector<NamedPort> edge_ports(const Layout& layout, std::string* source) {
    edge::EdgeCoreConfig cfg;
    fs::path file = layout.config_dir() / "edgecore.yaml";
    std::error_code ec;
    *source = "defaults";
    if (fs::exists(file, ec)) {
        try {
            cfg = load_yaml_file<edge::EdgeCoreConfig>(file.string());
            *source = file.string();
        } catch (const std::exception& e) {
            *source = "defaults (" + file.string() + " does not load: " + e.what() + ")";
        }
    }
    std::vector<NamedPort> ports;
    auto ro = cfg.modules.edged.tailored_kubelet_config.read_only_port;
    if (ro > 0) ports.push_back({"kubelet read-only", static_cast<unsigned short>(ro)});
    if (auto hp = net::split_host_port(cfg.modules.meta_manager.meta_server.server))
        ports.push_back({"meta server", hp->second});
    if (auto p = url_port(cfg.modules.event_bus.mqtt_server_external))
        ports.push_back({"MQTT", *p});
    if (auto p = url_port(cfg.modules.event_bus.mqtt_server_internal))
        ports.push_back({"MQTT internal", *p});
    return ports;
}

}  // namespace

int run_debug_check(const DebugCheckOptions& options) {
    std::vector<std::string> wanted = options.checks.empty() ? kAllChecks : options.checks;
    for (const auto& w : wanted) {
        if (std::find(kAllChecks.begin(), kAllChecks.end(), w) == kAllChecks.end()) {
            std::cerr << "keadm debug check: unknown check '" << w
                      << "' (known: cpu, memory, disk, runtime, network, ports)\n";
            return 2;
        }
    }
    Layout layout{fs::absolute(options.common.root_dir).lexically_normal()};
    bool all_ok = true;
    auto report = [&](const CheckResult& r) {
        std::cout << format_check(r, "check") << std::endl;
        all_ok = all_ok && r.ok;
    };
    for (const auto& w : wanted) {
        if (w == "cpu") {
            long n = ::sysconf(_SC_NPROCESSORS_ONLN);
            report(check_cpu(n > 0 ? static_cast<unsigned>(n) : 0));
        } else if (w == "memory") {
            report(check_memory());
        } else if (w == "disk") {
            report(check_disk(layout.root));
        } else if (w == "runtime") {
            auto r = check_runtime(options.remote_runtime_endpoint);
            r.name = "runtime";
            report(r);
        } else if (w == "network") {
            if (options.cloudcore_ipport.empty())
                report({"network", true, "skipped: pass --cloudcore-ipport to test the cloud"});
            else
                report(check_tcp_reachable("network", options.cloudcore_ipport));
        } else if (w == "ports") {
            std::string source;
            auto ports = edge_ports(layout, &source);
            auto r = check_ports_free("ports", ports, "edgecore");
            r.message += " (ports from " + source + ")";
            report(r);
        }
    }
    return all_ok ? 0 : 1;
}

}  // namespace kedge::keadm
