#pragma once
// Internal: the EdgeController implementation shared by controller.cpp (downstream, connects,
// resync), upstream.cpp (messages from edges) and object_sync.cpp (upstream's bookkeeping).

#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>

#include <atomic>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>

#include "base/log.hpp"
#include "bus/resource.hpp"
#include "cloud/edgecontroller/authorizer.hpp"
#include "cloud/edgecontroller/edge_controller.hpp"
#include "cloud/edgecontroller/need_tracker.hpp"
#include "cloud/edgecontroller/resync.hpp"
#include "kube/client/informer.hpp"

namespace kedge::cloud::edgecontroller::detail {

inline constexpr std::string_view kNodeIndex = "edgecontroller.nodeName";

class ControllerImpl final : public EdgeController,
                             public AuthzFacts,
                             public std::enable_shared_from_this<ControllerImpl> {
public:
    ControllerImpl(boost::asio::any_io_executor ex, std::shared_ptr<kube::client::Client> client,
                   kube::client::InformerFactory& factory, EdgeControllerOptions options,
                   const Clock& clock);

    // EdgeController
    void attach(std::shared_ptr<MessageSink> sink) override { sink_ = std::move(sink); }
    void start() override;
    void stop() override;
    EdgeControllerStats stats() const override;

    // HubObserver: every call is posted onto ex_.
    void node_connected(const std::string& node) override;
    void node_disconnected(const std::string& node) override;
    void upstream(const std::string& node, bus::Message msg) override;
    void acked(const std::string& node, const bus::Message& msg) override;

    // Adds the informer handlers (make() calls it once the object is owned by a shared_ptr).
    void register_handlers();

    // AuthzFacts (from the informer stores; on ex_ only)
    std::optional<std::string> pod_node(std::string_view ns, std::string_view name) const override;
    bool node_references(std::string_view node, const ObjectKey& object) const override;
    bool node_uses_service_account(std::string_view node, std::string_view ns,
                                   std::string_view name) const override;

private:
    struct NodeState {
        std::uint64_t session = 0;
        bool ready = false;           // resynced: live events flow
        bool inventory_mode = false;  // a kedge edge (no ObjectSync bookkeeping)
        bool awaiting_inventory = true;
        bool needs_resync = false;  // a send failed: full resync on the retry timer
        std::shared_ptr<boost::asio::steady_timer> timer;
        std::optional<bus::Message> pending_inventory;  // arrived before the informers synced
    };

    // ---- controller.cpp ----
    boost::asio::awaitable<void> run();
    void on_connected(const std::string& node);
    void start_inventory_wait(const std::string& node);
    void on_pod(const kube::client::ObjectPtr& old, const kube::client::ObjectPtr& now);
    void on_pod_deleted(const kube::client::ObjectPtr& last);
    void on_referenced(std::string_view type, std::string_view op,
                       const kube::client::ObjectPtr& obj);
    void on_node(std::string_view op, const kube::client::ObjectPtr& obj);
    void on_broadcast(std::string_view type, std::string_view op,
                      const kube::client::ObjectPtr& obj);
    void apply_need_changes(const std::vector<NeedChange>& changes, bool adds);
    const kube::client::Store* store_for(std::string_view type) const;
    ExpectedSet expected_for(const std::string& node) const;
    void resync_inventory(const std::string& node, const bus::Message& inventory);
    void resync_full(const std::string& node);
    void send_delta(const std::string& node, const ResyncDelta& delta, std::string_view insert_op);
    void annotate_node(const std::string& node);
    // Sends to a node that is ready (resynced); others are brought level by their resync.
    void send_live(const std::string& node, bus::Message msg);
    // Sends regardless of readiness (replies, resync messages). False when it failed.
    bool send(const std::string& node, bus::Message msg);
    template <class F>
    void with_stats(F f) {
        std::lock_guard lock(stats_mu_);
        f(stats_);
    }
    void spawn(boost::asio::awaitable<void> task, std::string what);

    // ---- upstream.cpp ----
    void handle_upstream(const std::string& node, bus::Message msg);
    boost::asio::awaitable<void> serve(std::string node, bus::Message msg, bus::ResourceRef ref);
    boost::asio::awaitable<void> serve_node(std::string node, bus::Message msg,
                                            bus::ResourceRef ref);
    boost::asio::awaitable<void> serve_pod_status(std::string node, bus::Message msg,
                                                  bus::ResourceRef ref);
    boost::asio::awaitable<void> serve_lease(std::string node, bus::Message msg,
                                             bus::ResourceRef ref);
    boost::asio::awaitable<void> serve_event(std::string node, bus::Message msg,
                                             bus::ResourceRef ref);
    boost::asio::awaitable<void> serve_query(std::string node, bus::Message msg,
                                             bus::ResourceRef ref);
    void reply_error(const std::string& node, const bus::Message& request, const Error& e);
    void deny(const std::string& node, const bus::Message& request, const std::string& reason);

    // ---- object_sync.cpp ----
    boost::asio::awaitable<void> record_object_sync(std::string node, bus::Message msg);
    // Deletes for objects an upstream edge was sent (ObjectSync) that it should no longer have.
    std::vector<DeltaDelete> object_sync_deletes(const std::string& node,
                                                 const ExpectedSet& expected) const;

    boost::asio::any_io_executor ex_;
    std::shared_ptr<kube::client::Client> client_;
    // False when the options say a denial is only logged (authorization off or in debug).
    // serve() with the node's in-flight count held for its duration.
    boost::asio::awaitable<void> serve_counted(std::string node, bus::Message msg,
                                               bus::ResourceRef ref);
    bool enforce_denial(const std::string& node, const bus::Message& msg, const Decision& d);
    EdgeControllerOptions options_;
    const Clock& clock_;
    std::shared_ptr<spdlog::logger> log_;
    std::shared_ptr<MessageSink> sink_;

    std::shared_ptr<kube::client::Informer> pods_, nodes_, config_maps_, secrets_, services_,
        endpoints_, object_syncs_, cluster_object_syncs_;
    NeedTracker tracker_;
    std::map<std::string, NodeState, std::less<>> nodes_state_;
    // Upstream requests being served, per node (entries go at 0; kept apart from nodes_state_
    // because a request may outlive its session).
    std::map<std::string, std::size_t, std::less<>> upstream_in_flight_;
    std::uint64_t sessions_ = 0;
    bool synced_ = false;
    bool started_ = false;
    std::atomic<bool> stopped_{false};
    // ObjectSync name -> resourceVersion last written (saves repeated writes).
    std::map<std::string, std::string, std::less<>> recorded_;
    std::unique_ptr<boost::asio::steady_timer> retry_timer_;

    mutable std::mutex stats_mu_;
    EdgeControllerStats stats_;
};

}  // namespace kedge::cloud::edgecontroller::detail
