#pragma once
// The HTTPS join server of cloudcore on :10002 (PROTOCOL.md §4): GET /ca.crt, GET /edge.crt
// (CSR signing after a token or a client certificate proves who the node is) and GET
// /node/<name> (the join pre-check), on net::HttpServer with the CloudPki material.

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "base/error.hpp"
#include "cloud/certserver/cloud_pki.hpp"

namespace kedge::net {
class HttpServer;
struct HttpRequest;
class HttpResponder;
}  // namespace kedge::net

namespace kedge::cloud {

// Whether a node exists in the cluster (wired to the Kubernetes API by the caller).
using NodeExistsFn = std::function<boost::asio::awaitable<Result<bool>>(std::string node)>;

// Where the join server listens and how it signs.
struct CertServerOptions {
    std::string address = "0.0.0.0";  // modules.cloudHub.https.address
    unsigned short port = 10002;      // 0 picks a free port (tests)
    std::chrono::seconds edge_cert_lifetime = std::chrono::hours(24 * 365);
    std::size_t max_csr_bytes = 1024 * 1024;
    // Sign CSRs of upstream edgecores before v1.16 (subject CN=kubeedge.io), issuing the
    // certificate for system:node:<NodeName> instead. Token path only; logged every time.
    bool allow_legacy_csr_subject = false;
};

// The :10002 server. Create, start(), and stop() before destruction; requests run on the
// executor it is given (each connection on its own strand), the CloudPki is shared read-only.
class CertServer {
public:
    CertServer(boost::asio::any_io_executor ex, std::shared_ptr<CloudPki> pki,
               CertServerOptions options, NodeExistsFn node_exists);
    ~CertServer();
    CertServer(const CertServer&) = delete;
    CertServer& operator=(const CertServer&) = delete;

    // Builds the TLS context (client certificates requested, not required) and listens.
    Result<void> start();
    void stop();
    unsigned short port() const;

    // Counters for metrics and tests.
    std::uint64_t certificates_issued() const;
    std::uint64_t requests_refused() const;

    // What the handlers share; they hold it by shared_ptr so a request still running after the
    // server object is gone stays valid.
    struct State;

private:
    boost::asio::any_io_executor ex_;
    std::shared_ptr<State> state_;
    std::shared_ptr<net::HttpServer> server_;
};

}  // namespace kedge::cloud
