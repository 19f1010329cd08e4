#include "keadm/preflight.hpp"

#include <arpa/inet.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <ctime>
#include <fstream>
#include <map>
#include <sstream>

#include "cri/cri_client.hpp"
#include "edge/certs/edge_certs.hpp"
#include "keadm/process.hpp"
#include "net/host_port.hpp"
#include "net/http_client.hpp"
#include "net/tls_context.hpp"

namespace kedge::keadm {

namespace fs = std::filesystem;
namespace asio = boost::asio;
using namespace std::chrono_literals;

namespace {

CheckResult ok(std::string name, std::string message) {
    return {std::move(name), true, std::move(message)};
}
CheckResult fail(std::string name, std::string message) {
    return {std::move(name), false, std::move(message)};
}

std::string read_small(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    if (!in) return {};
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

std::optional<int> parse_pid(std::string_view s) {
    int pid = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), pid);
    if (ec != std::errc() || p != s.data() + s.size() || pid <= 0) return std::nullopt;
    return pid;
}

std::optional<ProcInfo> read_proc(const fs::path& proc_root, int pid) {
    fs::path dir = proc_root / std::to_string(pid);
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) return std::nullopt;
    ProcInfo info;
    info.pid = pid;
    info.comm = read_small(dir / "comm");
    while (!info.comm.empty() && (info.comm.back() == '\n' || info.comm.back() == '\r'))
        info.comm.pop_back();
    std::string cmdline = read_small(dir / "cmdline");
    std::size_t start = 0;
    while (start < cmdline.size()) {
        auto end = cmdline.find('\0', start);
        if (end == std::string::npos) end = cmdline.size();
        info.argv.push_back(cmdline.substr(start, end - start));
        start = end + 1;
    }
    return info;
}

std::vector<int> all_pids(const fs::path& proc_root) {
    std::vector<int> pids;
    std::error_code ec;
    for (fs::directory_iterator it(proc_root, ec), end; !ec && it != end; it.increment(ec)) {
        if (auto pid = parse_pid(it->path().filename().string())) pids.push_back(*pid);
    }
    std::sort(pids.begin(), pids.end());
    return pids;
}

// "0100007F" (little-endian IPv4 as /proc prints it) or 32 hex digits (IPv6).
std::string decode_address(std::string_view hex) {
    auto byte_at = [&](std::size_t i) {
        unsigned v = 0;
        std::from_chars(hex.data() + i, hex.data() + i + 2, v, 16);
        return static_cast<unsigned char>(v);
    };
    char text[INET6_ADDRSTRLEN] = {};
    if (hex.size() == 8) {
        unsigned char b[4];
        for (int i = 0; i < 4; ++i) b[i] = byte_at(static_cast<std::size_t>(6 - 2 * i));
        ::inet_ntop(AF_INET, b, text, sizeof text);
    } else if (hex.size() == 32) {
        unsigned char b[16];
        // Four 32-bit words, each in host (little-endian) order.
        for (int w = 0; w < 4; ++w)
            for (int i = 0; i < 4; ++i)
                b[w * 4 + i] = byte_at(static_cast<std::size_t>(w * 8 + (6 - 2 * i)));
        ::inet_ntop(AF_INET6, b, text, sizeof text);
    } else {
        return std::string(hex);
    }
    return text;
}

// inode -> owning process, by reading every /proc/<pid>/fd/* link ("socket:[inode]").
std::map<std::uint64_t, int> socket_owners(const fs::path& proc_root) {
    std::map<std::uint64_t, int> owners;
    for (int pid : all_pids(proc_root)) {
        std::error_code ec;
        for (fs::directory_iterator it(proc_root / std::to_string(pid) / "fd", ec), end;
             !ec && it != end; it.increment(ec)) {
            std::error_code lec;
            auto target = fs::read_symlink(it->path(), lec).string();
            if (lec || target.rfind("socket:[", 0) != 0 || target.back() != ']') continue;
            std::uint64_t inode = 0;
            auto digits = std::string_view(target).substr(8, target.size() - 9);
            auto [p, fec] = std::from_chars(digits.data(), digits.data() + digits.size(), inode);
            if (fec == std::errc() && p == digits.data() + digits.size())
                owners.emplace(inode, pid);
        }
    }
    return owners;
}

