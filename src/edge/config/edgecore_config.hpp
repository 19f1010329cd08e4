#pragma once
// The edgecore.yaml model (PROTOCOL.md §6) with upstream KubeEdge's key names and defaults
// (edgecore.config.kubeedge.io/v1alpha2, as of v1.15), so that an upstream edgecore.yaml loads
// unchanged, plus kedge's own settings grouped under the top-level key `kedge`. Load with
// base/config_yaml.hpp (load_yaml_file<EdgeCoreConfig>), print with to_yaml() (--defaultconfig)
// or min_config_yaml() (--minconfig).

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "base/config.hpp"

namespace kedge::edge {

inline constexpr const char* kEdgeCoreApiVersion = "edgecore.config.kubeedge.io/v1alpha2";
inline constexpr const char* kEdgeCoreKind = "EdgeCore";

using StringMap = std::map<std::string, std::string>;

// True when s is "host:port" with a non-empty host and a port in 1..65535 ("[::1]:80" too).
bool is_host_port(const std::string& s);

// database: the local SQLite store of everything the cloud sent.
struct DatabaseConfig {
    std::string driver_name = "sqlite3";
    std::string alias_name = "default";
    std::string data_source = "/var/lib/kubeedge/edgecore.db";

    bool operator==(const DatabaseConfig&) const = default;
    template <class V>
    void visit(V& v) {
        v.field("driverName", driver_name, config::one_of({"sqlite3"}));
        v.field("aliasName", alias_name);
        v.field("dataSource", data_source, config::non_empty());
    }
};

// tailoredKubeletConfig.authentication (kubelet's KubeletAuthentication).
struct KubeletAnonymousAuth {
    bool enabled = false;
    bool operator==(const KubeletAnonymousAuth&) const = default;
    template <class V>
    void visit(V& v) {
        v.field("enabled", enabled);
    }
};
struct KubeletWebhookAuth {
    bool enabled = true;
    Duration cache_ttl = std::chrono::minutes(2);
    bool operator==(const KubeletWebhookAuth&) const = default;
    template <class V>
    void visit(V& v) {
        v.field("enabled", enabled);
        v.field("cacheTTL", cache_ttl);
    }
};
struct KubeletX509Auth {
    std::string client_ca_file;
    bool operator==(const KubeletX509Auth&) const = default;
    template <class V>
    void visit(V& v) {
        v.field("clientCAFile", client_ca_file);
    }
};
struct KubeletAuthentication {
    KubeletAnonymousAuth anonymous;
    KubeletWebhookAuth webhook;
    KubeletX509Auth x509;
    bool operator==(const KubeletAuthentication&) const = default;
    template <class V>
    void visit(V& v) {
        v.field("anonymous", anonymous);
        v.field("webhook", webhook);
        v.field("x509", x509);
    }
};

// tailoredKubeletConfig.authorization (kubelet's KubeletAuthorization).
struct KubeletWebhookAuthz {
    Duration cache_authorized_ttl = std::chrono::minutes(5);
    Duration cache_unauthorized_ttl = std::chrono::seconds(30);
    bool operator==(const KubeletWebhookAuthz&) const = default;
    template <class V>
    void visit(V& v) {
        v.field("cacheAuthorizedTTL", cache_authorized_ttl);
        v.field("cacheUnauthorizedTTL", cache_unauthorized_ttl);
    }
};
struct KubeletAuthorization {
    std::string mode = "Webhook";
    KubeletWebhookAuthz webhook;
    bool operator==(const KubeletAuthorization&) const = default;
    template <class V>
    void visit(V& v) {
        v.field("mode", mode, config::one_of({"AlwaysAllow", "Webhook"}));
        v.field("webhook", webhook);
    }
};

// tailoredKubeletConfig.logging (component-base's LoggingConfiguration).
struct KubeletLogging {
    // A string because Kubernetes versions write it as nanoseconds or as "5s".
    std::string flush_frequency = "5s";
    std::string format = "text";
    std::map<std::string, StringMap> options;
    std::int32_t verbosity = 0;
    bool operator==(const KubeletLogging&) const = default;
    template <class V>
    void visit(V& v) {
        v.field("flushFrequency", flush_frequency);
        v.field("format", format);
        v.field("options", options);
        v.field("verbosity", verbosity, config::at_least(0));
    }
};

// tailoredKubeletConfig.memorySwap.
struct KubeletMemorySwap {
    std::string swap_behavior;
    bool operator==(const KubeletMemorySwap&) const = default;
    template <class V>
    void visit(V& v) {
        v.field("swapBehavior", swap_behavior);
    }
};

// One of registerWithTaints.
struct TaintConfig {
    std::string key;
    std::string value;
    std::string effect;
    bool operator==(const TaintConfig&) const = default;
    template <class V>
    void visit(V& v) {
        v.field("key", key, config::non_empty());
        v.field("value", value);
        v.field("effect", effect, config::one_of({"NoSchedule", "PreferNoSchedule", "NoExecute"}));
    }
};

// edged.tailoredKubeletConfig: upstream embeds kubelet's KubeletConfiguration (v1beta1) with
// KubeEdge's defaults. Every key upstream's --defaultconfig writes is modelled so its files
// load; kedge acts on the few that matter to a node agent without a kubelet (readOnlyPort,
// staticPodPath, nodeStatusUpdateFrequency, containerRuntimeEndpoint, cgroupDriver, maxPods,
// clusterDNS/clusterDomain, registerNode) and keeps the rest.
struct TailoredKubeletConfig {
    std::string address = "127.0.0.1";
    KubeletAuthentication authentication;
    KubeletAuthorization authorization;
    std::string cgroup_driver = "cgroupfs";
    std::string cgroup_root;
    bool cgroups_per_qos = true;
    std::vector<std::string> cluster_dns;
    std::string cluster_domain = "cluster.local";
    std::string config_map_and_secret_change_detection_strategy = "Get";
    std::int32_t container_log_max_files = 5;
    std::string container_log_max_size = "10Mi";
    std::string container_runtime_endpoint = "unix:///run/containerd/containerd.sock";
    std::string content_type = "application/json";
    bool cpu_cfs_quota = true;
    Duration cpu_cfs_quota_period = std::chrono::milliseconds(100);
    std::string cpu_manager_policy = "none";
    Duration cpu_manager_reconcile_period = std::chrono::seconds(10);
    bool enable_controller_attach_detach = true;
    bool enable_debug_flags_handler = true;
    bool enable_debugging_handlers = true;
    bool enable_profiling_handler = true;
    bool enable_server = false;
    bool enable_system_log_handler = true;
    std::vector<std::string> enforce_node_allocatable{"pods"};
    std::int32_t event_burst = 10;
    std::int32_t event_record_qps = 5;
    StringMap eviction_hard{{"imagefs.available", "15%"},
                            {"memory.available", "100Mi"},
                            {"nodefs.available", "10%"},
                            {"nodefs.inodesFree", "5%"}};
    Duration eviction_pressure_transition_period = std::chrono::minutes(5);
    bool fail_swap_on = false;
    std::map<std::string, bool> feature_gates;
    Duration file_check_frequency = std::chrono::seconds(20);
    std::string hairpin_mode = "promiscuous-bridge";
    std::string healthz_bind_address = "127.0.0.1";
    std::int32_t healthz_port = 10248;
    Duration http_check_frequency = std::chrono::seconds(20);
    std::int32_t image_gc_high_threshold_percent = 80;
    std::int32_t image_gc_low_threshold_percent = 40;
    Duration image_minimum_gc_age = std::chrono::minutes(2);
    std::string image_service_endpoint;
    std::int32_t iptables_drop_bit = 15;
    std::int32_t iptables_masquerade_bit = 14;
    std::int32_t kube_api_burst = 10;
    std::int32_t kube_api_qps = 5;
    StringMap kube_reserved;
    bool local_storage_capacity_isolation = true;
    KubeletLogging logging;
    bool make_iptables_util_chains = true;
    std::int64_t max_open_files = 1000000;
    std::optional<std::int32_t> max_parallel_image_pulls;
    std::int32_t max_pods = 110;
    std::string memory_manager_policy = "None";
    KubeletMemorySwap memory_swap;
    double memory_throttling_factor = 0.9;
    std::int32_t node_lease_duration_seconds = 40;
    std::int32_t node_status_max_images = 0;
    Duration node_status_report_frequency = std::chrono::minutes(5);
    Duration node_status_update_frequency = std::chrono::seconds(10);
    std::int32_t oom_score_adj = -999;
    std::int64_t pod_pids_limit = -1;
    std::int32_t pods_per_core = 0;
    std::int32_t port = 10250;
    bool protect_kernel_defaults = false;
    std::string provider_id;
    std::int32_t read_only_port = 10350;
    bool register_node = true;
    std::vector<TaintConfig> register_with_taints;
    std::int32_t registry_burst = 10;
    std::int32_t registry_pull_qps = 5;
    std::string reserved_system_cpus;
    std::string resolv_conf = "/etc/resolv.conf";
    bool rotate_certificates = false;
    Duration runtime_request_timeout = std::chrono::minutes(2);
    bool seccomp_default = false;
    bool serialize_image_pulls = true;
    Duration shutdown_grace_period{};
    Duration shutdown_grace_period_critical_pods{};
    std::string static_pod_path = "/etc/kubeedge/manifests";
    Duration streaming_connection_idle_timeout = std::chrono::hours(4);
    Duration sync_frequency = std::chrono::minutes(1);
    StringMap system_reserved;
    std::string tls_cert_file;
    std::string tls_private_key_file;
    std::string topology_manager_policy = "none";
    std::string topology_manager_scope = "container";
    std::string volume_plugin_dir = "/usr/libexec/kubernetes/kubelet-plugins/volume/exec/";
    Duration volume_stats_agg_period = std::chrono::minutes(1);

