// edged end to end with real parts: kedge-apiserver + cloudcore + edgecore, and a private
// containerd (runc, bridge CNI, images from a loopback registry) per test (CriEnv). Pods are
// created with kubectl; what the API shows is what edged reported.

#include <gtest/gtest.h>

#include <set>

#include "integration/edged/edged_fixture.hpp"

namespace kedge::edge::test {
namespace {

using kedge::test::read_file;
using namespace std::chrono_literals;

using EdgedTest = EdgedFixture;

TEST_F(EdgedTest, APodRunsWithItsConfigMapAndSecretAndReportsStatus) {
    start_node("edged-a");
    if (IsSkipped() || HasFatalFailure()) return;
    apply("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web-content\n  namespace: default\n"
          "data:\n  index.html: hello from the edge\n");
    apply("apiVersion: v1\nkind: Secret\nmetadata:\n  name: web-secret\n  namespace: default\n"
          "stringData:\n  password: s3cret\n");
    apply("apiVersion: v1\nkind: Pod\nmetadata:\n  name: web\n  namespace: default\nspec:\n"
          "  nodeName: edged-a\n  containers:\n  - name: httpd\n    image: " +
          env_->busybox_image() +
          "\n    command: [sh, -c, 'echo started $PASSWORD; exec httpd -f -p 8080 -h /www']\n"
          "    env:\n    - name: PASSWORD\n      valueFrom:\n        secretKeyRef: {name: "
          "web-secret, key: password}\n"
          "    volumeMounts:\n    - {name: content, mountPath: /www}\n"
          "    readinessProbe:\n      httpGet: {path: /index.html, port: 8080}\n"
          "      periodSeconds: 1\n"
          "  volumes:\n  - name: content\n    configMap: {name: web-content}\n");
    // Ready only once the httpGet readiness probe against busybox httpd passed.
    ASSERT_TRUE(eventually([&] {
        auto cs = container_status("web");
        return phase("web") == "Running" && cs.is_object() && cs.at("ready") == true;
    }, 60s)) << kubectl("get pod web -o yaml").output << read_file(edgecore("edged-a").log());
    auto p = pod("web");
    const auto& status = p.at("status").as_object();
    std::string ip(status.at("podIP").as_string());
    EXPECT_TRUE(env_->routes_via_bridge(ip)) << ip;
    EXPECT_EQ(status.at("hostIP"), "127.0.0.1");
    auto cs = container_status("web");
    EXPECT_EQ(cs.at("ready"), true);
    EXPECT_TRUE(cs.at("state").as_object().contains("running"));
    EXPECT_TRUE(std::string(cs.at("containerID").as_string()).starts_with("containerd://"));
    // containerd reports the repo digest, as kubectl shows it on any containerd node.
    EXPECT_NE(std::string(cs.at("imageID").as_string()).find("/test/busybox@sha256:"),
              std::string::npos)
        << cs.at("imageID");
    bool ready = false;
    for (const auto& c : status.at("conditions").as_array())
        if (c.at("type") == "Ready") ready = c.at("status") == "True";
    EXPECT_TRUE(ready);

    // The configMap is served by busybox httpd inside the pod, over the bridge.
    ASSERT_TRUE(env_->routes_via_bridge(ip));
    EXPECT_TRUE(eventually([&] {
        return kedge::test::run_command("curl -s -m 2 http://" + ip + ":8080/index.html").output ==
               "hello from the edge";
    }));
    // The secret reached the environment; the log is in the kubelet layout.
    auto uid = std::string(p.at("metadata").at("uid").as_string());
    std::string log_file = edgecore("edged-a").dir + "/log/pods/default_web_" + uid + "/httpd/0.log";
    EXPECT_TRUE(eventually([&] {
        return read_file(log_file).find("stdout F started s3cret") != std::string::npos;
    })) << read_file(log_file);
    // ... and readable through the kubelet-compatible server, as `kubectl logs` would get it.
    auto logs = kedge::test::run_command(
        "curl -s -m 5 'http://127.0.0.1:" + std::to_string(edgecore("edged-a").kubelet_port) +
        "/containerLogs/default/web/httpd?tailLines=5'");
    EXPECT_EQ(logs.output, "started s3cret\n");
    // /var/log/containers-style link for log collectors.
    bool linked = false;
    for (const auto& entry : std::filesystem::directory_iterator(
             edgecore("edged-a").dir + "/log/containers"))
        linked |= entry.path().filename().string().starts_with("web_default_httpd-") &&
                  read_file(entry.path().string()).find("started s3cret") != std::string::npos;
    EXPECT_TRUE(linked);
}

TEST_F(EdgedTest, AnExitingContainerIsRestartedWithBackoff) {
    start_node("edged-b");
    if (IsSkipped() || HasFatalFailure()) return;
    apply("apiVersion: v1\nkind: Pod\nmetadata:\n  name: crash\n  namespace: default\nspec:\n"
          "  nodeName: edged-b\n  containers:\n  - name: c\n    image: " +
          env_->busybox_image() + "\n    command: [sh, -c, 'echo run; sleep 1; exit 3']\n");
    ASSERT_TRUE(eventually(
        [&] {
            auto cs = container_status("crash");
            return cs.is_object() && cs.at("restartCount").as_int64() >= 2;
        },
        90s))
        << kubectl("get pod crash -o yaml").output;
    auto cs = container_status("crash");
    auto last = cs.at("lastState").at("terminated");
    EXPECT_EQ(last.at("exitCode"), 3);
    EXPECT_EQ(last.at("reason"), "Error");
}

TEST_F(EdgedTest, ProbesGateReadinessAndRestartOnLivenessFailure) {
    start_node("edged-g");
    if (IsSkipped() || HasFatalFailure()) return;
    // Not ready until /tmp/ready exists; alive until /tmp/alive is removed (after ~4 s).
    apply("apiVersion: v1\nkind: Pod\nmetadata:\n  name: probed\n  namespace: default\nspec:\n"
          "  nodeName: edged-g\n  containers:\n  - name: c\n    image: " +
          env_->busybox_image() +
          "\n    command: [sh, -c, 'touch /tmp/alive; sleep 2; touch /tmp/ready; sleep 2; "
          "rm /tmp/alive; exec sleep 3600']\n"
          "    readinessProbe:\n      exec: {command: [cat, /tmp/ready]}\n      periodSeconds: 1\n"
          "    livenessProbe:\n      exec: {command: [cat, /tmp/alive]}\n      periodSeconds: 1\n"
          "      failureThreshold: 2\n");
    // Running but not ready first, then ready.
    ASSERT_TRUE(eventually([&] {
        auto cs = container_status("probed");
        return cs.is_object() && cs.at("state").as_object().contains("running") &&
               cs.at("ready") == false;
    }, 60s)) << kubectl("get pod probed -o yaml").output;
    ASSERT_TRUE(eventually([&] {
        auto cs = container_status("probed");
        return cs.is_object() && cs.at("ready") == true;
    }, 30s)) << kubectl("get pod probed -o yaml").output;
    // The liveness probe fails once /tmp/alive is gone: the container is restarted.
    EXPECT_TRUE(eventually([&] {
        auto cs = container_status("probed");
        return cs.is_object() && cs.at("restartCount").as_int64() >= 1;
    }, 60s)) << kubectl("get pod probed -o yaml").output
             << read_file(edgecore("edged-g").log());
}

TEST_F(EdgedTest, DeletingAPodStopsItAndRemovesItsSandbox) {
    start_node("edged-c");
    if (IsSkipped() || HasFatalFailure()) return;
    apply("apiVersion: v1\nkind: Pod\nmetadata:\n  name: gone\n  namespace: default\nspec:\n"
          "  nodeName: edged-c\n  terminationGracePeriodSeconds: 5\n  containers:\n  - name: c\n"
          "    image: " +
          env_->busybox_image() + "\n    command: [sleep, '3600']\n");
    ASSERT_TRUE(eventually([&] { return phase("gone") == "Running"; }, 60s))
        << kubectl("get pod gone -o yaml").output;
    auto start = std::chrono::steady_clock::now();
    kubectl_ok("delete pod gone --wait=false");
    // The API object goes once edged reported the pod stopped.
    ASSERT_TRUE(eventually([&] { return !pod("gone").is_object(); }, 30s))
        << kubectl("get pod gone -o yaml").output;
    EXPECT_LT(std::chrono::steady_clock::now() - start, 15s);
    // Nothing is left in the runtime.
    EXPECT_TRUE(eventually([&] {
        return env_->ctr("containers ls -q").output.find_first_not_of(" \n") == std::string::npos;
    }, 20s)) << env_->ctr("containers ls").output;
}

TEST_F(EdgedTest, AMissingImageShowsErrImagePullAndOthersKeepRunning) {
    start_node("edged-d");
    if (IsSkipped() || HasFatalFailure()) return;
    apply("apiVersion: v1\nkind: Pod\nmetadata:\n  name: ok\n  namespace: default\nspec:\n"
          "  nodeName: edged-d\n  containers:\n  - name: c\n    image: " +
          env_->busybox_image() + "\n    command: [sleep, '3600']\n");
    apply("apiVersion: v1\nkind: Pod\nmetadata:\n  name: noimage\n  namespace: default\nspec:\n"
          "  nodeName: edged-d\n  containers:\n  - name: c\n    image: " + env_->registry() +
          "/test/does-not-exist:1\n");
    apply("apiVersion: v1\nkind: Pod\nmetadata:\n  name: nocm\n  namespace: default\nspec:\n"
          "  nodeName: edged-d\n  containers:\n  - name: c\n    image: " +
          env_->busybox_image() +
          "\n    env:\n    - name: X\n      valueFrom:\n        configMapKeyRef: {name: missing, "
          "key: k}\n");
    ASSERT_TRUE(eventually(
        [&] {
            auto cs = container_status("noimage");
            if (!cs.is_object()) return false;
            auto* w = cs.at("state").as_object().if_contains("waiting");
            if (!w) return false;
            auto reason = w->at("reason");
            return reason == "ErrImagePull" || reason == "ImagePullBackOff";
        },
        60s))
        << kubectl("get pod noimage -o yaml").output;
    ASSERT_TRUE(eventually(
        [&] {
            auto cs = container_status("nocm");
            if (!cs.is_object()) return false;
            auto* w = cs.at("state").as_object().if_contains("waiting");
            return w && w->at("reason") == "CreateContainerConfigError" &&
                   std::string(w->at("message").as_string()).find("missing") != std::string::npos;
        },
        60s))
        << kubectl("get pod nocm -o yaml").output;
    EXPECT_TRUE(eventually([&] { return phase("ok") == "Running"; }, 60s));
}

TEST_F(EdgedTest, RestartingEdgecoreAdoptsRunningContainers) {
    start_node("edged-e");
    if (IsSkipped() || HasFatalFailure()) return;
    apply("apiVersion: v1\nkind: Pod\nmetadata:\n  name: keep\n  namespace: default\nspec:\n"
          "  nodeName: edged-e\n  containers:\n  - name: c\n    image: " +
          env_->busybox_image() + "\n    command: [sleep, '3600']\n");
    ASSERT_TRUE(eventually([&] { return phase("keep") == "Running"; }, 60s));
    auto before = container_status("keep").at("containerID");
    edgecore("edged-e").process->stop();
    start_edgecore("edged-e");
    std::this_thread::sleep_for(3s);  // several relist periods
    auto after = container_status("keep");
    EXPECT_EQ(after.at("containerID"), before);
    EXPECT_EQ(after.at("restartCount"), 0);
    EXPECT_EQ(phase("keep"), "Running");
}

TEST_F(EdgedTest, LimitsBecomeCgroupLimitsAndPreStopRunsBeforeTheStop) {
    start_node("edged-f");
    if (IsSkipped() || HasFatalFailure()) return;
    std::string host_dir = edgecore("edged-f").dir + "/hostdata";
    apply("apiVersion: v1\nkind: Pod\nmetadata:\n  name: limited\n  namespace: default\nspec:\n"
          "  nodeName: edged-f\n  terminationGracePeriodSeconds: 10\n  containers:\n  - name: c\n"
          "    image: " + env_->busybox_image() + "\n    command: [sleep, '3600']\n"
          "    resources:\n      limits: {memory: 64Mi, cpu: 500m}\n"
          "    lifecycle:\n      preStop:\n        exec:\n          command: [sh, -c, "
          "'echo stopping > /data/prestop']\n"
          "    volumeMounts:\n    - {name: data, mountPath: /data}\n"
          "  volumes:\n  - name: data\n    hostPath: {path: " + host_dir +
          ", type: DirectoryOrCreate}\n");
    ASSERT_TRUE(eventually([&] { return phase("limited") == "Running"; }, 60s))
        << kubectl("get pod limited -o yaml").output;
    std::string id(container_status("limited").at("containerID").as_string());
    id = id.substr(id.find("://") + 3);
    auto mem = env_->ctr("tasks exec --exec-id limits " + id +
                         " sh -c 'cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || "
                         "cat /sys/fs/cgroup/memory.max'");
    EXPECT_NE(mem.output.find(std::to_string(64 * 1024 * 1024)), std::string::npos) << mem.output;
    auto cpu = env_->ctr("tasks exec --exec-id cpu " + id +
                         " sh -c 'cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us 2>/dev/null || "
                         "cat /sys/fs/cgroup/cpu.max'");
    EXPECT_NE(cpu.output.find("50000"), std::string::npos) << cpu.output;

    kubectl_ok("delete pod limited --wait=false");
    ASSERT_TRUE(eventually([&] { return !pod("limited").is_object(); }, 30s));
    EXPECT_EQ(read_file(host_dir + "/prestop"), "stopping\n");
}

}  // namespace
}  // namespace kedge::edge::test

