#include "cloud/certserver/cert_server.hpp"

#include <algorithm>
#include <atomic>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include "base/log.hpp"
#include "net/http_server.hpp"
#include "pki/certificate_request.hpp"
#include "pki/issue.hpp"

namespace kedge::cloud {

namespace {

using boost::asio::awaitable;

constexpr std::string_view kNodeOrg = "system:nodes";
constexpr std::string_view kNodeCnPrefix = "system:node:";
// What upstream edgecore before v1.16 puts in every node's CSR.
constexpr std::string_view kLegacyCn = "kubeedge.io";

auto logger() { return log::get("cloudhub.https"); }

// Node names are DNS subdomains; anything else cannot name a node and would end up in a
// certificate subject and in log lines.
bool valid_node_name(std::string_view n) {
    if (n.empty() || n.size() > 253) return false;
    return std::all_of(n.begin(), n.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.';
    });
}

bool iequals_prefix(std::string_view s, std::string_view prefix) {
    if (s.size() < prefix.size()) return false;
    for (std::size_t i = 0; i < prefix.size(); ++i) {
        char a = s[i];
        if (a >= 'A' && a <= 'Z') a = static_cast<char>(a - 'A' + 'a');
        if (a != prefix[i]) return false;
    }
    return true;
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

pki::Subject node_subject(const std::string& node) {
    return {std::string(kNodeCnPrefix) + node, {std::string(kNodeOrg)}};
}

// The "ExtKeyUsages" header: a JSON array of Go x509.ExtKeyUsage numbers.
Result<std::vector<pki::ExtKeyUsage>> parse_ext_key_usages(std::string_view text) {
    boost::system::error_code ec;
    boost::json::value v = boost::json::parse(text, ec);
    const auto* arr = ec ? nullptr : v.if_array();
    if (!arr) return Error(errc::invalid_argument, "ExtKeyUsages must be a JSON array of numbers");
    std::vector<pki::ExtKeyUsage> out;
    for (const auto& item : *arr) {
        if (!item.is_int64())
            return Error(errc::invalid_argument, "ExtKeyUsages must be a JSON array of numbers");
        auto usage = pki::ext_key_usage_from_go(
            static_cast<int>(std::clamp<std::int64_t>(item.get_int64(), -1, 1000)));
        if (!usage) return usage.error();
        if (std::find(out.begin(), out.end(), *usage) == out.end()) out.push_back(*usage);
    }
    return out;
}

}  // namespace

struct CertServer::State {
    std::shared_ptr<CloudPki> pki;
    CertServerOptions options;
    NodeExistsFn node_exists;
    std::atomic<std::uint64_t> issued{0};
    std::atomic<std::uint64_t> refused{0};

    awaitable<void> refuse(net::HttpRequest& req, net::HttpResponder& res, int status,
                           std::string reason) {
        ++refused;
        auto node = req.header("NodeName").value_or("");
        // Authentication and authorization failures are warnings: someone may be probing.
        logger()->warn("{} {} from {} (NodeName '{}') refused with {}: {}", req.method, req.path,
                       req.remote_address,
                       node.empty() ? "<none>" : (valid_node_name(node) ? node : "<invalid>"),
                       status, reason);
        co_await res.respond_error(status, reason);
    }

    awaitable<void> handle_ca(net::HttpRequest&, net::HttpResponder& res) {
        co_await res.respond(200, pki->ca_cert().to_der(), "application/octet-stream");
    }

    awaitable<void> handle_node(net::HttpRequest& req, net::HttpResponder& res) {
        std::string name = req.route_param("name");
        if (!valid_node_name(name)) {
            co_await res.respond_error(400, "invalid node name");
            co_return;
        }
        if (!node_exists) {
            co_await res.respond_error(503, "node lookup is not available");
            co_return;
        }
        auto found = co_await node_exists(name);
        if (!found) {
            logger()->error("looking up node {} failed: {}", name, found.error().message());
            co_await res.respond_error(500, "cannot look the node up");
            co_return;
        }
        if (*found) {
            co_await res.respond(200, "Node found");
        } else {
            co_await res.respond(404, "Node not found");
        }
    }

