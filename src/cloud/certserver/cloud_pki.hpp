#pragma once
// cloudcore's PKI material and its lifecycle (PROTOCOL.md §4): on first start the CA (CN
// KubeEdge, ECDSA P-256), the server certificate (SANs = advertiseAddress IPs + dnsNames) and
// the join token are created and stored; later starts, and other cloudcores sharing the store,
// reuse what is there. The token is refreshed on a schedule.

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>

#include "base/clock.hpp"
#include "base/error.hpp"
#include "cloud/certserver/pki_store.hpp"
#include "pki/certificate.hpp"
#include "pki/private_key.hpp"
#include "pki/token.hpp"
#include "pki/types.hpp"

namespace kedge::cloud {

// What CloudPki creates when the store is empty, and how often it renews the token.
struct CloudPkiOptions {
    pki::SubjectAltNames server_sans;  // advertiseAddress IPs + dnsNames
    std::chrono::seconds token_lifetime = pki::kDefaultTokenLifetime;
    std::chrono::seconds token_refresh = std::chrono::hours(12);  // tokenRefreshDuration
};

// The CA, server certificate and current join token. Created by load_or_create(); the
// certificates never change afterwards, the token does (token() is thread-safe).
class CloudPki {
public:
    // Loads the material from store, creating (and storing) whatever is missing. A stored
    // server certificate that the stored CA did not sign is replaced. Errors: the store's, a
    // corrupt stored certificate or key (parse_error naming the Secret and key), crypto_error.
    static boost::asio::awaitable<Result<std::shared_ptr<CloudPki>>> load_or_create(
        PkiStore& store, CloudPkiOptions options, const Clock& clock);

    const pki::Certificate& ca_cert() const { return ca_cert_; }
    const pki::PrivateKey& ca_key() const { return ca_key_; }
    const pki::Certificate& server_cert() const { return server_cert_; }
    const pki::PrivateKey& server_key() const { return server_key_; }

    // The full join token (`<sha256 of CA DER>.<jwt>`) as stored.
    std::string token() const;
    // When the current token's JWT expires.
    Clock::time_point token_expires_at() const;

    // Makes a new token valid for token_lifetime from now and stores it.
    boost::asio::awaitable<Result<void>> refresh_token();
    // Refreshes the token every token_refresh until cancelled; failures are logged and
    // retried after a minute (the old token stays valid meanwhile).
    boost::asio::awaitable<void> run_token_refresh();

    // Checks an `Authorization: Bearer` value: a JWT, or a full token whose CA hash must be
    // this CA's. unauthorized / expired / parse_error with the reason.
    Result<pki::TokenClaims> verify_bearer(std::string_view bearer) const;

    const CloudPkiOptions& options() const { return options_; }
    const Clock& clock() const { return clock_; }

    CloudPki(PkiStore& store, CloudPkiOptions options, const Clock& clock, pki::Certificate ca,
             pki::PrivateKey ca_key, pki::Certificate server, pki::PrivateKey server_key);

private:
    PkiStore& store_;
    CloudPkiOptions options_;
    const Clock& clock_;
    pki::Certificate ca_cert_;
    pki::PrivateKey ca_key_;
    pki::Certificate server_cert_;
    pki::PrivateKey server_key_;

    mutable std::mutex mutex_;
    std::string token_;
    Clock::time_point token_expires_at_{};
};

}  // namespace kedge::cloud
