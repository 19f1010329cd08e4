// keadm's preflight checks: each one provoked (fake /proc trees, real sockets on 127.0.0.1,
// constructed cloud answers) and its message read.

#include "keadm/preflight.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "keadm/process.hpp"
#include "support/test_support.hpp"

namespace kedge::keadm {
namespace {

namespace fs = std::filesystem;
using kedge::test::TempDir;
using kedge::test::write_file;
using ::testing::HasSubstr;
using namespace std::chrono_literals;

// A /proc look-alike: processes with comm, cmdline, stat and fd links, and net/tcp{,6}.
class FakeProc {
public:
    explicit FakeProc(const std::string& root) : root_(root) {
        fs::create_directories(root_ / "net");
        const char* header =
            "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  "
            "timeout inode\n";
        write_file((root_ / "net/tcp").string(), header);
        write_file((root_ / "net/tcp6").string(), header);
    }
    void process(int pid, const std::string& comm, const std::vector<std::string>& argv,
                 char state = 'S') {
        fs::path dir = root_ / std::to_string(pid);
        fs::create_directories(dir / "fd");
        write_file((dir / "comm").string(), comm + "\n");
        std::string cmdline;
        for (const auto& a : argv) cmdline += a + '\0';
        write_file((dir / "cmdline").string(), cmdline);
        write_file((dir / "stat").string(),
                   std::to_string(pid) + " (" + comm + ") " + state + " 1 1 1 0 -1");
    }
    // A socket held by pid (fd 3+n).
    void holds(int pid, std::uint64_t inode) {
        fs::path fd = root_ / std::to_string(pid) / "fd" / std::to_string(3 + fds_++);
        fs::create_symlink("socket:[" + std::to_string(inode) + "]", fd);
    }
    // A LISTEN socket; hex_addr as /proc writes it ("0100007F", "00000000").
    void listen(const char* file, const std::string& hex_addr, unsigned short port,
                std::uint64_t inode) {
        char line[256];
        std::snprintf(line, sizeof line,
                      "   0: %s:%04X 00000000:0000 0A 00000000:00000000 00:00000000 00000000     "
                      "0        0 %llu 1 0000000000000000 100 0 0 10 0\n",
                      hex_addr.c_str(), port, static_cast<unsigned long long>(inode));
        std::ofstream(root_ / file, std::ios::app) << line;
    }
    const fs::path& root() const { return root_; }

private:
    fs::path root_;
    int fds_ = 0;
};

// A listening socket on 127.0.0.1 owned by this test process.
class LocalListener {
public:
    LocalListener() {
        fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in sa{};
        sa.sin_family = AF_INET;
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0);
        EXPECT_EQ(::listen(fd_, 4), 0);
        socklen_t len = sizeof sa;
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&sa), &len);
        port_ = ntohs(sa.sin_port);
    }
    ~LocalListener() { ::close(fd_); }
    unsigned short port() const { return port_; }

private:
    int fd_ = -1;
    unsigned short port_ = 0;
};

std::string self_comm() {
    std::string c = kedge::test::read_file("/proc/self/comm");
    while (!c.empty() && c.back() == '\n') c.pop_back();
    return c;
}

TEST(PreflightFormat, LinesAndDurations) {
    EXPECT_EQ(format_check({"kubelet", true, "none running"}),
              "[preflight] kubelet: OK none running");
    EXPECT_EQ(format_check({"cpu", true, "2 cores"}, "check"), "[check] cpu: OK 2 cores");
    EXPECT_EQ(format_check({"MQTT ports", false, "1883 is used"}),
              "[preflight] MQTT ports: FAIL: 1883 is used");
    EXPECT_EQ(format_duration(432s), "7m 12s");
    EXPECT_EQ(format_duration(-45s), "45s");
    EXPECT_EQ(format_duration(2h + 3min + 4s), "2h 3m");
    EXPECT_EQ(format_bytes(3ull << 30), "3.0 GiB");
    EXPECT_EQ(format_bytes(300ull << 20), "300 MiB");
}

