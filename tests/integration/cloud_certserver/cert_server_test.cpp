// The :10002 join server against clients no one here wrote: curl fetches and posts, the
// openssl CLI makes the CSRs and reads the certificates and hashes that come back.
#include "cloud/certserver/cert_server.hpp"

#include <gtest/gtest.h>

#include <set>

#include "pki/token.hpp"
#include "support/test_support.hpp"
#include "unit/net_http/http_test_util.hpp"

namespace kedge::cloud {
namespace {

using namespace std::chrono_literals;
using boost::asio::awaitable;

class CertServerTest : public ::testing::Test {
protected:
    void SetUp() override { start(); }
    void TearDown() override {
        if (server_) server_->stop();
    }

    void start(CertServerOptions opts = {}) {
        CloudPkiOptions po;
        po.server_sans.ips = {"127.0.0.1"};
        po.server_sans.dns_names = {"localhost"};
        auto p = io_.run(CloudPki::load_or_create(store_, po, SystemClock::instance()));
        ASSERT_TRUE(p) << p.error().message();
        pki_ = *p;
        opts.address = "127.0.0.1";
        opts.port = 0;
        opts.edge_cert_lifetime = std::chrono::hours(24 * 30);
        server_ = std::make_unique<CertServer>(io_.executor(), pki_, opts,
                                               [this](std::string node) -> awaitable<Result<bool>> {
                                                   co_return nodes_.count(node) > 0;
                                               });
        auto r = server_->start();
        ASSERT_TRUE(r) << r.error().message();
        // The edge's first step: fetch the CA without trusting the server yet.
        auto ca =
            test::run_command(curl_insecure("-o " + dir_.file("ca.der") + " " + url("/ca.crt")));
        ASSERT_EQ(ca.exit_code, 0) << ca.output;
        auto pem = test::run_command("openssl x509 -inform DER -in " + dir_.file("ca.der") +
                                     " -out " + dir_.file("ca.pem"));
        ASSERT_EQ(pem.exit_code, 0) << pem.output;
    }

    std::string url(const std::string& path) const {
        return "https://127.0.0.1:" + std::to_string(server_->port()) + path;
    }
    std::string curl_insecure(const std::string& args) const {
        return "curl -sS --max-time 10 -k " + args;
    }
    // curl pinned to the downloaded CA, printing the HTTP status last.
    std::string curl(const std::string& args) const {
        return "curl -sS --max-time 10 --cacert " + dir_.file("ca.pem") + " -w '%{http_code}' " +
               args;
    }
    std::string jwt() const { return pki::split_token(pki_->token()).value().jwt; }

    // An ECDSA P-256 key and DER CSR made by openssl: <name>.key, <name>.csr.
    void make_csr(const std::string& name, const std::string& subject) {
        auto r = test::run_command(
            "openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout " +
            dir_.file(name + ".key") + " -subj '" + subject + "' -outform DER -out " +
            dir_.file(name + ".csr") + " 2>&1");
        ASSERT_EQ(r.exit_code, 0) << r.output;
    }

    // GET /edge.crt the way upstream edgecore does (CSR as the body of a GET). Returns the
    // status; the body lands in <out>.
    std::string request_cert(const std::string& csr, const std::string& node,
                             const std::string& extra, const std::string& out) {
        auto r = test::run_command(curl("-X GET --data-binary @" + dir_.file(csr + ".csr") +
                                        " -H 'NodeName: " + node + "' " + extra + " -o " +
                                        dir_.file(out) + " " + url("/edge.crt")));
        return r.output;
    }
    std::string bearer(const std::string& token) const {
        return "-H 'Authorization: Bearer " + token + "'";
    }
    // Subject, issuer and dates of a DER certificate, as openssl prints them.
    std::string x509_text(const std::string& der_file, const std::string& fields) {
        auto r = test::run_command("openssl x509 -inform DER -in " + dir_.file(der_file) +
                                   " -noout " + fields + " 2>&1");
        EXPECT_EQ(r.exit_code, 0) << r.output;
        return r.output;
    }
    std::string body(const std::string& file) { return test::read_file(dir_.file(file)); }

