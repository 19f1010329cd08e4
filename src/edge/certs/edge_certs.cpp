#include "edge/certs/edge_certs.hpp"

#include <algorithm>

#include "net/http_client.hpp"
#include "net/tls_context.hpp"
#include "pki/certificate_request.hpp"
#include "pki/files.hpp"
#include "pki/token.hpp"

namespace kedge::edge {

namespace asio = boost::asio;

namespace {

inline constexpr std::size_t kMaxPemBytes = 256 * 1024;
inline constexpr std::size_t kMaxCertBody = 64 * 1024;

Error http_error(const net::HttpResponse& r, std::string_view what) {
    errc code = r.status == 401   ? errc::unauthorized
                : r.status == 403 ? errc::forbidden
                : r.status >= 500 ? errc::unavailable
                                  : errc::invalid_argument;
    std::string body = r.body.substr(0, 200);
    return Error(code, std::string(what) + ": HTTP " + std::to_string(r.status) + " " + body);
}

std::string node_cn(const std::string& node) { return "system:node:" + node; }

// Key + CSR for node, then GET /edge.crt with the client the caller configured (bearer token
// for a join, client certificate for a rotation).
asio::awaitable<Result<NodeCredentials>> get_edge_cert(asio::any_io_executor ex,
                                                       net::HttpClientOptions opts,
                                                       std::string node) {
    auto key = pki::PrivateKey::generate();
    if (!key) co_return key.error();
    auto csr = pki::CertificateRequest::create(*key, pki::Subject{node_cn(node), {"system:nodes"}});
    if (!csr) co_return csr.error();
    net::HttpClient client(ex, opts);
    net::HttpRequestSpec spec;  // not a braced temporary in co_await (g++ 12 destroys it twice)
    spec.method = "GET";        // upstream edgecore sends the CSR as the body of a GET
    spec.target = "/edge.crt";
    spec.headers = {{"NodeName", node}, {"Content-Type", "application/octet-stream"}};
    spec.body = csr->to_der();
    auto r = co_await client.request(std::move(spec));
    if (!r) co_return Error(r.error().code, "GET /edge.crt: " + r.error().detail);
    if (r->status != 200) co_return http_error(*r, "GET /edge.crt for " + node);
    auto cert = pki::Certificate::from_der(r->body);
    if (!cert) co_return Error(errc::parse_error, "GET /edge.crt: " + cert.error().detail);
    if (!cert->matches_key(*key))
        co_return Error(errc::crypto_error, "GET /edge.crt: certificate is not for our key");
    co_return NodeCredentials{*cert, *key};
}

}  // namespace

asio::awaitable<Result<pki::Certificate>> fetch_ca(asio::any_io_executor ex, JoinTarget target) {
    auto parts = pki::split_token(target.token);
    if (!parts) co_return Error(errc::parse_error, "join token: " + parts.error().detail);
    net::ClientTlsOptions tls_opts;
    tls_opts.verify_peer = false;  // nothing to trust yet: the token's hash pins the CA below
    auto tls = net::TlsContext::make_client(tls_opts);
    if (!tls) co_return tls.error();
    net::HttpClientOptions opts;
    opts.base_url = target.base_url;
    opts.tls = *tls;
    opts.max_body_bytes = kMaxCertBody;
    auto url = net::parse_url(opts.base_url);
    if (!url) co_return Error(errc::invalid_argument, "join server URL: " + url.error().detail);
    net::HttpClient client(ex, opts);
    net::HttpRequestSpec spec;
    spec.target = "/ca.crt";
    auto r = co_await client.request(std::move(spec));
    if (!r) co_return Error(r.error().code, "GET /ca.crt: " + r.error().detail);
    if (r->status != 200) co_return http_error(*r, "GET /ca.crt");
    if (!pki::ca_hash_matches(r->body, parts->ca_hash))
        co_return Error(errc::unauthorized, "GET /ca.crt: the CA's sha256 " +
                                                pki::sha256_hex(r->body) + " is not the token's " +
                                                parts->ca_hash);
    auto ca = pki::Certificate::from_der(r->body);
    if (!ca) co_return Error(errc::parse_error, "GET /ca.crt: " + ca.error().detail);
    co_return *ca;
}

asio::awaitable<Result<NodeCredentials>> request_node_cert(asio::any_io_executor ex,
                                                           JoinTarget target, pki::Certificate ca,
                                                           std::string node) {
    auto parts = pki::split_token(target.token);
    if (!parts) co_return Error(errc::parse_error, "join token: " + parts.error().detail);
    net::ClientTlsOptions tls_opts;
    tls_opts.ca = net::PemSource::from_pem(ca.to_pem());
    auto tls = net::TlsContext::make_client(tls_opts);
    if (!tls) co_return tls.error();
    net::HttpClientOptions opts;
    opts.base_url = target.base_url;
    opts.tls = *tls;
    opts.bearer_token = parts->jwt;
    opts.max_body_bytes = kMaxCertBody;
    auto url = net::parse_url(opts.base_url);
    if (!url) co_return Error(errc::invalid_argument, "join server URL: " + url.error().detail);
    co_return co_await get_edge_cert(ex, std::move(opts), std::move(node));
}

asio::awaitable<Result<NodeCredentials>> renew_node_cert(asio::any_io_executor ex,
                                                         std::string base_url, pki::Certificate ca,
                                                         NodeCredentials current,
                                                         std::string node) {
    net::ClientTlsOptions tls_opts;
    tls_opts.ca = net::PemSource::from_pem(ca.to_pem());
    tls_opts.cert = net::PemSource::from_pem(current.cert.to_pem());
    tls_opts.key = net::PemSource::from_pem(current.key.to_pem());
    auto tls = net::TlsContext::make_client(tls_opts);
    if (!tls) co_return tls.error();
    net::HttpClientOptions opts;
    opts.base_url = std::move(base_url);
    opts.tls = *tls;
    opts.max_body_bytes = kMaxCertBody;
    auto url = net::parse_url(opts.base_url);
    if (!url) co_return Error(errc::invalid_argument, "cert server URL: " + url.error().detail);
    co_return co_await get_edge_cert(ex, std::move(opts), std::move(node));
}

std::optional<StoredIdentity> load_identity(const CertPaths& paths, const std::string& node,
                                            Clock::time_point now, std::string* why) {
    auto fail = [&](std::string reason) -> std::optional<StoredIdentity> {
        if (why) *why = std::move(reason);
        return std::nullopt;
    };
    auto ca_text = pki::read_file(paths.ca, kMaxPemBytes);
    if (!ca_text) return fail("CA " + paths.ca.string() + ": " + ca_text.error().message());
    auto ca = pki::Certificate::from_pem(*ca_text);
    if (!ca) return fail("CA " + paths.ca.string() + ": " + ca.error().message());
    auto cert_text = pki::read_file(paths.cert, kMaxPemBytes);
    if (!cert_text)
        return fail("certificate " + paths.cert.string() + ": " + cert_text.error().message());
    auto cert = pki::Certificate::from_pem(*cert_text);
    if (!cert) return fail("certificate " + paths.cert.string() + ": " + cert.error().message());
    auto key_text = pki::read_file(paths.key, kMaxPemBytes);
    if (!key_text) return fail("key " + paths.key.string() + ": " + key_text.error().message());
    auto key = pki::PrivateKey::from_pem(*key_text);
    if (!key) return fail("key " + paths.key.string() + ": " + key.error().message());
    if (!cert->matches_key(*key))
        return fail("certificate " + paths.cert.string() + " is not for the key " +
                    paths.key.string());
    if (auto cn = cert->subject().common_name; cn != node_cn(node))
        return fail("certificate " + paths.cert.string() + " is for '" + cn + "', not '" +
                    node_cn(node) + "'");
    if (auto r = cert->verify_chain(*ca, now); !r)
        return fail("certificate " + paths.cert.string() + " against CA " + paths.ca.string() +
                    ": " + r.error().message());
    return StoredIdentity{*ca, NodeCredentials{*cert, *key}};
}

Result<void> store_identity(const CertPaths& paths, const pki::Certificate& ca,
                            const NodeCredentials& creds) {
    // Each file is replaced atomically, the pair cannot be: a crash between the two writes leaves
    // a certificate that does not match the key, which load_identity refuses, so the node joins
    // again instead of presenting a broken identity.
    if (auto r = pki::write_key_pem(paths.key, creds.key); !r) return r;
    if (auto r = pki::write_cert_pem(paths.cert, creds.cert); !r) return r;
    return pki::write_cert_pem(paths.ca, ca);
}

Clock::time_point rotation_time(const pki::Certificate& cert, std::mt19937_64& rng) {
    auto begin = cert.not_before();
    auto end = cert.not_after();
    if (end <= begin) return begin;
    auto life = end - begin;
    std::uniform_real_distribution<double> fraction(0.7, 0.9);
    auto at = std::chrono::duration_cast<Clock::duration>(life * fraction(rng));
    return begin + std::clamp(at, Clock::duration::zero(), life);
}

}  // namespace kedge::edge