    bool operator==(const TailoredKubeletConfig&) const = default;
    template <class V>
    void visit(V& v);
    std::optional<std::string> validate() const;
};

// modules.edged: upstream's lightweight kubelet. kedge does not run containers; it registers
// the node and reports its status with these settings.
struct EdgedConfig {
    bool enable = true;
    TailoredKubeletConfig tailored_kubelet_config;
    // Empty means the host's name (upstream writes os.Hostname() into --defaultconfig).
    std::string hostname_override;
    std::string node_ip;  // empty: the address of the interface the cloud is reached through
    std::string custom_interface_name;
    std::string register_node_namespace = "default";
    std::string pod_sandbox_image = "kubeedge/pause:3.6";
    std::string root_directory = "/var/lib/kubelet";
    std::string cert_directory;
    std::string kube_config;
    StringMap node_labels;
    bool register_schedulable = true;
    std::vector<TaintConfig> register_with_taints;
    std::int32_t max_container_count = -1;
    std::int32_t max_per_pod_container_count = 1;
    Duration minimum_gc_age{};
    std::string non_masquerade_cidr;
    std::string runtime_cgroups;
    std::string seccomp_profile_root;
    bool keep_terminated_pod_volumes = false;
    std::string image_credential_provider_config_file;
    std::string image_credential_provider_bin_dir;
    bool report_event = false;
    // Keys of older upstream files (dockershim days), accepted and ignored.
    std::optional<std::string> container_runtime;
    std::optional<std::string> remote_runtime_endpoint;
    std::optional<std::string> remote_image_endpoint;

