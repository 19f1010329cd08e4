#pragma once
// The cloudcore.yaml model (PROTOCOL.md §6) with upstream KubeEdge's key names and defaults, so
// that an upstream cloudcore.yaml loads unchanged, plus kedge's own settings grouped under the
// top-level key `kedge`. Load with base/config_yaml.hpp (load_yaml_file<CloudCoreConfig>),
// print with to_yaml() (--defaultconfig) or min_config_yaml() (--minconfig).

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "base/config.hpp"

namespace kedge::cloud {

inline constexpr const char* kCloudCoreApiVersion = "cloudcore.config.kubeedge.io/v1alpha1";
inline constexpr const char* kCloudCoreKind = "CloudCore";

// commonConfig.monitorServer: where the Prometheus metrics and health endpoints listen.
struct MonitorServerConfig {
    std::string bind_address = "127.0.0.1:9091";
    bool enable_profiling = false;

    bool operator==(const MonitorServerConfig&) const = default;
    template <class V>
    void visit(V& v) {
        v.field("bindAddress", bind_address, config::non_empty());
        v.field("enableProfiling", enable_profiling);
    }
};

// commonConfig: settings shared by the modules.
struct CommonConfig {
    std::uint16_t tunnel_port = 10350;  // the kubelet port the API server is told to use
    MonitorServerConfig monitor_server;

    bool operator==(const CommonConfig&) const = default;
    template <class V>
    void visit(V& v) {
        v.field("tunnelPort", tunnel_port, config::at_least(1));
        v.field("monitorServer", monitor_server);
    }
};

// kubeAPIConfig: how cloudcore reaches the Kubernetes API server.
struct KubeApiConfig {
    std::string master;  // overrides the kubeconfig's server when set
    std::string kube_config = "/root/.kube/config";
    std::string content_type = "application/vnd.kubernetes.protobuf";
    double qps = 100;
    std::int32_t burst = 200;

    bool operator==(const KubeApiConfig&) const = default;
    template <class V>
    void visit(V& v) {
        v.field("master", master);
        v.field("kubeConfig", kube_config);
        v.field("contentType", content_type,
                config::one_of({"application/vnd.kubernetes.protobuf", "application/json"}));
        v.field("qps", qps, config::check([](double q) { return q > 0; }, "must be positive"));
        v.field("burst", burst, config::at_least(1));
    }
};

// cloudHub.quic: upstream's gQUIC server (out of scope; kept so configs load).
struct CloudHubQuicConfig {
    bool enable = false;
    std::string address = "0.0.0.0";
    std::uint16_t port = 10001;
    std::int32_t max_incoming_streams = 10000;

    bool operator==(const CloudHubQuicConfig&) const = default;
    template <class V>
    void visit(V& v) {
        v.field("enable", enable);
        v.field("address", address);
        v.field("port", port);
        v.field("maxIncomingStreams", max_incoming_streams);
    }
};

// cloudHub.unixsocket: the local socket upstream's keadm uses.
struct CloudHubUnixSocketConfig {
    bool enable = true;
    std::string address = "unix:///var/lib/kubeedge/kubeedge.sock";

    bool operator==(const CloudHubUnixSocketConfig&) const = default;
    template <class V>
    void visit(V& v) {
        v.field("enable", enable);
        v.field("address", address);
    }
};

// cloudHub.websocket and cloudHub.https: one listener each.
struct CloudHubListenerConfig {
    bool enable = true;
    std::string address = "0.0.0.0";
    std::uint16_t port = 0;

    bool operator==(const CloudHubListenerConfig&) const = default;
    template <class V>
    void visit(V& v) {
        v.field("enable", enable);
        v.field("address", address, config::non_empty());
        v.field("port", port, config::at_least(1));
    }
};

// cloudHub.authorization: per-node authorization of upstream messages.
struct CloudHubAuthorizationConfig {
    // On by default in kedge (upstream: off): a node may act only on its own objects.
    bool enable = true;
    bool debug = false;  // upstream: log denials but allow them