TEST(PreflightKubelet, RunningKubeletFailsWithHowToStopIt) {
    TempDir dir;
    FakeProc proc(dir.file("proc"));
    proc.process(1, "systemd", {"/sbin/init"});
    auto r = check_kubelet(proc.root());
    EXPECT_TRUE(r.ok) << r.message;

    proc.process(42, "kubelet", {"/usr/bin/kubelet", "--config", "/var/lib/kubelet/config.yaml"});
    r = check_kubelet(proc.root());
    EXPECT_FALSE(r.ok);
    EXPECT_EQ(r.name, "kubelet");
    EXPECT_THAT(r.message, HasSubstr("pid 42"));
    EXPECT_THAT(r.message, HasSubstr("systemctl stop kubelet"));
}

TEST(PreflightKubelet, ZombieKubeletDoesNotCount) {
    TempDir dir;
    FakeProc proc(dir.file("proc"));
    proc.process(43, "kubelet", {}, 'Z');
    EXPECT_TRUE(check_kubelet(proc.root()).ok);
}

TEST(PreflightEdgecore, PidFileOfALiveEdgecoreFails) {
    TempDir dir;
    FakeProc proc(dir.file("proc"));
    Layout layout{dir.file("root")};
    auto config = layout.config_dir() / "edgecore.yaml";
    EXPECT_TRUE(check_edgecore_not_running(layout, config, proc.root()).ok);

    // A stale pid file (no such process) does not count.
    fs::create_directories(layout.run());
    write_file(layout.pid_file("edgecore").string(), "77\n");
    EXPECT_TRUE(check_edgecore_not_running(layout, config, proc.root()).ok);
    // Nor a reused pid now held by something else.
    proc.process(77, "bash", {"/bin/bash"});
    EXPECT_TRUE(check_edgecore_not_running(layout, config, proc.root()).ok);

    fs::remove_all(proc.root() / "77");
    proc.process(77, "keadm",
                 {"/usr/bin/keadm", "supervise", "--pid-file", layout.pid_file("edgecore").string(),
                  "--", "/usr/bin/edgecore"});
    auto r = check_edgecore_not_running(layout, config, proc.root());
    EXPECT_FALSE(r.ok);
    EXPECT_THAT(r.message, HasSubstr("pid 77"));
    EXPECT_THAT(r.message, HasSubstr("keadm reset edge"));
}

TEST(PreflightEdgecore, EdgecoreUsingTheSameConfigFails) {
    TempDir dir;
    FakeProc proc(dir.file("proc"));
    Layout layout{dir.file("root")};
    auto config = layout.config_dir() / "edgecore.yaml";
    proc.process(90, "edgecore", {"/usr/local/bin/edgecore", "--config", "/elsewhere.yaml"});
    EXPECT_TRUE(check_edgecore_not_running(layout, config, proc.root()).ok);

    proc.process(91, "edgecore", {"/usr/local/bin/edgecore", "--config=" + config.string()});
    auto r = check_edgecore_not_running(layout, config, proc.root());
    EXPECT_FALSE(r.ok);
    EXPECT_THAT(r.message, HasSubstr("pid 91"));
    EXPECT_THAT(r.message, HasSubstr(config.string()));
}

TEST(PreflightEdgecore, ConfigFlagParsing) {
    EXPECT_EQ(edgecore_config_of({"edgecore"}), "/etc/kubeedge/config/edgecore.yaml");
    EXPECT_EQ(edgecore_config_of({"edgecore", "--config", "/a.yaml"}), "/a.yaml");
    EXPECT_EQ(edgecore_config_of({"edgecore", "--config=/b.yaml"}), "/b.yaml");
}

TEST(PreflightInstallDir, NotEmptyFailsNamingItUnlessForced) {
    TempDir dir;
    Layout layout{dir.file("root")};
    EXPECT_TRUE(check_install_dir(layout, false).ok);
    fs::create_directories(layout.etc());
    EXPECT_TRUE(check_install_dir(layout, false).ok);

    fs::create_directories(layout.config_dir());
    write_file((layout.config_dir() / "edgecore.yaml").string(), "x");
    fs::create_directories(layout.etc() / "ca");
    auto r = check_install_dir(layout, false);
    EXPECT_FALSE(r.ok);
    EXPECT_THAT(r.message, HasSubstr(layout.etc().string() + " exists and is not empty"));
    EXPECT_THAT(r.message, HasSubstr("ca, config"));
    EXPECT_THAT(r.message, HasSubstr("keadm reset edge --root-dir " + layout.root.string()));
    EXPECT_THAT(r.message, HasSubstr("--force"));

    r = check_install_dir(layout, true);
    EXPECT_TRUE(r.ok);
    EXPECT_THAT(r.message, HasSubstr("--force"));
}

