// cloudcore as a process: kedge-apiserver + cloudcore + edges written in Python, all on
// loopback. What reaches which node, what edges may do, resync, restart, bad input, operations.

#include <sys/wait.h>

#include "cloudcore_fixture.hpp"

namespace kedge::cloud::test {
namespace {

std::string pod_yaml(const std::string& name, const std::string& node,
                     const std::string& configmap = {}) {
    std::string y = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: " + name +
                    "\n  namespace: default\nspec:\n  nodeName: " + node +
                    "\n  containers:\n  - name: c\n    image: busybox\n";
    if (!configmap.empty())
        y += "    volumeMounts:\n    - {name: cfg, mountPath: /cfg}\n  volumes:\n  - name: cfg\n"
             "    configMap: {name: " + configmap + "}\n";
    return y;
}

std::string json_at(const boost::json::object& o, std::initializer_list<const char*> path) {
    const boost::json::value* v = nullptr;
    const boost::json::object* cur = &o;
    for (const char* k : path) {
        if (!cur) return {};
        v = cur->if_contains(k);
        if (!v) return {};
        cur = v->is_object() ? &v->as_object() : nullptr;
    }
    return v && v->is_string() ? std::string(v->as_string()) : std::string();
}

class CloudCoreTest : public CloudCoreFixture {};

TEST_F(CloudCoreTest, PodAndItsConfigMapReachOnlyTheirNode) {
    create_edge_node("edge-a");
    create_edge_node("edge-b");
    start_edge("edge-a");
    start_edge("edge-b");
    apply("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: only-a, namespace: default}\n"
          "data: {k: v}\n");
    apply("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: unused, namespace: default}\n"
          "data: {k: v}\n");
    apply(pod_yaml("web", "edge-a", "only-a"));
    ASSERT_TRUE(eventually([&] { return !received("edge-a", "default/pod/web").empty(); }));
    auto pod = received("edge-a", "default/pod/web").front();
    EXPECT_EQ(json_at(pod, {"route", "source"}), "edgecontroller");
    EXPECT_EQ(json_at(pod, {"content", "kind"}), "Pod");
    EXPECT_FALSE(json_at(pod, {"header", "resourceversion"}).empty());
    EXPECT_TRUE(eventually([&] { return !received("edge-a", "default/configmap/only-a").empty(); }));
    // Give B every chance to (wrongly) get them.
    std::this_thread::sleep_for(std::chrono::seconds(1));
    EXPECT_TRUE(received("edge-b", "default/pod/web").empty());
    EXPECT_TRUE(received("edge-b", "default/configmap/only-a").empty());
    EXPECT_TRUE(received("edge-a", "default/configmap/unused").empty());

    // The pod goes: the configmap nobody on A needs any more is deleted from A.
    kubectl_ok("delete pod web --grace-period=0 --force");
    EXPECT_TRUE(eventually(
        [&] { return !received("edge-a", "default/configmap/only-a", "delete").empty(); }))
        << "configmap not removed from the node after its last pod went";
}

TEST_F(CloudCoreTest, EdgeStatusPatchReachesTheApiAndAnotherNodesPodIsDenied) {
    create_edge_node("edge-a");
    create_edge_node("edge-b");
    start_edge("edge-a");
    start_edge("edge-b");
    apply(pod_yaml("on-a", "edge-a"));
    apply(pod_yaml("on-b", "edge-b"));
    ASSERT_TRUE(eventually([&] { return !received("edge-a", "default/pod/on-a").empty(); }));

    boost::json::value patch = boost::json::parse(
        R"({"status":{"phase":"Running","conditions":[{"type":"Ready","status":"True"}]}})");
    auto ok_id = send_from_edge("edge-a", "patch", "default/podpatch/on-a",
                                boost::json::string(boost::json::serialize(patch)));
    ASSERT_TRUE(eventually([&] { return response_to("edge-a", ok_id).has_value(); }));
    EXPECT_EQ(json_at(*response_to("edge-a", ok_id), {"route", "operation"}), "response");
    EXPECT_TRUE(eventually([&] {
        return kubectl("get pod on-a -o jsonpath='{.status.phase}'").output == "Running";
    }));

    // A may not touch B's pod.
    auto denied_id = send_from_edge("edge-a", "patch", "default/podpatch/on-b",
                                    boost::json::string(boost::json::serialize(patch)));
    ASSERT_TRUE(eventually([&] { return response_to("edge-a", denied_id).has_value(); }));
    auto denial = *response_to("edge-a", denied_id);
    EXPECT_EQ(json_at(denial, {"route", "operation"}), "error") << boost::json::serialize(denial);
    EXPECT_NE(kubectl("get pod on-b -o jsonpath='{.status.phase}'").output, "Running");
}

TEST_F(CloudCoreTest, CertificateForOneNodeCannotClaimAnother) {
    create_edge_node("edge-a");
    start_edge("edge-a");
    stop_edge("edge-a");
    // Same credentials, node_id header of another node.
    auto& p = start_edge("edge-a", {"--node-id", "edge-b"}, false);
    EXPECT_TRUE(eventually([&] { return !p.running(); }));
    EXPECT_EQ(WEXITSTATUS(p.stop()), 4) << kedge::test::read_file(edge_dir("edge-a") + ".log");
    EXPECT_NE(metrics().find("cloudcore_handshake_failures_total{reason="), std::string::npos);
}

TEST_F(CloudCoreTest, TamperedOrForeignTokenIsRefusedAtJoin) {
    std::string t = token();
    ASSERT_GT(t.size(), 20u);
    std::string tampered = t;
    tampered.back() = tampered.back() == 'A' ? 'B' : 'A';
    auto& p = start_edge("edge-t", {}, false, tampered);
    EXPECT_TRUE(eventually([&] { return !p.running(); }));
    EXPECT_EQ(WEXITSTATUS(p.stop()), 3);
    EXPECT_NE(kedge::test::read_file(edge_dir("edge-t") + ".log").find("401"), std::string::npos)
        << kedge::test::read_file(edge_dir("edge-t") + ".log");
}

TEST_F(CloudCoreTest, UpstreamStyleEdgeConvergesThroughObjectSync) {
    create_edge_node("edge-u");
    apply(pod_yaml("u1", "edge-u"));
    start_edge("edge-u");  // no inventory: the upstream way
    ASSERT_TRUE(eventually([&] { return !received("edge-u", "default/pod/u1").empty(); }));
    auto uid = kubectl("get pod u1 -o jsonpath='{.metadata.uid}'").output;
    EXPECT_TRUE(eventually([&] {
        return kubectl("get objectsyncs.reliablesyncs.kubeedge.io -n default edge-u." + uid)
                   .exit_code == 0;
    })) << kubectl("get objectsyncs -A").output;
}

TEST_F(CloudCoreTest, DeltaResyncSendsExactlyWhatChangedWithoutApiLists) {
    create_edge_node("edge-r");
    std::string pods;
    for (int i = 0; i < 100; ++i)
        pods += pod_yaml("r" + std::to_string(i), "edge-r") + "---\n";
    apply(pods);
    start_edge("edge-r", {"--inventory"});
    ASSERT_TRUE(eventually(
        [&] {
            std::size_t n = 0;
            for (int i = 0; i < 100; ++i)
                n += !received("edge-r", "default/pod/r" + std::to_string(i)).empty();
            return n == 100;
        },
        std::chrono::seconds(60)));
    stop_edge("edge-r");
    const auto inbox_before = inbox("edge-r").size();
    const auto lists = apiserver_requests("list", "pods");
    const auto watches = apiserver_requests("watch", "pods");

    for (int i = 0; i < 5; ++i) kubectl_ok("label pod r" + std::to_string(i) + " changed=yes");
    kubectl_ok("delete pod r99 --grace-period=0 --force");
    start_edge("edge-r", {"--inventory"});
    // The resync response closes the delta.
    auto resync_done = [&] {
        auto all = inbox("edge-r");
        for (std::size_t i = inbox_before; i < all.size(); ++i)
            if (json_at(all[i], {"route", "resource"}).find("inventory") != std::string::npos)
                return true;
        return false;
    };
    ASSERT_TRUE(eventually(resync_done, std::chrono::seconds(30)));
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    auto all = inbox("edge-r");
    int object_messages = 0;
    for (std::size_t i = inbox_before; i < all.size(); ++i) {
        auto op = json_at(all[i], {"route", "operation"});
        if (op == "insert" || op == "update" || op == "delete") ++object_messages;
    }
    EXPECT_EQ(object_messages, 6);
    EXPECT_EQ(apiserver_requests("list", "pods"), lists) << "the reconnect made cloudcore relist";
    EXPECT_EQ(apiserver_requests("watch", "pods"), watches) << "the reconnect restarted a watch";
}

TEST_F(CloudCoreTest, NodesReconnectAfterACloudcoreRestartAndCatchUp) {
    create_edge_node("edge-a");
    start_edge("edge-a", {"--inventory"});
    apply(pod_yaml("before", "edge-a"));
    ASSERT_TRUE(eventually([&] { return !received("edge-a", "default/pod/before").empty(); }));
    stop_cloudcore();
    apply(pod_yaml("while-down", "edge-a"));
    start_cloudcore();
    EXPECT_TRUE(eventually([&] { return !received("edge-a", "default/pod/while-down").empty(); },
                           std::chrono::seconds(30)));
}

TEST_F(CloudCoreTest, GarbageFromOneNodeClosesOnlyItsSession) {
    create_edge_node("edge-a");
    create_edge_node("edge-b");
    start_edge("edge-a");
    start_edge("edge-b");
    send_raw_from_edge("edge-a", "this is not a message {");
    EXPECT_TRUE(eventually([&] {
        return kedge::test::read_file(dir_.file("cloudcore-1.log")).find("edge-a") !=
                   std::string::npos &&
               metrics().find("cloudcore_malformed_frames_total 1") != std::string::npos;
    })) << metrics();
    apply(pod_yaml("still-works", "edge-b"));
    EXPECT_TRUE(eventually([&] { return !received("edge-b", "default/pod/still-works").empty(); }));
}

TEST_F(CloudCoreTest, MetricsAndHealthEndpoints) {
    create_edge_node("edge-a");
    start_edge("edge-a");
    EXPECT_TRUE(eventually([&] {
        return metrics().find("cloudcore_connected_nodes 1") != std::string::npos;
    })) << metrics();
    auto health = run_command("curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:" +
                              std::to_string(metrics_port_) + "/healthz");
    EXPECT_EQ(health.output, "200");
    EXPECT_TRUE(eventually([&] {
        return run_command("curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:" +
                           std::to_string(metrics_port_) + "/readyz")
                   .output == "200";
    }));
}

TEST_F(CloudCoreTest, ReplicasShareThePkiSoAnEdgeCanMoveBetweenThem) {
    create_edge_node("edge-a");
    const std::string t = token();
    start_edge("edge-a");  // joined through the first cloudcore
    stop_edge("edge-a");
    start_replica();
    EXPECT_EQ(token(), t) << "the replica made its own token instead of using the Secret";
    // Same CA: the certificate from the first replica is accepted by the second, which then
    // serves the node.
    start_edge("edge-a", {"--inventory"});
    apply(pod_yaml("moved", "edge-a"));
    EXPECT_TRUE(eventually([&] { return !received("edge-a", "default/pod/moved").empty(); }));
    EXPECT_TRUE(eventually([&] {
        return kubectl("get node edge-a -o jsonpath='{.metadata.annotations.kedge\\.io/cloudcore}'")
                   .output == "cloudcore-replica";
    })) << kubectl("get node edge-a -o yaml").output;
}

TEST(CloudCoreConfigFlags, DefaultConfigLoadsBackAndUnknownKeysAreRefused) {
    TempDir dir;
    auto bin = kedge::test::build_path("apps/cloudcore/cloudcore");
    auto d = run_command(bin + " --defaultconfig");
    ASSERT_EQ(d.exit_code, 0) << d.output;
    for (const char* key : {"cloudHub:", "advertiseAddress:", "edgeController:", "kubeAPIConfig:",
                            "nodeLimit:", "tokenRefreshDuration:"})
        EXPECT_NE(d.output.find(key), std::string::npos) << key;
    kedge::test::write_file(dir.file("bad.yaml"),
                            "apiVersion: cloudcore.config.kubeedge.io/v1alpha1\nkind: CloudCore\n"
                            "modules:\n  cloudHub:\n    nodeLimt: 5\n");
    auto bad = run_command(bin + " --config " + dir.file("bad.yaml") + " 2>&1");
    EXPECT_EQ(bad.exit_code, 2);
    EXPECT_NE(bad.output.find("nodeLimt"), std::string::npos) << bad.output;
    EXPECT_NE(bad.output.find("bad.yaml:5"), std::string::npos) << bad.output;
}

}  // namespace
}  // namespace kedge::cloud::test
