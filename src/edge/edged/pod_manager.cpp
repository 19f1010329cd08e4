#include "edge/edged/pod_manager.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/json.hpp>

#include <algorithm>
#include <charconv>
#include <map>
#include <mutex>
#include <set>

#include "base/base64.hpp"
#include "base/log.hpp"
#include "bus/constants.hpp"
#include "bus/context.hpp"
#include "bus/resource.hpp"
#include "cri/cri_client.hpp"
#include "edge/edged/pod_inputs.hpp"
#include "edge/edged/pod_status.hpp"
#include "edge/edged/prober.hpp"
#include "edge/edged/static_pods.hpp"
#include "edge/metastore/meta_store.hpp"
#include "edge/edged/node_status.hpp"
#include "kube/quantity.hpp"
#include "kube/time.hpp"

namespace kedge::edge {

namespace asio = boost::asio;
namespace json = boost::json;
namespace v1 = cri::v1;

namespace {

constexpr const char* kLabelPodName = "io.kubernetes.pod.name";
constexpr const char* kLabelPodNamespace = "io.kubernetes.pod.namespace";
constexpr const char* kLabelPodUid = "io.kubernetes.pod.uid";
constexpr const char* kLabelContainerName = "io.kubernetes.container.name";
// The kubelet resets the crash back-off of a container that ran this long.
constexpr auto kBackoffReset = std::chrono::minutes(10);

std::string str(const json::object& o, std::string_view key) {
    auto v = o.if_contains(key);
    return v && v->is_string() ? std::string(v->as_string()) : std::string();
}
const json::object& obj(const json::object& o, std::string_view key) {
    static const json::object empty;
    auto v = o.if_contains(key);
    return v && v->is_object() ? v->as_object() : empty;
}
const json::array& arr(const json::object& o, std::string_view key) {
    static const json::array empty;
    auto v = o.if_contains(key);
    return v && v->is_array() ? v->as_array() : empty;
}
std::int64_t num(const json::object& o, std::string_view key, std::int64_t dflt) {
    auto v = o.if_contains(key);
    if (!v) return dflt;
    if (v->is_int64()) return v->as_int64();
    if (v->is_uint64()) return static_cast<std::int64_t>(v->as_uint64());
    return dflt;
}

Clock::time_point from_ns(std::int64_t ns) {
    return Clock::time_point(std::chrono::duration_cast<Clock::duration>(std::chrono::nanoseconds(ns)));
}

ObservedContainer observe(const v1::ContainerStatus& s) {
    ObservedContainer o;
    o.id = s.id();
    o.attempt = static_cast<std::int32_t>(s.metadata().attempt());
    switch (s.state()) {
        case v1::CONTAINER_CREATED: o.state = ObservedContainer::State::created; break;
        case v1::CONTAINER_RUNNING: o.state = ObservedContainer::State::running; break;
        case v1::CONTAINER_EXITED: o.state = ObservedContainer::State::exited; break;
        default: o.state = ObservedContainer::State::unknown; break;
    }
    o.exit_code = s.exit_code();
    o.reason = s.reason();
    o.message = s.message();
    if (s.started_at()) o.started_at = from_ns(s.started_at());
    if (s.finished_at()) o.finished_at = from_ns(s.finished_at());
    o.image = s.image().image();
    o.image_ref = s.image_ref();
    return o;
}

// The registry host an image is pulled from, as credential lookups key it.
std::string registry_of(const std::string& image) {
    auto slash = image.find('/');
    if (slash == std::string::npos) return "docker.io";
    auto first = image.substr(0, slash);
    if (first.find('.') == std::string::npos && first.find(':') == std::string::npos &&
        first != "localhost")
        return "docker.io";
    return first;
}

// A dockerconfig "auths" key ("https://index.docker.io/v1/", "localhost:5000") -> host.
std::string registry_key_host(std::string key) {
    for (std::string_view scheme : {"https://", "http://"})
        if (key.starts_with(scheme)) key = key.substr(scheme.size());
    if (auto slash = key.find('/'); slash != std::string::npos) key = key.substr(0, slash);
    if (key == "index.docker.io" || key == "registry-1.docker.io") key = "docker.io";
    return key;
}

std::int64_t milli_of(const json::object& res, std::string_view name) {
    auto v = res.if_contains(name);
    if (!v) return 0;
    auto q = kube::parse_quantity_milli(*v);
    return q ? *q : 0;
}

// The kubelet's cgroup settings for a container (cgroup v1 semantics; containerd maps them to
// v2 itself): shares from the cpu request (or limit), CFS quota from the cpu limit, the memory
// limit, and the OOM score adjustment of the pod's QoS class.
void set_resources(v1::LinuxContainerResources& r, const json::object& container,
                   const std::string& qos, std::int64_t node_memory_bytes) {
    const auto& res = obj(container, "resources");
    const auto& req = obj(res, "requests");
    const auto& lim = obj(res, "limits");
    std::int64_t cpu_req = req.contains("cpu") ? milli_of(req, "cpu") : milli_of(lim, "cpu");
    std::int64_t cpu_lim = milli_of(lim, "cpu");
    std::int64_t mem_lim = (milli_of(lim, "memory") + 999) / 1000;
    std::int64_t mem_req = (milli_of(req.contains("memory") ? req : lim, "memory") + 999) / 1000;
    r.set_cpu_shares(std::max<std::int64_t>(2, cpu_req * 1024 / 1000));
    if (cpu_lim > 0) {
        r.set_cpu_period(100000);
        r.set_cpu_quota(std::max<std::int64_t>(1000, cpu_lim * 100000 / 1000));
    }
    if (mem_lim > 0) r.set_memory_limit_in_bytes(mem_lim);
    std::int64_t oom = 1000;
    if (qos == "Guaranteed") {
        oom = -997;
    } else if (qos == "Burstable") {
        oom = node_memory_bytes > 0 ? 1000 - (1000 * mem_req) / node_memory_bytes : 999;
        oom = std::clamp<std::int64_t>(oom, 2, 999);
    }
    r.set_oom_score_adj(oom);
}

// Crash back-off state of one container name.
struct Backoff {
    std::chrono::milliseconds delay{0};
    std::chrono::steady_clock::time_point not_before{};
};

// Image pull back-off state of one image.
struct PullBackoff {
    std::chrono::milliseconds delay{0};
    std::chrono::steady_clock::time_point not_before{};
    std::string last_error;
};

}  // namespace

// One pod's desired and known state. Touched only on the pod's strand.
struct PodWorker {
    std::string uid, ns, name;
    json::object pod;          // latest desired object
    bool removed = false;      // the object is gone from the store (deleted in the API)
    bool is_static = false;    // from a manifest file (its API object is a mirror pod)
    bool finalized = false;    // containers and sandbox are gone, the cloud was told
    std::string sandbox_id;
    std::map<std::string, Backoff> backoff;        // container name -> crash back-off
    std::map<std::string, PullBackoff> pulls;      // image -> pull back-off
    std::map<std::string, std::pair<std::string, std::string>> waiting;  // container -> reason, msg
    // Container name -> its last instance in a sandbox that was replaced (a reboot): the new
    // sandbox's containers count their restarts on from it and show it as lastState.
    std::map<std::string, ObservedContainer> carried;
    ConditionClock conditions;
    std::string last_status;   // last status JSON sent up
    std::optional<Clock::time_point> start_time;
    PodProber prober;
    asio::strand<asio::thread_pool::executor_type> strand;
    // Guarded by PodManager::Impl::mu: a sync is queued; the runtime state the last relist saw;
    // nothing left to do until the runtime changes (all running or finished for good).
    bool sync_queued = false;
    std::string fingerprint;
    bool settled = false;
    std::optional<std::chrono::steady_clock::time_point> next_probe;  // when a probe is due
    std::chrono::steady_clock::time_point last_sync{};

