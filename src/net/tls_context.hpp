#pragma once
// TLS configuration for every kedge endpoint: servers that require (or request) client
// certificates signed by one CA, and clients that pin a CA and verify the server's name or IP.
// Contexts are immutable once built; certificate rotation builds a new one and swaps the
// shared_ptr for new connections.

#include "base/error.hpp"

#include <memory>
#include <string>
#include <vector>

namespace boost::asio::ssl {
class context;
}
using SSL = struct ssl_st;

namespace kedge::net {

// A PEM source: a file path or the PEM text itself (cloudcore keeps its CA in a Secret).
struct PemSource {
    std::string file;
    std::string pem;
    bool empty() const { return file.empty() && pem.empty(); }
    static PemSource from_file(std::string f) { return {std::move(f), {}}; }
    static PemSource from_pem(std::string p) { return {{}, std::move(p)}; }
};

enum class ClientAuth {
    none,     // do not ask for a client certificate
    request,  // ask, verify if given, allow none (the :10002 join server)
    require,  // refuse the handshake without a valid client certificate
};

struct ServerTlsOptions {
    PemSource ca;    // CA that client certificates must chain to (needed unless client_auth none)
    PemSource cert;  // server certificate (chain)
    PemSource key;   // server private key
    ClientAuth client_auth = ClientAuth::require;
};

struct ClientTlsOptions {
    PemSource ca;    // CA the server must chain to; empty means the system trust store
    PemSource cert;  // optional client certificate
    PemSource key;   // optional client key
    bool verify_peer = true;  // only tests of failure paths turn this off
};

class TlsContext {
public:
    static Result<std::shared_ptr<TlsContext>> make_server(const ServerTlsOptions& options);
    static Result<std::shared_ptr<TlsContext>> make_client(const ClientTlsOptions& options);

    ~TlsContext();
    boost::asio::ssl::context& native() { return *ctx_; }
    bool is_server() const { return server_; }

    explicit TlsContext(std::unique_ptr<boost::asio::ssl::context> ctx, bool server);

private:
    std::unique_ptr<boost::asio::ssl::context> ctx_;
    bool server_;
};

// Sets SNI (for DNS names) and hostname/IP verification on a client connection. host is what
// the URL named: the certificate's SANs must contain it.
Result<void> set_client_peer_name(SSL* ssl, const std::string& host);

// What the peer's verified certificate says about who it is.
struct PeerIdentity {
    bool has_certificate = false;
    std::string common_name;
    std::vector<std::string> organizations;
};
PeerIdentity peer_identity(SSL* ssl);

}  // namespace kedge::net