    bool operator==(const EdgedConfig&) const = default;
    template <class V>
    void visit(V& v);
};

// edgeHub.websocket and edgeHub.quic: how the hub reaches cloudcore.
struct EdgeHubTransportConfig {
    bool enable = true;
    Seconds handshake_timeout{30};
    Seconds read_deadline{15};
    std::string server;  // host:port of cloudcore
    Seconds write_deadline{15};

    bool operator==(const EdgeHubTransportConfig&) const = default;
    template <class V>
    void visit(V& v) {
        v.field("enable", enable);
        v.field("handshakeTimeout", handshake_timeout, config::at_least(Seconds(1)));
        v.field("readDeadline", read_deadline, config::at_least(Seconds(1)));
        v.field("server", server);
        v.field("writeDeadline", write_deadline, config::at_least(Seconds(1)));
    }
    std::optional<std::string> validate() const;
};

// modules.edgeHub: the link to cloudcore (join, certificates, the websocket).
struct EdgeHubConfig {
    bool enable = true;
    Seconds heartbeat{15};
    std::int32_t message_qps = 30;
    std::int32_t message_burst = 60;
    std::string project_id = "e632aba927ea4ac2b575ec1603d56f10";
    std::string tls_ca_file = "/etc/kubeedge/ca/rootCA.crt";
    std::string tls_cert_file = "/etc/kubeedge/certs/server.crt";
    std::string tls_private_key_file = "/etc/kubeedge/certs/server.key";
    // gQUIC is out of scope; kept so configs load (enabling it alone is an error).
    EdgeHubTransportConfig quic{false, Seconds(30), Seconds(15), "127.0.0.1:10001", Seconds(15)};
    EdgeHubTransportConfig websocket{true, Seconds(30), Seconds(15), "127.0.0.1:10000",
                                     Seconds(15)};
    std::string token;  // the join token (keadm gettoken); needed until a certificate exists
    std::string http_server = "https://127.0.0.1:10002";
    bool rotate_certificates = true;