    explicit PodWorker(asio::thread_pool& pool) : strand(asio::make_strand(pool)) {}
};

struct PodManager::Impl : std::enable_shared_from_this<PodManager::Impl> {
    PodManagerOptions options;
    std::shared_ptr<cri::CriClient> cri;
    std::shared_ptr<MetaStore> store;
    bus::Context* ctx = nullptr;
    asio::thread_pool pool;
    std::optional<asio::strand<asio::any_io_executor>> strand;  // module loop + relist timer
    std::optional<asio::steady_timer> timer;
    std::shared_ptr<spdlog::logger> log = kedge::log::get("edged");
    std::atomic<bool> stopped{false};

    std::int64_t node_memory_bytes = MachineInfo::read().memory_kib * 1024;
    std::chrono::steady_clock::time_point last_runtime_check{};  // relist thread only

    std::mutex mu;  // workers map, sync_queued flags, statics, stats
    std::map<std::string, std::shared_ptr<PodWorker>> workers;  // by uid
    std::map<std::string, StaticPod> statics;                   // by uid (= config hash)
    std::set<std::string> static_errors;                        // last scan's, to log changes
    std::optional<asio::steady_timer> static_timer;
    PodManagerStats stats;

    Impl(PodManagerOptions o, std::shared_ptr<cri::CriClient> c, std::shared_ptr<MetaStore> s)
        : options(std::move(o)),
          cri(std::move(c)),
          store(std::move(s)),
          pool(std::max<std::size_t>(1, options.workers)) {}

    // ---- desired state ----

    bool mine(const json::object& pod) const {
        return str(obj(pod, "spec"), "nodeName") == options.node;
    }

    void upsert(json::object pod, bool is_static = false) {
        const auto& meta = obj(pod, "metadata");
        std::string uid = str(meta, "uid");
        if (uid.empty() || !mine(pod)) return;
        std::shared_ptr<PodWorker> w;
        {
            std::lock_guard lock(mu);
            auto& slot = workers[uid];
            if (!slot) {
                slot = std::make_shared<PodWorker>(pool);
                slot->uid = uid;
                slot->ns = str(meta, "namespace");
                slot->name = str(meta, "name");
                slot->is_static = is_static;
            }
            w = slot;
        }
        asio::post(w->strand, [w, pod = std::move(pod)]() mutable { w->pod = std::move(pod); });
        queue_sync(w);
    }

    void remove(const std::string& ns, const std::string& name) {
        std::shared_ptr<PodWorker> w;
        std::optional<StaticPod> mirrored;
        {
            std::lock_guard lock(mu);
            for (auto& [uid, worker] : workers) {
                if (worker->ns != ns || worker->name != name) continue;
                if (!worker->is_static) {
                    w = worker;
                } else if (auto it = statics.find(uid); it != statics.end()) {
                    mirrored = it->second;  // its mirror pod was deleted in the API
                }
            }
        }
        if (mirrored) ensure_mirror(*mirrored);
        if (!w) return;
        asio::post(w->strand, [w] { w->removed = true; });
        queue_sync(w);
    }

    void remove_uid(const std::string& uid) {
        std::shared_ptr<PodWorker> w;
        {
            std::lock_guard lock(mu);
            if (auto it = workers.find(uid); it != workers.end()) w = it->second;
        }
        if (!w) return;
        asio::post(w->strand, [w] { w->removed = true; });
        queue_sync(w);
    }

    // ---- static pods ----

    // Creates (or re-creates) the API's mirror of a static pod through the meta manager (kept
    // in the outbox while the cloud is away).
    void ensure_mirror(const StaticPod& sp) {
        if (stopped) return;
        std::string node_uid;
        if (auto n = store->get(MetaKey{"null", std::string(bus::kResNode), options.node}); n && *n) {
            boost::system::error_code ec;
            auto v = json::parse((*n)->json, ec);
            if (!ec && v.is_object()) node_uid = str(obj(v.as_object(), "metadata"), "uid");
        }
        auto mirror = mirror_pod(sp, options.node, node_uid);
        const auto& meta = obj(mirror, "metadata");
        auto msg = bus::Message::make(std::string(bus::kModuleEdged), std::string(bus::kGroupMeta),
                                      std::string(bus::kOpInsert),
                                      bus::format_resource(str(meta, "namespace"), bus::kResPod,
                                                           str(meta, "name")),
                                      bus::Content::encoded(std::move(mirror)));
        if (auto r = ctx->send(bus::kModuleMetaManager, std::move(msg)); !r)
            log->warn("mirror pod of {}: {}", sp.file.string(), r.error().message());
    }

    void scan_static() {
        if (options.static_pod_path.empty() || stopped) return;
        auto scan = scan_static_pods(options.static_pod_path, options.node);
        std::set<std::string> errors(scan.errors.begin(), scan.errors.end());
        std::vector<StaticPod> added;
        std::vector<std::string> gone;
        {
            std::lock_guard lock(mu);
            for (const auto& e : errors)
                if (!static_errors.count(e)) log->warn("static pod manifest {}", e);
            static_errors = std::move(errors);
            std::set<std::string> seen;
            for (auto& sp : scan.pods) {
                seen.insert(sp.hash);
                if (!statics.count(sp.hash)) {
                    statics[sp.hash] = sp;
                    added.push_back(sp);
                }
            }
            for (auto it = statics.begin(); it != statics.end();) {
                if (!seen.count(it->first)) {
                    gone.push_back(it->first);
                    it = statics.erase(it);
                } else {
                    ++it;
                }
            }
        }
        for (const auto& uid : gone) {
            log->info("static pod {} removed from {}", uid, options.static_pod_path.string());
            remove_uid(uid);
        }
        for (auto& sp : added) {
            log->info("static pod {}/{} from {}", str(obj(sp.pod, "metadata"), "namespace"),
                      str(obj(sp.pod, "metadata"), "name"), sp.file.string());
            upsert(sp.pod, true);
            ensure_mirror(sp);
        }
    }

