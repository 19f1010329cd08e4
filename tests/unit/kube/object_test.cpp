#include "kube/object.hpp"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>

namespace kedge::kube {
namespace {

namespace json = boost::json;

json::object pod() {
    return json::parse(R"({
      "apiVersion": "v1", "kind": "Pod",
      "metadata": {
        "name": "nginx", "namespace": "default", "uid": "u-1", "resourceVersion": "42",
        "generation": 3, "creationTimestamp": "2024-01-02T03:04:05Z",
        "labels": {"app": "web", "tier": "front", "bad": 5},
        "annotations": {"note": "x"},
        "finalizers": ["a/b", "c/d"],
        "ownerReferences": [
          {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "rs", "uid": "rs-1",
           "controller": true, "blockOwnerDeletion": true},
          {"apiVersion": "v1", "kind": "ConfigMap", "name": "cm", "uid": "cm-1"}
        ]
      },
      "spec": {
        "nodeName": "edge-1", "hostNetwork": true, "priority": 7,
        "containers": [{"name": "c0", "image": "busybox"}]
      }
    })")
        .as_object();
}

TEST(Object, ReadsMetadata) {
    auto p = pod();
    EXPECT_EQ(api_version(p), "v1");
    EXPECT_EQ(kind(p), "Pod");
    EXPECT_EQ(name(p), "nginx");
    EXPECT_EQ(namespace_of(p), "default");
    EXPECT_EQ(uid(p), "u-1");
    EXPECT_EQ(resource_version(p), "42");
    EXPECT_EQ(generation(p), 3);
    EXPECT_EQ(creation_timestamp(p), "2024-01-02T03:04:05Z");
    EXPECT_FALSE(deletion_timestamp(p).has_value());
    EXPECT_EQ(cache_key(p), "default/nginx");

    // Non-string label values are skipped rather than crashing or being stringified.
    Labels want{{"app", "web"}, {"tier", "front"}};
    EXPECT_EQ(labels(p), want);
    EXPECT_EQ(label(p, "app"), "web");
    EXPECT_FALSE(label(p, "bad").has_value());
    EXPECT_EQ(annotation(p, "note"), "x");
    EXPECT_EQ(finalizers(p), (std::vector<std::string>{"a/b", "c/d"}));
    EXPECT_TRUE(has_finalizer(p, "c/d"));
    EXPECT_FALSE(has_finalizer(p, "e"));

    auto refs = owner_references(p);
    ASSERT_EQ(refs.size(), 2u);
    EXPECT_EQ(refs[0].kind, "ReplicaSet");
    EXPECT_TRUE(refs[0].controller);
    EXPECT_TRUE(refs[0].block_owner_deletion);
    EXPECT_FALSE(refs[1].controller);
    auto ctrl = controller_of(p);
    ASSERT_TRUE(ctrl);
    EXPECT_EQ(ctrl->uid, "rs-1");
}

TEST(Object, MissingOrWronglyTypedFieldsReadAsEmpty) {
    json::object o =
        json::parse(R"({"kind": 5, "metadata": {"name": ["x"], "labels": "no"}})").as_object();
    EXPECT_EQ(kind(o), "");
    EXPECT_EQ(name(o), "");
    EXPECT_TRUE(labels(o).empty());
    EXPECT_EQ(generation(o), 0);
    EXPECT_TRUE(owner_references(o).empty());
    json::object empty;
    EXPECT_EQ(cache_key(empty), "");
    EXPECT_EQ(metadata(empty), nullptr);
}

TEST(Object, SettersCreateMetadata) {
    json::object o;
    set_api_version(o, "apps/v1");
    set_kind(o, "Deployment");
    set_name(o, "d");
    set_uid(o, "u");
    set_resource_version(o, "7");
    set_generation(o, 2);
    set_label(o, "app", "x");
    set_annotation(o, "a", "b");
    set_deletion_timestamp(o, "2024-01-01T00:00:00Z");
    set_finalizers(o, {"f1", "f2"});
    EXPECT_EQ(name(o), "d");
    EXPECT_EQ(uid(o), "u");
    EXPECT_EQ(resource_version(o), "7");
    EXPECT_EQ(generation(o), 2);
    EXPECT_EQ(label(o, "app"), "x");
    EXPECT_EQ(annotation(o, "a"), "b");
    EXPECT_EQ(deletion_timestamp(o), "2024-01-01T00:00:00Z");
    EXPECT_EQ(cache_key(o), "d");

    EXPECT_TRUE(remove_finalizer(o, "f1"));
    EXPECT_FALSE(remove_finalizer(o, "f1"));
    EXPECT_EQ(finalizers(o), std::vector<std::string>{"f2"});
    EXPECT_TRUE(remove_finalizer(o, "f2"));
    EXPECT_EQ(metadata(o)->if_contains("finalizers"), nullptr);

    remove_label(o, "app");
    EXPECT_FALSE(label(o, "app"));
    remove_annotation(o, "a");
    EXPECT_FALSE(annotation(o, "a"));
}

TEST(Object, GetPath) {
    json::value p = pod();
    ASSERT_NE(get_path(p, "spec.nodeName"), nullptr);
    EXPECT_EQ(get_path(p, "spec.nodeName")->as_string(), "edge-1");
    EXPECT_EQ(get_path(p, "spec.containers.0.image")->as_string(), "busybox");
    EXPECT_EQ(get_path(p, "spec.containers.1.image"), nullptr);
    EXPECT_EQ(get_path(p, "spec.containers.x"), nullptr);
    EXPECT_EQ(get_path(p, "spec.nodeName.deeper"), nullptr);
    EXPECT_EQ(get_path(p, "nope"), nullptr);
    EXPECT_EQ(get_path_string(p, "spec.hostNetwork"), "true");
    EXPECT_EQ(get_path_string(p, "spec.priority"), "7");
    EXPECT_EQ(get_path_string(p, "metadata.name"), "nginx");
    EXPECT_FALSE(get_path_string(p, "spec.containers").has_value());
    EXPECT_EQ(get_path_string(p.as_object(), "metadata.namespace"), "default");
}

TEST(Object, ParsesApiVersion) {
    EXPECT_EQ(parse_api_version("v1").value(), (GroupVersion{"", "v1"}));
    EXPECT_EQ(parse_api_version("apps/v1").value(), (GroupVersion{"apps", "v1"}));
    EXPECT_EQ(parse_api_version("devices.kubeedge.io/v1beta1")->group, "devices.kubeedge.io");
    EXPECT_EQ(parse_api_version("apps/v1")->to_string(), "apps/v1");
    EXPECT_EQ(parse_api_version("v1")->to_string(), "v1");
    for (auto bad : {"", "/v1", "apps/", "a/b/c"}) {
        auto r = parse_api_version(bad);
        ASSERT_FALSE(r) << bad;
        EXPECT_TRUE(r.error().is(errc::invalid_argument));
    }
}

TEST(Object, ComparesResourceVersionsNumerically) {
    EXPECT_EQ(compare_resource_versions("9", "10").value(), std::strong_ordering::less);
    EXPECT_EQ(compare_resource_versions("10", "10").value(), std::strong_ordering::equal);
    EXPECT_EQ(compare_resource_versions("18446744073709551615", "1").value(),
              std::strong_ordering::greater);
    for (auto bad : {"", "abc", "-1", "1.5", " 1", "18446744073709551616"}) {
        auto r = compare_resource_versions(bad, "1");
        ASSERT_FALSE(r) << bad;
        EXPECT_TRUE(r.error().is(errc::invalid_argument));
        EXPECT_NE(r.error().detail.find("invalid resource version"), std::string::npos);
    }
    EXPECT_FALSE(compare_resource_versions("1", "x"));
}

TEST(Object, PodReferencesEveryConfigMapAndSecretSource) {
    json::object p = json::parse(R"({
      "metadata": {"name": "p", "namespace": "ns"},
      "spec": {
        "volumes": [
          {"name": "v1", "configMap": {"name": "cm-vol"}},
          {"name": "v2", "secret": {"secretName": "sec-vol"}},
          {"name": "v3", "projected": {"sources": [
              {"configMap": {"name": "cm-proj"}}, {"secret": {"name": "sec-proj"}},
              {"downwardAPI": {"items": []}}]}},
          {"name": "v4", "emptyDir": {}}
        ],
        "initContainers": [{"name": "i", "envFrom": [{"configMapRef": {"name": "cm-init"}}]}],
        "containers": [{
          "name": "c",
          "env": [
            {"name": "A", "valueFrom": {"configMapKeyRef": {"name": "cm-env", "key": "k"}}},
            {"name": "B", "valueFrom": {"secretKeyRef": {"name": "sec-env", "key": "k"}}},
            {"name": "C", "value": "plain"},
            {"name": "D", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}
          ],
          "envFrom": [{"secretRef": {"name": "sec-envfrom"}}, {"configMapRef": {"name": "cm-vol"}}]
        }],
        "ephemeralContainers": [{"name": "e", "envFrom": [{"secretRef": {"name": "sec-eph"}}]}],
        "imagePullSecrets": [{"name": "pull"}]
      }
    })")
                         .as_object();
    auto refs = referenced_configmaps_and_secrets(p);
    EXPECT_EQ(refs.config_maps, (std::set<std::string>{"cm-env", "cm-init", "cm-proj", "cm-vol"}));
    EXPECT_EQ(refs.secrets, (std::set<std::string>{"pull", "sec-env", "sec-envfrom", "sec-eph",
                                                   "sec-proj", "sec-vol"}));

    auto none = referenced_configmaps_and_secrets(json::object{});
    EXPECT_TRUE(none.config_maps.empty());
    EXPECT_TRUE(none.secrets.empty());
}

}  // namespace
}  // namespace kedge::kube
