// cloudcore.yaml: upstream key names and defaults, round trips, an upstream-style file, and the
// errors a user sees for typos and wrong types.
#include "cloud/config/cloudcore_config.hpp"

#include <gtest/gtest.h>

#include "base/config_yaml.hpp"
#include "support/test_support.hpp"

namespace kedge::cloud {
namespace {

using namespace std::chrono_literals;

// As upstream cloudcore v1.15 writes it with --defaultconfig (trimmed of nothing that matters).
constexpr const char* kUpstreamConfig = R"(apiVersion: cloudcore.config.kubeedge.io/v1alpha1
commonConfig:
  monitorServer:
    bindAddress: 127.0.0.1:9091
    enableProfiling: false
  tunnelPort: 10350
kind: CloudCore
kubeAPIConfig:
  burst: 200
  contentType: application/vnd.kubernetes.protobuf
  kubeConfig: /root/.kube/config
  master: ""
  qps: 100
modules:
  cloudHub:
    advertiseAddress:
    - 192.168.1.10
    authorization:
      debug: false
      enable: false
    dnsNames:
    - ""
    edgeCertSigningDuration: 365
    enable: true
    https:
      address: 0.0.0.0
      enable: true
      port: 10002
    keepaliveInterval: 30
    nodeLimit: 1000
    quic:
      address: 0.0.0.0
      enable: false
      maxIncomingStreams: 10000
      port: 10001
    tlsCAFile: /etc/kubeedge/ca/rootCA.crt
    tlsCAKeyFile: /etc/kubeedge/ca/rootCA.key
    tlsCertFile: /etc/kubeedge/certs/server.crt
    tlsPrivateKeyFile: /etc/kubeedge/certs/server.key
    tokenRefreshDuration: 12
    unixsocket:
      address: unix:///var/lib/kubeedge/kubeedge.sock
      enable: true
    websocket:
      address: 0.0.0.0
      enable: true
      port: 10000
    writeTimeout: 30
  cloudStream:
    enable: false
    streamPort: 10003
    tlsStreamCAFile: /etc/kubeedge/ca/streamCA.crt
    tlsStreamCertFile: /etc/kubeedge/certs/stream.crt
    tlsStreamPrivateKeyFile: /etc/kubeedge/certs/stream.key
    tlsTunnelCAFile: /etc/kubeedge/ca/rootCA.crt
    tlsTunnelCertFile: /etc/kubeedge/certs/server.crt
    tlsTunnelPrivateKeyFile: /etc/kubeedge/certs/server.key
    tunnelPort: 10004
  deviceController:
    buffer:
      deviceEvent: 1
      deviceModelEvent: 1
      updateDeviceStates: 1024
      updateDeviceTwins: 1024
    enable: true
    load:
      updateDeviceStatusWorkers: 1
  dynamicController:
    enable: false
  edgeController:
    buffer:
      configMapEvent: 1
      createLease: 1024
      createNode: 1024
      createPod: 1024
      deletePod: 1024
      patchNode: 1024
      patchPod: 1024
      podEvent: 1
      queryConfigMap: 1024
      queryLease: 1024
      queryNode: 1024
      querySecret: 1024
      secretEvent: 1
      serviceAccountToken: 1024
      updateNode: 1024
      updateNodeStatus: 1024
      updatePodStatus: 1024
    enable: true
    load:
      createNodeWorkers: 100
      deletePodWorkers: 100
      patchPodWorkers: 100
      queryConfigMapWorkers: 100
      updatePodStatusWorkers: 1
    nodeUpdateFrequency: 10
  iptablesManager:
    enable: true
    mode: internal
  nodeUpgradeJobController:
    buffer:
      nodeUpgradeJobEvent: 1
      updateNodeUpgradeJobStatus: 1024
    enable: false
    load:
      nodeUpgradeJobWorkers: 1
  router:
    address: 0.0.0.0
    enable: false
    port: 9443
    restTimeout: 60
  syncController:
    enable: true
  taskManager:
    buffer:
      taskEvent: 1024
      taskStatus: 1024
    enable: false
    load:
      taskWorkers: 1
)";

std::string error_of(const std::string& yaml) {
    try {
        load_yaml_string<CloudCoreConfig>(yaml, "cloudcore.yaml");
    } catch (const ConfigError& e) {
        return e.what();
    }
    return "(no error)";
}

TEST(CloudCoreConfigTest, DefaultsAreUpstreams) {
    CloudCoreConfig c;
    EXPECT_EQ(c.api_version, "cloudcore.config.kubeedge.io/v1alpha1");
    EXPECT_EQ(c.kind, "CloudCore");
    EXPECT_EQ(c.kube_api_config.content_type, "application/vnd.kubernetes.protobuf");
    EXPECT_EQ(c.kube_api_config.qps, 100);
    EXPECT_EQ(c.kube_api_config.burst, 200);
    EXPECT_EQ(c.common_config.monitor_server.bind_address, "127.0.0.1:9091");
    const auto& hub = c.modules.cloud_hub;
    EXPECT_TRUE(hub.enable);
    EXPECT_EQ(hub.websocket.port, 10000);
    EXPECT_EQ(hub.websocket.address, "0.0.0.0");
    EXPECT_EQ(hub.https.port, 10002);
    EXPECT_EQ(hub.quic.port, 10001);
    EXPECT_FALSE(hub.quic.enable);
    EXPECT_EQ(hub.node_limit, 1000);
    EXPECT_EQ(hub.keepalive_interval, Seconds(30));
    EXPECT_EQ(hub.token_refresh_duration, 12u);
    EXPECT_EQ(hub.edge_cert_signing_duration, 365u);
    EXPECT_EQ(hub.tls_ca_file, "/etc/kubeedge/ca/rootCA.crt");
    EXPECT_EQ(hub.tls_private_key_file, "/etc/kubeedge/certs/server.key");
    EXPECT_TRUE(hub.authorization.enable) << "kedge authorizes nodes by default";
    EXPECT_TRUE(c.modules.edge_controller.enable);
    EXPECT_EQ(c.modules.edge_controller.node_update_frequency, Seconds(10));
    EXPECT_EQ(c.modules.edge_controller.buffer.at("updatePodStatus"), 1024);
    EXPECT_TRUE(c.modules.device_controller.enable);
    EXPECT_TRUE(c.modules.sync_controller.enable);
    EXPECT_FALSE(c.modules.dynamic_controller.enable);
    EXPECT_EQ(c.modules.cloud_stream.stream_port, 10003);
    EXPECT_EQ(c.modules.cloud_stream.tunnel_port, 10004);
    EXPECT_EQ(c.modules.router.port, 9443);
    EXPECT_FALSE(c.modules.task_manager.enable);
    EXPECT_FALSE(c.kedge.allow_legacy_node_certificates);
    EXPECT_EQ(c.kedge.send_queue.capacity, 1024u);
    EXPECT_EQ(c.kedge.send_queue.resend_interval, Duration(5s));
    EXPECT_EQ(c.kedge.send_queue.max_writes, 5);
    // The defaults pass their own validation.
    EXPECT_NO_THROW(validate_config(c));
}

TEST(CloudCoreConfigTest, DefaultConfigRoundTrips) {
    CloudCoreConfig c;
    const std::string text = to_yaml(c);
    for (const char* key :
         {"apiVersion: cloudcore.config.kubeedge.io/v1alpha1", "kubeAPIConfig:", "cloudHub:",
          "tlsCAKeyFile:", "tokenRefreshDuration: 12", "edgeCertSigningDuration: 365",
          "websocket:", "https:", "authorization:", "edgeController:", "deviceController:",
          "syncController:", "dynamicController:", "cloudStream:", "router:", "taskManager:",
          "featureGates:", "allowLegacyNodeCertificates: false"}) {
        EXPECT_NE(text.find(key), std::string::npos) << key << "\n" << text;
    }
    EXPECT_EQ(load_yaml_string<CloudCoreConfig>(text), c);

    // A changed value survives too.
    c.modules.cloud_hub.advertise_address = {"10.0.0.5", "fd00::5"};
    c.modules.cloud_hub.dns_names = {"cloud.example.org"};
    c.feature_gates["requireAuthorization"] = true;
    c.kedge.pki_store.type = PkiStoreType::kFile;
    c.kedge.send_queue.resend_interval = 2500ms;
    EXPECT_EQ(load_yaml_string<CloudCoreConfig>(to_yaml(c)), c);
}

TEST(CloudCoreConfigTest, UpstreamFileLoads) {
    auto c = load_yaml_string<CloudCoreConfig>(kUpstreamConfig, "cloudcore.yaml");
    EXPECT_EQ(c.modules.cloud_hub.advertise_address, std::vector<std::string>{"192.168.1.10"});
    EXPECT_EQ(c.modules.cloud_hub.dns_names, std::vector<std::string>{""});
    EXPECT_FALSE(c.modules.cloud_hub.authorization.enable) << "the file says so";
    ASSERT_TRUE(c.modules.node_upgrade_job_controller);
    EXPECT_EQ(c.modules.node_upgrade_job_controller->load.at("nodeUpgradeJobWorkers"), 1);
    EXPECT_EQ(c.modules.edge_controller.buffer.at("createPod"), 1024);
    EXPECT_EQ(c.modules.iptables_manager.mode, IptablesMode::kInternal);
    // Absent kedge settings keep their defaults.
    EXPECT_EQ(c.kedge, KedgeCloudConfig{});
}

TEST(CloudCoreConfigTest, V1alpha2IsAcceptedToo) {
    auto c = load_yaml_string<CloudCoreConfig>(
        "apiVersion: cloudcore.config.kubeedge.io/v1alpha2\nkind: CloudCore\n");
    EXPECT_EQ(c.modules.cloud_hub.websocket.port, 10000);
}

TEST(CloudCoreConfigTest, MinConfigHasOnlyWhatUsersSetAndLoadsBack) {
    CloudCoreConfig c;
    c.modules.cloud_hub.advertise_address = {"10.0.0.5"};
    c.kube_api_config.kube_config = "/etc/kedge/admin.kubeconfig";
    const std::string text = min_config_yaml(c);
    EXPECT_NE(text.find("advertiseAddress"), std::string::npos) << text;
    EXPECT_NE(text.find("kubeConfig: /etc/kedge/admin.kubeconfig"), std::string::npos) << text;
    EXPECT_NE(text.find("port: 10002"), std::string::npos) << text;
    EXPECT_EQ(text.find("edgeController"), std::string::npos) << text;
    EXPECT_EQ(text.find("tlsCAFile"), std::string::npos) << text;
    EXPECT_LT(text.size(), to_yaml(c).size() / 4);
    EXPECT_EQ(load_yaml_string<CloudCoreConfig>(text), c);
}

TEST(CloudCoreConfigTest, UnknownKeyNamesFileLineAndColumn) {
    auto e = error_of(
        "apiVersion: cloudcore.config.kubeedge.io/v1alpha1\n"
        "kind: CloudCore\n"
        "modules:\n"
        "  cloudHub:\n"
        "    keepAliveInterval: 30\n");
    EXPECT_NE(e.find("cloudcore.yaml:5:5"), std::string::npos) << e;
    EXPECT_NE(e.find("keepAliveInterval"), std::string::npos) << e;
    EXPECT_NE(e.find("modules.cloudHub"), std::string::npos) << e;
    EXPECT_NE(e.find("keepaliveInterval"), std::string::npos) << e << " (a did-you-mean hint)";
}

TEST(CloudCoreConfigTest, WrongTypesAndValuesAreErrorsNamingTheKey) {
    auto e = error_of("modules:\n  cloudHub:\n    websocket:\n      port: ten\n");
    EXPECT_NE(e.find("cloudcore.yaml:4:13"), std::string::npos) << e;
    EXPECT_NE(e.find("modules.cloudHub.websocket.port"), std::string::npos) << e;
    e = error_of("modules:\n  cloudHub:\n    websocket:\n      port: 70000\n");
    EXPECT_NE(e.find("modules.cloudHub.websocket.port"), std::string::npos) << e;
    e = error_of("modules:\n  cloudHub:\n    nodeLimit: 0\n");
    EXPECT_NE(e.find("nodeLimit"), std::string::npos) << e;
    e = error_of("modules:\n  cloudHub:\n    advertiseAddress: 10.0.0.1\n");
    EXPECT_NE(e.find("advertiseAddress"), std::string::npos) << e;  // a list, not a string
    e = error_of("modules:\n  cloudHub:\n    advertiseAddress: [cloud.example.org]\n");
    EXPECT_NE(e.find("not an IP address"), std::string::npos) << e;
    e = error_of("kind: EdgeCore\n");
    EXPECT_NE(e.find("kind"), std::string::npos) << e;
    e = error_of("kubeAPIConfig:\n  contentType: text/plain\n");
    EXPECT_NE(e.find("kubeAPIConfig.contentType"), std::string::npos) << e;
    e = error_of("modules:\n  iptablesManager:\n    mode: sideways\n");
    EXPECT_NE(e.find("modules.iptablesManager.mode"), std::string::npos) << e;
    e = error_of("kedge:\n  sendQueue:\n    resendInterval: 5\n");
    EXPECT_NE(e.find("kedge.sendQueue.resendInterval"), std::string::npos) << e;
    e = error_of(
        "kedge:\n  sendQueue:\n    requeueBackoffInitial: 1m\n    requeueBackoffMax: 1s\n");
    EXPECT_NE(e.find("requeueBackoffMax"), std::string::npos) << e;
    e = error_of("modules:\n  edgeController:\n    buffer:\n      podEvent: many\n");
    EXPECT_NE(e.find("modules.edgeController.buffer.podEvent"), std::string::npos) << e;
    e = error_of("modules:\n  cloudHub:\n    https:\n      port: 10000\n");
    EXPECT_NE(e.find("same address and port"), std::string::npos) << e;
}

TEST(CloudCoreConfigTest, SetOverridesUseUpstreamPaths) {
    CloudCoreConfig c;
    apply_set(c, "modules.cloudHub.advertiseAddress=[10.1.1.1]");
    apply_set(c, "modules.cloudHub.https.port=20002");
    apply_set(c, "kedge.allowLegacyNodeCertificates=true");
    validate_config(c, "--set");
    EXPECT_EQ(c.modules.cloud_hub.advertise_address, std::vector<std::string>{"10.1.1.1"});
    EXPECT_EQ(c.modules.cloud_hub.https.port, 20002);
    EXPECT_TRUE(c.kedge.allow_legacy_node_certificates);
}

TEST(CloudCoreConfigTest, LoadsFromAFile) {
    test::TempDir dir;
    test::write_file(dir.file("cloudcore.yaml"), kUpstreamConfig);
    auto c = load_yaml_file<CloudCoreConfig>(dir.file("cloudcore.yaml"));
    EXPECT_EQ(c.modules.cloud_hub.node_limit, 1000);
    EXPECT_THROW(load_yaml_file<CloudCoreConfig>(dir.file("missing.yaml")), ConfigError);
}

}  // namespace
}  // namespace kedge::cloud
