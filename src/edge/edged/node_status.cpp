#include "edge/edged/node_status.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>

#include <sys/utsname.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <sstream>

#include "base/log.hpp"
#include "bus/constants.hpp"
#include "bus/context.hpp"
#include "bus/message.hpp"
#include "edge/metamanager/replies.hpp"
#include "kube/time.hpp"

namespace kedge::edge {

namespace asio = boost::asio;
namespace json = boost::json;

namespace {

constexpr std::string_view kKubeVersion = "v1.30.0";
constexpr std::string_view kKedgeVersion = "v0.1.0";
constexpr std::string_view kEdgeRoleLabel = "node-role.kubernetes.io/edge";

std::string first_line(const char* path) {
    std::ifstream in(path);
    std::string line;
    std::getline(in, line);
    return line;
}

std::string os_release_pretty_name() {
    std::ifstream in("/etc/os-release");
    std::string line;
    while (std::getline(in, line)) {
        if (!line.starts_with("PRETTY_NAME=")) continue;
        auto v = line.substr(12);
        if (v.size() >= 2 && v.front() == '"' && v.back() == '"') v = v.substr(1, v.size() - 2);
        return v;
    }
    return "Linux";
}

std::string go_arch(std::string_view machine) {
    if (machine == "x86_64") return "amd64";
    if (machine == "aarch64") return "arm64";
    if (machine.starts_with("armv7") || machine.starts_with("armv6")) return "arm";
    return std::string(machine);
}

}  // namespace

MachineInfo MachineInfo::read() {
    MachineInfo m;
    long n = ::sysconf(_SC_NPROCESSORS_ONLN);
    m.cpus = n > 0 ? n : 1;
    std::ifstream meminfo("/proc/meminfo");
    std::string key;
    std::int64_t value = 0;
    std::string unit;
    while (meminfo >> key >> value >> unit) {
        if (key == "MemTotal:") {
            m.memory_kib = value;
            break;
        }
    }
    struct utsname u {};
    if (::uname(&u) == 0) {
        m.kernel_version = u.release;
        m.architecture = go_arch(u.machine);
        m.hostname = u.nodename;
    }
    m.os_image = os_release_pretty_name();
    m.machine_id = first_line("/etc/machine-id");
    m.boot_id = first_line("/proc/sys/kernel/random/boot_id");
    return m;
}

std::string edgecore_kubelet_version() {
    return std::string(kKubeVersion) + "-kubeedge-" + std::string(kKedgeVersion);
}

struct NodeStatusReporter::Impl : std::enable_shared_from_this<NodeStatusReporter::Impl> {
    bus::Context& ctx;
    NodeStatusOptions options;
    MachineInfo machine;
    const Clock& clock;
    asio::strand<asio::any_io_executor> strand;
    asio::steady_timer timer;
    std::atomic<bool> stopped{false};
    std::shared_ptr<spdlog::logger> log = kedge::log::get("edged");
    // The pressure conditions never change, so they transitioned when the reporter started;
    // Ready follows the runtime.
    Clock::time_point started;
    bool runtime_ready = false;
    bool registered = false;
    std::string runtime_message = "container runtime status check may not have completed yet";
    Clock::time_point ready_since;

    Impl(bus::Context& c, NodeStatusOptions o, MachineInfo m, const Clock& cl)
        : ctx(c),
          options(std::move(o)),
          machine(std::move(m)),
          clock(cl),
          strand(asio::make_strand(c.get_executor())),
          timer(strand),
          started(cl.now()),
          ready_since(started) {}

    json::object resources() const {
        return json::object{{"cpu", std::to_string(machine.cpus)},
                            {"memory", std::to_string(machine.memory_kib) + "Ki"},
                            {"pods", std::to_string(options.max_pods)}};
    }