TEST(PreflightMqtt, PortHeldByAnotherProcessFailsNamingIt) {
    TempDir dir;
    FakeProc proc(dir.file("proc"));
    proc.process(42, "mosquitto", {"/usr/sbin/mosquitto", "-c", "/etc/mosquitto/mosquitto.conf"});
    proc.listen("net/tcp", "0100007F", 1883, 5555);
    proc.holds(42, 5555);

    auto r = check_mqtt_ports({1883, 1884}, std::nullopt, proc.root());
    EXPECT_FALSE(r.ok);
    EXPECT_EQ(r.name, "MQTT ports");
    EXPECT_THAT(r.message, HasSubstr("1883 is used by mosquitto (pid 42)"));
    EXPECT_THAT(r.message, HasSubstr("--mqtt-broker"));
    EXPECT_EQ(format_check(r).rfind("[preflight] MQTT ports: FAIL: 1883 is used by mosquitto "
                                    "(pid 42)",
                                    0),
              0u);

    // The configured broker is expected to listen on its own port.
    r = check_mqtt_ports({1883, 1884}, 1883, proc.root());
    EXPECT_TRUE(r.ok) << r.message;
    EXPECT_THAT(r.message, HasSubstr("1883 is the configured broker (mosquitto (pid 42))"));

    // But not on the internal broker's port.
    proc.listen("net/tcp6", "00000000000000000000000000000000", 1884, 6666);
    proc.holds(42, 6666);
    r = check_mqtt_ports({1883, 1884}, 1883, proc.root());
    EXPECT_FALSE(r.ok);
    EXPECT_THAT(r.message, HasSubstr("1884 is used by mosquitto (pid 42)"));
}

TEST(PreflightMqtt, OwnerNotVisibleSaysSo) {
    TempDir dir;
    FakeProc proc(dir.file("proc"));
    proc.listen("net/tcp", "00000000", 1884, 777);
    auto r = check_mqtt_ports({1883, 1884}, std::nullopt, proc.root());
    EXPECT_FALSE(r.ok);
    EXPECT_THAT(r.message, HasSubstr("1884 is used by an unknown process (socket inode 777"));
}

TEST(PreflightSockets, ListenerAddressesDecode) {
    TempDir dir;
    FakeProc proc(dir.file("proc"));
    proc.listen("net/tcp", "0100007F", 10550, 1);
    proc.listen("net/tcp6", "00000000000000000000000001000000", 10350, 2);
    auto ls = tcp_listeners(proc.root());
    ASSERT_EQ(ls.size(), 2u);
    EXPECT_EQ(ls[0].address, "127.0.0.1");
    EXPECT_EQ(ls[0].port, 10550);
    EXPECT_EQ(ls[1].address, "::1");
    EXPECT_EQ(ls[1].port, 10350);
}

TEST(PreflightMqtt, RealListenerOnLoopbackIsFoundWithItsProcess) {
    LocalListener listener;
    auto r = check_mqtt_ports({listener.port()}, std::nullopt);
    EXPECT_FALSE(r.ok);
    EXPECT_THAT(r.message, HasSubstr(std::to_string(listener.port()) + " is used by " +
                                     self_comm() + " (pid " + std::to_string(::getpid()) + ")"));
    auto free = static_cast<unsigned short>(kedge::test::free_port());
    EXPECT_TRUE(check_mqtt_ports({free}, std::nullopt).ok);
}

TEST(PreflightPorts, FreeOrOwnedByTheAllowedProcess) {
    LocalListener listener;
    auto free = static_cast<unsigned short>(kedge::test::free_port());
    auto r = check_ports_free("edgecore ports",
                              {{"meta server", listener.port()}, {"monitor", free}}, {});
    EXPECT_FALSE(r.ok);
    EXPECT_THAT(r.message, HasSubstr(std::to_string(listener.port()) +
                                     " (meta server) is used by " + self_comm()));
    r = check_ports_free("ports", {{"meta server", listener.port()}, {"monitor", free}},
                         self_comm());
    EXPECT_TRUE(r.ok) << r.message;
    EXPECT_THAT(r.message, HasSubstr(std::to_string(free) + " (monitor) free"));
    EXPECT_THAT(r.message, HasSubstr("held by " + self_comm()));
}