    void static_tick() {
        if (stopped || options.static_pod_path.empty()) return;
        asio::post(pool, [self = shared_from_this()] {
            self->scan_static();
            asio::post(*self->strand, [self] {
                if (self->stopped) return;
                self->static_timer->expires_after(self->options.static_pod_scan);
                self->static_timer->async_wait(
                    [w = self->weak_from_this()](boost::system::error_code ec) {
                        if (auto s = w.lock(); s && !ec) s->static_tick();
                    });
            });
        });
    }

    // A mirror pod came from the cloud: its static pod's status goes there now (send it
    // again); a deleted mirror of a static pod that still exists is re-created.
    void on_mirror(const json::object& mirror, bool deleted) {
        const auto& meta = obj(mirror, "metadata");
        std::string ns = str(meta, "namespace"), name = str(meta, "name");
        std::shared_ptr<PodWorker> w;
        std::optional<StaticPod> sp;
        {
            std::lock_guard lock(mu);
            for (auto& [uid, worker] : workers)
                if (worker->is_static && worker->ns == ns && worker->name == name) w = worker;
            if (w)
                if (auto it = statics.find(w->uid); it != statics.end()) sp = it->second;
        }
        if (!w) return;
        if (deleted && sp) {
            ensure_mirror(*sp);
            return;
        }
        if (meta.contains("deletionTimestamp") && !stopped) {
            // Someone deleted the mirror: finish that (as the kubelet does; the static pod
            // keeps running), and its deletion brings a fresh mirror.
            auto msg = bus::Message::make(std::string(bus::kModuleEdged),
                                          std::string(bus::kGroupMeta), std::string(bus::kOpDelete),
                                          bus::format_resource(ns, bus::kResPod, name),
                                          bus::Content::encoded(mirror));
            (void)ctx->send(bus::kModuleMetaManager, std::move(msg));
            return;
        }
        asio::post(w->strand, [w] { w->last_status.clear(); });
        queue_sync(w);
    }

    void load_from_store() {
        auto pods = store->list_type(std::string(bus::kResPod));
        if (!pods) {
            log->error("reading pods from the local store: {}", pods.error().message());
            return;
        }
        std::size_t n = 0;
        for (const auto& p : *pods) {
            boost::system::error_code ec;
            auto v = json::parse(p.json, ec);
            if (ec || !v.is_object() || !mine(v.as_object()) || is_mirror_pod(v.as_object()))
                continue;
            upsert(std::move(v.as_object()));
            ++n;
        }
        log->info("{} pod(s) of node {} loaded from the local store", n, options.node);
    }

    // ---- scheduling syncs ----

    void queue_sync(const std::shared_ptr<PodWorker>& w) {
        {
            std::lock_guard lock(mu);
            if (w->sync_queued) return;
            w->sync_queued = true;
        }
        asio::post(w->strand, [self = shared_from_this(), w] {
            {
                std::lock_guard lock(self->mu);
                w->sync_queued = false;
            }
            if (self->stopped) return;
            self->sync(*w);
        });
    }

    // The kubelet's PLEG: one list of sandboxes and containers per period; only pods whose
    // runtime state changed, that still have work to do, or were not synced for a while get a
    // sync (so 100 idle pods cost two CRI calls a second, not hundreds).
    // The runtime's health for the node's Ready condition.
    void check_runtime() {
        auto now = std::chrono::steady_clock::now();
        if (now - last_runtime_check < std::chrono::seconds(10)) return;
        last_runtime_check = now;
        bool ready = true;
        std::string message;
        auto st = cri->status();
        if (!st) {
            ready = false;
            message = "container runtime is down: " + st.error().message();
        } else {
            for (std::string_view want : {"RuntimeReady", "NetworkReady"}) {
                bool found = false;
                for (const auto& c : st->conditions()) {
                    if (c.type() != want) continue;
                    found = true;
                    if (!c.status()) {
                        ready = false;
                        message = want == "NetworkReady"
                                      ? "container runtime network not ready: " + c.reason() +
                                            ": " + c.message()
                                      : "container runtime not ready: " + c.reason() + ": " +
                                            c.message();
                    }
                }
                if (!found && want == "RuntimeReady") {
                    ready = false;
                    message = "container runtime did not report RuntimeReady";
                }
            }
        }
        if (options.on_runtime_state) options.on_runtime_state(ready, message);
    }

    void relist() {
        check_runtime();
        std::map<std::string, std::string> fp;  // pod uid -> "<id>:<state>;..."
        auto boxes = cri->list_pod_sandboxes();
        auto cs = cri->list_containers();
        if (boxes)
            for (const auto& b : *boxes)
                if (auto it = b.labels().find(kLabelPodUid); it != b.labels().end())
                    fp[it->second] += b.id() + ":" + std::to_string(b.state()) + ";";
        if (cs)
            for (const auto& c : *cs)
                if (auto it = c.labels().find(kLabelPodUid); it != c.labels().end())
                    fp[it->second] += c.id() + ":" + std::to_string(c.state()) + ";";
        auto now = std::chrono::steady_clock::now();
        std::vector<std::shared_ptr<PodWorker>> due;
        {
            std::lock_guard lock(mu);
            for (auto it = workers.begin(); it != workers.end();) {
                auto& w = it->second;
                if (w->finalized) {
                    it = workers.erase(it);
                    continue;
                }
                auto& f = fp[w->uid];
                bool changed = (boxes && cs) && f != w->fingerprint;
                bool probe_due = w->next_probe && now >= *w->next_probe;
                if (changed || probe_due || !w->settled ||
                    now - w->last_sync > std::chrono::seconds(10)) {
                    w->fingerprint = f;
                    due.push_back(w);
                }
                ++it;
            }
            stats.pods = workers.size();
        }
        for (auto& w : due) queue_sync(w);
    }

