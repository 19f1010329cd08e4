#include "cloud/certserver/pki_store.hpp"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <system_error>

#include "base/uuid.hpp"
#include "pki/files.hpp"

namespace kedge::cloud {

namespace fs = std::filesystem;

namespace {

// Secret names and data keys become path components: nothing that could leave the directory.
Result<void> check_component(std::string_view what, const std::string& s) {
    bool ok = !s.empty() && s != "." && s != ".." && s.size() <= 253;
    for (char c : s) {
        const bool allowed = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                             (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.';
        ok = ok && allowed;
    }
    if (!ok) {
        return Error(errc::invalid_argument,
                     std::string(what) + " '" + s + "' is not a valid name (letters, digits, -_.)");
    }
    return {};
}

Result<void> check_secret(const std::string& name, const SecretData* data) {
    if (auto r = check_component("secret name", name); !r) return r;
    if (data) {
        for (const auto& [key, value] : *data)
            if (auto r = check_component("secret " + name + " key", key); !r) return r;
    }
    return {};
}

Result<void> write_keys(const fs::path& dir, const SecretData& data) {
    for (const auto& [key, value] : data) {
        if (auto r = pki::write_file_atomic(dir / key, value, pki::kKeyFileMode); !r) return r;
    }
    return {};
}

}  // namespace

FilePkiStore::FilePkiStore(fs::path root) : root_(std::move(root)) {}

Result<std::optional<SecretData>> FilePkiStore::load_now(const std::string& name) const {
    if (auto r = check_secret(name, nullptr); !r) return r.error();
    const fs::path dir = root_ / name;
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) {
        if (fs::exists(dir, ec))
            return Error(errc::io_error, dir.string() + " exists but is not a directory");
        return std::optional<SecretData>{};
    }
    SecretData data;
    for (const auto& entry : fs::directory_iterator(dir, ec)) {
        if (!entry.is_regular_file()) continue;
        const std::string key = entry.path().filename().string();
        if (key.find(".tmp.") != std::string::npos) continue;  // a write in progress
        auto bytes = pki::read_file(entry.path());
        if (!bytes) return bytes.error();
        data.emplace(key, std::move(*bytes));
    }
    if (ec) return Error(errc::io_error, "cannot list " + dir.string() + ": " + ec.message());
    return std::optional<SecretData>(std::move(data));
}

Result<void> FilePkiStore::create_now(const std::string& name, const SecretData& data) {
    if (auto r = check_secret(name, &data); !r) return r;
    const fs::path dir = root_ / name;
    std::error_code ec;
    fs::create_directories(root_, ec);
    if (ec) return Error(errc::io_error, "cannot create " + root_.string() + ": " + ec.message());
    if (fs::exists(dir, ec)) return Error(errc::already_exists, "secret " + name + " exists");
    const fs::path tmp = root_ / ("." + name + ".tmp." + new_uuid());
    if (auto r = write_keys(tmp, data); !r) {
        fs::remove_all(tmp, ec);
        return r;
    }
    // rename(2) of a directory onto an existing non-empty one fails: the loser of a race between
    // two cloudcores gets already_exists and keeps the winner's material.
    if (std::rename(tmp.c_str(), dir.c_str()) != 0) {
        const int err = errno;
        fs::remove_all(tmp, ec);
        if (err == EEXIST || err == ENOTEMPTY)
            return Error(errc::already_exists, "secret " + name + " exists");
        return Error(errc::io_error,
                     "cannot rename into " + dir.string() + ": " + std::strerror(err));
    }
    return {};
}

Result<void> FilePkiStore::update_now(const std::string& name, const SecretData& data) {
    if (auto r = check_secret(name, &data); !r) return r;
    return write_keys(root_ / name, data);
}

boost::asio::awaitable<Result<std::optional<SecretData>>> FilePkiStore::load(std::string name) {
    co_return load_now(name);
}

boost::asio::awaitable<Result<void>> FilePkiStore::create(std::string name, SecretData data) {
    co_return create_now(name, data);
}

boost::asio::awaitable<Result<void>> FilePkiStore::update(std::string name, SecretData data) {
    co_return update_now(name, data);
}

}  // namespace kedge::cloud
