#pragma once
// An ECDSA private key (P-256 when we make it), immutable and cheap to copy (copies share the
// OpenSSL handle). Encoded as SEC1 "EC PRIVATE KEY" by default because that is how KubeEdge stores
// edge keys and how Go's x509.MarshalECPrivateKey encodes the CA key (whose DER keys join tokens).

#include <openssl/types.h>

#include <memory>
#include <string>
#include <string_view>

#include "base/error.hpp"

namespace kedge::pki {

class PrivateKey {
  public:
    // A fresh ECDSA P-256 key.
    static Result<PrivateKey> generate();
    // Reads "EC PRIVATE KEY" (SEC1) or "PRIVATE KEY" (PKCS#8) PEM; encrypted keys are refused.
    static Result<PrivateKey> from_pem(std::string_view pem);
    // Reads SEC1 ECPrivateKey DER or PKCS#8 DER; trailing bytes are refused.
    static Result<PrivateKey> from_der(std::string_view der);

    // SEC1 / RFC 5915 ECPrivateKey DER, byte-identical to Go's x509.MarshalECPrivateKey.
    const std::string& to_der() const noexcept;
    // "-----BEGIN EC PRIVATE KEY-----" PEM of to_der().
    std::string to_pem() const;
    // "-----BEGIN PRIVATE KEY-----" (unencrypted PKCS#8) PEM.
    Result<std::string> to_pkcs8_pem() const;

    // Curve name as OpenSSL spells it ("prime256v1" for P-256).
    std::string curve_name() const;
    // SubjectPublicKeyInfo DER of the public half.
    std::string public_key_der() const;

    // The OpenSSL handle, for TLS setup (SSL_CTX_use_PrivateKey). Owned by this object.
    EVP_PKEY* native() const noexcept;

  private:
    struct Impl;
    explicit PrivateKey(std::shared_ptr<const Impl> impl) : impl_(std::move(impl)) {}
    static Result<PrivateKey> adopt(EVP_PKEY* pkey);

    std::shared_ptr<const Impl> impl_;
};

}  // namespace kedge::pki
