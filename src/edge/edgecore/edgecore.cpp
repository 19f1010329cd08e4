#include "edge/edgecore/edgecore.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>

#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>
#include <arpa/inet.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "base/log.hpp"
#include "base/shutdown.hpp"
#include "bus/constants.hpp"
#include "bus/context.hpp"
#include "cri/cri_client.hpp"
#include "edge/edged/kubelet_server.hpp"
#include "edge/edged/node_status.hpp"
#include "edge/edged/pod_manager.hpp"
#include "edge/devicetwin/device_twin.hpp"
#include "edge/devicetwin/dmi_grpc.hpp"
#include "edge/edgehub/edge_hub.hpp"
#include "edge/eventbus/event_bus.hpp"
#include "edge/metamanager/meta_manager.hpp"
#include "edge/metaserver/meta_server.hpp"
#include "edge/metastore/meta_store.hpp"
#include "net/host_port.hpp"
#include "net/http_server.hpp"

namespace kedge::edge {

namespace asio = boost::asio;

std::optional<int> find_running_kubelet(const std::filesystem::path& proc_root) {
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator(proc_root, ec)) {
        const auto name = entry.path().filename().string();
        if (name.empty() || !std::all_of(name.begin(), name.end(), ::isdigit)) continue;
        std::ifstream comm(entry.path() / "comm");
        std::string c;
        if (std::getline(comm, c) && c == "kubelet") return std::stoi(name);
    }
    return std::nullopt;
}

std::string node_name_for(const EdgeCoreConfig& config) {
    std::string name = config.modules.edged.hostname_override;
    if (name.empty()) {
        char buf[256] = {};
        if (::gethostname(buf, sizeof buf - 1) == 0) name = buf;
    }
    std::transform(name.begin(), name.end(), name.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return name;
}

namespace {

// The local address the kernel would use towards host (a UDP "connect" sends nothing).
std::string local_address_towards(const std::string& host, unsigned short port) {
    addrinfo hints{};
    hints.ai_socktype = SOCK_DGRAM;
    addrinfo* res = nullptr;
    if (::getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &res) != 0 || !res)
        return {};
    std::string out;
    int fd = ::socket(res->ai_family, SOCK_DGRAM, 0);
    if (fd >= 0 && ::connect(fd, res->ai_addr, res->ai_addrlen) == 0) {
        sockaddr_storage local{};
        socklen_t len = sizeof local;
        char buf[INET6_ADDRSTRLEN] = {};
        if (::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &len) == 0) {
            if (local.ss_family == AF_INET)
                ::inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(&local)->sin_addr, buf,
                            sizeof buf);
            else
                ::inet_ntop(AF_INET6, &reinterpret_cast<sockaddr_in6*>(&local)->sin6_addr, buf,
                            sizeof buf);
            out = buf;
        }
    }
    if (fd >= 0) ::close(fd);
    ::freeaddrinfo(res);
    return out;
}


EdgeHubOptions hub_options(const EdgeCoreConfig& cfg, const std::string& node) {
    const auto& h = cfg.modules.edge_hub;
    EdgeHubOptions o;
    o.node = node;
    o.project_id = h.project_id;
    o.server = h.websocket.server;
    o.http_server = h.http_server;
    o.token = h.token;
    o.certs = CertPaths{h.tls_ca_file, h.tls_cert_file, h.tls_private_key_file};
    o.rotate_certificates = h.rotate_certificates;
    o.heartbeat = h.heartbeat.value();
    o.handshake_timeout = h.websocket.handshake_timeout.value();
    o.read_deadline = h.websocket.read_deadline.value();
    o.write_deadline = h.websocket.write_deadline.value();
    o.message_qps = h.message_qps;
    o.message_burst = h.message_burst;
    o.reconnect.initial = std::chrono::duration_cast<std::chrono::milliseconds>(
        cfg.kedge.reconnect.initial_backoff.value());
    o.reconnect.max = std::chrono::duration_cast<std::chrono::milliseconds>(
        cfg.kedge.reconnect.max_backoff.value());
    o.inventory_resync = cfg.kedge.inventory_resync;
    return o;
}

