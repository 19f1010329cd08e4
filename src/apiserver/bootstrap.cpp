#include "apiserver/bootstrap.hpp"

#include <algorithm>

#include "apiserver/object_rules.hpp"
#include "pki/certificate.hpp"
#include "pki/certificate_request.hpp"
#include "pki/files.hpp"
#include "pki/issue.hpp"
#include "pki/private_key.hpp"

namespace kedge::apiserver {
namespace fs = std::filesystem;

namespace {

struct Pair {
    pki::Certificate cert;
    pki::PrivateKey key;
};

// Loads cert+key, or creates them with make() and writes them.
template <class Make>
Result<Pair> load_or_make(const fs::path& cert_path, const fs::path& key_path, Make make) {
    if (fs::exists(cert_path) && fs::exists(key_path)) {
        auto c = pki::read_cert_pem(cert_path);
        if (!c) return c.error();
        auto k = pki::read_key_pem(key_path);
        if (!k) return k.error();
        return Pair{*c, *k};
    }
    auto made = make();
    if (!made) return made.error();
    if (auto r = pki::write_key_pem(key_path, made->key); !r) return r.error();
    if (auto r = pki::write_cert_pem(cert_path, made->cert); !r) return r.error();
    return Pair{made->cert, made->key};
}

bool covers(const pki::SubjectAltNames& have, const pki::SubjectAltNames& want) {
    for (const auto& ip : want.ips)
        if (std::find(have.ips.begin(), have.ips.end(), ip) == have.ips.end()) return false;
    for (const auto& d : want.dns_names)
        if (std::find(have.dns_names.begin(), have.dns_names.end(), d) == have.dns_names.end())
            return false;
    return true;
}

}  // namespace

Result<ServerPki> ensure_pki(const PkiOptions& o) {
    ServerPki out;
    std::error_code ec;
    fs::create_directories(o.dir, ec);
    if (ec) return Error(errc::io_error, "creating " + o.dir.string() + ": " + ec.message());

    // Serving CA and certificate.
    if (!o.tls_cert_file.empty()) {
        out.serving_cert = o.tls_cert_file;
        out.serving_key = o.tls_key_file;
        out.serving_ca_cert = o.tls_cert_file;  // clients must be given the real CA separately
    } else {
        auto ca = load_or_make(o.dir / "ca.crt", o.dir / "ca.key", [] {
            return pki::create_ca("kedge-apiserver-ca");
        });
        if (!ca) return ca.error();
        pki::SubjectAltNames sans;
        sans.ips = {"127.0.0.1"};
        for (const auto& ip : o.ips)
            if (std::find(sans.ips.begin(), sans.ips.end(), ip) == sans.ips.end() &&
                ip != "0.0.0.0" && ip != "::")
                sans.ips.push_back(ip);
        sans.dns_names = {"localhost", "kubernetes", "kubernetes.default"};
        for (const auto& d : o.dns_names) sans.dns_names.push_back(d);
        auto issue = [&] {
            return pki::issue_server_cert(ca->cert, ca->key,
                                          pki::Subject{"kedge-apiserver", {}}, sans);
        };
        auto server = load_or_make(o.dir / "server.crt", o.dir / "server.key", issue);
        if (!server) return server.error();
        if (!covers(server->cert.sans(), sans)) {
            auto again = issue();
            if (!again) return again.error();
            if (auto r = pki::write_key_pem(o.dir / "server.key", again->key); !r) return r.error();
            if (auto r = pki::write_cert_pem(o.dir / "server.crt", again->cert); !r)
                return r.error();
        }
        out.serving_ca_cert = (o.dir / "ca.crt").string();
        out.serving_cert = (o.dir / "server.crt").string();
        out.serving_key = (o.dir / "server.key").string();
    }

    // Client CA and the admin credential.
    if (!o.client_ca_file.empty()) {
        out.client_ca_cert = o.client_ca_file;
        return out;
    }
    auto client_ca = load_or_make(o.dir / "client-ca.crt", o.dir / "client-ca.key", [] {
        return pki::create_ca("kedge-apiserver-client-ca");
    });
    if (!client_ca) return client_ca.error();
    out.client_ca_cert = (o.dir / "client-ca.crt").string();
    out.client_ca_key = (o.dir / "client-ca.key").string();
    auto admin = load_or_make(
        o.dir / "admin.crt", o.dir / "admin.key", [&]() -> Result<pki::CertAndKey> {
            auto key = pki::PrivateKey::generate();
            if (!key) return key.error();
            pki::Subject subject{"kedge-admin", {"system:masters"}};
            auto csr = pki::CertificateRequest::create(*key, subject);
            if (!csr) return csr.error();
            auto cert = pki::sign_csr(client_ca->cert, client_ca->key, *csr);
            if (!cert) return cert.error();
            return pki::CertAndKey{*cert, *key};
        });
    if (!admin) return admin.error();
    out.admin_cert = (o.dir / "admin.crt").string();
    out.admin_key = (o.dir / "admin.key").string();
    return out;
}

Result<std::string> admin_kubeconfig(const ServerPki& p, const std::string& host,
                                     unsigned short port) {
    auto ca = pki::read_file(p.serving_ca_cert);
    if (!ca) return ca.error();
    std::string cert, key;
    if (!p.admin_cert.empty()) {
        auto c = pki::read_file(p.admin_cert);
        if (!c) return c.error();
        auto k = pki::read_file(p.admin_key);
        if (!k) return k.error();
        cert = *c;
        key = *k;
    }
    std::string server = "https://" + host + ":" + std::to_string(port);
    std::string y;
    y += "apiVersion: v1\nkind: Config\nclusters:\n- name: kedge\n  cluster:\n";
    y += "    server: " + server + "\n";
    y += "    certificate-authority-data: " + base64_encode(*ca) + "\n";
    y += "users:\n- name: kedge-admin\n  user:\n";
    if (!cert.empty()) {
        y += "    client-certificate-data: " + base64_encode(cert) + "\n";
        y += "    client-key-data: " + base64_encode(key) + "\n";
    } else {
        y += "    {}\n";
    }
    y += "contexts:\n- name: kedge\n  context:\n    cluster: kedge\n    user: kedge-admin\n";
    y += "current-context: kedge\n";
    return y;
}

}  // namespace kedge::apiserver
