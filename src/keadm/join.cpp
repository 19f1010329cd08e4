// keadm join: preflight checks -> node certificate -> edgecore.yaml -> edgecore (supervised or in
// the foreground) -> wait until the node is Ready, judged from the edge itself (its monitor's
// /readyz and the node object the cloud sent back to its meta server), so no cloud credentials
// are needed.

#include <arpa/inet.h>
#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/json/parse.hpp>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <deque>
#include <exception>
#include <fstream>
#include <iostream>
#include <thread>

#include "base/config_yaml.hpp"
#include "edge/certs/edge_certs.hpp"
#include "edge/config/edgecore_config.hpp"
#include "keadm/common.hpp"
#include "keadm/edge_health.hpp"
#include "keadm/keadm.hpp"
#include "keadm/preflight.hpp"
#include "keadm/process.hpp"
#include "keadm/run_sync.hpp"
#include "net/host_port.hpp"
#include "net/http_client.hpp"

namespace kedge::keadm {

namespace fs = std::filesystem;
namespace asio = boost::asio;
namespace json = boost::json;
using namespace std::chrono_literals;

namespace {

fs::path edgecore_config_file(const Layout& l) { return l.config_dir() / "edgecore.yaml"; }

edge::CertPaths cert_paths(const Layout& l) {
    return {l.etc() / "ca/rootCA.crt", l.etc() / "certs/server.crt", l.etc() / "certs/server.key"};
}

std::string host_name() {
    char buf[256] = {};
    if (::gethostname(buf, sizeof buf - 1) != 0) return "edge-node";
    std::string h = buf;
    std::transform(h.begin(), h.end(), h.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return h;
}

std::string bracket(const std::string& host) {
    return host.find(':') != std::string::npos ? "[" + host + "]" : host;
}

// The local address the kernel would use towards host (a connected UDP socket sends nothing).
std::string local_address_towards(const std::string& host) {
    addrinfo hints{};
    hints.ai_socktype = SOCK_DGRAM;
    addrinfo* res = nullptr;
    if (::getaddrinfo(host.c_str(), "9", &hints, &res) != 0 || !res) return {};
    std::string out;
    int fd = ::socket(res->ai_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd >= 0 && ::connect(fd, res->ai_addr, res->ai_addrlen) == 0) {
        sockaddr_storage ss{};
        socklen_t len = sizeof ss;
        if (::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) == 0) {
            char text[INET6_ADDRSTRLEN] = {};
            const void* addr =
                ss.ss_family == AF_INET
                    ? static_cast<const void*>(&reinterpret_cast<sockaddr_in*>(&ss)->sin_addr)
                    : static_cast<const void*>(&reinterpret_cast<sockaddr_in6*>(&ss)->sin6_addr);
            if (::inet_ntop(ss.ss_family, addr, text, sizeof text)) out = text;
        }
    }
    if (fd >= 0) ::close(fd);
    ::freeaddrinfo(res);
    return out;
}

// What join decided before it changes anything.
struct JoinPlan {
    Layout layout;
    std::string node;
    std::string cloud_host;
    std::string cert_url;  // https://<cloud>:<certport>
    edge::EdgeCoreConfig config;
};

// edgecore.yaml for this node: every path under the root dir, the flags applied, then --set.
// Throws ConfigError (bad --set) and std::invalid_argument (bad flag values).
edge::EdgeCoreConfig make_config(const JoinOptions& o, const JoinPlan& plan) {
    const Layout& l = plan.layout;
    edge::EdgeCoreConfig cfg;
    cfg.database.data_source = (l.data() / "edgecore.db").string();
    auto& edged = cfg.modules.edged;
    edged.hostname_override = plan.node;
    edged.node_ip = local_address_towards(plan.cloud_host);
    edged.root_directory = (l.root / "var/lib/kubelet").string();
    for (const auto& label : o.labels) {
        auto eq = label.find('=');
        if (eq == std::string::npos || eq == 0)
            throw std::invalid_argument("--labels: '" + label + "' is not key=value");
        edged.node_labels[label.substr(0, eq)] = label.substr(eq + 1);
    }
    auto& kubelet = edged.tailored_kubelet_config;
    kubelet.container_runtime_endpoint = o.remote_runtime_endpoint;
    kubelet.cgroup_driver = o.cgroupdriver;
    kubelet.static_pod_path = (l.etc() / "manifests").string();
    if (o.kubelet_port) kubelet.read_only_port = o.kubelet_port;

    auto paths = cert_paths(l);
    auto& hub = cfg.modules.edge_hub;
    hub.token = o.token;
    hub.http_server = plan.cert_url;
    hub.websocket.server = o.cloudcore_ipport;
    hub.tls_ca_file = paths.ca.string();
    hub.tls_cert_file = paths.cert.string();
    hub.tls_private_key_file = paths.key.string();

    auto& bus = cfg.modules.event_bus;
    bus.mqtt_server_external = o.mqtt_broker;
    bus.event_bus_tls.tls_mqtt_ca_file = paths.ca.string();
    bus.event_bus_tls.tls_mqtt_cert_file = paths.cert.string();
    bus.event_bus_tls.tls_mqtt_private_key_file = paths.key.string();

    auto& meta = cfg.modules.meta_manager.meta_server;
    if (o.metaserver_port) meta.server = "127.0.0.1:" + std::to_string(o.metaserver_port);
    meta.tls_ca_file = paths.ca.string();
    meta.tls_cert_file = paths.cert.string();
    meta.tls_private_key_file = paths.key.string();

    cfg.modules.device_twin.dmi_sock_path = (l.etc() / "dmi.sock").string();
    auto& stream = cfg.modules.edge_stream;
    stream.server = bracket(plan.cloud_host) + ":10004";
    stream.tls_tunnel_ca_file = paths.ca.string();
    stream.tls_tunnel_cert_file = paths.cert.string();
    stream.tls_tunnel_private_key_file = paths.key.string();

    if (o.monitor_port)
        cfg.kedge.monitor_server.bind_address = "127.0.0.1:" + std::to_string(o.monitor_port);
    cfg.kedge.pod_logs_directory = (l.root / "var/log/pods").string();
    cfg.kedge.container_logs_directory = (l.root / "var/log/containers").string();

    for (const auto& s : o.common.sets) apply_set(cfg, s);
    validate_config(cfg, "edgecore.yaml");
    return cfg;
}

std::optional<unsigned short> port_of(const std::string& host_port) {
    auto hp = net::split_host_port(host_port);
    if (!hp) return std::nullopt;
    return hp->second;
}

// Runs every check, prints one line each; false when one failed. probe receives the cloud's
// answers (the CA is reused for the certificate step).
bool run_preflight(const JoinOptions& o, const JoinPlan& plan, CloudProbe& probe) {
    const auto& cfg = plan.config;
    std::vector<CheckResult> results;
    auto report = [&](CheckResult r) {
        std::cout << format_check(r) << std::endl;
        results.push_back(std::move(r));
    };
    report(check_kubelet());
    report(check_edgecore_not_running(plan.layout, edgecore_config_file(plan.layout)));
    report(check_install_dir(plan.layout, o.common.force));

    std::vector<unsigned short> mqtt;
    const auto& bus = cfg.modules.event_bus;
    std::optional<unsigned short> broker;
    if (auto p = url_port(bus.mqtt_server_external)) {
        mqtt.push_back(*p);
        if (url_is_local(bus.mqtt_server_external)) broker = *p;
    }
    if (auto p = url_port(bus.mqtt_server_internal); p && *p != (mqtt.empty() ? 0 : mqtt[0]))
        mqtt.push_back(*p);
    report(check_mqtt_ports(mqtt, broker));

    std::vector<NamedPort> own;
    if (auto p = port_of(cfg.modules.meta_manager.meta_server.server);
        p && cfg.modules.meta_manager.meta_server.enable)
        own.push_back({"meta server", *p});
    auto ro = cfg.modules.edged.tailored_kubelet_config.read_only_port;
    if (ro > 0) own.push_back({"kubelet read-only", static_cast<unsigned short>(ro)});
    if (auto p = port_of(cfg.kedge.monitor_server.bind_address)) own.push_back({"monitor", *p});
    report(check_ports_free("edgecore ports", own, {}));

    report(check_runtime(cfg.modules.edged.tailored_kubelet_config.container_runtime_endpoint));

    probe = probe_cloud(plan.cert_url, o.token, plan.node);
    report(check_cloud_reachable(probe));
    report(check_node_name(probe, plan.node, o.common.force));
    report(check_clock_skew(probe, SystemClock::instance().now()));

    auto failed =
        std::count_if(results.begin(), results.end(), [](const CheckResult& r) { return !r.ok; });
    if (failed == 0) return true;
    std::cerr << "keadm join: " << failed << " preflight check" << (failed == 1 ? "" : "s")
              << " failed (see the FAIL lines above); nothing was changed. Fix them, or pass "
                 "--skip-preflight-checks if you know better.\n";
    return false;
}

asio::awaitable<Result<edge::StoredIdentity>> join_certificates(asio::any_io_executor ex,
                                                                edge::JoinTarget target,
                                                                std::optional<pki::Certificate> ca,
                                                                std::string node) {
    if (!ca) {
        auto fetched = co_await edge::fetch_ca(ex, target);
        if (!fetched) co_return fetched.error();
        ca = *fetched;
    }
    auto creds = co_await edge::request_node_cert(ex, target, *ca, node);
    if (!creds) co_return creds.error();
    co_return edge::StoredIdentity{*ca, *creds};
}

bool step_certificates(StepPrinter& steps, const JoinOptions& o, const JoinPlan& plan,
                       const CloudProbe& probe) {
    steps.begin("certificates");
    std::optional<pki::Certificate> ca;
    if (probe.ca) ca = *probe.ca;  // already checked against the token by the preflight
    asio::io_context ioc;
    auto identity = run_blocking(
        ioc, join_certificates(ioc.get_executor(), {plan.cert_url, o.token}, ca, plan.node), 30s);
    if (!identity) {
        const Error& e = identity.error();
        std::string hint = e.is(errc::unauthorized) || e.is(errc::forbidden)
                               ? "; the cloud refused the token: get a fresh one with `keadm "
                                 "gettoken` (tokens expire after 24 h)"
                               : "";
        steps.failed(e.detail + hint);
        return false;
    }
    auto paths = cert_paths(plan.layout);
    if (auto stored = edge::store_identity(paths, identity->ca, identity->creds); !stored) {
        steps.failed(stored.error().detail);
        return false;
    }
    steps.done("node certificate for system:node:" + plan.node + " from " + plan.cert_url +
               " (CA " + paths.ca.string() + ")");
    return true;
}

bool step_wait_ready(StepPrinter& steps, const JoinOptions& o, const JoinPlan& plan,
                     std::chrono::steady_clock::time_point started) {
    steps.begin("wait until node " + plan.node + " is Ready");
    auto waited = wait_edge_ready(plan.layout, plan.config, plan.node, o.wait_ready);
    if (!waited) {
        steps.failed(waited.error().detail + "\nfix the cause, then `keadm reset edge --root-dir " +
                     plan.layout.root.string() + "` and join again");
        return false;
    }
    steps.done(*waited);
    std::cout << "node " << plan.node << " joined and Ready in "
              << seconds_text(std::chrono::steady_clock::now() - started)
              << "; logs: " << plan.layout.log_file("edgecore").string()
              << "; reset: keadm reset edge --root-dir " << plan.layout.root.string() << std::endl;
    return true;
}

int exec_edgecore(const fs::path& bin, const fs::path& config) {
    std::cout << "[join] running edgecore in the foreground (Ctrl-C stops it)" << std::endl;
    std::vector<std::string> args = {bin.string(), "--config", config.string()};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execv(bin.c_str(), argv.data());
    std::cerr << "keadm join: cannot run " << bin << ": " << std::strerror(errno) << "\n";
    return 1;
}

}  // namespace

int run_join(const JoinOptions& options) {
    const auto started = std::chrono::steady_clock::now();
    StepPrinter steps("join");
    JoinPlan plan;
    plan.layout = Layout{fs::absolute(options.common.root_dir).lexically_normal()};
    auto hub = net::split_host_port(options.cloudcore_ipport);
    if (!hub) {
        std::cerr << "keadm join: --cloudcore-ipport: " << hub.error().detail << "\n";
        return 2;
    }
    if (options.token.empty()) {
        std::cerr << "keadm join: --token is required (print it on the cloud with `keadm "
                     "gettoken`)\n";
        return 2;
    }
    plan.node = options.edgenode_name.empty() ? host_name() : options.edgenode_name;
    plan.cloud_host = hub->first;
    plan.cert_url = "https://" + bracket(hub->first) + ":" + std::to_string(options.certport);
    try {
        plan.config = make_config(options, plan);
    } catch (const std::exception& e) {
        std::cerr << "keadm join: " << e.what() << "\n";
        return 2;
    }
    steps.note("node " + plan.node + ", cloud " + options.cloudcore_ipport + ", root dir " +
               plan.layout.root.string());
    if (systemd_detected())
        steps.note(
            "systemd detected, but not used yet: edgecore runs under `keadm supervise` "
            "(pid file " +
            plan.layout.pid_file("edgecore").string() + ")");

    CloudProbe probe;
    if (options.common.skip_preflight_checks) {
        steps.note("preflight checks skipped (--skip-preflight-checks)");
    } else if (!run_preflight(options, plan, probe)) {
        return 1;
    }

    auto bin = find_binary("edgecore", options.common.bin_dir);
    if (!bin) {
        std::cerr << "keadm join: " << bin.error().detail << "\n";
        return 1;
    }
    steps.note("using " + bin->path.string() + " (found in " + bin->how + ")");

    if (!step_certificates(steps, options, plan, probe)) return 1;

    steps.begin("edgecore.yaml");
    const auto config_file = edgecore_config_file(plan.layout);
    std::error_code ec;
    for (const auto& dir : {plan.layout.etc() / "manifests", plan.layout.data(), plan.layout.logs(),
                            plan.layout.run()})
        fs::create_directories(dir, ec);
    // 0600: it holds the join token.
    if (auto written = write_file_atomic(config_file, to_yaml(plan.config)); !written) {
        steps.failed(written.error().detail);
        return 1;
    }
    steps.done("written to " + config_file.string());

    if (options.common.foreground) return exec_edgecore(bin->path, config_file);

    steps.begin("start edgecore");
    const auto pid_file = plan.layout.pid_file("edgecore");
    if (auto stopped = stop_supervised(pid_file); !stopped) {
        steps.failed(stopped.error().message());
        return 1;
    }
    auto sup = start_supervised(pid_file, plan.layout.log_file("edgecore"),
                                {bin->path.string(), "--config", config_file.string()});
    if (!sup) {
        steps.failed(sup.error().message() + "\n" + log_tail_lines(plan.layout.log_file("edgecore")));
        return 1;
    }
    steps.done("started (supervisor pid " + std::to_string(*sup) + "), log " +
               plan.layout.log_file("edgecore").string());
    return step_wait_ready(steps, options, plan, started) ? 0 : 1;
}

}  // namespace kedge::keadm
