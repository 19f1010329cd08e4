// keadm init: the cloud side. Every step checks whether its result already exists and is valid
// and then says "already done", so a second run changes nothing; --force redoes every step and
// restarts what runs.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <iostream>
#include <set>
#include <sstream>
#include <thread>

#include "base/config_yaml.hpp"
#include "cloud/config/cloudcore_config.hpp"
#include "keadm/common.hpp"
#include "keadm/keadm.hpp"
#include "keadm/kube_ops.hpp"
#include "keadm/process.hpp"

namespace kedge::keadm {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

// What the steps share.
struct InitContext {
    InitContext(const InitOptions& o, Layout l) : options(o), layout(std::move(l)) {}
    const InitOptions& options;
    Layout layout;
    StepPrinter steps{"init"};
    fs::path kubeconfig;                 // the cluster cloudcore and keadm talk to
    bool embedded = false;               // kedge-apiserver runs under the root dir
    std::string bind_address;            // cloudhub listeners
    std::vector<std::string> advertise;  // cloudhub advertiseAddress
    bool config_rewritten = false;       // cloudcore.yaml changed: cloudcore restarts
};

bool is_loopback(const std::string& ip) { return ip.rfind("127.", 0) == 0 || ip == "::1"; }

// True when a listener could bind address:port now (SO_REUSEADDR, so TIME_WAIT does not count).
bool port_free(const std::string& address, unsigned short port) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return false;
    int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(port);
    if (::inet_pton(AF_INET, address.c_str(), &sa.sin_addr) != 1) sa.sin_addr.s_addr = INADDR_ANY;
    bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0;
    ::close(fd);
    return ok;
}

// True when something accepts TCP connections on address:port.
bool port_answers(const std::string& address, unsigned short port) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return false;
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(port);
    if (::inet_pton(AF_INET, address.c_str(), &sa.sin_addr) != 1)
        ::inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0;
    ::close(fd);
    return ok;
}

std::string log_tail(const fs::path& file, std::size_t max_bytes = 3000) {
    auto text = read_text_file(file);
    if (!text) return "(no log at " + file.string() + ")";
    auto tail = text->size() > max_bytes ? text->substr(text->size() - max_bytes) : *text;
    return "last lines of " + file.string() + ":\n" + tail;
}

bool step_preflight(InitContext& c) {
    c.steps.begin("preflight checks");
    if (c.options.common.skip_preflight_checks) {
        c.steps.done("skipped (--skip-preflight-checks)");
        return true;
    }
    std::vector<std::string> problems;
    for (const auto& dir : {c.layout.etc(), c.layout.data(), c.layout.logs(), c.layout.run()}) {
        std::error_code ec;
        fs::create_directories(dir, ec);
        if (ec) {
            problems.push_back("cannot create " + dir.string() + ": " + ec.message());
            continue;
        }
        auto probe = dir / ".keadm-write-test";
        if (auto ok = write_file_atomic(probe, "ok\n"); !ok)
            problems.push_back(dir.string() + " is not writable: " + ok.error().detail);
        fs::remove(probe, ec);
    }
    // Ports held by our own running components are fine: a re-run finds them taken by design.
    struct PortUse {
        std::string what;
        unsigned short port;
        std::string owner;
    };
    std::vector<PortUse> ports = {{"hub port", c.options.hub_port, "cloudcore"},
                                  {"cert port", c.options.cert_port, "cloudcore"},
                                  {"metrics port", c.options.metrics_port, "cloudcore"}};
    if (c.embedded && c.options.apiserver_port != 0)
        ports.push_back({"API server port", c.options.apiserver_port, "kedge-apiserver"});
    std::set<unsigned short> seen;
    for (const auto& p : ports) {
        if (!seen.insert(p.port).second) {
            problems.push_back(p.what + " " + std::to_string(p.port) + " is given twice");
            continue;
        }
        if (is_running(c.layout.pid_file(p.owner))) continue;
        std::string addr =
            p.owner == "cloudcore" && p.what != "metrics port" ? c.bind_address : "127.0.0.1";
        if (!port_free(addr, p.port))
            problems.push_back(p.what + " " + std::to_string(p.port) + " on " + addr +
                               " is in use by another process (pick another with --" +
                               (p.what == "hub port"       ? "hub-port"
                                : p.what == "cert port"    ? "cert-port"
                                : p.what == "metrics port" ? "metrics-port"
                                                           : "apiserver-port") +
                               ")");
    }
    if (!problems.empty()) {
        std::string all;
        for (const auto& p : problems) all += "\n  - " + p;
        c.steps.failed("preflight checks failed (--skip-preflight-checks to ignore):" + all);
        return false;
    }
    c.steps.done("passed");
    return true;
}

