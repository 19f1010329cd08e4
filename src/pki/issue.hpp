#pragma once
// Issuing certificates the way cloudcore does: the self-signed cluster CA, cloudcore's server
// certificate, and edge node certificates signed from their CSRs. Every certificate gets a random
// 128-bit serial and a not_before kClockSkewAllowance in the past.

#include <chrono>
#include <optional>
#include <string_view>
#include <vector>

#include "base/clock.hpp"
#include "base/error.hpp"
#include "pki/certificate.hpp"
#include "pki/certificate_request.hpp"
#include "pki/private_key.hpp"
#include "pki/types.hpp"

namespace kedge::pki {

// A certificate with the private key it was issued for.
struct CertAndKey {
    Certificate cert;
    PrivateKey key;
};

// A new ECDSA P-256 key and a self-signed CA certificate for it: CN=cn, CA:TRUE,
// keyCertSign|cRLSign|digitalSignature, extended usages serverAuth+clientAuth.
Result<CertAndKey> create_ca(std::string_view cn = "KubeEdge",
                             std::chrono::seconds lifetime = kDefaultCaLifetime,
                             Clock::time_point now = SystemClock::instance().now());

// A new ECDSA P-256 key and a certificate for it signed by the CA, extended usage serverAuth,
// with sans (cloudcore: subject CN=KubeEdge O=KubeEdge, SANs = advertiseAddress + dnsNames).
Result<CertAndKey> issue_server_cert(const Certificate& ca_cert, const PrivateKey& ca_key,
                                     const Subject& subject, const SubjectAltNames& sans,
                                     std::chrono::seconds lifetime = kDefaultLeafLifetime,
                                     Clock::time_point now = SystemClock::instance().now());

// How sign_csr turns a request into a certificate.
struct SignOptions {
    std::chrono::seconds lifetime = kDefaultLeafLifetime;
    // Upstream cloudcore's default when the edge sends no "ExtKeyUsages" header.
    std::vector<ExtKeyUsage> ext_key_usages = {ExtKeyUsage::kClientAuth};
    // When set, the certificate gets this subject instead of the CSR's.
    std::optional<Subject> subject_override;
    // When set, the CSR's subject must equal this (else forbidden), e.g. the subject of the
    // client certificate that authenticated a rotation request.
    std::optional<Subject> required_subject;
    // Copy the CSR's requested SANs into the certificate (upstream cloudcore does not).
    bool copy_sans = false;
    // Issue time; the system clock when unset.
    std::optional<Clock::time_point> now;
};

// Verifies the CSR's self-signature (unauthorized if it does not verify) and signs a
// certificate for its public key: CA:FALSE, digitalSignature|keyEncipherment, the requested
// extended usages.
Result<Certificate> sign_csr(const Certificate& ca_cert, const PrivateKey& ca_key,
                             const CertificateRequest& csr, const SignOptions& options = {});

}  // namespace kedge::pki
