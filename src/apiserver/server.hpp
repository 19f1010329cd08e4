#pragma once
// The HTTP face of kedge-apiserver: TLS, authentication, authorization, discovery, /version,
// health, OpenAPI stubs and the Kubernetes resource routes (including chunked watch streams) on
// net::HttpServer, with every blocking registry call run on a small worker pool.

#include <boost/asio/any_io_executor.hpp>

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>

#include "apiserver/auth/authenticator.hpp"
#include "apiserver/auth/authorizer.hpp"
#include "apiserver/registry.hpp"
#include "base/error.hpp"
#include "net/tls_context.hpp"

namespace kedge::apiserver {

// Settings of the HTTP layer.
struct ApiServerOptions {
    std::string bind_address = "127.0.0.1";
    unsigned short port = 0;  // 0 picks a free port; see ApiServer::port()
    std::shared_ptr<net::TlsContext> tls;  // required: the API server speaks TLS only
    std::size_t worker_threads = 2;        // the blocking-work pool (storage calls)
    std::size_t max_body_bytes = 3 * 1024 * 1024;  // larger request bodies get 413
    std::string git_version = "v1.31.0-kedge";     // /version (kubectl warns beyond +-1 minor)
    // A BOOKMARK is sent this often on watches that asked for them.
    std::chrono::milliseconds bookmark_interval = std::chrono::seconds(30);
    std::size_t watch_queue_capacity = 1'000;  // events buffered per slow watcher
    // Every watch holds a connection: the target is one write reaching 10,000 watchers, with
    // room for the writers and the controllers beside them.
    std::size_t max_connections = 50'000;
};

// One API server endpoint. Create with make(), then start(); stop() from any thread.
class ApiServer {
  public:
    static std::shared_ptr<ApiServer> make(boost::asio::any_io_executor ex,
                                           std::shared_ptr<Registry> registry,
                                           std::shared_ptr<const auth::RequestAuthenticator> authn,
                                           std::shared_ptr<const auth::Authorizer> authz,
                                           ApiServerOptions options);
    ~ApiServer();
    ApiServer(const ApiServer&) = delete;
    ApiServer& operator=(const ApiServer&) = delete;

    Result<void> start();
    unsigned short port() const;
    // Stops accepting, ends watches, then joins the worker pool. Idempotent.
    void stop();

    struct Impl;

  private:
    explicit ApiServer(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

}  // namespace kedge::apiserver
