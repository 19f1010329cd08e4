#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>

#include "kube/client/config.hpp"
#include "support/test_support.hpp"

namespace kedge::kube::client {
namespace {

using kedge::test::TempDir;
using kedge::test::write_file;

// base64 of "CA-PEM", "CERT-PEM", "KEY-PEM".
constexpr const char* kCaB64 = "Q0EtUEVN";
constexpr const char* kCertB64 = "Q0VSVC1QRU0=";
constexpr const char* kKeyB64 = "S0VZLVBFTQ==";

std::string embedded_kubeconfig() {
    return std::string(R"(apiVersion: v1
kind: Config
clusters:
- name: kedge
  cluster:
    server: https://127.0.0.1:6443
    certificate-authority-data: )") +
           kCaB64 + R"(
- name: other
  cluster:
    server: https://10.0.0.1:443/
    insecure-skip-tls-verify: true
users:
- name: admin
  user:
    client-certificate-data: )" +
           kCertB64 + R"(
    client-key-data: )" +
           kKeyB64 + R"(
- name: robot
  user:
    token: abc.def
contexts:
- name: kedge
  context:
    cluster: kedge
    user: admin
- name: other
  context:
    cluster: other
    user: robot
current-context: kedge
)";
}

TEST(Kubeconfig, EmbeddedDataAndCurrentContext) {
    auto c = parse_kubeconfig(embedded_kubeconfig(), "/nonexistent");
    ASSERT_TRUE(c) << c.error().message();
    EXPECT_EQ(c->server, "https://127.0.0.1:6443");
    EXPECT_EQ(c->ca_pem, "CA-PEM");
    EXPECT_EQ(c->client_cert_pem, "CERT-PEM");
    EXPECT_EQ(c->client_key_pem, "KEY-PEM");
    EXPECT_TRUE(c->bearer_token.empty());
    EXPECT_FALSE(c->insecure_skip_tls_verify);
}

TEST(Kubeconfig, NamedContextWinsOverCurrent) {
    auto c = parse_kubeconfig(embedded_kubeconfig(), "/nonexistent", "other");
    ASSERT_TRUE(c) << c.error().message();
    EXPECT_EQ(c->server, "https://10.0.0.1:443");  // trailing slash dropped
    EXPECT_TRUE(c->insecure_skip_tls_verify);
    EXPECT_EQ(c->bearer_token, "abc.def");
    EXPECT_TRUE(c->client_cert_pem.empty());
    EXPECT_TRUE(c->ca_pem.empty());
}

TEST(Kubeconfig, UnknownContextNamesIt) {
    auto c = parse_kubeconfig(embedded_kubeconfig(), "/nonexistent", "prod");
    ASSERT_FALSE(c);
    EXPECT_TRUE(c.error().is(errc::invalid_argument));
    EXPECT_NE(c.error().detail.find("context \"prod\" not found"), std::string::npos)
        << c.error().detail;
}

TEST(Kubeconfig, FilePathsResolveAgainstTheKubeconfigDirectory) {
    TempDir dir;
    std::filesystem::create_directories(dir.file("conf/pki"));
    write_file(dir.file("conf/pki/ca.crt"), "CA FROM FILE");
    write_file(dir.file("conf/pki/admin.crt"), "CERT FROM FILE");
    write_file(dir.file("abs.key"), "KEY FROM FILE");
    write_file(dir.file("conf/token"), "secret-token\n");
    write_file(dir.file("conf/kubeconfig"), R"(apiVersion: v1
clusters:
- name: c
  cluster:
    server: https://localhost:6443
    certificate-authority: pki/ca.crt
    tls-server-name: api.example
users:
- name: u
  user:
    client-certificate: pki/admin.crt
    client-key: )" + dir.file("abs.key") + R"(
    tokenFile: token
contexts:
- name: ctx
  context: {cluster: c, user: u}
current-context: ctx
)");
    // Loaded from another working directory: the paths still resolve.
    auto c = load_kubeconfig(dir.file("conf/kubeconfig"));
    ASSERT_TRUE(c) << c.error().message();
    EXPECT_EQ(c->ca_pem, "CA FROM FILE");
    EXPECT_EQ(c->client_cert_pem, "CERT FROM FILE");
    EXPECT_EQ(c->client_key_pem, "KEY FROM FILE");
    EXPECT_EQ(c->bearer_token, "secret-token");  // newline trimmed
    EXPECT_EQ(c->tls_server_name, "api.example");
}

TEST(Kubeconfig, InlineTokenWinsOverTokenFile) {
    auto c = parse_kubeconfig(R"(
clusters: [{name: c, cluster: {server: "http://127.0.0.1:8080"}}]
users: [{name: u, user: {token: inline, tokenFile: /does/not/matter}}]
contexts: [{name: x, context: {cluster: c, user: u}}]
current-context: x
)",
                              "/");
    ASSERT_TRUE(c) << c.error().message();
    EXPECT_EQ(c->bearer_token, "inline");
}

