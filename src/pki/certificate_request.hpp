#pragma once
// A PKCS#10 certificate signing request, immutable and cheap to copy. The edge makes one for its
// node identity; cloudcore reads it from GET /edge.crt and signs it after checking its signature.

#include <openssl/types.h>

#include <memory>
#include <string>
#include <string_view>

#include "base/error.hpp"
#include "pki/types.hpp"

// openssl/x509.h is heavy; the same typedef is all the header needs.
typedef struct X509_req_st X509_REQ;

namespace kedge::pki {

class PrivateKey;

class CertificateRequest {
  public:
    // A request for subject (and optionally SANs, as an extensionRequest), signed with key.
    static Result<CertificateRequest> create(const PrivateKey& key, const Subject& subject,
                                             const SubjectAltNames& sans = {});
    // Parses DER (trailing bytes are refused). Does not check the signature: see
    // verify_signature().
    static Result<CertificateRequest> from_der(std::string_view der);
    // Parses the first "CERTIFICATE REQUEST" (or "NEW CERTIFICATE REQUEST") PEM block.
    static Result<CertificateRequest> from_pem(std::string_view pem);

    const std::string& to_der() const noexcept;
    std::string to_pem() const;

    Subject subject() const;
    // SANs from the extensionRequest attribute, empty if none.
    SubjectAltNames sans() const;
    // The request is signed by the private half of the public key it carries (proof of
    // possession). unauthorized if not.
    Result<void> verify_signature() const;
    bool matches_key(const PrivateKey& key) const noexcept;

    X509_REQ* native() const noexcept;

  private:
    struct Impl;
    explicit CertificateRequest(std::shared_ptr<const Impl> impl) : impl_(std::move(impl)) {}
    static Result<CertificateRequest> adopt(X509_REQ* req);

    std::shared_ptr<const Impl> impl_;
};

}  // namespace kedge::pki