    json::array conditions() const {
        auto now = kube::format_time(clock.now());
        auto since = kube::format_time(started);
        auto cond = [&](std::string_view type, std::string_view status, std::string_view reason,
                        std::string_view message) {
            return json::object{{"type", type},
                                {"status", status},
                                {"lastHeartbeatTime", now},
                                {"lastTransitionTime", since},
                                {"reason", reason},
                                {"message", message}};
        };
        auto ready = runtime_ready ? cond("Ready", "True", "EdgeReady", "edge is posting ready status")
                                   : cond("Ready", "False", "KubeletNotReady", runtime_message);
        ready["lastTransitionTime"] = kube::format_time(ready_since);
        return json::array{
            std::move(ready),
            cond("MemoryPressure", "False", "EdgeHasSufficientMemory",
                 "edge has sufficient memory available"),
            cond("DiskPressure", "False", "EdgeHasNoDiskPressure", "edge has no disk pressure"),
            cond("PIDPressure", "False", "EdgeHasSufficientPID", "edge has sufficient PID available"),
        };
    }

    json::object status() const {
        json::array addresses;
        if (!options.node_ip.empty())
            addresses.push_back(json::object{{"type", "InternalIP"}, {"address", options.node_ip}});
        addresses.push_back(json::object{{"type", "Hostname"}, {"address", options.node}});
        return json::object{
            {"capacity", resources()},
            {"allocatable", resources()},
            {"addresses", std::move(addresses)},
            {"conditions", conditions()},
            {"daemonEndpoints",
             json::object{{"kubeletEndpoint", json::object{{"Port", options.kubelet_port}}}}},
            {"nodeInfo",
             json::object{{"machineID", machine.machine_id},
                          {"systemUUID", machine.machine_id},
                          {"bootID", machine.boot_id},
                          {"kernelVersion", machine.kernel_version},
                          {"osImage", machine.os_image},
                          {"containerRuntimeVersion", options.runtime_version},
                          {"kubeletVersion", edgecore_kubelet_version()},
                          {"kubeProxyVersion", ""},
                          {"operatingSystem", "linux"},
                          {"architecture", machine.architecture}}},
        };
    }

    json::object node_object() const {
        json::object labels{{std::string(kEdgeRoleLabel), ""},
                            {"kubernetes.io/hostname", options.node},
                            {"kubernetes.io/os", "linux"},
                            {"kubernetes.io/arch", machine.architecture}};
        for (const auto& [k, v] : options.labels) labels[k] = v;
        json::object spec;
        if (!options.schedulable) spec["unschedulable"] = true;
        if (!options.taints.empty()) {
            json::array taints;
            for (const auto& t : options.taints) {
                json::object o{{"key", t.key}, {"effect", t.effect}};
                if (!t.value.empty()) o["value"] = t.value;
                taints.push_back(std::move(o));
            }
            spec["taints"] = std::move(taints);
        }
        return json::object{{"apiVersion", "v1"},
                            {"kind", "Node"},
                            {"metadata", json::object{{"name", options.node},
                                                      {"labels", std::move(labels)}}},
                            {"spec", std::move(spec)},
                            {"status", status()}};
    }

    json::object lease() const {
        return json::object{
            {"apiVersion", "coordination.k8s.io/v1"},
            {"kind", "Lease"},
            {"metadata", json::object{{"name", options.node}, {"namespace", "kube-node-lease"}}},
            {"spec", json::object{{"holderIdentity", options.node},
                                  {"leaseDurationSeconds", options.lease_duration.count()},
                                  {"renewTime", kube::format_micro_time(clock.now())}}}};
    }

    bus::Message message(std::string_view op, std::string resource, bus::Content content) const {
        return bus::Message::make(std::string(bus::kModuleEdged), std::string(bus::kGroupMeta),
                                  std::string(op), std::move(resource), std::move(content));
    }

    asio::awaitable<bool> sleep(std::chrono::milliseconds d) {
        timer.expires_after(d);
        boost::system::error_code ec;
        co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
        co_return !ec && !stopped;
    }

