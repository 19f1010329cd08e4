#include "cloud/cloudcore/metrics.hpp"

#include <fmt/format.h>

#include "cloud/certserver/cert_server.hpp"
#include "cloud/edgecontroller/edge_controller.hpp"
#include "cloud/hub/cloud_hub.hpp"
#include "kube/client/informer.hpp"

namespace kedge::cloud {

namespace {

// Label values escaped as the exposition format requires.
std::string label(std::string_view v) {
    std::string out;
    for (char c : v) {
        if (c == '\\' || c == '"') out += '\\';
        if (c == '\n') {
            out += "\\n";
            continue;
        }
        out += c;
    }
    return out;
}

class Writer {
  public:
    void family(std::string_view name, std::string_view type, std::string_view help) {
        out_ += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
    }
    template <class T>
    void sample(std::string_view name, T value, std::string_view labels = {}) {
        if (labels.empty()) out_ += fmt::format("{} {}\n", name, value);
        else out_ += fmt::format("{}{{{}}} {}\n", name, labels, value);
    }
    std::string take() { return std::move(out_); }

  private:
    std::string out_;
};

}  // namespace

std::string render_metrics(const MetricsSources& s) {
    Writer w;
    if (s.hub) {
        auto st = s.hub->stats();
        w.family("cloudcore_connected_nodes", "gauge", "Edge nodes with a hub session.");
        w.sample("cloudcore_connected_nodes", st.connected_nodes);
        w.family("cloudcore_sessions_opened_total", "counter", "Hub sessions opened.");
        w.sample("cloudcore_sessions_opened_total", st.sessions_opened);
        w.family("cloudcore_sessions_replaced_total", "counter",
                 "Sessions closed because the node connected again.");
        w.sample("cloudcore_sessions_replaced_total", st.sessions_replaced);
        w.family("cloudcore_handshake_failures_total", "counter",
                 "Refused hub connections by reason.");
        for (const auto& [reason, n] : st.handshake_failures)
            w.sample("cloudcore_handshake_failures_total", n,
                     fmt::format("reason=\"{}\"", label(reason)));
        w.family("cloudcore_messages_received_total", "counter",
                 "Messages from edge nodes by operation.");
        for (const auto& [op, n] : st.messages_in)
            w.sample("cloudcore_messages_received_total", n,
                     fmt::format("operation=\"{}\"", label(op)));
        w.family("cloudcore_messages_sent_total", "counter",
                 "Messages written to edge nodes by operation (resends included).");
        for (const auto& [op, n] : st.messages_out)
            w.sample("cloudcore_messages_sent_total", n,
                     fmt::format("operation=\"{}\"", label(op)));
        w.family("cloudcore_bytes_received_total", "counter", "Bytes of frames from edges.");
        w.sample("cloudcore_bytes_received_total", st.bytes_in);
        w.family("cloudcore_bytes_sent_total", "counter", "Bytes of frames to edges.");
        w.sample("cloudcore_bytes_sent_total", st.bytes_out);
        w.family("cloudcore_malformed_frames_total", "counter",
                 "Frames that were not valid messages (their session was closed).");
        w.sample("cloudcore_malformed_frames_total", st.malformed_frames);
        w.family("cloudcore_send_queue_depth", "gauge", "Messages waiting in node queues.");
        w.sample("cloudcore_send_queue_depth", st.queue_depth);
        w.family("cloudcore_acks_pending", "gauge", "Messages written and not yet acknowledged.");
        w.sample("cloudcore_acks_pending", st.pending_acks);
        w.family("cloudcore_send_refused_total", "counter",
                 "Sends refused: node not connected, or its queue full.");
        w.sample("cloudcore_send_refused_total", st.send_unavailable, "reason=\"unavailable\"");
        w.sample("cloudcore_send_refused_total", st.send_queue_full, "reason=\"queue_full\"");
    }
    if (s.controller) {
        auto st = s.controller->stats();
        w.family("cloudcore_resyncs_total", "counter",
                 "Node resyncs: inventory (delta) or full (edges without inventory).");
        w.sample("cloudcore_resyncs_total", st.resyncs_inventory, "kind=\"inventory\"");
        w.sample("cloudcore_resyncs_total", st.resyncs_full, "kind=\"full\"");
        w.family("cloudcore_upstream_messages_total", "counter",
                 "Upstream messages handled by the edge controller, by resource type.");
        for (const auto& [type, n] : st.upstream_by_type)
            w.sample("cloudcore_upstream_messages_total", n,
                     fmt::format("type=\"{}\"", label(type)));
        w.family("cloudcore_upstream_denied_total", "counter",
                 "Upstream messages refused by node authorization.");
        w.sample("cloudcore_upstream_denied_total", st.denials);
        w.family("cloudcore_upstream_throttled_total", "counter",
                 "Upstream requests refused because the node had too many in flight.");
        w.sample("cloudcore_upstream_throttled_total", st.upstream_throttled);
        w.family("cloudcore_api_errors_total", "counter",
                 "Kubernetes API calls of the edge controller that failed.");
        w.sample("cloudcore_api_errors_total", st.api_errors);
        w.family("cloudcore_object_syncs_written_total", "counter",
                 "ObjectSync records written for edges without inventory.");
        w.sample("cloudcore_object_syncs_written_total", st.object_syncs_written);
    }
    if (s.informers) {
        w.family("cloudcore_informer_lists_total", "counter",
                 "Full lists of the Kubernetes API (initial and after 410 Gone).");
        w.family("cloudcore_informer_watches_total", "counter", "Watch requests started.");
        // Sampled below per resource.
        for (const auto& [resource, informer] : s.informers->informers()) {
            auto st = informer->stats();
            w.sample("cloudcore_informer_lists_total", st.lists,
                     fmt::format("resource=\"{}\"", label(resource)));
            w.sample("cloudcore_informer_watches_total", st.watches,
                     fmt::format("resource=\"{}\"", label(resource)));
        }
    }
    if (s.certs) {
        w.family("cloudcore_certificates_issued_total", "counter",
                 "Edge certificates signed by the join server.");
        w.sample("cloudcore_certificates_issued_total", s.certs->certificates_issued());
        w.family("cloudcore_certificate_requests_refused_total", "counter",
                 "Join server requests refused.");
        w.sample("cloudcore_certificate_requests_refused_total", s.certs->requests_refused());
    }
    return w.take();
}

}  // namespace kedge::cloud
