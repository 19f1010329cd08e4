#include "cloud/certserver/secret_pki_store.hpp"

#include <boost/json/object.hpp>

#include "base/base64.hpp"
#include "kube/object.hpp"

namespace kedge::cloud {

namespace asio = boost::asio;
namespace json = boost::json;
using kube::client::resources::secrets;

namespace {

json::object secret_object(const std::string& ns, const std::string& name, const SecretData& data) {
    json::object d;
    for (const auto& [k, v] : data) d[k] = base64_encode(v);
    return {{"apiVersion", "v1"},
            {"kind", "Secret"},
            {"metadata", json::object{{"name", name},
                                      {"namespace", ns},
                                      {"labels", json::object{{"app.kubernetes.io/managed-by",
                                                               "cloudcore"}}}}},
            {"type", "Opaque"},
            {"data", std::move(d)}};
}

}  // namespace

SecretPkiStore::SecretPkiStore(std::shared_ptr<kube::client::Client> client, std::string ns)
    : client_(std::move(client)), namespace_(std::move(ns)) {}

asio::awaitable<Result<void>> SecretPkiStore::ensure_namespace() {
    if (namespace_ready_) co_return Result<void>{};
    json::object ns{{"apiVersion", "v1"},
                    {"kind", "Namespace"},
                    {"metadata", json::object{{"name", namespace_}}}};
    auto r = co_await client_->create(kube::client::resources::namespaces(), "", ns);
    if (!r && !r.error().is(errc::already_exists)) co_return r.error();
    namespace_ready_ = true;
    co_return Result<void>{};
}

asio::awaitable<Result<std::optional<SecretData>>> SecretPkiStore::load(std::string name) {
    auto obj = co_await client_->get(secrets(), namespace_, name);
    if (!obj) {
        if (obj.error().is(errc::not_found)) co_return std::optional<SecretData>{};
        co_return obj.error();
    }
    SecretData out;
    if (auto* data = obj->if_contains("data"); data && data->is_object()) {
        for (const auto& [k, v] : data->as_object()) {
            std::string bytes;
            if (!v.is_string() || !base64_decode(v.as_string(), bytes))
                co_return Error(errc::parse_error, "Secret " + namespace_ + "/" + name + " key " +
                                                       std::string(k) + " is not base64");
            out[std::string(k)] = std::move(bytes);
        }
    }
    co_return std::optional<SecretData>(std::move(out));
}

asio::awaitable<Result<void>> SecretPkiStore::create(std::string name, SecretData data) {
    if (auto ns = co_await ensure_namespace(); !ns) co_return ns.error();
    auto r = co_await client_->create(secrets(), namespace_, secret_object(namespace_, name, data));
    if (!r) co_return r.error();  // already_exists when another cloudcore won the race
    co_return Result<void>{};
}

asio::awaitable<Result<void>> SecretPkiStore::update(std::string name, SecretData data) {
    if (auto ns = co_await ensure_namespace(); !ns) co_return ns.error();
    for (int attempt = 0; attempt < 5; ++attempt) {
        auto current = co_await client_->get(secrets(), namespace_, name);
        if (!current) {
            if (!current.error().is(errc::not_found)) co_return current.error();
            auto c = co_await client_->create(secrets(), namespace_,
                                              secret_object(namespace_, name, data));
            if (c || !c.error().is(errc::already_exists)) co_return c ? Result<void>{} : c.error();
            continue;
        }
        auto obj = secret_object(namespace_, name, data);
        kube::set_resource_version(obj, kube::resource_version(*current));
        auto u = co_await client_->update(secrets(), obj);
        if (u) co_return Result<void>{};
        if (!u.error().is(errc::conflict)) co_return u.error();
    }
    co_return Error(errc::conflict, "Secret " + namespace_ + "/" + name +
                                        " kept changing while it was being updated");
}

}  // namespace kedge::cloud
