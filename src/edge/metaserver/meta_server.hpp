#pragma once
// The edge-local Kubernetes API (PROTOCOL.md §8) on 127.0.0.1:10550, plain HTTP on loopback as
// upstream: get, list and watch of everything the edge holds (pods, nodes, configmaps, secrets,
// services, endpoints, leases, events, devices, device models and any other synced resource,
// found through the store's GVRs), with label and field selectors and Kubernetes
// resourceVersion semantics, served from the MetaStore and working offline. Discovery
// (/api, /apis, /api/v1, /apis/<g>/<v>, /version) is answered locally, so kubectl and
// client-go work without the cloud. Writes (POST, PUT, PATCH, DELETE) go to the cloud through a
// RemoteWriter; when the cloud is not connected they get a 503 ServiceUnavailable Status.
//
// Watch: list RV = the store's high-water mark; "watch from X" replays from the change log
// (MetaStore::subscribe), 410 Expired (a Status with reason Expired, as a watch ERROR event) when
// X is older than the log; no RV / "0" starts with ADDED events for the current objects;
// allowWatchBookmarks gives BOOKMARK events carrying the high-water mark; timeoutSeconds ends
// the stream.
//
// Threads: the HTTP server runs on the executor given to start(); store notifications are
// posted to each watch's connection strand.

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>

#include "base/error.hpp"
#include "edge/metastore/meta_store.hpp"

namespace kedge::edge {

// A write the meta server forwards to the cloud.
struct RemoteWrite {
    std::string verb;  // "create", "update", "patch", "delete"
    MetaKey key;       // the object (for create: name from the body)
    GroupVersionResource gvr;
    std::string subresource;  // "", "status"
    std::string body;         // request body (object, patch, or DeleteOptions)
    std::string patch_type;   // Content-Type of a PATCH ("application/strategic-merge-patch+json")
};

// The cloud's answer, as the HTTP response the client gets.
struct RemoteResult {
    int http_status = 200;
    std::string body;  // an object or a Status, JSON
};

// Implemented by the meta manager: errc::unavailable when the cloud is not connected (-> 503),
// timeout (-> 504), anything else -> 500; a RemoteResult is returned to the client as is.
using RemoteWriter = std::function<boost::asio::awaitable<Result<RemoteResult>>(RemoteWrite write)>;

struct MetaServerOptions {
    std::string host = "127.0.0.1";
    unsigned short port = 10550;                // 0 picks a free port (tests)
    std::string git_version = "v1.30.0-kedge";  // /version gitVersion
    // BOOKMARK events (for watches that allow them) come this often.
    std::chrono::milliseconds bookmark_interval = std::chrono::seconds(10);
    // Store changes one watch may have waiting to be sent; beyond it the client is too slow and
    // its watch is closed (it re-watches from its last resourceVersion).
    std::size_t watch_queue_capacity = 4096;
    // Threads that run the blocking SQLite reads off the HTTP executor.
    std::size_t store_threads = 2;
};

class MetaServer {
public:
    // Binds and starts serving. unavailable naming the address when the port is taken.
    static Result<std::shared_ptr<MetaServer>> start(boost::asio::any_io_executor ex,
                                                     std::shared_ptr<MetaStore> store,
                                                     RemoteWriter writer,
                                                     MetaServerOptions options = {});
    ~MetaServer();
    unsigned short port() const;
    // Ends watches and stops listening; idempotent.
    void stop();

    struct Impl;

private:
    explicit MetaServer(std::shared_ptr<Impl> impl);
    std::shared_ptr<Impl> impl_;
};

}  // namespace kedge::edge
