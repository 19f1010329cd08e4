#pragma once
// The checks `keadm join` runs before it changes anything (and `keadm debug check` reuses): each
// returns a CheckResult whose message says what is wrong and how to fix it. Every input that
// comes from the machine is a parameter (the /proc root, port numbers, paths, the time), so unit
// tests provoke each failure with a fake /proc tree or a real socket on 127.0.0.1.
// No Asio here; the network probes run their own private io_context.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/clock.hpp"
#include "base/error.hpp"
#include "keadm/keadm.hpp"
#include "pki/certificate.hpp"

namespace kedge::keadm {

// One check's outcome, printed as "[preflight] <name>: OK <message>" or
// "[preflight] <name>: FAIL: <message>".
struct CheckResult {
    std::string name;
    bool ok = false;
    std::string message;  // what is wrong and how to fix it (or, when ok, what was found)
};

// "[<prefix>] kubelet: OK none running" / "[<prefix>] MQTT ports: FAIL: ...".
std::string format_check(const CheckResult& result, std::string_view prefix = "preflight");

// "7m 12s", "2h 3m", "45s": how far apart two clocks are.
std::string format_duration(std::chrono::seconds d);

// ---- processes (/proc) ----

// A process seen under a /proc root.
struct ProcInfo {
    int pid = 0;
    std::string comm;               // /proc/<pid>/comm (15 characters at most)
    std::vector<std::string> argv;  // /proc/<pid>/cmdline
};

// Every process whose comm is `name`, lowest pid first.
std::vector<ProcInfo> find_processes(const std::filesystem::path& proc_root, std::string_view name);

// The config file an edgecore command line loads ("--config F" / "--config=F"); the default
// /etc/kubeedge/config/edgecore.yaml when absent.
std::filesystem::path edgecore_config_of(const std::vector<std::string>& argv);

// ---- sockets (/proc/net/tcp{,6} and /proc/<pid>/fd) ----

// A TCP socket in LISTEN state and, when /proc lets us see it, the process holding it.
struct Listener {
    unsigned short port = 0;
    std::string address;  // local address as /proc shows it, e.g. "127.0.0.1" or "::"
    std::uint64_t inode = 0;
    std::optional<ProcInfo> owner;
};

// Listening TCP sockets (IPv4 and IPv6) under proc_root.
std::vector<Listener> tcp_listeners(const std::filesystem::path& proc_root);

// "mosquitto (pid 42)", or "an unknown process (socket inode 123; run as root to see it)".
std::string describe_owner(const Listener& listener);

// ---- the checks ----

// FAIL when a process named kubelet runs (edgecore and kubelet would both manage the node).
CheckResult check_kubelet(const std::filesystem::path& proc_root = "/proc");

// FAIL when edgecore runs for this root: its pid file names a live edgecore (or its
// supervisor), or a process named edgecore loads config_file.
CheckResult check_edgecore_not_running(const Layout& layout,
                                       const std::filesystem::path& config_file,
                                       const std::filesystem::path& proc_root = "/proc");

// FAIL when <root>/etc/kubeedge exists and is not empty (it names what is there and says
// `keadm reset edge` or --force); with force the check passes and says the files are replaced.
CheckResult check_install_dir(const Layout& layout, bool force);

// FAIL when one of ports listens and is not the configured broker: a listener on broker_port
// (the broker edgecore is configured to use, when it is local) is expected. The message names
// the process holding the port.
CheckResult check_mqtt_ports(const std::vector<unsigned short>& ports,
                             std::optional<unsigned short> broker_port,
                             const std::filesystem::path& proc_root = "/proc");

// A port a component needs, by what uses it ("meta server").
struct NamedPort {
    std::string what;
    unsigned short port = 0;
};
// FAIL when one of ports is taken by a process not named allowed_owner (empty: any owner
// fails). name is the check's name ("edgecore ports").
CheckResult check_ports_free(const std::string& name, const std::vector<NamedPort>& ports,
                             const std::string& allowed_owner,
                             const std::filesystem::path& proc_root = "/proc");

// FAIL when the CRI endpoint does not answer Version within timeout; OK names the runtime and
// its version.
CheckResult check_runtime(const std::string& endpoint,
                          std::chrono::milliseconds timeout = std::chrono::seconds(5));

// What the join server told us: its CA (checked against the token's hash, as edgecore's
// fetch_ca does), whether the node name is taken (GET /node/<name>), and its clock (the HTTP Date
// header, when it sends one).
struct CloudProbe {
    std::string base_url;  // https://<cloud>:<cert port>
    Result<pki::Certificate> ca = Error(errc::unavailable, "not probed");
    std::optional<Result<bool>> node_registered;  // set when the CA was fetched
    std::optional<Clock::time_point> server_date;
};

// Runs the probes against base_url within timeout (each request).
CloudProbe probe_cloud(const std::string& base_url, const std::string& token,
                       const std::string& node,
                       std::chrono::milliseconds timeout = std::chrono::seconds(10));

// FAIL when the CA could not be fetched or does not match the token.
CheckResult check_cloud_reachable(const CloudProbe& probe);
// FAIL when the cloud already knows node (unless force: then OK, saying the node is re-joined).
CheckResult check_node_name(const CloudProbe& probe, const std::string& node, bool force);
// FAIL when the local clock is more than tolerance away from the cloud's Date header, or, without
// one, outside the CA's validity (notBefore in the future means the local clock is behind).
CheckResult check_clock_skew(const CloudProbe& probe, Clock::time_point now,
                             std::chrono::seconds tolerance = std::chrono::minutes(5));

// Parses an HTTP-date ("Sun, 06 Nov 1994 08:49:37 GMT"); nullopt when malformed.
std::optional<Clock::time_point> parse_http_date(std::string_view text);

// ---- machine resources (debug check) ----

// OK with at least min_cores online.
CheckResult check_cpu(unsigned cores, unsigned min_cores = 1);
// Reads MemTotal/MemAvailable from a meminfo file; FAIL below min_available.
CheckResult check_memory(const std::filesystem::path& meminfo = "/proc/meminfo",
                         std::uint64_t min_available = 256ull << 20);
// FAIL when the file system holding path (or its nearest existing parent) has less than
// min_free bytes available.
CheckResult check_disk(const std::filesystem::path& path, std::uint64_t min_free = 1ull << 30);
// FAIL when host:port does not accept a TCP connection within timeout.
CheckResult check_tcp_reachable(const std::string& name, const std::string& host_port,
                                std::chrono::milliseconds timeout = std::chrono::seconds(5));

// "1.5 GiB", "300 MiB".
std::string format_bytes(std::uint64_t bytes);

// The port of a "tcp://host:port" URL; nullopt when there is none.
std::optional<unsigned short> url_port(std::string_view url);
// True when the URL's host is a loopback address or localhost.
bool url_is_local(std::string_view url);

}  // namespace kedge::keadm
