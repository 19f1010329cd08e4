// The openssl CLI is the independent peer: what we issue must be accepted by it, and what it
// makes must be accepted by us.

#include <gtest/gtest.h>

#include "pki/files.hpp"
#include "pki/issue.hpp"
#include "pki/token.hpp"
#include "support/test_support.hpp"

namespace kedge::pki {
namespace {

using test::run_command;

std::string hex(std::string_view bytes) {
    static constexpr char kDigits[] = "0123456789abcdef";
    std::string out;
    for (unsigned char c : bytes) {
        out += kDigits[c >> 4];
        out += kDigits[c & 15];
    }
    return out;
}

bool contains(const std::string& haystack, std::string_view needle) {
    return haystack.find(needle) != std::string::npos;
}

// A CA, a server certificate for 127.0.0.1/localhost and an edge client certificate, all made
// by us with the real clock, written as PEM files into a temp dir.
class OpensslInterop : public ::testing::Test {
  protected:
    void SetUp() override {
        auto ca = create_ca();
        ASSERT_TRUE(ca) << ca.error().message();
        ca_.emplace(std::move(*ca));
        auto server = issue_server_cert(ca_->cert, ca_->key, {"KubeEdge", {"KubeEdge"}},
                                        {{"127.0.0.1"}, {"localhost"}});
        ASSERT_TRUE(server) << server.error().message();
        server_.emplace(std::move(*server));
        auto client_key = PrivateKey::generate();
        ASSERT_TRUE(client_key);
        auto csr = CertificateRequest::create(*client_key, {"system:node:edge1", {"system:nodes"}});
        ASSERT_TRUE(csr);
        auto client = sign_csr(ca_->cert, ca_->key, *csr);
        ASSERT_TRUE(client) << client.error().message();
        client_.emplace(CertAndKey{std::move(*client), std::move(*client_key)});

        ASSERT_TRUE(write_cert_pem(path("ca.pem"), ca_->cert));
        ASSERT_TRUE(write_key_pem(path("ca.key"), ca_->key));
        ASSERT_TRUE(write_cert_pem(path("server.pem"), server_->cert));
        ASSERT_TRUE(write_key_pem(path("server.key"), server_->key));
        ASSERT_TRUE(write_cert_pem(path("client.pem"), client_->cert));
        ASSERT_TRUE(write_key_pem(path("client.key"), client_->key));
    }

    std::string path(const std::string& name) const { return dir_.file(name); }

