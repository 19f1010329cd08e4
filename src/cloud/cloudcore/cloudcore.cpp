#include "cloud/cloudcore/cloudcore.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_future.hpp>

#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <future>
#include <thread>

#include "base/log.hpp"
#include "base/shutdown.hpp"
#include "net/host_port.hpp"
#include "cloud/certserver/cert_server.hpp"
#include "cloud/certserver/cloud_pki.hpp"
#include "cloud/certserver/secret_pki_store.hpp"
#include "cloud/cloudcore/metrics.hpp"
#include "cloud/devicecontroller/device_controller.hpp"
#include "cloud/edgecontroller/edge_controller.hpp"
#include "cloud/hub/cloud_hub.hpp"
#include "cloud/hub/upstream_router.hpp"
#include "kube/client/config.hpp"
#include "kube/client/informer.hpp"
#include "net/http_server.hpp"

namespace kedge::cloud {

namespace asio = boost::asio;

namespace {

std::string host_name() {
    char buf[256] = {};
    if (gethostname(buf, sizeof buf - 1) != 0) return "cloudcore";
    return buf;
}

Result<kube::client::ClientConfig> client_config(const CloudCoreConfig& cfg) {
    const auto& k = cfg.kube_api_config;
    auto cc = kube::client::load_kubeconfig(k.kube_config);
    if (!cc) {
        if (k.master.empty())
            return Error(cc.error().code, "kubeAPIConfig.kubeConfig: " + cc.error().message());
        cc = kube::client::ClientConfig{};
    }
    if (!k.master.empty()) cc->server = k.master;
    cc->qps = k.qps;
    cc->burst = k.burst;
    cc->user_agent = "cloudcore/kedge";
    return cc;
}

}  // namespace

int run_cloudcore(const CloudCoreRunOptions& options) {
    auto log = log::get("cloudcore");
    const CloudCoreConfig& cfg = options.config;
    const auto& hubcfg = cfg.modules.cloud_hub;
    const std::string instance = options.instance_id.empty() ? host_name() : options.instance_id;
    const Clock& clock = SystemClock::instance();

    auto kube_cfg = client_config(cfg);
    if (!kube_cfg) {
        log->error("cannot reach the Kubernetes API: {}", kube_cfg.error().message());
        return 1;
    }
    auto monitor = net::split_host_port(cfg.common_config.monitor_server.bind_address);
    if (!monitor) {
        log->error("commonConfig.monitorServer.bindAddress: {}", monitor.error().message());
        return 1;
    }

    const unsigned threads = std::max(2u, std::thread::hardware_concurrency());
    asio::io_context ioc(static_cast<int>(threads));
    // The edge controller, its informers and the API client run on one strand (single-threaded
    // state); hub sessions and the join server use the whole pool.
    auto control = asio::make_strand(ioc);

    auto client = kube::client::Client::make(control, *kube_cfg);
    if (!client) {
        log->error("kubeAPIConfig: {}", client.error().message());
        return 1;
    }
    auto informers = std::make_unique<kube::client::InformerFactory>(control, *client);

    std::unique_ptr<PkiStore> store;
    if (cfg.kedge.pki_store.type == PkiStoreType::kFile)
        store = std::make_unique<FilePkiStore>(cfg.kedge.pki_store.directory);
    else
        store = std::make_unique<SecretPkiStore>(*client);

    CloudPkiOptions po;
    for (const auto& a : hubcfg.advertise_address) po.server_sans.ips.push_back(a);
    for (const auto& d : hubcfg.dns_names) po.server_sans.dns_names.push_back(d);
    po.token_refresh = std::chrono::hours(hubcfg.token_refresh_duration);

    // The guard first: an io_context whose run() finds no work returns and stays stopped.
    auto guard = asio::make_work_guard(ioc);
    std::thread runner([&ioc] { ioc.run(); });
    std::vector<std::thread> pool;
    for (unsigned i = 1; i < threads; ++i) pool.emplace_back([&ioc] { ioc.run(); });
    auto join_all = [&] {
        guard.reset();
        ioc.stop();
        runner.join();
        for (auto& t : pool) t.join();
    };

    // PKI first: everything else needs it. Several cloudcores starting at once agree on one
    // set through the store's atomic create.
    auto pki_future = asio::co_spawn(
        control, CloudPki::load_or_create(*store, po, clock), asio::use_future);
    auto pki = pki_future.get();
    if (!pki) {
        log->error("PKI ({} store): {}",
                   cfg.kedge.pki_store.type == PkiStoreType::kFile ? "file" : "Secret",
                   pki.error().message());
        join_all();
        return 1;
    }

    // The join server (:10002).
    std::shared_ptr<CertServer> certs;
    if (hubcfg.https.enable) {
        CertServerOptions co;
        co.address = hubcfg.https.address;
        co.port = hubcfg.https.port;
        co.edge_cert_lifetime = std::chrono::hours(24) * hubcfg.edge_cert_signing_duration;
        co.allow_legacy_csr_subject = cfg.kedge.allow_legacy_node_certificates;
        auto api = *client;
        NodeExistsFn node_exists = [api, control](std::string node) -> asio::awaitable<Result<bool>> {
            auto r = co_await asio::co_spawn(
                control, api->get(kube::client::resources::nodes(), "", node), asio::use_awaitable);
            if (r) co_return true;
            if (r.error().is(errc::not_found)) co_return false;
            co_return r.error();
        };
        certs = std::make_shared<CertServer>(ioc.get_executor(), *pki, co, node_exists);
        if (auto s = certs->start(); !s) {
            log->error("join server on {}:{}: {}", co.address, co.port, s.error().message());
            join_all();
            return 1;
        }
    }

    // The edge controller observes the hub; the hub is its sink. ObjectSync bookkeeping for
    // upstream edges needs the reliablesyncs CRDs; without them it is off (and says so) rather
    // than leaving informers failing forever.
    edgecontroller::EdgeControllerOptions eo;
    eo.cloudcore_id = instance;
    eo.authorization = hubcfg.authorization.enable;
    eo.authorization_debug = hubcfg.authorization.debug;
    if (!eo.authorization)
        log->warn("modules.cloudHub.authorization.enable is false: a node may act on any "
                  "node's objects");
    // Whether the API serves a group version (a CRD is installed), answered before the
    // informers that need it are created.
    auto served = [&](std::string path) -> Result<int> {
        auto api = *client;
        auto probe = asio::co_spawn(
                         control,
                         [api, path]() -> asio::awaitable<Result<net::HttpResponse>> {
                             // Not a braced temporary inside co_await: g++ 12 destroys
                             // such temporaries twice.
                             net::HttpRequestSpec spec;
                             spec.target = path;
                             co_return co_await api->raw(std::move(spec));
                         },
                         asio::use_future)
                         .get();
        if (!probe) return probe.error();
        return probe->status;
    };
    if (auto status = served("/apis/reliablesyncs.kubeedge.io/v1alpha1");
        !status || *status != 200) {
        eo.object_sync = false;
        log->warn(
            "reliablesyncs.kubeedge.io/v1alpha1 is not served ({}): no ObjectSync records "
            "for edges that send no inventory; apply deploy/crds/reliablesyncs to enable them",
            status ? "HTTP " + std::to_string(*status) : status.error().message());
    }
    auto controller = edgecontroller::EdgeController::make(control, *client, *informers, eo, clock);

    // The device controller needs the devices.kubeedge.io CRDs; without them it is off (and says
    // so) rather than leaving its informers failing forever.
    std::shared_ptr<devicecontroller::DeviceController> devices;
    if (cfg.modules.device_controller.enable) {
        auto status = served("/apis/devices.kubeedge.io/v1beta1");
        if (status && *status == 200) {
            devices =
                devicecontroller::DeviceController::make(control, *client, *informers, {}, clock);
        } else {
            log->warn(
                "devices.kubeedge.io/v1beta1 is not served ({}): the device controller is "
                "off; apply deploy/crds/devices and restart cloudcore to enable it",
                status ? "HTTP " + std::to_string(*status) : status.error().message());
        }
    }
    auto router = std::make_shared<UpstreamRouter>(controller, devices);

    net::ServerTlsOptions to;
    to.ca = net::PemSource::from_pem((*pki)->ca_cert().to_pem());
    to.cert = net::PemSource::from_pem((*pki)->server_cert().to_pem());
    to.key = net::PemSource::from_pem((*pki)->server_key().to_pem());
    to.client_auth = net::ClientAuth::require;
    auto hub_tls = net::TlsContext::make_server(to);
    if (!hub_tls) {
        log->error("hub TLS: {}", hub_tls.error().message());
        join_all();
        return 1;
    }
    CloudHubOptions ho;
    ho.address = hubcfg.websocket.address;
    ho.port = hubcfg.websocket.port;
    ho.tls = *hub_tls;
    ho.node_limit = static_cast<std::size_t>(hubcfg.node_limit);
    ho.keepalive_interval = std::chrono::seconds(hubcfg.keepalive_interval.count());
    ho.max_message_bytes = cfg.kedge.max_message_bytes;
    ho.allow_legacy_node_certificates = cfg.kedge.allow_legacy_node_certificates;
    const auto& sq = cfg.kedge.send_queue;
    ho.queue.capacity = sq.capacity;
    ho.queue.resend_interval =
        std::chrono::duration_cast<std::chrono::milliseconds>(sq.resend_interval.value());
    ho.queue.max_writes = sq.max_writes;
    ho.queue.requeue_backoff_initial =
        std::chrono::duration_cast<std::chrono::milliseconds>(sq.requeue_backoff_initial.value());
    ho.queue.requeue_backoff_max =
        std::chrono::duration_cast<std::chrono::milliseconds>(sq.requeue_backoff_max.value());
    auto hub = CloudHub::make(ioc.get_executor(), ho, router, clock);
    if (!hub) {
        log->error("hub: {}", hub.error().message());
        join_all();
        return 1;
    }
    controller->attach(*hub);
    if (devices) devices->attach(*hub);

    // Handlers registered, then the informers, then the hub accepts: a node that connects finds
    // the caches warm or waits for them inside the controller.
    asio::post(control, [controller, devices, &informers] {
        controller->start();
        if (devices) devices->start();
        informers->start_all();
    });
    if (auto s = (*hub)->start(); !s) {
        log->error("hub on {}:{}: {}", ho.address, ho.port, s.error().message());
        if (certs) certs->stop();
        join_all();
        return 1;
    }

    // Metrics and health on loopback.
    std::atomic<bool> synced{false};
    asio::co_spawn(
        control,
        [&informers, &synced]() -> asio::awaitable<void> {
            while (!co_await informers->wait_synced(std::chrono::seconds(5))) {
            }
            synced = true;
        },
        asio::detached);
    net::HttpServerOptions mo;
    mo.host = monitor->first;
    mo.port = monitor->second;
    mo.name = "metrics";
    auto metrics = net::HttpServer::make(ioc.get_executor(), mo);
    MetricsSources sources{*hub, controller, informers.get(), certs};
    // Rendered on the control strand: informer and controller state live there.
    metrics->handle("GET", "/metrics",
                    [sources, devices, control](net::HttpRequest&,
                                                net::HttpResponder& r) -> asio::awaitable<void> {
                        auto text = co_await asio::co_spawn(
                            control,
                            [sources, devices]() -> asio::awaitable<std::string> {
                                auto out = render_metrics(sources);
                                if (devices)
                                    out += devicecontroller::render_metrics(devices->stats());
                                co_return out;
                            },
                            asio::use_awaitable);
                        co_await r.respond(200, std::move(text), "text/plain; version=0.0.4");
                    });
    metrics->handle("GET", "/healthz",
                    [](net::HttpRequest&, net::HttpResponder& r) -> asio::awaitable<void> {
                        co_await r.respond(200, "ok");
                    });
    metrics->handle("GET", "/readyz",
                    [&synced](net::HttpRequest&, net::HttpResponder& r) -> asio::awaitable<void> {
                        if (synced) co_await r.respond(200, "ok");
                        else co_await r.respond(503, "informers not synced");
                    });
    if (auto s = metrics->start(); !s) {
        log->error("metrics on {}: {}", cfg.common_config.monitor_server.bind_address,
                   s.error().message());
        (*hub)->stop();
        if (certs) certs->stop();
        join_all();
        return 1;
    }

    asio::co_spawn(control, (*pki)->run_token_refresh(), asio::detached);

    log->info("cloudcore {} serving: hub {}:{}, join {}:{}, metrics {}:{}", instance,
              ho.address, (*hub)->port(), hubcfg.https.address, certs ? certs->port() : 0,
              mo.host, metrics->port());
    std::printf("cloudcore serving hub=%u certs=%u metrics=%u\n", (*hub)->port(),
                certs ? certs->port() : 0, metrics->port());
    std::fflush(stdout);

    // Run until a signal: stop accepting, close sessions, stop informers.
    std::promise<void> done;
    {
        ShutdownController::Options so;
        so.stop_io_context = false;  // the threads are joined below, after the drain
        ShutdownController shutdown(ioc, so);
        shutdown.add_hook(ShutdownPhase::kStopAccepting, "listeners", [&] {
            (*hub)->stop();
            if (certs) certs->stop();
            metrics->stop();
        });
        shutdown.add_hook(ShutdownPhase::kDrain, "controllers", [&] {
            asio::post(control, [controller, devices, &informers, &done] {
                controller->stop();
                if (devices) devices->stop();
                informers->stop_all();
                done.set_value();
            });
        });
        auto finished = done.get_future();
        while (finished.wait_for(std::chrono::milliseconds(100)) != std::future_status::ready &&
               !ioc.stopped()) {
        }
    }
    join_all();
    log->info("cloudcore stopped");
    return 0;
}

}  // namespace kedge::cloud