    bool operator==(const EdgeHubConfig&) const = default;
    template <class V>
    void visit(V& v);
    std::optional<std::string> validate() const;
};

// eventBus.eventBusTLS: TLS towards the MQTT broker.
struct EventBusTlsConfig {
    bool enable = false;
    std::string tls_mqtt_ca_file = "/etc/kubeedge/ca/rootCA.crt";
    std::string tls_mqtt_cert_file = "/etc/kubeedge/certs/server.crt";
    std::string tls_mqtt_private_key_file = "/etc/kubeedge/certs/server.key";

    bool operator==(const EventBusTlsConfig&) const = default;
    template <class V>
    void visit(V& v) {
        v.field("enable", enable);
        v.field("tlsMqttCAFile", tls_mqtt_ca_file);
        v.field("tlsMqttCertFile", tls_mqtt_cert_file);
        v.field("tlsMqttPrivateKeyFile", tls_mqtt_private_key_file);
    }
};

// mqttMode values (upstream writes the integer).
inline constexpr std::int32_t kMqttModeInternal = 0;
inline constexpr std::int32_t kMqttModeBoth = 1;
inline constexpr std::int32_t kMqttModeExternal = 2;

// modules.eventBus: the MQTT bridge for devices.
struct EventBusConfig {
    bool enable = true;
    std::int32_t mqtt_qos = 0;
    bool mqtt_retain = false;
    std::int32_t mqtt_session_queue_size = 100;
    std::string mqtt_server_internal = "tcp://127.0.0.1:1884";
    std::string mqtt_server_external = "tcp://127.0.0.1:1883";
    std::string mqtt_sub_client_id;
    std::string mqtt_pub_client_id;
    std::string mqtt_username;
    std::string mqtt_password;
    std::int32_t mqtt_mode = kMqttModeExternal;
    EventBusTlsConfig event_bus_tls;

    bool operator==(const EventBusConfig&) const = default;
    template <class V>
    void visit(V& v) {
        v.field("enable", enable);
        v.field("mqttQOS", mqtt_qos, config::range(0, 2));
        v.field("mqttRetain", mqtt_retain);
        v.field("mqttSessionQueueSize", mqtt_session_queue_size, config::at_least(1));
        v.field("mqttServerInternal", mqtt_server_internal);
        v.field("mqttServerExternal", mqtt_server_external);
        v.field("mqttSubClientID", mqtt_sub_client_id);
        v.field("mqttPubClientID", mqtt_pub_client_id);
        v.field("mqttUsername", mqtt_username);
        v.field("mqttPassword", mqtt_password);
        v.field("mqttMode", mqtt_mode, config::range(kMqttModeInternal, kMqttModeExternal));
        v.field("eventBusTLS", event_bus_tls);
    }
};

// metaManager.metaServer: the local Kubernetes API on the edge (list/watch from the store).
struct MetaServerConfig {
    // On in kedge (upstream: off): the local list-watch API is what edge applications use.
    bool enable = true;
    std::string server = "127.0.0.1:10550";
    std::string tls_ca_file = "/etc/kubeedge/ca/rootCA.crt";
    std::string tls_cert_file = "/etc/kubeedge/certs/server.crt";
    std::string tls_private_key_file = "/etc/kubeedge/certs/server.key";
    std::vector<std::string> api_audiences;
    std::vector<std::string> service_account_issuers;
    std::vector<std::string> service_account_key_files;
    bool dummy_server = false;  // upstream: the 169.254.30.10 dummy interface