namespace kedge::edge::test {
namespace {

TEST_F(EdgedTest, StaticPodsRunFromManifestsWithAMirrorPodInTheApi) {
    // The manifest is there before edgecore starts; edged reads the directory every second.
    std::string dir = dir_.file("edgecore-edged-s/manifests");
    std::filesystem::create_directories(dir);
    start_cri("static");
    if (IsSkipped() || HasFatalFailure()) return;
    kedge::test::write_file(dir + "/agent.yaml",
                            "apiVersion: v1\nkind: Pod\nmetadata:\n  name: agent\n  labels:\n"
                            "    app: agent\nspec:\n  containers:\n  - name: c\n    image: " +
                                env_->busybox_image() + "\n    command: [sleep, '3600']\n");
    configure_edgecore("edged-s", {}, {}, runtime_yaml("      fileCheckFrequency: 1s\n"));
    start_edgecore("edged-s");
    // The mirror pod shows the static pod's status.
    ASSERT_TRUE(eventually([&] { return phase("agent-edged-s") == "Running"; }, 60s))
        << kubectl("get pods -o wide").output << read_file(edgecore("edged-s").log());
    auto mirror = pod("agent-edged-s");
    EXPECT_TRUE(mirror.at("metadata").at("annotations").as_object().contains(
        "kubernetes.io/config.mirror"));
    auto first_uid = mirror.at("metadata").at("uid");

    // Deleting the mirror does not stop the pod; the mirror comes back.
    kubectl_ok("delete pod agent-edged-s --wait=false");
    ASSERT_TRUE(eventually([&] {
        auto p = pod("agent-edged-s");
        return p.is_object() && p.at("metadata").at("uid") != first_uid &&
               !p.at("metadata").as_object().contains("deletionTimestamp");
    }, 30s)) << kubectl("get pods -o wide").output;
    EXPECT_TRUE(eventually([&] { return phase("agent-edged-s") == "Running"; }, 30s));

    // Removing the manifest stops it and removes the mirror.
    std::filesystem::remove(dir + "/agent.yaml");
    EXPECT_TRUE(eventually([&] { return !pod("agent-edged-s").is_object(); }, 30s))
        << kubectl("get pods -o wide").output;
    EXPECT_TRUE(eventually([&] {
        return env_->ctr("containers ls -q").output.find_first_not_of(" \n") == std::string::npos;
    }, 30s)) << env_->ctr("containers ls").output;
}

}  // namespace
}  // namespace kedge::edge::test

