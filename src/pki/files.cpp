#include "pki/files.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <system_error>
#include <vector>

#include "pki/certificate.hpp"
#include "pki/private_key.hpp"

namespace kedge::pki {

namespace fs = std::filesystem;

namespace {

Error io_error(const std::string& what, const fs::path& path, int err) {
    return Error(errc::io_error, what + " " + path.string() + ": " + std::strerror(err));
}

// Closes the fd and removes the temp file unless released (after a successful rename).
class TempFile {
  public:
    TempFile(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
    ~TempFile() {
        if (fd_ >= 0) ::close(fd_);
        if (!path_.empty()) ::unlink(path_.c_str());
    }
    TempFile(const TempFile&) = delete;
    TempFile& operator=(const TempFile&) = delete;
    int fd() const { return fd_; }
    int close() {
        int rc = ::close(fd_);
        fd_ = -1;
        return rc;
    }
    void release() { path_.clear(); }

  private:
    int fd_;
    std::string path_;
};

}  // namespace

Result<void> write_file_atomic(const fs::path& path, std::string_view content, unsigned mode) {
    if (path.filename().empty()) {
        return Error(errc::invalid_argument, "no file name in path '" + path.string() + "'");
    }
    fs::path dir = path.parent_path();
    if (!dir.empty()) {
        std::error_code ec;
        fs::create_directories(dir, ec);
        if (ec) return Error(errc::io_error, "cannot create " + dir.string() + ": " + ec.message());
    }
    // mkstemp creates the file 0600, so a key is never world-readable, even before fchmod.
    std::string tmpl = path.string() + ".tmp.XXXXXX";
    std::vector<char> name(tmpl.begin(), tmpl.end());
    name.push_back('\0');
    int fd = ::mkstemp(name.data());
    if (fd < 0) return io_error("cannot create a temporary file for", path, errno);
    TempFile tmp(fd, name.data());
    if (::fchmod(fd, static_cast<mode_t>(mode)) != 0) {
        return io_error("cannot set the mode of", path, errno);
    }
    std::size_t off = 0;
    while (off < content.size()) {
        ssize_t n = ::write(fd, content.data() + off, content.size() - off);
        if (n < 0) {
            if (errno == EINTR) continue;
            return io_error("cannot write", path, errno);
        }
        off += static_cast<std::size_t>(n);
    }
    if (::fsync(fd) != 0) return io_error("cannot sync", path, errno);
    if (tmp.close() != 0) return io_error("cannot close", path, errno);
    if (::rename(name.data(), path.c_str()) != 0) return io_error("cannot replace", path, errno);
    tmp.release();
    // Makes the rename itself durable; failure here is not worth failing the write for.
    int dfd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        ::fsync(dfd);
        ::close(dfd);
    }
    return {};
}

Result<std::string> read_file(const fs::path& path, std::size_t max_size) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        int err = errno;
        if (err == ENOENT) return Error(errc::not_found, path.string() + " does not exist");
        return io_error("cannot open", path, err);
    }
    std::string out;
    char buf[8192];
    while (in.read(buf, sizeof(buf)) || in.gcount() > 0) {
        out.append(buf, static_cast<std::size_t>(in.gcount()));
        if (out.size() > max_size) {
            return Error(errc::too_large,
                         path.string() + " is larger than " + std::to_string(max_size) + " bytes");
        }
    }
    if (in.bad()) return io_error("cannot read", path, errno);
    return out;
}

Result<void> write_key_pem(const fs::path& path, const PrivateKey& key) {
    return write_file_atomic(path, key.to_pem(), kKeyFileMode);
}

Result<void> write_cert_pem(const fs::path& path, const Certificate& cert) {
    return write_file_atomic(path, cert.to_pem(), kCertFileMode);
}

Result<PrivateKey> read_key_pem(const fs::path& path) {
    auto text = read_file(path);
    if (!text) return text.error();
    auto key = PrivateKey::from_pem(*text);
    if (!key) return Error(key.error().code, path.string() + ": " + key.error().detail);
    return key;
}

Result<Certificate> read_cert_pem(const fs::path& path) {
    auto text = read_file(path);
    if (!text) return text.error();
    auto cert = Certificate::from_pem(*text);
    if (!cert) return Error(cert.error().code, path.string() + ": " + cert.error().detail);
    return cert;
}

}  // namespace kedge::pki