    bool operator==(const MetaServerConfig&) const = default;
    template <class V>
    void visit(V& v) {
        v.field("enable", enable);
        v.field("server", server,
                config::check([](const std::string& s) { return is_host_port(s); },
                              "must be host:port, e.g. 127.0.0.1:10550"));
        v.field("tlsCaFile", tls_ca_file);
        v.field("tlsCertFile", tls_cert_file);
        v.field("tlsPrivateKeyFile", tls_private_key_file);
        v.field("apiAudiences", api_audiences);
        v.field("serviceAccountIssuers", service_account_issuers);
        v.field("serviceAccountKeyFiles", service_account_key_files);
        v.field("dummyServer", dummy_server);
    }
};

// modules.metaManager: the SQLite store, local queries and the upstream send path.
struct MetaManagerConfig {
    bool enable = true;
    std::string context_send_group = "hub";
    std::string context_send_module = "websocket";
    Seconds remote_query_timeout{60};
    MetaServerConfig meta_server;

    bool operator==(const MetaManagerConfig&) const = default;
    template <class V>
    void visit(V& v) {
        v.field("enable", enable);
        v.field("contextSendGroup", context_send_group);
        v.field("contextSendModule", context_send_module);
        v.field("remoteQueryTimeout", remote_query_timeout,
                config::range(Seconds(1), Seconds(3600)));
        v.field("metaServer", meta_server);
    }
};

// modules.serviceBus: upstream's HTTP bridge for edge applications.
struct ServiceBusConfig {
    bool enable = false;
    std::string server = "127.0.0.1";
    std::int32_t port = 9060;
    std::int32_t timeout = 60;

    bool operator==(const ServiceBusConfig&) const = default;
    template <class V>
    void visit(V& v) {
        v.field("enable", enable);
        v.field("server", server);
        v.field("port", port, config::range(1, 65535));
        v.field("timeout", timeout, config::at_least(1));
    }
};

// modules.deviceTwin: device state and the DMI socket of mappers.
struct DeviceTwinConfig {
    bool enable = true;
    std::string dmi_sock_path = "/etc/kubeedge/dmi.sock";

    bool operator==(const DeviceTwinConfig&) const = default;
    template <class V>
    void visit(V& v) {
        v.field("enable", enable);
        v.field("dmiSockPath", dmi_sock_path);
    }
};

// modules.edgeStream: the tunnel to cloudcore's stream server (kubectl logs/exec).
struct EdgeStreamConfig {
    bool enable = false;
    std::string tls_tunnel_ca_file = "/etc/kubeedge/ca/rootCA.crt";
    std::string tls_tunnel_cert_file = "/etc/kubeedge/certs/server.crt";
    std::string tls_tunnel_private_key_file = "/etc/kubeedge/certs/server.key";
    Seconds handshake_timeout{30};
    Seconds read_deadline{15};
    std::string server = "127.0.0.1:10004";
    Seconds write_deadline{15};

    bool operator==(const EdgeStreamConfig&) const = default;
    template <class V>
    void visit(V& v) {
        v.field("enable", enable);
        v.field("tlsTunnelCAFile", tls_tunnel_ca_file);
        v.field("tlsTunnelCertFile", tls_tunnel_cert_file);
        v.field("tlsTunnelPrivateKeyFile", tls_tunnel_private_key_file);
        v.field("handshakeTimeout", handshake_timeout, config::at_least(Seconds(1)));
        v.field("readDeadline", read_deadline, config::at_least(Seconds(1)));
        v.field("server", server);
        v.field("writeDeadline", write_deadline, config::at_least(Seconds(1)));
    }
    std::optional<std::string> validate() const;
};

// modules.dbTest, modules.taskManager: just a switch.
struct EdgeSwitchConfig {
    bool enable = false;

    bool operator==(const EdgeSwitchConfig&) const = default;
    template <class V>
    void visit(V& v) {
        v.field("enable", enable);
    }
};

// modules: every edgecore module, upstream names.
struct EdgeModulesConfig {
    EdgedConfig edged;
    EdgeHubConfig edge_hub;
    EventBusConfig event_bus;
    MetaManagerConfig meta_manager;
    ServiceBusConfig service_bus;
    DeviceTwinConfig device_twin;
    EdgeSwitchConfig db_test;
    EdgeStreamConfig edge_stream;
    EdgeSwitchConfig task_manager;