    bool operator==(const CloudHubAuthorizationConfig&) const = default;
    template <class V>
    void visit(V& v) {
        v.field("enable", enable);
        v.field("debug", debug);
    }
};

// modules.cloudHub: the WSS hub (:10000) and the join server (:10002).
struct CloudHubConfig {
    bool enable = true;
    std::vector<std::string> advertise_address;  // IPs put in the server certificate
    std::vector<std::string> dns_names;          // DNS names put in the server certificate
    std::int32_t node_limit = 1000;
    Seconds keepalive_interval{30};
    Seconds write_timeout{30};
    std::string tls_ca_file = "/etc/kubeedge/ca/rootCA.crt";
    std::string tls_ca_key_file = "/etc/kubeedge/ca/rootCA.key";
    std::string tls_cert_file = "/etc/kubeedge/certs/server.crt";
    std::string tls_private_key_file = "/etc/kubeedge/certs/server.key";
    std::uint32_t token_refresh_duration = 12;       // hours
    std::uint32_t edge_cert_signing_duration = 365;  // days
    CloudHubQuicConfig quic;
    CloudHubUnixSocketConfig unix_socket;
    CloudHubListenerConfig websocket{true, "0.0.0.0", 10000};
    CloudHubListenerConfig https{true, "0.0.0.0", 10002};
    CloudHubAuthorizationConfig authorization;

    bool operator==(const CloudHubConfig&) const = default;
    template <class V>
    void visit(V& v);
    std::optional<std::string> validate() const;
};

// Upstream's per-controller channel sizes and worker counts, by upstream name. Kept as maps so
// that the knobs of every upstream version load; kedge reads the few it uses.
using TuningMap = std::map<std::string, std::int32_t>;

// modules.edgeController.
struct EdgeControllerConfig {
    bool enable = true;
    Seconds node_update_frequency{10};
    TuningMap buffer;
    TuningMap load;

    EdgeControllerConfig();
    bool operator==(const EdgeControllerConfig&) const = default;
    template <class V>
    void visit(V& v) {
        v.field("enable", enable);
        v.field("nodeUpdateFrequency", node_update_frequency, config::at_least(Seconds(1)));
        v.field("buffer", buffer);
        v.field("load", load);
    }
};

// modules.deviceController, modules.taskManager, modules.nodeUpgradeJobController: a switch
// and upstream's tuning knobs.
struct TunedModuleConfig {
    bool enable = false;
    TuningMap buffer;
    TuningMap load;

    bool operator==(const TunedModuleConfig&) const = default;
    template <class V>
    void visit(V& v) {
        v.field("enable", enable);
        v.field("buffer", buffer);
        v.field("load", load);
    }
};

// modules.syncController, modules.dynamicController: just a switch.
struct SwitchConfig {
    bool enable = false;

    bool operator==(const SwitchConfig&) const = default;
    template <class V>
    void visit(V& v) {
        v.field("enable", enable);
    }
};

// modules.cloudStream: the kubelet-compatible stream server (:10003) and the edge tunnel
// (:10004).
struct CloudStreamConfig {
    bool enable = false;
    std::string tls_tunnel_ca_file = "/etc/kubeedge/ca/rootCA.crt";
    std::string tls_tunnel_cert_file = "/etc/kubeedge/certs/server.crt";
    std::string tls_tunnel_private_key_file = "/etc/kubeedge/certs/server.key";
    std::uint16_t tunnel_port = 10004;
    std::string tls_stream_ca_file = "/etc/kubeedge/ca/streamCA.crt";
    std::string tls_stream_cert_file = "/etc/kubeedge/certs/stream.crt";
    std::string tls_stream_private_key_file = "/etc/kubeedge/certs/stream.key";
    std::uint16_t stream_port = 10003;

