// Real Kubernetes clients nobody here wrote (kubectl, Debian's python3-kubernetes) against the
// edge meta server running in-process over a MetaStore in a TempDir, with the store changed by
// the test while they list and watch.

#include <sys/wait.h>

#include "unit/edge_metaserver/meta_server_fixture.hpp"

namespace kedge::edge::test {
namespace {

using namespace std::chrono_literals;
using kedge::test::Process;
using kedge::test::read_file;
using kedge::test::run_command;
using kedge::test::wait_until;

class MetaServerClientsTest : public MetaServerFixture {
protected:
    void SetUp() override {
        put("default/pod/web-1", pod_json("default", "web-1", 11, {{"app", "web"}}));
        put("default/pod/db-1", pod_json("default", "db-1", 12, {{"app", "db"}}));
        put("kube-system/pod/proxy", pod_json("kube-system", "proxy", 13, {{"app", "proxy"}}));
        put("null/node/edge1",
            R"({"apiVersion":"v1","kind":"Node","metadata":{"name":"edge1","resourceVersion":"14",
                "creationTimestamp":"2024-01-01T00:00:00Z"},
                "status":{"conditions":[{"type":"Ready","status":"True"}]}})");
        // Offline: writes get the 503 a user must understand.
        start([](RemoteWrite) -> asio::awaitable<Result<RemoteResult>> {
            co_return Error(errc::unavailable, "no connection to cloudcore");
        });
        kedge::test::write_file(kubeconfig(), R"(apiVersion: v1
kind: Config
clusters:
- name: edge
  cluster: {server: ")" + base_url() + R"("}
contexts:
- name: edge
  context: {cluster: edge, user: edge}
users:
- name: edge
  user: {}
current-context: edge
)");
    }
    std::string kubeconfig() const { return dir_.file("kubeconfig"); }
    std::vector<std::string> kubectl_argv(const std::vector<std::string>& args) const {
        std::vector<std::string> argv{"kubectl", "--kubeconfig", kubeconfig(), "--cache-dir",
                                      dir_.file("cache")};
        argv.insert(argv.end(), args.begin(), args.end());
        return argv;
    }
    kedge::test::CommandResult kubectl(const std::string& args) {
        return run_command("kubectl --kubeconfig " + kubeconfig() + " --cache-dir " +
                           dir_.file("cache") + " " + args + " 2>&1");
    }
    std::string kubectl_ok(const std::string& args) {
        auto r = kubectl(args);
        EXPECT_EQ(r.exit_code, 0) << "kubectl " << args << ":\n" << r.output;
        return r.output;
    }
};

TEST_F(MetaServerClientsTest, KubectlGetListsSelectsAndReadsRaw) {
    auto all = json::parse(kubectl_ok("get pods -A -o json")).as_object();
    std::vector<std::string> names;
    for (const auto& it : all.at("items").as_array())
        names.emplace_back(it.at("metadata").at("name").as_string());
    EXPECT_EQ(names, (std::vector<std::string>{"db-1", "web-1", "proxy"}));

    EXPECT_EQ(kubectl_ok("get pods -n default -l app=web -o name"), "pod/web-1\n");
    EXPECT_EQ(kubectl_ok("get pods -A --field-selector metadata.namespace=kube-system -o name"),
              "pod/proxy\n");

    auto raw = json::parse(kubectl_ok("get --raw /api/v1/nodes")).as_object();
    EXPECT_EQ(raw.at("kind"), "NodeList");
    EXPECT_EQ(raw.at("items").as_array().size(), 1u);

    // Human output (server-side Table).
    auto table = kubectl_ok("get pods -n default");
    EXPECT_NE(table.find("web-1"), std::string::npos) << table;
    EXPECT_NE(table.find("Running"), std::string::npos) << table;
    auto nodes = kubectl_ok("get nodes");
    EXPECT_NE(nodes.find("Ready"), std::string::npos) << nodes;

    auto missing = kubectl("get pod nope -n default");
    EXPECT_NE(missing.exit_code, 0);
    EXPECT_NE(missing.output.find("NotFound"), std::string::npos) << missing.output;
    EXPECT_NE(missing.output.find("\"nope\" not found"), std::string::npos) << missing.output;

    auto res = kubectl_ok("api-resources");
    EXPECT_NE(res.find("devicemodels"), std::string::npos) << res;
    EXPECT_NE(res.find("leases"), std::string::npos) << res;

    auto bad = kubectl("get pods -l 'app in (x'");
    EXPECT_NE(bad.exit_code, 0);
}

TEST_F(MetaServerClientsTest, KubectlWriteOfflineSaysTheCloudIsNotConnected) {
    kedge::test::write_file(dir_.file("pod.yaml"), R"(apiVersion: v1
kind: Pod
metadata: {name: made-offline, namespace: default}
spec:
  containers: [{name: c, image: busybox}]
)");
    auto r = kubectl("create --validate=false -f " + dir_.file("pod.yaml"));
    EXPECT_NE(r.exit_code, 0);
    EXPECT_NE(r.output.find("the cloud is not connected"), std::string::npos) << r.output;
    auto d = kubectl("delete pod web-1 -n default");
    EXPECT_NE(d.exit_code, 0);
    EXPECT_NE(d.output.find("serves reads only while offline"), std::string::npos) << d.output;
}

TEST_F(MetaServerClientsTest, KubectlGetWatchPrintsAPodAddedLater) {
    std::string out = dir_.file("watch.out");
    Process watcher(kubectl_argv({"get", "pods", "-n", "default", "-w"}), out);
    ASSERT_TRUE(wait_until([&] { return read_file(out).find("web-1") != std::string::npos; }, 20s))
        << read_file(out);
    put("default/pod/late", pod_json("default", "late", 30, {{"app", "late"}}));
    EXPECT_TRUE(wait_until([&] { return read_file(out).find("late") != std::string::npos; }, 20s))
        << read_file(out);
    EXPECT_TRUE(watcher.running());
    watcher.stop();
}

TEST_F(MetaServerClientsTest, PythonListAndWatchSeeStoreChanges) {
    std::string out = dir_.file("python.out");
    Process py({"/usr/bin/python3",
                kedge::test::source_path("tests/integration/edge_metaserver/meta_watch.py"),
                base_url(), "3"},
               out);
    ASSERT_TRUE(wait_until(
        [&] { return read_file(out).find("EVENT ADDED web-1") != std::string::npos; }, 30s))
        << read_file(out);
    EXPECT_NE(read_file(out).find("LIST default/db-1 default/web-1 kube-system/proxy"),
              std::string::npos)
        << read_file(out);
    put("default/pod/late", pod_json("default", "late", 40));
    put("kube-system/pod/unrelated", pod_json("kube-system", "unrelated", 41));
    put("default/pod/late", pod_json("default", "late", 42, {{"v", "2"}}));
    remove("default/pod/late");
    ASSERT_TRUE(wait_until([&] { return !py.running(); }, 30s)) << read_file(out);
    int status = py.stop();
    auto text = read_file(out);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << text;
    EXPECT_NE(text.find("EVENT MODIFIED late 42"), std::string::npos) << text;
    EXPECT_NE(text.find("OK"), std::string::npos) << text;
    EXPECT_EQ(text.find("unrelated"), std::string::npos) << text;
}

}  // namespace
}  // namespace kedge::edge::test
