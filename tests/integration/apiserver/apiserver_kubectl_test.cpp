// kubectl (an API client nobody here wrote) against the real kedge-apiserver binary.

#include <boost/json.hpp>

#include "apiserver_fixture.hpp"

namespace kedge::apiserver::test {
namespace {
namespace json = boost::json;

class KubectlTest : public ApiServerFixture {
  protected:
    void SetUp() override { start_server(); }

    std::string jsonpath(const std::string& what, const std::string& path) {
        return kubectl_ok("get " + what + " -o jsonpath='" + path + "'");
    }
};

constexpr const char* kPod = R"(apiVersion: v1
kind: Pod
metadata:
  name: web
  labels: {app: web}
spec:
  containers:
  - name: c
    image: nginx:1.25
    env: [{name: A, value: "1"}]
)";

constexpr const char* kDeployment = R"(apiVersion: apps/v1
kind: Deployment
metadata:
  name: d1
spec:
  replicas: 2
  selector: {matchLabels: {app: d1}}
  template:
    metadata: {labels: {app: d1}}
    spec:
      containers: [{name: c, image: busybox}]
)";

TEST_P(KubectlTest, DiscoveryAndVersion) {
    auto v = kubectl_ok("version");
    EXPECT_NE(v.find("Server Version: v1.31.0-kedge"), std::string::npos) << v;
    auto ns = kubectl_ok("get namespaces -o name");
    for (const char* n : {"default", "kube-system", "kube-public", "kube-node-lease"})
        EXPECT_NE(ns.find(std::string("namespace/") + n), std::string::npos) << ns;
    auto res = kubectl_ok("api-resources");
    EXPECT_NE(res.find("deployments"), std::string::npos);
    EXPECT_NE(res.find("leases"), std::string::npos);
}

TEST_P(KubectlTest, CreateGetDescribePatchLabelAnnotateDelete) {
    kedge::test::write_file(dir_.file("pod.yaml"), kPod);
    EXPECT_NE(kubectl_ok("create -f " + dir_.file("pod.yaml")).find("pod/web created"),
              std::string::npos);
    auto dup = kubectl("create -f " + dir_.file("pod.yaml"));
    EXPECT_NE(dup.exit_code, 0);
    EXPECT_NE(dup.output.find("AlreadyExists"), std::string::npos) << dup.output;

    auto doc = json::parse(kubectl_ok("get pod web -o json")).as_object();
    EXPECT_EQ(doc.at("metadata").at("name"), "web");
    EXPECT_EQ(doc.at("status").at("phase"), "Pending");
    EXPECT_FALSE(doc.at("metadata").at("uid").as_string().empty());

    // Server-side printing: kubectl shows kube's pod columns.
    auto table = kubectl_ok("get pods");
    EXPECT_NE(table.find("READY"), std::string::npos) << table;
    EXPECT_NE(table.find("0/1"), std::string::npos) << table;
    EXPECT_NE(table.find("Pending"), std::string::npos) << table;

    auto desc = kubectl_ok("describe pod web");
    EXPECT_NE(desc.find("nginx:1.25"), std::string::npos) << desc;
    EXPECT_NE(desc.find("app=web"), std::string::npos) << desc;

    kubectl_ok("label pod web tier=fe");
    kubectl_ok("annotate pod web note=hi");
    kubectl_ok("patch pod web --type=merge -p '{\"metadata\":{\"labels\":{\"m\":\"1\"}}}'");
    kubectl_ok(
        "patch pod web --type=json -p "
        "'[{\"op\":\"add\",\"path\":\"/metadata/labels/j\",\"value\":\"2\"}]'");
    // Strategic merge: the container list merges by name, env is kept.
    kubectl_ok("patch pod web -p '{\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":"
               "\"nginx:1.26\"}]}}'");
    EXPECT_EQ(jsonpath("pod web", "{.metadata.labels.tier},{.metadata.labels.m},"
                                  "{.metadata.labels.j},{.metadata.annotations.note}"),
              "fe,1,2,hi");
    EXPECT_EQ(jsonpath("pod web", "{.spec.containers[0].image},{.spec.containers[0].env[0].value}"),
              "nginx:1.26,1");
    kubectl_ok("label pod web tier-");
    EXPECT_EQ(jsonpath("pod web", "{.metadata.labels.tier}"), "");

    auto bad = kubectl("patch pod web --type=json -p "
                       "'[{\"op\":\"replace\",\"path\":\"/spec/nope/x\",\"value\":1}]'");
    EXPECT_NE(bad.exit_code, 0) << bad.output;

    EXPECT_NE(kubectl_ok("delete pod web").find("pod \"web\" deleted"), std::string::npos);
    auto gone = kubectl("get pod web");
    EXPECT_NE(gone.exit_code, 0);
    EXPECT_NE(gone.output.find("NotFound"), std::string::npos) << gone.output;
}

