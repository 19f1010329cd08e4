// --authorization-mode Node,RBAC on the real binary: a node credential may write only its own
// Node and the status of its own pods; RBAC roles/bindings created through the API take effect.

#include "apiserver_fixture.hpp"

namespace kedge::apiserver::test {
namespace {

class AuthzTest : public ApiServerFixture {
  protected:
    void SetUp() override {
        kedge::test::write_file(dir_.file("tokens.csv"),
                                "n1tok,system:node:edge1,n1,system:nodes\n"
                                "n2tok,system:node:edge2,n2,system:nodes\n"
                                "bobtok,bob,b1\n");
        start_server({"--authorization-mode", "Node,RBAC", "--token-auth-file",
                      dir_.file("tokens.csv")});
    }

    // curl as a token user; returns the HTTP code.
    int as(const std::string& token, const std::string& method, const std::string& path,
           const std::string& merge_patch = {}) {
        std::string cmd = "curl -s -o /dev/null -w '%{http_code}' --cacert " + pki("ca.crt") +
                          " -H 'Authorization: Bearer " + token + "' -X " + method;
        if (!merge_patch.empty())
            cmd += " -H 'Content-Type: application/merge-patch+json' --data " +
                   shell_quote(merge_patch);
        auto r = run_command(cmd + " " + shell_quote(base_url() + path));
        return std::atoi(r.output.c_str());
    }

    void apply(const std::string& name, const std::string& yaml) {
        kedge::test::write_file(dir_.file(name), yaml);
        kubectl_ok("apply -f " + dir_.file(name));
    }
};

TEST_P(AuthzTest, NodeCredentialsReachOnlyTheirOwnObjects) {
    apply("n1.yaml", "apiVersion: v1\nkind: Node\nmetadata: {name: edge1}\n");
    apply("n2.yaml", "apiVersion: v1\nkind: Node\nmetadata: {name: edge2}\n");
    apply("p1.yaml",
          "apiVersion: v1\nkind: Pod\nmetadata: {name: p1}\n"
          "spec: {nodeName: edge1, containers: [{name: c, image: x}]}\n");
    EXPECT_EQ(as("n1tok", "GET", "/api/v1/nodes/edge1"), 200);
    EXPECT_EQ(as("n1tok", "PATCH", "/api/v1/nodes/edge1/status", R"({"status":{}})"), 200);
    EXPECT_EQ(as("n1tok", "PATCH", "/api/v1/nodes/edge2/status", R"({"status":{}})"), 403);
    EXPECT_EQ(as("n1tok", "PATCH", "/api/v1/nodes/edge2", R"({"metadata":{"labels":{"a":"b"}}})"),
              403);
    // The pod graph is fed from the watch cache: give it a moment.
    EXPECT_TRUE(kedge::test::wait_until([&] {
        return as("n1tok", "PATCH", "/api/v1/namespaces/default/pods/p1/status",
                  R"({"status":{"phase":"Running"}})") == 200;
    }));
    EXPECT_EQ(as("n2tok", "PATCH", "/api/v1/namespaces/default/pods/p1/status",
                 R"({"status":{"phase":"Failed"}})"),
              403);
    EXPECT_EQ(kubectl_ok("get pod p1 -o jsonpath='{.status.phase}'"), "Running");
    EXPECT_EQ(as("nobody", "GET", "/api/v1/nodes"), 401);
}

TEST_P(AuthzTest, RbacBindingsTakeEffect) {
    EXPECT_EQ(as("bobtok", "GET", "/api/v1/namespaces/default/pods"), 403);
    apply("role.yaml",
          "apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\n"
          "metadata: {name: pod-reader, namespace: default}\n"
          "rules: [{apiGroups: [''], resources: [pods], verbs: [get, list]}]\n");
    // kubectl create rolebinding sends protobuf (client-go typed client).
    kubectl_ok("create rolebinding bob-reads --role=pod-reader --user=bob");
    EXPECT_EQ(kubectl_ok("get rolebinding bob-reads -o jsonpath='{.roleRef.name},{.subjects[0].name}'"),
              "pod-reader,bob");
    EXPECT_TRUE(kedge::test::wait_until(
        [&] { return as("bobtok", "GET", "/api/v1/namespaces/default/pods") == 200; }));
    EXPECT_EQ(as("bobtok", "GET", "/api/v1/namespaces/kube-system/pods"), 403);
    EXPECT_EQ(as("bobtok", "DELETE", "/api/v1/namespaces/default/pods/x"), 403);
    kubectl_ok("delete rolebinding bob-reads");
    EXPECT_TRUE(kedge::test::wait_until(
        [&] { return as("bobtok", "GET", "/api/v1/namespaces/default/pods") == 403; }));
}

KEDGE_APISERVER_BACKENDS(AuthzTest);

}  // namespace
}  // namespace kedge::apiserver::test