    awaitable<void> handle_edge_cert(net::HttpRequest& req, net::HttpResponder& res);
};

awaitable<void> CertServer::State::handle_edge_cert(net::HttpRequest& req,
                                                    net::HttpResponder& res) {
    const std::string node = req.header("NodeName").value_or("");
    if (node.empty()) co_return co_await refuse(req, res, 400, "missing NodeName header");
    if (!valid_node_name(node))
        co_return co_await refuse(req, res, 400, "NodeName is not a valid node name");

    // Who is asking: a join token, or (rotation) a client certificate of this very node.
    bool via_token = false;
    if (auto auth = req.header("Authorization")) {
        std::string_view value = trim(*auth);
        if (!iequals_prefix(value, "bearer "))
            co_return co_await refuse(req, res, 401, "Authorization must be 'Bearer <token>'");
        auto claims = pki->verify_bearer(trim(value.substr(7)));
        if (!claims)
            co_return co_await refuse(req, res, 401, "token rejected: " + claims.error().detail);
        via_token = true;
    } else if (req.peer.has_certificate) {
        const auto& orgs = req.peer.organizations;
        const bool is_node = req.peer.common_name == std::string(kNodeCnPrefix) + node &&
                             std::find(orgs.begin(), orgs.end(), kNodeOrg) != orgs.end();
        if (!is_node) {
            co_return co_await refuse(req, res, 403,
                                      "client certificate is for '" + req.peer.common_name +
                                          "', not system:node:" + node);
        }
    } else {
        co_return co_await refuse(
            req, res, 401, "missing Authorization header (join token) or client certificate");
    }

    if (req.body.empty())
        co_return co_await refuse(req, res, 400, "empty body: expected a DER certificate request");
    if (req.body.size() > options.max_csr_bytes)
        co_return co_await refuse(req, res, 413, "certificate request too large");
    auto csr = pki::CertificateRequest::from_der(req.body);
    if (!csr) {
        co_return co_await refuse(req, res, 400,
                                  "body is not a DER certificate request: " + csr.error().detail);
    }

    pki::SignOptions sign;
    sign.lifetime = options.edge_cert_lifetime;
    sign.now = pki->clock().now();
    if (auto usages = req.header("ExtKeyUsages"); usages && !trim(*usages).empty()) {
        auto parsed = parse_ext_key_usages(*usages);
        if (!parsed) co_return co_await refuse(req, res, 400, parsed.error().detail);
        if (!parsed->empty()) sign.ext_key_usages = std::move(*parsed);
    }

    // The token proves the caller may join, not which node it is: bind the name it asks for to
    // the certificate it gets.
    const pki::Subject want = node_subject(node);
    const pki::Subject asked = csr->subject();
    if (asked != want) {
        if (options.allow_legacy_csr_subject && via_token && asked.common_name == kLegacyCn) {
            logger()->warn(
                "node {}: legacy CSR subject '{}' accepted (allowLegacyNodeCertificates);"
                " issuing the certificate for {}",
                node, asked.to_string(), want.to_string());
            sign.subject_override = want;
        } else {
            co_return co_await refuse(req, res, 403,
                                      "certificate request subject is '" + asked.to_string() +
                                          "'; node " + node + " must ask for '" + want.to_string() +
                                          "'");
        }
    }

    auto cert = pki::sign_csr(pki->ca_cert(), pki->ca_key(), *csr, sign);
    if (!cert) {
        if (cert.error().is(errc::unauthorized))
            co_return co_await refuse(req, res, 400,
                                      "certificate request signature does not verify");
        logger()->error("node {}: signing failed: {}", node, cert.error().message());
        co_await res.respond_error(500, "signing failed");
        co_return;
    }
    ++issued;
    logger()->info("issued a certificate for node {} via {} (serial {}, valid {} s)", node,
                   via_token ? "join token" : "client certificate", cert->serial_hex(),
                   options.edge_cert_lifetime.count());
    co_await res.respond(200, cert->to_der(), "application/octet-stream");
}

CertServer::CertServer(boost::asio::any_io_executor ex, std::shared_ptr<CloudPki> pki,
                       CertServerOptions options, NodeExistsFn node_exists)
    : ex_(std::move(ex)), state_(std::make_shared<State>()) {
    state_->pki = std::move(pki);
    state_->options = std::move(options);
    state_->node_exists = std::move(node_exists);
}

CertServer::~CertServer() { stop(); }

Result<void> CertServer::start() {
    const CloudPki& p = *state_->pki;
    auto tls = net::TlsContext::make_server({net::PemSource::from_pem(p.ca_cert().to_pem()),
                                             net::PemSource::from_pem(p.server_cert().to_pem()),
                                             net::PemSource::from_pem(p.server_key().to_pem()),
                                             net::ClientAuth::request});
    if (!tls) return tls.error();
    net::HttpServerOptions opts;
    opts.host = state_->options.address;
    opts.port = state_->options.port;
    opts.tls = *tls;
    opts.max_body_bytes = state_->options.max_csr_bytes;
    opts.name = "cloudhub.https";
    server_ = net::HttpServer::make(ex_, opts);

    auto st = state_;
    server_->handle("GET", "/ca.crt", [st](net::HttpRequest& req, net::HttpResponder& res) {
        return st->handle_ca(req, res);
    });
    auto edge_cert = [st](net::HttpRequest& req, net::HttpResponder& res) {
        return st->handle_edge_cert(req, res);
    };
    // Upstream edgecore sends the CSR as the body of a GET; other clients may POST it.
    server_->handle("GET", "/edge.crt", edge_cert);
    server_->handle("POST", "/edge.crt", edge_cert);
    server_->handle("GET", "/node/{name}", [st](net::HttpRequest& req, net::HttpResponder& res) {
        return st->handle_node(req, res);
    });
    if (auto r = server_->start(); !r) return r;
    logger()->info("join server listening on {}:{}", opts.host, server_->port());
    return {};
}

void CertServer::stop() {
    if (server_) server_->stop();
}

unsigned short CertServer::port() const { return server_ ? server_->port() : 0; }

std::uint64_t CertServer::certificates_issued() const { return state_->issued.load(); }
std::uint64_t CertServer::requests_refused() const { return state_->refused.load(); }

}  // namespace kedge::cloud
