#include "edgemark/join.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "pki/files.hpp"

namespace kedge::edgemark {

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