std::string join(const std::vector<std::string>& parts, std::string_view sep) {
    std::string out;
    for (const auto& p : parts) out += (out.empty() ? "" : std::string(sep)) + p;
    return out;
}

}  // namespace

std::string format_check(const CheckResult& result, std::string_view prefix) {
    std::string line = "[" + std::string(prefix) + "] " + result.name + ": ";
    if (result.ok) return line + "OK" + (result.message.empty() ? "" : " " + result.message);
    return line + "FAIL: " + result.message;
}

std::string format_duration(std::chrono::seconds d) {
    auto s = d.count() < 0 ? -d.count() : d.count();
    auto h = s / 3600, m = (s % 3600) / 60, sec = s % 60;
    if (h > 0) return std::to_string(h) + "h " + std::to_string(m) + "m";
    if (m > 0) return std::to_string(m) + "m " + std::to_string(sec) + "s";
    return std::to_string(sec) + "s";
}

std::string format_bytes(std::uint64_t bytes) {
    char buf[32];
    if (bytes >= (1ull << 30)) {
        std::snprintf(buf, sizeof buf, "%.1f GiB", static_cast<double>(bytes) / (1ull << 30));
    } else {
        std::snprintf(buf, sizeof buf, "%llu MiB", static_cast<unsigned long long>(bytes >> 20));
    }
    return buf;
}

// ---- processes ----

std::vector<ProcInfo> find_processes(const fs::path& proc_root, std::string_view name) {
    std::vector<ProcInfo> found;
    for (int pid : all_pids(proc_root)) {
        auto info = read_proc(proc_root, pid);
        if (!info || info->comm != name) continue;
        // A zombie has an empty cmdline; it holds nothing and manages nothing.
        std::string state = read_small(proc_root / std::to_string(pid) / "stat");
        auto close = state.rfind(')');
        if (close != std::string::npos && close + 2 < state.size() && state[close + 2] == 'Z')
            continue;
        found.push_back(std::move(*info));
    }
    return found;
}

fs::path edgecore_config_of(const std::vector<std::string>& argv) {
    for (std::size_t i = 1; i < argv.size(); ++i) {
        const auto& a = argv[i];
        for (std::string flag : {"--config", "-config"}) {
            if (a == flag && i + 1 < argv.size()) return argv[i + 1];
            if (a.rfind(flag + "=", 0) == 0) return a.substr(flag.size() + 1);
        }
    }
    return "/etc/kubeedge/config/edgecore.yaml";
}

// ---- sockets ----

std::vector<Listener> tcp_listeners(const fs::path& proc_root) {
    std::vector<Listener> out;
    for (const char* file : {"net/tcp", "net/tcp6"}) {
        std::istringstream in(read_small(proc_root / file));
        std::string line;
        std::getline(in, line);  // header
        while (std::getline(in, line)) {
            std::istringstream fields(line);
            std::string sl, local, remote, state, queues, timer, retr, uid, timeout, inode;
            if (!(fields >> sl >> local >> remote >> state >> queues >> timer >> retr >> uid >>
                  timeout >> inode))
                continue;
            if (state != "0A") continue;  // TCP_LISTEN
            auto colon = local.rfind(':');
            if (colon == std::string::npos) continue;
            unsigned port = 0;
            std::from_chars(local.data() + colon + 1, local.data() + local.size(), port, 16);
            Listener l;
            l.port = static_cast<unsigned short>(port);
            l.address = decode_address(std::string_view(local).substr(0, colon));
            std::from_chars(inode.data(), inode.data() + inode.size(), l.inode);
            out.push_back(std::move(l));
        }
    }
    if (out.empty()) return out;
    auto owners = socket_owners(proc_root);
    for (auto& l : out) {
        auto it = owners.find(l.inode);
        if (it != owners.end()) l.owner = read_proc(proc_root, it->second);
    }
    return out;
}

std::string describe_owner(const Listener& l) {
    if (l.owner)
        return (l.owner->comm.empty() ? std::string("a process") : l.owner->comm) + " (pid " +
               std::to_string(l.owner->pid) + ")";
    return "an unknown process (socket inode " + std::to_string(l.inode) +
           "; run as root to see which)";
}

// ---- the checks ----

