// edgecore.yaml: upstream key names and defaults, round trips, an upstream-style file, and the
// errors a user sees for typos and wrong types.
#include "edge/config/edgecore_config.hpp"

#include <gtest/gtest.h>

#include "base/config_yaml.hpp"
#include "support/test_support.hpp"

namespace kedge::edge {
namespace {

using namespace std::chrono_literals;

// In the shape upstream edgecore v1.15 writes with --defaultconfig (host-specific values
// replaced by examples).
constexpr const char* kUpstreamConfig = R"(apiVersion: edgecore.config.kubeedge.io/v1alpha2
database:
  aliasName: default
  dataSource: /var/lib/kubeedge/edgecore.db
  driverName: sqlite3
kind: EdgeCore
modules:
  dbTest:
    enable: false
  deviceTwin:
    dmiSockPath: /etc/kubeedge/dmi.sock
    enable: true
  edgeHub:
    enable: true
    heartbeat: 15
    httpServer: https://192.168.1.10:10002
    messageBurst: 60
    messageQPS: 30
    projectID: e632aba927ea4ac2b575ec1603d56f10
    quic:
      enable: false
      handshakeTimeout: 30
      readDeadline: 15
      server: 192.168.1.10:10001
      writeDeadline: 15
    rotateCertificates: true
    tlsCaFile: /etc/kubeedge/ca/rootCA.crt
    tlsCertFile: /etc/kubeedge/certs/server.crt
    tlsPrivateKeyFile: /etc/kubeedge/certs/server.key
    token: ""
    websocket:
      enable: true
      handshakeTimeout: 30
      readDeadline: 15
      server: 192.168.1.10:10000
      writeDeadline: 15
  edgeStream:
    enable: false
    handshakeTimeout: 30
    readDeadline: 15
    server: 192.168.1.10:10004
    tlsTunnelCAFile: /etc/kubeedge/ca/rootCA.crt
    tlsTunnelCertFile: /etc/kubeedge/certs/server.crt
    tlsTunnelPrivateKeyFile: /etc/kubeedge/certs/server.key
    writeDeadline: 15
  edged:
    enable: true
    hostnameOverride: edge-node-1
    maxContainerCount: -1
    maxPerPodContainerCount: 1
    minimumGCAge: 0s
    nodeIP: 192.168.1.20
    podSandboxImage: kubeedge/pause:3.6
    registerNodeNamespace: default
    registerSchedulable: true
    rootDirectory: /var/lib/kubelet
    tailoredKubeletConfig:
      address: 127.0.0.1
      cgroupDriver: cgroupfs
      cgroupsPerQOS: true
      clusterDomain: cluster.local
      configMapAndSecretChangeDetectionStrategy: Get
      containerLogMaxFiles: 5
      containerLogMaxSize: 10Mi
      containerRuntimeEndpoint: unix:///run/containerd/containerd.sock
      contentType: application/json
      cpuCFSQuota: true
      cpuCFSQuotaPeriod: 100ms
      cpuManagerPolicy: none
      cpuManagerReconcilePeriod: 10s
      enableControllerAttachDetach: true
      enableDebugFlagsHandler: true
      enableDebuggingHandlers: true
      enableProfilingHandler: true
      enableServer: false
      enableSystemLogHandler: true
      enforceNodeAllocatable:
      - pods
      eventBurst: 10
      eventRecordQPS: 5
      evictionHard:
        imagefs.available: 15%
        memory.available: 100Mi
        nodefs.available: 10%
        nodefs.inodesFree: 5%
      evictionPressureTransitionPeriod: 5m0s
      failSwapOn: false
      fileCheckFrequency: 20s
      hairpinMode: promiscuous-bridge
      healthzBindAddress: 127.0.0.1
      healthzPort: 10248
      httpCheckFrequency: 20s
      imageGCHighThresholdPercent: 80
      imageGCLowThresholdPercent: 40
      imageMinimumGCAge: 2m0s
      imageServiceEndpoint: unix:///run/containerd/containerd.sock
      iptablesDropBit: 15
      iptablesMasqueradeBit: 14
      kubeAPIBurst: 10
      kubeAPIQPS: 5
      localStorageCapacityIsolation: true
      logging:
        flushFrequency: 5000000000
        format: text
        options:
          json:
            infoBufferSize: "0"
        verbosity: 0
      makeIPTablesUtilChains: true
      maxOpenFiles: 1000000
      maxPods: 110
      memoryManagerPolicy: None
      memorySwap: {}
      memoryThrottlingFactor: 0.9
      nodeLeaseDurationSeconds: 40
      nodeStatusMaxImages: 0
      nodeStatusReportFrequency: 5m0s
      nodeStatusUpdateFrequency: 10s
      oomScoreAdj: -999
      podPidsLimit: -1
      port: 10250
      readOnlyPort: 10350
      registerNode: true
      registryBurst: 10
      registryPullQPS: 5
      resolvConf: /etc/resolv.conf
      rotateCertificates: false
      runtimeRequestTimeout: 2m0s
      seccompDefault: false
      serializeImagePulls: true
      shutdownGracePeriod: 0s
      shutdownGracePeriodCriticalPods: 0s
      staticPodPath: /etc/kubeedge/manifests
      streamingConnectionIdleTimeout: 4h0m0s
      syncFrequency: 1m0s
      topologyManagerPolicy: none
      topologyManagerScope: container
      volumePluginDir: /usr/libexec/kubernetes/kubelet-plugins/volume/exec/
      volumeStatsAggPeriod: 1m0s
  eventBus:
    enable: true
    eventBusTLS:
      enable: false
      tlsMqttCAFile: /etc/kubeedge/ca/rootCA.crt
      tlsMqttCertFile: /etc/kubeedge/certs/server.crt
      tlsMqttPrivateKeyFile: /etc/kubeedge/certs/server.key
    mqttMode: 2
    mqttPassword: ""
    mqttPubClientID: ""
    mqttQOS: 0
    mqttRetain: false
    mqttServerExternal: tcp://127.0.0.1:1883
    mqttServerInternal: tcp://127.0.0.1:1884
    mqttSessionQueueSize: 100
    mqttSubClientID: ""
    mqttUsername: ""
  metaManager:
    contextSendGroup: hub
    contextSendModule: websocket
    enable: true
    metaServer:
      apiAudiences: null
      dummyServer: false
      enable: false
      server: 127.0.0.1:10550
      serviceAccountIssuers:
      - https://kubernetes.default.svc.cluster.local
      serviceAccountKeyFiles: null
      tlsCaFile: /etc/kubeedge/ca/rootCA.crt
      tlsCertFile: /etc/kubeedge/certs/server.crt
      tlsPrivateKeyFile: /etc/kubeedge/certs/server.key
    remoteQueryTimeout: 60
  serviceBus:
    enable: false
    port: 9060
    server: 127.0.0.1
    timeout: 60
  taskManager:
    enable: false
)";

std::string error_of(const std::string& yaml) {
    try {
        load_yaml_string<EdgeCoreConfig>(yaml, "edgecore.yaml");
    } catch (const ConfigError& e) {
        return e.what();
    }
    return "(no error)";
}

TEST(EdgeCoreConfigTest, DefaultsAreUpstreams) {
    EdgeCoreConfig c;
    EXPECT_EQ(c.api_version, "edgecore.config.kubeedge.io/v1alpha2");
    EXPECT_EQ(c.kind, "EdgeCore");
    EXPECT_EQ(c.database.driver_name, "sqlite3");
    EXPECT_EQ(c.database.alias_name, "default");
    EXPECT_EQ(c.database.data_source, "/var/lib/kubeedge/edgecore.db");
    const auto& edged = c.modules.edged;
    EXPECT_TRUE(edged.enable);
    EXPECT_EQ(edged.root_directory, "/var/lib/kubelet");
    EXPECT_EQ(edged.register_node_namespace, "default");
    EXPECT_TRUE(edged.node_labels.empty());
    const auto& k = edged.tailored_kubelet_config;
    EXPECT_EQ(k.read_only_port, 10350);
    EXPECT_EQ(k.static_pod_path, "/etc/kubeedge/manifests");
    EXPECT_EQ(k.node_status_update_frequency, Duration(10s));
    EXPECT_EQ(k.container_runtime_endpoint, "unix:///run/containerd/containerd.sock");
    EXPECT_EQ(k.cgroup_driver, "cgroupfs");
    EXPECT_EQ(k.max_pods, 110);
    const auto& hub = c.modules.edge_hub;
    EXPECT_TRUE(hub.enable);
    EXPECT_EQ(hub.heartbeat, Seconds(15));
    EXPECT_EQ(hub.message_qps, 30);
    EXPECT_EQ(hub.message_burst, 60);
    EXPECT_EQ(hub.project_id, "e632aba927ea4ac2b575ec1603d56f10");
    EXPECT_EQ(hub.tls_ca_file, "/etc/kubeedge/ca/rootCA.crt");
    EXPECT_EQ(hub.tls_cert_file, "/etc/kubeedge/certs/server.crt");
    EXPECT_EQ(hub.tls_private_key_file, "/etc/kubeedge/certs/server.key");
    EXPECT_TRUE(hub.rotate_certificates);
    EXPECT_TRUE(hub.websocket.enable);
    EXPECT_EQ(hub.websocket.handshake_timeout, Seconds(30));
    EXPECT_EQ(hub.websocket.read_deadline, Seconds(15));
    EXPECT_EQ(hub.websocket.write_deadline, Seconds(15));
    EXPECT_FALSE(hub.quic.enable);
    const auto& bus = c.modules.event_bus;
    EXPECT_EQ(bus.mqtt_mode, kMqttModeExternal);
    EXPECT_EQ(bus.mqtt_server_internal, "tcp://127.0.0.1:1884");
    EXPECT_EQ(bus.mqtt_server_external, "tcp://127.0.0.1:1883");
    EXPECT_EQ(bus.mqtt_qos, 0);
    EXPECT_FALSE(bus.event_bus_tls.enable);
    const auto& meta = c.modules.meta_manager;
    EXPECT_EQ(meta.remote_query_timeout, Seconds(60));
    EXPECT_EQ(meta.context_send_group, "hub");
    EXPECT_EQ(meta.context_send_module, "websocket");
    EXPECT_EQ(meta.meta_server.server, "127.0.0.1:10550");
    EXPECT_TRUE(meta.meta_server.enable) << "kedge serves the local API by default";
    EXPECT_FALSE(c.modules.service_bus.enable);
    EXPECT_EQ(c.modules.device_twin.dmi_sock_path, "/etc/kubeedge/dmi.sock");
    EXPECT_FALSE(c.modules.edge_stream.enable);
    EXPECT_EQ(c.modules.edge_stream.handshake_timeout, Seconds(30));
    EXPECT_FALSE(c.modules.task_manager.enable);
    EXPECT_FALSE(c.modules.db_test.enable);
    EXPECT_FALSE(c.kedge.allow_kubelet_running);
    EXPECT_TRUE(c.kedge.inventory_resync);
    EXPECT_NO_THROW(validate_config(c));
}

TEST(EdgeCoreConfigTest, DefaultConfigRoundTrips) {
    EdgeCoreConfig c;
    const std::string text = to_yaml(c);
    for (const char* key : {"apiVersion: edgecore.config.kubeedge.io/v1alpha2",
                            "kind: EdgeCore",
                            "database:",
                            "driverName: sqlite3",
                            "edged:",
                            "tailoredKubeletConfig:",
                            "readOnlyPort: 10350",
                            "edgeHub:",
                            "heartbeat: 15",
                            "projectID: e632aba927ea4ac2b575ec1603d56f10",
                            "eventBus:",
                            "mqttMode: 2",
                            "metaManager:",
                            "metaServer:",
                            "serviceBus:",
                            "deviceTwin:",
                            "dbTest:",
                            "edgeStream:",
                            "taskManager:",
                            "featureGates:",
                            "allowKubeletRunning: false",
                            "inventoryResync: true"}) {
        EXPECT_NE(text.find(key), std::string::npos) << key << "\n" << text;
    }
    EXPECT_EQ(load_yaml_string<EdgeCoreConfig>(text), c);

    // Changed values survive too.
    c.modules.edged.node_labels = {{"zone", "a"}, {"topology.kubernetes.io/region", "eu"}};
    c.modules.edged.tailored_kubelet_config.cluster_dns = {"169.254.96.16"};
    c.modules.edged.tailored_kubelet_config.register_with_taints = {{"edge", "true", "NoSchedule"}};
    c.modules.edge_hub.token = "abc.def";
    c.modules.edge_hub.heartbeat = Seconds(20);
    c.modules.event_bus.mqtt_password = "yes";  // a YAML boolean word stays a string
    c.feature_gates["requireAuthorization"] = true;
    c.kedge.reconnect.initial_backoff = 250ms;
    EXPECT_EQ(load_yaml_string<EdgeCoreConfig>(to_yaml(c)), c);
}

TEST(EdgeCoreConfigTest, UpstreamFileLoads) {
    auto c = load_yaml_string<EdgeCoreConfig>(kUpstreamConfig, "edgecore.yaml");
    EXPECT_EQ(c.modules.edge_hub.websocket.server, "192.168.1.10:10000");
    EXPECT_EQ(c.modules.edge_hub.http_server, "https://192.168.1.10:10002");
    EXPECT_EQ(c.modules.edged.hostname_override, "edge-node-1");
    EXPECT_EQ(c.modules.edged.node_ip, "192.168.1.20");
    EXPECT_FALSE(c.modules.meta_manager.meta_server.enable) << "the file says so";
    EXPECT_TRUE(c.modules.meta_manager.meta_server.api_audiences.empty());
    EXPECT_EQ(c.modules.meta_manager.meta_server.service_account_issuers.size(), 1u);
    const auto& k = c.modules.edged.tailored_kubelet_config;
    EXPECT_EQ(k.logging.flush_frequency, "5000000000");
    EXPECT_EQ(k.logging.options.at("json").at("infoBufferSize"), "0");
    EXPECT_EQ(k.eviction_hard.at("memory.available"), "100Mi");
    EXPECT_EQ(k.streaming_connection_idle_timeout, Duration(4h));
    EXPECT_EQ(k.image_service_endpoint, "unix:///run/containerd/containerd.sock");
    EXPECT_EQ(c.modules.edge_stream.server, "192.168.1.10:10004");
    // Absent kedge settings keep their defaults.
    EXPECT_EQ(c.kedge, KedgeEdgeConfig{});
}

TEST(EdgeCoreConfigTest, OlderUpstreamKeysStillLoad) {
    auto c = load_yaml_string<EdgeCoreConfig>(
        "modules:\n"
        "  edged:\n"
        "    containerRuntime: remote\n"
        "    remoteRuntimeEndpoint: unix:///var/run/containerd/containerd.sock\n");
    ASSERT_TRUE(c.modules.edged.container_runtime);
    EXPECT_EQ(*c.modules.edged.container_runtime, "remote");
}

TEST(EdgeCoreConfigTest, MinConfigHasOnlyWhatUsersSetAndLoadsBack) {
    EdgeCoreConfig c;
    c.modules.edged.hostname_override = "edge-7";
    c.modules.edged.node_ip = "10.0.0.7";
    c.modules.edged.node_labels = {{"zone", "a"}};
    c.modules.edged.tailored_kubelet_config.cgroup_driver = "systemd";
    c.modules.edge_hub.http_server = "https://10.0.0.1:10002";
    c.modules.edge_hub.websocket.server = "10.0.0.1:10000";
    c.modules.edge_hub.token = "0123abcd.eyJhbGciOi";
    c.modules.edge_stream.enable = true;
    c.modules.edge_stream.server = "10.0.0.1:10004";
    const std::string text = min_config_yaml(c);
    for (const char* want :
         {"hostnameOverride: edge-7", "nodeIP: 10.0.0.7", "zone: a", "cgroupDriver: systemd",
          "containerRuntimeEndpoint: unix:///run/containerd/containerd.sock",
          "httpServer: https://10.0.0.1:10002", "server: 10.0.0.1:10000",
          "token: 0123abcd.eyJhbGciOi", "dataSource: /var/lib/kubeedge/edgecore.db"}) {
        EXPECT_NE(text.find(want), std::string::npos) << want << "\n" << text;
    }
    EXPECT_EQ(text.find("eventBus"), std::string::npos) << text;
    EXPECT_EQ(text.find("tlsCaFile"), std::string::npos) << text;
    EXPECT_LT(text.size(), to_yaml(c).size() / 4);
    EXPECT_EQ(load_yaml_string<EdgeCoreConfig>(text), c);
}

TEST(EdgeCoreConfigTest, UnknownKeyNamesFileLineColumnAndPath) {
    auto e = error_of(
        "apiVersion: edgecore.config.kubeedge.io/v1alpha2\n"
        "kind: EdgeCore\n"
        "modules:\n"
        "  edgeHub:\n"
        "    heartBeat: 15\n");
    EXPECT_NE(e.find("edgecore.yaml:5:5"), std::string::npos) << e;
    EXPECT_NE(e.find("heartBeat"), std::string::npos) << e;
    EXPECT_NE(e.find("modules.edgeHub"), std::string::npos) << e;
    EXPECT_NE(e.find("'heartbeat'"), std::string::npos) << e << " (a did-you-mean hint)";

    e = error_of("modules:\n  edged:\n    tailoredKubeletConfig:\n      maxPod: 10\n");
    EXPECT_NE(e.find("edgecore.yaml:4:7"), std::string::npos) << e;
    EXPECT_NE(e.find("modules.edged.tailoredKubeletConfig"), std::string::npos) << e;
}

TEST(EdgeCoreConfigTest, WrongTypesAndValuesAreErrorsNamingTheKey) {
    auto e = error_of("modules:\n  edgeHub:\n    websocket:\n      handshakeTimeout: soon\n");
    EXPECT_NE(e.find("edgecore.yaml:4:25"), std::string::npos) << e;
    EXPECT_NE(e.find("modules.edgeHub.websocket.handshakeTimeout"), std::string::npos) << e;
    e = error_of("modules:\n  edgeHub:\n    heartbeat: 0\n");
    EXPECT_NE(e.find("modules.edgeHub.heartbeat"), std::string::npos) << e;
    e = error_of("modules:\n  edged:\n    nodeLabels: [a, b]\n");
    EXPECT_NE(e.find("modules.edged.nodeLabels"), std::string::npos) << e;
    e = error_of("modules:\n  edged:\n    tailoredKubeletConfig:\n      cgroupDriver: cgroups\n");
    EXPECT_NE(e.find("modules.edged.tailoredKubeletConfig.cgroupDriver"), std::string::npos) << e;
    e = error_of(
        "modules:\n  edged:\n    tailoredKubeletConfig:\n      nodeStatusUpdateFrequency: 10\n");
    EXPECT_NE(e.find("nodeStatusUpdateFrequency"), std::string::npos) << e;
    e = error_of("modules:\n  eventBus:\n    mqttMode: 3\n");
    EXPECT_NE(e.find("modules.eventBus.mqttMode"), std::string::npos) << e;
    e = error_of("modules:\n  edgeHub:\n    websocket:\n      server: cloud-without-port\n");
    EXPECT_NE(e.find("host:port"), std::string::npos) << e;
    e = error_of("modules:\n  edgeHub:\n    httpServer: http://10.0.0.1:10002\n");
    EXPECT_NE(e.find("httpServer"), std::string::npos) << e;
    e = error_of("modules:\n  edgeHub:\n    websocket:\n      enable: false\n");
    EXPECT_NE(e.find("websocket must be enabled"), std::string::npos) << e;
    e = error_of("modules:\n  metaManager:\n    metaServer:\n      server: localhost\n");
    EXPECT_NE(e.find("modules.metaManager.metaServer.server"), std::string::npos) << e;
    e = error_of("database:\n  driverName: mysql\n");
    EXPECT_NE(e.find("database.driverName"), std::string::npos) << e;
    e = error_of("kind: CloudCore\n");
    EXPECT_NE(e.find("kind"), std::string::npos) << e;
    e = error_of("kedge:\n  allowKubeletRunning: maybe\n");
    EXPECT_NE(e.find("kedge.allowKubeletRunning"), std::string::npos) << e;
    e = error_of("kedge:\n  reconnect:\n    initialBackoff: 1m\n    maxBackoff: 1s\n");
    EXPECT_NE(e.find("maxBackoff"), std::string::npos) << e;
}

TEST(EdgeCoreConfigTest, SetOverridesUseUpstreamPaths) {
    EdgeCoreConfig c;
    apply_set(c, "modules.edgeHub.heartbeat=20");
    apply_set(c, "modules.edged.nodeLabels.zone=a");
    apply_set(c, "modules.edged.nodeLabels.topology.kubernetes.io/region=eu-1");
    apply_set(c, "modules.edgeHub.websocket.server=10.1.1.1:10000");
    apply_set(c, "modules.edged.tailoredKubeletConfig.clusterDNS=[169.254.96.16]");
    apply_set(c, "featureGates.requireAuthorization=true");
    apply_set(c, "kedge.allowKubeletRunning=true");
    validate_config(c, "--set");
    EXPECT_EQ(c.modules.edge_hub.heartbeat, Seconds(20));
    EXPECT_EQ(c.modules.edged.node_labels.at("zone"), "a");
    EXPECT_EQ(c.modules.edged.node_labels.at("topology.kubernetes.io/region"), "eu-1");
    EXPECT_EQ(c.modules.edge_hub.websocket.server, "10.1.1.1:10000");
    EXPECT_EQ(c.modules.edged.tailored_kubelet_config.cluster_dns,
              std::vector<std::string>{"169.254.96.16"});
    EXPECT_TRUE(c.feature_gates.at("requireAuthorization"));
    EXPECT_TRUE(c.kedge.allow_kubelet_running);

    EdgeCoreConfig d;
    try {
        apply_set(d, "modules.edgeHub.heartBeat=20");
        FAIL() << "unknown --set path accepted";
    } catch (const ConfigError& e) {
        EXPECT_NE(std::string(e.what()).find("modules.edgeHub"), std::string::npos) << e.what();
    }
    EXPECT_THROW(apply_set(d, "modules.edgeHub.heartbeat=fast"), ConfigError);
}

TEST(EdgeCoreConfigTest, LoadsFromAFile) {
    test::TempDir dir;
    test::write_file(dir.file("edgecore.yaml"), kUpstreamConfig);
    auto c = load_yaml_file<EdgeCoreConfig>(dir.file("edgecore.yaml"));
    EXPECT_EQ(c.modules.edged.tailored_kubelet_config.max_pods, 110);
    EXPECT_THROW(load_yaml_file<EdgeCoreConfig>(dir.file("missing.yaml")), ConfigError);
}

TEST(EdgeCoreConfigTest, HostPortCheck) {
    EXPECT_TRUE(is_host_port("127.0.0.1:10550"));
    EXPECT_TRUE(is_host_port("cloud.example.org:10000"));
    EXPECT_TRUE(is_host_port("[fd00::1]:10000"));
    EXPECT_FALSE(is_host_port("fd00::1:10000"));
    EXPECT_FALSE(is_host_port("127.0.0.1"));
    EXPECT_FALSE(is_host_port(":10000"));
    EXPECT_FALSE(is_host_port("host:0"));
    EXPECT_FALSE(is_host_port("host:70000"));
    EXPECT_FALSE(is_host_port("host:1x"));
}

}  // namespace
}  // namespace kedge::edge
