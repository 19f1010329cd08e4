#include "cloud/config/cloudcore_config.hpp"

#include <arpa/inet.h>

#include "base/config_yaml.hpp"

namespace kedge::cloud {
namespace {

bool valid_dns_name(const std::string& s) {
    if (s.empty() || s.size() > 253) return false;
    for (char c : s) {
        const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                        (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '*';
        if (!ok) return false;
    }
    return true;
}

// What --minconfig writes: the fields a user usually sets, nothing else.
struct MinListener {
    std::string address;
    std::uint16_t port = 0;
    template <class V>
    void visit(V& v) {
        v.field("address", address);
        v.field("port", port);
    }
};

struct MinCloudHub {
    std::vector<std::string> advertise_address;
    std::vector<std::string> dns_names;
    std::int32_t node_limit = 0;
    MinListener websocket;
    MinListener https;
    template <class V>
    void visit(V& v) {
        v.field("advertiseAddress", advertise_address);
        v.field("dnsNames", dns_names);
        v.field("nodeLimit", node_limit);
        v.field("websocket", websocket);
        v.field("https", https);
    }
};

struct MinModules {
    MinCloudHub cloud_hub;
    template <class V>
    void visit(V& v) {
        v.field("cloudHub", cloud_hub);
    }
};

struct MinKubeApi {
    std::string master;
    std::string kube_config;
    template <class V>
    void visit(V& v) {
        v.field("master", master);
        v.field("kubeConfig", kube_config);
    }
};

struct MinConfig {
    std::string api_version;
    std::string kind;
    MinKubeApi kube_api_config;
    MinModules modules;
    template <class V>
    void visit(V& v) {
        v.field("apiVersion", api_version);
        v.field("kind", kind);
        v.field("kubeAPIConfig", kube_api_config);
        v.field("modules", modules);
    }
};

}  // namespace

bool is_ip_address(const std::string& s) {
    unsigned char buf[16];
    return inet_pton(AF_INET, s.c_str(), buf) == 1 || inet_pton(AF_INET6, s.c_str(), buf) == 1;
}

std::optional<std::string> CloudHubConfig::validate() const {
    for (const auto& a : advertise_address) {
        if (!is_ip_address(a))
            return "advertiseAddress: '" + a + "' is not an IP address (put names in dnsNames)";
    }
    // Upstream's default is [""]: empty entries mean nothing.
    for (const auto& d : dns_names) {
        if (!d.empty() && !valid_dns_name(d)) return "dnsNames: '" + d + "' is not a DNS name";
    }
    if (websocket.enable && https.enable && websocket.port == https.port &&
        websocket.address == https.address) {
        return "websocket and https cannot listen on the same address and port";
    }
    return std::nullopt;
}

EdgeControllerConfig::EdgeControllerConfig()
    : buffer{{"updatePodStatus", 1024},
             {"updateNodeStatus", 1024},
             {"queryConfigMap", 1024},
             {"querySecret", 1024},
             {"podEvent", 1},
             {"configMapEvent", 1},
             {"secretEvent", 1},
             {"rulesEvent", 1},
             {"ruleEndpointsEvent", 1},
             {"queryPersistentVolume", 1024},
             {"queryPersistentVolumeClaim", 1024},
             {"queryVolumeAttachment", 1024},
             {"createNode", 1024},
             {"patchNode", 1024},
             {"queryNode", 1024},
             {"updateNode", 1024},
             {"patchPod", 1024},
             {"deletePod", 1024},
             {"createLease", 1024},
             {"queryLease", 1024},
             {"serviceAccountToken", 1024},
             {"createPod", 1024},
             {"certificateSigningRequest", 1024}},
      load{{"updatePodStatusWorkers", 1},
           {"updateNodeStatusWorkers", 1},
           {"queryConfigMapWorkers", 100},
           {"querySecretWorkers", 100},
           {"queryPersistentVolumeWorkers", 4},
           {"queryPersistentVolumeClaimWorkers", 4},
           {"queryVolumeAttachmentWorkers", 4},
           {"createNodeWorkers", 100},
           {"patchNodeWorkers", 100},
           {"queryNodeWorkers", 100},
           {"updateNodeWorkers", 4},
           {"patchPodWorkers", 100},
           {"deletePodWorkers", 100},
           {"createLeaseWorkers", 100},
           {"queryLeaseWorkers", 100},
           {"updateRuleStatusWorkers", 4},
           {"serviceAccountTokenWorkers", 100},
           {"createPodWorkers", 4},
           {"certificateSigningRequestWorkers", 4}} {}

CloudModulesConfig::CloudModulesConfig() {
    device_controller.enable = true;
    device_controller.buffer = {{"updateDeviceTwins", 1024},
                                {"updateDeviceStates", 1024},
                                {"deviceEvent", 1},
                                {"deviceModelEvent", 1}};
    device_controller.load = {{"updateDeviceStatusWorkers", 1}};
    task_manager.enable = false;
    task_manager.buffer = {{"taskStatus", 1024}, {"taskEvent", 1024}};
    task_manager.load = {{"taskWorkers", 1}};
}

std::string min_config_yaml(const CloudCoreConfig& cfg) {
    const CloudHubConfig& hub = cfg.modules.cloud_hub;
    MinConfig min;
    min.api_version = cfg.api_version;
    min.kind = cfg.kind;
    min.kube_api_config = {cfg.kube_api_config.master, cfg.kube_api_config.kube_config};
    min.modules.cloud_hub = {hub.advertise_address,
                             hub.dns_names,
                             hub.node_limit,
                             {hub.websocket.address, hub.websocket.port},
                             {hub.https.address, hub.https.port}};
    return to_yaml(min);
}

}  // namespace kedge::cloud