CheckResult check_kubelet(const fs::path& proc_root) {
    auto kubelets = find_processes(proc_root, "kubelet");
    if (kubelets.empty()) return ok("kubelet", "none running");
    std::vector<std::string> pids;
    for (const auto& k : kubelets) pids.push_back(std::to_string(k.pid));
    return fail("kubelet",
                "a kubelet is running (pid " + join(pids, ", ") +
                    "): it and edgecore would both manage this node; stop it: systemctl stop "
                    "kubelet && systemctl disable kubelet");
}

CheckResult check_edgecore_not_running(const Layout& layout, const fs::path& config_file,
                                       const fs::path& proc_root) {
    const std::string name = "edgecore";
    // The pid files keadm's supervisor keeps; a pid is trusted only when that process still
    // looks like edgecore or its supervisor (pids are reused).
    for (const auto& file :
         {layout.pid_file("edgecore"), child_pid_file(layout.pid_file("edgecore"))}) {
        auto pid = read_pid_file(file);
        if (!pid) continue;
        auto info = read_proc(proc_root, *pid);
        if (!info) continue;
        bool edgecore_like = info->comm == "edgecore";
        for (const auto& a : info->argv)
            if (a.find("edgecore") != std::string::npos) edgecore_like = true;
        if (edgecore_like)
            return fail(name, "edgecore already runs for " + layout.root.string() + " (pid " +
                                  std::to_string(*pid) + ", pid file " + file.string() +
                                  "): run `keadm reset edge --root-dir " + layout.root.string() +
                                  "` first");
    }
    std::error_code ec;
    auto wanted = fs::weakly_canonical(config_file, ec);
    if (ec) wanted = fs::absolute(config_file).lexically_normal();
    for (const auto& p : find_processes(proc_root, "edgecore")) {
        auto cfg = edgecore_config_of(p.argv);
        std::error_code cec;
        auto canon = fs::weakly_canonical(cfg, cec);
        if (cec) canon = cfg.lexically_normal();
        // A relative --config cannot be resolved against that process's working directory
        // from here; compare what we can.
        if (canon == wanted || cfg == config_file)
            return fail(name, "edgecore (pid " + std::to_string(p.pid) + ") is running with " +
                                  cfg.string() + ": stop it first (kill " + std::to_string(p.pid) +
                                  ", or `keadm reset edge`)");
    }
    return ok(name, "not running");
}

CheckResult check_install_dir(const Layout& layout, bool force) {
    const std::string name = "install directory";
    const fs::path dir = layout.etc();
    std::error_code ec;
    if (!fs::exists(dir, ec)) return ok(name, dir.string() + " is free");
    if (!fs::is_directory(dir, ec))
        return fail(name, dir.string() + " exists and is not a directory: remove it");
    std::vector<std::string> entries;
    for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec))
        entries.push_back(it->path().filename().string());
    if (entries.empty()) return ok(name, dir.string() + " is empty");
    std::sort(entries.begin(), entries.end());
    std::string listing = join(entries, ", ");
    if (force)
        return ok(name, dir.string() + " is not empty (" + listing +
                            "); --force: its edge files are replaced");
    return fail(name, dir.string() + " exists and is not empty (" + listing +
                          "): an earlier install is there; run `keadm reset edge --root-dir " +
                          layout.root.string() + "` or pass --force to overwrite it");
}

CheckResult check_mqtt_ports(const std::vector<unsigned short>& ports,
                             std::optional<unsigned short> broker_port, const fs::path& proc_root) {
    const std::string name = "MQTT ports";
    auto listeners = tcp_listeners(proc_root);
    std::vector<std::string> problems, notes;
    for (unsigned short port : ports) {
        auto it = std::find_if(listeners.begin(), listeners.end(),
                               [&](const Listener& l) { return l.port == port; });
        if (it == listeners.end()) continue;
        if (broker_port && *broker_port == port) {
            notes.push_back(std::to_string(port) + " is the configured broker (" +
                            describe_owner(*it) + ")");
            continue;
        }
        problems.push_back(std::to_string(port) + " is used by " + describe_owner(*it));
    }
    std::vector<std::string> port_names;
    for (auto p : ports) port_names.push_back(std::to_string(p));
    if (!problems.empty())
        return fail(name, join(problems, "; ") +
                              ": stop it, or if it is the MQTT broker edgecore should use, "
                              "point edgecore at it with --mqtt-broker tcp://127.0.0.1:<port>");
    if (!notes.empty()) return ok(name, join(notes, "; "));
    return ok(name, join(port_names, ", ") + " free");
}

