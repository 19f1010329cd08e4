#include "cloud/certserver/cloud_pki.hpp"

#include <algorithm>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "base/log.hpp"
#include "pki/issue.hpp"

namespace kedge::cloud {
namespace {

using boost::asio::awaitable;

auto logger() { return log::get("cloudhub.pki"); }

Error corrupt(const char* secret, const char* key, const Error& e) {
    return Error(errc::parse_error,
                 std::string("secret ") + secret + " key " + key + ": " + e.detail);
}

std::optional<std::string> get(const SecretData& data, const char* key) {
    auto it = data.find(key);
    if (it == data.end() || it->second.empty()) return std::nullopt;
    return it->second;
}

// Stores data under name unless another cloudcore got there first; returns what ended up
// stored (ours, or the winner's).
awaitable<Result<SecretData>> create_or_adopt(PkiStore& store, const char* name, SecretData data) {
    auto created = co_await store.create(name, data);
    if (created) co_return data;
    if (!created.error().is(errc::already_exists)) co_return created.error();
    auto existing = co_await store.load(name);
    if (!existing) co_return existing.error();
    if (!*existing)
        co_return Error(errc::conflict, std::string("secret ") + name +
                                            " was reported to exist but cannot be loaded");
    logger()->info("secret {} was created by another cloudcore; using it", name);
    co_return std::move(**existing);
}

struct CaPair {
    pki::Certificate cert;
    pki::PrivateKey key;
};

Result<CaPair> parse_ca(const SecretData& data) {
    auto cert_der = get(data, kCaDataKey);
    auto key_der = get(data, kCaKeyDataKey);
    if (!cert_der || !key_der) {
        return Error(errc::parse_error, std::string("secret ") + kCaSecret + " lacks " +
                                            (!cert_der ? kCaDataKey : kCaKeyDataKey));
    }
    auto cert = pki::Certificate::from_der(*cert_der);
    if (!cert) return corrupt(kCaSecret, kCaDataKey, cert.error());
    auto key = pki::PrivateKey::from_der(*key_der);
    if (!key) return corrupt(kCaSecret, kCaKeyDataKey, key.error());
    if (!cert->matches_key(*key))
        return Error(errc::parse_error, std::string("secret ") + kCaSecret +
                                            ": the CA key does not belong to the CA certificate");
    return CaPair{std::move(*cert), std::move(*key)};
}

awaitable<Result<CaPair>> load_or_create_ca(PkiStore& store, const Clock& clock) {
    auto loaded = co_await store.load(kCaSecret);
    if (!loaded) co_return loaded.error();
    if (*loaded) co_return parse_ca(**loaded);
    auto ca = pki::create_ca("KubeEdge", pki::kDefaultCaLifetime, clock.now());
    if (!ca) co_return ca.error();
    SecretData data{{kCaDataKey, ca->cert.to_der()}, {kCaKeyDataKey, ca->key.to_der()}};
    auto stored = co_await create_or_adopt(store, kCaSecret, std::move(data));
    if (!stored) co_return stored.error();
    auto pair = parse_ca(*stored);
    if (pair && pair->cert.to_der() == ca->cert.to_der())
        logger()->info("created the cluster CA (CN=KubeEdge, sha256 {})", ca->cert.sha256_hex());
    co_return pair;
}

bool covers(const pki::SubjectAltNames& have, const pki::SubjectAltNames& want) {
    auto contains_all = [](const std::vector<std::string>& h, const std::vector<std::string>& w) {
        return std::all_of(w.begin(), w.end(), [&](const std::string& x) {
            return std::find(h.begin(), h.end(), x) != h.end();
        });
    };
    return contains_all(have.ips, want.ips) && contains_all(have.dns_names, want.dns_names);
}

Result<std::optional<CaPair>> parse_server(const SecretData& data, const CaPair& ca) {
    auto cert_der = get(data, kServerCertDataKey);
    auto key_der = get(data, kServerKeyDataKey);
    if (!cert_der || !key_der) return std::optional<CaPair>{};
    auto cert = pki::Certificate::from_der(*cert_der);
    if (!cert) return corrupt(kServerSecret, kServerCertDataKey, cert.error());
    auto key = pki::PrivateKey::from_der(*key_der);
    if (!key) return corrupt(kServerSecret, kServerKeyDataKey, key.error());
    // Material from before a CA change is useless: no edge would trust it.
    if (!cert->matches_key(*key) || !cert->verify_signed_by(ca.cert))
        return std::optional<CaPair>{};
    return std::optional<CaPair>(CaPair{std::move(*cert), std::move(*key)});
}

awaitable<Result<CaPair>> load_or_create_server(PkiStore& store, const CaPair& ca,
                                                const pki::SubjectAltNames& sans,
                                                const Clock& clock) {
    auto loaded = co_await store.load(kServerSecret);
    if (!loaded) co_return loaded.error();
    if (*loaded) {
        auto server = parse_server(**loaded, ca);
        if (!server) co_return server.error();
        if (*server) {
            if (!covers((*server)->cert.sans(), sans))
                logger()->warn(
                    "the stored server certificate (secret {}) lacks some of the configured "
                    "advertiseAddress/dnsNames; edges dialling those names will refuse it",
                    kServerSecret);
            co_return std::move(**server);
        }
        logger()->warn("secret {} holds no usable certificate for this CA; issuing a new one",
                       kServerSecret);
    }
    auto issued = pki::issue_server_cert(ca.cert, ca.key, {"KubeEdge", {"KubeEdge"}}, sans,
                                         pki::kDefaultLeafLifetime, clock.now());
    if (!issued) co_return issued.error();
    SecretData data{{kServerCertDataKey, issued->cert.to_der()},
                    {kServerKeyDataKey, issued->key.to_der()}};
    if (*loaded) {
        if (auto r = co_await store.update(kServerSecret, data); !r) co_return r.error();
        co_return CaPair{std::move(issued->cert), std::move(issued->key)};
    }
    auto stored = co_await create_or_adopt(store, kServerSecret, std::move(data));
    if (!stored) co_return stored.error();
    auto server = parse_server(*stored, ca);
    if (!server) co_return server.error();
    if (!*server)
        co_return Error(errc::conflict, std::string("secret ") + kServerSecret +
                                            " was created by another cloudcore for another CA");
    co_return std::move(**server);
}

}  // namespace

CloudPki::CloudPki(PkiStore& store, CloudPkiOptions options, const Clock& clock,
                   pki::Certificate ca, pki::PrivateKey ca_key, pki::Certificate server,
                   pki::PrivateKey server_key)
    : store_(store),
      options_(std::move(options)),
      clock_(clock),
      ca_cert_(std::move(ca)),
      ca_key_(std::move(ca_key)),
      server_cert_(std::move(server)),
      server_key_(std::move(server_key)) {}

awaitable<Result<std::shared_ptr<CloudPki>>> CloudPki::load_or_create(PkiStore& store,
                                                                      CloudPkiOptions options,
                                                                      const Clock& clock) {
    auto ca = co_await load_or_create_ca(store, clock);
    if (!ca) co_return ca.error();
    auto server = co_await load_or_create_server(store, *ca, options.server_sans, clock);
    if (!server) co_return server.error();
    auto self = std::make_shared<CloudPki>(store, std::move(options), clock, ca->cert, ca->key,
                                           server->cert, server->key);

    // Reuse a stored token while it has more than one refresh period to live.
    auto loaded = co_await store.load(kTokenSecret);
    if (!loaded) co_return loaded.error();
    if (*loaded) {
        if (auto text = get(**loaded, kTokenDataKey)) {
            auto claims = pki::verify_token(*text, self->ca_cert_, self->ca_key_, clock.now());
            if (claims && claims->expires_at > clock.now() + self->options_.token_refresh) {
                std::lock_guard lock(self->mutex_);
                self->token_ = *text;
                self->token_expires_at_ = claims->expires_at;
                co_return self;
            }
        }
    }
    if (auto r = co_await self->refresh_token(); !r) co_return r.error();
    co_return self;
}

std::string CloudPki::token() const {
    std::lock_guard lock(mutex_);
    return token_;
}

Clock::time_point CloudPki::token_expires_at() const {
    std::lock_guard lock(mutex_);
    return token_expires_at_;
}

awaitable<Result<void>> CloudPki::refresh_token() {
    const auto expires = clock_.now() + options_.token_lifetime;
    auto token = pki::create_token(ca_cert_, ca_key_, expires);
    if (!token) co_return token.error();
    // Built outside the co_await: g++ 12 rejects braced string-literal lists in its operand.
    SecretData data{{kTokenDataKey, *token}};
    if (auto r = co_await store_.update(kTokenSecret, std::move(data)); !r)
        co_return r.error();
    {
        std::lock_guard lock(mutex_);
        token_ = std::move(*token);
        token_expires_at_ = expires;
    }
    logger()->info("join token refreshed; valid for {} s", options_.token_lifetime.count());
    co_return Result<void>{};
}

awaitable<void> CloudPki::run_token_refresh() {
    boost::asio::steady_timer timer(co_await boost::asio::this_coro::executor);
    std::chrono::steady_clock::duration wait = options_.token_refresh;
    while (true) {
        timer.expires_after(wait);
        boost::system::error_code ec;
        co_await timer.async_wait(boost::asio::redirect_error(boost::asio::use_awaitable, ec));
        if (ec) co_return;  // cancelled
        auto r = co_await refresh_token();
        if (r) {
            wait = options_.token_refresh;
        } else {
            logger()->error("join token refresh failed, retrying in 60 s: {}", r.error().message());
            wait = std::min<std::chrono::steady_clock::duration>(std::chrono::minutes(1),
                                                                 options_.token_refresh);
        }
    }
}

Result<pki::TokenClaims> CloudPki::verify_bearer(std::string_view bearer) const {
    if (bearer.size() > 65 && bearer[64] == '.')
        return pki::verify_token(bearer, ca_cert_, ca_key_, clock_.now());
    return pki::verify_jwt(bearer, ca_key_, clock_.now());
}

}  // namespace kedge::cloud
