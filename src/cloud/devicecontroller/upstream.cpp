// Upstream (source `twin`): membership/detail, twin/edge_updated and state/update, each only for
// the node the device is bound to; reports are coalesced per device into one merge patch of
// Device.status at a time. Also the DeviceModelNotFound event.
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/json.hpp>

#include "base/uuid.hpp"
#include "bus/constants.hpp"
#include "bus/resource.hpp"
#include "cloud/devicecontroller/controller_impl.hpp"
#include "kube/object.hpp"
#include "kube/time.hpp"

namespace kedge::cloud::devicecontroller {

namespace asio = boost::asio;
namespace json = boost::json;
namespace kc = kube::client;

std::string render_metrics(const DeviceControllerStats& s) {
    std::string out;
    auto line = [&](std::string_view name, std::string_view labels, std::uint64_t v) {
        out.append(name);
        if (!labels.empty()) out.append("{").append(labels).append("}");
        out.append(" ").append(std::to_string(v)).append("\n");
    };
    out += "# TYPE cloudcore_devicecontroller_sent_total counter\n";
    for (const auto& [kind, n] : s.sent)
        line("cloudcore_devicecontroller_sent_total", "kind=\"" + kind + "\"", n);
    out += "# TYPE cloudcore_devicecontroller_upstream_total counter\n";
    for (const auto& [type, n] : s.upstream)
        line("cloudcore_devicecontroller_upstream_total", "type=\"" + type + "\"", n);
    struct Counter {
        const char* name;
        std::uint64_t value;
    };
    for (const Counter& c :
         {Counter{"status_patches", s.status_patches},
          Counter{"coalesced_reports", s.coalesced_reports}, Counter{"api_errors", s.api_errors},
          Counter{"denials", s.denials}, Counter{"unknown_devices", s.unknown_devices},
          Counter{"bad_messages", s.bad_messages}, Counter{"throttled_reports", s.throttled},
          Counter{"missing_models", s.missing_models}, Counter{"send_failures", s.send_failures}}) {
        std::string name = std::string("cloudcore_devicecontroller_") + c.name + "_total";
        out += "# TYPE " + name + " counter\n";
        line(name, {}, c.value);
    }
    return out;
}

namespace detail {

void ControllerImpl::upstream(const std::string& node, bus::Message msg) {
    asio::post(ex_, [self = shared_from_this(), node, msg = std::move(msg)]() mutable {
        if (!self->stopped_.load()) self->handle_upstream(node, std::move(msg));
    });
}

void ControllerImpl::handle_upstream(const std::string& node, bus::Message msg) {
    if (msg.operation() == bus::kOpResponse || msg.operation() == bus::kOpError) return;
    if (!synced_) {
        if (early_.size() < options_.max_early_messages) {
            early_.emplace_back(node, std::move(msg));
        } else {
            with_stats([](auto& s) { ++s.throttled; });
            send(node, reply(msg, "device controller not ready; retry later", true, clock_),
                 "error");
        }
        return;
    }
    if (msg.resource() == bus::kResMembershipDetail) {
        serve_detail(node, msg);
        return;
    }
    auto ref = bus::parse_device_resource(msg.resource());
    if (ref && (ref->type == bus::kResTwinEdgeUpdated || ref->type == bus::kResStateUpdate)) {
        serve_report(node, msg);
        return;
    }
    with_stats([](auto& s) { ++s.bad_messages; });
    log_->warn("[{}] unsupported device message {} {}", node, msg.operation(), msg.resource());
    send(
        node,
        reply(msg, "the device controller does not serve " + msg.operation() + " " + msg.resource(),
              true, clock_),
        "error");
}

void ControllerImpl::serve_detail(const std::string& node, const bus::Message& msg) {
    with_stats([](auto& s) { ++s.upstream[std::string(bus::kResMembershipDetail)]; });
    // The objects, unless this session already got them (the connect sends them, and an edge
    // asks on every connect), then the list.
    if (!objects_sent_.contains(node)) sync_node(node);
    auto devices = devices_of(node);
    log_->debug("[{}] membership/detail: {} device(s)", node, devices.size());
    send(node, detail_response(msg, std::move(devices), clock_), "membership/detail");
}

void ControllerImpl::serve_report(const std::string& node, const bus::Message& msg) {
    auto ref = bus::parse_device_resource(msg.resource());
    with_stats([&](auto& s) { ++s.upstream[ref->type]; });
    const std::string key = ref->id.ns + "/" + ref->id.name;
    auto refuse = [&](const std::string& why) {
        send(node, reply(msg, why, true, clock_), "error");
    };
    auto device = devices_->store().get(key);
    if (!device) {
        with_stats([](auto& s) { ++s.unknown_devices; });
        log_->info("[{}] {} for device {}, which does not exist", node, ref->type, key);
        refuse("device " + key + " does not exist");
        return;
    }
    if (node_of(*device) != node) {
        with_stats([](auto& s) { ++s.denials; });
        log_->warn("[{}] denied {} for device {}: it is bound to node \"{}\"", node, ref->type, key,
                   node_of(*device));
        refuse("node \"" + node + "\" may not report for device " + key +
               ", which is not bound to it");
        return;
    }
    auto bad = [&](const Error& e) {
        with_stats([](auto& s) { ++s.bad_messages; });
        log_->warn("[{}] bad {} for device {}: {}", node, ref->type, key, e.message());
        refuse(e.message());
    };
    auto content = content_json(msg);
    if (!content) return bad(content.error());
    PendingStatus report;
    if (ref->type == bus::kResTwinEdgeUpdated) {
        auto twins = parse_edge_updated(*content);
        if (!twins) return bad(twins.error());
        report.twins = std::move(*twins);
    } else {
        auto state = parse_state_update(*content, clock_.now());
        if (!state) return bad(state.error());
        report.state = std::move(*state);
    }
    auto& work = status_[key];
    if (work.waiting.size() >= options_.max_waiting_reports_per_device) {
        with_stats([](auto& s) { ++s.throttled; });
        log_->warn("[{}] device {}: {} reports already waiting; refused", node, key,
                   work.waiting.size());
        refuse("too many reports waiting for device " + key + "; retry later");
        return;
    }
    if (!work.pending.empty()) with_stats([](auto& s) { ++s.coalesced_reports; });
    work.pending.merge(std::move(report));
    work.waiting.emplace_back(node, msg);
    if (work.in_flight) return;
    work.in_flight = true;
    spawn(flush_status(key), "device status " + key);
}

asio::awaitable<void> ControllerImpl::flush_status(std::string key) {
    auto self = shared_from_this();
    for (;;) {
        auto it = status_.find(key);
        if (it == status_.end()) co_return;
        auto& work = it->second;
        if (work.pending.empty() || stopped_.load()) {
            work.in_flight = false;
            co_return;
        }
        PendingStatus pending = std::move(work.pending);
        work.pending = {};
        auto waiting = std::move(work.waiting);
        work.waiting.clear();

        // The newest Device we know: the informer's, or our last write when the informer has
        // not seen it yet (a merge patch replaces status.twins whole).
        ObjectPtr base = devices_->store().get(key);
        if (work.latest && base) {
            auto cmp = kube::compare_resource_versions(kube::resource_version(*work.latest),
                                                       kube::resource_version(*base));
            if (cmp && *cmp == std::strong_ordering::greater) base = work.latest;
        }
        if (!base) {
            for (auto& [node, msg] : waiting)
                send(node, reply(msg, "device " + key + " does not exist", true, clock_), "error");
            status_.erase(it);
            co_return;
        }
        auto model = model_of(*base);
        auto body =
            json::serialize(status_patch(*base, model.get(), pending, clock_.unix_millis()));
        std::string ns(kube::namespace_of(*base)), name(kube::name(*base));
        auto r = co_await client_->patch(kc::resources::devices(), ns, name,
                                         kube::PatchType::kMergePatch, std::move(body), "status");
        it = status_.find(key);
        if (r) {
            with_stats([](auto& s) { ++s.status_patches; });
            if (it != status_.end())
                it->second.latest = std::make_shared<const json::object>(std::move(*r));
            for (auto& [node, msg] : waiting)
                send(node, reply(msg, bus::kContentOk, false, clock_), "response");
        } else {
            with_stats([](auto& s) { ++s.api_errors; });
            log_->warn("device {}: status write failed: {}", key, r.error().message());
            for (auto& [node, msg] : waiting)
                send(node,
                     reply(msg, "device " + key + ": status not written: " + r.error().message(),
                           true, clock_),
                     "error");
        }
        if (it == status_.end()) co_return;
    }
}

asio::awaitable<void> ControllerImpl::emit_missing_model_event(ObjectPtr device,
                                                               std::string model) {
    auto self = shared_from_this();
    std::string ns(kube::namespace_of(*device)), name(kube::name(*device));
    std::string suffix = new_uuid();
    std::erase(suffix, '-');
    auto now = kube::format_time(clock_.now());
    json::object ev{
        {"apiVersion", "v1"},
        {"kind", "Event"},
        {"metadata", json::object{{"name", name + "." + suffix.substr(0, 16)}, {"namespace", ns}}},
        {"involvedObject", json::object{{"apiVersion", "devices.kubeedge.io/v1beta1"},
                                        {"kind", "Device"},
                                        {"name", name},
                                        {"namespace", ns},
                                        {"uid", kube::uid(*device)},
                                        {"resourceVersion", kube::resource_version(*device)}}},
        {"reason", "DeviceModelNotFound"},
        {"message", "device model \"" + model + "\" (namespace " + ns +
                        ") does not exist: the device's twins stay untyped until it does"},
        {"type", "Warning"},
        {"source", json::object{{"component", bus::kModuleDeviceController}}},
        {"reportingComponent", bus::kModuleDeviceController},
        {"firstTimestamp", now},
        {"lastTimestamp", now},
        {"count", 1}};
    auto r = co_await client_->create(kc::resources::events(), ns, ev);
    if (r) {
        with_stats([](auto& s) { ++s.missing_models; });
    } else {
        with_stats([](auto& s) { ++s.api_errors; });
        log_->warn("device {}/{}: cannot record the DeviceModelNotFound event: {}", ns, name,
                   r.error().message());
    }
}

}  // namespace detail
}  // namespace kedge::cloud::devicecontroller
