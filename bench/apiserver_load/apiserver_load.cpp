// apiserver_load: starts kedge-apiserver on SQLite and on a private etcd side by side, runs the
// same create / list / watch fan-out scenario against each over mTLS (our own net::HttpClient)
// and prints figures plus RSS. Everything it starts is stopped by PID; traffic stays on loopback.

#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <boost/asio.hpp>
#include <boost/json.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "net/http_client.hpp"
#include "net/tls_context.hpp"

namespace asio = boost::asio;
namespace json = boost::json;
namespace net = kedge::net;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

namespace {

struct Options {
    int pods = 10000;
    // BENCHMARKS.md target: one write reaches 10,000 watchers within 1 s.
    std::vector<int> watcher_sizes = {1000, 10000};
    int concurrency = 16;
    std::string report = "apiserver_load_report.json";
    std::string apiserver;
    std::string etcd = "/usr/bin/etcd";
    std::vector<std::string> backends = {"sqlite", "etcd"};
};

double ms_since(Clock::time_point t0, Clock::time_point t1 = Clock::now()) {
    return std::chrono::duration<double, std::milli>(t1 - t0).count();
}

double percentile(std::vector<double> v, double p) {
    if (v.empty()) return 0;
    std::sort(v.begin(), v.end());
    auto idx = static_cast<std::size_t>(p * static_cast<double>(v.size() - 1) + 0.5);
    return v[std::min(idx, v.size() - 1)];
}

std::string read_text(const std::string& path) {
    std::ifstream f(path);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

std::string base64_decode(const std::string& in) {
    std::string out;
    int val = 0, bits = -8;
    for (unsigned char c : in) {
        int d;
        if (c >= 'A' && c <= 'Z') d = c - 'A';
        else if (c >= 'a' && c <= 'z') d = c - 'a' + 26;
        else if (c >= '0' && c <= '9') d = c - '0' + 52;
        else if (c == '+') d = 62;
        else if (c == '/') d = 63;
        else continue;  // padding, whitespace
        val = (val << 6) + d;
        bits += 6;
        if (bits >= 0) {
            out.push_back(static_cast<char>((val >> bits) & 0xFF));
            bits -= 8;
        }
    }
    return out;
}

double rss_mb(pid_t pid) {
    std::ifstream f("/proc/" + std::to_string(pid) + "/status");
    std::string line;
    while (std::getline(f, line)) {
        if (line.rfind("VmRSS:", 0) == 0) return std::stod(line.substr(6)) / 1024.0;
    }
    return 0;
}

// A child process started with fork/exec and stopped by its PID.
class Child {
  public:
    Child(const std::vector<std::string>& argv, const std::string& log) {
        pid_ = fork();
        if (pid_ == 0) {
            FILE* out = std::freopen(log.c_str(), "w", stdout);
            if (out) dup2(fileno(stdout), STDERR_FILENO);
            std::vector<char*> args;
            for (auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
            args.push_back(nullptr);
            execv(args[0], args.data());
            _exit(127);
        }
    }
    ~Child() { stop(); }
    Child(const Child&) = delete;
    Child& operator=(const Child&) = delete;
    pid_t pid() const { return pid_; }
    bool alive() const { return pid_ > 0 && waitpid(pid_, nullptr, WNOHANG) == 0; }
    void stop() {
        if (pid_ <= 0) return;
        kill(pid_, SIGTERM);
        for (int i = 0; i < 100; ++i) {
            if (waitpid(pid_, nullptr, WNOHANG) != 0) {
                pid_ = -1;
                return;
            }
            std::this_thread::sleep_for(50ms);
        }
        kill(pid_, SIGKILL);
        waitpid(pid_, nullptr, 0);
        pid_ = -1;
    }

  private:
    pid_t pid_ = -1;
};

int free_port() {
    asio::io_context io;
    asio::ip::tcp::acceptor a(io, {asio::ip::make_address("127.0.0.1"), 0});
    return a.local_endpoint().port();
}

struct BackendResult {
    std::string backend;
    int pods = 0;
    int create_errors = 0;
    double create_total_ms = 0, create_per_s = 0, create_p50_ms = 0, create_p99_ms = 0;
    double rss_after_start = 0, rss_after_create = 0, rss_after_list = 0;
    double list_ms = 0, list_paged_ms = 0;
    std::size_t list_bytes = 0, list_items = 0;
    int list_pages = 0;
    struct Fanout {
        int requested = 0, established = 0, received = 0;
        double open_ms = 0, last_ms = 0, p50_ms = 0, rss_mb = 0;
        std::string note;
    };
    std::vector<Fanout> fanouts;
    std::string error;
};

std::string pod_json(const std::string& name) {
    return R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":")" + name +
           R"(","namespace":"default","labels":{"app":"bench"}},"spec":{"containers":[{"name":"c","image":"busybox:1.36"}]}})";
}