bool step_apiserver(InitContext& c) {
    c.steps.begin("embedded API server (kedge-apiserver)");
    const auto pid_file = c.layout.pid_file("kedge-apiserver");
    if (auto pid = running_supervisor(pid_file); pid && !c.options.common.force) {
        if (auto ready = wait_api_ready(c.kubeconfig, 15s); !ready) {
            c.steps.failed("it runs (supervisor pid " + std::to_string(*pid) +
                           ") but is not ready: " + ready.error().message() + "\n" +
                           log_tail(c.layout.log_file("kedge-apiserver")));
            return false;
        }
        c.steps.done("already done (running, supervisor pid " + std::to_string(*pid) + ")");
        return true;
    }
    if (auto stopped = stop_supervised(pid_file); !stopped) {
        c.steps.failed(stopped.error().message());
        return false;
    }
    auto bin = find_binary("kedge-apiserver", c.options.common.bin_dir);
    if (!bin) {
        c.steps.failed(bin.error().detail);
        return false;
    }
    c.steps.note("using " + bin->path.string() + " (found in " + bin->how + ")");
    std::error_code ec;
    fs::remove(c.kubeconfig, ec);  // wait for the one this start writes
    std::vector<std::string> argv = {bin->path.string(),
                                     "--data-dir",
                                     embedded_data_dir(c.layout).string(),
                                     "--bind-address",
                                     "127.0.0.1",
                                     "--secure-port",
                                     std::to_string(c.options.apiserver_port),
                                     "--write-kubeconfig",
                                     c.kubeconfig.string()};
    auto started = start_supervised(pid_file, c.layout.log_file("kedge-apiserver"), argv);
    if (!started) {
        c.steps.failed(started.error().message());
        return false;
    }
    if (auto ready = wait_api_ready(c.kubeconfig, 60s); !ready) {
        c.steps.failed(ready.error().message() + "\n" +
                       log_tail(c.layout.log_file("kedge-apiserver")));
        return false;
    }
    c.steps.done("started (supervisor pid " + std::to_string(*started) + "), admin kubeconfig " +
                 c.kubeconfig.string());
    return true;
}

// deploy/crds: next to the binaries (an install), or in the source tree (a build).
std::optional<fs::path> find_crd_dir(const fs::path& bin_dir) {
    fs::path exe_dir = self_exe().parent_path();
    std::vector<fs::path> candidates;
    if (!bin_dir.empty()) candidates.push_back(bin_dir / "crds");
    candidates.push_back(exe_dir / "crds");
    candidates.push_back(exe_dir / "../share/kedge/crds");
    candidates.push_back(exe_dir / "../deploy/crds");
#ifdef KEDGE_SOURCE_DIR
    candidates.push_back(fs::path(KEDGE_SOURCE_DIR) / "deploy/crds");
#endif
    for (const auto& c : candidates) {
        std::error_code ec;
        if (fs::is_directory(c, ec)) return c.lexically_normal();
    }
    return std::nullopt;
}

bool step_crds(InitContext& c) {
    c.steps.begin("KubeEdge CRDs");
    auto dir = find_crd_dir(c.options.common.bin_dir);
    if (!dir) {
        c.steps.failed("deploy/crds not found next to keadm or in the source tree");
        return false;
    }
    std::vector<fs::path> files;
    std::error_code ec;
    for (auto it = fs::recursive_directory_iterator(*dir, ec);
         !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
        auto ext = it->path().extension();
        if (it->is_regular_file() && (ext == ".yaml" || ext == ".yml")) files.push_back(it->path());
    }
    std::sort(files.begin(), files.end());
    int created = 0, unchanged = 0, updated = 0;
    for (const auto& file : files) {
        auto docs = load_manifests(file);
        if (!docs) {
            c.steps.failed(docs.error().message());
            return false;
        }
        for (const auto& doc : *docs) {
            auto kind = doc.if_contains("kind");
            if (!kind || !kind->is_string() || kind->as_string() != "CustomResourceDefinition")
                continue;
            auto r = ensure_crd(c.kubeconfig, doc, c.options.common.force, 30s);
            if (!r) {
                c.steps.failed(file.string() + ": " + r.error().message());
                return false;
            }
            (*r == CrdOutcome::kCreated   ? created
             : *r == CrdOutcome::kUpdated ? updated
                                          : unchanged)++;
        }
    }
    if (created + updated == 0)
        c.steps.done("already done (" + std::to_string(unchanged) + " established, from " +
                     dir->string() + ")");
    else
        c.steps.done(std::to_string(created) + " created, " + std::to_string(updated) +
                     " updated, " + std::to_string(unchanged) + " already there (from " +
                     dir->string() + ")");
    return true;
}

