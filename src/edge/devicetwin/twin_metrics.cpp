#include <string_view>

#include "edge/devicetwin/device_twin.hpp"

namespace kedge::edge::devicetwin {

std::string render_metrics(const DeviceTwinStats& s) {
    std::string out;
    auto metric = [&](std::string_view name, std::string_view type, std::string_view help,
                      std::uint64_t v) {
        out.append("# HELP ").append(name).append(" ").append(help).append("\n");
        out.append("# TYPE ").append(name).append(" ").append(type).append("\n");
        out.append(name).append(" ").append(std::to_string(v)).append("\n");
    };
    metric("edgecore_twin_devices", "gauge", "devices bound to this node", s.devices);
    metric("edgecore_twin_mappers", "gauge", "mappers registered over DMI", s.mappers);
    metric("edgecore_twin_pending_reports", "gauge", "reports waiting for the cloud's ack",
           s.pending);
    metric("edgecore_twin_reports_total", "counter", "twin and state reports applied", s.reports);
    metric("edgecore_twin_bad_reports_total", "counter", "reports refused as invalid",
           s.bad_reports);
    metric("edgecore_twin_sent_to_cloud_total", "counter", "reports the cloud acknowledged",
           s.sent_to_cloud);
    metric("edgecore_twin_refused_by_cloud_total", "counter",
           "reports dropped after the cloud kept refusing them", s.refused_by_cloud);
    metric("edgecore_twin_mapper_calls_total", "counter", "DMI calls to mappers that succeeded",
           s.mapper_calls);
    metric("edgecore_twin_mapper_failures_total", "counter", "DMI calls to mappers that failed",
           s.mapper_failures);
    return out;
}

}  // namespace kedge::edge::devicetwin