    void relist_tick() {
        if (stopped) return;
        asio::post(pool, [self = shared_from_this()] {
            if (self->stopped) return;
            self->relist();
            asio::post(*self->strand, [self] {
                if (self->stopped) return;
                self->timer->expires_after(self->options.relist_period);
                self->timer->async_wait([w = self->weak_from_this()](boost::system::error_code ec) {
                    if (auto s = w.lock(); s && !ec) s->relist_tick();
                });
            });
        });
    }

    // ---- one pod ----

    std::map<std::string, std::string> pod_labels(const PodWorker& w) const {
        return {{kLabelPodName, w.name}, {kLabelPodNamespace, w.ns}, {kLabelPodUid, w.uid}};
    }

    std::filesystem::path log_dir(const PodWorker& w) const {
        return options.pod_logs_root / (w.ns + "_" + w.name + "_" + w.uid);
    }

    v1::PodSandboxConfig sandbox_config(const PodWorker& w, std::uint32_t attempt) const {
        const auto& spec = obj(w.pod, "spec");
        const auto& meta = obj(w.pod, "metadata");
        bool host_network = spec.if_contains("hostNetwork") &&
                            spec.at("hostNetwork").is_bool() && spec.at("hostNetwork").as_bool();
        v1::PodSandboxConfig c;
        auto* m = c.mutable_metadata();
        m->set_name(w.name);
        m->set_namespace_(w.ns);
        m->set_uid(w.uid);
        m->set_attempt(attempt);
        // runc refuses a hostname without a UTS namespace: none for host-network pods.
        if (!host_network) {
            std::string hn = str(spec, "hostname");
            c.set_hostname(hn.empty() ? w.name : hn);
        }
        c.set_log_directory(log_dir(w).string());
        for (const auto& [k, v] : obj(meta, "labels"))
            if (v.is_string()) (*c.mutable_labels())[std::string(k)] = std::string(v.as_string());
        for (const auto& [k, v] : pod_labels(w)) (*c.mutable_labels())[k] = v;
        for (const auto& [k, v] : obj(meta, "annotations"))
            if (v.is_string()) (*c.mutable_annotations())[std::string(k)] = std::string(v.as_string());
        for (const auto& ct : arr(spec, "containers")) {
            if (!ct.is_object()) continue;
            for (const auto& p : arr(ct.as_object(), "ports")) {
                if (!p.is_object()) continue;
                const auto& po = p.as_object();
                auto host_port = num(po, "hostPort", 0);
                if (host_port <= 0) continue;
                auto* pm = c.add_port_mappings();
                std::string proto = str(po, "protocol");
                pm->set_protocol(proto == "UDP" ? v1::UDP : proto == "SCTP" ? v1::SCTP : v1::TCP);
                pm->set_container_port(static_cast<std::int32_t>(num(po, "containerPort", 0)));
                pm->set_host_port(static_cast<std::int32_t>(host_port));
                pm->set_host_ip(str(po, "hostIP"));
            }
        }
        auto* linux = c.mutable_linux();
        if (!options.cgroup_parent.empty()) linux->set_cgroup_parent(options.cgroup_parent);
        auto* ns = linux->mutable_security_context()->mutable_namespace_options();
        ns->set_network(host_network ? v1::NODE : v1::POD);
        ns->set_pid(v1::CONTAINER);
        ns->set_ipc(v1::POD);
        return c;
    }

    // A READY sandbox for the pod (reused when one exists), its IP in *ip.
    Result<std::string> ensure_sandbox(PodWorker& w, std::string* ip) {
        v1::PodSandboxFilter f;
        (*f.mutable_label_selector())[kLabelPodUid] = w.uid;
        auto boxes = cri->list_pod_sandboxes(f);
        if (!boxes) return boxes.error();
        std::string ready;
        std::uint32_t attempts = 0;
        for (const auto& b : *boxes) {
            attempts = std::max(attempts, b.metadata().attempt() + 1);
            if (b.state() == v1::SANDBOX_READY && ready.empty()) ready = b.id();
        }
        // Stale sandboxes (after a reboot their network is gone): remove them and their
        // containers; a new sandbox gets the next attempt number.
        for (const auto& b : *boxes) {
            if (b.id() == ready) continue;
            carry_containers(w, b.id());
            kill_sandbox(b.id(), 0);
        }
        if (ready.empty()) {
            std::error_code ec;
            std::filesystem::create_directories(log_dir(w), ec);
            auto cfg = sandbox_config(w, attempts);
            auto id = cri->run_pod_sandbox(cfg);
            if (!id) return id.error();
            ready = *id;
            std::lock_guard lock(mu);
            ++stats.sandboxes_started;
            log->info("pod {}/{}: sandbox {} started", w.ns, w.name, ready.substr(0, 12));
        }
        w.sandbox_id = ready;
        if (auto st = cri->pod_sandbox_status(ready); st) {
            *ip = st->network().ip();
            if (!w.start_time) w.start_time = from_ns(st->created_at());
        }
        return ready;
    }

    // Remembers the newest instance of each container of a sandbox about to be removed.
    void carry_containers(PodWorker& w, const std::string& sandbox_id) {
        v1::ContainerFilter f;
        f.set_pod_sandbox_id(sandbox_id);
        auto cs = cri->list_containers(f);
        if (!cs) return;
        for (const auto& c : *cs) {
            auto st = cri->container_status(c.id());
            if (!st) continue;
            auto o = observe(*st);
            auto [it, inserted] = w.carried.try_emplace(c.metadata().name(), o);
            if (!inserted && o.attempt >= it->second.attempt) it->second = o;
        }
    }

    // The kubelet's fallback when the runtime lost a container's history: one past the highest
    // <n>.log in the container's log directory (0 when there is none).
    std::uint32_t attempt_from_logs(const PodWorker& w, const std::string& name) const {
        std::uint32_t next = 0;
        std::error_code ec;
        for (const auto& e : std::filesystem::directory_iterator(log_dir(w) / name, ec)) {
            auto f = e.path().filename().string();
            std::uint32_t n = 0;
            auto [end, err] = std::from_chars(f.data(), f.data() + f.size(), n);
            if (err == std::errc() && end != f.data() && std::string_view(end).starts_with(".log"))
                next = std::max(next, n + 1);
        }
        return next;
    }

    void kill_sandbox(const std::string& sandbox_id, std::int64_t grace) {
        v1::ContainerFilter f;
        f.set_pod_sandbox_id(sandbox_id);
        if (auto cs = cri->list_containers(f); cs) {
            for (const auto& c : *cs) {
                if (c.state() == v1::CONTAINER_RUNNING) (void)cri->stop_container(c.id(), grace);
                (void)cri->remove_container(c.id());
            }
        }
        (void)cri->stop_pod_sandbox(sandbox_id);
        (void)cri->remove_pod_sandbox(sandbox_id);
    }