namespace kedge::edge::test {
namespace {

TEST_F(EdgedTest, InitContainersRunFirstAndConfigMapChangesReachTheFiles) {
    start_node("edged-i");
    if (IsSkipped() || HasFatalFailure()) return;
    apply("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: live\n  namespace: default\n"
          "data:\n  value: one\n");
    // The init container writes a file the main container needs; the main container keeps
    // printing the configMap file it mounts.
    apply("apiVersion: v1\nkind: Pod\nmetadata:\n  name: initd\n  namespace: default\nspec:\n"
          "  nodeName: edged-i\n  initContainers:\n  - name: prepare\n    image: " +
          env_->busybox_image() +
          "\n    command: [sh, -c, 'echo prepared > /work/flag']\n"
          "    volumeMounts:\n    - {name: work, mountPath: /work}\n"
          "  containers:\n  - name: main\n    image: " + env_->busybox_image() +
          "\n    command: [sh, -c, 'cat /work/flag; while true; do cat /cfg/value; echo; "
          "sleep 1; done']\n"
          "    volumeMounts:\n    - {name: work, mountPath: /work}\n"
          "    - {name: cfg, mountPath: /cfg}\n"
          "  volumes:\n  - {name: work, emptyDir: {}}\n  - name: cfg\n    configMap: {name: live}\n");
    ASSERT_TRUE(eventually([&] { return phase("initd") == "Running"; }, 60s))
        << kubectl("get pod initd -o yaml").output;
    auto p = pod("initd");
    const auto& init = p.at("status").at("initContainerStatuses").at(0);
    EXPECT_EQ(init.at("state").at("terminated").at("exitCode"), 0);
    EXPECT_EQ(init.at("state").at("terminated").at("reason"), "Completed");
    auto uid = std::string(p.at("metadata").at("uid").as_string());
    std::string log = edgecore("edged-i").dir + "/log/pods/default_initd_" + uid + "/main/0.log";
    EXPECT_TRUE(eventually([&] { return read_file(log).find("stdout F prepared") != std::string::npos; }))
        << read_file(log);
    EXPECT_TRUE(eventually([&] { return read_file(log).find("stdout F one") != std::string::npos; }))
        << read_file(log);
    // An update of the configMap reaches the mounted file without a restart.
    kubectl_ok("patch configmap live -p '{\"data\":{\"value\":\"two\"}}'");
    EXPECT_TRUE(eventually([&] { return read_file(log).find("stdout F two") != std::string::npos; }, 30s))
        << read_file(log);
    EXPECT_EQ(container_status("initd").at("restartCount"), 0);
}

}  // namespace
}  // namespace kedge::edge::test
