#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "kube/patch.hpp"

namespace kedge::kube {
namespace {

namespace json = boost::json;

json::value pod() {
    return json::parse(R"({
      "apiVersion": "v1", "kind": "Pod",
      "metadata": {"name": "p", "namespace": "ns", "finalizers": ["a", "b"],
                   "ownerReferences": [{"uid": "1", "name": "rs", "kind": "ReplicaSet"}]},
      "spec": {
        "nodeSelector": {"zone": "a", "disk": "ssd"},
        "tolerations": [{"key": "k1", "operator": "Exists"}],
        "volumes": [{"name": "data", "emptyDir": {}}],
        "containers": [
          {"name": "app", "image": "app:1", "args": ["--a", "--b"],
           "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
           "ports": [{"containerPort": 80, "protocol": "TCP"}],
           "volumeMounts": [{"name": "data", "mountPath": "/data"}]},
          {"name": "sidecar", "image": "side:1"}
        ]
      },
      "status": {
        "phase": "Pending",
        "conditions": [{"type": "PodScheduled", "status": "True"},
                       {"type": "Ready", "status": "False"}]
      }
    })");
}

json::value smp(const json::value& target, std::string_view patch) {
    auto out = apply_patch(PatchType::kStrategicMergePatch, target, patch);
    EXPECT_TRUE(out) << patch << ": " << (out ? "" : out.error().detail);
    return out ? *out : json::value();
}

Error smp_error(const json::value& target, std::string_view patch) {
    auto out = apply_patch(PatchType::kStrategicMergePatch, target, patch);
    EXPECT_FALSE(out) << patch << " -> " << (out ? json::serialize(*out) : "");
    return out ? Error() : out.error();
}

void expect_at(const json::value& v, std::string_view pointer, std::string_view expected_json) {
    boost::system::error_code ec;
    const json::value* got = v.find_pointer(pointer, ec);
    ASSERT_NE(got, nullptr) << pointer << " missing in " << json::serialize(v);
    EXPECT_TRUE(json_equal(*got, json::parse(expected_json)))
        << pointer << " = " << json::serialize(*got) << ", want " << expected_json;
}

void expect_missing(const json::value& v, std::string_view pointer) {
    boost::system::error_code ec;
    EXPECT_EQ(v.find_pointer(pointer, ec), nullptr) << pointer << " in " << json::serialize(v);
}

TEST(StrategicMerge, ContainersMergeByName) {
    auto out = smp(pod(), R"({"spec": {"containers": [{"name": "sidecar", "image": "side:2"},
                                                     {"name": "new", "image": "new:1"}]}})");
    expect_at(out, "/spec/containers",
              R"([{"name": "app", "image": "app:1", "args": ["--a", "--b"],
                   "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
                   "ports": [{"containerPort": 80, "protocol": "TCP"}],
                   "volumeMounts": [{"name": "data", "mountPath": "/data"}]},
                  {"name": "sidecar", "image": "side:2"},
                  {"name": "new", "image": "new:1"}])");
}

TEST(StrategicMerge, EnvMergesByNameInsideAContainer) {
    auto out = smp(pod(), R"({"spec": {"containers": [{"name": "app",
        "env": [{"name": "B", "value": "20"}, {"name": "C", "value": "3"}]}]}})");
    expect_at(out, "/spec/containers/0/env",
              R"([{"name": "A", "value": "1"}, {"name": "B", "value": "20"},
                  {"name": "C", "value": "3"}])");
    expect_at(out, "/spec/containers/0/image", R"("app:1")");
}

TEST(StrategicMerge, PortsByContainerPortAndMountsByMountPath) {
    auto out = smp(pod(), R"({"spec": {"containers": [{"name": "app",
        "ports": [{"containerPort": 80, "name": "http"}, {"containerPort": 443}],
        "volumeMounts": [{"name": "data", "mountPath": "/data", "readOnly": true},
                         {"name": "data", "mountPath": "/other"}]}]}})");
    expect_at(out, "/spec/containers/0/ports",
              R"([{"containerPort": 80, "protocol": "TCP", "name": "http"},
                  {"containerPort": 443}])");
    expect_at(out, "/spec/containers/0/volumeMounts",
              R"([{"name": "data", "mountPath": "/data", "readOnly": true},
                  {"name": "data", "mountPath": "/other"}])");
}

TEST(StrategicMerge, ConditionsMergeByType) {
    auto out = smp(pod(), R"({"status": {"phase": "Running", "conditions": [
        {"type": "Ready", "status": "True"}, {"type": "ContainersReady", "status": "True"}]}})");
    expect_at(out, "/status/phase", R"("Running")");
    expect_at(out, "/status/conditions",
              R"([{"type": "PodScheduled", "status": "True"}, {"type": "Ready", "status": "True"},
                  {"type": "ContainersReady", "status": "True"}])");
}