    // Instances of each container name in the sandbox, newest attempt first.
    std::map<std::string, std::vector<ObservedContainer>> observe_containers(const PodWorker& w) {
        std::map<std::string, std::vector<ObservedContainer>> out;
        v1::ContainerFilter f;
        f.set_pod_sandbox_id(w.sandbox_id);
        auto cs = cri->list_containers(f);
        if (!cs) return out;
        for (const auto& c : *cs) {
            auto name = c.metadata().name();
            auto st = cri->container_status(c.id());
            if (!st) continue;
            out[name].push_back(observe(*st));
        }
        for (auto& [name, list] : out)
            std::sort(list.begin(), list.end(),
                      [](const auto& a, const auto& b) { return a.attempt > b.attempt; });
        return out;
    }

    ObjectLookup lookup() const {
        auto s = store;
        return [s](const std::string& type, const std::string& ns,
                   const std::string& name) -> std::optional<json::object> {
            auto o = s->get(MetaKey{ns, type, name});
            if (!o || !*o) return std::nullopt;
            boost::system::error_code ec;
            auto v = json::parse((*o)->json, ec);
            if (ec || !v.is_object()) return std::nullopt;
            return std::move(v.as_object());
        };
    }

    // Credentials for image from the pod's imagePullSecrets (kubernetes.io/dockerconfigjson or
    // the legacy kubernetes.io/dockercfg), the first whose registry matches.
    std::optional<v1::AuthConfig> pull_auth(const PodWorker& w, const std::string& image) const {
        const std::string host = registry_of(image);
        auto find = lookup();
        for (const auto& ref : arr(obj(w.pod, "spec"), "imagePullSecrets")) {
            if (!ref.is_object()) continue;
            auto secret = find(std::string(bus::kResSecret), w.ns, str(ref.as_object(), "name"));
            if (!secret) continue;
            const auto& data = obj(*secret, "data");
            std::string key = data.contains(".dockerconfigjson") ? ".dockerconfigjson" : ".dockercfg";
            std::string text;
            if (!base64_decode(str(data, key), text)) continue;
            boost::system::error_code ec;
            auto cfg = json::parse(text, ec);
            if (ec || !cfg.is_object()) continue;
            const json::object& auths = key == ".dockerconfigjson" ? obj(cfg.as_object(), "auths")
                                                                    : cfg.as_object();
            for (const auto& [reg, entry] : auths) {
                if (!entry.is_object() || registry_key_host(std::string(reg)) != host) continue;
                const auto& e = entry.as_object();
                v1::AuthConfig a;
                a.set_username(str(e, "username"));
                a.set_password(str(e, "password"));
                a.set_auth(str(e, "auth"));
                a.set_server_address(host);
                return a;
            }
        }
        return std::nullopt;
    }

    // Pulls per imagePullPolicy; an error leaves the waiting reason in w.waiting.
    bool ensure_image(PodWorker& w, const json::object& c, const std::string& cname) {
        std::string image = str(c, "image");
        std::string policy = str(c, "imagePullPolicy");
        if (policy.empty())
            policy = image.find(':') == std::string::npos || image.ends_with(":latest")
                         ? "Always"
                         : "IfNotPresent";
        auto present = cri->image_status(image);
        bool have = present && present->has_value();
        if (policy == "Never") {
            if (have) return true;
            w.waiting[cname] = {"ErrImageNeverPull",
                                "Container image \"" + image +
                                    "\" is not present with pull policy of Never"};
            return false;
        }
        if (have && policy == "IfNotPresent") return true;
        auto& pb = w.pulls[image];
        auto now = std::chrono::steady_clock::now();
        if (now < pb.not_before) {
            w.waiting[cname] = {"ImagePullBackOff",
                                "Back-off pulling image \"" + image + "\""};
            return false;
        }
        auto auth = pull_auth(w, image);
        auto pulled = cri->pull_image(image, auth ? &*auth : nullptr);
        if (pulled) {
            w.pulls.erase(image);
            return true;
        }
        if (have) return true;  // Always + a failed refresh: run what we have (as the kubelet)
        pb.delay = pb.delay.count() ? std::min(pb.delay * 2, options.backoff_max)
                                    : options.backoff_initial;
        pb.not_before = now + pb.delay;
        pb.last_error = pulled.error().message();
        w.waiting[cname] = {"ErrImagePull", pb.last_error};
        log->warn("pod {}/{}: pulling {} failed: {}", w.ns, w.name, image, pb.last_error);
        return false;
    }

    v1::ContainerConfig container_config(const PodWorker& w, const json::object& c,
                                         std::uint32_t attempt,
                                         const std::vector<std::pair<std::string, std::string>>& env,
                                         const std::vector<VolumeMount>& mounts) const {
        v1::ContainerConfig cc;
        std::string name = str(c, "name");
        cc.mutable_metadata()->set_name(name);
        cc.mutable_metadata()->set_attempt(attempt);
        cc.mutable_image()->set_image(str(c, "image"));
        for (const auto& s : arr(c, "command"))
            if (s.is_string()) cc.add_command(std::string(s.as_string()));
        for (const auto& s : arr(c, "args"))
            if (s.is_string()) cc.add_args(std::string(s.as_string()));
        cc.set_working_dir(str(c, "workingDir"));
        for (const auto& [k, v] : env) {
            auto* kv = cc.add_envs();
            kv->set_key(k);
            kv->set_value(v);
        }
        for (const auto& m : mounts) {
            auto* mm = cc.add_mounts();
            mm->set_container_path(m.container_path);
            mm->set_host_path(m.host_path);
            mm->set_readonly(m.read_only);
        }
        for (const auto& [k, v] : pod_labels(w)) (*cc.mutable_labels())[k] = v;
        (*cc.mutable_labels())[kLabelContainerName] = name;
        (*cc.mutable_annotations())["io.kubernetes.container.restartCount"] =
            std::to_string(attempt);
        cc.set_log_path(name + "/" + std::to_string(attempt) + ".log");
        auto bool_field = [&](std::string_view k) {
            auto v = c.if_contains(k);
            return v && v->is_bool() && v->as_bool();
        };
        cc.set_stdin(bool_field("stdin"));
        cc.set_tty(bool_field("tty"));
        set_resources(*cc.mutable_linux()->mutable_resources(), c, qos_class(obj(w.pod, "spec")),
                      node_memory_bytes);
        return cc;
    }

