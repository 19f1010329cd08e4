// Container environments resolved as the kubelet does (makeEnvironmentVariables).
#include <gtest/gtest.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <fstream>
#include <map>

#include "edge/edged/pod_inputs.hpp"

namespace kedge::edge {
namespace {

namespace json = boost::json;
using Env = std::vector<std::pair<std::string, std::string>>;

const NodeFacts kNode{"edge1", "192.0.2.10"};

class PodEnv : public ::testing::Test {
protected:
    std::map<std::string, json::object> objects_;  // "<type>/<ns>/<name>"
    json::object pod_ = json::parse(R"({
        "metadata": {"name": "web-1", "namespace": "shop", "uid": "uid-1",
                     "labels": {"app": "web"}, "annotations": {"team": "edge"}},
        "spec": {"nodeName": "edge1", "serviceAccountName": "runner", "containers": [
            {"name": "app", "resources": {"limits": {"cpu": "500m", "memory": "128Mi"},
                                          "requests": {"cpu": "250m", "memory": "64Mi"}}},
            {"name": "side"}]}
    })")
                            .as_object();

    void put(const std::string& type, const char* text) {
        auto o = json::parse(text).as_object();
        objects_[type + "/shop/" + std::string(o["metadata"].at("name").as_string())] = o;
    }

    Result<Env> env(const char* container, const std::string& pod_ip = "10.88.0.5") {
        ObjectLookup lookup = [this](const std::string& type, const std::string& ns,
                                     const std::string& name) -> std::optional<json::object> {
            auto it = objects_.find(type + "/" + ns + "/" + name);
            if (it == objects_.end()) return std::nullopt;
            return it->second;
        };
        return container_env(pod_, json::parse(container).as_object(), lookup, kNode, pod_ip);
    }

    // One variable of the pod's "app" container (its resources included).
    std::string one(const char* value_from) {
        json::object c = pod_["spec"].at("containers").at(0).as_object();
        c["env"] = json::array{json::object{{"name", "V"}, {"valueFrom", json::parse(value_from)}}};
        auto r = env(json::serialize(c).c_str());
        if (!r) return "error: " + r.error().detail;
        if (r->size() != 1) return "size " + std::to_string(r->size());
        return (*r)[0].second;
    }
};

TEST_F(PodEnv, LiteralsInOrderAndLaterEntriesWin) {
    auto r = env(R"({"name": "app", "env": [{"name": "A", "value": "1"}, {"name": "B", "value": ""},
        {"name": "C", "value": "3"}, {"name": "A", "value": "again"}]})");
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(*r, (Env{{"A", "again"}, {"B", ""}, {"C", "3"}}));
    auto none = env(R"({"name": "app"})");
    ASSERT_TRUE(none);
    EXPECT_TRUE(none->empty());
}

TEST_F(PodEnv, ConfigMapAndSecretKeyRefs) {
    put("configmap", R"({"metadata": {"name": "web"}, "data": {"mode": "prod"},
        "binaryData": {"blob": "AAE="}})");
    put("secret", R"({"metadata": {"name": "creds"}, "data": {"password": "czNjcjN0"}})");
    EXPECT_EQ(one(R"({"configMapKeyRef": {"name": "web", "key": "mode"}})"), "prod");
    EXPECT_EQ(one(R"({"secretKeyRef": {"name": "creds", "key": "password"}})"), "s3cr3t");

    EXPECT_EQ(one(R"({"configMapKeyRef": {"name": "web", "key": "nope"}})"),
              "error: couldn't find key \"nope\" in ConfigMap shop/web");
    // binaryData is not offered to the environment.
    EXPECT_EQ(one(R"({"configMapKeyRef": {"name": "web", "key": "blob"}})"),
              "error: couldn't find key \"blob\" in ConfigMap shop/web");
    EXPECT_EQ(one(R"({"secretKeyRef": {"name": "creds", "key": "user"}})"),
              "error: couldn't find key \"user\" in Secret shop/creds");
    EXPECT_EQ(one(R"({"configMapKeyRef": {"name": "absent", "key": "k"}})"),
              "error: configmap \"absent\" not found");
    EXPECT_EQ(one(R"({"secretKeyRef": {"name": "absent", "key": "k"}})"),
              "error: secret \"absent\" not found");

    auto missing = env(R"({"name": "app", "env": [{"name": "V", "valueFrom":
        {"configMapKeyRef": {"name": "absent", "key": "k"}}}]})");
    ASSERT_FALSE(missing);
    EXPECT_TRUE(missing.error().is(errc::not_found));

    // Optional: the variable is left out, for a missing object as for a missing key.
    auto optional = env(R"({"name": "app", "env": [
        {"name": "A", "valueFrom": {"configMapKeyRef": {"name": "absent", "key": "k", "optional": true}}},
        {"name": "B", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "user", "optional": true}}},
        {"name": "C", "value": "c"}]})");
    ASSERT_TRUE(optional) << optional.error().message();
    EXPECT_EQ(*optional, (Env{{"C", "c"}}));
}