TEST(StrategicMerge, PatchDeleteRemovesAListEntry) {
    auto out = smp(pod(), R"({"spec": {"containers": [{"name": "sidecar", "$patch": "delete"}]}})");
    expect_at(out, "/spec/containers/0/name", R"("app")");
    expect_missing(out, "/spec/containers/1");
    // Deleting something that is not there is fine.
    smp(pod(), R"({"spec": {"containers": [{"name": "ghost", "$patch": "delete"}]}})");
}

TEST(StrategicMerge, PrimitiveAndUnkeyedListsAreReplaced) {
    auto out = smp(pod(), R"({"spec": {
        "containers": [{"name": "app", "args": ["--c"]}],
        "tolerations": [{"key": "k2", "operator": "Exists"}]}})");
    expect_at(out, "/spec/containers/0/args", R"(["--c"])");
    expect_at(out, "/spec/tolerations", R"([{"key": "k2", "operator": "Exists"}])");
}

TEST(StrategicMerge, FinalizersMergeAsASetAndDeleteFromPrimitiveList) {
    auto out = smp(pod(), R"({"metadata": {"finalizers": ["b", "c"]}})");
    expect_at(out, "/metadata/finalizers", R"(["a", "b", "c"])");
    out = smp(pod(), R"({"metadata": {"$deleteFromPrimitiveList/finalizers": ["a"]}})");
    expect_at(out, "/metadata/finalizers", R"(["b"])");
    out = smp(pod(), R"({"metadata": {"$deleteFromPrimitiveList/finalizers": ["a"],
                                       "finalizers": ["z"]}})");
    expect_at(out, "/metadata/finalizers", R"(["b", "z"])");
}

TEST(StrategicMerge, OwnerReferencesByUid) {
    auto out = smp(pod(), R"({"metadata": {"ownerReferences": [
        {"uid": "1", "controller": true}, {"uid": "2", "name": "other"}]}})");
    expect_at(out, "/metadata/ownerReferences",
              R"([{"uid": "1", "name": "rs", "kind": "ReplicaSet", "controller": true},
                  {"uid": "2", "name": "other"}])");
}

TEST(StrategicMerge, PatchReplaceOnListsAndMaps) {
    auto out = smp(pod(), R"({"spec": {"containers": [{"$patch": "replace"},
                                                     {"name": "only", "image": "o:1"}]}})");
    expect_at(out, "/spec/containers", R"([{"name": "only", "image": "o:1"}])");
    out = smp(pod(), R"({"spec": {"nodeSelector": {"$patch": "replace", "zone": "b"}}})");
    expect_at(out, "/spec/nodeSelector", R"({"zone": "b"})");
    out = smp(pod(), R"({"spec": {"nodeSelector": {"$patch": "delete"}}})");
    expect_at(out, "/spec/nodeSelector", "{}");
}

TEST(StrategicMerge, NullsDeleteAndUnmatchedNullsAreDropped) {
    auto out = smp(pod(), R"({"spec": {"nodeSelector": {"zone": null, "gpu": null},
                                       "hostname": null, "subdomain": {"x": null}}})");
    expect_at(out, "/spec/nodeSelector", R"({"disk": "ssd"})");
    expect_missing(out, "/spec/hostname");
    expect_at(out, "/spec/subdomain", "{}");
}

TEST(StrategicMerge, RetainKeysSwitchesAVolumeSource) {
    auto out = smp(pod(), R"({"spec": {"volumes": [{"name": "data",
        "hostPath": {"path": "/srv"}, "$retainKeys": ["name", "hostPath"]}]}})");
    expect_at(out, "/spec/volumes", R"([{"name": "data", "hostPath": {"path": "/srv"}}])");
}

TEST(StrategicMerge, SetElementOrderReordersEntries) {
    auto out = smp(pod(), R"({"spec": {
        "$setElementOrder/containers": [{"name": "sidecar"}, {"name": "app"}],
        "containers": [{"name": "sidecar", "image": "side:3"}]}})");
    expect_at(out, "/spec/containers/0/name", R"("sidecar")");
    expect_at(out, "/spec/containers/0/image", R"("side:3")");
    expect_at(out, "/spec/containers/1/name", R"("app")");
    out = smp(pod(), R"({"metadata": {"$setElementOrder/finalizers": ["b", "a"]}})");
    expect_at(out, "/metadata/finalizers", R"(["b", "a"])");
}

TEST(StrategicMerge, NewKeyedListIsCleanedOfDirectives) {
    json::value bare = json::parse(R"({"apiVersion": "v1", "kind": "Pod", "spec": {}})");
    auto out = smp(bare, R"({"spec": {"containers": [{"name": "a", "image": "x", "env": null},
                                                    {"name": "b", "$patch": "delete"}]}})");
    expect_at(out, "/spec/containers", R"([{"name": "a", "image": "x"}])");
}