    // Creates and starts one container instance; false with w.waiting set on failure.
    bool start_container(PodWorker& w, const json::object& c, std::uint32_t attempt,
                         const std::map<std::string, std::filesystem::path>& volumes,
                         const std::string& pod_ip, const v1::PodSandboxConfig& sandbox) {
        std::string name = str(c, "name");
        if (!ensure_image(w, c, name)) return false;
        NodeFacts node{options.node, options.host_ip};
        auto env = container_env(w.pod, c, lookup(), node, pod_ip);
        if (!env) {
            w.waiting[name] = {"CreateContainerConfigError", env.error().detail};
            return false;
        }
        auto mounts = container_mounts(c, volumes);
        if (!mounts) {
            w.waiting[name] = {"CreateContainerConfigError", mounts.error().detail};
            return false;
        }
        auto cfg = container_config(w, c, attempt, *env, *mounts);
        auto id = cri->create_container(w.sandbox_id, cfg, sandbox);
        if (!id) {
            w.waiting[name] = {"CreateContainerError", id.error().message()};
            return false;
        }
        if (auto s = cri->start_container(*id); !s) {
            w.waiting[name] = {"RunContainerError", s.error().message()};
            return false;
        }
        link_container_log(w, name, attempt, *id);
        std::lock_guard lock(mu);
        ++stats.containers_started;
        return true;
    }

    // /var/log/containers/<pod>_<ns>_<container>-<id>.log -> the pod log file (the layout log
    // collectors tail).
    void link_container_log(const PodWorker& w, const std::string& name, std::uint32_t attempt,
                            const std::string& id) {
        std::error_code ec;
        std::filesystem::create_directories(options.container_logs_root, ec);
        auto link = options.container_logs_root /
                    (w.name + "_" + w.ns + "_" + name + "-" + id + ".log");
        auto target = log_dir(w) / name / (std::to_string(attempt) + ".log");
        std::filesystem::remove(link, ec);
        std::filesystem::create_symlink(target, link, ec);
    }

    bool should_restart(const std::string& policy, const ObservedContainer& o) const {
        if (policy == "Always") return true;
        if (policy == "OnFailure") return o.exit_code != 0;
        return false;
    }

    // Brings one group of containers (init: sequential) towards the spec; fills views.
    void sync_containers(PodWorker& w, const json::array& specs, bool init,
                         std::map<std::string, std::vector<ObservedContainer>>& observed,
                         const std::map<std::string, std::filesystem::path>& volumes,
                         const std::string& pod_ip, const v1::PodSandboxConfig& sandbox,
                         const std::string& policy, std::vector<ContainerView>& views,
                         bool may_start) {
        auto now = std::chrono::steady_clock::now();
        bool previous_done = true;  // init containers run one after the other
        for (const auto& cv : specs) {
            if (!cv.is_object()) continue;
            const auto& c = cv.as_object();
            ContainerView view;
            view.name = str(c, "name");
            view.image = str(c, "image");
            auto& list = observed[view.name];
            if (!list.empty()) view.current = list[0];
            if (list.size() > 1) {
                view.previous = list[1];
            } else if (auto it = w.carried.find(view.name); it != w.carried.end()) {
                view.previous = it->second;
            }
            // Older instances than the previous one are garbage.
            for (std::size_t i = 2; i < list.size(); ++i) (void)cri->remove_container(list[i].id);
            w.waiting.erase(view.name);

            bool startable = may_start && (!init || previous_done);
            const auto* cur = view.current ? &*view.current : nullptr;
            if (startable && !cur) {
                // A new sandbox (after a reboot) counts restarts on, as the kubelet does: from
                // the replaced sandbox's instance, else from the log files.
                auto carried = w.carried.find(view.name);
                std::uint32_t attempt = carried != w.carried.end()
                                            ? static_cast<std::uint32_t>(carried->second.attempt) + 1
                                            : attempt_from_logs(w, view.name);
                start_container(w, c, attempt, volumes, pod_ip, sandbox);
            } else if (startable && cur->state == ObservedContainer::State::exited &&
                       !(init && cur->exit_code == 0) &&
                       should_restart(init ? (policy == "Never" ? "Never" : "OnFailure") : policy,
                                      *cur)) {
                auto& b = w.backoff[view.name];
                // A container that ran long enough starts over with the initial delay.
                if (cur->finished_at - cur->started_at >= kBackoffReset) b = Backoff{};
                if (b.not_before == std::chrono::steady_clock::time_point{}) {
                    // As the kubelet: the first exit restarts at once, later ones wait
                    // initial, 2 x initial, ... up to the cap.
                    if (b.delay.count() == 0) {
                        b.delay = options.backoff_initial;
                        b.not_before = now;
                    } else {
                        b.delay = std::min(b.delay * 2, options.backoff_max);
                        b.not_before = now + b.delay;
                    }
                }
                if (now >= b.not_before) {
                    if (start_container(w, c, cur->attempt + 1, volumes, pod_ip, sandbox))
                        b.not_before = {};  // the next exit schedules the next delay
                } else {
                    auto secs = std::chrono::duration_cast<std::chrono::seconds>(b.delay).count();
                    w.waiting[view.name] = {
                        "CrashLoopBackOff", "back-off " + std::to_string(secs) +
                                                "s restarting failed container=" + view.name +
                                                " pod=" + w.name + "_" + w.ns + "(" + w.uid + ")"};
                }
            } else if (!startable && !cur) {
                w.waiting[view.name] = {"PodInitializing", ""};
            }
            if (auto it = w.waiting.find(view.name); it != w.waiting.end()) {
                view.waiting_reason = it->second.first;
                view.waiting_message = it->second.second;
            }
            bool done = view.current && view.current->state == ObservedContainer::State::exited &&
                        view.current->exit_code == 0;
            if (init && !done) previous_done = false;
            views.push_back(std::move(view));
        }
    }

    void refresh_views(const PodWorker& w, std::vector<ContainerView>& views) {
        auto fresh = observe_containers(w);
        for (auto& v : views) {
            auto& list = fresh[v.name];
            if (!list.empty()) {
                bool new_instance = !v.current || list[0].id != v.current->id;
                if (new_instance && v.current) v.previous = v.current;
                v.current = list[0];
                if (list.size() > 1) v.previous = list[1];
                if (v.current->state == ObservedContainer::State::running) {
                    v.waiting_reason.clear();
                    v.waiting_message.clear();
                }
            }
            v.started = v.current && v.current->state == ObservedContainer::State::running;
            v.ready = v.started;  // init containers; regular ones get the probes' verdict
        }
    }