CheckResult check_ports_free(const std::string& name, const std::vector<NamedPort>& ports,
                             const std::string& allowed_owner, const fs::path& proc_root) {
    auto listeners = tcp_listeners(proc_root);
    std::vector<std::string> problems, owned, free_ports;
    for (const auto& np : ports) {
        if (np.port == 0) continue;
        auto it = std::find_if(listeners.begin(), listeners.end(),
                               [&](const Listener& l) { return l.port == np.port; });
        std::string label = std::to_string(np.port) + " (" + np.what + ")";
        if (it == listeners.end()) {
            free_ports.push_back(label);
        } else if (!allowed_owner.empty() && it->owner && it->owner->comm == allowed_owner) {
            owned.push_back(label + " held by " + describe_owner(*it));
        } else {
            problems.push_back(label + " is used by " + describe_owner(*it));
        }
    }
    if (!problems.empty())
        return fail(name, join(problems, "; ") + ": stop that process or choose other ports");
    std::string msg;
    if (!free_ports.empty()) msg = join(free_ports, ", ") + " free";
    if (!owned.empty()) msg += (msg.empty() ? "" : "; ") + join(owned, ", ");
    return ok(name, msg);
}

CheckResult check_runtime(const std::string& endpoint, std::chrono::milliseconds timeout) {
    const std::string name = "container runtime";
    cri::CriClientOptions options;
    options.endpoint = endpoint;
    options.timeout = timeout;
    auto client = cri::CriClient::connect(options);
    if (!client)
        return fail(name, client.error().detail +
                              "; start containerd or pass the right --remote-runtime-endpoint");
    auto v = (*client)->version();
    if (!v) return fail(name, endpoint + ": " + v.error().detail);
    return ok(name, v->runtime_name() + " " + v->runtime_version() + " (CRI " +
                        v->runtime_api_version() + ") at " + endpoint);
}

// ---- the cloud ----

std::optional<Clock::time_point> parse_http_date(std::string_view text) {
    std::tm tm{};
    std::string s(text);
    const char* end = ::strptime(s.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm);
    if (!end || *end != '\0') return std::nullopt;
    std::time_t t = ::timegm(&tm);
    if (t == static_cast<std::time_t>(-1)) return std::nullopt;
    return Clock::time_point(std::chrono::duration_cast<Clock::duration>(std::chrono::seconds(t)));
}

namespace {

asio::awaitable<CloudProbe> probe_cloud_async(asio::any_io_executor ex, std::string base_url,
                                              std::string token, std::string node,
                                              std::chrono::milliseconds timeout) {
    CloudProbe probe;
    probe.base_url = base_url;
    probe.ca = co_await edge::fetch_ca(ex, edge::JoinTarget{base_url, token});
    if (!probe.ca) co_return probe;
    // The node check is pinned to the CA just verified, as edgecore's own join is.
    net::ClientTlsOptions tls_opts;
    tls_opts.ca = net::PemSource::from_pem(probe.ca->to_pem());
    auto tls = net::TlsContext::make_client(tls_opts);
    if (!tls) {
        probe.node_registered = Result<bool>(tls.error());
        co_return probe;
    }
    net::HttpClientOptions opts;
    opts.base_url = base_url;
    opts.tls = *tls;
    opts.connect_timeout = timeout;
    opts.request_timeout = timeout;
    opts.max_body_bytes = 64 * 1024;
    net::HttpClient client(ex, opts);
    net::HttpRequestSpec spec;
    spec.target = "/node/" + node;
    auto r = co_await client.request(std::move(spec));
    if (!r) {
        probe.node_registered =
            Result<bool>(Error(r.error().code, "GET /node/" + node + ": " + r.error().detail));
        co_return probe;
    }
    if (auto date = r->header("Date")) probe.server_date = parse_http_date(*date);
    if (r->status == 200) {
        probe.node_registered = Result<bool>(true);
    } else if (r->status == 404) {
        probe.node_registered = Result<bool>(false);
    } else {
        probe.node_registered = Result<bool>(
            Error(errc::unavailable, "GET /node/" + node + ": HTTP " + std::to_string(r->status) +
                                         " " + r->body.substr(0, 200)));
    }
    co_return probe;
}

}  // namespace

