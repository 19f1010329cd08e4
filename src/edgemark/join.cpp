#include "edgemark/join.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "net/http_client.hpp"
#include "net/tls_context.hpp"
#include "pki/certificate_request.hpp"
#include "pki/files.hpp"
#include "pki/token.hpp"

namespace kedge::edgemark {

namespace asio = boost::asio;

namespace {

Error http_error(const net::HttpResponse& r, std::string_view what) {
    errc code = r.status == 401   ? errc::unauthorized
                : r.status == 403 ? errc::forbidden
                : r.status >= 500 ? errc::unavailable
                                  : errc::invalid_argument;
    std::string body = r.body.substr(0, 200);
    return Error(code, std::string(what) + ": HTTP " + std::to_string(r.status) + " " + body);
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
    opts.max_body_bytes = 64 * 1024;
    net::HttpClient client(ex, opts);
    net::HttpRequestSpec spec;  // not a braced temporary in co_await (g++ 12 destroys it twice)
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
    auto key = pki::PrivateKey::generate();
    if (!key) co_return key.error();
    auto csr = pki::CertificateRequest::create(
        *key, pki::Subject{"system:node:" + node, {"system:nodes"}});
    if (!csr) co_return csr.error();

    net::ClientTlsOptions tls_opts;
    tls_opts.ca = net::PemSource::from_pem(ca.to_pem());
    auto tls = net::TlsContext::make_client(tls_opts);
    if (!tls) co_return tls.error();
    net::HttpClientOptions opts;
    opts.base_url = target.base_url;
    opts.tls = *tls;
    opts.bearer_token = parts->jwt;
    opts.max_body_bytes = 64 * 1024;
    net::HttpClient client(ex, opts);
    net::HttpRequestSpec spec;
    spec.method = "GET";  // upstream edgecore sends the CSR as the body of a GET
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

std::optional<NodeCredentials> CertCache::load(const pki::Certificate& ca,
                                               const std::string& node) const {
    auto cached_ca = pki::read_cert_pem(dir_ / "ca.crt");
    if (!cached_ca || cached_ca->to_der() != ca.to_der()) return std::nullopt;
    auto text = pki::read_file(dir_ / (node + ".pem"), 64 * 1024);
    if (!text) return std::nullopt;
    auto cert = pki::Certificate::from_pem(*text);
    auto key = pki::PrivateKey::from_pem(*text);
    if (!cert || !key || !cert->matches_key(*key)) return std::nullopt;
    if (!cert->verify_chain(ca, SystemClock::instance().now())) return std::nullopt;
    if (cert->subject().common_name != "system:node:" + node) return std::nullopt;
    return NodeCredentials{*cert, *key};
}

Result<void> CertCache::store(const pki::Certificate& ca, const std::string& node,
                              const NodeCredentials& creds) const {
    auto cached_ca = pki::read_cert_pem(dir_ / "ca.crt");
    if (!cached_ca || cached_ca->to_der() != ca.to_der()) {
        if (auto r = pki::write_cert_pem(dir_ / "ca.crt", ca); !r) return r;
    }
    // One plain write per node, no fsync: a lost cache entry only means joining that node again,
    // and 10,000 fsyncs would cost more than the joins.
    auto path = dir_ / (node + ".pem");
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) return Error(errc::io_error, "open " + path.string() + ": " + std::strerror(errno));
    std::string text = creds.key.to_pem() + creds.cert.to_pem();
    std::size_t off = 0;
    while (off < text.size()) {
        auto n = ::write(fd, text.data() + off, text.size() - off);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            ::close(fd);
            return Error(errc::io_error, "write " + path.string() + ": " + std::strerror(errno));
        }
        off += static_cast<std::size_t>(n);
    }
    ::close(fd);
    return {};
}

}  // namespace kedge::edgemark
