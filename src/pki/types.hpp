#pragma once
// Plain value types shared by the pki API: certificate subjects, subject alternative names and
// key usages. No OpenSSL here so that config and protocol code can use them cheaply.

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.hpp"

namespace kedge::pki {

// The parts of an X.509 distinguished name KubeEdge uses: one CN and any number of O.
struct Subject {
    std::string common_name;
    std::vector<std::string> organizations;

    friend bool operator==(const Subject&, const Subject&) = default;
    // "O=system:nodes, CN=system:node:edge1" (for logs and error messages).
    std::string to_string() const;
};

// Subject alternative names: IP addresses in text form ("127.0.0.1", "::1") and DNS names.
struct SubjectAltNames {
    std::vector<std::string> ips;
    std::vector<std::string> dns_names;

    friend bool operator==(const SubjectAltNames&, const SubjectAltNames&) = default;
    bool empty() const { return ips.empty() && dns_names.empty(); }
};

// X.509 key usage bits this library sets or checks.
enum class KeyUsage { kDigitalSignature, kKeyEncipherment, kKeyCertSign, kCrlSign };

// Extended key usages. The values are Go's x509.ExtKeyUsage numbers, which is what an upstream
// edgecore sends in the "ExtKeyUsages" header of a certificate request.
enum class ExtKeyUsage : int { kServerAuth = 1, kClientAuth = 2 };

// Maps Go's x509.ExtKeyUsage number to ours; invalid_argument for anything but 1 and 2.
Result<ExtKeyUsage> ext_key_usage_from_go(int value);

// Lifetimes and tolerances used when issuing certificates.
inline constexpr std::chrono::seconds kDefaultCaLifetime = std::chrono::hours(24 * 365 * 100);
inline constexpr std::chrono::seconds kDefaultLeafLifetime = std::chrono::hours(24 * 365);
// not_before is set this far in the past so that a peer whose clock is slightly behind accepts a
// certificate issued a moment ago.
inline constexpr std::chrono::seconds kClockSkewAllowance = std::chrono::minutes(5);

}  // namespace kedge::pki