TEST(Kubeconfig, ContextWithoutUserIsAnonymous) {
    auto c = parse_kubeconfig(R"(
clusters: [{name: c, cluster: {server: "http://127.0.0.1:8080"}}]
contexts: [{name: x, context: {cluster: c}}]
current-context: x
)",
                              "/");
    ASSERT_TRUE(c) << c.error().message();
    EXPECT_TRUE(c->bearer_token.empty());
    EXPECT_TRUE(c->client_cert_pem.empty());
}

struct BadCase {
    const char* name;
    std::string yaml;
    errc code;
    const char* must_mention;
};

TEST(Kubeconfig, MissingOrBadEntriesGiveClearErrors) {
    const std::string ctx = "contexts: [{name: x, context: {cluster: c, user: u}}]\n";
    const std::string cluster = "clusters: [{name: c, cluster: {server: 'https://h:1'}}]\n";
    const std::string user = "users: [{name: u, user: {token: t}}]\n";
    const std::vector<BadCase> cases = {
        {"no current context", cluster + user + ctx, errc::invalid_argument, "current-context"},
        {"missing cluster", user + ctx + "current-context: x\n", errc::invalid_argument,
         "cluster \"c\" not found in clusters"},
        {"missing user", cluster + ctx + "current-context: x\n", errc::invalid_argument,
         "user \"u\" not found in users"},
        {"context without cluster",
         cluster + user + "contexts: [{name: x, context: {user: u}}]\ncurrent-context: x\n",
         errc::invalid_argument, "contexts[x].context.cluster is missing"},
        {"cluster without server",
         "clusters: [{name: c, cluster: {insecure-skip-tls-verify: true}}]\n" + user + ctx +
             "current-context: x\n",
         errc::invalid_argument, "clusters[c].cluster.server is missing"},
        {"bad base64",
         "clusters: [{name: c, cluster: {server: 'https://h:1', certificate-authority-data: "
         "'!!!'}}]\n" +
             user + ctx + "current-context: x\n",
         errc::invalid_argument, "certificate-authority-data is not valid base64"},
        {"certificate file missing",
         "clusters: [{name: c, cluster: {server: 'https://h:1', certificate-authority: "
         "nope/ca.crt}}]\n" +
             user + ctx + "current-context: x\n",
         errc::not_found, "nope/ca.crt"},
        {"cert without key",
         cluster + "users: [{name: u, user: {client-certificate-data: " + kCertB64 + "}}]\n" + ctx +
             "current-context: x\n",
         errc::invalid_argument, "without the matching key"},
        {"exec plugin",
         cluster + "users: [{name: u, user: {exec: {command: aws}}}]\n" + ctx +
             "current-context: x\n",
         errc::invalid_argument, "users[u].user.exec is not supported"},
        {"not yaml", "clusters: [unclosed\n", errc::parse_error, "not valid YAML"},
        {"not a map", "- a\n- b\n", errc::parse_error, "not a YAML map"},
        {"clusters not a list", "clusters: {a: b}\n" + user + ctx + "current-context: x\n",
         errc::invalid_argument, "clusters must be a list"},
    };
    for (const auto& bc : cases) {
        auto c = parse_kubeconfig(bc.yaml, "/tmp/kedge-kubeconfig-test-dir");
        ASSERT_FALSE(c) << bc.name;
        EXPECT_TRUE(c.error().is(bc.code)) << bc.name << ": " << c.error().message();
        EXPECT_NE(c.error().detail.find(bc.must_mention), std::string::npos)
            << bc.name << ": " << c.error().detail;
    }
}

TEST(Kubeconfig, LoadNamesTheFile) {
    TempDir dir;
    auto missing = load_kubeconfig(dir.file("absent"));
    ASSERT_FALSE(missing);
    EXPECT_TRUE(missing.error().is(errc::not_found));
    EXPECT_NE(missing.error().detail.find(dir.file("absent")), std::string::npos);

    write_file(dir.file("kc"), "clusters: []\ncurrent-context: x\n");
    auto bad = load_kubeconfig(dir.file("kc"));
    ASSERT_FALSE(bad);
    EXPECT_NE(bad.error().detail.find(dir.file("kc")), std::string::npos) << bad.error().detail;
    EXPECT_NE(bad.error().detail.find("context \"x\" not found"), std::string::npos);
}

TEST(InClusterConfig, ReadsEnvironmentAndServiceAccountFiles) {
    TempDir dir;
    write_file(dir.file("token"), "sa-token\n");
    write_file(dir.file("ca.crt"), "CLUSTER CA");
    ::setenv("KUBERNETES_SERVICE_HOST", "fd00::1", 1);
    ::setenv("KUBERNETES_SERVICE_PORT", "443", 1);
    auto c = in_cluster_config(dir.path());
    ::unsetenv("KUBERNETES_SERVICE_HOST");
    ::unsetenv("KUBERNETES_SERVICE_PORT");
    ASSERT_TRUE(c) << c.error().message();
    EXPECT_EQ(c->server, "https://[fd00::1]:443");
    EXPECT_EQ(c->bearer_token, "sa-token");
    EXPECT_EQ(c->ca_pem, "CLUSTER CA");

    auto outside = in_cluster_config(dir.path());
    ASSERT_FALSE(outside);
    EXPECT_TRUE(outside.error().is(errc::not_found));
}

}  // namespace
}  // namespace kedge::kube::client
