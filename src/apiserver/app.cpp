#include "apiserver/app.hpp"

#include <boost/asio/io_context.hpp>

#include <cstdio>
#include <filesystem>
#include <stdexcept>
#include <thread>

#include "apiserver/auth/authenticator.hpp"
#include "apiserver/auth/authorizer.hpp"
#include "apiserver/authz_feed.hpp"
#include "apiserver/bootstrap.hpp"
#include "apiserver/registry.hpp"
#include "apiserver/server.hpp"
#include "apiserver/storage/etcd_storage.hpp"
#include "apiserver/storage/sqlite_storage.hpp"
#include "base/duration.hpp"
#include "base/log.hpp"
#include "controllers/manager/controller_manager.hpp"
#include "base/shutdown.hpp"
#include "pki/files.hpp"

namespace kedge::apiserver {

namespace {

template <class T>
T must(Result<T> r, const std::string& what) {
    if (!r) throw std::runtime_error(what + ": " + r.error().message());
    return std::move(*r);
}

void must(Result<void> r, const std::string& what) {
    if (!r) throw std::runtime_error(what + ": " + r.error().message());
}

std::chrono::milliseconds duration_flag(const std::string& flag, const std::string& value) {
    auto d = must(Duration::parse(value), flag);
    if (d.count_ns() <= 0) throw std::runtime_error(flag + ": must be positive");
    return std::chrono::duration_cast<std::chrono::milliseconds>(d.value());
}

// The controllers talk to this server over loopback with the admin client certificate, as
// kube-controller-manager would with its own credentials.
std::unique_ptr<controllers::ControllerManager> start_controllers(const AppConfig& f,
                                                                  const ServerPki& pki,
                                                                  const std::string& host,
                                                                  unsigned short port) {
    auto names = must(controllers::select_controllers(f.controllers), "--controllers");
    controllers::ControllerOptions co;
    co.node_monitor_period = duration_flag("--node-monitor-period", f.node_monitor_period);
    co.node_monitor_grace_period =
        duration_flag("--node-monitor-grace-period", f.node_monitor_grace_period);
    co.default_unreachable_toleration = std::chrono::duration_cast<std::chrono::seconds>(
        duration_flag("--default-unreachable-toleration", f.default_unreachable_toleration));
    if (names.empty()) return nullptr;
    if (pki.admin_cert.empty())
        throw std::runtime_error(
            "--controllers needs the generated client CA (no admin certificate to run them "
            "with); pass --controllers= to run without them");
    controllers::ManagerOptions mo;
    mo.client.server = "https://" + host + ":" + std::to_string(port);
    mo.client.ca_pem = must(pki::read_file(pki.serving_ca_cert), "reading the serving CA");
    mo.client.client_cert_pem = must(pki::read_file(pki.admin_cert), "reading the admin cert");
    mo.client.client_key_pem = must(pki::read_file(pki.admin_key), "reading the admin key");
    mo.client.user_agent = "kedge-apiserver/controllers";
    mo.client.qps = 200;
    mo.client.burst = 400;
    mo.enabled = std::move(names);
    mo.controller = co;
    return must(controllers::ControllerManager::start(std::move(mo)), "starting controllers");
}

}  // namespace

int run_app(const AppConfig& f) {
    namespace fs = std::filesystem;
    auto log = log::get("apiserver");
    if (f.storage != "sqlite" && f.storage != "etcd")
        throw std::runtime_error("--storage " + f.storage + ": must be sqlite or etcd");
    if (f.secure_port < 0 || f.secure_port > 65535)
        throw std::runtime_error("--secure-port must be 0..65535");
    fs::create_directories(f.data_dir);

    std::unique_ptr<storage::Storage> storage;
    if (f.storage == "sqlite") {
        storage = must(storage::SqliteStorage::open({.data_dir = f.data_dir}),
                       "opening storage in " + f.data_dir);
    } else {
        storage::EtcdOptions eo;
        for (std::size_t start = 0; start <= f.etcd_servers.size();) {
            auto comma = f.etcd_servers.find(',', start);
            if (comma == std::string::npos) comma = f.etcd_servers.size();
            if (comma > start) eo.endpoints.push_back(f.etcd_servers.substr(start, comma - start));
            start = comma + 1;
        }
        if (eo.endpoints.empty()) throw std::runtime_error("--storage etcd needs --etcd-servers");
        eo.compaction_interval = std::chrono::minutes(5);
        storage = must(storage::EtcdStorage::open(eo), "connecting to etcd");
    }
    auto registry = std::make_shared<Registry>(
        *storage, ResourceTypes::with_builtins(),
        RegistryOptions{.watch_cache_capacity = f.watch_cache_size});
    must(registry->ensure_default_namespaces(), "creating the default namespaces");
    must(registry->load_custom_resources(), "loading CustomResourceDefinitions");

    PkiOptions po;
    po.dir = fs::path(f.data_dir) / "pki";
    po.ips = {f.bind_address};
    po.tls_cert_file = f.tls_cert_file;
    po.tls_key_file = f.tls_key_file;
    po.client_ca_file = f.client_ca_file;
    auto pki = must(ensure_pki(po), "setting up the PKI in " + po.dir.string());

    net::ServerTlsOptions to;
    to.ca = net::PemSource::from_file(pki.client_ca_cert);
    to.cert = net::PemSource::from_file(pki.serving_cert);
    to.key = net::PemSource::from_file(pki.serving_key);
    to.client_auth = net::ClientAuth::request;  // bearer tokens need no certificate
    auto tls = must(net::TlsContext::make_server(to), "TLS setup");

    std::shared_ptr<const auth::TokenAuthenticator> tokens;
    if (!f.token_auth_file.empty())
        tokens = std::make_shared<const auth::TokenAuthenticator>(must(
            auth::TokenAuthenticator::load(f.token_auth_file), "--token-auth-file"));
    auto authn = std::make_shared<const auth::RequestAuthenticator>(tokens, true);
    // Node and RBAC judge from state fed by the registry's watch caches.
    auth::AuthorizerDeps deps;
    auto graph = std::make_shared<auth::InMemoryNodeGraph>();
    auto rbac = std::make_shared<auth::RbacStore>();
    bool node_mode = false, rbac_mode = false;
    for (std::size_t start = 0; start <= f.authorization_mode.size();) {
        auto comma = f.authorization_mode.find(',', start);
        if (comma == std::string::npos) comma = f.authorization_mode.size();
        auto mode = f.authorization_mode.substr(start, comma - start);
        node_mode = node_mode || mode == "Node";
        rbac_mode = rbac_mode || mode == "RBAC";
        start = comma + 1;
    }
    if (node_mode) deps.node_graph = graph;
    if (rbac_mode) deps.rbac = rbac;
    auto authz = must(auth::make_authorizer(f.authorization_mode, deps),
                      "--authorization-mode");
    std::unique_ptr<AuthzFeed> feed;
    if (node_mode || rbac_mode)
        feed = must(AuthzFeed::start(*registry, node_mode ? graph : nullptr,
                                                rbac_mode ? rbac : nullptr),
                    "loading authorization state");

    boost::asio::io_context ioc;
    ApiServerOptions so;
    so.bind_address = f.bind_address;
    so.port = static_cast<unsigned short>(f.secure_port);
    so.tls = tls;
    so.bookmark_interval = std::chrono::milliseconds(f.bookmark_interval_ms);
    auto server = ApiServer::make(ioc.get_executor(), registry, authn, authz, so);
    must(server->start(), "listening on " + f.bind_address);

    std::string host = f.bind_address == "0.0.0.0" || f.bind_address == "::" ? "127.0.0.1"
                                                                               : f.bind_address;
    if (!f.write_kubeconfig.empty()) {
        auto kc = must(admin_kubeconfig(pki, host, server->port()), "kubeconfig");
        must(pki::write_file_atomic(f.write_kubeconfig, kc, 0600),
             "writing " + f.write_kubeconfig);
    }
    log->info("kedge-apiserver serving on https://{}:{} kubeconfig={}", host, server->port(),
              f.write_kubeconfig);
    std::printf("kedge-apiserver listening on %s:%u\n", host.c_str(), server->port());
    std::fflush(stdout);

    auto controllers = start_controllers(f, pki, host, server->port());

    ShutdownController shutdown(ioc);
    shutdown.add_hook(ShutdownPhase::kStopAccepting, "apiserver", [server] { server->stop(); });
    std::thread second([&ioc] { ioc.run(); });
    ioc.run();
    second.join();
    if (controllers) controllers->stop();
    server->stop();
    feed.reset();
    registry->stop();
    log->info("kedge-apiserver stopped");
    return 0;
}


}  // namespace kedge::apiserver
