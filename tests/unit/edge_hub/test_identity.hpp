#pragma once
// A CA, a cloudcore-like server certificate for 127.0.0.1 and node certificates, made with our
// pki library (the edge code under test only reads and uses them).

#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "edge/certs/edge_certs.hpp"
#include "pki/certificate_request.hpp"
#include "pki/issue.hpp"

namespace kedge::edge::test {

struct TestCa {
    pki::CertAndKey ca;
    pki::CertAndKey server;

    static TestCa make() {
        auto ca = pki::create_ca();
        EXPECT_TRUE(ca) << ca.error().message();
        auto server = pki::issue_server_cert(ca->cert, ca->key, {"KubeEdge", {"KubeEdge"}},
                                             pki::SubjectAltNames{{"127.0.0.1"}, {}});
        EXPECT_TRUE(server) << server.error().message();
        return {*ca, *server};
    }

    // A node certificate as cloudcore issues it (CN system:node:<cn_node>).
    NodeCredentials node_cert(const std::string& cn_node,
                              std::chrono::seconds lifetime = std::chrono::hours(24 * 365),
                              Clock::time_point now = SystemClock::instance().now()) const {
        auto key = pki::PrivateKey::generate();
        EXPECT_TRUE(key);
        auto csr = pki::CertificateRequest::create(
            *key, pki::Subject{"system:node:" + cn_node, {"system:nodes"}});
        EXPECT_TRUE(csr);
        pki::SignOptions o;
        o.lifetime = lifetime;
        o.now = now;
        auto cert = pki::sign_csr(ca.cert, ca.key, *csr, o);
        EXPECT_TRUE(cert) << cert.error().message();
        return {*cert, *key};
    }
};

}  // namespace kedge::edge::test