    test::TempDir dir_;
    FilePkiStore store_{dir_.file("secrets")};
    test::IoThread io_;
    std::shared_ptr<CloudPki> pki_;
    std::unique_ptr<CertServer> server_;
    std::set<std::string> nodes_{"edge1"};
};

TEST_F(CertServerTest, CaCertificateMatchesTheTokenHash) {
    auto subject = x509_text("ca.der", "-subject");
    EXPECT_NE(subject.find("CN = KubeEdge"), std::string::npos) << subject;
    // The pin check an edge does: sha256 of the DER it downloaded equals the token prefix.
    auto digest = test::run_command("openssl dgst -sha256 -r " + dir_.file("ca.der"));
    ASSERT_EQ(digest.exit_code, 0) << digest.output;
    EXPECT_EQ(digest.output.substr(0, 64), pki_->token().substr(0, 64));
    EXPECT_EQ(pki_->token()[64], '.');
}

TEST_F(CertServerTest, GoodTokenGetsASignedCertificate) {
    make_csr("edge1", "/O=system:nodes/CN=system:node:edge1");
    EXPECT_EQ(request_cert("edge1", "edge1", bearer(jwt()), "edge1.der"), "200");
    auto text = x509_text("edge1.der", "-subject -issuer -startdate -enddate");
    EXPECT_NE(text.find("subject=O = system:nodes, CN = system:node:edge1"), std::string::npos)
        << text;
    EXPECT_NE(text.find("issuer=CN = KubeEdge"), std::string::npos) << text;
    // Valid for edgeCertSigningDuration (30 days here): expires within a day of now + 30 d.
    auto end_in_29d = test::run_command("openssl x509 -inform DER -in " + dir_.file("edge1.der") +
                                        " -noout -checkend " + std::to_string(29 * 86400));
    auto end_in_31d = test::run_command("openssl x509 -inform DER -in " + dir_.file("edge1.der") +
                                        " -noout -checkend " + std::to_string(31 * 86400));
    EXPECT_EQ(end_in_29d.exit_code, 0) << end_in_29d.output;
    EXPECT_NE(end_in_31d.exit_code, 0) << end_in_31d.output;
    // It chains to the CA the edge downloaded, and is for the key in the CSR.
    ASSERT_EQ(test::run_command("openssl x509 -inform DER -in " + dir_.file("edge1.der") +
                                " -out " + dir_.file("edge1.pem"))
                  .exit_code,
              0);
    auto verify = test::run_command("openssl verify -CAfile " + dir_.file("ca.pem") +
                                    " -purpose sslclient " + dir_.file("edge1.pem"));
    EXPECT_EQ(verify.exit_code, 0) << verify.output;
    auto cert_pub =
        test::run_command("openssl x509 -in " + dir_.file("edge1.pem") + " -noout -pubkey");
    auto key_pub = test::run_command("openssl pkey -in " + dir_.file("edge1.key") + " -pubout");
    EXPECT_EQ(cert_pub.output, key_pub.output);
    EXPECT_EQ(server_->certificates_issued(), 1u);
}

TEST_F(CertServerTest, FullTokenAndPostAreAcceptedToo) {
    make_csr("edge1", "/O=system:nodes/CN=system:node:edge1");
    auto r = test::run_command(curl("--data-binary @" + dir_.file("edge1.csr") +
                                    " -H 'NodeName: edge1' " + bearer(pki_->token()) + " -o " +
                                    dir_.file("c.der") + " " + url("/edge.crt")));
    EXPECT_EQ(r.output, "200");
}

TEST_F(CertServerTest, ExtKeyUsagesHeaderIsHonoured) {
    make_csr("edge1", "/O=system:nodes/CN=system:node:edge1");
    EXPECT_EQ(request_cert("edge1", "edge1", bearer(jwt()) + " -H 'ExtKeyUsages: [1,2]'", "c.der"),
              "200");
    auto text = x509_text("c.der", "-ext extendedKeyUsage");
    EXPECT_NE(text.find("TLS Web Server Authentication"), std::string::npos) << text;
    EXPECT_NE(text.find("TLS Web Client Authentication"), std::string::npos) << text;
    EXPECT_EQ(request_cert("edge1", "edge1", bearer(jwt()) + " -H 'ExtKeyUsages: [99]'", "e"),
              "400");
    EXPECT_EQ(request_cert("edge1", "edge1", bearer(jwt()) + " -H 'ExtKeyUsages: nope'", "e"),
              "400");
}

TEST_F(CertServerTest, TamperedTokenIs401) {
    make_csr("edge1", "/O=system:nodes/CN=system:node:edge1");
    std::string t = jwt();
    t[t.size() - 2] = t[t.size() - 2] == 'A' ? 'B' : 'A';  // one signature character
    EXPECT_EQ(request_cert("edge1", "edge1", bearer(t), "e"), "401");
    EXPECT_NE(body("e").find("token rejected"), std::string::npos) << body("e");
    // A changed claim with the old signature.
    std::string payload_changed = jwt();
    auto dot = payload_changed.find('.');
    payload_changed[dot + 3] = payload_changed[dot + 3] == 'x' ? 'y' : 'x';
    EXPECT_EQ(request_cert("edge1", "edge1", bearer(payload_changed), "e"), "401");
    EXPECT_EQ(request_cert("edge1", "edge1", bearer("not.a.jwt"), "e"), "401");
    EXPECT_EQ(request_cert("edge1", "edge1", "-H 'Authorization: Basic abc'", "e"), "401");
    EXPECT_EQ(server_->certificates_issued(), 0u);
}

TEST_F(CertServerTest, ExpiredTokenIs401) {
    make_csr("edge1", "/O=system:nodes/CN=system:node:edge1");
    auto expired = pki::create_jwt(pki_->ca_key(), SystemClock::instance().now() - 1h);
    ASSERT_TRUE(expired);
    EXPECT_EQ(request_cert("edge1", "edge1", bearer(*expired), "e"), "401");
    EXPECT_NE(body("e").find("token rejected"), std::string::npos) << body("e");
}

TEST_F(CertServerTest, MissingCredentialsOrNodeName) {
    make_csr("edge1", "/O=system:nodes/CN=system:node:edge1");
    EXPECT_EQ(request_cert("edge1", "edge1", "", "e"), "401");
    auto r =
        test::run_command(curl("-X GET --data-binary @" + dir_.file("edge1.csr") + " " +
                               bearer(jwt()) + " -o " + dir_.file("e") + " " + url("/edge.crt")));
    EXPECT_EQ(r.output, "400");
    EXPECT_NE(body("e").find("missing NodeName"), std::string::npos) << body("e");
    EXPECT_EQ(request_cert("edge1", "Edge_1", bearer(jwt()), "e"), "400");
}

TEST_F(CertServerTest, SubjectMustBeTheRequestedNode) {
    make_csr("edge2", "/O=system:nodes/CN=system:node:edge2");
    EXPECT_EQ(request_cert("edge2", "edge1", bearer(jwt()), "e"), "403");
    EXPECT_NE(body("e").find("must ask for 'O=system:nodes, CN=system:node:edge1'"),
              std::string::npos)
        << body("e");
    make_csr("wrong_org", "/O=system:masters/CN=system:node:edge1");
    EXPECT_EQ(request_cert("wrong_org", "edge1", bearer(jwt()), "e"), "403");
    make_csr("legacy", "/C=CN/ST=Zhejiang/L=Hangzhou/O=kubeEdge/CN=kubeedge.io");
    EXPECT_EQ(request_cert("legacy", "edge1", bearer(jwt()), "e"), "403");
    EXPECT_EQ(server_->certificates_issued(), 0u);
    EXPECT_GE(server_->requests_refused(), 3u);
}

TEST_F(CertServerTest, LegacySubjectSwitchIssuesForTheNodeName) {
    server_->stop();
    CertServerOptions o;
    o.allow_legacy_csr_subject = true;
    start(o);
    make_csr("legacy", "/C=CN/ST=Zhejiang/L=Hangzhou/O=kubeEdge/CN=kubeedge.io");
    EXPECT_EQ(request_cert("legacy", "edge1", bearer(jwt()), "c.der"), "200");
    auto text = x509_text("c.der", "-subject");
    EXPECT_NE(text.find("CN = system:node:edge1"), std::string::npos) << text;
}

TEST_F(CertServerTest, GarbageAndOversizedBodiesAreRefused) {
    test::write_file(dir_.file("junk.csr"), "this is not DER");
    EXPECT_EQ(request_cert("junk", "edge1", bearer(jwt()), "e"), "400");
    EXPECT_NE(body("e").find("not a DER certificate request"), std::string::npos) << body("e");
    test::write_file(dir_.file("big.csr"), std::string(1024 * 1024 + 1, 'x'));
    EXPECT_EQ(request_cert("big", "edge1", bearer(jwt()), "e"), "413");
    test::write_file(dir_.file("empty.csr"), "");
    EXPECT_EQ(request_cert("empty", "edge1", bearer(jwt()), "e"), "400");
    // The server is still fine.
    make_csr("edge1", "/O=system:nodes/CN=system:node:edge1");
    EXPECT_EQ(request_cert("edge1", "edge1", bearer(jwt()), "c.der"), "200");
}

TEST_F(CertServerTest, RotationWithTheNodesOwnCertificate) {
    make_csr("edge1", "/O=system:nodes/CN=system:node:edge1");
    ASSERT_EQ(request_cert("edge1", "edge1", bearer(jwt()), "edge1.der"), "200");
    ASSERT_EQ(test::run_command("openssl x509 -inform DER -in " + dir_.file("edge1.der") +
                                " -out " + dir_.file("edge1.pem"))
                  .exit_code,
              0);
    const std::string client =
        "--cert " + dir_.file("edge1.pem") + " --key " + dir_.file("edge1.key");

    // A fresh key, same identity, no token: the certificate is the credential.
    make_csr("edge1b", "/O=system:nodes/CN=system:node:edge1");
    EXPECT_EQ(request_cert("edge1b", "edge1", client, "rotated.der"), "200");
    auto text = x509_text("rotated.der", "-subject");
    EXPECT_NE(text.find("CN = system:node:edge1"), std::string::npos) << text;

    // edge1's certificate cannot get one for edge2, whichever way it asks.
    make_csr("edge2", "/O=system:nodes/CN=system:node:edge2");
    EXPECT_EQ(request_cert("edge2", "edge2", client, "e"), "403");
    EXPECT_NE(body("e").find("client certificate is for 'system:node:edge1'"), std::string::npos)
        << body("e");
    EXPECT_EQ(request_cert("edge2", "edge1", client, "e"), "403");
    EXPECT_EQ(server_->certificates_issued(), 2u);
}

TEST_F(CertServerTest, CertificateFromAnotherCaCannotRotate) {
    ASSERT_EQ(test::run_command("mkdir -p " + dir_.file("other")).exit_code, 0);
    auto other = test::make_test_pki(dir_.file("other"));
    make_csr("edge1", "/O=system:nodes/CN=system:node:edge1");
    auto r = test::run_command(curl("-X GET --data-binary @" + dir_.file("edge1.csr") +
                                    " -H 'NodeName: edge1' --cert " + other.client_cert +
                                    " --key " + other.client_key + " -o " + dir_.file("e") + " " +
                                    url("/edge.crt")));
    // Refused in the TLS handshake: the certificate does not chain to this CA.
    EXPECT_NE(r.exit_code, 0) << r.output;
    EXPECT_EQ(r.output.find("200"), std::string::npos) << r.output;
    EXPECT_EQ(server_->certificates_issued(), 0u);
}

TEST_F(CertServerTest, NodeCheck) {
    auto found = test::run_command(curl("-o " + dir_.file("f") + " " + url("/node/edge1")));
    EXPECT_EQ(found.output, "200");
    EXPECT_EQ(body("f"), "Node found");
    auto missing = test::run_command(curl("-o " + dir_.file("m") + " " + url("/node/ghost")));
    EXPECT_EQ(missing.output, "404");
    EXPECT_EQ(body("m"), "Node not found");
    auto bad = test::run_command(curl("-o " + dir_.file("b") + " " + url("/node/UPPER_case")));
    EXPECT_EQ(bad.output, "400");
}

TEST_F(CertServerTest, SecondCloudcoreOnTheSameStoreServesTheSameCa) {
    test::IoThread io2;
    auto p2 = io2.run(CloudPki::load_or_create(store_, {}, SystemClock::instance()));
    ASSERT_TRUE(p2);
    EXPECT_EQ((*p2)->ca_cert().to_der(), test::read_file(dir_.file("ca.der")));
    EXPECT_EQ((*p2)->token(), pki_->token());
}

}  // namespace
}  // namespace kedge::cloud