TEST_P(KubectlTest, ApplyIsIdempotentAndUpdates) {
    kedge::test::write_file(dir_.file("d.yaml"), kDeployment);
    EXPECT_NE(kubectl_ok("apply -f " + dir_.file("d.yaml")).find("created"), std::string::npos);
    auto rv = jsonpath("deployment d1", "{.metadata.resourceVersion}");
    EXPECT_NE(kubectl_ok("apply -f " + dir_.file("d.yaml")).find("unchanged"), std::string::npos);
    EXPECT_EQ(jsonpath("deployment d1", "{.metadata.resourceVersion}"), rv);
    std::string changed = kDeployment;
    changed.replace(changed.find("replicas: 2"), 11, "replicas: 3");
    kedge::test::write_file(dir_.file("d.yaml"), changed);
    EXPECT_NE(kubectl_ok("apply -f " + dir_.file("d.yaml")).find("configured"),
              std::string::npos);
    EXPECT_EQ(jsonpath("deployment d1", "{.spec.replicas},{.metadata.generation}"), "3,2");
    kubectl_ok("scale deployment d1 --replicas=5");
    EXPECT_EQ(jsonpath("deployment d1", "{.spec.replicas},{.metadata.generation}"), "5,3");
    kubectl_ok("delete -f " + dir_.file("d.yaml"));
    EXPECT_NE(kubectl("get deployment d1").exit_code, 0);
}

TEST_P(KubectlTest, StrictValidationRejectsUnknownFields) {
    kedge::test::write_file(dir_.file("cm.yaml"),
                            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\nbogus: 1\n");
    auto r = kubectl("apply -f " + dir_.file("cm.yaml"));
    EXPECT_NE(r.exit_code, 0);
    EXPECT_NE(r.output.find("unknown field \"bogus\""), std::string::npos) << r.output;
    EXPECT_NE(kubectl("get configmap c").exit_code, 0);
}

TEST_P(KubectlTest, GetWatchSeesChanges) {
    kubectl_ok("create configmap w1 --from-literal=a=1");
    std::string out = dir_.file("watch.out");
    Process watcher({"kubectl", "--kubeconfig", kubeconfig(), "get", "configmaps", "-w",
                     "--request-timeout=5s", "-o", "name"},
                    out);
    ASSERT_TRUE(kedge::test::wait_until([&] {
        return kedge::test::read_file(out).find("configmap/w1") != std::string::npos;
    }));
    kubectl_ok("create configmap w2 --from-literal=a=2");
    ASSERT_TRUE(kedge::test::wait_until([&] {
        return kedge::test::read_file(out).find("configmap/w2") != std::string::npos;
    })) << kedge::test::read_file(out);
    watcher.stop();
}

TEST_P(KubectlTest, KubeEdgeCrdsServeCustomResources) {
    for (const char* f : {"devices/devices_v1beta1_device.yaml",
                          "devices/devices_v1beta1_devicemodel.yaml",
                          "reliablesyncs/objectsync_v1alpha1.yaml",
                          "reliablesyncs/clusterobjectsync_v1alpha1.yaml"}) {
        auto out = kubectl_ok("apply -f " + kedge::test::source_path(std::string("deploy/crds/") + f));
        EXPECT_NE(out.find("created"), std::string::npos) << out;
    }
    EXPECT_EQ(jsonpath("crd devices.devices.kubeedge.io",
                       "{.status.conditions[?(@.type==\"Established\")].status}"),
              "True");
    auto res = kubectl_ok("api-resources --api-group=devices.kubeedge.io -o name");
    EXPECT_NE(res.find("devicemodels.devices.kubeedge.io"), std::string::npos) << res;

    std::string model = "apiVersion: devices.kubeedge.io/v1beta1\nkind: DeviceModel\n"
                        "metadata: {name: m1}\nspec: {protocol: modbus}\n";
    kedge::test::write_file(dir_.file("m1.yaml"), model);
    kubectl_ok("apply -f " + dir_.file("m1.yaml"));
    kubectl_ok("patch devicemodel m1 --type=merge -p '{\"spec\":{\"protocol\":\"opcua\"}}'");
    EXPECT_EQ(jsonpath("devicemodel m1", "{.spec.protocol},{.metadata.generation}"), "opcua,2");
    // Strategic merge is not defined for custom resources: 415, as kube-apiserver.
    auto smp = kubectl("patch devicemodel m1 --type=strategic -p '{\"spec\":{}}'");
    EXPECT_NE(smp.exit_code, 0);
    EXPECT_NE(smp.output.find("not supported"), std::string::npos) << smp.output;
    // A field the schema does not know is refused (kubectl asks for Strict).
    kedge::test::write_file(dir_.file("m2.yaml"),
                            "apiVersion: devices.kubeedge.io/v1beta1\nkind: DeviceModel\n"
                            "metadata: {name: m2}\nspec: {protocol: modbus, bogus: 1}\n");
    auto strict = kubectl("apply -f " + dir_.file("m2.yaml"));
    EXPECT_NE(strict.exit_code, 0);
    EXPECT_NE(strict.output.find("unknown field \"spec.bogus\""), std::string::npos)
        << strict.output;

    // The custom types are served again after a restart.
    server_->stop();
    start_server();
    EXPECT_EQ(jsonpath("devicemodel m1", "{.spec.protocol}"), "opcua");
    kubectl_ok("delete devicemodel m1");
    kubectl_ok("delete crd devicemodels.devices.kubeedge.io");
    EXPECT_NE(kubectl("get devicemodels").exit_code, 0);
}

KEDGE_APISERVER_BACKENDS(KubectlTest);

}  // namespace
}  // namespace kedge::apiserver::test
