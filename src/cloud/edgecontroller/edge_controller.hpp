#pragma once
// cloudcore's edge controller: the bridge between the Kubernetes API and the edge nodes.
// Downstream it sends each connected edge node its pods, the ConfigMaps and Secrets those pods
// reference, its own Node, and every Service and Endpoints, from shared informers; on connect it
// brings the node level from its inventory (delta resync, no API request) or, for an upstream
// edge that sends none, with a full sync and upstream's ObjectSync bookkeeping. Upstream it
// applies node registration and status, pod status, leases and events, and answers queries,
// each authorized for the sending node.

#include <boost/asio/any_io_executor.hpp>

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "base/clock.hpp"
#include "cloud/hub/cloud_hub.hpp"

namespace kedge::kube::client {
class Client;
class InformerFactory;
}  // namespace kedge::kube::client

namespace kedge::cloud::edgecontroller {

inline constexpr std::string_view kEdgeNodeLabel = "node-role.kubernetes.io/edge";
inline constexpr std::string_view kCloudcoreAnnotation = "kedge.io/cloudcore";

struct EdgeControllerOptions {
    // Written into the kCloudcoreAnnotation of each node this cloudcore holds.
    std::string cloudcore_id = "cloudcore";
    // How long a connected node has to send its inventory before it gets a full sync.
    std::chrono::milliseconds inventory_wait{2000};
    // Keep upstream's ObjectSync / ClusterObjectSync records for nodes that sent no inventory
    // (needs the reliablesyncs.kubeedge.io CRDs).
    bool object_sync = true;
    // modules.cloudHub.authorization: enforce node authorization of upstream messages (kedge's
    // default; upstream's is off), or with `debug` only log what would have been denied.
    bool authorization = true;
    bool authorization_debug = false;
    // Upstream requests of one node being served at once; more are answered with an `error`
    // (unavailable) instead of piling up API calls and memory for a node that floods.
    std::size_t max_upstream_in_flight = 64;
    // Nodes whose send failed (queue full) are fully resynced this often.
    std::chrono::milliseconds retry_interval{5000};
};

// Counters for /metrics and tests.
struct EdgeControllerStats {
    std::map<std::string, std::uint64_t> upstream_by_type;   // "podpatch", "lease", ...
    std::map<std::string, std::uint64_t> sent_by_operation;  // "insert", "update", ...
    std::uint64_t resyncs_inventory = 0, resyncs_full = 0;
    std::uint64_t denials = 0, api_errors = 0, bad_messages = 0;
    std::uint64_t upstream_throttled = 0;  // refused: max_upstream_in_flight reached
    std::uint64_t send_failures = 0;  // queue full: the node is resynced later
    std::uint64_t object_syncs_written = 0;
};

class EdgeController : public HubObserver {
public:
    // ex: the single-threaded executor the factory's informers run on (the controller reads
    // their stores there). Call before factory.start_all(): it adds indexes and handlers.
    static std::shared_ptr<EdgeController> make(boost::asio::any_io_executor ex,
                                                std::shared_ptr<kube::client::Client> client,
                                                kube::client::InformerFactory& factory,
                                                EdgeControllerOptions options,
                                                const Clock& clock = SystemClock::instance());
    ~EdgeController() override = default;

    // Where messages to nodes go (the CloudHub). Before start().
    virtual void attach(std::shared_ptr<MessageSink> sink) = 0;
    // Waits for the informers' sync in the background, then serves connects. Idempotent.
    virtual void start() = 0;
    // No message is sent and no API request started after it (pending ones complete).
    virtual void stop() = 0;
    // Safe from any thread.
    virtual EdgeControllerStats stats() const = 0;
};

}  // namespace kedge::cloud::edgecontroller