    void send_status(PodWorker& w, const PodView& view) {
        if (stopped) return;
        auto status = pod_status_json(view, w.conditions, SystemClock::instance().now());
        auto text = json::serialize(status);
        // lastTransitionTime and the like only change with the status, so a byte compare is
        // enough to skip an unchanged status.
        if (text == w.last_status) return;
        w.last_status = text;
        auto patch = json::serialize(json::object{{"status", std::move(status)}});
        auto msg = bus::Message::make(std::string(bus::kModuleEdged), std::string(bus::kGroupMeta),
                                      std::string(bus::kOpPatch),
                                      bus::format_resource(w.ns, bus::kResPodPatch, w.name),
                                      bus::Content::from_string(patch));
        if (auto r = ctx->send(bus::kModuleMetaManager, std::move(msg)); !r) {
            log->warn("pod {}/{}: status not sent: {}", w.ns, w.name, r.error().message());
            w.last_status.clear();  // try again on the next sync
            return;
        }
        std::lock_guard lock(mu);
        ++stats.status_updates;
    }

    void run_pre_stop_hooks(const PodWorker& w, const std::vector<v1::PodSandbox>& boxes,
                            std::int64_t grace) {
        for (const auto& cv : arr(obj(w.pod, "spec"), "containers")) {
            if (!cv.is_object()) continue;
            const auto& hook = obj(obj(obj(cv.as_object(), "lifecycle"), "preStop"), "exec");
            const auto& cmd_json = arr(hook, "command");
            if (cmd_json.empty()) continue;
            std::vector<std::string> cmd;
            for (const auto& a : cmd_json)
                if (a.is_string()) cmd.emplace_back(a.as_string());
            std::string name = str(cv.as_object(), "name");
            for (const auto& b : boxes) {
                v1::ContainerFilter f;
                f.set_pod_sandbox_id(b.id());
                (*f.mutable_label_selector())[kLabelContainerName] = name;
                auto cs = cri->list_containers(f);
                if (!cs) continue;
                for (const auto& c : *cs) {
                    if (c.state() != v1::CONTAINER_RUNNING) continue;
                    auto r = cri->exec_sync(c.id(), cmd, std::chrono::seconds(std::max<std::int64_t>(grace, 1)));
                    if (!r || r->exit_code != 0)
                        log->warn("pod {}/{}: preStop hook of {} failed: {}", w.ns, w.name, name,
                                  r ? "exit code " + std::to_string(r->exit_code)
                                    : r.error().message());
                }
            }
        }
    }

    void terminate(PodWorker& w) {
        const auto& spec = obj(w.pod, "spec");
        auto grace = num(spec, "terminationGracePeriodSeconds", 30);
        if (auto dg = obj(w.pod, "metadata").if_contains("deletionGracePeriodSeconds");
            dg && dg->is_int64())
            grace = dg->as_int64();
        // preStop hooks run first, inside the grace period (exec hooks; the rest of the
        // period is what the containers get to stop).
        auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(grace);
        v1::PodSandboxFilter f;
        (*f.mutable_label_selector())[kLabelPodUid] = w.uid;
        auto boxes = cri->list_pod_sandboxes(f);
        if (boxes) run_pre_stop_hooks(w, *boxes, grace);
        auto left = std::chrono::duration_cast<std::chrono::seconds>(
                        deadline - std::chrono::steady_clock::now())
                        .count();
        if (boxes)
            for (const auto& b : *boxes) kill_sandbox(b.id(), std::max<std::int64_t>(left, 0));
        (void)remove_pod_dir(options.root_directory, w.uid);
        log->info("pod {}/{}: stopped and removed", w.ns, w.name);
        if (w.is_static && !stopped) {
            // The manifest is gone: so goes the mirror pod (the stored one, for its UID).
            json::object content;
            if (auto m = store->get(MetaKey{w.ns, std::string(bus::kResPod), w.name}); m && *m) {
                boost::system::error_code ec;
                auto v = json::parse((*m)->json, ec);
                if (!ec && v.is_object() && is_mirror_pod(v.as_object())) content = v.as_object();
            }
            auto msg = bus::Message::make(std::string(bus::kModuleEdged),
                                          std::string(bus::kGroupMeta), std::string(bus::kOpDelete),
                                          bus::format_resource(w.ns, bus::kResPod, w.name),
                                          bus::Content::encoded(std::move(content)));
            (void)ctx->send(bus::kModuleMetaManager, std::move(msg));
        } else if (!w.removed && !stopped) {
            // The API still has it (graceful deletion): tell the cloud the pod is gone.
            auto msg = bus::Message::make(std::string(bus::kModuleEdged),
                                          std::string(bus::kGroupMeta), std::string(bus::kOpDelete),
                                          bus::format_resource(w.ns, bus::kResPod, w.name),
                                          bus::Content::encoded(w.pod));
            if (auto r = ctx->send(bus::kModuleMetaManager, std::move(msg)); !r)
                log->warn("pod {}/{}: deletion not reported: {}", w.ns, w.name,
                          r.error().message());
        }
        w.finalized = true;
    }

    // Liveness, readiness and startup probes of the running containers (blocking, on the pod's
    // strand: a probe is bounded by its timeoutSeconds). A failed liveness or startup probe
    // kills the container; the restart policy and back-off bring it back.
    void run_probes(PodWorker& w, PodView& view, const std::string& pod_ip) {
        using steady = std::chrono::steady_clock;
        auto now = steady::now();
        auto sys_now = SystemClock::instance().now();
        std::map<std::string, std::pair<std::string, steady::time_point>> running;
        for (const auto& c : view.containers) {
            if (!c.current || c.current->state != ObservedContainer::State::running) continue;
            auto age = std::chrono::duration_cast<steady::duration>(sys_now - c.current->started_at);
            running[c.name] = {c.current->id, now - std::max(age, steady::duration::zero())};
        }
        const auto& spec = obj(w.pod, "spec");
        w.prober.observe(spec, running, now);
        ExecFn exec = [this](const std::string& id, const std::vector<std::string>& cmd,
                             std::chrono::seconds timeout)
            -> Result<std::pair<std::int32_t, std::string>> {
            auto r = cri->exec_sync(id, cmd, timeout);
            if (!r) return r.error();
            return std::pair{r->exit_code, r->stdout_data + r->stderr_data};
        };
        for (auto& [key, probe] : w.prober.due(now)) {
            w.prober.begin(key, now);
            auto outcome = run_probe(probe, ProbeTarget{pod_ip, key.container_id}, exec);
            if (w.prober.record(key, outcome, steady::now()) && !outcome.success)
                log->info("pod {}/{}: {} probe of {} failed: {}", w.ns, w.name,
                          key.kind == ProbeKind::liveness    ? "liveness"
                          : key.kind == ProbeKind::readiness ? "readiness"
                                                             : "startup",
                          key.container, outcome.message);
        }
        for (auto& c : view.containers) {
            if (!c.current || c.current->state != ObservedContainer::State::running) continue;
            c.started = w.prober.started(c.name);
            c.ready = c.started && w.prober.ready(c.name);
            if (!w.prober.live(c.name)) {
                log->info("pod {}/{}: {}", w.ns, w.name, w.prober.restart_message(c.name));
                (void)cri->stop_container(c.current->id,
                                          num(spec, "terminationGracePeriodSeconds", 30));
            }
        }
        auto next = w.prober.next_due();
        std::lock_guard lock(mu);
        w.next_probe = next;
    }