net::HttpRequestSpec create_spec(const std::string& name) {
    net::HttpRequestSpec s;
    s.method = "POST";
    s.target = "/api/v1/namespaces/default/pods";
    s.headers = {{"Content-Type", "application/json"}};
    s.body = pod_json(name);
    return s;
}

asio::awaitable<void> sleep_for(std::chrono::milliseconds d) {
    asio::steady_timer t(co_await asio::this_coro::executor, d);
    co_await t.async_wait(asio::use_awaitable);
}

// The scenario against one running server.
asio::awaitable<void> scenario(net::HttpClient& client, const Options& opt, pid_t server_pid,
                               BackendResult& r) {
    auto ex = co_await asio::this_coro::executor;
    // 1. creates with bounded concurrency.
    std::vector<double> lat;
    lat.reserve(static_cast<std::size_t>(opt.pods));
    int next = 0, workers_done = 0;
    auto t0 = Clock::now();
    auto deadline = t0 + 120s;
    for (int w = 0; w < opt.concurrency; ++w) {
        asio::co_spawn(
            ex,
            [&]() -> asio::awaitable<void> {
                while (next < opt.pods && Clock::now() < deadline) {
                    int i = next++;
                    auto s = Clock::now();
                    auto res = co_await client.request(create_spec("bench-" + std::to_string(i)));
                    if (res && res->status == 201) lat.push_back(ms_since(s));
                    else ++r.create_errors;
                }
                ++workers_done;
            },
            asio::detached);
    }
    while (workers_done < opt.concurrency) co_await sleep_for(5ms);
    r.create_total_ms = ms_since(t0);
    r.pods = static_cast<int>(lat.size());
    r.create_per_s = r.pods / (r.create_total_ms / 1000.0);
    r.create_p50_ms = percentile(lat, 0.50);
    r.create_p99_ms = percentile(lat, 0.99);
    r.rss_after_create = rss_mb(server_pid);
    std::cout << "  create: " << r.pods << " ok, " << r.create_errors << " errors, "
              << r.create_total_ms << " ms, " << r.create_per_s << "/s, p50 " << r.create_p50_ms
              << " ms, p99 " << r.create_p99_ms << " ms, rss " << r.rss_after_create << " MB"
              << std::endl;

    // 2. one full list, then pages of 500.
    std::string rv;
    {
        net::HttpRequestSpec s;
        s.target = "/api/v1/namespaces/default/pods";
        s.timeout = 60s;
        auto l0 = Clock::now();
        auto res = co_await client.request(s);
        r.list_ms = ms_since(l0);
        if (!res || res->status != 200) {
            r.error = "full list failed";
            co_return;
        }
        r.list_bytes = res->body.size();
        boost::system::error_code ec;
        auto v = json::parse(res->body, ec);
        if (!ec && v.is_object()) {
            auto& o = v.as_object();
            if (auto* it = o.if_contains("items"); it && it->is_array())
                r.list_items = it->as_array().size();
            if (auto* m = o.if_contains("metadata"); m && m->is_object())
                if (auto* x = m->as_object().if_contains("resourceVersion"); x && x->is_string())
                    rv = std::string(x->as_string());
        }
    }
    {
        auto l0 = Clock::now();
        std::string cont;
        std::size_t items = 0;
        do {
            net::HttpRequestSpec s;
            s.target = "/api/v1/namespaces/default/pods?limit=500";
            if (!cont.empty()) s.target += "&continue=" + cont;
            auto res = co_await client.request(s);
            if (!res || res->status != 200) {
                r.error = "paged list failed";
                co_return;
            }
            ++r.list_pages;
            cont.clear();
            boost::system::error_code ec;
            auto v = json::parse(res->body, ec);
            if (ec || !v.is_object()) break;
            auto& o = v.as_object();
            if (auto* it = o.if_contains("items"); it && it->is_array())
                items += it->as_array().size();
            if (auto* m = o.if_contains("metadata"); m && m->is_object())
                if (auto* c = m->as_object().if_contains("continue"); c && c->is_string())
                    cont = std::string(c->as_string());
        } while (!cont.empty() && Clock::now() - l0 < 60s);
        r.list_paged_ms = ms_since(l0);
        r.rss_after_list = rss_mb(server_pid);
        std::cout << "  list: " << r.list_items << " items, " << r.list_bytes << " bytes, "
                  << r.list_ms << " ms; paged(500): " << r.list_pages << " pages, " << items
                  << " items, " << r.list_paged_ms << " ms, rss " << r.rss_after_list << " MB"
                  << std::endl;
    }

    // 3. watch fan-out per size.
    rlimit lim{};
    getrlimit(RLIMIT_NOFILE, &lim);
    int round = 0;
    for (int size : opt.watcher_sizes) {
        BackendResult::Fanout f;
        f.requested = size;
        if (static_cast<rlim_t>(size) + 256 > lim.rlim_cur) {
            f.note = "skipped: RLIMIT_NOFILE " + std::to_string(lim.rlim_cur) + " too small";
            std::cout << "  watchers=" << size << " " << f.note << std::endl;
            r.fanouts.push_back(f);
            continue;
        }
        ++round;
        std::string marker = "fanout-" + std::to_string(round);
        std::vector<std::unique_ptr<net::HttpStream>> streams(static_cast<std::size_t>(size));
        std::vector<std::optional<Clock::time_point>> got(static_cast<std::size_t>(size));
        int opened = 0, failed = 0, idx = 0, readers_done = 0, readers = 0, ended_early = 0;
        std::optional<Clock::time_point> write_at;
        std::string target = "/api/v1/namespaces/default/pods?watch=true&allowWatchBookmarks=true";
        if (!rv.empty()) target += "&resourceVersion=" + rv;
        auto o0 = Clock::now();
        auto open_deadline = o0 + 90s;
        int openers = 64, openers_done = 0;
        for (int k = 0; k < openers; ++k) {
            asio::co_spawn(
                ex,
                [&]() -> asio::awaitable<void> {
                    while (idx < size && Clock::now() < open_deadline) {
                        auto i = static_cast<std::size_t>(idx++);
                        net::HttpRequestSpec s;
                        s.target = target;
                        s.timeout = 30s;
                        auto res = co_await client.stream(s);
                        if (!res || (*res)->status() != 200) {
                            ++failed;
                            continue;
                        }
                        streams[i] = std::move(*res);
                        ++opened;
                        ++readers;
                        asio::co_spawn(
                            ex,
                            [&, i]() -> asio::awaitable<void> {
                                auto* st = streams[i].get();
                                while (true) {
                                    auto line = co_await st->read_line();
                                    if (!line || !*line) break;
                                    if (write_at && (*line)->find(marker) != std::string::npos &&
                                        (*line)->find("\"ADDED\"") != std::string::npos) {
                                        got[i] = Clock::now();
                                        break;
                                    }
                                }
                                if (!got[i]) ++ended_early;
                                ++readers_done;
                            },
                            asio::detached);
                    }
                    ++openers_done;
                },
                asio::detached);
        }
        while (openers_done < openers) co_await sleep_for(10ms);
        f.open_ms = ms_since(o0);
        f.established = opened;
        if (ended_early > 0) f.note = std::to_string(ended_early) + " streams ended early";
        // One write; the time until the last watcher sees its ADDED event.
        write_at = Clock::now();
        auto res = co_await client.request(create_spec(marker));
        if (!res) f.note += " fan-out create failed: " + res.error().detail;
        else if (res->status != 201)
            f.note += " fan-out create failed: HTTP " + std::to_string(res->status);
        auto wait_deadline = Clock::now() + 30s;
        auto count_got = [&] {
            return static_cast<int>(std::count_if(got.begin(), got.end(),
                                                  [](auto& g) { return g.has_value(); }));
        };
        while (count_got() + ended_early < opened && Clock::now() < wait_deadline) {
            co_await sleep_for(1ms);
        }
        std::vector<double> d;
        for (auto& g : got)
            if (g) d.push_back(ms_since(*write_at, *g));
        f.received = static_cast<int>(d.size());
        f.last_ms = d.empty() ? 0 : *std::max_element(d.begin(), d.end());
        f.p50_ms = percentile(d, 0.5);
        f.rss_mb = rss_mb(server_pid);
        for (auto& s : streams)
            if (s) s->close();
        while (readers_done < readers && Clock::now() < wait_deadline + 10s)
            co_await sleep_for(5ms);
        streams.clear();
        std::cout << "  watchers=" << size << ": established " << f.established << " (failed "
                  << failed << ") in " << f.open_ms << " ms; received " << f.received
                  << ", last " << f.last_ms << " ms, p50 " << f.p50_ms << " ms, rss " << f.rss_mb
                  << " MB " << f.note << std::endl;
        r.fanouts.push_back(f);
        // Let the server drop the closed watches before the next size.
        co_await sleep_for(1s);
    }
}