    bool operator==(const CloudStreamConfig&) const = default;
    template <class V>
    void visit(V& v) {
        v.field("enable", enable);
        v.field("tlsTunnelCAFile", tls_tunnel_ca_file);
        v.field("tlsTunnelCertFile", tls_tunnel_cert_file);
        v.field("tlsTunnelPrivateKeyFile", tls_tunnel_private_key_file);
        v.field("tunnelPort", tunnel_port, config::at_least(1));
        v.field("tlsStreamCAFile", tls_stream_ca_file);
        v.field("tlsStreamCertFile", tls_stream_cert_file);
        v.field("tlsStreamPrivateKeyFile", tls_stream_private_key_file);
        v.field("streamPort", stream_port, config::at_least(1));
    }
};

// modules.router: the REST rule listener.
struct RouterConfig {
    bool enable = false;
    std::string address = "0.0.0.0";
    std::uint16_t port = 9443;
    Seconds rest_timeout{60};

    bool operator==(const RouterConfig&) const = default;
    template <class V>
    void visit(V& v) {
        v.field("enable", enable);
        v.field("address", address);
        v.field("port", port, config::at_least(1));
        v.field("restTimeout", rest_timeout, config::at_least(Seconds(1)));
    }
};

enum class IptablesMode { kInternal, kExternal };
constexpr auto config_enum_names(IptablesMode) {
    using N = config::EnumName<IptablesMode>;
    return std::array{N{IptablesMode::kInternal, "internal"},
                      N{IptablesMode::kExternal, "external"}};
}

// modules.iptablesManager: upstream's stream-tunnel iptables rules (kedge does not touch the
// host's iptables; kept so configs load).
struct IptablesManagerConfig {
    bool enable = true;
    IptablesMode mode = IptablesMode::kInternal;

    bool operator==(const IptablesManagerConfig&) const = default;
    template <class V>
    void visit(V& v) {
        v.field("enable", enable);
        v.field("mode", mode);
    }
};

// modules: every cloudcore module, upstream names.
struct CloudModulesConfig {
    CloudHubConfig cloud_hub;
    EdgeControllerConfig edge_controller;
    TunedModuleConfig device_controller;
    SwitchConfig sync_controller{true};
    SwitchConfig dynamic_controller{false};
    CloudStreamConfig cloud_stream;
    RouterConfig router;
    IptablesManagerConfig iptables_manager;
    TunedModuleConfig task_manager;
    std::optional<TunedModuleConfig> node_upgrade_job_controller;  // older upstream configs

    CloudModulesConfig();
    bool operator==(const CloudModulesConfig&) const = default;
    template <class V>
    void visit(V& v) {
        v.field("cloudHub", cloud_hub);
        v.field("edgeController", edge_controller);
        v.field("deviceController", device_controller);
        v.field("syncController", sync_controller);
        v.field("dynamicController", dynamic_controller);
        v.field("cloudStream", cloud_stream);
        v.field("router", router);
        v.field("iptablesManager", iptables_manager);
        v.field("taskManager", task_manager);
        v.field("nodeUpgradeJobController", node_upgrade_job_controller);
    }
};

enum class PkiStoreType { kSecret, kFile };
constexpr auto config_enum_names(PkiStoreType) {
    using N = config::EnumName<PkiStoreType>;
    return std::array{N{PkiStoreType::kSecret, "secret"}, N{PkiStoreType::kFile, "file"}};
}

// kedge.pkiStore: where the CA, server certificate and token live.
struct PkiStoreConfig {
    // secret: Secrets casecret/cloudcoresecret/tokensecret in namespace kubeedge (upstream's
    // place, shared by every cloudcore of the cluster); file: directories under `directory`.
    PkiStoreType type = PkiStoreType::kSecret;
    std::string directory = "/var/lib/kubeedge/pki";

    bool operator==(const PkiStoreConfig&) const = default;
    template <class V>
    void visit(V& v) {
        v.field("type", type);
        v.field("directory", directory);
    }
};

// kedge.sendQueue: the per-node outbound queues (PROTOCOL.md §3).
struct SendQueueConfig {
    std::uint32_t capacity = 1024;
    Duration resend_interval = std::chrono::seconds(5);
    std::int32_t max_writes = 5;
    Duration requeue_backoff_initial = std::chrono::seconds(5);
    Duration requeue_backoff_max = std::chrono::minutes(5);

