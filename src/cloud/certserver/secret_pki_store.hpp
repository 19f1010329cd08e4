#pragma once
// The PKI Secrets where upstream keeps them: namespace kubeedge in the Kubernetes API, so every
// cloudcore replica behind a load balancer shares one CA, server certificate and token.

#include <memory>
#include <string>

#include "cloud/certserver/pki_store.hpp"
#include "kube/client/client.hpp"

namespace kedge::cloud {

class SecretPkiStore final : public PkiStore {
  public:
    // Uses client from its executor's coroutines; creates the namespace when it is missing.
    explicit SecretPkiStore(std::shared_ptr<kube::client::Client> client,
                            std::string namespace_ = "kubeedge");

    boost::asio::awaitable<Result<std::optional<SecretData>>> load(std::string name) override;
    boost::asio::awaitable<Result<void>> create(std::string name, SecretData data) override;
    boost::asio::awaitable<Result<void>> update(std::string name, SecretData data) override;

  private:
    boost::asio::awaitable<Result<void>> ensure_namespace();
    std::shared_ptr<kube::client::Client> client_;
    std::string namespace_;
    bool namespace_ready_ = false;
};

}  // namespace kedge::cloud
