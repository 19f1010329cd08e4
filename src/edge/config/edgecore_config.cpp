#include "edge/config/edgecore_config.hpp"

#include <charconv>

#include "base/config_yaml.hpp"

namespace kedge::edge {
namespace {

// What --minconfig writes: the fields a user usually sets, nothing else.
struct MinKubelet {
    std::string container_runtime_endpoint;
    std::string cgroup_driver;
    template <class V>
    void visit(V& v) {
        v.field("containerRuntimeEndpoint", container_runtime_endpoint);
        v.field("cgroupDriver", cgroup_driver);
    }
};

struct MinEdged {
    std::string hostname_override;
    std::string node_ip;
    StringMap node_labels;
    MinKubelet tailored_kubelet_config;
    template <class V>
    void visit(V& v) {
        v.field("hostnameOverride", hostname_override);
        v.field("nodeIP", node_ip);
        v.field("nodeLabels", node_labels);
        v.field("tailoredKubeletConfig", tailored_kubelet_config);
    }
};

struct MinWebsocket {
    std::string server;
    template <class V>
    void visit(V& v) {
        v.field("server", server);
    }
};

struct MinEdgeHub {
    std::string http_server;
    std::string token;
    MinWebsocket websocket;
    template <class V>
    void visit(V& v) {
        v.field("httpServer", http_server);
        v.field("token", token);
        v.field("websocket", websocket);
    }
};

struct MinEdgeStream {
    bool enable = false;
    std::string server;
    template <class V>
    void visit(V& v) {
        v.field("enable", enable);
        v.field("server", server);
    }
};

struct MinModules {
    MinEdged edged;
    MinEdgeHub edge_hub;
    MinEdgeStream edge_stream;
    template <class V>
    void visit(V& v) {
        v.field("edged", edged);
        v.field("edgeHub", edge_hub);
        v.field("edgeStream", edge_stream);
    }
};

struct MinDatabase {
    std::string data_source;
    template <class V>
    void visit(V& v) {
        v.field("dataSource", data_source);
    }
};

struct MinConfig {
    std::string api_version;
    std::string kind;
    MinDatabase database;
    MinModules modules;
    template <class V>
    void visit(V& v) {
        v.field("apiVersion", api_version);
        v.field("kind", kind);
        v.field("database", database);
        v.field("modules", modules);
    }
};

bool starts_with(const std::string& s, std::string_view prefix) {
    return s.compare(0, prefix.size(), prefix) == 0;
}

}  // namespace

bool is_host_port(const std::string& s) {
    std::string_view host;
    std::string_view port;
    const std::string_view sv = s;
    if (!sv.empty() && sv.front() == '[') {
        const auto close = sv.find(']');
        if (close == std::string_view::npos || close + 1 >= sv.size() || sv[close + 1] != ':') {
            return false;
        }
        host = sv.substr(1, close - 1);
        port = sv.substr(close + 2);
    } else {
        const auto colon = sv.rfind(':');
        if (colon == std::string_view::npos) return false;
        host = sv.substr(0, colon);
        port = sv.substr(colon + 1);
        // An unbracketed IPv6 address is ambiguous.
        if (host.find(':') != std::string_view::npos) return false;
    }
    if (host.empty() || port.empty()) return false;
    unsigned value = 0;
    const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    return ec == std::errc() && end == port.data() + port.size() && value >= 1 && value <= 65535;
}

std::optional<std::string> TailoredKubeletConfig::validate() const {
    if (image_gc_low_threshold_percent > image_gc_high_threshold_percent) {
        return "imageGCLowThresholdPercent must not be above imageGCHighThresholdPercent";
    }
    if (!starts_with(container_runtime_endpoint, "unix://") &&
        !starts_with(container_runtime_endpoint, "tcp://") &&
        !starts_with(container_runtime_endpoint, "npipe://")) {
        return "containerRuntimeEndpoint: '" + container_runtime_endpoint +
               "' must be a unix://, tcp:// or npipe:// URL";
    }
    return std::nullopt;
}

std::optional<std::string> EdgeHubTransportConfig::validate() const {
    if (enable && !is_host_port(server)) {
        return "server: '" + server + "' must be host:port of cloudcore, e.g. 192.168.1.10:10000";
    }
    return std::nullopt;
}

std::optional<std::string> EdgeHubConfig::validate() const {
    if (!enable) return std::nullopt;
    if (!websocket.enable) {
        return quic.enable ? "quic is not supported by kedge; enable websocket instead"
                           : "websocket must be enabled (it is the only transport kedge has)";
    }
    if (!starts_with(http_server, "https://") || http_server.size() <= 8) {
        return "httpServer: '" + http_server +
               "' must be the https:// URL of cloudcore's join server, e.g. "
               "https://192.168.1.10:10002";
    }
    if (message_burst < message_qps) return "messageBurst must not be below messageQPS";
    return std::nullopt;
}

std::optional<std::string> EdgeStreamConfig::validate() const {
    if (enable && !is_host_port(server)) {
        return "server: '" + server +
               "' must be host:port of cloudcore's tunnel, e.g. "
               "192.168.1.10:10004";
    }
    return std::nullopt;
}

std::string min_config_yaml(const EdgeCoreConfig& cfg) {
    const EdgedConfig& edged = cfg.modules.edged;
    const EdgeHubConfig& hub = cfg.modules.edge_hub;
    MinConfig min;
    min.api_version = cfg.api_version;
    min.kind = cfg.kind;
    min.database.data_source = cfg.database.data_source;
    min.modules.edged = {edged.hostname_override,
                         edged.node_ip,
                         edged.node_labels,
                         {edged.tailored_kubelet_config.container_runtime_endpoint,
                          edged.tailored_kubelet_config.cgroup_driver}};
    min.modules.edge_hub = {hub.http_server, hub.token, {hub.websocket.server}};
    min.modules.edge_stream = {cfg.modules.edge_stream.enable, cfg.modules.edge_stream.server};
    return to_yaml(min);
}

}  // namespace kedge::edge