    bool operator==(const EdgeModulesConfig&) const = default;
    template <class V>
    void visit(V& v) {
        v.field("edged", edged);
        v.field("edgeHub", edge_hub);
        v.field("eventBus", event_bus);
        v.field("metaManager", meta_manager);
        v.field("serviceBus", service_bus);
        v.field("deviceTwin", device_twin);
        v.field("dbTest", db_test);
        v.field("edgeStream", edge_stream);
        v.field("taskManager", task_manager);
    }
};

// kedge.monitorServer: where the metrics and health endpoints listen.
struct EdgeMonitorServerConfig {
    std::string bind_address = "127.0.0.1:9092";

    bool operator==(const EdgeMonitorServerConfig&) const = default;
    template <class V>
    void visit(V& v) {
        v.field("bindAddress", bind_address,
                config::check([](const std::string& s) { return is_host_port(s); },
                              "must be host:port, e.g. 127.0.0.1:9092"));
    }
};

// kedge.reconnect: exponential backoff (with jitter) between attempts to reach cloudcore.
struct ReconnectConfig {
    Duration initial_backoff = std::chrono::seconds(1);
    Duration max_backoff = std::chrono::seconds(30);

    bool operator==(const ReconnectConfig&) const = default;
    template <class V>
    void visit(V& v) {
        v.field("initialBackoff", initial_backoff,
                config::at_least(Duration(std::chrono::milliseconds(10))));
        v.field("maxBackoff", max_backoff,
                config::at_least(Duration(std::chrono::milliseconds(10))));
    }
    std::optional<std::string> validate() const {
        if (max_backoff < initial_backoff) return "maxBackoff must not be below initialBackoff";
        return std::nullopt;
    }
};

// kedge: settings upstream edgecore does not have. An upstream edgecore rejects unknown keys,
// so a file using them is kedge-only.
struct KedgeEdgeConfig {
    // Start even though a kubelet runs on this host (both would manage the same node).
    bool allow_kubelet_running = false;
    // Send the inventory of what the edge holds on connect so the cloud sends only the delta.
    bool inventory_resync = true;
    EdgeMonitorServerConfig monitor_server;
    ReconnectConfig reconnect;
    // Where container logs go, in the kubelet's layout (log collectors read these); tests and
    // side-by-side nodes point them elsewhere.
    std::string pod_logs_directory = "/var/log/pods";
    std::string container_logs_directory = "/var/log/containers";
    // Crash back-off of restarting containers (the kubelet's 10 s doubling to 5 min).
    Duration container_backoff_initial = std::chrono::seconds(10);
    Duration container_backoff_max = std::chrono::minutes(5);

    bool operator==(const KedgeEdgeConfig&) const = default;
    template <class V>
    void visit(V& v) {
        v.field("allowKubeletRunning", allow_kubelet_running);
        v.field("inventoryResync", inventory_resync);
        v.field("monitorServer", monitor_server);
        v.field("reconnect", reconnect);
        v.field("podLogsDirectory", pod_logs_directory, config::non_empty());
        v.field("containerLogsDirectory", container_logs_directory, config::non_empty());
        v.field("containerBackoffInitial", container_backoff_initial,
                config::at_least(Duration(std::chrono::milliseconds(100))));
        v.field("containerBackoffMax", container_backoff_max,
                config::at_least(Duration(std::chrono::milliseconds(100))));
    }
};

// The whole edgecore.yaml.
struct EdgeCoreConfig {
    std::string api_version = kEdgeCoreApiVersion;
    std::string kind = kEdgeCoreKind;
    DatabaseConfig database;
    EdgeModulesConfig modules;
    std::map<std::string, bool> feature_gates;
    KedgeEdgeConfig kedge;

