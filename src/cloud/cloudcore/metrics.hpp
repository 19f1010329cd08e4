#pragma once
// cloudcore's Prometheus metrics (text exposition format 0.0.4) on 127.0.0.1:9091/metrics:
// connected nodes, messages in/out by operation, queue depth, acks pending, resyncs, handshake
// failures by reason, certificates issued, informer lists/watches.

#include <memory>
#include <string>

namespace kedge::kube::client {
class InformerFactory;
}

namespace kedge::cloud {

class CloudHub;
class CertServer;
namespace edgecontroller {
class EdgeController;
}

struct MetricsSources {
    std::shared_ptr<CloudHub> hub;
    std::shared_ptr<edgecontroller::EdgeController> controller;
    kube::client::InformerFactory* informers = nullptr;  // read only its stats
    std::shared_ptr<CertServer> certs;
};

std::string render_metrics(const MetricsSources& sources);

}  // namespace kedge::cloud
