#pragma once
// Liveness, readiness and startup probes (exec, httpGet, tcpSocket) as the kubelet runs them:
// initialDelaySeconds, periodSeconds, timeoutSeconds, successThreshold, failureThreshold;
// readiness starts false, liveness starts true, startup starts unknown (not started until it
// succeeds); liveness and readiness wait until startup has succeeded; a container that is not
// running has no probe results. A liveness or startup failure (after failureThreshold) puts the
// probe on hold until a new instance runs, as the kubelet does.
//
// The pod manager calls `observe()` on every sync with what runs, and `due()` tells it which
// probes to run now; it runs them (blocking, on its worker pool) with `run_probe()` and reports
// with `record()`. Pure bookkeeping except run_probe (sockets, CRI exec).

#include <boost/json/fwd.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/error.hpp"

namespace kedge::edge {

enum class ProbeKind { liveness, readiness, startup };

// One probe of one container instance.
struct ProbeKey {
    std::string container;     // spec name
    std::string container_id;  // the instance (a restart starts over)
    ProbeKind kind = ProbeKind::readiness;
    auto operator<=>(const ProbeKey&) const = default;
};

// A probe's spec (from the container's livenessProbe / readinessProbe / startupProbe).
struct ProbeSpec {
    enum class Handler { exec, http_get, tcp_socket, grpc, none } handler = Handler::none;
    std::vector<std::string> command;               // exec
    std::string scheme = "HTTP", host, path = "/";  // httpGet (host empty = pod IP)
    std::vector<std::pair<std::string, std::string>> http_headers;
    std::string port;  // number or a named container port (resolved by parse_probe)
    std::int32_t initial_delay_seconds = 0, period_seconds = 10, timeout_seconds = 1,
                 success_threshold = 1, failure_threshold = 3;
};

// Parses one probe object; invalid_argument naming the problem (e.g. a named port the
// container does not declare).
Result<ProbeSpec> parse_probe(const boost::json::object& probe,
                              const boost::json::object& container);

// What to run a probe against.
struct ProbeTarget {
    std::string pod_ip;        // httpGet / tcpSocket host when the probe names none
    std::string container_id;  // exec
};

// Runs exec probes (the pod manager passes CRI ExecSync): exit code and output, or an error.
using ExecFn = std::function<Result<std::pair<std::int32_t, std::string>>(
    const std::string& container_id, const std::vector<std::string>& cmd,
    std::chrono::seconds timeout)>;

// One probe run: success or the failure message the kubelet would record (e.g. "HTTP probe
// failed with statuscode: 404", "dial tcp 10.80.1.5:8080: connect: connection refused").
struct ProbeOutcome {
    bool success = false;
    std::string message;
    // The probe could not run at all (exec transport error, unsupported gRPC handler, no pod
    // IP): the kubelet throws such a result away, so record() keeps the state and only
    // remembers the message.
    bool errored = false;
};
// httpGet: a plain HTTP/1.1 GET (HTTPS without verification, as the kubelet; User-Agent
// kube-probe/<major>.<minor>, Accept */*, Connection close, httpHeaders with Host overriding),
// 200-399 = success; redirects to the same host are followed (at most 10), a redirect to
// another host is a success as it stands (the kubelet's "Probe terminated redirects");
// tcpSocket: a connect; exec: exit code 0 (the message is the output); gRPC: errored, not
// supported. The whole run is bounded by timeout_seconds (name resolution aside). Never throws.
ProbeOutcome run_probe(const ProbeSpec& spec, const ProbeTarget& target, const ExecFn& exec);

// Probe state of one pod's containers.
class PodProber {
public:
    // The containers of the spec (with their probes) and what runs now: container name ->
    // (instance id, started_at) for running containers. Probes of instances that are gone are
    // dropped; new instances start with the initial results.
    void observe(
        const boost::json::object& pod_spec,
        const std::map<std::string, std::pair<std::string, std::chrono::steady_clock::time_point>>&
            running,
        std::chrono::steady_clock::time_point now);
    // Probes whose period has come (after initialDelaySeconds; liveness/readiness only after
    // startup succeeded), with their spec.
    std::vector<std::pair<ProbeKey, ProbeSpec>> due(
        std::chrono::steady_clock::time_point now) const;
    // Optional: marks a probe as running (due() and next_due() skip it until record()), and
    // the period counts from here, as the kubelet's ticker does.
    void begin(const ProbeKey& key, std::chrono::steady_clock::time_point now);
    // Records an outcome (ignored when the instance is gone). Returns true when the result
    // flipped (success <-> failure after the thresholds).
    bool record(const ProbeKey& key, const ProbeOutcome& outcome,
                std::chrono::steady_clock::time_point now);

    // Current results for a running instance: ready (started and readiness passed; true when
    // there is no readiness probe), started (startup; true when none), live (liveness; false =
    // restart it).
    bool ready(const std::string& container) const;
    bool started(const std::string& container) const;
    // live is false once liveness or startup failed (both mean "restart it").
    bool live(const std::string& container) const;
    // "Container app failed liveness probe, will be restarted" (the kubelet's Killing message),
    // empty while live.
    std::string restart_message(const std::string& container) const;
    // The last failure message of a probe kind for a container (for events/logs).
    std::string last_failure(const std::string& container, ProbeKind kind) const;
    // When the next probe is due (the pod manager syncs again then), if any probe exists.
    std::optional<std::chrono::steady_clock::time_point> next_due() const;

    struct State;

private:
    std::map<ProbeKey, std::shared_ptr<State>> probes_;
};

}  // namespace kedge::edge
