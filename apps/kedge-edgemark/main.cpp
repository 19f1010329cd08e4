// kedge-edgemark: N simulated edge nodes against one cloudcore. Prints progress, one
// "EDGEMARK <event>" line per milestone (for scripts) and a final "BENCH edgemark ..." line.
// SIGUSR1 starts a reconnect storm; SIGTERM/SIGINT end the run early (the report still prints).

#include <sys/resource.h>

#include <CLI/CLI.hpp>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <optional>
#include <sstream>
#include <string>
#include <thread>

#include "base/log.hpp"
#include "edgemark/fleet.hpp"

namespace {

using namespace std::chrono;
using kedge::edgemark::Fleet;
using kedge::edgemark::FleetOptions;
using kedge::edgemark::OpKind;
using kedge::edgemark::StatsSnapshot;

std::atomic<bool> g_storm{false};
std::atomic<bool> g_stop{false};

extern "C" void on_signal(int sig) {
    if (sig == SIGUSR1)
        g_storm.store(true);
    else
        g_stop.store(true);
}

void raise_nofile() {
    rlimit rl{};
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

double secs(steady_clock::duration d) { return duration<double>(d).count(); }

std::string ops(const StatsSnapshot& s) {
    std::ostringstream o;
    for (std::size_t i = 0; i < s.messages_in.size(); ++i)
        o << (i ? "," : "") << kedge::edgemark::op_kind_name(static_cast<OpKind>(i)) << ":"
          << s.messages_in[i];
    return o.str();
}

void emit(const std::string& line) {
    std::cout << line << std::endl;  // flushed: scripts wait on these lines
}

}  // namespace

int main(int argc, char** argv) {
    FleetOptions o;
    double duration_s = 0, report_every_s = 5, storm_after_s = 0, heartbeat_s = 15;
    long reconnect_initial_ms = 1000, reconnect_max_ms = 30000;
    std::string token_file, log_level = "warn";
    CLI::App app{"kedge-edgemark: simulated KubeEdge edge nodes against one cloudcore"};
    app.add_option("--cloud", o.cloud, "cloudcore address (IP or name in its certificate)");
    app.add_option("--hub-port", o.hub_port, "WebSocket hub port");
    app.add_option("--cert-port", o.cert_port, "join server port");
    app.add_option("--token", o.token, "join token (<ca sha256>.<jwt>)");
    app.add_option("--token-file", token_file, "read the join token from this file");
    app.add_option("--nodes", o.nodes, "number of simulated nodes");
    app.add_option("--name-prefix", o.name_prefix, "node names are <prefix><index>");
    app.add_option("--cert-cache", o.cert_cache_dir, "directory caching node certificates");
    app.add_option("--project-id", o.project_id, "projectID in the hub URL");
    app.add_option("--duration", duration_s, "seconds to run after start (0: until SIGTERM)");
    app.add_option("--report-every", report_every_s, "seconds between progress lines");
    app.add_option("--heartbeat", heartbeat_s, "seconds between keepalives");
    app.add_option("--storm-after", storm_after_s,
                   "drop every session this many seconds after all are level (0: only SIGUSR1)");
    app.add_option("--reconnect-initial-ms", reconnect_initial_ms,
                   "first reconnect delay ceiling (full jitter)");
    app.add_option("--reconnect-max-ms", reconnect_max_ms, "reconnect delay cap");
    app.add_option("--threads", o.threads, "I/O threads");
    app.add_option("--max-connecting", o.max_connecting, "handshakes in flight at once");
    app.add_option("--max-joining", o.max_joining, "certificate requests in flight at once");
    app.add_option("--log-level", log_level, "log level spec (e.g. info, debug,edgemark=trace)");
    CLI11_PARSE(app, argc, argv);

    kedge::log::init();
    kedge::log::apply_spec(log_level);
    if (!token_file.empty()) {
        std::ifstream in(token_file);
        std::getline(in, o.token);
    }
    if (o.token.empty()) {
        std::cerr << "kedge-edgemark: --token or --token-file is required\n";
        return 2;
    }
    o.heartbeat = milliseconds(static_cast<long>(heartbeat_s * 1000));
    o.reconnect.initial = milliseconds(reconnect_initial_ms);
    o.reconnect.max = milliseconds(reconnect_max_ms);
    raise_nofile();
    std::signal(SIGUSR1, on_signal);
    std::signal(SIGTERM, on_signal);
    std::signal(SIGINT, on_signal);

    Fleet fleet(o);
    auto& stats = fleet.stats();
    auto t_join = steady_clock::now();
    if (auto r = fleet.join(); !r) {
        std::cerr << "kedge-edgemark: join failed: " << r.error().message() << "\n";
        return 1;
    }
    double join_s = secs(steady_clock::now() - t_join);
    emit("EDGEMARK joined nodes=" + std::to_string(o.nodes) +
         " cached=" + std::to_string(fleet.cached_joins()) + " seconds=" + std::to_string(join_s));

    auto t0 = steady_clock::now();
    fleet.start();
    std::optional<double> connect_all_s, level_all_s, storm_resync_s;
    std::optional<steady_clock::time_point> storm_at;
    StatsSnapshot at_storm, after_storm;
    auto next_report = t0 + duration<double>(report_every_s);
    auto end = duration_s > 0 ? std::optional(t0 + duration<double>(duration_s)) : std::nullopt;

    auto start_storm = [&] {
        storm_at = steady_clock::now();
        storm_resync_s.reset();
        at_storm = stats.snapshot();
        emit("EDGEMARK storm-start connected=" + std::to_string(at_storm.connected));
        fleet.storm();
    };

    while (!g_stop.load() && (!end || steady_clock::now() < *end)) {
        std::this_thread::sleep_for(milliseconds(50));
        auto now = steady_clock::now();
        auto s = stats.snapshot();
        if (!connect_all_s && s.connected == o.nodes) {
            connect_all_s = secs(now - t0);
            emit("EDGEMARK all-connected seconds=" + std::to_string(*connect_all_s));
        }
        if (!level_all_s && s.level == o.nodes) {
            level_all_s = secs(now - t0);
            emit("EDGEMARK all-level seconds=" + std::to_string(*level_all_s));
        }
        if (g_storm.exchange(false)) start_storm();
        if (storm_after_s > 0 && level_all_s && !storm_at &&
            secs(now - t0) >= *level_all_s + storm_after_s)
            start_storm();
        if (storm_at && !storm_resync_s && s.level == o.nodes) {
            if (auto all = fleet.all_level_since(*storm_at)) {
                storm_resync_s = secs(*all - *storm_at);
                after_storm = stats.snapshot();
                emit(
                    "EDGEMARK storm-resynced seconds=" + std::to_string(*storm_resync_s) +
                    " bytes_in=" + std::to_string(after_storm.bytes_in - at_storm.bytes_in) +
                    " bytes_out=" + std::to_string(after_storm.bytes_out - at_storm.bytes_out) +
                    " messages_in=" +
                    std::to_string(after_storm.messages_in_total() - at_storm.messages_in_total()) +
                    " connect_failures=" +
                    std::to_string(after_storm.connect_failures - at_storm.connect_failures));
            }
        }
        if (now >= next_report) {
            next_report = now + duration<double>(report_every_s);
            emit("EDGEMARK progress t=" + std::to_string(secs(now - t0)) +
                 " connected=" + std::to_string(s.connected) + " level=" + std::to_string(s.level) +
                 " connect_failures=" + std::to_string(s.connect_failures) + " in={" + ops(s) +
                 "} bytes_in=" + std::to_string(s.bytes_in) +
                 " acks=" + std::to_string(s.acks_sent) + " pods=" + std::to_string(s.pods_seen) +
                 " pod_latency " + stats.pod_latency.summary().to_string());
        }
    }

    auto s = stats.snapshot();
    auto pod = stats.pod_latency.summary();
    auto resync = stats.resync_latency.summary();
    auto fmt = [](std::optional<double> v) { return v ? std::to_string(*v) : std::string("na"); };
    char lat[256];
    std::snprintf(lat, sizeof lat,
                  "pod_latency_n=%zu pod_p50_ms=%.2f pod_p90_ms=%.2f pod_p99_ms=%.2f "
                  "pod_max_ms=%.2f resync_p50_ms=%.2f resync_p99_ms=%.2f",
                  pod.count, pod.p50_us / 1000, pod.p90_us / 1000, pod.p99_us / 1000,
                  pod.max_us / 1000, resync.p50_us / 1000, resync.p99_us / 1000);
    emit("BENCH edgemark nodes=" + std::to_string(o.nodes) + " joined=" + std::to_string(s.joined) +
         " join_s=" + std::to_string(join_s) + " connect_all_s=" + fmt(connect_all_s) +
         " level_all_s=" + fmt(level_all_s) + " connected=" + std::to_string(s.connected) +
         " connects=" + std::to_string(s.connects) + " connect_failures=" +
         std::to_string(s.connect_failures) + " resyncs=" + std::to_string(s.resyncs) +
         " resync_inserted=" + std::to_string(s.resync_inserted) + " resync_updated=" +
         std::to_string(s.resync_updated) + " resync_deleted=" + std::to_string(s.resync_deleted) +
         " resync_unchanged=" + std::to_string(s.resync_unchanged) + " " + lat + " pods=" +
         std::to_string(s.pods_seen) + " pod_patches=" + std::to_string(s.pod_patches_sent) +
         " acks=" + std::to_string(s.acks_sent) +
         " keepalives=" + std::to_string(s.keepalives_sent) +
         " messages_in=" + std::to_string(s.messages_in_total()) + " in={" + ops(s) +
         "} bytes_in=" + std::to_string(s.bytes_in) +
         " messages_out=" + std::to_string(s.messages_out) +
         " bytes_out=" + std::to_string(s.bytes_out) + " malformed=" + std::to_string(s.malformed) +
         " storm_resync_s=" + fmt(storm_resync_s) + " storm_bytes_in=" +
         (storm_resync_s ? std::to_string(after_storm.bytes_in - at_storm.bytes_in) : "na") +
         " storm_bytes_out=" +
         (storm_resync_s ? std::to_string(after_storm.bytes_out - at_storm.bytes_out) : "na"));
    fleet.stop();
    return 0;
}