    test::TempDir dir_;
    std::optional<CertAndKey> ca_, server_, client_;
};

TEST_F(OpensslInterop, VerifyAcceptsServerAndClientCerts) {
    auto server = run_command("openssl verify -CAfile " + path("ca.pem") + " -purpose sslserver " +
                              path("server.pem"));
    EXPECT_EQ(server.exit_code, 0) << server.output;
    EXPECT_TRUE(contains(server.output, ": OK")) << server.output;
    auto client = run_command("openssl verify -CAfile " + path("ca.pem") + " -purpose sslclient " +
                              path("client.pem"));
    EXPECT_EQ(client.exit_code, 0) << client.output;
    // The client certificate is not for servers.
    auto wrong = run_command("openssl verify -CAfile " + path("ca.pem") + " -purpose sslserver " +
                             path("client.pem"));
    EXPECT_NE(wrong.exit_code, 0) << wrong.output;
    // And a different CA of the same name does not vouch for it.
    auto other = create_ca();
    ASSERT_TRUE(other);
    ASSERT_TRUE(write_cert_pem(path("other.pem"), other->cert));
    auto foreign =
        run_command("openssl verify -CAfile " + path("other.pem") + " " + path("server.pem"));
    EXPECT_NE(foreign.exit_code, 0) << foreign.output;
}

TEST_F(OpensslInterop, TextShowsSansUsagesAndCaFlags) {
    auto server = run_command("openssl x509 -noout -text -in " + path("server.pem"));
    ASSERT_EQ(server.exit_code, 0) << server.output;
    EXPECT_TRUE(contains(server.output, "DNS:localhost, IP Address:127.0.0.1")) << server.output;
    EXPECT_TRUE(contains(server.output, "TLS Web Server Authentication")) << server.output;
    EXPECT_FALSE(contains(server.output, "TLS Web Client Authentication")) << server.output;
    EXPECT_TRUE(contains(server.output, "CA:FALSE")) << server.output;
    EXPECT_TRUE(contains(server.output, "ecdsa-with-SHA256")) << server.output;
    EXPECT_TRUE(contains(server.output, "Subject: O = KubeEdge, CN = KubeEdge")) << server.output;

    auto client = run_command("openssl x509 -noout -text -in " + path("client.pem"));
    ASSERT_EQ(client.exit_code, 0) << client.output;
    EXPECT_TRUE(contains(client.output, "TLS Web Client Authentication")) << client.output;
    EXPECT_TRUE(contains(client.output, "Subject: O = system:nodes, CN = system:node:edge1"))
        << client.output;

    auto ca = run_command("openssl x509 -noout -text -in " + path("ca.pem"));
    ASSERT_EQ(ca.exit_code, 0) << ca.output;
    EXPECT_TRUE(contains(ca.output, "CA:TRUE")) << ca.output;
    EXPECT_TRUE(contains(ca.output, "Digital Signature, Certificate Sign, CRL Sign")) << ca.output;
    EXPECT_TRUE(contains(ca.output, "TLS Web Server Authentication, TLS Web Client Authentication"))
        << ca.output;
    EXPECT_TRUE(contains(ca.output, "Issuer: CN = KubeEdge")) << ca.output;
    EXPECT_TRUE(contains(ca.output, "ASN1 OID: prime256v1")) << ca.output;

    // openssl's own fingerprint equals the token's CA hash.
    auto fp = run_command("openssl x509 -noout -fingerprint -sha256 -in " + path("ca.pem"));
    ASSERT_EQ(fp.exit_code, 0);
    std::string digits;
    for (char c : fp.output.substr(fp.output.find('=') + 1)) {
        if (std::isxdigit(static_cast<unsigned char>(c))) {
            digits += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        }
    }
    EXPECT_EQ(digits, ca_->cert.sha256_hex());
}

TEST_F(OpensslInterop, SignsCsrMadeByOpensslReq) {
    auto made = run_command(
        "openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes"
        " -subj '/O=system:nodes/CN=system:node:edge9' -keyout " +
        path("edge9.key") + " -out " + path("edge9.csr"));
    ASSERT_EQ(made.exit_code, 0) << made.output;
    auto csr = CertificateRequest::from_pem(test::read_file(path("edge9.csr")));
    ASSERT_TRUE(csr) << csr.error().message();
    EXPECT_EQ(csr->subject(), (Subject{"system:node:edge9", {"system:nodes"}}));
    // The DER form, as an edge sends it in the GET /edge.crt body.
    auto csr_der = CertificateRequest::from_der(csr->to_der());
    ASSERT_TRUE(csr_der);
    auto cert = sign_csr(ca_->cert, ca_->key, *csr_der);
    ASSERT_TRUE(cert) << cert.error().message();
    ASSERT_TRUE(write_cert_pem(path("edge9.pem"), *cert));
    auto verify = run_command("openssl verify -CAfile " + path("ca.pem") + " -purpose sslclient " +
                              path("edge9.pem"));
    EXPECT_EQ(verify.exit_code, 0) << verify.output;
    // The certificate is for openssl's key.
    auto key = read_key_pem(path("edge9.key"));  // PKCS#8 "PRIVATE KEY" from openssl req
    ASSERT_TRUE(key) << key.error().message();
    EXPECT_TRUE(cert->matches_key(*key));
}

TEST_F(OpensslInterop, OurCsrPassesOpensslReqVerify) {
    auto key = PrivateKey::generate();
    ASSERT_TRUE(key);
    auto csr = CertificateRequest::create(*key, {"system:node:edge1", {"system:nodes"}},
                                          {{"10.1.2.3"}, {"edge1.example"}});
    ASSERT_TRUE(csr);
    test::write_file(path("our.csr"), csr->to_pem());
    test::write_file(path("our.csr.der"), csr->to_der());
    auto verify = run_command("openssl req -verify -noout -text -in " + path("our.csr"));
    EXPECT_EQ(verify.exit_code, 0) << verify.output;
    EXPECT_TRUE(contains(verify.output, "verify OK")) << verify.output;
    EXPECT_TRUE(contains(verify.output, "O = system:nodes, CN = system:node:edge1"))
        << verify.output;
    EXPECT_TRUE(contains(verify.output, "DNS:edge1.example, IP Address:10.1.2.3")) << verify.output;
    auto der = run_command("openssl req -verify -noout -inform DER -in " + path("our.csr.der"));
    EXPECT_EQ(der.exit_code, 0) << der.output;
}

TEST_F(OpensslInterop, OpensslReadsOurKeys) {
    auto text = run_command("openssl ec -check -noout -text -in " + path("client.key"));
    EXPECT_EQ(text.exit_code, 0) << text.output;
    EXPECT_TRUE(contains(text.output, "ASN1 OID: prime256v1")) << text.output;
    EXPECT_TRUE(contains(text.output, "EC Key valid.")) << text.output;
    // Its public key is the one in the certificate.
    auto key_pub = run_command("openssl pkey -pubout -in " + path("client.key"));
    auto cert_pub = run_command("openssl x509 -noout -pubkey -in " + path("client.pem"));
    ASSERT_EQ(key_pub.exit_code, 0);
    EXPECT_EQ(key_pub.output, cert_pub.output);
    // openssl re-encodes our SEC1 DER to exactly the same bytes (canonical, Go-compatible form).
    test::write_file(path("ca.key.der"), ca_->key.to_der());
    auto reenc = run_command("openssl ec -inform DER -in " + path("ca.key.der") +
                             " -outform DER -out " + path("ca.key.der2"));
    ASSERT_EQ(reenc.exit_code, 0) << reenc.output;
    EXPECT_EQ(test::read_file(path("ca.key.der2")), ca_->key.to_der());
}

TEST_F(OpensslInterop, ReadsOpensslMadePki) {
    auto pki = test::make_test_pki(dir_.path());
    auto ca = read_cert_pem(pki.ca_cert);
    auto ca_key = read_key_pem(pki.ca_key);
    auto client = read_cert_pem(pki.client_cert);
    auto server = read_cert_pem(pki.server_cert);
    auto other_client = read_cert_pem(pki.other_client_cert);
    ASSERT_TRUE(ca && ca_key && client && server && other_client);
    EXPECT_TRUE(ca->is_ca());
    EXPECT_TRUE(ca->matches_key(*ca_key));
    auto now = SystemClock::instance().now();
    EXPECT_TRUE(client->verify_chain(*ca, now, ExtKeyUsage::kClientAuth));
    EXPECT_EQ(client->subject(), (Subject{"system:node:edge1", {"system:nodes"}}));
    EXPECT_TRUE(server->verify_chain(*ca, now, ExtKeyUsage::kServerAuth));
    EXPECT_EQ(server->sans(), (SubjectAltNames{{"127.0.0.1"}, {"localhost"}}));
    auto foreign = other_client->verify_chain(*ca, now);
    ASSERT_FALSE(foreign);
    EXPECT_TRUE(foreign.error().is(errc::unauthorized));
    // An openssl-made CA can sign our CSRs too.
    auto key = PrivateKey::generate();
    ASSERT_TRUE(key);
    auto csr = CertificateRequest::create(*key, {"system:node:edge2", {"system:nodes"}});
    ASSERT_TRUE(csr);
    auto cert = sign_csr(*ca, *ca_key, *csr);
    ASSERT_TRUE(cert) << cert.error().message();
    EXPECT_TRUE(cert->verify_chain(*ca, now, ExtKeyUsage::kClientAuth));
}

TEST_F(OpensslInterop, ReadsEcparamGenkeyOutputWithParametersBlock) {
    auto made = run_command("openssl ecparam -name prime256v1 -genkey -out " + path("p.key"));
    ASSERT_EQ(made.exit_code, 0) << made.output;
    ASSERT_TRUE(contains(test::read_file(path("p.key")), "BEGIN EC PARAMETERS"));
    auto key = read_key_pem(path("p.key"));
    ASSERT_TRUE(key) << key.error().message();
    EXPECT_EQ(key->curve_name(), "prime256v1");
    auto der =
        run_command("openssl ec -in " + path("p.key") + " -outform DER -out " + path("p.der"));
    ASSERT_EQ(der.exit_code, 0) << der.output;
    EXPECT_EQ(key->to_der(), test::read_file(path("p.der")));
}

TEST_F(OpensslInterop, EncryptedKeyIsRefusedWithoutPrompting) {
    auto made = run_command(
        "openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -aes128 -pass pass:x"
        " -out " +
        path("enc.key"));
    ASSERT_EQ(made.exit_code, 0) << made.output;
    auto key = read_key_pem(path("enc.key"));
    ASSERT_FALSE(key);
    EXPECT_TRUE(key.error().is(errc::parse_error)) << key.error().message();
}

TEST_F(OpensslInterop, MutualTlsWithOpensslServerAndClient) {
    int port = test::free_port();
    std::string log = path("s_server.log");
    test::Process server(
        {"openssl", "s_server", "-accept", "127.0.0.1:" + std::to_string(port), "-cert",
         path("server.pem"), "-key", path("server.key"), "-CAfile", path("ca.pem"), "-Verify", "1",
         "-verify_return_error", "-www", "-naccept", "1"},
        log);
    ASSERT_TRUE(test::wait_until([&] { return contains(test::read_file(log), "ACCEPT"); }))
        << test::read_file(log);
    auto client = run_command(
        "printf 'GET / HTTP/1.0\\r\\n\\r\\n' | timeout 20 openssl s_client -connect 127.0.0.1:" +
        std::to_string(port) + " -CAfile " + path("ca.pem") + " -cert " + path("client.pem") +
        " -key " + path("client.key") + " -verify_return_error -verify_ip 127.0.0.1" +
        " -verify_hostname localhost");
    EXPECT_EQ(client.exit_code, 0) << client.output;
    EXPECT_TRUE(contains(client.output, "Verify return code: 0 (ok)")) << client.output;
    EXPECT_TRUE(test::wait_until([&] { return !server.running(); }));
    // The server verified our client certificate chain.
    EXPECT_TRUE(contains(test::read_file(log), "depth=0 O = system:nodes, CN = system:node:edge1"))
        << test::read_file(log);
}

TEST_F(OpensslInterop, TokenHmacMatchesOpensslDgst) {
    auto token =
        create_token(ca_->cert, ca_->key, SystemClock::instance().now() + kDefaultTokenLifetime);
    ASSERT_TRUE(token);
    auto parts = split_token(*token);
    ASSERT_TRUE(parts);
    EXPECT_EQ(parts->ca_hash, ca_->cert.sha256_hex());
    std::string signing_input = parts->jwt.substr(0, parts->jwt.rfind('.'));
    std::string signature = parts->jwt.substr(parts->jwt.rfind('.') + 1);
    test::write_file(path("signing_input"), signing_input);
    auto dgst = run_command(
        "openssl dgst -sha256 -mac HMAC -macopt hexkey:" + hex(ca_->key.to_der()) + " -binary " +
        path("signing_input") + " | openssl base64 -A | tr '+/' '-_' | tr -d '='");
    ASSERT_EQ(dgst.exit_code, 0) << dgst.output;
    EXPECT_EQ(dgst.output, signature);
}

TEST_F(OpensslInterop, TokenDecodesWithPythonStandardLibrary) {
    auto token =
        create_token(ca_->cert, ca_->key, Clock::time_point(std::chrono::seconds(2'000'000'000)));
    ASSERT_TRUE(token);
    test::write_file(path("ca.der"), ca_->cert.to_der());
    test::write_file(path("ca.key.der"), ca_->key.to_der());
    test::write_file(path("check.py"), R"(import base64, hashlib, hmac, json, sys
d = sys.argv[1]
token = open(d + "/token").read()
ca_hash, h, p, s = token.split(".")
assert ca_hash == hashlib.sha256(open(d + "/ca.der", "rb").read()).hexdigest(), "ca hash"
dec = lambda x: base64.urlsafe_b64decode(x + "=" * (-len(x) % 4))
assert json.loads(dec(h)) == {"alg": "HS256", "typ": "JWT"}, dec(h)
assert json.loads(dec(p)) == {"exp": 2000000000}, dec(p)
mac = hmac.new(open(d + "/ca.key.der", "rb").read(), (h + "." + p).encode(), hashlib.sha256)
assert hmac.compare_digest(mac.digest(), dec(s)), "signature"
print("token ok")
)");
    test::write_file(path("token"), *token);
    auto r = run_command("python3 " + path("check.py") + " " + dir_.path());
    EXPECT_EQ(r.exit_code, 0) << r.output;
    EXPECT_TRUE(contains(r.output, "token ok")) << r.output;
}

}  // namespace
}  // namespace kedge::pki