struct Kubeconfig {
    std::string server, ca, cert, key;
};

std::optional<Kubeconfig> parse_kubeconfig(const std::string& path) {
    try {
        YAML::Node y = YAML::LoadFile(path);
        auto cluster = y["clusters"][0]["cluster"];
        auto user = y["users"][0]["user"];
        Kubeconfig k;
        k.server = cluster["server"].as<std::string>();
        auto pick = [](const YAML::Node& n, const char* data, const char* file) {
            if (n[data]) return base64_decode(n[data].as<std::string>());
            if (n[file]) return read_text(n[file].as<std::string>());
            return std::string();
        };
        k.ca = pick(cluster, "certificate-authority-data", "certificate-authority");
        k.cert = pick(user, "client-certificate-data", "client-certificate");
        k.key = pick(user, "client-key-data", "client-key");
        if (k.server.empty() || k.cert.empty()) return std::nullopt;
        return k;
    } catch (const std::exception&) {
        return std::nullopt;
    }
}

bool wait_for(const std::function<bool()>& pred, std::chrono::seconds limit) {
    auto end = Clock::now() + limit;
    while (Clock::now() < end) {
        if (pred()) return true;
        std::this_thread::sleep_for(50ms);
    }
    return pred();
}

BackendResult run_backend(const std::string& backend, const Options& opt,
                          const std::filesystem::path& root) {
    BackendResult r;
    r.backend = backend;
    auto dir = root / backend;
    std::filesystem::create_directories(dir);
    std::unique_ptr<Child> etcd;
    std::vector<std::string> argv = {opt.apiserver,
                                     "--data-dir",
                                     (dir / "data").string(),
                                     "--bind-address",
                                     "127.0.0.1",
                                     "--secure-port",
                                     "0",
                                     "--write-kubeconfig",
                                     (dir / "kubeconfig").string(),
                                     "--log-level",
                                     "warn"};
    if (backend == "etcd") {
        int client = free_port(), peer = free_port();
        std::string url = "http://127.0.0.1:" + std::to_string(client);
        std::string purl = "http://127.0.0.1:" + std::to_string(peer);
        etcd = std::make_unique<Child>(
            std::vector<std::string>{opt.etcd, "--data-dir", (dir / "etcd").string(), "--name",
                                     "kedge", "--listen-client-urls", url,
                                     "--advertise-client-urls", url, "--listen-peer-urls", purl,
                                     "--initial-advertise-peer-urls", purl, "--initial-cluster",
                                     "kedge=" + purl},
            (dir / "etcd.log").string());
        bool up = wait_for(
            [&] {
                asio::io_context io;
                net::HttpClientOptions hc;
                hc.base_url = url;
                net::HttpClient c(io.get_executor(), hc);
                bool ok = false;
                asio::co_spawn(
                    io,
                    [&]() -> asio::awaitable<void> {
                        net::HttpRequestSpec s;
                        s.target = "/health";
                        s.timeout = 1s;
                        auto res = co_await c.request(s);
                        ok = res && res->status == 200;
                    },
                    asio::detached);
                io.run();
                return ok;
            },
            20s);
        if (!up) {
            r.error = "etcd did not become healthy; see " + (dir / "etcd.log").string();
            return r;
        }
        for (auto& a : {"--storage", "etcd", "--etcd-servers"}) argv.emplace_back(a);
        argv.push_back(url);
    }
    Child server(argv, (dir / "server.log").string());
    std::optional<Kubeconfig> kc;
    wait_for(
        [&] {
            if (!std::filesystem::exists(dir / "kubeconfig")) return false;
            kc = parse_kubeconfig((dir / "kubeconfig").string());
            return kc.has_value() && kc->server.find(":0") == std::string::npos;
        },
        30s);
    if (!kc) {
        r.error = "kedge-apiserver wrote no kubeconfig; see " + (dir / "server.log").string();
        return r;
    }
    std::cout << "[" << backend << "] server pid " << server.pid() << " at " << kc->server
              << (etcd ? " etcd pid " + std::to_string(etcd->pid()) : std::string()) << std::endl;
    r.rss_after_start = rss_mb(server.pid());
    net::ClientTlsOptions to;
    to.ca = net::PemSource::from_pem(kc->ca);
    to.cert = net::PemSource::from_pem(kc->cert);
    to.key = net::PemSource::from_pem(kc->key);
    auto tls = net::TlsContext::make_client(to);
    if (!tls) {
        r.error = "TLS context: " + tls.error().detail;
        return r;
    }
    asio::io_context io;
    net::HttpClientOptions co;
    co.base_url = kc->server;
    co.tls = *tls;
    co.max_idle_connections = static_cast<std::size_t>(opt.concurrency) + 4;
    co.request_timeout = 30s;
    co.connect_timeout = 30s;
    net::HttpClient client(io.get_executor(), co);
    asio::co_spawn(io, scenario(client, opt, server.pid(), r), [&](std::exception_ptr e) {
        if (e) {
            try {
                std::rethrow_exception(e);
            } catch (const std::exception& ex) {
                r.error = ex.what();
            }
        }
    });
    io.run();
    server.stop();
    if (etcd) etcd->stop();
    return r;
}