TEST_F(PodEnv, FieldRefPaths) {
    auto field = [&](const std::string& path) {
        std::string v = R"({"fieldRef": {"fieldPath": ")" + path + R"("}})";
        return one(v.c_str());
    };
    EXPECT_EQ(field("metadata.name"), "web-1");
    EXPECT_EQ(field("metadata.namespace"), "shop");
    EXPECT_EQ(field("metadata.uid"), "uid-1");
    EXPECT_EQ(field("spec.nodeName"), "edge1");
    EXPECT_EQ(field("spec.serviceAccountName"), "runner");
    EXPECT_EQ(field("status.hostIP"), "192.0.2.10");
    EXPECT_EQ(field("status.hostIPs"), "192.0.2.10");
    EXPECT_EQ(field("status.podIP"), "10.88.0.5");
    EXPECT_EQ(field("status.podIPs"), "10.88.0.5");
    EXPECT_EQ(field("metadata.labels['app']"), "web");
    EXPECT_EQ(field("metadata.annotations['team']"), "edge");
    EXPECT_EQ(field("metadata.labels['absent']"), "");
    EXPECT_EQ(field("spec.bogus"), "error: env V: unsupported fieldPath: spec.bogus");
    EXPECT_EQ(field("metadata.name['x']"),
              "error: env V: fieldPath \"metadata.name\" does not support subscript");
}

TEST_F(PodEnv, HostNetworkPodIpIsTheHostIp) {
    pod_["spec"].as_object()["hostNetwork"] = true;
    auto r = env(R"({"name": "app", "env": [{"name": "IP", "valueFrom":
        {"fieldRef": {"fieldPath": "status.podIP"}}}]})",
                 "");
    ASSERT_TRUE(r);
    EXPECT_EQ((*r)[0].second, "192.0.2.10");
}

