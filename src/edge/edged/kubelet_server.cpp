#include "edge/edged/kubelet_server.hpp"

#include <sys/statvfs.h>
#include <unistd.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>

#include <atomic>
#include <charconv>
#include <fstream>
#include <map>
#include <mutex>
#include <optional>
#include <sstream>

#include "base/log.hpp"
#include "edge/edged/cri_log.hpp"
#include "kube/time.hpp"
#include "net/http_server.hpp"
#include "net/run_blocking.hpp"

namespace kedge::edge {
namespace asio = boost::asio;
namespace json = boost::json;
namespace fs = std::filesystem;
using asio::awaitable;
using asio::use_awaitable;

namespace {

using net::run_blocking;

// A /containerLogs query, validated as the kubelet does (PodLogOptions).
struct LogQuery {
    LogOutputOptions output;
    std::optional<std::uint64_t> tail_lines;
    bool follow = false;
    bool previous = false;
};

// Query booleans as Kubernetes decodes them: absent, "0" and "false" are false, anything else
// (even "") is true.
bool query_bool(const net::HttpRequest& req, std::string_view name) {
    auto v = req.query_param(name);
    if (!v) return false;
    std::string lower = *v;
    for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return !(lower == "0" || lower == "false");
}

// parse_error: not an integer (the kubelet's 400); absent or "" is nullopt.
Result<std::optional<std::int64_t>> query_int(const net::HttpRequest& req, std::string_view name) {
    auto v = req.query_param(name);
    if (!v || v->empty()) return std::optional<std::int64_t>();
    std::int64_t n = 0;
    auto [p, ec] = std::from_chars(v->data(), v->data() + v->size(), n);
    if (ec != std::errc() || p != v->data() + v->size())
        return Error(errc::parse_error, std::string(name) + ": \"" + *v + "\" is not an integer");
    return std::optional<std::int64_t>(n);
}

// parse_error -> 400 "Unable to decode query.", invalid_argument -> 422 "Invalid request.".
Result<LogQuery> parse_log_query(const net::HttpRequest& req, Clock::time_point now) {
    LogQuery q;
    q.follow = query_bool(req, "follow");
    q.previous = query_bool(req, "previous");
    q.output.timestamps = query_bool(req, "timestamps");
    // "tail" is the kubelet's older spelling of tailLines; "all" means no limit.
    auto tail_param = req.query_param("tail");
    std::optional<std::int64_t> tail;
    if (tail_param && !tail_param->empty() && *tail_param != "all") {
        std::int64_t n = 0;
        auto [p, ec] =
            std::from_chars(tail_param->data(), tail_param->data() + tail_param->size(), n);
        if (ec != std::errc() || p != tail_param->data() + tail_param->size())
            return Error(errc::parse_error, "tail is not an integer");
        tail = n;
    } else if (!tail_param) {
        auto t = query_int(req, "tailLines");
        if (!t) return t.error();
        tail = *t;
    }
    auto since_seconds = query_int(req, "sinceSeconds");
    if (!since_seconds) return since_seconds.error();
    auto limit = query_int(req, "limitBytes");
    if (!limit) return limit.error();
    std::optional<Clock::time_point> since_time;
    if (auto st = req.query_param("sinceTime"); st && !st->empty()) {
        auto t = kube::parse_time(*st);
        if (!t) return Error(errc::parse_error, "sinceTime: " + t.error().detail);
        since_time = *t;
    }
    if (tail && *tail < 0) return Error(errc::invalid_argument, "tailLines must be >= 0");
    if (*limit && **limit < 1) return Error(errc::invalid_argument, "limitBytes must be >= 1");
    if (*since_seconds && **since_seconds < 1)
        return Error(errc::invalid_argument, "sinceSeconds must be >= 1");
    if (*since_seconds && since_time)
        return Error(errc::invalid_argument, "at most one of sinceTime or sinceSeconds");
    if (tail) q.tail_lines = static_cast<std::uint64_t>(*tail);
    if (*limit) q.output.limit_bytes = static_cast<std::uint64_t>(**limit);
    if (*since_seconds) q.output.since = now - std::chrono::seconds(**since_seconds);
    if (since_time) q.output.since = since_time;
    return q;
}

std::string go_quoted(std::string_view s) { return "\"" + std::string(s) + "\""; }

// --- /stats/summary (blocking reads) ---

struct CpuSample {
    std::uint64_t usage_ns = 0;  // busy CPU time of all cores since boot
    std::chrono::steady_clock::time_point at;
};

// The sample usageNanoCores is measured against; shared by concurrent summaries.
struct CpuState {
    std::mutex mu;
    std::optional<CpuSample> last;
};

std::optional<CpuSample> read_cpu() {
    std::ifstream in("/proc/stat");
    std::string label;
    if (!(in >> label) || label != "cpu") return std::nullopt;
    // user nice system idle iowait irq softirq steal: busy = all but idle and iowait.
    std::uint64_t v[8] = {};
    for (auto& x : v)
        if (!(in >> x)) return std::nullopt;
    const std::uint64_t busy = v[0] + v[1] + v[2] + v[5] + v[6] + v[7];
    const auto ticks = static_cast<std::uint64_t>(std::max(1L, sysconf(_SC_CLK_TCK)));
    return CpuSample{busy * (1'000'000'000ULL / ticks), std::chrono::steady_clock::now()};
}

std::optional<std::int64_t> boot_time() {
    std::ifstream in("/proc/stat");
    std::string line;
    while (std::getline(in, line))
        if (line.rfind("btime ", 0) == 0) return std::stoll(line.substr(6));
    return std::nullopt;
}

// /proc/meminfo values in bytes, by key ("MemTotal").
std::map<std::string, std::uint64_t> read_meminfo() {
    std::map<std::string, std::uint64_t> out;
    std::ifstream in("/proc/meminfo");
    std::string key;
    std::uint64_t kb = 0;
    std::string line;
    while (std::getline(in, line)) {
        std::istringstream ls(line);
        if (ls >> key >> kb) {
            if (!key.empty() && key.back() == ':') key.pop_back();
            out[key] = kb * 1024;
        }
    }
    return out;
}

json::object fs_stats(fs::path dir, const std::string& now) {
    // The root dir may not exist yet: report the filesystem that will hold it.
    std::error_code ec;
    while (!dir.empty() && !fs::exists(dir, ec) && dir.has_parent_path() &&
           dir.parent_path() != dir)
        dir = dir.parent_path();
    struct statvfs st {};
    if (dir.empty() || statvfs(dir.c_str(), &st) != 0) return json::object{{"time", now}};
    const std::uint64_t unit = st.f_frsize ? st.f_frsize : st.f_bsize;
    return json::object{{"time", now},
                        {"availableBytes", st.f_bavail * unit},
                        {"capacityBytes", st.f_blocks * unit},
                        {"usedBytes", (st.f_blocks - st.f_bfree) * unit},
                        {"inodesFree", st.f_ffree},
                        {"inodes", st.f_files},
                        {"inodesUsed", st.f_files - st.f_ffree}};
}

const json::object* object_at(const json::object& o, std::string_view key) {
    auto it = o.find(key);
    return it != o.end() && it->value().is_object() ? &it->value().as_object() : nullptr;
}

std::string string_at(const json::object* o, std::string_view key) {
    if (!o) return {};
    auto it = o->find(key);
    return it != o->end() && it->value().is_string() ? std::string(it->value().as_string())
                                                     : std::string();
}

// A pod's entry of the summary: its reference, start time and containers; no usage numbers.
json::object pod_stats(const json::object& pod) {
    const auto* meta = object_at(pod, "metadata");
    const auto* status = object_at(pod, "status");
    json::object out{{"podRef",
                      {{"name", string_at(meta, "name")},
                       {"namespace", string_at(meta, "namespace")},
                       {"uid", string_at(meta, "uid")}}}};
    if (auto start = string_at(status, "startTime"); !start.empty()) out["startTime"] = start;
    json::array containers;
    if (status) {
        if (auto it = status->find("containerStatuses");
            it != status->end() && it->value().is_array()) {
            for (const auto& cs : it->value().as_array()) {
                if (!cs.is_object()) continue;
                json::object c{{"name", string_at(&cs.as_object(), "name")}};
                const auto* state = object_at(cs.as_object(), "state");
                const auto* running = state ? object_at(*state, "running") : nullptr;
                if (auto started = string_at(running, "startedAt"); !started.empty())
                    c["startTime"] = started;
                containers.push_back(std::move(c));
            }
        }
    }
    out["containers"] = std::move(containers);
    return out;
}

// The pods as parsed objects; texts that are not JSON objects are skipped (and logged).
std::vector<json::object> parse_pods(const std::vector<std::string>& texts, spdlog::logger& log) {
    std::vector<json::object> out;
    for (const auto& t : texts) {
        boost::system::error_code ec;
        auto v = json::parse(t, ec);
        if (ec || !v.is_object()) {
            log.warn("pod lister returned a text that is not a JSON object; skipped");
            continue;
        }
        out.push_back(std::move(v.as_object()));
    }
    return out;
}

}  // namespace

struct KubeletServer::Impl {
    Impl(KubeletServerOptions o, PodLister p) : options(std::move(o)), pods(std::move(p)) {}

    KubeletServerOptions options;
    PodLister pods;
    asio::thread_pool pool{2};
    std::shared_ptr<net::HttpServer> http;
    std::shared_ptr<spdlog::logger> log = log::get("kubelet-server");
    std::atomic<bool> stopped{false};
    std::atomic<std::size_t> log_streams{0};
    std::shared_ptr<CpuState> cpu = std::make_shared<CpuState>();

    awaitable<void> container_logs(net::HttpRequest& req, net::HttpResponder& resp);
    awaitable<void> pod_list(net::HttpRequest& req, net::HttpResponder& resp);
    awaitable<void> summary(net::HttpRequest& req, net::HttpResponder& resp);
};

namespace {

using Member = awaitable<void> (KubeletServer::Impl::*)(net::HttpRequest&, net::HttpResponder&);

awaitable<void> call(std::shared_ptr<KubeletServer::Impl> self, Member m, net::HttpRequest& req,
                     net::HttpResponder& resp) {
    if (!self) {  // a request that raced the server's destruction
        co_await resp.respond(503, "the kubelet server is stopping");
        co_return;
    }
    co_await ((*self).*m)(req, resp);
}

net::HttpHandler bind(std::weak_ptr<KubeletServer::Impl> weak, Member m) {
    return [weak, m](net::HttpRequest& req, net::HttpResponder& resp) {
        return call(weak.lock(), m, req, resp);
    };
}

// Pod lister output, or the lister's exception as an error.
Result<std::vector<std::string>> list_pods(const PodLister& lister) {
    if (!lister) return std::vector<std::string>();
    try {
        return lister();
    } catch (const std::exception& e) {
        return Error(errc::internal, std::string("listing pods failed: ") + e.what());
    }
}

}  // namespace

awaitable<void> KubeletServer::Impl::container_logs(net::HttpRequest& req,
                                                    net::HttpResponder& resp) {
    using namespace asio::experimental::awaitable_operators;
    const std::string ns = req.route_param("namespace");
    const std::string pod = req.route_param("pod");
    const std::string container = req.route_param("container");
    auto query = parse_log_query(req, SystemClock::instance().now());
    if (!query) {
        // The kubelet's exact bodies; the detail goes to the log.
        log->debug("{}: bad query: {}", req.target, query.error().detail);
        if (query.error().is(errc::parse_error))
            co_await resp.respond(400, R"({"message": "Unable to decode query."})");
        else
            co_await resp.respond(422, R"({"message": "Invalid request."})");
        co_return;
    }
    auto found = co_await run_blocking(pool, [root = options.pod_logs_root, ns, pod, container] {
        return find_container_logs(root, ns, pod, container);
    });
    if (!found) {
        if (found.error().is(errc::not_found))
            co_await resp.respond(404, "pod " + go_quoted(pod) + " does not exist");
        else
            co_await resp.respond(500, found.error().detail);
        co_return;
    }
    if (found->files.empty()) {
        co_await resp.respond(
            404, "container " + go_quoted(container) + " not found in pod " + go_quoted(pod));
        co_return;
    }
    auto pick = found->files.size() - 1;
    if (query->previous) {
        if (pick == 0) {
            co_await resp.respond(400, "previous terminated container " + go_quoted(container) +
                                           " in pod " + go_quoted(pod) + " not found");
            co_return;
        }
        --pick;
    }
    const fs::path file = found->files[pick].second;
    const std::uint32_t restart = found->files[pick].first;
    const fs::path pod_dir = found->pod_dir;
    std::uint64_t offset = 0;
    if (query->tail_lines) {
        auto start = co_await run_blocking(
            pool, [file, n = *query->tail_lines] { return find_tail_offset(file, n); });
        if (!start) {
            co_await resp.respond(500, start.error().detail);
            co_return;
        }
        offset = *start;
    }
    // Counted from here: the stream is what may outlive a vanished client.
    struct Count {
        std::atomic<std::size_t>& n;
        explicit Count(std::atomic<std::size_t>& c) : n(c) { ++n; }
        ~Count() { --n; }
    } count(log_streams);
    if (!co_await resp.begin_stream(200, "text/plain")) co_return;

    CriLogFormatter formatter(query->output);
    const bool follow = query->follow && !query->previous;
    bool newer_started = false;  // a later restart's file exists: this one is complete
    asio::steady_timer timer(co_await asio::this_coro::executor);
    while (true) {
        auto chunk =
            co_await run_blocking(pool, [file, offset] { return read_log_lines(file, offset); });
        if (!chunk) break;  // the pod's logs were removed
        if (!chunk->data.empty()) {
            offset = chunk->next_offset;
            std::string out;
            formatter.feed(chunk->data, out);
            if (!out.empty() && !co_await resp.write_chunk(std::move(out))) co_return;
            if (formatter.limit_reached()) break;
            continue;
        }
        if (!follow || newer_started) break;
        timer.expires_after(options.follow_poll);
        co_await (timer.async_wait(asio::as_tuple(use_awaitable)) || resp.wait_client_gone());
        if (resp.client_gone()) co_return;
        // The kubelet stops following when the container exits; a newer restart's file says
        // this instance is over (read what is left once more, then end).
        newer_started = co_await run_blocking(
            pool, [root = options.pod_logs_root, ns, pod, container, pod_dir, restart] {
                auto now = find_container_logs(root, ns, pod, container);
                return now && now->pod_dir == pod_dir && !now->files.empty() &&
                       now->files.back().first > restart;
            });
    }
    co_await resp.end_stream();
}

awaitable<void> KubeletServer::Impl::pod_list(net::HttpRequest& req, net::HttpResponder& resp) {
    auto texts = co_await run_blocking(pool, [lister = pods] { return list_pods(lister); });
    if (!texts) {
        co_await resp.respond(500, texts.error().detail);
        co_return;
    }
    json::array items;
    for (auto& p : parse_pods(*texts, *log)) items.push_back(std::move(p));
    json::object list{{"kind", "PodList"},
                      {"apiVersion", "v1"},
                      {"metadata", json::object()},
                      {"items", std::move(items)}};
    co_await resp.respond_json(200, json::serialize(list));
}

namespace {

// Blocking: /proc, statvfs and the lister. Takes no Impl, so a pool job never owns the server.
Result<std::string> summary_json(const KubeletServerOptions& options, const PodLister& pods,
                                 CpuState& cpu_state, spdlog::logger& log) {
    auto texts = list_pods(pods);
    if (!texts) return texts.error();
    const std::string now = kube::format_time(SystemClock::instance().now());
    json::object node{{"nodeName", options.node_name}};
    if (auto bt = boot_time())
        node["startTime"] = kube::format_time(Clock::time_point(std::chrono::seconds(*bt)));

    json::object cpu{{"time", now}};
    if (auto sample = read_cpu()) {
        cpu["usageCoreNanoSeconds"] = sample->usage_ns;
        std::lock_guard lock(cpu_state.mu);
        const auto& last = cpu_state.last;
        if (last && sample->at > last->at && sample->usage_ns >= last->usage_ns) {
            auto wall_ns =
                std::chrono::duration_cast<std::chrono::nanoseconds>(sample->at - last->at).count();
            auto used = static_cast<double>(sample->usage_ns - last->usage_ns);
            cpu["usageNanoCores"] =
                static_cast<std::uint64_t>(used * 1e9 / static_cast<double>(wall_ns));
        }
        cpu_state.last = sample;
    }
    node["cpu"] = std::move(cpu);

    auto mem = read_meminfo();
    const std::uint64_t total = mem["MemTotal"];
    const std::uint64_t available =
        mem.count("MemAvailable") ? mem["MemAvailable"] : mem["MemFree"];
    const std::uint64_t free = mem["MemFree"];
    const std::uint64_t working_set = total > available ? total - available : 0;
    node["memory"] = json::object{{"time", now},
                                  {"availableBytes", available},
                                  {"usageBytes", total > free ? total - free : 0},
                                  {"workingSetBytes", working_set}};
    node["fs"] = fs_stats(options.root_dir, now);

    json::array pod_entries;
    for (const auto& p : parse_pods(*texts, log)) pod_entries.push_back(pod_stats(p));
    json::object summary{{"node", std::move(node)}, {"pods", std::move(pod_entries)}};
    return json::serialize(summary);
}

}  // namespace

awaitable<void> KubeletServer::Impl::summary(net::HttpRequest& req, net::HttpResponder& resp) {
    auto body =
        co_await run_blocking(pool, [opts = options, lister = pods, cpu_state = cpu, logger = log] {
            return summary_json(opts, lister, *cpu_state, *logger);
        });
    if (!body) {
        co_await resp.respond(500, body.error().detail);
        co_return;
    }
    co_await resp.respond_json(200, std::move(*body));
}

Result<std::shared_ptr<KubeletServer>> KubeletServer::start(asio::any_io_executor ex,
                                                            KubeletServerOptions options,
                                                            PodLister pods) {
    auto impl = std::make_shared<Impl>(std::move(options), std::move(pods));
    net::HttpServerOptions ho;
    ho.host = impl->options.host;
    ho.port = impl->options.port;
    ho.name = "kubelet-server";
    impl->http = net::HttpServer::make(ex, ho);
    // Handlers hold the Impl weakly (it owns the server); a running one keeps it alive.
    std::weak_ptr<Impl> weak = impl;
    impl->http->handle("GET", "/containerLogs/{namespace}/{pod}/{container}",
                       bind(weak, &Impl::container_logs));
    impl->http->handle("GET", "/pods", bind(weak, &Impl::pod_list));
    impl->http->handle("GET", "/stats/summary", bind(weak, &Impl::summary));
    impl->http->handle("GET", "/healthz",
                       [](net::HttpRequest&, net::HttpResponder& resp) -> awaitable<void> {
                           co_await resp.respond(200, "ok");
                       });
    impl->cpu->last = read_cpu();  // so the first summary has a usage rate
    if (auto started = impl->http->start(); !started)
        return Error(errc::unavailable, "kubelet server: " + started.error().message());
    impl->log->info("serving the kubelet API on http://{}:{}", impl->options.host,
                    impl->http->port());
    return std::shared_ptr<KubeletServer>(new KubeletServer(std::move(impl)));
}

KubeletServer::KubeletServer(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}

KubeletServer::~KubeletServer() { stop(); }

unsigned short KubeletServer::port() const { return impl_->http->port(); }

std::size_t KubeletServer::active_log_streams() const { return impl_->log_streams.load(); }

void KubeletServer::stop() {
    if (!impl_ || impl_->stopped.exchange(true)) return;
    impl_->http->stop();
}

}  // namespace kedge::edge