TEST(PreflightRuntime, EndpointThatDoesNotAnswerFailsNamingIt) {
    TempDir dir;
    std::string endpoint = "unix://" + dir.file("containerd.sock");
    auto r = check_runtime(endpoint, 2s);
    EXPECT_FALSE(r.ok);
    EXPECT_EQ(r.name, "container runtime");
    EXPECT_THAT(r.message, HasSubstr("CRI runtime at " + endpoint + " does not answer"));
    EXPECT_THAT(r.message, HasSubstr("--remote-runtime-endpoint"));
}

const std::string kFakeToken = std::string(64, 'a') + ".eyJhbGciOiJIUzI1NiJ9.eyJleHAiOjF9.c2ln";

TEST(PreflightCloud, UnreachableCloudFailsWithWhereItLooked) {
    int port = kedge::test::free_port();
    std::string url = "https://127.0.0.1:" + std::to_string(port);
    auto probe = probe_cloud(url, kFakeToken, "edge-1", 3s);
    auto r = check_cloud_reachable(probe);
    EXPECT_FALSE(r.ok);
    EXPECT_THAT(r.message, HasSubstr("cannot reach the join server " + url));
    EXPECT_THAT(r.message, HasSubstr("--certport"));
    // What depends on the cloud says it was not checked.
    EXPECT_FALSE(check_node_name(probe, "edge-1", false).ok);
    EXPECT_THAT(check_clock_skew(probe, Clock::time_point{}).message, HasSubstr("not checked"));
}

TEST(PreflightCloud, MalformedTokenSaysWhatATokenLooksLike) {
    auto probe = probe_cloud("https://127.0.0.1:1", "not-a-token", "edge-1", 1s);
    auto r = check_cloud_reachable(probe);
    EXPECT_FALSE(r.ok);
    EXPECT_THAT(r.message, HasSubstr("<sha256 hex>.<jwt>"));
}

TEST(PreflightCloud, WrongCaHashSaysTheTokenIsForAnotherCloud) {
    CloudProbe probe;
    probe.base_url = "https://127.0.0.1:10002";
    probe.ca = Error(errc::unauthorized, "GET /ca.crt: the CA's sha256 abc is not the token's def");
    auto r = check_cloud_reachable(probe);
    EXPECT_FALSE(r.ok);
    EXPECT_THAT(r.message, HasSubstr("not the one the token names"));
    EXPECT_THAT(r.message, HasSubstr("keadm gettoken"));
}

class PreflightWithCa : public ::testing::Test {
protected:
    void SetUp() override {
        auto pki = kedge::test::make_test_pki(dir_.path());
        auto ca = pki::Certificate::from_pem(kedge::test::read_file(pki.ca_cert));
        ASSERT_TRUE(ca) << ca.error().message();
        probe_.base_url = "https://127.0.0.1:10002";
        probe_.ca = *ca;
    }
    TempDir dir_;
    CloudProbe probe_;
};

TEST_F(PreflightWithCa, RegisteredNodeNameFailsUnlessForced) {
    probe_.node_registered = Result<bool>(false);
    EXPECT_TRUE(check_cloud_reachable(probe_).ok);
    EXPECT_TRUE(check_node_name(probe_, "edge-1", false).ok);

    probe_.node_registered = Result<bool>(true);
    auto r = check_node_name(probe_, "edge-1", false);
    EXPECT_FALSE(r.ok);
    EXPECT_THAT(r.message, HasSubstr("node edge-1 is already registered"));
    EXPECT_THAT(r.message, HasSubstr("kubectl delete node edge-1"));
    EXPECT_THAT(r.message, HasSubstr("--edgenode-name"));
    EXPECT_TRUE(check_node_name(probe_, "edge-1", true).ok);

    probe_.node_registered = Result<bool>(Error(errc::unavailable, "HTTP 503 lookup down"));
    r = check_node_name(probe_, "edge-1", false);
    EXPECT_FALSE(r.ok);
    EXPECT_THAT(r.message, HasSubstr("HTTP 503 lookup down"));
}

