#include "net/tls_context.hpp"

#include <boost/asio/ssl/context.hpp>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <arpa/inet.h>

namespace kedge::net {
namespace {

// TLS 1.2 suites limited to forward-secret AEAD; RSA variants stay for clients talking to a
// kube-apiserver with an RSA certificate. TLS 1.3 suites are OpenSSL's defaults (all AEAD).
constexpr const char* kCipherList =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:"
    "ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-CHACHA20-POLY1305";

std::string openssl_error() {
    std::string out;
    while (unsigned long e = ERR_get_error()) {
        char buf[256];
        ERR_error_string_n(e, buf, sizeof buf);
        if (!out.empty()) out += "; ";
        out += buf;
    }
    return out.empty() ? "unknown OpenSSL error" : out;
}

Error tls_error(const std::string& what, const boost::system::error_code& ec) {
    return Error(errc::crypto_error, what + ": " + ec.message());
}

std::string describe(const PemSource& s) { return s.file.empty() ? "<inline PEM>" : s.file; }

Result<void> load_ca(boost::asio::ssl::context& ctx, const PemSource& ca) {
    boost::system::error_code ec;
    if (!ca.file.empty()) {
        ctx.load_verify_file(ca.file, ec);
    } else {
        ctx.add_certificate_authority(boost::asio::buffer(ca.pem), ec);
    }
    if (ec) return tls_error("loading CA " + describe(ca), ec);
    return {};
}

Result<void> load_identity(boost::asio::ssl::context& ctx, const PemSource& cert,
                           const PemSource& key) {
    boost::system::error_code ec;
    if (!cert.file.empty()) {
        ctx.use_certificate_chain_file(cert.file, ec);
    } else {
        ctx.use_certificate_chain(boost::asio::buffer(cert.pem), ec);
    }
    if (ec) return tls_error("loading certificate " + describe(cert), ec);
    if (!key.file.empty()) {
        ctx.use_private_key_file(key.file, boost::asio::ssl::context::pem, ec);
    } else {
        ctx.use_private_key(boost::asio::buffer(key.pem), boost::asio::ssl::context::pem, ec);
    }
    if (ec) return tls_error("loading private key " + describe(key), ec);
    if (SSL_CTX_check_private_key(ctx.native_handle()) != 1)
        return Error(errc::crypto_error, "private key " + describe(key) +
                                             " does not match certificate " + describe(cert));
    return {};
}

void harden(boost::asio::ssl::context& ctx) {
    SSL_CTX* native = ctx.native_handle();
    SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION);
    SSL_CTX_set_cipher_list(native, kCipherList);
    SSL_CTX_set_options(native, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION |
                                    SSL_OP_CIPHER_SERVER_PREFERENCE);
    // Idle sessions dominate cloudcore's memory: give buffers back between reads.
    SSL_CTX_set_mode(native, SSL_MODE_RELEASE_BUFFERS);
}

}  // namespace

TlsContext::TlsContext(std::unique_ptr<boost::asio::ssl::context> ctx, bool server)
    : ctx_(std::move(ctx)), server_(server) {}

TlsContext::~TlsContext() = default;

Result<std::shared_ptr<TlsContext>> TlsContext::make_server(const ServerTlsOptions& options) {
    auto ctx = std::make_unique<boost::asio::ssl::context>(boost::asio::ssl::context::tls_server);
    harden(*ctx);
    if (options.cert.empty() || options.key.empty())
        return Error(errc::invalid_argument, "a TLS server needs a certificate and a key");
    if (auto r = load_identity(*ctx, options.cert, options.key); !r) return r.error();
    switch (options.client_auth) {
        case ClientAuth::none:
            ctx->set_verify_mode(boost::asio::ssl::verify_none);
            break;
        case ClientAuth::request:
        case ClientAuth::require: {
            if (options.ca.empty())
                return Error(errc::invalid_argument,
                             "verifying client certificates needs a CA (tlsCAFile)");
            if (auto r = load_ca(*ctx, options.ca); !r) return r.error();
            auto mode = boost::asio::ssl::verify_peer;
            if (options.client_auth == ClientAuth::require)
                mode |= boost::asio::ssl::verify_fail_if_no_peer_cert;
            ctx->set_verify_mode(mode);
            break;
        }
    }
    return std::make_shared<TlsContext>(std::move(ctx), true);
}

Result<std::shared_ptr<TlsContext>> TlsContext::make_client(const ClientTlsOptions& options) {
    auto ctx = std::make_unique<boost::asio::ssl::context>(boost::asio::ssl::context::tls_client);
    harden(*ctx);
    if (options.ca.empty()) {
        boost::system::error_code ec;
        ctx->set_default_verify_paths(ec);
        if (ec) return tls_error("loading the system trust store", ec);
    } else if (auto r = load_ca(*ctx, options.ca); !r) {
        return r.error();
    }
    if (!options.cert.empty() || !options.key.empty()) {
        if (options.cert.empty() || options.key.empty())
            return Error(errc::invalid_argument, "a client certificate needs both cert and key");
        if (auto r = load_identity(*ctx, options.cert, options.key); !r) return r.error();
    }
    ctx->set_verify_mode(options.verify_peer ? boost::asio::ssl::verify_peer
                                             : boost::asio::ssl::verify_none);
    return std::make_shared<TlsContext>(std::move(ctx), false);
}

Result<void> set_client_peer_name(SSL* ssl, const std::string& host) {
    std::string bare = host;
    if (bare.size() > 2 && bare.front() == '[' && bare.back() == ']')
        bare = bare.substr(1, bare.size() - 2);  // [::1]
    unsigned char buf[16];
    bool is_ip = inet_pton(AF_INET, bare.c_str(), buf) == 1 || inet_pton(AF_INET6, bare.c_str(), buf) == 1;
    X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
    if (is_ip) {
        if (X509_VERIFY_PARAM_set1_ip_asc(param, bare.c_str()) != 1)
            return Error(errc::invalid_argument, "cannot verify server IP " + bare + ": " + openssl_error());
    } else {
        // SNI only for names (RFC 6066 forbids IP literals).
        if (SSL_set_tlsext_host_name(ssl, bare.c_str()) != 1)
            return Error(errc::invalid_argument, "cannot set SNI " + bare + ": " + openssl_error());
        X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
        if (X509_VERIFY_PARAM_set1_host(param, bare.c_str(), 0) != 1)
            return Error(errc::invalid_argument, "cannot verify server name " + bare + ": " + openssl_error());
    }
    return {};
}

PeerIdentity peer_identity(SSL* ssl) {
    PeerIdentity id;
    X509* cert = SSL_get0_peer_certificate(ssl);
    if (!cert || SSL_get_verify_result(ssl) != X509_V_OK) return id;
    id.has_certificate = true;
    X509_NAME* name = X509_get_subject_name(cert);
    for (int i = 0; i < X509_NAME_entry_count(name); ++i) {
        X509_NAME_ENTRY* entry = X509_NAME_get_entry(name, i);
        int nid = OBJ_obj2nid(X509_NAME_ENTRY_get_object(entry));
        if (nid != NID_commonName && nid != NID_organizationName) continue;
        unsigned char* utf8 = nullptr;
        int len = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(entry));
        if (len < 0) continue;
        std::string value(reinterpret_cast<char*>(utf8), static_cast<std::size_t>(len));
        OPENSSL_free(utf8);
        if (nid == NID_commonName)
            id.common_name = std::move(value);
        else
            id.organizations.push_back(std::move(value));
    }
    return id;
}

}  // namespace kedge::net
