// edgecore end to end on loopback: real kedge-apiserver + cloudcore + edgecore processes,
// kubectl and python3-kubernetes as the meta server's clients, sqlite3 (Python's module) to
// inspect the edge database the way an operator would.

#include <gtest/gtest.h>

#include <regex>
#include <set>

#include "integration/edgecore/edgecore_fixture.hpp"

namespace kedge::edge::test {
namespace {

using kedge::test::read_file;
using kedge::test::wait_until;
using namespace std::chrono_literals;

class EdgeCoreTest : public EdgeCoreFixture {
protected:
    // Runs a Python snippet with Debian's python3 (python3-kubernetes lives there).
    kedge::test::CommandResult python(const std::string& code) {
        std::string path = dir_.file("snippet-" + std::to_string(++snippets_) + ".py");
        kedge::test::write_file(path, code);
        return run_command("/usr/bin/python3 " + path + " 2>&1");
    }
    int snippets_ = 0;
};

TEST_F(EdgeCoreTest, JoinsWithTokenRegistersTheNodeAndServesWhatArrives) {
    configure_edgecore("edge-a");
    auto& e = start_edgecore("edge-a");
    ASSERT_TRUE(eventually([&] { return node_registered("edge-a"); }, 30s))
        << kubectl("get node edge-a -o yaml").output;

    // The join left the node's identity on disk: CA, certificate for system:node:edge-a, a
    // private key only the owner can read.
    struct stat st {};
    ASSERT_EQ(::stat((e.dir + "/certs/server.key").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
    auto subject = run_command("openssl x509 -noout -subject -in " + e.dir + "/certs/server.crt");
    EXPECT_NE(subject.output.find("system:node:edge-a"), std::string::npos) << subject.output;
    EXPECT_NE(subject.output.find("system:nodes"), std::string::npos) << subject.output;
    EXPECT_EQ(run_command("openssl verify -CAfile " + e.dir + "/ca/rootCA.crt " + e.dir +
                          "/certs/server.crt")
                  .exit_code,
              0);

    // Registered as an edge node with a lease that is renewed; with no container runtime to
    // talk to, NotReady saying so.
    auto node = get_json("node edge-a");
    ASSERT_TRUE(node.is_object());
    EXPECT_TRUE(eventually([&] {
        auto n = get_json("node edge-a");
        if (!n.is_object()) return false;
        for (const auto& c : n.at("status").at("conditions").as_array())
            if (c.at("type") == "Ready")
                return c.at("status") == "False" && c.at("reason") == "KubeletNotReady" &&
                       std::string(c.at("message").as_string()).find("container runtime is down") !=
                           std::string::npos;
        return false;
    })) << kubectl("get node edge-a -o yaml").output;
    EXPECT_TRUE(node.at("metadata").at("labels").as_object().contains(
        "node-role.kubernetes.io/edge"));
    EXPECT_FALSE(node.at("status").at("nodeInfo").at("kubeletVersion").as_string().empty());
    ASSERT_TRUE(eventually([&] { return get_json("lease -n kube-node-lease edge-a").is_object(); }));
    EXPECT_EQ(get_json("lease -n kube-node-lease edge-a").at("spec").at("holderIdentity"),
              "edge-a");

    // A pod bound to the node and the configmap it uses arrive and are served locally.
    apply("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web-config\n  namespace: "
          "default\ndata:\n  index.html: hello\n");
    create_bound_pod("web-1", "edge-a", "app: web",
                     "    envFrom:\n    - configMapRef:\n        name: web-config\n");
    ASSERT_TRUE(eventually([&] {
        return meta_get("edge-a", "/api/v1/namespaces/default/pods/web-1").first == 200;
    })) << meta_get("edge-a", "/api/v1/namespaces/default/pods/web-1").second;
    EXPECT_TRUE(eventually([&] {
        return meta_get("edge-a", "/api/v1/namespaces/default/configmaps/web-config").first == 200;
    }));

    // kubectl and the official Python client list pods from the meta server.
    auto k = run_command("kubectl --server " + e.meta_url() + " get pods -n default -o name 2>&1");
    EXPECT_EQ(k.exit_code, 0) << k.output;
    EXPECT_NE(k.output.find("pod/web-1"), std::string::npos) << k.output;
    auto py = python("from kubernetes import client\n"
                     "c = client.Configuration()\n"
                     "c.host = '" + e.meta_url() + "'\n"
                     "api = client.CoreV1Api(client.ApiClient(c))\n"
                     "for p in api.list_namespaced_pod('default').items:\n"
                     "    print('POD', p.metadata.name, p.spec.node_name)\n");
    EXPECT_NE(py.output.find("POD web-1 edge-a"), std::string::npos) << py.output;

    // Both connected: health and readiness say so.
    EXPECT_EQ(edge_metric("edge-a", "edgecore_cloud_connected"), 1);
}

TEST_F(EdgeCoreTest, KeepsServingOfflineAndCatchesUpWithOnlyTheDelta) {
    configure_edgecore("edge-b");
    start_edgecore("edge-b");
    ASSERT_TRUE(eventually([&] { return node_registered("edge-b"); }, 30s));
    for (auto p : {"keep", "gone", "changed"}) create_bound_pod(p, "edge-b");
    const std::string pods = "/api/v1/namespaces/default/pods";
    ASSERT_TRUE(eventually([&] { return meta_names("edge-b", pods).size() == 3; }))
        << meta_get("edge-b", pods).second;

    // The cloud goes away.
    stop_cloudcore();
    ASSERT_TRUE(eventually([&] { return edge_metric("edge-b", "edgecore_cloud_connected") == 0; }));
    EXPECT_EQ(meta_names("edge-b", pods), (std::set<std::string>{"changed", "gone", "keep"}));

    // Writes through the meta server fail clearly while offline.
    auto w = run_command("kubectl --server " + edgecore("edge-b").meta_url() +
                         " label pod keep -n default offline=yes 2>&1");
    EXPECT_NE(w.exit_code, 0);
    EXPECT_NE(w.output.find("not connected"), std::string::npos) << w.output;

    // A restart while offline serves everything from the database.
    edgecore("edge-b").process->stop();
    start_edgecore("edge-b");
    EXPECT_EQ(meta_names("edge-b", pods), (std::set<std::string>{"changed", "gone", "keep"}));

    // Node status keeps being produced offline and is kept for later.
    ASSERT_TRUE(eventually(
        [&] { return edge_metric("edge-b", "edgecore_meta_outbox_entries") >= 1; }, 20s))
        << edge_metrics("edge-b");

    // Meanwhile in the cloud: one pod deleted, one added, one changed.
    kubectl_ok("delete pod gone --grace-period=0 --force");
    create_bound_pod("new", "edge-b");
    kubectl_ok("label pod changed version=2");

    start_cloudcore();
    ASSERT_TRUE(eventually(
        [&] {
            return meta_names("edge-b", pods) == std::set<std::string>{"changed", "keep", "new"};
        },
        30s))
        << meta_get("edge-b", pods).second;
    auto changed = meta_json("edge-b", pods + "/changed");
    ASSERT_TRUE(changed.is_object());
    EXPECT_EQ(changed.at("metadata").at("labels").at("version"), "2");

    // Only the delta came down: the resync summary the edge logged.
    const auto& e = edgecore("edge-b");
    ASSERT_TRUE(eventually([&] {
        return read_file(e.log()).find("level with the cloud") != std::string::npos;
    }));
    std::smatch m;
    std::string log = read_file(e.log());
    ASSERT_TRUE(std::regex_search(
        log, m, std::regex(R"(level with the cloud: (\d+) inserted, (\d+) updated, (\d+) deleted, (\d+) unchanged)")))
        << log;
    EXPECT_EQ(m[1], "1");  // "new"
    EXPECT_EQ(m[3], "1");  // "gone"
    EXPECT_GE(std::stoi(m[2]), 1);  // "changed" (and the Node object, if it changed)
    EXPECT_GE(std::stoi(m[4]), 1);  // "keep" was not sent again

    // What the node reported offline reached the API after the reconnect.
    ASSERT_TRUE(eventually(
        [&] { return edge_metric("edge-b", "edgecore_meta_flushed_total") >= 1; }, 20s))
        << edge_metrics("edge-b");
    EXPECT_TRUE(eventually(
        [&] { return edge_metric("edge-b", "edgecore_meta_outbox_entries") == 0; }, 20s));
    EXPECT_TRUE(node_registered("edge-b"));
}

TEST_F(EdgeCoreTest, KubectlAndPythonWatchPodsOnTheMetaServer) {
    configure_edgecore("edge-c");
    auto& e = start_edgecore("edge-c");
    ASSERT_TRUE(eventually([&] { return node_registered("edge-c"); }, 30s));
    create_bound_pod("first", "edge-c");
    ASSERT_TRUE(eventually([&] {
        return meta_get("edge-c", "/api/v1/namespaces/default/pods/first").first == 200;
    }));

    // kubectl get -w and a python3-kubernetes watch, both on the edge's meta server.
    std::string kubectl_out = dir_.file("kubectl-watch.out");
    Process kw({"/bin/sh", "-c",
                "exec kubectl --server " + e.meta_url() + " get pods -n default -w -o name"},
               kubectl_out);
    std::string py_path = dir_.file("watch.py");
    kedge::test::write_file(
        py_path, "import sys\nfrom kubernetes import client, watch\n"
                 "c = client.Configuration()\nc.host = '" + e.meta_url() + "'\n"
                 "api = client.CoreV1Api(client.ApiClient(c))\n"
                 "w = watch.Watch()\n"
                 "for ev in w.stream(api.list_namespaced_pod, 'default', timeout_seconds=60):\n"
                 "    print(ev['type'], ev['object'].metadata.name, flush=True)\n");
    std::string py_out = dir_.file("python-watch.out");
    Process pw({"/usr/bin/python3", py_path}, py_out);
    ASSERT_TRUE(eventually([&] { return read_file(py_out).find("ADDED first") != std::string::npos; }))
        << read_file(py_out);
    ASSERT_TRUE(eventually([&] { return read_file(kubectl_out).find("pod/first") != std::string::npos; }))
        << read_file(kubectl_out);

    create_bound_pod("second", "edge-c");
    EXPECT_TRUE(eventually([&] { return read_file(py_out).find("ADDED second") != std::string::npos; }))
        << read_file(py_out);
    EXPECT_TRUE(eventually([&] { return read_file(kubectl_out).find("pod/second") != std::string::npos; }))
        << read_file(kubectl_out);
    kubectl_ok("delete pod first --grace-period=0 --force");
    EXPECT_TRUE(eventually([&] { return read_file(py_out).find("DELETED first") != std::string::npos; }))
        << read_file(py_out);
    kw.stop();
    pw.stop();
}

TEST_F(EdgeCoreTest, KillNineWhileReceivingLosesNothingAcked) {
    // Upstream mode (no inventory): the cloud records every ack as an ObjectSync, which lets
    // this test check "acked => committed" from the outside.
    configure_edgecore("edge-d", "  inventoryResync: false\n");
    auto& e = start_edgecore("edge-d");
    ASSERT_TRUE(eventually([&] { return node_registered("edge-d"); }, 30s));

    constexpr int kPods = 1000;
    std::ostringstream list;
    list << "apiVersion: v1\nkind: List\nitems:\n";
    for (int i = 0; i < kPods; ++i)
        list << "- apiVersion: v1\n  kind: Pod\n  metadata:\n    name: bulk-" << i
             << "\n    namespace: default\n  spec:\n    nodeName: edge-d\n    containers:\n"
             << "    - name: c\n      image: busybox\n";
    std::string path = dir_.file("bulk.yaml");
    kedge::test::write_file(path, list.str());
    Process creator({"/bin/sh", "-c",
                     "exec kubectl --kubeconfig " + kubeconfig() + " create -f " + path},
                    dir_.file("bulk-create.log"));

    // Kill it in the middle of the stream.
    ASSERT_TRUE(eventually([&] { return edge_metric("edge-d", "edgecore_meta_stored_total") >= 150; },
                           60s))
        << edge_metrics("edge-d");
    e.process->kill9();
    EXPECT_TRUE(eventually([&] { return !creator.running(); }, 120s));

    // Every object the cloud saw acked (ObjectSync) is in the database the dead process left.
    std::this_thread::sleep_for(3s);  // let cloudcore finish writing ObjectSyncs for the acks
    auto syncs = get_json("objectsyncs -n default");
    ASSERT_TRUE(syncs.is_object());
    std::set<std::string> acked;
    for (auto& s : syncs.at("items").as_array())
        if (std::string(s.at("metadata").at("name").as_string()).starts_with("edge-d."))
            acked.insert(std::string(s.at("spec").at("objectName").as_string()));
    ASSERT_GT(acked.size(), 0u);
    auto rows = python("import sqlite3\n"
                       "db = sqlite3.connect('file:" + e.db() + "?mode=ro', uri=True)\n"
                       "print(db.execute('PRAGMA integrity_check').fetchone()[0])\n"
                       "for (k,) in db.execute(\"select key from meta where type='pod'\"):\n"
                       "    print(k)\n");
    std::istringstream in(rows.output);
    std::string line;
    std::getline(in, line);
    EXPECT_EQ(line, "ok") << rows.output;
    std::set<std::string> stored;
    while (std::getline(in, line))
        if (line.starts_with("default/pod/")) stored.insert(line.substr(12));
    for (const auto& name : acked) EXPECT_TRUE(stored.count(name)) << name << " acked, not stored";

    // After a restart every object arrives and the store is consistent.
    start_edgecore("edge-d");
    ASSERT_TRUE(eventually(
        [&] { return meta_names("edge-d", "/api/v1/namespaces/default/pods").size() == kPods; },
        120s))
        << meta_names("edge-d", "/api/v1/namespaces/default/pods").size();
    auto check = python("import sqlite3\n"
                        "db = sqlite3.connect('file:" + e.db() + "?mode=ro', uri=True)\n"
                        "print(db.execute('PRAGMA integrity_check').fetchone()[0])\n"
                        "m = {k for (k,) in db.execute(\"select key from meta where type='pod'\")}\n"
                        "v = {n for (n,) in db.execute(\"select name from meta_v2 where "
                        "groupversionresource='/v1, Resource=pods'\")}\n"
                        "print(len(m), len(v), {k.split('/')[2] for k in m} == v)\n");
    EXPECT_EQ(check.output, "ok\n" + std::to_string(kPods) + " " + std::to_string(kPods) +
                                " True\n");
}

}  // namespace
}  // namespace kedge::edge::test