    bool operator==(const SendQueueConfig&) const = default;
    template <class V>
    void visit(V& v) {
        v.field("capacity", capacity, config::range(1u, 1'000'000u));
        v.field("resendInterval", resend_interval,
                config::range(Duration(std::chrono::milliseconds(100)),
                              Duration(std::chrono::minutes(10))));
        v.field("maxWrites", max_writes, config::range(1, 100));
        v.field("requeueBackoffInitial", requeue_backoff_initial,
                config::at_least(Duration(std::chrono::milliseconds(1))));
        v.field("requeueBackoffMax", requeue_backoff_max,
                config::at_least(Duration(std::chrono::milliseconds(1))));
    }
    std::optional<std::string> validate() const {
        if (requeue_backoff_max < requeue_backoff_initial)
            return "requeueBackoffMax must not be below requeueBackoffInitial";
        return std::nullopt;
    }
};

// kedge: settings upstream cloudcore does not have. An upstream cloudcore ignores this key.
struct KedgeCloudConfig {
    // Accept the CN=kubeedge.io certificates (and CSRs) of upstream edgecores before v1.16,
    // binding them to the node named in the request. Off: identities are bound to
    // CN=system:node:<node>.
    bool allow_legacy_node_certificates = false;
    // The largest message accepted from an edge, in bytes.
    std::uint32_t max_message_bytes = 8 * 1024 * 1024;
    PkiStoreConfig pki_store;
    SendQueueConfig send_queue;

    bool operator==(const KedgeCloudConfig&) const = default;
    template <class V>
    void visit(V& v) {
        v.field("allowLegacyNodeCertificates", allow_legacy_node_certificates);
        v.field("maxMessageBytes", max_message_bytes, config::range(1024u, 256u * 1024 * 1024));
        v.field("pkiStore", pki_store);
        v.field("sendQueue", send_queue);
    }
};

// The whole cloudcore.yaml.
struct CloudCoreConfig {
    std::string api_version = kCloudCoreApiVersion;
    std::string kind = kCloudCoreKind;
    CommonConfig common_config;
    KubeApiConfig kube_api_config;
    std::map<std::string, bool> feature_gates;
    CloudModulesConfig modules;
    KedgeCloudConfig kedge;

    bool operator==(const CloudCoreConfig&) const = default;
    template <class V>
    void visit(V& v) {
        v.field("apiVersion", api_version,
                config::one_of({kCloudCoreApiVersion, "cloudcore.config.kubeedge.io/v1alpha2"}));
        v.field("kind", kind, config::one_of({kCloudCoreKind}));
        v.field("commonConfig", common_config);
        v.field("kubeAPIConfig", kube_api_config);
        v.field("featureGates", feature_gates);
        v.field("modules", modules);
        v.field("kedge", kedge);
    }
};

// The short file a user starts from (--minconfig): apiVersion, kind, the API server, and the
// hub's addresses, names and ports, with the values of cfg. Loading it gives cfg back for
// those fields and defaults for the rest.
std::string min_config_yaml(const CloudCoreConfig& cfg);

// True when s is an IPv4 or IPv6 address in text form.
bool is_ip_address(const std::string& s);

template <class V>
void CloudHubConfig::visit(V& v) {
    v.field("enable", enable);
    v.field("advertiseAddress", advertise_address);
    v.field("dnsNames", dns_names);
    v.field("nodeLimit", node_limit, config::at_least(1));
    v.field("keepaliveInterval", keepalive_interval, config::at_least(Seconds(1)));
    v.field("writeTimeout", write_timeout, config::at_least(Seconds(1)));
    v.field("tlsCAFile", tls_ca_file);
    v.field("tlsCAKeyFile", tls_ca_key_file);
    v.field("tlsCertFile", tls_cert_file);
    v.field("tlsPrivateKeyFile", tls_private_key_file);
    v.field("tokenRefreshDuration", token_refresh_duration, config::range(1u, 24u * 365));
    v.field("edgeCertSigningDuration", edge_cert_signing_duration, config::range(1u, 36500u));
    v.field("quic", quic);
    v.field("unixsocket", unix_socket);
    v.field("websocket", websocket);
    v.field("https", https);
    v.field("authorization", authorization);
}

}  // namespace kedge::cloud