TEST_F(PodEnv, ResourceFieldRefWithDivisor) {
    // CPU rounds up to whole divisors: 500m / 1 -> 1.
    EXPECT_EQ(one(R"({"resourceFieldRef": {"resource": "limits.cpu"}})"), "1");
    EXPECT_EQ(one(R"({"resourceFieldRef": {"resource": "limits.cpu", "divisor": "1m"}})"), "500");
    EXPECT_EQ(one(R"({"resourceFieldRef": {"resource": "requests.cpu", "divisor": "100m"}})"), "3");
    EXPECT_EQ(one(R"({"resourceFieldRef": {"resource": "limits.memory", "divisor": "1Mi"}})"),
              "128");
    EXPECT_EQ(one(R"({"resourceFieldRef": {"resource": "requests.memory"}})"), "67108864");
    EXPECT_EQ(one(R"({"resourceFieldRef": {"resource": "requests.memory", "divisor": "1M"}})"),
              "68");
    EXPECT_EQ(one(R"({"resourceFieldRef": {"resource": "limits.memory", "divisor": "1Gi"}})"), "1");
    EXPECT_EQ(one(R"({"resourceFieldRef": {"resource": "limits.gpu"}})"),
              "error: unsupported container resource : limits.gpu");
    EXPECT_EQ(
        one(R"({"resourceFieldRef": {"resource": "limits.cpu", "divisor": "lots"}})").substr(0, 6),
        "error:");

    // Another container by name; unset limits default to the node's allocatable (its CPUs).
    EXPECT_EQ(one(R"({"resourceFieldRef": {"containerName": "side", "resource": "limits.cpu"}})"),
              std::to_string(::sysconf(_SC_NPROCESSORS_ONLN)));
    EXPECT_EQ(one(R"({"resourceFieldRef": {"containerName": "side", "resource": "requests.cpu"}})"),
              "0");
    std::ifstream meminfo("/proc/meminfo");
    std::string key;
    long long kib = 0;
    meminfo >> key >> kib;
    ASSERT_EQ(key, "MemTotal:");
    EXPECT_EQ(one(R"({"resourceFieldRef": {"containerName": "side", "resource": "limits.memory",
                                           "divisor": "1Ki"}})"),
              std::to_string(kib));
}

TEST_F(PodEnv, EnvFromWithPrefix) {
    put("configmap", R"({"metadata": {"name": "web"},
        "data": {"MODE": "prod", "1bad": "x", "ok.dotted": "y"}})");
    put("secret", R"({"metadata": {"name": "creds"}, "data": {"PASSWORD": "czNjcjN0"}})");
    auto r = env(R"({"name": "app", "envFrom": [
            {"prefix": "CFG_", "configMapRef": {"name": "web"}},
            {"configMapRef": {"name": "web"}},
            {"secretRef": {"name": "creds"}},
            {"secretRef": {"name": "absent", "optional": true}}],
        "env": [{"name": "MODE", "value": "dev"}]})");
    ASSERT_TRUE(r) << r.error().message();
    // "1bad" is not a valid name without a prefix and is skipped; env overrides envFrom.
    EXPECT_EQ(*r, (Env{{"CFG_1bad", "x"},
                       {"CFG_MODE", "prod"},
                       {"CFG_ok.dotted", "y"},
                       {"MODE", "dev"},
                       {"ok.dotted", "y"},
                       {"PASSWORD", "s3cr3t"}}));

    auto missing = env(R"({"name": "app", "envFrom": [{"secretRef": {"name": "absent"}}]})");
    ASSERT_FALSE(missing);
    EXPECT_EQ(missing.error().detail, "secret \"absent\" not found");
}

TEST_F(PodEnv, VariableExpansion) {
    put("configmap", R"j({"metadata": {"name": "web"}, "data": {"RAW": "$(A)"}})j");
    auto r = env(R"j({"name": "app", "envFrom": [{"configMapRef": {"name": "web"}}], "env": [
        {"name": "A", "value": "alpha"},
        {"name": "B", "value": "$(A)-$(UNDEF)-$(LATER)"},
        {"name": "C", "value": "$$(A) $$ $x $( $(A"},
        {"name": "D", "value": "cost: 5$"},
        {"name": "E", "value": "$(RAW)"},
        {"name": "F", "valueFrom": {"configMapKeyRef": {"name": "web", "key": "RAW"}}},
        {"name": "LATER", "value": "late"}]})j");
    ASSERT_TRUE(r) << r.error().message();
    std::map<std::string, std::string> m(r->begin(), r->end());
    EXPECT_EQ(m["B"], "alpha-$(UNDEF)-$(LATER)");
    EXPECT_EQ(m["C"], "$(A) $ $x $( $(A");
    EXPECT_EQ(m["D"], "cost: 5$");
    EXPECT_EQ(m["E"], "$(A)");  // one level: the referenced value is not expanded again
    EXPECT_EQ(m["F"], "$(A)");  // valueFrom values are never expanded
}

}  // namespace
}  // namespace kedge::edge
