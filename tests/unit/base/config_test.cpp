#include "base/config.hpp"
#include "base/config_yaml.hpp"

#include "support/test_support.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace kedge {
namespace {

using namespace std::chrono_literals;
using testing::HasSubstr;

// A trimmed edgecore.yaml model with upstream key names, the shape real kedge configs take.
enum class CgroupDriver { kCgroupfs, kSystemd };
constexpr auto config_enum_names(CgroupDriver) {
    using N = config::EnumName<CgroupDriver>;
    return std::array{N{CgroupDriver::kCgroupfs, "cgroupfs"}, N{CgroupDriver::kSystemd, "systemd"}};
}

struct WebSocketConfig {
    bool enable = true;
    std::string server = "127.0.0.1:10000";
    Seconds handshake_timeout{30};
    Seconds read_deadline{15};
    Seconds write_deadline{15};
    template <class V>
    void visit(V& v) {
        v.field("enable", enable);
        v.field("server", server);
        v.field("handshakeTimeout", handshake_timeout, config::range(Seconds(1), Seconds(600)));
        v.field("readDeadline", read_deadline);
        v.field("writeDeadline", write_deadline);
    }
    std::optional<std::string> validate() const {
        if (enable && server.empty()) return "server must be set when the websocket is enabled";
        return std::nullopt;
    }
    bool operator==(const WebSocketConfig&) const = default;
};

struct EdgeHubConfig {
    bool enable = true;
    Seconds heartbeat{15};
    std::string http_server = "https://127.0.0.1:10002";
    int message_burst = 60;
    int message_qps = 30;
    std::string project_id = "e632aba927ea4ac2b575ec1603d56f10";
    bool rotate_certificates = true;
    std::string tls_ca_file = "/etc/kubeedge/ca/rootCA.crt";
    std::string tls_cert_file = "/etc/kubeedge/certs/server.crt";
    std::string tls_private_key_file = "/etc/kubeedge/certs/server.key";
    std::string token;
    WebSocketConfig websocket;
    template <class V>
    void visit(V& v) {
        v.field("enable", enable);
        v.field("heartbeat", heartbeat, config::range(Seconds(1), Seconds(3600)));
        v.field("httpServer", http_server);
        v.field("messageBurst", message_burst, config::at_least(1));
        v.field("messageQPS", message_qps, config::at_least(1));
        v.field("projectID", project_id);
        v.field("rotateCertificates", rotate_certificates);
        v.field("tlsCaFile", tls_ca_file);
        v.field("tlsCertFile", tls_cert_file);
        v.field("tlsPrivateKeyFile", tls_private_key_file);
        v.field("token", token);
        v.field("websocket", websocket);
    }
    bool operator==(const EdgeHubConfig&) const = default;
};

struct TailoredKubeletConfig {
    CgroupDriver cgroup_driver = CgroupDriver::kCgroupfs;
    std::string container_runtime_endpoint = "unix:///run/containerd/containerd.sock";
    int max_pods = 110;
    Duration node_status_update_frequency{10s};
    int read_only_port = 10350;
    std::string static_pod_path = "/etc/kubeedge/manifests";
    template <class V>
    void visit(V& v) {
        v.field("cgroupDriver", cgroup_driver);
        v.field("containerRuntimeEndpoint", container_runtime_endpoint,
                config::check([](const std::string& s) { return s.starts_with("unix://"); },
                              "must be a unix:// socket address"));
        v.field("maxPods", max_pods, config::range(1, 10000));
        v.field("nodeStatusUpdateFrequency", node_status_update_frequency,
                config::range(Duration(1s), Duration(1h)));
        v.field("readOnlyPort", read_only_port, config::range(0, 65535));
        v.field("staticPodPath", static_pod_path);
    }
    bool operator==(const TailoredKubeletConfig&) const = default;
};

struct EdgedConfig {
    bool enable = true;
    std::string hostname_override = "edge-node";
    std::string node_ip;
    std::map<std::string, std::string> node_labels;
    std::string pod_sandbox_image = "kubeedge/pause:3.6";
    std::string register_node_namespace = "default";
    std::string root_directory = "/var/lib/kubelet";
    TailoredKubeletConfig tailored_kubelet_config;
    template <class V>
    void visit(V& v) {
        v.field("enable", enable);
        v.field("hostnameOverride", hostname_override, config::non_empty());
        v.field("nodeIP", node_ip);
        v.field("nodeLabels", node_labels);
        v.field("podSandboxImage", pod_sandbox_image);
        v.field("registerNodeNamespace", register_node_namespace);
        v.field("rootDirectory", root_directory);
        v.field("tailoredKubeletConfig", tailored_kubelet_config);
    }
    bool operator==(const EdgedConfig&) const = default;
};

struct EventBusConfig {
    bool enable = true;
    int mqtt_mode = 2;
    int mqtt_qos = 0;
    bool mqtt_retain = false;
    std::string mqtt_server_external = "tcp://127.0.0.1:1883";
    std::string mqtt_server_internal = "tcp://127.0.0.1:1884";
    std::optional<std::string> mqtt_username;
    template <class V>
    void visit(V& v) {
        v.field("enable", enable);
        v.field("mqttMode", mqtt_mode, config::one_of({0, 1, 2}));
        v.field("mqttQOS", mqtt_qos, config::range(0, 2));
        v.field("mqttRetain", mqtt_retain);
        v.field("mqttServerExternal", mqtt_server_external);
        v.field("mqttServerInternal", mqtt_server_internal);
        v.field("mqttUsername", mqtt_username, config::non_empty());
    }
    bool operator==(const EventBusConfig&) const = default;
};

struct MetaServerConfig {
    bool enable = false;
    std::string server = "127.0.0.1:10550";
    template <class V>
    void visit(V& v) {
        v.field("enable", enable);
        v.field("server", server);
    }
    bool operator==(const MetaServerConfig&) const = default;
};

struct MetaManagerConfig {
    bool enable = true;
    MetaServerConfig meta_server;
    Seconds remote_query_timeout{60};
    template <class V>
    void visit(V& v) {
        v.field("enable", enable);
        v.field("metaServer", meta_server);
        v.field("remoteQueryTimeout", remote_query_timeout);
    }
    bool operator==(const MetaManagerConfig&) const = default;
};

struct Modules {
    EdgeHubConfig edge_hub;
    EdgedConfig edged;
    EventBusConfig event_bus;
    MetaManagerConfig meta_manager;
    template <class V>
    void visit(V& v) {
        v.field("edgeHub", edge_hub);
        v.field("edged", edged);
        v.field("eventBus", event_bus);
        v.field("metaManager", meta_manager);
    }
    bool operator==(const Modules&) const = default;
};

struct DatabaseConfig {
    std::string alias_name = "default";
    std::string data_source = "/var/lib/kubeedge/edgecore.db";
    std::string driver_name = "sqlite3";
    template <class V>
    void visit(V& v) {
        v.field("aliasName", alias_name);
        v.field("dataSource", data_source);
        v.field("driverName", driver_name, config::one_of({"sqlite3"}));
    }
    bool operator==(const DatabaseConfig&) const = default;
};

struct EdgeCoreConfig {
    std::string api_version = "edgecore.config.kubeedge.io/v1alpha2";
    std::string kind = "EdgeCore";
    DatabaseConfig database;
    Modules modules;
    std::map<std::string, bool> feature_gates;
    template <class V>
    void visit(V& v) {
        v.field("apiVersion", api_version);
        v.field("kind", kind, config::one_of({"EdgeCore"}));
        v.field("database", database);
        v.field("modules", modules);
        v.field("featureGates", feature_gates);
    }
    bool operator==(const EdgeCoreConfig&) const = default;
};

// Every supported field type, for the round trip and the list/map/optional rules.
struct Endpoint {
    std::string name;
    std::uint16_t port = 1;
    double weight = 1.0;
    template <class V>
    void visit(V& v) {
        v.field("name", name, config::non_empty());
        v.field("port", port, config::range(1, 65535));
        v.field("weight", weight);
    }
    bool operator==(const Endpoint&) const = default;
};

struct AllTypes {
    bool flag = false;
    int i = -1;
    std::int64_t big = 0;
    std::uint32_t small = 7;
    std::uint64_t huge = 0;
    double ratio = 0.5;
    std::string text = "hello";
    Duration interval{5s};
    Seconds timeout{30};
    CgroupDriver driver = CgroupDriver::kCgroupfs;
    std::vector<std::string> dns_names{"localhost"};
    std::vector<int> ports;
    std::vector<Endpoint> endpoints;
    std::map<std::string, std::string> labels{{"a", "1"}};
    std::map<std::string, Endpoint> named;
    std::optional<int> limit;
    std::optional<Endpoint> extra;
    std::optional<std::string> preset = "kept";
    template <class V>
    void visit(V& v) {
        v.field("flag", flag);
        v.field("i", i);
        v.field("big", big);
        v.field("small", small);
        v.field("huge", huge);
        v.field("ratio", ratio);
        v.field("text", text);
        v.field("interval", interval);
        v.field("timeout", timeout);
        v.field("driver", driver);
        v.field("dnsNames", dns_names);
        v.field("ports", ports);
        v.field("endpoints", endpoints);
        v.field("labels", labels);
        v.field("named", named);
        v.field("limit", limit, config::range(1, 100));
        v.field("extra", extra);
        v.field("preset", preset);
    }
    bool operator==(const AllTypes&) const = default;
};

// Loads text expecting a ConfigError and returns it.
template <class T>
ConfigError load_error(const std::string& text, const std::string& source = "edgecore.yaml") {
    try {
        load_yaml_string<T>(text, source);
    } catch (const ConfigError& e) {
        return e;
    }
    ADD_FAILURE() << "no ConfigError for:\n" << text;
    return ConfigError("", "", 0, 0, "");
}

template <class T>
ConfigError set_error(T& value, const std::string& assignment) {
    try {
        apply_set(value, assignment);
    } catch (const ConfigError& e) {
        return e;
    }
    ADD_FAILURE() << "no ConfigError for --set " << assignment;
    return ConfigError("", "", 0, 0, "");
}

TEST(Config, EmptyDocumentGivesDefaults) {
    EXPECT_EQ(load_yaml_string<EdgeCoreConfig>(""), EdgeCoreConfig{});
    EXPECT_EQ(load_yaml_string<EdgeCoreConfig>("# nothing here\n"), EdgeCoreConfig{});
    EXPECT_EQ(load_yaml_string<EdgeCoreConfig>("modules:\n"), EdgeCoreConfig{});
    EXPECT_EQ(load_yaml_string<AllTypes>("---\n"), AllTypes{});
}

TEST(Config, NestedOverrideKeepsOtherDefaults) {
    auto cfg = load_yaml_string<EdgeCoreConfig>(
        "modules:\n"
        "  edgeHub:\n"
        "    heartbeat: 20\n"
        "    websocket:\n"
        "      handshakeTimeout: 45\n");
    EdgeCoreConfig expected;
    expected.modules.edge_hub.heartbeat = Seconds(20);
    expected.modules.edge_hub.websocket.handshake_timeout = Seconds(45);
    EXPECT_EQ(cfg, expected);
    EXPECT_EQ(cfg.modules.edge_hub.websocket.server, "127.0.0.1:10000");
}

TEST(Config, NullFollowsGoJsonRules) {
    // Scalars and structs keep their default on null; an absent key keeps every default.
    auto cfg = load_yaml_string<AllTypes>("text:\nsmall: ~\nlimit: 5\nextra: {name: e}\n");
    EXPECT_EQ(cfg.text, "hello");
    EXPECT_EQ(cfg.small, 7u);
    EXPECT_EQ(cfg.limit, 5);
    EXPECT_EQ(cfg.preset, "kept");
    EXPECT_EQ(cfg.dns_names, std::vector<std::string>{"localhost"});
    // Null empties optionals, lists and maps.
    cfg = load_yaml_string<AllTypes>("limit: null\npreset: ~\ndnsNames:\nlabels: ~\n");
    EXPECT_FALSE(cfg.limit);
    EXPECT_FALSE(cfg.preset);
    EXPECT_TRUE(cfg.dns_names.empty());
    EXPECT_TRUE(cfg.labels.empty());
}

TEST(Config, ValidateConfigLeavesTheValueAlone) {
    AllTypes cfg;
    cfg.limit = 5;
    cfg.extra = Endpoint{"x", 2, 1};
    const AllTypes before = cfg;
    validate_config(cfg);
    EXPECT_EQ(cfg, before);
    cfg.extra->name.clear();
    try {
        validate_config(cfg, "check");
        FAIL() << "expected a ConfigError";
    } catch (const ConfigError& e) {
        EXPECT_STREQ(e.what(), "check: extra.name: must not be empty");
    }
}

TEST(Config, UnknownKeyNamesFullPathAndPosition) {
    auto e = load_error<EdgeCoreConfig>(
        "modules:\n"
        "  edgeHub:\n"
        "    heartbeat: 20\n"
        "    foo: 1\n");
    EXPECT_EQ(e.path(), "modules.edgeHub.foo");
    EXPECT_EQ(e.line(), 4);
    EXPECT_EQ(e.column(), 5);
    EXPECT_STREQ(e.what(), "edgecore.yaml:4:5: unknown key 'foo' in modules.edgeHub");
}

TEST(Config, UnknownKeySuggestsTheNearMiss) {
    auto e = load_error<EdgeCoreConfig>("apiversion: v1\n");
    EXPECT_THAT(e.what(), HasSubstr("unknown key 'apiversion' at the top level"));
    EXPECT_THAT(e.what(), HasSubstr("did you mean 'apiVersion'?"));
    e = load_error<EdgeCoreConfig>(
        "modules:\n  edgeHub:\n    websocket:\n      hanshakeTimeout: 3\n");
    EXPECT_THAT(e.what(),
                HasSubstr("in modules.edgeHub.websocket (did you mean 'handshakeTimeout'?)"));
}

TEST(Config, WrongTypeNamesExpectedType) {
    auto e = load_error<EdgeCoreConfig>("modules:\n  edgeHub:\n    messageQPS: abc\n");
    EXPECT_STREQ(e.what(),
                 "edgecore.yaml:3:17: modules.edgeHub.messageQPS: expected an integer, got 'abc'");
    EXPECT_EQ(e.line(), 3);

    e = load_error<EdgeCoreConfig>(
        "modules:\n  edgeHub:\n    websocket:\n      handshakeTimeout: x\n");
    EXPECT_EQ(e.path(), "modules.edgeHub.websocket.handshakeTimeout");
    EXPECT_THAT(e.problem(), HasSubstr("expected a number of seconds"));

    e = load_error<EdgeCoreConfig>("modules:\n  edgeHub:\n    enable: maybe\n");
    EXPECT_THAT(
        e.what(),
        HasSubstr("modules.edgeHub.enable: expected a boolean (true or false), got 'maybe'"));

    e = load_error<EdgeCoreConfig>("modules:\n  edgeHub:\n    websocket: 5\n");
    EXPECT_THAT(e.what(), HasSubstr("modules.edgeHub.websocket: expected a mapping, got '5'"));

    e = load_error<EdgeCoreConfig>("modules:\n  edgeHub:\n    token: [a, b]\n");
    EXPECT_THAT(e.what(), HasSubstr("modules.edgeHub.token: expected a string, got a list"));

    e = load_error<EdgeCoreConfig>("- a\n- b\n");
    EXPECT_THAT(e.what(), HasSubstr("expected a mapping at the top level, got a list"));

    e = load_error<AllTypes>("ratio: fast\n");
    EXPECT_THAT(e.what(), HasSubstr("ratio: expected a number, got 'fast'"));

    e = load_error<AllTypes>("interval: 10\n");
    EXPECT_THAT(e.what(), HasSubstr("interval: expected a duration like '10s' or '1m30s'"));
    EXPECT_THAT(e.what(), HasSubstr("missing unit"));

    e = load_error<AllTypes>("driver: docker\n");
    EXPECT_THAT(e.what(), HasSubstr("driver: expected one of 'cgroupfs', 'systemd', got 'docker'"));

    e = load_error<AllTypes>("dnsNames: localhost\n");
    EXPECT_THAT(e.what(), HasSubstr("dnsNames: expected a list, got 'localhost'"));

    e = load_error<AllTypes>("i: 1.5\n");
    EXPECT_THAT(e.what(), HasSubstr("i: expected an integer, got '1.5'"));
}

TEST(Config, IntegerRangesFollowTheFieldType) {
    EXPECT_THAT(load_error<AllTypes>("small: -1\n").what(),
                HasSubstr("small: must not be negative"));
    EXPECT_THAT(load_error<AllTypes>("small: 4294967296\n").what(),
                HasSubstr("small: value 4294967296 is out of range (0..4294967295)"));
    EXPECT_THAT(load_error<AllTypes>("i: 2147483648\n").what(), HasSubstr("out of range"));
    EXPECT_THAT(load_error<AllTypes>("huge: 18446744073709551616\n").what(),
                HasSubstr("out of range"));
    auto cfg = load_yaml_string<AllTypes>(
        "i: -2147483648\nbig: -9223372036854775808\nhuge: 18446744073709551615\nsmall: 0x10\n");
    EXPECT_EQ(cfg.i, INT32_MIN);
    EXPECT_EQ(cfg.big, INT64_MIN);
    EXPECT_EQ(cfg.huge, UINT64_MAX);
    EXPECT_EQ(cfg.small, 16u);
}

TEST(Config, ValidatorsReportValueAndPath) {
    auto e = load_error<EdgeCoreConfig>(
        "modules:\n  edged:\n    tailoredKubeletConfig:\n      maxPods: 0\n");
    EXPECT_STREQ(e.what(),
                 "edgecore.yaml:4:16: modules.edged.tailoredKubeletConfig.maxPods: must be "
                 "between 1 and 10000, got 0");

    e = load_error<EdgeCoreConfig>("modules:\n  eventBus:\n    mqttMode: 3\n");
    EXPECT_THAT(e.what(), HasSubstr("modules.eventBus.mqttMode: must be one of 0, 1, 2, got 3"));

    e = load_error<EdgeCoreConfig>("modules:\n  edged:\n    hostnameOverride: ''\n");
    EXPECT_THAT(e.what(), HasSubstr("modules.edged.hostnameOverride: must not be empty"));

    e = load_error<EdgeCoreConfig>(
        "modules:\n  edged:\n    tailoredKubeletConfig:\n      containerRuntimeEndpoint: "
        "/run/x.sock\n");
    EXPECT_THAT(e.what(), HasSubstr("containerRuntimeEndpoint: must be a unix:// socket address"));

    e = load_error<EdgeCoreConfig>(
        "modules:\n  edged:\n    tailoredKubeletConfig:\n      nodeStatusUpdateFrequency: 2h\n");
    EXPECT_THAT(e.what(), HasSubstr("must be between 1s and 1h0m0s, got 2h0m0s"));

    // A validator on an optional checks the value when there is one.
    EXPECT_THAT(load_error<AllTypes>("limit: 500\n").what(),
                HasSubstr("limit: must be between 1 and 100, got 500"));
    e = load_error<EdgeCoreConfig>("modules:\n  eventBus:\n    mqttUsername: ''\n");
    EXPECT_THAT(e.what(), HasSubstr("mqttUsername: must not be empty"));

    // Cross-field check of a struct, reported at the struct.
    e = load_error<EdgeCoreConfig>("modules:\n  edgeHub:\n    websocket:\n      server: ''\n");
    EXPECT_EQ(e.path(), "modules.edgeHub.websocket");
    EXPECT_THAT(e.what(), HasSubstr("server must be set when the websocket is enabled"));
}

TEST(Config, InvalidYamlSyntaxNamesFileAndLine) {
    auto e = load_error<EdgeCoreConfig>("modules:\n  edgeHub: [1, 2\n  edged: {}\n");
    EXPECT_THAT(e.what(), testing::StartsWith("edgecore.yaml:"));
    EXPECT_THAT(e.what(), HasSubstr("invalid YAML"));
    EXPECT_GT(e.line(), 0);

    e = load_error<EdgeCoreConfig>("modules:\n\tedgeHub: {}\n");
    EXPECT_THAT(e.what(), HasSubstr("invalid YAML"));
}

TEST(Config, DuplicateKeyIsAnError) {
    auto e = load_error<EdgeCoreConfig>("kind: EdgeCore\nkind: EdgeCore\n");
    EXPECT_THAT(e.what(), HasSubstr("edgecore.yaml:2:1: duplicate key 'kind' at the top level"));
}

TEST(Config, VectorOfStructsAndScalars) {
    auto cfg = load_yaml_string<AllTypes>(
        "dnsNames: [a.example, b.example]\n"
        "ports: [1, 2, 3]\n"
        "endpoints:\n"
        "  - name: one\n"
        "    port: 80\n"
        "  - name: two\n"
        "    port: 443\n"
        "    weight: 2.5\n");
    EXPECT_EQ(cfg.dns_names, (std::vector<std::string>{"a.example", "b.example"}));
    EXPECT_EQ(cfg.ports, (std::vector<int>{1, 2, 3}));
    ASSERT_EQ(cfg.endpoints.size(), 2u);
    EXPECT_EQ(cfg.endpoints[0], (Endpoint{"one", 80, 1.0}));
    EXPECT_EQ(cfg.endpoints[1], (Endpoint{"two", 443, 2.5}));

    // A list replaces the default list; an empty list empties it.
    EXPECT_TRUE(load_yaml_string<AllTypes>("dnsNames: []\n").dns_names.empty());

    auto e = load_error<AllTypes>("endpoints:\n  - name: one\n  - name: two\n    port: 0\n");
    EXPECT_STREQ(e.what(),
                 "edgecore.yaml:4:11: endpoints[1].port: must be between 1 and 65535, got 0");
    e = load_error<AllTypes>("endpoints:\n  - name: one\n    prot: 1\n");
    EXPECT_THAT(e.what(), HasSubstr("unknown key 'prot' in endpoints[0] (did you mean 'port'?)"));
    // Element validators also run on elements that only have defaults.
    e = load_error<AllTypes>("endpoints:\n  - port: 5\n");
    EXPECT_THAT(e.what(), HasSubstr("endpoints[0].name: must not be empty"));
}

TEST(Config, MapsOfStringsAndStructs) {
    auto cfg = load_yaml_string<AllTypes>(
        "labels:\n"
        "  node-role.kubernetes.io/edge: ''\n"
        "  zone: lab\n"
        "named:\n"
        "  web: {name: w, port: 8080}\n");
    EXPECT_EQ(cfg.labels, (std::map<std::string, std::string>{{"node-role.kubernetes.io/edge", ""},
                                                              {"zone", "lab"}}));
    ASSERT_EQ(cfg.named.count("web"), 1u);
    EXPECT_EQ(cfg.named["web"].port, 8080);
    EXPECT_THAT(load_error<AllTypes>("labels: [a]\n").what(),
                HasSubstr("labels: expected a mapping, got a list"));
    EXPECT_THAT(load_error<AllTypes>("named:\n  web: {port: 1}\n").what(),
                HasSubstr("named.web.name: must not be empty"));
    EXPECT_THAT(load_error<AllTypes>("labels: {a: 1, a: 2}\n").what(),
                HasSubstr("duplicate key 'a' in labels"));
}

TEST(Config, RoundTripOfEveryType) {
    AllTypes v;
    v.flag = true;
    v.i = -42;
    v.big = INT64_MIN;
    v.small = 4'000'000'000u;
    v.huge = UINT64_MAX;
    v.ratio = 0.1;
    v.text = "123";  // must come back as a string, so it has to be quoted
    v.interval = Duration(1h + 30min + 1500ms);
    v.timeout = Seconds(0);
    v.driver = CgroupDriver::kSystemd;
    v.dns_names = {"yes", "", "a: b", "#x"};
    v.ports = {};
    v.endpoints = {{"one", 80, 0.25}, {"two", 65535, 1e300}};
    v.labels = {{"node-role.kubernetes.io/edge", ""}, {"true", "null"}};
    v.named = {{"w", {"w", 1, 1}}};
    v.limit = 7;
    v.extra = Endpoint{"x", 9, 3};
    std::string yaml = to_yaml(v);
    EXPECT_EQ(load_yaml_string<AllTypes>(yaml, "roundtrip"), v) << yaml;
    EXPECT_THAT(yaml, HasSubstr("text: \"123\""));
    EXPECT_THAT(yaml, HasSubstr("interval: 1h30m1.5s"));

    AllTypes defaults;
    EXPECT_EQ(load_yaml_string<AllTypes>(to_yaml(defaults)), defaults) << to_yaml(defaults);
}

TEST(Config, DefaultConfigListsEveryKeyAndLoadsBack) {
    EdgeCoreConfig defaults;
    std::string yaml = to_yaml(defaults);
    for (const char* key :
         {"apiVersion: edgecore.config.kubeedge.io/v1alpha2", "kind: EdgeCore",
          "driverName: sqlite3", "heartbeat: 15", "handshakeTimeout: 30",
          "nodeStatusUpdateFrequency: 10s", "cgroupDriver: cgroupfs", "nodeLabels: {}",
          "mqttUsername: ~", "featureGates: {}", "remoteQueryTimeout: 60", "token: \"\""}) {
        EXPECT_THAT(yaml, HasSubstr(key)) << yaml;
    }
    EXPECT_EQ(load_yaml_string<EdgeCoreConfig>(yaml), defaults) << yaml;
}

TEST(Config, SetOverridesWithTheSameErrors) {
    EdgeCoreConfig cfg;
    apply_set(cfg, "modules.edgeHub.heartbeat=20");
    apply_set(cfg, "modules.edgeHub.websocket.server=10.0.0.1:10000");
    apply_set(cfg, "modules.edged.tailoredKubeletConfig.cgroupDriver=systemd");
    apply_set(cfg, "modules.edged.nodeLabels.node-role.kubernetes.io/edge=");
    apply_set(cfg, "modules.edgeHub.token=abc=def: x");  // scalars are taken verbatim
    apply_set(cfg, "featureGates.requireAuthorization=true");
    apply_set(cfg, "modules.eventBus.mqttUsername=user");
    EXPECT_EQ(cfg.modules.edge_hub.heartbeat, Seconds(20));
    EXPECT_EQ(cfg.modules.edge_hub.websocket.server, "10.0.0.1:10000");
    EXPECT_EQ(cfg.modules.edged.tailored_kubelet_config.cgroup_driver, CgroupDriver::kSystemd);
    EXPECT_EQ(cfg.modules.edged.node_labels.at("node-role.kubernetes.io/edge"), "");
    EXPECT_EQ(cfg.modules.edge_hub.token, "abc=def: x");
    EXPECT_EQ(cfg.feature_gates.at("requireAuthorization"), true);
    EXPECT_EQ(cfg.modules.event_bus.mqtt_username, "user");
    apply_set(cfg, "modules.eventBus.mqttUsername=null");
    EXPECT_FALSE(cfg.modules.event_bus.mqtt_username);

    AllTypes all;
    apply_set(all, "dnsNames=[a, b]");
    apply_set(all, "endpoints=[{name: x, port: 5}]");
    apply_set(all, "named.web.port=8080");
    apply_set(all, "interval=1m");
    EXPECT_EQ(all.dns_names, (std::vector<std::string>{"a", "b"}));
    EXPECT_EQ(all.endpoints, (std::vector<Endpoint>{{"x", 5, 1.0}}));
    EXPECT_EQ(all.named["web"].port, 8080);
    EXPECT_EQ(all.interval, Duration(1min));

    auto e = set_error(cfg, "modules.edgeHub.heartbeat=abc");
    EXPECT_STREQ(e.what(),
                 "--set modules.edgeHub.heartbeat=abc: modules.edgeHub.heartbeat: expected a "
                 "number of seconds or a duration like '30s', got 'abc'");
    e = set_error(cfg, "modules.edgeHub.foo=1");
    EXPECT_THAT(e.what(), HasSubstr("unknown key 'foo' in modules.edgeHub"));
    EXPECT_EQ(e.path(), "modules.edgeHub.foo");
    e = set_error(cfg, "modules.edgehub.heartbeat=1");
    EXPECT_THAT(e.what(), HasSubstr("unknown key 'edgehub' in modules (did you mean 'edgeHub'?)"));
    e = set_error(cfg, "nope=1");
    EXPECT_THAT(e.what(), HasSubstr("unknown key 'nope' at the top level"));
    e = set_error(cfg, "modules.edged.tailoredKubeletConfig.maxPods=0");
    EXPECT_THAT(e.what(), HasSubstr("maxPods: must be between 1 and 10000, got 0"));
    e = set_error(cfg, "modules.edgeHub.heartbeat.x=1");
    EXPECT_THAT(e.what(), HasSubstr("modules.edgeHub.heartbeat: has no field 'x'"));
    e = set_error(cfg, "modules.edgeHub.heartbeat");
    EXPECT_THAT(e.what(), HasSubstr("expected key=value"));
    e = set_error(cfg, "modules..heartbeat=1");
    EXPECT_THAT(e.what(), HasSubstr("empty component"));
    e = set_error(all, "dnsNames=[a, b");
    EXPECT_THAT(e.what(), HasSubstr("dnsNames: invalid YAML value"));
    // A failed set reports and leaves the earlier value for the caller to discard.
    EXPECT_EQ(cfg.modules.edge_hub.heartbeat, Seconds(20));
}

TEST(Config, ValidateConfigRunsCrossFieldChecksAfterSets) {
    EdgeCoreConfig cfg;
    apply_set(cfg, "modules.edgeHub.websocket.server=");  // fine on its own
    try {
        validate_config(cfg, "--set");
        FAIL() << "expected a ConfigError";
    } catch (const ConfigError& e) {
        EXPECT_STREQ(e.what(),
                     "--set: modules.edgeHub.websocket: server must be set when the websocket is "
                     "enabled");
    }
    apply_set(cfg, "modules.edgeHub.websocket.enable=false");
    EXPECT_NO_THROW(validate_config(cfg));
}

TEST(Config, LoadsAnUpstreamStyleEdgecoreYaml) {
    std::string path = test::source_path("tests/unit/base/data/edgecore.yaml");
    auto cfg = load_yaml_file<EdgeCoreConfig>(path);
    EXPECT_EQ(cfg.api_version, "edgecore.config.kubeedge.io/v1alpha2");
    const auto& hub = cfg.modules.edge_hub;
    EXPECT_EQ(hub.heartbeat, Seconds(15));
    EXPECT_EQ(hub.http_server, "https://192.168.56.10:10002");
    EXPECT_EQ(hub.message_qps, 30);
    EXPECT_EQ(hub.token, "0123abcd.eyJhbGciOiJIUzI1NiJ9");
    EXPECT_EQ(hub.websocket.server, "192.168.56.10:10000");
    EXPECT_EQ(hub.websocket.handshake_timeout.value(), 30s);
    const auto& edged = cfg.modules.edged;
    EXPECT_EQ(edged.hostname_override, "edge-node-1");
    EXPECT_EQ(edged.node_labels.at("topology.kubernetes.io/zone"), "lab");
    EXPECT_EQ(edged.tailored_kubelet_config.cgroup_driver, CgroupDriver::kSystemd);
    EXPECT_EQ(edged.tailored_kubelet_config.node_status_update_frequency.value(), 10s);
    EXPECT_FALSE(cfg.modules.event_bus.mqtt_username);
    EXPECT_TRUE(cfg.modules.meta_manager.meta_server.enable);
    EXPECT_TRUE(cfg.feature_gates.at("requireAuthorization"));

    // The printed form loads back to the same config.
    EXPECT_EQ(load_yaml_string<EdgeCoreConfig>(to_yaml(cfg)), cfg);
}

TEST(Config, FileErrorsNameTheFile) {
    test::TempDir dir;
    try {
        load_yaml_file<EdgeCoreConfig>(dir.file("missing.yaml"));
        FAIL() << "expected a ConfigError";
    } catch (const ConfigError& e) {
        EXPECT_THAT(e.what(), HasSubstr(dir.file("missing.yaml") + ": cannot open"));
    }
    test::write_file(dir.file("bad.yaml"), "modules:\n  edgeHub:\n    heartbeat: soon\n");
    try {
        load_yaml_file<EdgeCoreConfig>(dir.file("bad.yaml"));
        FAIL() << "expected a ConfigError";
    } catch (const ConfigError& e) {
        EXPECT_THAT(e.what(), HasSubstr(dir.file("bad.yaml") + ":3:16: modules.edgeHub.heartbeat"));
    }
}

}  // namespace
}  // namespace kedge
