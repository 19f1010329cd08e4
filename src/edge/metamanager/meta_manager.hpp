#pragma once
// edgecore's meta manager (upstream module "metamanager", group "meta"): the edge's memory.
//
// Downstream: every object message from the cloud (insert/update/delete of pods, configmaps,
// secrets, nodes, services, endpoints, devices, ...) is committed to the MetaStore first and
// only then acked to the cloud (`response`, content "OK", parent = the cloud's msg_id), so a
// crash never loses an acked object; a batch of queued messages shares one transaction. After
// the commit the message goes on to the module that acts on it (edged for pods, twin for
// devices) when that module is enabled.
//
// Upstream: updates from edge modules (node registration and status, pod status patches,
// leases, events) are sent to the cloud as requests through the edge hub. While the cloud is
// not connected, or when it does not answer, the message is kept in the store's outbox, the
// latest one per object (a newer status replaces an older one), durably, and the outbox is
// flushed oldest first after `cloud_connected`.
//
// Queries from edge modules: answered by the cloud when connected (remote query with
// remoteQueryTimeout; the object it returns is stored), otherwise, or on a timeout or error,
// from the local copy.
//
// The meta server's writes come in through remote_writer(): forwarded to the cloud when
// connected (errc::unavailable otherwise) and the cloud's answer mapped to an HTTP result.
//
// Threads: the module's loop runs on the Context's executor; connected() and stats() are safe
// from any thread.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "bus/module.hpp"
#include "edge/metaserver/meta_server.hpp"
#include "edge/metastore/meta_store.hpp"

namespace kedge::edge {

struct MetaManagerOptions {
    std::string node;
    // How long a remote query waits for the cloud before answering from the local copy.
    std::chrono::milliseconds remote_query_timeout{60'000};
    // How long an upstream update waits for the cloud's answer before going to the outbox.
    std::chrono::milliseconds upstream_timeout{30'000};
    // Downstream messages committed in one transaction at most.
    std::size_t max_batch = 256;
};

struct MetaManagerStats {
    std::uint64_t stored = 0;           // downstream objects committed
    std::uint64_t acked = 0;            // acks sent to the cloud
    std::uint64_t store_failures = 0;   // batches that could not be committed (not acked)
    std::uint64_t sent_upstream = 0;    // updates the cloud answered
    std::uint64_t queued_offline = 0;   // updates put in the outbox
    std::uint64_t flushed = 0;          // outbox entries delivered after a reconnect
    std::uint64_t remote_queries = 0;
    std::uint64_t local_fallbacks = 0;  // queries answered locally because the cloud did not
    std::uint64_t resyncs = 0;          // resync responses received (edge is level)
};

class MetaManager : public bus::Module {
public:
    MetaManager(MetaManagerOptions options, std::shared_ptr<MetaStore> store);
    ~MetaManager() override;

    std::string name() const override;   // "metamanager"
    std::string group() const override;  // "meta"
    void start(bus::Context& ctx) override;
    void stop() override;

    // For the meta server (valid after start()).
    RemoteWriter remote_writer();

    bool cloud_connected() const;
    MetaManagerStats stats() const;

    struct Impl;

private:
    std::shared_ptr<Impl> impl_;
};

}  // namespace kedge::edge