    bool operator==(const EdgeCoreConfig&) const = default;
    template <class V>
    void visit(V& v) {
        v.field("apiVersion", api_version, config::one_of({kEdgeCoreApiVersion}));
        v.field("kind", kind, config::one_of({kEdgeCoreKind}));
        v.field("database", database);
        v.field("modules", modules);
        v.field("featureGates", feature_gates);
        v.field("kedge", kedge);
    }
};

// The short file a user starts from (--minconfig): apiVersion, kind, the database file, the
// node's name, IP and labels, the runtime endpoint and cgroup driver, and the cloud's
// addresses and join token, with the values of cfg. Loading it gives cfg back for those fields
// and defaults for the rest.
std::string min_config_yaml(const EdgeCoreConfig& cfg);

template <class V>
void TailoredKubeletConfig::visit(V& v) {
    using config::at_least;
    using config::range;
    v.field("address", address);
    v.field("authentication", authentication);
    v.field("authorization", authorization);
    v.field("cgroupDriver", cgroup_driver, config::one_of({"cgroupfs", "systemd"}));
    v.field("cgroupRoot", cgroup_root);
    v.field("cgroupsPerQOS", cgroups_per_qos);
    v.field("clusterDNS", cluster_dns);
    v.field("clusterDomain", cluster_domain);
    v.field("configMapAndSecretChangeDetectionStrategy",
            config_map_and_secret_change_detection_strategy,
            config::one_of({"Get", "Cache", "Watch"}));
    v.field("containerLogMaxFiles", container_log_max_files, at_least(2));
    v.field("containerLogMaxSize", container_log_max_size);
    v.field("containerRuntimeEndpoint", container_runtime_endpoint, config::non_empty());
    v.field("contentType", content_type);
    v.field("cpuCFSQuota", cpu_cfs_quota);
    v.field("cpuCFSQuotaPeriod", cpu_cfs_quota_period);
    v.field("cpuManagerPolicy", cpu_manager_policy);
    v.field("cpuManagerReconcilePeriod", cpu_manager_reconcile_period);
    v.field("enableControllerAttachDetach", enable_controller_attach_detach);
    v.field("enableDebugFlagsHandler", enable_debug_flags_handler);
    v.field("enableDebuggingHandlers", enable_debugging_handlers);
    v.field("enableProfilingHandler", enable_profiling_handler);
    v.field("enableServer", enable_server);
    v.field("enableSystemLogHandler", enable_system_log_handler);
    v.field("enforceNodeAllocatable", enforce_node_allocatable);
    v.field("eventBurst", event_burst, at_least(0));
    v.field("eventRecordQPS", event_record_qps, at_least(0));
    v.field("evictionHard", eviction_hard);
    v.field("evictionPressureTransitionPeriod", eviction_pressure_transition_period);
    v.field("failSwapOn", fail_swap_on);
    v.field("featureGates", feature_gates);
    v.field("fileCheckFrequency", file_check_frequency);
    v.field("hairpinMode", hairpin_mode);
    v.field("healthzBindAddress", healthz_bind_address);
    v.field("healthzPort", healthz_port, range(0, 65535));
    v.field("httpCheckFrequency", http_check_frequency);
    v.field("imageGCHighThresholdPercent", image_gc_high_threshold_percent, range(0, 100));
    v.field("imageGCLowThresholdPercent", image_gc_low_threshold_percent, range(0, 100));
    v.field("imageMinimumGCAge", image_minimum_gc_age);
    v.field("imageServiceEndpoint", image_service_endpoint);
    v.field("iptablesDropBit", iptables_drop_bit, range(0, 31));
    v.field("iptablesMasqueradeBit", iptables_masquerade_bit, range(0, 31));
    v.field("kubeAPIBurst", kube_api_burst, at_least(0));
    v.field("kubeAPIQPS", kube_api_qps, at_least(0));
    v.field("kubeReserved", kube_reserved);
    v.field("localStorageCapacityIsolation", local_storage_capacity_isolation);
    v.field("logging", logging);
    v.field("makeIPTablesUtilChains", make_iptables_util_chains);
    v.field("maxOpenFiles", max_open_files, at_least(std::int64_t{1}));
    v.field("maxParallelImagePulls", max_parallel_image_pulls, at_least(1));
    v.field("maxPods", max_pods, at_least(1));
    v.field("memoryManagerPolicy", memory_manager_policy);
    v.field("memorySwap", memory_swap);
    v.field("memoryThrottlingFactor", memory_throttling_factor);
    v.field("nodeLeaseDurationSeconds", node_lease_duration_seconds, at_least(1));
    v.field("nodeStatusMaxImages", node_status_max_images, at_least(-1));
    v.field("nodeStatusReportFrequency", node_status_report_frequency);
    v.field("nodeStatusUpdateFrequency", node_status_update_frequency,
            at_least(Duration(std::chrono::seconds(1))));
    v.field("oomScoreAdj", oom_score_adj, range(-1000, 1000));
    v.field("podPidsLimit", pod_pids_limit);
    v.field("podsPerCore", pods_per_core, at_least(0));
    v.field("port", port, range(1, 65535));
    v.field("protectKernelDefaults", protect_kernel_defaults);
    v.field("providerID", provider_id);
    v.field("readOnlyPort", read_only_port, range(0, 65535));
    v.field("registerNode", register_node);
    v.field("registerWithTaints", register_with_taints);
    v.field("registryBurst", registry_burst, at_least(0));
    v.field("registryPullQPS", registry_pull_qps, at_least(0));
    v.field("reservedSystemCPUs", reserved_system_cpus);
    v.field("resolvConf", resolv_conf);
    v.field("rotateCertificates", rotate_certificates);
    v.field("runtimeRequestTimeout", runtime_request_timeout);
    v.field("seccompDefault", seccomp_default);
    v.field("serializeImagePulls", serialize_image_pulls);
    v.field("shutdownGracePeriod", shutdown_grace_period);
    v.field("shutdownGracePeriodCriticalPods", shutdown_grace_period_critical_pods);
    v.field("staticPodPath", static_pod_path);
    v.field("streamingConnectionIdleTimeout", streaming_connection_idle_timeout);
    v.field("syncFrequency", sync_frequency);
    v.field("systemReserved", system_reserved);
    v.field("tlsCertFile", tls_cert_file);
    v.field("tlsPrivateKeyFile", tls_private_key_file);
    v.field("topologyManagerPolicy", topology_manager_policy);
    v.field("topologyManagerScope", topology_manager_scope);
    v.field("volumePluginDir", volume_plugin_dir);
    v.field("volumeStatsAggPeriod", volume_stats_agg_period);
}

template <class V>
void EdgedConfig::visit(V& v) {
    v.field("enable", enable);
    v.field("tailoredKubeletConfig", tailored_kubelet_config);
    v.field("hostnameOverride", hostname_override);
    v.field("nodeIP", node_ip);
    v.field("customInterfaceName", custom_interface_name);
    v.field("registerNodeNamespace", register_node_namespace, config::non_empty());
    v.field("podSandboxImage", pod_sandbox_image);
    v.field("rootDirectory", root_directory, config::non_empty());
    v.field("certDirectory", cert_directory);
    v.field("kubeConfig", kube_config);
    v.field("nodeLabels", node_labels);
    v.field("registerSchedulable", register_schedulable);
    v.field("registerWithTaints", register_with_taints);
    v.field("maxContainerCount", max_container_count);
    v.field("maxPerPodContainerCount", max_per_pod_container_count);
    v.field("minimumGCAge", minimum_gc_age);
    v.field("nonMasqueradeCIDR", non_masquerade_cidr);
    v.field("runtimeCgroups", runtime_cgroups);
    v.field("seccompProfileRoot", seccomp_profile_root);
    v.field("keepTerminatedPodVolumes", keep_terminated_pod_volumes);
    v.field("imageCredentialProviderConfigFile", image_credential_provider_config_file);
    v.field("imageCredentialProviderBinDir", image_credential_provider_bin_dir);
    v.field("reportEvent", report_event);
    v.field("containerRuntime", container_runtime);
    v.field("remoteRuntimeEndpoint", remote_runtime_endpoint);
    v.field("remoteImageEndpoint", remote_image_endpoint);
}

template <class V>
void EdgeHubConfig::visit(V& v) {
    v.field("enable", enable);
    v.field("heartbeat", heartbeat, config::range(Seconds(1), Seconds(3600)));
    v.field("messageQPS", message_qps, config::at_least(1));
    v.field("messageBurst", message_burst, config::at_least(1));
    v.field("projectID", project_id);
    v.field("tlsCaFile", tls_ca_file, config::non_empty());
    v.field("tlsCertFile", tls_cert_file, config::non_empty());
    v.field("tlsPrivateKeyFile", tls_private_key_file, config::non_empty());
    v.field("quic", quic);
    v.field("websocket", websocket);
    v.field("token", token);
    v.field("httpServer", http_server);
    v.field("rotateCertificates", rotate_certificates);
}

}  // namespace kedge::edge
