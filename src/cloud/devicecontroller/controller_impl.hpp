#pragma once
// Internal: the DeviceController implementation shared by controller.cpp (downstream, connects)
// and upstream.cpp (reports from edges, status writes, events).

#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>

#include <atomic>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "base/log.hpp"
#include "cloud/devicecontroller/device_controller.hpp"
#include "cloud/devicecontroller/device_messages.hpp"
#include "kube/client/informer.hpp"

namespace kedge::cloud::devicecontroller::detail {

inline constexpr std::string_view kNodeIndex = "devicecontroller.nodeName";
inline constexpr std::string_view kModelIndex = "devicecontroller.model";

using kube::client::ObjectPtr;

class ControllerImpl final : public DeviceController,
                             public std::enable_shared_from_this<ControllerImpl> {
public:
    ControllerImpl(boost::asio::any_io_executor ex, std::shared_ptr<kube::client::Client> client,
                   kube::client::InformerFactory& factory, DeviceControllerOptions options,
                   const Clock& clock);

    // DeviceController
    void attach(std::shared_ptr<MessageSink> sink) override { sink_ = std::move(sink); }
    void start() override;
    void stop() override;
    DeviceControllerStats stats() const override;

    // HubObserver: every call is posted onto ex_.
    void node_connected(const std::string& node) override;
    void node_disconnected(const std::string& node) override;
    void upstream(const std::string& node, bus::Message msg) override;

    // Adds the informer handlers (make() calls it once the object is owned by a shared_ptr).
    void register_handlers();

private:
    // Reports of one device on their way to Device.status: at most one patch in flight.
    struct StatusWork {
        PendingStatus pending;
        std::vector<std::pair<std::string, bus::Message>> waiting;  // (node, request) to answer
        std::vector<std::pair<std::string, bus::Message>> in_flight_waiting;
        bool in_flight = false;
        ObjectPtr latest;  // the object the last patch returned (may be ahead of the informer)
    };

    // ---- controller.cpp ----
    boost::asio::awaitable<void> run();
    void on_device_added(const ObjectPtr& device);
    void on_device_updated(const ObjectPtr& old, const ObjectPtr& now);
    void on_device_deleted(const ObjectPtr& last);
    void on_model(std::string_view op, const ObjectPtr& model);
    // Sends a device (and first its model, once per node and model version) to its node.
    void send_device(const std::string& node, const ObjectPtr& device, std::string_view op);
    void send_model_if_needed(const std::string& node, const std::string& model_key);
    // The device went from the node: membership removal, Device delete, and the model's delete
    // when no other device of the node uses it.
    void remove_device(const std::string& node, const ObjectPtr& device);
    void drop_model_if_unused(const std::string& node, const std::string& model_key);
    void sync_node(const std::string& node);
    // membership_device() of every device bound to node.
    boost::json::array devices_of(const std::string& node) const;
    ObjectPtr model_of(const boost::json::object& device) const;
    void check_model(const ObjectPtr& device);
    bool live(const std::string& node) const;
    bool send(const std::string& node, bus::Message msg, std::string_view kind);
    template <class F>
    void with_stats(F f) {
        std::lock_guard lock(stats_mu_);
        f(stats_);
    }
    void spawn(boost::asio::awaitable<void> task, std::string what);

    // ---- upstream.cpp ----
    void handle_upstream(const std::string& node, bus::Message msg);
    void serve_detail(const std::string& node, const bus::Message& msg);
    void serve_report(const std::string& node, const bus::Message& msg);
    boost::asio::awaitable<void> flush_status(std::string key);
    boost::asio::awaitable<void> emit_missing_model_event(ObjectPtr device, std::string model);

    boost::asio::any_io_executor ex_;
    std::shared_ptr<kube::client::Client> client_;
    DeviceControllerOptions options_;
    const Clock& clock_;
    std::shared_ptr<spdlog::logger> log_;
    std::shared_ptr<MessageSink> sink_;
    std::shared_ptr<kube::client::Informer> devices_, models_;

    std::set<std::string, std::less<>> connected_;
    // Connected nodes that were sent all their devices and models in this session (a
    // membership/detail request then only needs the list).
    std::set<std::string, std::less<>> objects_sent_;
    // node -> model key -> resourceVersion sent on this session.
    std::map<std::string, std::map<std::string, std::string, std::less<>>, std::less<>>
        models_sent_;
    std::set<std::string, std::less<>> needs_resync_;
    // (device key, model key) already reported missing (one Event and log line each).
    std::set<std::pair<std::string, std::string>> missing_reported_;
    std::map<std::string, StatusWork, std::less<>> status_;  // by device key
    std::vector<std::pair<std::string, bus::Message>> early_;
    bool synced_ = false;
    bool started_ = false;
    std::atomic<bool> stopped_{false};
    std::unique_ptr<boost::asio::steady_timer> retry_timer_;

    mutable std::mutex stats_mu_;
    DeviceControllerStats stats_;
};

}  // namespace kedge::cloud::devicecontroller::detail
