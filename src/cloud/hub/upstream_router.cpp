#include "cloud/hub/upstream_router.hpp"

#include "bus/constants.hpp"

namespace kedge::cloud {

UpstreamRouter::UpstreamRouter(std::shared_ptr<HubObserver> edges,
                               std::shared_ptr<HubObserver> devices)
    : edges_(std::move(edges)), devices_(std::move(devices)) {}

bool UpstreamRouter::for_devices(const bus::Message& msg) {
    return msg.source() == bus::kModuleTwin;
}

void UpstreamRouter::node_connected(const std::string& node) {
    edges_->node_connected(node);
    if (devices_) devices_->node_connected(node);
}

void UpstreamRouter::node_disconnected(const std::string& node) {
    edges_->node_disconnected(node);
    if (devices_) devices_->node_disconnected(node);
}

void UpstreamRouter::upstream(const std::string& node, bus::Message msg) {
    if (devices_ && for_devices(msg))
        devices_->upstream(node, std::move(msg));
    else
        edges_->upstream(node, std::move(msg));
}

void UpstreamRouter::acked(const std::string& node, const bus::Message& msg) {
    // Acks are recorded by the module that sent the message (ObjectSync for the edge
    // controller's objects).
    if (devices_ && msg.source() == bus::kModuleDeviceController)
        devices_->acked(node, msg);
    else
        edges_->acked(node, msg);
}

}  // namespace kedge::cloud