bool step_cloudcore_config(InitContext& c) {
    const auto path = c.layout.config_dir() / "cloudcore.yaml";
    c.steps.begin("cloudcore.yaml");
    cloud::CloudCoreConfig cfg;
    cfg.kube_api_config.kube_config = c.kubeconfig.string();
    cfg.common_config.monitor_server.bind_address =
        "127.0.0.1:" + std::to_string(c.options.metrics_port);
    auto& hub = cfg.modules.cloud_hub;
    hub.advertise_address = c.advertise;
    hub.websocket.address = c.bind_address;
    hub.websocket.port = c.options.hub_port;
    hub.https.address = c.bind_address;
    hub.https.port = c.options.cert_port;
    hub.unix_socket.enable = false;
    // Every path under the root dir, although the Secret store keeps the PKI in the cluster.
    const auto ca = c.layout.etc() / "ca", certs = c.layout.etc() / "certs";
    hub.tls_ca_file = (ca / "rootCA.crt").string();
    hub.tls_ca_key_file = (ca / "rootCA.key").string();
    hub.tls_cert_file = (certs / "server.crt").string();
    hub.tls_private_key_file = (certs / "server.key").string();
    auto& stream = cfg.modules.cloud_stream;
    stream.tls_tunnel_ca_file = hub.tls_ca_file;
    stream.tls_tunnel_cert_file = hub.tls_cert_file;
    stream.tls_tunnel_private_key_file = hub.tls_private_key_file;
    stream.tls_stream_ca_file = (ca / "streamCA.crt").string();
    stream.tls_stream_cert_file = (certs / "stream.crt").string();
    stream.tls_stream_private_key_file = (certs / "stream.key").string();
    cfg.kedge.pki_store.type = cloud::PkiStoreType::kSecret;
    cfg.kedge.pki_store.directory = (c.layout.data() / "pki").string();
    try {
        for (const auto& s : c.options.common.sets) apply_set(cfg, s);
        validate_config(cfg, path.string());
    } catch (const std::exception& e) {
        c.steps.failed(e.what());
        return false;
    }
    const std::string text = "# Written by keadm init.\n" + to_yaml(cfg);
    auto existing = read_text_file(path);
    if (existing && *existing == text && !c.options.common.force) {
        c.steps.done("already done (" + path.string() + ")");
        return true;
    }
    if (existing && !c.options.common.force) {
        c.steps.done("exists with other settings, kept (--force rewrites it): " + path.string());
        return true;
    }
    if (auto ok = write_file_atomic(path, text); !ok) {
        c.steps.failed(ok.error().message());
        return false;
    }
    c.config_rewritten = true;
    c.steps.done("written to " + path.string());
    return true;
}

bool step_cloudcore(InitContext& c) {
    c.steps.begin("cloudcore");
    const auto pid_file = c.layout.pid_file("cloudcore");
    if (auto pid = running_supervisor(pid_file);
        pid && !c.options.common.force && !c.config_rewritten) {
        c.steps.done("already done (running, supervisor pid " + std::to_string(*pid) + ")");
        return true;
    }
    if (auto stopped = stop_supervised(pid_file); !stopped) {
        c.steps.failed(stopped.error().message());
        return false;
    }
    auto bin = find_binary("cloudcore", c.options.common.bin_dir);
    if (!bin) {
        c.steps.failed(bin.error().detail);
        return false;
    }
    c.steps.note("using " + bin->path.string() + " (found in " + bin->how + ")");
    std::vector<std::string> argv = {bin->path.string(), "--config",
                                     (c.layout.config_dir() / "cloudcore.yaml").string()};
    auto started = start_supervised(pid_file, c.layout.log_file("cloudcore"), argv);
    if (!started) {
        c.steps.failed(started.error().message());
        return false;
    }
    c.steps.done("started (supervisor pid " + std::to_string(*started) + ", log " +
                 c.layout.log_file("cloudcore").string() + ")");
    return true;
}

// Waits for the token Secret and the join server; returns the token.
std::optional<std::string> step_token(InitContext& c) {
    c.steps.begin("token and join server");
    auto until = std::chrono::steady_clock::now() + 60s;
    std::string last;
    for (;;) {
        auto token = read_token(c.kubeconfig);
        if (token && *token && port_answers(c.bind_address, c.options.cert_port)) {
            c.steps.done("ready (Secret kubeedge/tokensecret, join server on port " +
                         std::to_string(c.options.cert_port) + ")");
            return **token;
        }
        last = !token    ? token.error().message()
               : !*token ? "Secret kubeedge/tokensecret not there yet"
                         : "the join server does not answer on port " +
                               std::to_string(c.options.cert_port);
        if (std::chrono::steady_clock::now() >= until) break;
        std::this_thread::sleep_for(200ms);
    }
    c.steps.failed("cloudcore did not become ready within 60 s: " + last + "\n" +
                   log_tail(c.layout.log_file("cloudcore")));
    return std::nullopt;
}