    // Registration first (the meta manager keeps it in order with later status when offline),
    // then status and lease on every tick.
    asio::awaitable<void> run() {
        auto self = shared_from_this();
        const std::string node_res = "null/node/" + options.node;
        for (;;) {
            if (stopped) co_return;
            auto reg = message(bus::kOpInsert, node_res, bus::Content::encoded(node_object()));
            auto reply = co_await ctx.request(std::string(bus::kModuleMetaManager), std::move(reg),
                                              std::chrono::seconds(60));
            if (reply && reply->operation() == bus::kOpResponse) {
                log->info("node {} registered", options.node);
                break;
            }
            if (reply) {
                // Queued for delivery (cloud away) counts as registered: the outbox keeps order.
                if (reply->content.string_equals(kQueuedForDelivery)) {
                    log->info("node {} registration queued until the cloud is reachable",
                              options.node);
                    break;
                }
                auto text = reply->content.as_string();
                log->warn("node {} registration refused: {}; retrying", options.node,
                          text ? *text : reply->content.to_json());
            } else if (reply.error().is(errc::closed)) {
                co_return;
            } else {
                log->warn("node {} registration: {}; retrying", options.node,
                          reply.error().message());
            }
            if (!co_await sleep(options.update_frequency)) co_return;
        }
        registered = true;
        for (;;) {
            report();
            if (!co_await sleep(options.update_frequency)) co_return;
        }
    }

    void report() {
        auto patch = json::serialize(json::object{{"status", status()}});
        auto status_msg = message(bus::kOpPatch, "null/nodepatch/" + options.node,
                                  bus::Content::from_string(patch));
        if (auto r = ctx.send(bus::kModuleMetaManager, std::move(status_msg)); !r)
            log->warn("node status not sent: {}", r.error().message());
        auto lease_msg = message(bus::kOpUpdate, "kube-node-lease/lease/" + options.node,
                                 bus::Content::encoded(lease()));
        if (auto r = ctx.send(bus::kModuleMetaManager, std::move(lease_msg)); !r)
            log->warn("node lease not sent: {}", r.error().message());
    }
};

std::shared_ptr<NodeStatusReporter> NodeStatusReporter::start(bus::Context& ctx,
                                                              NodeStatusOptions options,
                                                              MachineInfo machine,
                                                              const Clock& clock) {
    auto impl = std::make_shared<Impl>(ctx, std::move(options), std::move(machine), clock);
    asio::co_spawn(impl->strand, impl->run(), log::log_exceptions(impl->log, "node status loop"));
    return std::shared_ptr<NodeStatusReporter>(new NodeStatusReporter(std::move(impl)));
}

NodeStatusReporter::~NodeStatusReporter() { stop(); }

void NodeStatusReporter::stop() {
    if (impl_->stopped.exchange(true)) return;
    asio::post(impl_->strand, [impl = impl_] { impl->timer.cancel(); });
}

void NodeStatusReporter::set_runtime_version(std::string version) {
    asio::post(impl_->strand, [impl = impl_, v = std::move(version)]() mutable {
        impl->options.runtime_version = std::move(v);
    });
}

void NodeStatusReporter::set_runtime_state(bool ready, std::string message) {
    asio::post(impl_->strand, [impl = impl_, ready, m = std::move(message)]() mutable {
        bool changed = impl->runtime_ready != ready;
        impl->runtime_ready = ready;
        impl->runtime_message = std::move(m);
        if (changed) {
            impl->ready_since = impl->clock.now();
            impl->log->info("node {}: {}", impl->options.node,
                            ready ? "container runtime ready" : impl->runtime_message);
            // A readiness change goes up at once (once registered: the registration carries it).
            if (!impl->stopped && impl->registered) impl->report();
        }
    });
}

std::string NodeStatusReporter::node_object_json() const {
    return json::serialize(impl_->node_object());
}
std::string NodeStatusReporter::status_patch_json() const {
    return json::serialize(json::object{{"status", impl_->status()}});
}
std::string NodeStatusReporter::lease_json() const { return json::serialize(impl_->lease()); }

}  // namespace kedge::edge