TEST(StrategicMerge, WorkloadTemplatesAndOtherKinds) {
    json::value deploy = json::parse(R"({"apiVersion": "apps/v1", "kind": "Deployment",
        "spec": {"replicas": 1, "template": {"spec": {"containers": [
            {"name": "a", "image": "a:1"}, {"name": "b", "image": "b:1"}]}}}})");
    auto out = smp(deploy, R"({"spec": {"replicas": 3, "template": {"spec": {"containers": [
        {"name": "b", "image": "b:2"}]}}}})");
    expect_at(out, "/spec/replicas", "3");
    expect_at(out, "/spec/template/spec/containers",
              R"([{"name": "a", "image": "a:1"}, {"name": "b", "image": "b:2"}])");

    json::value node = json::parse(R"({"apiVersion": "v1", "kind": "Node",
        "status": {"addresses": [{"type": "InternalIP", "address": "10.0.0.1"},
                                 {"type": "Hostname", "address": "n1"}]}})");
    out =
        smp(node, R"({"status": {"addresses": [{"type": "InternalIP", "address": "10.0.0.2"}]}})");
    expect_at(out, "/status/addresses",
              R"([{"type": "InternalIP", "address": "10.0.0.2"},
                  {"type": "Hostname", "address": "n1"}])");

    // A built-in kind without list rules still merges maps and replaces lists.
    json::value cm = json::parse(R"({"apiVersion": "v1", "kind": "ConfigMap",
                                     "data": {"a": "1", "b": "2"}})");
    out = smp(cm, R"({"data": {"a": null, "c": "3"}})");
    expect_at(out, "/data", R"({"b": "2", "c": "3"})");
}

TEST(StrategicMerge, CustomResourcesAreUnsupportedMediaType) {
    json::value device = json::parse(R"({"apiVersion": "devices.kubeedge.io/v1beta1",
                                         "kind": "Device", "spec": {}})");
    Error e = smp_error(device, R"({"spec": {"x": 1}})");
    EXPECT_EQ(e.code, patch_errc::unsupported_media_type);
    EXPECT_NE(e.detail.find("application/merge-patch+json"), std::string::npos);
    EXPECT_EQ(builtin_strategic_schema("devices.kubeedge.io/v1beta1", "Device"), nullptr);
    EXPECT_NE(builtin_strategic_schema("apps/v1", "Deployment"), nullptr);
    EXPECT_NE(builtin_strategic_schema("coordination.k8s.io/v1", "Lease"), nullptr);
}

TEST(StrategicMerge, BadPatchesAreErrors) {
    EXPECT_EQ(smp_error(pod(), R"({"spec": {"containers": [{"image": "no-name"}]}})").code,
              patch_errc::malformed_patch);
    EXPECT_EQ(smp_error(pod(), R"({"spec": {"containers": ["x"]}})").code,
              patch_errc::malformed_patch);
    EXPECT_EQ(
        smp_error(pod(), R"({"spec": {"containers": [{"name": "a", "$patch": "merge"}]}})").code,
        patch_errc::malformed_patch);
    EXPECT_EQ(smp_error(pod(), R"({"spec": {"$patch": "explode"}})").code,
              patch_errc::malformed_patch);
    EXPECT_EQ(smp_error(pod(), R"({"metadata": {"finalizers": [{"a": 1}]}})").code,
              patch_errc::malformed_patch);
    EXPECT_EQ(
        smp_error(pod(), R"({"spec": {"volumes": [{"name": "data", "$retainKeys": 1}]}})").code,
        patch_errc::malformed_patch);
    EXPECT_EQ(smp_error(pod(), "[]").code, patch_errc::malformed_patch);
    auto missing_key = smp_error(pod(), R"({"spec": {"containers": [{"image": "no-name"}]}})");
    EXPECT_NE(missing_key.detail.find("does not contain declared merge key: name"),
              std::string::npos)
        << missing_key.detail;
}

TEST(StrategicMerge, CustomSchemaTable) {
    StrategicSchema schema;
    schema.add_merge_list("spec.items", "id");
    auto out = apply_strategic_merge_patch(
        json::parse(R"({"spec": {"items": [{"id": 1, "v": "a"}], "other": [1]}})"),
        json::parse(R"({"spec": {"items": [{"id": 1, "w": "b"}, {"id": 2}], "other": [2]}})"),
        schema);
    ASSERT_TRUE(out) << out.error().detail;
    EXPECT_TRUE(json_equal(
        *out, json::parse(R"({"spec": {"items": [{"id": 1, "v": "a", "w": "b"}, {"id": 2}],
                                       "other": [2]}})")))
        << json::serialize(*out);
}

}  // namespace
}  // namespace kedge::kube
