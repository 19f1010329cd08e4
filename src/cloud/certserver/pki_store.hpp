#pragma once
// Where cloudcore keeps its CA, server certificate and join token so that several cloudcores
// share one set: shaped like the upstream Secrets in namespace kubeedge (PROTOCOL.md §4), one
// named map of byte strings per Secret. The file store here is for single-host setups and
// tests; a Secret-backed store plugs in behind the same interface.

#include <boost/asio/awaitable.hpp>
#include <filesystem>
#include <map>
#include <optional>
#include <string>

#include "base/error.hpp"

namespace kedge::cloud {

// The data of one Secret: key -> raw bytes (DER, or the token text).
using SecretData = std::map<std::string, std::string>;

// Upstream's Secret names and data keys.
inline constexpr const char* kCaSecret = "casecret";
inline constexpr const char* kCaDataKey = "cadata";
inline constexpr const char* kCaKeyDataKey = "cakeydata";
inline constexpr const char* kServerSecret = "cloudcoresecret";
inline constexpr const char* kServerCertDataKey = "cloudcoredata";
inline constexpr const char* kServerKeyDataKey = "cloudcorekeydata";
inline constexpr const char* kTokenSecret = "tokensecret";
inline constexpr const char* kTokenDataKey = "tokendata";

// Storage of PKI Secrets. Implementations are safe to call from any coroutine; create() is
// the only way two cloudcores can race, and it is atomic.
class PkiStore {
public:
    virtual ~PkiStore() = default;
    // The Secret's data, or nullopt when it does not exist.
    virtual boost::asio::awaitable<Result<std::optional<SecretData>>> load(std::string name) = 0;
    // Creates the Secret only if it does not exist yet; already_exists when another cloudcore
    // won the race (the caller then loads what the winner stored).
    virtual boost::asio::awaitable<Result<void>> create(std::string name, SecretData data) = 0;
    // Replaces the Secret's data (creating it if needed), e.g. a refreshed token.
    virtual boost::asio::awaitable<Result<void>> update(std::string name, SecretData data) = 0;
};

// Secrets as directories laid out like a mounted Secret volume: <root>/<name>/<key>, files
// mode 0600. create() renames a fully written temporary directory into place, so a concurrent
// reader sees all of a Secret or none of it. The I/O is small and synchronous (start-up and
// token refresh only).
class FilePkiStore final : public PkiStore {
public:
    explicit FilePkiStore(std::filesystem::path root);

    boost::asio::awaitable<Result<std::optional<SecretData>>> load(std::string name) override;
    boost::asio::awaitable<Result<void>> create(std::string name, SecretData data) override;
    boost::asio::awaitable<Result<void>> update(std::string name, SecretData data) override;

    // The blocking operations behind the coroutines, for tools and tests.
    Result<std::optional<SecretData>> load_now(const std::string& name) const;
    Result<void> create_now(const std::string& name, const SecretData& data);
    Result<void> update_now(const std::string& name, const SecretData& data);

    const std::filesystem::path& root() const { return root_; }

private:
    std::filesystem::path root_;
};

}  // namespace kedge::cloud