TEST_F(PreflightWithCa, ClockSkewAgainstTheDateHeaderSaysByHowMuch) {
    auto cloud_now = probe_.ca->not_before() + 24h;
    probe_.server_date = cloud_now;
    EXPECT_TRUE(check_clock_skew(probe_, cloud_now + 4min).ok);

    auto r = check_clock_skew(probe_, cloud_now + 7min + 12s);
    EXPECT_FALSE(r.ok);
    EXPECT_EQ(r.name, "clock");
    EXPECT_THAT(r.message, HasSubstr("7m 12s ahead of the cloud's"));

    r = check_clock_skew(probe_, cloud_now - 2h - 1min);
    EXPECT_FALSE(r.ok);
    EXPECT_THAT(r.message, HasSubstr("2h 1m behind"));
}

TEST_F(PreflightWithCa, ClockBehindTheCaNotBeforeFailsWithoutADateHeader) {
    const auto& ca = *probe_.ca;
    EXPECT_TRUE(check_clock_skew(probe_, ca.not_before() + 1h).ok);
    auto r = check_clock_skew(probe_, ca.not_before() - 3h);
    EXPECT_FALSE(r.ok);
    EXPECT_THAT(r.message, HasSubstr("at least 3h 0m behind"));
    r = check_clock_skew(probe_, ca.not_after() + 48h);
    EXPECT_FALSE(r.ok);
    EXPECT_THAT(r.message, HasSubstr("past the cloud CA's expiry"));
}

TEST(PreflightCloud, HttpDates) {
    auto t = parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT");
    ASSERT_TRUE(t);
    EXPECT_EQ(std::chrono::duration_cast<std::chrono::seconds>(t->time_since_epoch()).count(),
              784111777);
    EXPECT_FALSE(parse_http_date("yesterday"));
    EXPECT_FALSE(parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT trailing"));
}

TEST(PreflightResources, CpuMemoryDisk) {
    EXPECT_EQ(format_check(check_cpu(2), "check"), "[check] cpu: OK 2 cores");
    EXPECT_FALSE(check_cpu(1, 2).ok);

    TempDir dir;
    write_file(dir.file("meminfo"),
               "MemTotal:        4194304 kB\nMemFree:          100000 kB\n"
               "MemAvailable:    2097152 kB\n");
    auto m = check_memory(dir.file("meminfo"));
    EXPECT_TRUE(m.ok) << m.message;
    EXPECT_EQ(m.message, "2.0 GiB available of 4.0 GiB");
    m = check_memory(dir.file("meminfo"), 3ull << 30);
    EXPECT_FALSE(m.ok);
    EXPECT_THAT(m.message, HasSubstr("at least 3.0 GiB"));
    EXPECT_FALSE(check_memory(dir.file("missing")).ok);

    // A path that does not exist yet is judged by its nearest existing parent.
    auto d = check_disk(dir.file("root/not/yet"), 1);
    EXPECT_TRUE(d.ok) << d.message;
    EXPECT_THAT(d.message, HasSubstr("free under " + dir.path()));
    d = check_disk(dir.path(), ~0ull);
    EXPECT_FALSE(d.ok);
    EXPECT_THAT(d.message, HasSubstr("needed"));
}

TEST(PreflightResources, TcpReachable) {
    LocalListener listener;
    auto r = check_tcp_reachable("network", "127.0.0.1:" + std::to_string(listener.port()), 2s);
    EXPECT_TRUE(r.ok) << r.message;
    int free = kedge::test::free_port();
    r = check_tcp_reachable("network", "127.0.0.1:" + std::to_string(free), 2s);
    EXPECT_FALSE(r.ok);
    EXPECT_THAT(r.message, HasSubstr("does not accept connections"));
    EXPECT_FALSE(check_tcp_reachable("network", "nonsense", 1s).ok);
}

TEST(PreflightUrls, PortsAndLocality) {
    EXPECT_EQ(url_port("tcp://127.0.0.1:1883"), 1883);
    EXPECT_EQ(url_port("tcp://[::1]:1884"), 1884);
    EXPECT_FALSE(url_port("tcp://broker"));
    EXPECT_TRUE(url_is_local("tcp://127.0.0.1:1883"));
    EXPECT_TRUE(url_is_local("tcp://localhost:1883"));
    EXPECT_FALSE(url_is_local("tcp://10.0.0.5:1883"));
}

}  // namespace
}  // namespace kedge::keadm