CloudProbe probe_cloud(const std::string& base_url, const std::string& token,
                       const std::string& node, std::chrono::milliseconds timeout) {
    asio::io_context ioc;
    auto fut =
        asio::co_spawn(ioc, probe_cloud_async(ioc.get_executor(), base_url, token, node, timeout),
                       asio::use_future);
    // Two requests, each bounded by its own timeouts; the extra margin only guards a hang.
    ioc.run_for(timeout * 3);
    CloudProbe probe;
    probe.base_url = base_url;
    if (fut.wait_for(0s) != std::future_status::ready) {
        probe.ca = Error(errc::timeout, "no answer from " + base_url + " within " +
                                            std::to_string(timeout.count() * 3) + " ms");
        return probe;
    }
    try {
        return fut.get();
    } catch (const std::exception& e) {
        probe.ca = Error(errc::internal, e.what());
        return probe;
    }
}

CheckResult check_cloud_reachable(const CloudProbe& probe) {
    const std::string name = "cloud";
    if (probe.ca)
        return ok(name, probe.base_url + " serves the CA the token names (sha256 " +
                            probe.ca->sha256_hex().substr(0, 12) + "...)");
    const Error& e = probe.ca.error();
    if (e.is(errc::unauthorized))
        return fail(name, "the CA that " + probe.base_url +
                              "/ca.crt serves is not the one the token names (" + e.detail +
                              "): the token belongs to another cloud or is mistyped; get it "
                              "again with `keadm gettoken` on the cloud");
    if (e.is(errc::parse_error))
        return fail(name, e.detail +
                              ": the token must look like <sha256 hex>.<jwt>, as "
                              "`keadm gettoken` prints it");
    return fail(name, "cannot reach the join server " + probe.base_url + ": " + e.detail +
                          "; check --cloudcore-ipport and --certport, that cloudcore runs and "
                          "that this host can reach it");
}

CheckResult check_node_name(const CloudProbe& probe, const std::string& node, bool force) {
    const std::string name = "node name";
    if (!probe.node_registered)
        return fail(name, "not checked: the cloud was not reachable (see above)");
    const auto& reg = *probe.node_registered;
    if (!reg)
        return fail(name,
                    "cannot ask the cloud whether " + node + " exists: " + reg.error().detail);
    if (!*reg) return ok(name, node + " is free");
    if (force) return ok(name, node + " is already registered; --force: joining as that node");
    return fail(name, "node " + node +
                          " is already registered in the cloud: choose another --edgenode-name, "
                          "or delete the old node there first (kubectl delete node " +
                          node + ")");
}

CheckResult check_clock_skew(const CloudProbe& probe, Clock::time_point now,
                             std::chrono::seconds tolerance) {
    const std::string name = "clock";
    auto secs = [](Clock::duration d) {
        return std::chrono::duration_cast<std::chrono::seconds>(d);
    };
    if (probe.server_date) {
        auto skew = secs(now - *probe.server_date);
        auto abs_skew = skew.count() < 0 ? -skew : skew;
        if (abs_skew <= tolerance)
            return ok(name, "within " + format_duration(abs_skew) + " of the cloud's");
        return fail(name, "the local clock is " + format_duration(abs_skew) +
                              (skew.count() > 0 ? " ahead of" : " behind") +
                              " the cloud's (more than " + format_duration(tolerance) +
                              "): certificates would look invalid; fix the time (timedatectl "
                              "set-ntp true, or chrony/ntpd)");
    }
    if (!probe.ca) return fail(name, "not checked: the cloud was not reachable (see above)");
    const auto& ca = *probe.ca;
    if (now + tolerance < ca.not_before())
        return fail(name, "the local clock is at least " +
                              format_duration(secs(ca.not_before() - now)) +
                              " behind: the cloud's CA is valid only from then on, so its "
                              "certificates would look invalid here; fix the time "
                              "(timedatectl set-ntp true, or chrony/ntpd)");
    if (now > ca.not_after() + tolerance)
        return fail(name, "the local clock is past the cloud CA's expiry (" +
                              format_duration(secs(now - ca.not_after())) +
                              " ago): either the clock is ahead or the CA expired; fix the time "
                              "or renew the cloud's CA");
    return ok(name, "agrees with the cloud CA's validity (the cloud sends no Date header)");
}

// ---- machine resources ----

CheckResult check_cpu(unsigned cores, unsigned min_cores) {
    std::string text = std::to_string(cores) + (cores == 1 ? " core" : " cores");
    if (cores < min_cores)
        return fail("cpu", text + ", at least " + std::to_string(min_cores) + " needed");
    return ok("cpu", text);
}

