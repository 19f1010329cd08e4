#pragma once
// upstream cloudhub's dispatch of what edges send (PROTOCOL.md §1 "Cloud upstream dispatch by
// source"): messages whose source is `twin` go to the device controller, everything else to the
// edge controller; connects and disconnects reach both.

#include <memory>
#include <string>

#include "cloud/hub/cloud_hub.hpp"

namespace kedge::cloud {

// A HubObserver that fans the hub's calls out to the cloud modules. Thread-safe as its targets
// are (it keeps no state of its own).
class UpstreamRouter final : public HubObserver {
public:
    // devices may be null (modules.deviceController.enable: false): then every message goes to
    // edges, as before the device controller existed.
    UpstreamRouter(std::shared_ptr<HubObserver> edges, std::shared_ptr<HubObserver> devices);

    void node_connected(const std::string& node) override;
    void node_disconnected(const std::string& node) override;
    void upstream(const std::string& node, bus::Message msg) override;
    void acked(const std::string& node, const bus::Message& msg) override;

    // Which module an upstream message is for: true for the device controller.
    static bool for_devices(const bus::Message& msg);

private:
    std::shared_ptr<HubObserver> edges_, devices_;
};

}  // namespace kedge::cloud