std::string render_metrics(const EdgeHub* hub, const MetaManager* meta, const MetaStore& store,
                           const EventBus* bus, const devicetwin::DeviceTwin* twin) {
    std::ostringstream m;
    auto gauge = [&](std::string_view name, std::string_view help, double v) {
        m << "# HELP " << name << ' ' << help << "\n# TYPE " << name << " gauge\n"
          << name << ' ' << v << '\n';
    };
    auto counter = [&](std::string_view name, std::string_view help, std::uint64_t v) {
        m << "# HELP " << name << ' ' << help << "\n# TYPE " << name << " counter\n"
          << name << ' ' << v << '\n';
    };
    if (hub) {
        auto s = hub->stats();
        gauge("edgecore_cloud_connected", "1 while the hub session to cloudcore is up",
              hub->connected() ? 1 : 0);
        counter("edgecore_hub_sessions_total", "sessions established with cloudcore", s.sessions);
        counter("edgecore_hub_connect_failures_total", "failed connect attempts",
                s.connect_failures);
        counter("edgecore_hub_messages_up_total", "messages sent to the cloud", s.messages_up);
        counter("edgecore_hub_messages_down_total", "messages received from the cloud",
                s.messages_down);
        counter("edgecore_hub_dropped_offline_total",
                "upstream messages refused while disconnected", s.dropped_offline);
        counter("edgecore_hub_rate_limited_total", "writes that waited for the rate limiter",
                s.rate_limited);
        counter("edgecore_hub_certificate_rotations_total", "certificate rotations", s.rotations);
    }
    if (meta) {
        auto s = meta->stats();
        counter("edgecore_meta_stored_total", "cloud objects committed to the store", s.stored);
        counter("edgecore_meta_acked_total", "acks sent to the cloud", s.acked);
        counter("edgecore_meta_store_failures_total", "batches that could not be committed",
                s.store_failures);
        counter("edgecore_meta_sent_upstream_total", "edge updates the cloud answered",
                s.sent_upstream);
        counter("edgecore_meta_queued_offline_total", "edge updates kept in the outbox",
                s.queued_offline);
        counter("edgecore_meta_flushed_total", "outbox entries delivered after reconnect",
                s.flushed);
        counter("edgecore_meta_remote_queries_total", "queries sent to the cloud",
                s.remote_queries);
        counter("edgecore_meta_local_fallbacks_total", "queries answered locally after a failure",
                s.local_fallbacks);
        counter("edgecore_meta_resyncs_total", "resync responses from the cloud", s.resyncs);
    }
    if (auto n = store.size(); n) gauge("edgecore_meta_objects", "objects in the edge store", *n);
    if (auto o = store.outbox_list(); o)
        gauge("edgecore_meta_outbox_entries", "edge updates waiting for the cloud", o->size());
    if (bus) {
        auto b = bus->stats();
        gauge("edgecore_eventbus_connected", "1 while the MQTT broker connection is up",
              b.connected ? 1 : 0);
        counter("edgecore_eventbus_received_total", "MQTT messages forwarded to the modules",
                b.received);
        counter("edgecore_eventbus_published_total", "messages published on MQTT", b.published);
        counter("edgecore_eventbus_dropped_total",
                "publishes dropped because the broker was not connected", b.dropped);
        gauge("edgecore_eventbus_subscriptions", "MQTT topic filters subscribed",
              static_cast<double>(b.subscriptions));
    }
    if (twin) m << devicetwin::render_metrics(twin->stats());
    return m.str();
}

}  // namespace