// --foreground: cloudcore takes this process's place (logs on the terminal, stopped with
// Ctrl-C); returns only when it cannot.
int exec_cloudcore(InitContext& c) {
    c.steps.begin("cloudcore (foreground)");
    if (auto pid = running_supervisor(c.layout.pid_file("cloudcore"))) {
        c.steps.failed("cloudcore already runs in the background (supervisor pid " +
                       std::to_string(*pid) + "); stop it with keadm reset cloud first");
        return 1;
    }
    auto bin = find_binary("cloudcore", c.options.common.bin_dir);
    if (!bin) {
        c.steps.failed(bin.error().detail);
        return 1;
    }
    std::string root_flag;
    if (c.layout.root != "/") root_flag = " --root-dir=" + c.layout.root.string();
    c.steps.done("exec " + bin->path.string() + " (found in " + bin->how + ")");
    std::cout << "Once it serves, print the join token with: keadm gettoken" << root_flag
              << std::endl;
    std::string path = bin->path.string(), flag = "--config",
                config = cloudcore_config_file(c.layout).string();
    char* argv[] = {path.data(), flag.data(), config.data(), nullptr};
    ::execv(argv[0], argv);
    std::cerr << "keadm init: exec " << path << ": " << std::strerror(errno) << std::endl;
    return 1;
}

void print_summary(const InitContext& c, const std::string& token) {
    std::string root_flag;
    if (c.layout.root != "/") root_flag = " --root-dir=" + c.layout.root.string();
    const std::string& addr = c.advertise.front();
    std::cout << "\nkedge cloud is ready.\n"
              << "Use the cluster with kubectl:\n"
              << "    export KUBECONFIG=" << c.kubeconfig.string() << "\n"
              << "    kubectl get nodes\n"
              << "Join an edge node (on that node):\n"
              << "    keadm join --cloudcore-ipport=" << addr << ":" << c.options.hub_port
              << (c.options.cert_port != 10002
                      ? " --certport=" + std::to_string(c.options.cert_port)
                      : std::string())
              << " --token=" << token << "\n"
              << "Print the token again with:\n"
              << "    keadm gettoken" << root_flag << "\n"
              << "Stop everything and remove what init made with:\n"
              << "    keadm reset cloud" << root_flag << std::endl;
}

}  // namespace

int run_init(const InitOptions& options) {
    InitContext c(options, Layout{fs::absolute(options.common.root_dir).lexically_normal()});
    if (options.hub_port == 0 || options.cert_port == 0 || options.metrics_port == 0) {
        std::cerr << "keadm init: --hub-port, --cert-port and --metrics-port must not be 0\n";
        return 2;
    }
    c.advertise = options.advertise_addresses;
    for (const auto& a : c.advertise) {
        if (!cloud::is_ip_address(a)) {
            std::cerr << "keadm init: --advertise-address: \"" << a << "\" is not an IP address\n";
            return 2;
        }
    }
    if (c.advertise.empty()) c.advertise.push_back("127.0.0.1");
    // One advertised address: listen there only; several: every interface.
    c.bind_address = c.advertise.size() == 1 ? c.advertise.front() : "0.0.0.0";
    c.embedded = options.kube_config.empty();
    c.kubeconfig = c.embedded ? admin_kubeconfig(c.layout)
                              : fs::absolute(options.kube_config).lexically_normal();

    c.steps.note("root dir " + c.layout.root.string());
    if (systemd_detected())
        c.steps.note(
            "systemd detected, but not used yet: components run under `keadm "
            "supervise` (pid files in " +
            c.layout.run().string() + ")");
    if (!step_preflight(c)) return 1;
    if (c.embedded) {
        if (!step_apiserver(c)) return 1;
        if (std::any_of(c.advertise.begin(), c.advertise.end(),
                        [](const std::string& a) { return !is_loopback(a); }))
            c.steps.note("the embedded API server listens on 127.0.0.1 only");
    } else {
        c.steps.begin("Kubernetes API server");
        if (auto ready = wait_api_ready(c.kubeconfig, 30s); !ready) {
            c.steps.failed(ready.error().message());
            return 1;
        }
        c.steps.done("using the cluster of " + c.kubeconfig.string() +
                     " (kedge-apiserver not started)");
    }
    if (!step_crds(c) || !step_cloudcore_config(c)) return 1;
    if (options.common.foreground) return exec_cloudcore(c);
    if (!step_cloudcore(c)) return 1;
    auto token = step_token(c);
    if (!token) return 1;
    print_summary(c, *token);
    return 0;
}

}  // namespace kedge::keadm
