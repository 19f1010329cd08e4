#pragma once
// An X.509 certificate, immutable and cheap to copy (copies share the parsed handle). Keeps its
// DER so that hashing (join-token CA pin) and serving it (GET /ca.crt) cost nothing.

#include <openssl/types.h>

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/clock.hpp"
#include "base/error.hpp"
#include "pki/types.hpp"

namespace kedge::pki {

class PrivateKey;

class Certificate {
  public:
    // Parses one DER certificate; trailing bytes are refused.
    static Result<Certificate> from_der(std::string_view der);
    // Parses the first "CERTIFICATE" block of a PEM text.
    static Result<Certificate> from_pem(std::string_view pem);
    // Parses every "CERTIFICATE" block (a bundle); parse_error if there is none.
    static Result<std::vector<Certificate>> all_from_pem(std::string_view pem);
    // Takes a reference on an OpenSSL certificate (e.g. a TLS peer's).
    static Result<Certificate> from_native(X509* cert);

    const std::string& to_der() const noexcept;
    std::string to_pem() const;

    Subject subject() const;
    Subject issuer() const;
    SubjectAltNames sans() const;
    Clock::time_point not_before() const noexcept;
    Clock::time_point not_after() const noexcept;
    // not_before <= at <= not_after.
    bool valid_at(Clock::time_point at) const noexcept;
    // Lowercase hex SHA-256 of the DER (the CA pin in a join token).
    std::string sha256_hex() const;
    // Lowercase hex of the serial number.
    std::string serial_hex() const;

    // basicConstraints CA:TRUE.
    bool is_ca() const noexcept;
    // True only when the extension is present and lists the usage (a certificate without the
    // extension answers false, although RFC 5280 would allow any usage).
    bool has_key_usage(KeyUsage usage) const noexcept;
    bool has_ext_key_usage(ExtKeyUsage usage) const noexcept;
    // The certificate's public key is the public half of key.
    bool matches_key(const PrivateKey& key) const noexcept;

    // The issuer name is ca's subject and ca's key verifies the signature (no time or usage
    // checks).
    Result<void> verify_signed_by(const Certificate& ca) const;
    // Full path validation against ca as the only trust anchor at time `at` (validity, CA flags,
    // key usage) and, when given, that the certificate may be used for `usage`.
    // expired for a time window problem, unauthorized for everything else.
    Result<void> verify_chain(const Certificate& ca, Clock::time_point at,
                              std::optional<ExtKeyUsage> usage = std::nullopt) const;

    // The OpenSSL handle, for TLS setup. Owned by this object.
    X509* native() const noexcept;

  private:
    struct Impl;
    explicit Certificate(std::shared_ptr<const Impl> impl) : impl_(std::move(impl)) {}

    std::shared_ptr<const Impl> impl_;
};

}  // namespace kedge::pki
