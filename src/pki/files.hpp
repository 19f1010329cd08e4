#pragma once
// Reading and writing PKI material on disk. Writes are atomic (temp file in the same directory,
// fsync, rename) so a crash never leaves a half-written key or certificate behind, and keys are
// never readable by others, not even briefly.

#include <cstddef>
#include <filesystem>
#include <string>
#include <string_view>

#include "base/error.hpp"

namespace kedge::pki {

class Certificate;
class PrivateKey;

inline constexpr unsigned kKeyFileMode = 0600;
inline constexpr unsigned kCertFileMode = 0644;

// Replaces path with content (mode applied before the rename); creates missing parent dirs.
Result<void> write_file_atomic(const std::filesystem::path& path, std::string_view content,
                               unsigned mode);
// Reads a whole file; too_large beyond max_size, not_found if it does not exist.
Result<std::string> read_file(const std::filesystem::path& path,
                              std::size_t max_size = 1024 * 1024);

// SEC1 "EC PRIVATE KEY" PEM, mode 0600.
Result<void> write_key_pem(const std::filesystem::path& path, const PrivateKey& key);
// "CERTIFICATE" PEM, mode 0644.
Result<void> write_cert_pem(const std::filesystem::path& path, const Certificate& cert);

Result<PrivateKey> read_key_pem(const std::filesystem::path& path);
Result<Certificate> read_cert_pem(const std::filesystem::path& path);

}  // namespace kedge::pki