    void sync(PodWorker& w) {
        if (w.finalized || w.pod.empty()) return;
        {
            std::lock_guard lock(mu);
            ++stats.syncs;
        }
        const auto& meta = obj(w.pod, "metadata");
        if (w.removed || meta.contains("deletionTimestamp")) {
            terminate(w);
            return;
        }
        const auto& spec = obj(w.pod, "spec");
        std::string policy = str(spec, "restartPolicy");
        if (policy.empty()) policy = "Always";
        PodView view;
        view.restart_policy = policy;
        view.host_ip = options.host_ip;
        view.qos_class = qos_class(spec);

        NodeFacts node{options.node, options.host_ip};
        auto volumes = prepare_volumes(w.pod, options.root_directory, lookup(), node);
        std::string pod_ip;
        std::map<std::string, std::filesystem::path> vols;
        bool can_start = true;
        if (!volumes) {
            view.pending_message = volumes.error().detail;
            can_start = false;
        } else {
            vols = *volumes;
        }
        std::map<std::string, std::vector<ObservedContainer>> observed;
        v1::PodSandboxConfig sandbox;
        if (can_start) {
            auto sb = ensure_sandbox(w, &pod_ip);
            if (!sb) {
                view.pending_message = "sandbox: " + sb.error().message();
                log->warn("pod {}/{}: {}", w.ns, w.name, view.pending_message);
                can_start = false;
            } else {
                sandbox = sandbox_config(w, 0);
                observed = observe_containers(w);
            }
        }
        view.pod_ip = pod_ip;
        view.start_time = w.start_time;
        sync_containers(w, arr(spec, "initContainers"), true, observed, vols, pod_ip, sandbox,
                        policy, view.init_containers, can_start);
        bool initialized = true;
        for (const auto& c : view.init_containers)
            if (!(c.current && c.current->state == ObservedContainer::State::exited &&
                  c.current->exit_code == 0))
                initialized = false;
        sync_containers(w, arr(spec, "containers"), false, observed, vols, pod_ip, sandbox, policy,
                        view.containers, can_start && initialized);
        if (can_start) {
            refresh_views(w, view.init_containers);
            refresh_views(w, view.containers);
        }
        if (can_start) run_probes(w, view, pod_ip);
        if (!can_start)
            for (auto& c : view.containers)
                if (c.waiting_reason.empty() || c.waiting_reason == "PodInitializing") {
                    c.waiting_reason = "ContainerCreating";
                    c.waiting_message = view.pending_message;
                }
        send_status(w, view);

        // Settled: every container runs, or finished for good, and nothing waits to start.
        bool settled = can_start && !view.containers.empty();
        for (const auto& c : view.containers) {
            bool finished = c.current && c.current->state == ObservedContainer::State::exited &&
                            !should_restart(policy, *c.current);
            bool running = c.current && c.current->state == ObservedContainer::State::running;
            if (!c.waiting_reason.empty() || !(running || finished)) settled = false;
        }
        std::lock_guard lock(mu);
        w.settled = settled;
        w.last_sync = std::chrono::steady_clock::now();
    }

    // ---- module loop ----

    asio::awaitable<void> run() {
        auto self = shared_from_this();
        load_from_store();
        relist_tick();
        static_tick();
        for (;;) {
            auto next = co_await ctx->receive(std::string(bus::kModuleEdged));
            if (!next) co_return;
            handle(*next);
        }
    }

    void handle(const bus::Message& m) {
        auto ref = bus::parse_resource(m.resource());
        if (!ref || ref->name.empty()) return;
        if (ref->type == bus::kResPod) {
            auto v = m.content.value();
            bool mirror = v && (*v)->is_object() && is_mirror_pod((*v)->as_object());
            if (mirror) {
                on_mirror((*v)->as_object(), m.operation() == bus::kOpDelete);
                return;
            }
            if (m.operation() == bus::kOpDelete) {
                remove(ref->ns, ref->name);
                return;
            }
            if (!v || !(*v)->is_object()) return;
            upsert((*v)->as_object());
            return;
        }
        if (ref->type == bus::kResConfigMap || ref->type == bus::kResSecret) {
            // Volumes and env of the pods using it are refreshed on their next sync.
            std::vector<std::shared_ptr<PodWorker>> all;
            {
                std::lock_guard lock(mu);
                for (auto& [uid, w] : workers)
                    if (w->ns == ref->ns) all.push_back(w);
            }
            for (auto& w : all) queue_sync(w);
        }
    }
};

PodManager::PodManager(PodManagerOptions options, std::shared_ptr<cri::CriClient> cri,
                       std::shared_ptr<MetaStore> store)
    : impl_(std::make_shared<Impl>(std::move(options), std::move(cri), std::move(store))) {}

PodManager::~PodManager() {
    stop();
    impl_->pool.join();
}

std::string PodManager::name() const { return std::string(bus::kModuleEdged); }
std::string PodManager::group() const { return std::string(bus::kGroupEdged); }

void PodManager::start(bus::Context& ctx) {
    impl_->ctx = &ctx;
    impl_->strand.emplace(asio::make_strand(ctx.get_executor()));
    impl_->timer.emplace(*impl_->strand);
    impl_->static_timer.emplace(*impl_->strand);
    asio::co_spawn(*impl_->strand, impl_->run(), log::log_exceptions(impl_->log, "pod manager loop"));
}

void PodManager::stop() {
    if (impl_->stopped.exchange(true)) return;
    if (impl_->strand) {
        asio::post(*impl_->strand, [impl = impl_] {
            if (impl->timer) impl->timer->cancel();
            if (impl->static_timer) impl->static_timer->cancel();
        });
    }
    impl_->pool.stop();
}

PodManagerStats PodManager::stats() const {
    std::lock_guard lock(impl_->mu);
    return impl_->stats;
}

}  // namespace kedge::edge