int run_edgecore(const EdgeCoreRunOptions& options) {
    const auto& cfg = options.config;
    auto log = kedge::log::get("edgecore");
    const std::string node = node_name_for(cfg);
    if (node.empty()) {
        log->error("no node name: set modules.edged.hostnameOverride");
        return 1;
    }
    if (!cfg.kedge.allow_kubelet_running) {
        if (auto pid = find_running_kubelet(options.proc_root)) {
            log->error(
                "a kubelet is running on this host (pid {}): edgecore and kubelet would both "
                "manage this node's pods and status. Stop it (systemctl stop kubelet; "
                "systemctl disable kubelet) or set kedge.allowKubeletRunning: true if you know "
                "they manage different nodes",
                *pid);
            return 1;
        }
    }

    auto store = MetaStore::open(cfg.database.data_source);
    if (!store) {
        log->error("database {}: {}", cfg.database.data_source, store.error().message());
        return 1;
    }
    auto monitor = net::split_host_port(cfg.kedge.monitor_server.bind_address);
    if (!monitor) {
        log->error("kedge.monitorServer.bindAddress: {}", monitor.error().message());
        return 1;
    }
    const auto& mcfg = cfg.modules.meta_manager;
    std::optional<std::pair<std::string, unsigned short>> meta_addr;
    if (mcfg.enable && mcfg.meta_server.enable) {
        auto a = net::split_host_port(mcfg.meta_server.server);
        if (!a) {
            log->error("modules.metaManager.metaServer.server: {}", a.error().message());
            return 1;
        }
        meta_addr = *a;
    }

    // One thread: an edge node is small, and the store, the hub and the meta server do little
    // work each; it keeps the footprint (issue target: <= 15 MB, <= 0.5 % CPU idle) low.
    asio::io_context ioc(1);
    bus::Context ctx(ioc.get_executor());

    std::shared_ptr<EdgeHub> hub;
    if (cfg.modules.edge_hub.enable) {
        auto s = *store;
        hub = std::make_shared<EdgeHub>(hub_options(cfg, node),
                                        [s]() { return s->inventory(); });
        (void)ctx.add_module(hub);
    }
    std::shared_ptr<MetaManager> meta;
    if (mcfg.enable) {
        MetaManagerOptions mo;
        mo.node = node;
        mo.remote_query_timeout = mcfg.remote_query_timeout.value();
        meta = std::make_shared<MetaManager>(mo, *store);
        (void)ctx.add_module(meta);
    }
    // Devices: the MQTT bridge and the twin (with the DMI socket mappers register on). Neither
    // needs the other to be up: a missing broker or mapper is retried in the background.
    std::shared_ptr<EventBus> event_bus;
    if (cfg.modules.event_bus.enable) {
        auto made = EventBus::make({.node = node,
                                    .database = cfg.database.data_source,
                                    .config = cfg.modules.event_bus});
        if (!made) {
            log->error("modules.eventBus: {}", made.error().message());
            return 1;
        }
        event_bus = *made;
        (void)ctx.add_module(event_bus);
    }
    std::shared_ptr<devicetwin::DeviceTwin> twin;
    if (cfg.modules.device_twin.enable) {
        devicetwin::DeviceTwinOptions to;
        to.node = node;
        to.database = cfg.database.data_source;
        to.dmi_socket = devicetwin::dmi_socket_path(cfg.modules.device_twin.dmi_sock_path);
        auto made = devicetwin::DeviceTwin::create(to);
        if (!made) {
            log->error("modules.deviceTwin: {}", made.error().message());
            return 1;
        }
        twin = *made;
        (void)ctx.add_module(twin);
    }
    ctx.start_modules();

    std::shared_ptr<MetaServer> meta_server;
    if (meta_addr) {
        MetaServerOptions so;
        so.host = meta_addr->first;
        so.port = meta_addr->second;
        so.store_threads = 1;  // one SQLite reader off the I/O thread is plenty on an edge node
        auto started = MetaServer::start(ioc.get_executor(), *store, meta->remote_writer(), so);
        if (!started) {
            log->error("meta server on {}: {}", mcfg.meta_server.server,
                       started.error().message());
            ctx.shutdown();
            return 1;
        }
        meta_server = *started;
    }

    // The node's address: edged.nodeIP, else the local address towards the cloud.
    std::string node_ip = cfg.modules.edged.node_ip;
    if (node_ip.empty()) {
        if (auto cloud = net::split_host_port(cfg.modules.edge_hub.websocket.server); cloud)
            node_ip = local_address_towards(cloud->first, cloud->second);
    }

    std::shared_ptr<NodeStatusReporter> reporter;
    if (cfg.modules.edged.enable && meta) {
        const auto& e = cfg.modules.edged;
        NodeStatusOptions no;
        no.node = node;
        no.node_ip = node_ip;
        for (const auto& [k, v] : e.node_labels) no.labels[k] = v;
        for (const auto& t : e.register_with_taints) no.taints.push_back({t.key, t.value, t.effect});
        no.schedulable = e.register_schedulable;
        no.max_pods = e.tailored_kubelet_config.max_pods;
        no.kubelet_port = static_cast<std::uint16_t>(e.tailored_kubelet_config.read_only_port);
        no.update_frequency = std::chrono::duration_cast<std::chrono::milliseconds>(
            e.tailored_kubelet_config.node_status_update_frequency.value());
        reporter = NodeStatusReporter::start(ctx, no, MachineInfo::read());
    }

    // edged's pods: the runtime may come up after edgecore (or be restarted), so connecting is
    // retried in the background; until then the node and its local API work without pods.
    std::shared_ptr<PodManager> pods;
    asio::thread_pool cri_pool(1);
    asio::steady_timer cri_retry(ioc);
    std::function<void()> connect_runtime;
    if (cfg.modules.edged.enable && meta) {
        const auto& e = cfg.modules.edged;
        cri::CriClientOptions co;
        co.endpoint = e.tailored_kubelet_config.container_runtime_endpoint;
        PodManagerOptions po;
        po.node = node;
        po.host_ip = node_ip;
        po.root_directory = e.root_directory;
        po.static_pod_path = e.tailored_kubelet_config.static_pod_path;
        po.static_pod_scan = std::chrono::duration_cast<std::chrono::milliseconds>(
            e.tailored_kubelet_config.file_check_frequency.value());
        po.pod_logs_root = cfg.kedge.pod_logs_directory;
        po.container_logs_root = cfg.kedge.container_logs_directory;
        const auto& root = e.tailored_kubelet_config.cgroup_root;
        if (root != "/") po.cgroup_parent = root;
        po.backoff_initial = std::chrono::duration_cast<std::chrono::milliseconds>(
            cfg.kedge.container_backoff_initial.value());
        po.backoff_max = std::chrono::duration_cast<std::chrono::milliseconds>(
            cfg.kedge.container_backoff_max.value());
        auto attempts = std::make_shared<int>(0);
        connect_runtime = [&, co, po, attempts] {
            asio::post(cri_pool, [&, co, po, attempts] {
                auto client = cri::CriClient::connect(co);
                asio::post(ioc, [&, co, po, attempts, client]() mutable {
                    if (ctx.is_shut_down()) return;
                    if (!client) {
                        if (reporter)
                            reporter->set_runtime_state(false, "container runtime is down: " +
                                                                   client.error().message());
                        if ((*attempts)++ % 12 == 0)
                            log->error("container runtime at {}: {} (retrying every 5 s; pods "
                                       "start once it answers)",
                                       co.endpoint, client.error().message());
                        cri_retry.expires_after(std::chrono::seconds(5));
                        cri_retry.async_wait([&](boost::system::error_code ec) {
                            if (!ec) connect_runtime();
                        });
                        return;
                    }
                    auto v = (*client)->version();
                    std::string rv = v ? v->runtime_name() + "://" + v->runtime_version() : "";
                    log->info("container runtime {} at {}", rv, co.endpoint);
                    if (reporter) reporter->set_runtime_version(rv);
                    auto rep = reporter;
                    po.on_runtime_state = [rep](bool ready, std::string message) {
                        if (rep) rep->set_runtime_state(ready, std::move(message));
                    };
                    pods = std::make_shared<PodManager>(po, *client, *store);
                    if (auto added = ctx.add_module(pods); !added) {
                        log->error("edged: {}", added.error().message());
                        return;
                    }
                    ctx.start_modules();
                });
            });
        };
        connect_runtime();
    }

    // The kubelet-compatible read-only server (logs, /pods, /stats/summary); port 0 = off.
    std::shared_ptr<KubeletServer> kubelet_server;
    if (cfg.modules.edged.enable && cfg.modules.edged.tailored_kubelet_config.read_only_port > 0) {
        const auto& e = cfg.modules.edged;
        KubeletServerOptions ko;
        ko.port = static_cast<unsigned short>(e.tailored_kubelet_config.read_only_port);
        ko.pod_logs_root = cfg.kedge.pod_logs_directory;
        ko.node_name = node;
        ko.root_dir = e.root_directory;
        auto st = *store;
        auto started = KubeletServer::start(ioc.get_executor(), ko, [st] {
            std::vector<std::string> out;
            if (auto pods = st->list_type(std::string(bus::kResPod)); pods)
                for (auto& o : *pods) out.push_back(std::move(o.json));
            return out;
        });
        if (!started) {
            log->error("kubelet server on 127.0.0.1:{}: {}", ko.port, started.error().message());
            if (meta_server) meta_server->stop();
            if (reporter) reporter->stop();
            ctx.shutdown();
            return 1;
        }
        kubelet_server = *started;
    }

    net::HttpServerOptions mo;
    mo.host = monitor->first;
    mo.port = monitor->second;
    mo.name = "monitor";
    auto metrics = net::HttpServer::make(ioc.get_executor(), mo);
    auto st = *store;
    metrics->handle("GET", "/metrics",
                    [hub, meta, st, event_bus, twin](
                        net::HttpRequest&, net::HttpResponder& r) -> asio::awaitable<void> {
                        co_await r.respond(200,
                                           render_metrics(hub.get(), meta.get(), *st,
                                                          event_bus.get(), twin.get()),
                                           "text/plain; version=0.0.4");
                    });
    metrics->handle("GET", "/healthz",
                    [](net::HttpRequest&, net::HttpResponder& r) -> asio::awaitable<void> {
                        co_await r.respond(200, "ok");
                    });
    // Ready means "connected to the cloud"; the edge works offline, so health stays ok.
    metrics->handle("GET", "/readyz",
                    [hub](net::HttpRequest&, net::HttpResponder& r) -> asio::awaitable<void> {
                        if (!hub || hub->connected()) co_await r.respond(200, "ok");
                        else co_await r.respond(503, "cloud not connected (serving offline)");
                    });
    if (auto s = metrics->start(); !s) {
        log->error("monitor server on {}: {}", cfg.kedge.monitor_server.bind_address,
                   s.error().message());
        if (meta_server) meta_server->stop();
        if (kubelet_server) kubelet_server->stop();
        if (reporter) reporter->stop();
        ctx.shutdown();
        return 1;
    }

    log->info("edgecore serving node {}: meta server {}, monitor {}:{}, cloud {}", node,
              meta_server ? std::to_string(meta_server->port()) : std::string("off"), mo.host,
              metrics->port(), cfg.modules.edge_hub.websocket.server);
    std::printf("edgecore serving node=%s metaserver=%u monitor=%u kubelet=%u\n", node.c_str(),
                meta_server ? meta_server->port() : 0, metrics->port(),
                kubelet_server ? kubelet_server->port() : 0);
    std::fflush(stdout);

    {
        ShutdownController shutdown(ioc);
        shutdown.add_hook(ShutdownPhase::kStopAccepting, "listeners", [&] {
            if (meta_server) meta_server->stop();
            if (kubelet_server) kubelet_server->stop();
            metrics->stop();
        });
        shutdown.add_hook(ShutdownPhase::kDrain, "modules", [&] {
            cri_retry.cancel();
            if (reporter) reporter->stop();
            ctx.shutdown();
        });
        ioc.run();
    }
    cri_pool.join();
    log->info("edgecore stopped");
    return 0;
}

}  // namespace kedge::edge