CheckResult check_memory(const fs::path& meminfo, std::uint64_t min_available) {
    std::istringstream in(read_small(meminfo));
    std::string line;
    std::optional<std::uint64_t> total, available;
    while (std::getline(in, line)) {
        std::istringstream fields(line);
        std::string key;
        std::uint64_t kib = 0;
        if (!(fields >> key >> kib)) continue;
        if (key == "MemTotal:") total = kib * 1024;
        if (key == "MemAvailable:") available = kib * 1024;
    }
    if (!total || !available)
        return fail("memory", "cannot read MemTotal/MemAvailable from " + meminfo.string());
    std::string text = format_bytes(*available) + " available of " + format_bytes(*total);
    if (*available < min_available)
        return fail("memory", text + ", at least " + format_bytes(min_available) +
                                  " should be free for edgecore and its pods");
    return ok("memory", text);
}

CheckResult check_disk(const fs::path& path, std::uint64_t min_free) {
    fs::path p = fs::absolute(path);
    std::error_code ec;
    while (!fs::exists(p, ec) && p.has_parent_path() && p != p.parent_path()) p = p.parent_path();
    struct statvfs st {};
    if (::statvfs(p.c_str(), &st) != 0)
        return fail("disk", "statvfs " + p.string() + ": " + std::strerror(errno));
    std::uint64_t free_bytes = static_cast<std::uint64_t>(st.f_bavail) * st.f_frsize;
    std::string text = format_bytes(free_bytes) + " free under " + p.string();
    if (free_bytes < min_free)
        return fail("disk", text + ", at least " + format_bytes(min_free) +
                                " needed for images, pod data and logs");
    return ok("disk", text);
}

CheckResult check_tcp_reachable(const std::string& name, const std::string& host_port,
                                std::chrono::milliseconds timeout) {
    auto hp = net::split_host_port(host_port);
    if (!hp) return fail(name, hp.error().detail);
    addrinfo hints{};
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* res = nullptr;
    int rc = ::getaddrinfo(hp->first.c_str(), std::to_string(hp->second).c_str(), &hints, &res);
    if (rc != 0) return fail(name, "cannot resolve " + hp->first + ": " + ::gai_strerror(rc));
    std::string last_error = "no address";
    auto start = std::chrono::steady_clock::now();
    bool connected = false;
    for (addrinfo* ai = res; ai && !connected; ai = ai->ai_next) {
        int fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0) continue;
        if (::connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
            connected = true;
        } else if (errno == EINPROGRESS) {
            pollfd pfd{fd, POLLOUT, 0};
            int n = ::poll(&pfd, 1, static_cast<int>(timeout.count()));
            int err = 0;
            socklen_t len = sizeof err;
            if (n == 1 && ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err == 0)
                connected = true;
            else
                last_error = n == 0 ? "timed out after " + std::to_string(timeout.count()) + " ms"
                                    : std::strerror(err ? err : errno);
        } else {
            last_error = std::strerror(errno);
        }
        ::close(fd);
    }
    ::freeaddrinfo(res);
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                  std::chrono::steady_clock::now() - start)
                  .count();
    if (!connected)
        return fail(name, host_port + " does not accept connections: " + last_error +
                              "; check the address, that cloudcore runs and the firewall");
    return ok(name, host_port + " reachable (" + std::to_string(ms) + " ms)");
}

std::optional<unsigned short> url_port(std::string_view url) {
    auto scheme = url.find("://");
    if (scheme != std::string_view::npos) url.remove_prefix(scheme + 3);
    auto slash = url.find('/');
    if (slash != std::string_view::npos) url = url.substr(0, slash);
    auto hp = net::split_host_port(url);
    if (!hp) return std::nullopt;
    return hp->second;
}

bool url_is_local(std::string_view url) {
    auto scheme = url.find("://");
    if (scheme != std::string_view::npos) url.remove_prefix(scheme + 3);
    auto slash = url.find('/');
    if (slash != std::string_view::npos) url = url.substr(0, slash);
    auto hp = net::split_host_port(url);
    if (!hp) return false;
    const auto& h = hp->first;
    return h == "localhost" || h == "::1" || h.rfind("127.", 0) == 0 || h == "0.0.0.0";
}

}  // namespace kedge::keadm