std::string machine() {
    std::ifstream f("/proc/cpuinfo");
    std::string line, model = "unknown";
    while (std::getline(f, line)) {
        if (line.rfind("model name", 0) == 0) {
            model = line.substr(line.find(':') + 2);
            break;
        }
    }
    return "nproc=" + std::to_string(std::thread::hardware_concurrency()) + " model=\"" + model +
           "\"";
}

void usage() {
    std::cout << "apiserver_load [--quick] [--pods=N] [--watchers=N[,N...]] [--concurrency=N]\n"
                 "               [--backends=sqlite,etcd] [--report=FILE] [--apiserver=PATH]\n"
                 "               [--etcd=PATH]\n";
}

std::vector<std::string> split(const std::string& s) {
    std::vector<std::string> out;
    std::stringstream ss(s);
    std::string x;
    while (std::getline(ss, x, ','))
        if (!x.empty()) out.push_back(x);
    return out;
}

}  // namespace

int main(int argc, char** argv) {
    Options opt;
    auto exe_dir = std::filesystem::canonical("/proc/self/exe").parent_path();
    opt.apiserver = (exe_dir / "../../apps/kedge-apiserver/kedge-apiserver").lexically_normal();
    try {
        for (int i = 1; i < argc; ++i) {
            std::string a = argv[i];
            auto val = [&](const char* p) -> std::optional<std::string> {
                std::string pre = std::string(p) + "=";
                if (a.rfind(pre, 0) == 0) return a.substr(pre.size());
                return std::nullopt;
            };
            if (a == "--quick") {
                opt.pods = 1000;
                opt.watcher_sizes = {1000};
            } else if (auto v = val("--pods")) {
                opt.pods = std::stoi(*v);
            } else if (auto v2 = val("--watchers")) {
                opt.watcher_sizes.clear();
                for (auto& x : split(*v2)) opt.watcher_sizes.push_back(std::stoi(x));
            } else if (auto v3 = val("--concurrency")) {
                opt.concurrency = std::max(1, std::stoi(*v3));
            } else if (auto v4 = val("--backends")) {
                opt.backends = split(*v4);
            } else if (auto v5 = val("--report")) {
                opt.report = *v5;
            } else if (auto v6 = val("--apiserver")) {
                opt.apiserver = *v6;
            } else if (auto v7 = val("--etcd")) {
                opt.etcd = *v7;
            } else {
                usage();
                return a == "--help" ? 0 : 2;
            }
        }
    } catch (const std::exception&) {
        usage();
        return 2;
    }
    if (!std::filesystem::exists(opt.apiserver)) {
        std::cerr << "kedge-apiserver not found at " << opt.apiserver << " (use --apiserver=)\n";
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    rlimit lim{};
    getrlimit(RLIMIT_NOFILE, &lim);
    lim.rlim_cur = lim.rlim_max;
    setrlimit(RLIMIT_NOFILE, &lim);
    getrlimit(RLIMIT_NOFILE, &lim);
    std::cout << "machine: " << machine() << " RLIMIT_NOFILE=" << lim.rlim_cur << std::endl;
    std::cout << "apiserver: " << opt.apiserver << " pods=" << opt.pods
              << " concurrency=" << opt.concurrency << std::endl;

    char tmpl[] = "/tmp/apiserver_load.XXXXXX";
    if (!mkdtemp(tmpl)) {
        std::cerr << "mkdtemp failed\n";
        return 1;
    }
    std::filesystem::path root = tmpl;
    std::vector<BackendResult> results;
    for (auto& b : opt.backends) {
        results.push_back(run_backend(b, opt, root));
        if (!results.back().error.empty())
            std::cout << "[" << b << "] error: " << results.back().error << std::endl;
    }

    json::object report;
    report["machine"] = machine();
    json::array arr;
    for (auto& r : results) {
        std::ostringstream line;
        line << "BENCH apiserver_load backend=" << r.backend << " pods=" << r.pods
             << " create_per_s=" << static_cast<long>(r.create_per_s)
             << " create_p50_ms=" << r.create_p50_ms << " create_p99_ms=" << r.create_p99_ms
             << " list_ms=" << r.list_ms << " list_bytes=" << r.list_bytes
             << " list_paged_ms=" << r.list_paged_ms;
        json::object o{{"backend", r.backend},
                       {"pods", r.pods},
                       {"create_errors", r.create_errors},
                       {"create_total_ms", r.create_total_ms},
                       {"create_per_s", r.create_per_s},
                       {"create_p50_ms", r.create_p50_ms},
                       {"create_p99_ms", r.create_p99_ms},
                       {"list_ms", r.list_ms},
                       {"list_bytes", r.list_bytes},
                       {"list_items", r.list_items},
                       {"list_paged_ms", r.list_paged_ms},
                       {"list_pages", r.list_pages},
                       {"rss_mb_start", r.rss_after_start},
                       {"rss_mb_after_create", r.rss_after_create},
                       {"rss_mb_after_list", r.rss_after_list},
                       {"error", r.error}};
        json::array fa;
        double last_rss = r.rss_after_list;
        for (auto& f : r.fanouts) {
            fa.push_back(json::object{{"watchers", f.requested},
                                      {"established", f.established},
                                      {"received", f.received},
                                      {"open_ms", f.open_ms},
                                      {"fanout_last_ms", f.last_ms},
                                      {"fanout_p50_ms", f.p50_ms},
                                      {"rss_mb", f.rss_mb},
                                      {"note", f.note}});
            if (f.established > 0) {
                line << " watchers=" << f.established << " fanout_last_ms=" << f.last_ms
                     << " fanout_p50_ms=" << f.p50_ms;
                last_rss = f.rss_mb;
            }
        }
        o["fanouts"] = std::move(fa);
        line << " rss_mb=" << last_rss;
        arr.push_back(std::move(o));
        std::cout << line.str() << std::endl;
    }
    report["results"] = std::move(arr);
    std::ofstream(opt.report) << json::serialize(report) << "\n";
    std::cout << "report: " << opt.report << " (server logs under " << root.string() << ")"
              << std::endl;
    return 0;
}
