// The kubelet-compatible read-only server over a temp pod log dir in the CRI format, on a free
// loopback port, talked to with our HTTP client.
#include "edge/edged/kubelet_server.hpp"

#include <gtest/gtest.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/json.hpp>

#include <filesystem>
#include <fstream>
#include <optional>
#include <thread>

#include "kube/time.hpp"
#include "net/http_client.hpp"
#include "support/coro.hpp"
#include "support/test_support.hpp"

namespace kedge::edge {
namespace {

namespace asio = boost::asio;
namespace json = boost::json;
namespace fs = std::filesystem;
using std::chrono::seconds;

using kedge::test::IoThread;

std::string cri(const std::string& ts, const std::string& tag, const std::string& text,
                const std::string& stream = "stdout") {
    return ts + " " + stream + " " + tag + " " + text + "\n";
}

constexpr const char* kOld = "2024-05-01T10:00:00.000000001Z";
constexpr const char* kOld2 = "2024-05-01T10:00:01.25Z";

std::string pod_json(const std::string& ns, const std::string& name, const std::string& uid) {
    json::object pod{
        {"apiVersion", "v1"},
        {"kind", "Pod"},
        {"metadata", {{"name", name}, {"namespace", ns}, {"uid", uid}}},
        {"spec", {{"nodeName", "edge1"}, {"containers", json::array{{{"name", "app"}}}}}},
        {"status",
         {{"phase", "Running"},
          {"startTime", "2024-05-01T10:00:00Z"},
          {"containerStatuses",
           json::array{{{"name", "app"},
                        {"state", {{"running", {{"startedAt", "2024-05-01T10:00:01Z"}}}}}}}}}}};
    return json::serialize(pod);
}

// A streamed response read line by line, each read with a deadline.
class LineReader {
public:
    LineReader(IoThread& io, std::unique_ptr<net::HttpStream> s) : io_(io), s_(std::move(s)) {}
    ~LineReader() { close(); }
    int status() const { return s_->status(); }
    // The next line; nullopt at the end of the body (ended() true) or after `wait`.
    std::optional<std::string> next(std::chrono::milliseconds wait = seconds(10)) {
        auto r = io_.run(read(s_.get(), wait));
        ended_ = r.second;
        return r.first;
    }
    bool ended() const { return ended_; }
    void close() {
        if (!s_) return;
        io_.run(close_on_loop(s_.get()));
        s_.reset();
    }

private:
    static asio::awaitable<std::pair<std::optional<std::string>, bool>> read(
        net::HttpStream* s, std::chrono::milliseconds wait) {
        using namespace asio::experimental::awaitable_operators;
        using R = std::pair<std::optional<std::string>, bool>;
        asio::steady_timer timer(co_await asio::this_coro::executor, wait);
        auto r = co_await (s->read_line() || timer.async_wait(asio::as_tuple(asio::use_awaitable)));
        if (r.index() == 1) co_return R(std::nullopt, false);
        auto& line = std::get<0>(r);
        if (!line || !*line) co_return R(std::nullopt, true);
        co_return R(**line, false);
    }
    static asio::awaitable<int> close_on_loop(net::HttpStream* s) {
        s->close();
        co_return 0;
    }

    IoThread& io_;
    std::unique_ptr<net::HttpStream> s_;
    bool ended_ = false;
};

class KubeletServerTest : public ::testing::Test {
protected:
    void SetUp() override {
        root_ = fs::path(dir_.path()) / "pods";
        fs::create_directories(root_);
        KubeletServerOptions o;
        o.port = 0;
        o.pod_logs_root = root_;
        o.node_name = "edge1";
        o.root_dir = fs::path(dir_.path()) / "kubelet";  // absent: its filesystem is reported
        o.follow_poll = std::chrono::milliseconds(50);
        auto s = KubeletServer::start(io_.executor(), o, [this] {
            std::lock_guard lock(pods_mu_);
            return pods_;
        });
        ASSERT_TRUE(s) << s.error().message();
        server_ = *s;
        net::HttpClientOptions co;
        co.base_url = "http://127.0.0.1:" + std::to_string(server_->port());
        client_ = std::make_unique<net::HttpClient>(io_.executor(), co);
    }
    void TearDown() override {
        if (server_) server_->stop();
        client_.reset();
        server_.reset();
    }

    // Appends CRI lines to <root>/<ns>_<pod>_<uid>/<container>/<restart>.log.
    fs::path write_log(const std::string& ns, const std::string& pod, const std::string& uid,
                       const std::string& container, int restart, const std::string& content) {
        fs::path dir = root_ / (ns + "_" + pod + "_" + uid) / container;
        fs::create_directories(dir);
        fs::path file = dir / (std::to_string(restart) + ".log");
        std::ofstream out(file, std::ios::binary | std::ios::app);
        out << content;
        return file;
    }

    net::HttpResponse request(std::string target, std::string method = "GET") {
        net::HttpRequestSpec spec;
        spec.method = std::move(method);
        spec.target = std::move(target);
        auto r = io_.run(client_->request(std::move(spec)));
        if (!r) throw std::runtime_error("request failed: " + r.error().message());
        return std::move(*r);
    }
    std::string logs(const std::string& target) {
        auto r = request(target);
        EXPECT_EQ(r.status, 200) << target << ": " << r.body;
        return r.body;
    }
    LineReader stream(std::string target) {
        net::HttpRequestSpec spec;
        spec.target = std::move(target);
        auto s = io_.run(client_->stream(std::move(spec)));
        if (!s) throw std::runtime_error("stream failed: " + s.error().message());
        return LineReader(io_, std::move(*s));
    }

    kedge::test::TempDir dir_;
    fs::path root_;
    std::mutex pods_mu_;
    std::vector<std::string> pods_;
    IoThread io_;
    std::shared_ptr<KubeletServer> server_;
    std::unique_ptr<net::HttpClient> client_;
};

const std::string kWebLog = cri(kOld, "F", "one") + cri(kOld, "P", "tw", "stderr") +
                            cri(kOld2, "F", "o", "stderr") + "not a cri line\n" +
                            cri(kOld2, "F", "three");

TEST_F(KubeletServerTest, HealthzIsOk) {
    auto r = request("/healthz");
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.body, "ok");
    EXPECT_EQ(request("/healthz", "POST").status, 405);
}

TEST_F(KubeletServerTest, ContainerLogsReturnTheTextOfTheCurrentInstance) {
    write_log("default", "web", "uid-1", "app", 0, kWebLog);
    auto r = request("/containerLogs/default/web/app");
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.body, "one\ntwo\nthree\n");
    EXPECT_NE(r.header("Content-Type").value_or("").find("text/plain"), std::string::npos);
}

TEST_F(KubeletServerTest, TimestampsPrefixTheRfc3339NanoTime) {
    write_log("default", "web", "uid-1", "app", 0, kWebLog);
    EXPECT_EQ(logs("/containerLogs/default/web/app?timestamps=true"),
              std::string(kOld) + " one\n" + kOld + " two\n" + kOld2 + " three\n");
    // Kubernetes query booleans: "0"/"false" are false.
    EXPECT_EQ(logs("/containerLogs/default/web/app?timestamps=false"), "one\ntwo\nthree\n");
}

TEST_F(KubeletServerTest, TailLinesCountsLogicalLines) {
    write_log("default", "web", "uid-1", "app", 0, kWebLog);
    EXPECT_EQ(logs("/containerLogs/default/web/app?tailLines=1"), "three\n");
    EXPECT_EQ(logs("/containerLogs/default/web/app?tailLines=2"), "two\nthree\n");
    EXPECT_EQ(logs("/containerLogs/default/web/app?tailLines=0"), "");
    EXPECT_EQ(logs("/containerLogs/default/web/app?tailLines=99"), "one\ntwo\nthree\n");
    // The kubelet's older spelling.
    EXPECT_EQ(logs("/containerLogs/default/web/app?tail=1"), "three\n");
    EXPECT_EQ(logs("/containerLogs/default/web/app?tail=all"), "one\ntwo\nthree\n");
}

TEST_F(KubeletServerTest, PreviousReadsTheInstanceBefore) {
    write_log("default", "web", "uid-1", "app", 0, cri(kOld, "F", "first run"));
    write_log("default", "web", "uid-1", "app", 1, cri(kOld, "F", "second run"));
    write_log("default", "web", "uid-1", "app", 2, cri(kOld2, "F", "third run"));
    EXPECT_EQ(logs("/containerLogs/default/web/app"), "third run\n");
    EXPECT_EQ(logs("/containerLogs/default/web/app?previous=true"), "second run\n");

    write_log("default", "single", "uid-2", "app", 0, cri(kOld, "F", "only"));
    auto r = request("/containerLogs/default/single/app?previous=true");
    EXPECT_EQ(r.status, 400);
    EXPECT_EQ(r.body, R"(previous terminated container "app" in pod "single" not found)");
}

TEST_F(KubeletServerTest, SinceSecondsSkipsOlderLines) {
    auto now = SystemClock::instance().now();
    write_log("default", "web", "uid-1", "app", 0,
              cri(kube::format_micro_time(now - std::chrono::hours(2)), "F", "old") +
                  cri(kube::format_micro_time(now - std::chrono::minutes(30)), "F", "recent") +
                  cri(kube::format_micro_time(now), "F", "now"));
    EXPECT_EQ(logs("/containerLogs/default/web/app?sinceSeconds=3600"), "recent\nnow\n");
    EXPECT_EQ(logs("/containerLogs/default/web/app?sinceSeconds=60"), "now\n");
    EXPECT_EQ(logs("/containerLogs/default/web/app?sinceTime=" +
                   kube::format_time(now - std::chrono::hours(1))),
              "recent\nnow\n");
}

TEST_F(KubeletServerTest, LimitBytesCutsTheOutput) {
    write_log("default", "web", "uid-1", "app", 0, kWebLog);
    EXPECT_EQ(logs("/containerLogs/default/web/app?limitBytes=6"), "one\ntw");
    EXPECT_EQ(logs("/containerLogs/default/web/app?limitBytes=1000"), "one\ntwo\nthree\n");
}

TEST_F(KubeletServerTest, UnknownPodOrContainerIs404) {
    write_log("default", "web", "uid-1", "app", 0, kWebLog);
    auto pod = request("/containerLogs/default/nope/app");
    EXPECT_EQ(pod.status, 404);
    EXPECT_EQ(pod.body, R"(pod "nope" does not exist)");
    auto other_ns = request("/containerLogs/kube-system/web/app");
    EXPECT_EQ(other_ns.status, 404);
    auto container = request("/containerLogs/default/web/sidecar");
    EXPECT_EQ(container.status, 404);
    EXPECT_EQ(container.body, R"(container "sidecar" not found in pod "web")");
    EXPECT_EQ(request("/containerLogs/default/web").status, 404);
}

TEST_F(KubeletServerTest, BadQueriesGetTheKubeletsAnswers) {
    write_log("default", "web", "uid-1", "app", 0, kWebLog);
    for (const char* q : {"tailLines=abc", "limitBytes=1x", "sinceTime=yesterday", "tail=x"}) {
        auto r = request(std::string("/containerLogs/default/web/app?") + q);
        EXPECT_EQ(r.status, 400) << q;
        EXPECT_EQ(r.body, R"({"message": "Unable to decode query."})") << q;
    }
    for (const char* q : {"tailLines=-1", "limitBytes=0", "sinceSeconds=0",
                          "sinceSeconds=5&sinceTime=2024-05-01T10:00:00Z"}) {
        auto r = request(std::string("/containerLogs/default/web/app?") + q);
        EXPECT_EQ(r.status, 422) << q;
        EXPECT_EQ(r.body, R"({"message": "Invalid request."})") << q;
    }
}

TEST_F(KubeletServerTest, SeveralUidsUseTheNewestDirectory) {
    write_log("default", "web", "uid-old", "app", 0, cri(kOld, "F", "old pod"));
    fs::last_write_time(root_ / "default_web_uid-old",
                        fs::file_time_type::clock::now() - std::chrono::hours(1));
    write_log("default", "web", "uid-new", "app", 0, cri(kOld, "F", "new pod"));
    EXPECT_EQ(logs("/containerLogs/default/web/app"), "new pod\n");
}

TEST_F(KubeletServerTest, FollowStreamsAppendedLinesUntilTheClientLeaves) {
    auto file = write_log("default", "web", "uid-1", "app", 0, kWebLog);
    auto s = stream("/containerLogs/default/web/app?follow=true&tailLines=1");
    ASSERT_EQ(s.status(), 200);
    EXPECT_EQ(s.next(), "three");
    {
        std::ofstream out(file, std::ios::binary | std::ios::app);
        out << cri(kOld2, "F", "four") << cri(kOld2, "P", "fi") << std::flush;
        // A line still being written is not sent half-way.
        out << kOld2 << " stdout F v" << std::flush;
    }
    EXPECT_EQ(s.next(), "four");
    {
        std::ofstream out(file, std::ios::binary | std::ios::app);
        out << "e\n";
    }
    EXPECT_EQ(s.next(), "five");
    EXPECT_EQ(server_->active_log_streams(), 1u);
    s.close();
    EXPECT_TRUE(kedge::test::wait_until([&] { return server_->active_log_streams() == 0; }))
        << "the follow stream did not notice the client left";
}

TEST_F(KubeletServerTest, FollowEndsWhenTheContainerRestarted) {
    auto file = write_log("default", "web", "uid-1", "app", 0, cri(kOld, "F", "run 0"));
    auto s = stream("/containerLogs/default/web/app?follow=true");
    EXPECT_EQ(s.next(), "run 0");
    {
        std::ofstream out(file, std::ios::binary | std::ios::app);
        out << cri(kOld, "F", "last words");
    }
    write_log("default", "web", "uid-1", "app", 1, cri(kOld2, "F", "run 1"));
    EXPECT_EQ(s.next(), "last words");
    EXPECT_EQ(s.next(), std::nullopt);
    EXPECT_TRUE(s.ended());
}

TEST_F(KubeletServerTest, StopEndsFollowStreams) {
    write_log("default", "web", "uid-1", "app", 0, cri(kOld, "F", "hello"));
    auto s = stream("/containerLogs/default/web/app?follow=1");
    EXPECT_EQ(s.next(), "hello");
    server_->stop();
    EXPECT_EQ(s.next(), std::nullopt);
    EXPECT_TRUE(s.ended());
    EXPECT_TRUE(kedge::test::wait_until([&] { return server_->active_log_streams() == 0; }));
}

TEST_F(KubeletServerTest, PodsListsTheNodesPods) {
    {
        std::lock_guard lock(pods_mu_);
        pods_ = {pod_json("default", "web", "uid-1"), "{broken", pod_json("shop", "db", "uid-2")};
    }
    auto r = request("/pods");
    ASSERT_EQ(r.status, 200);
    EXPECT_NE(r.header("Content-Type").value_or("").find("application/json"), std::string::npos);
    auto list = json::parse(r.body).as_object();
    EXPECT_EQ(list.at("kind"), "PodList");
    EXPECT_EQ(list.at("apiVersion"), "v1");
    const auto& items = list.at("items").as_array();
    ASSERT_EQ(items.size(), 2u);
    EXPECT_EQ(items[0].at("metadata").at("name"), "web");
    EXPECT_EQ(items[1].at("metadata").at("namespace"), "shop");
    EXPECT_EQ(items[1].at("spec").at("nodeName"), "edge1");
}

TEST_F(KubeletServerTest, StatsSummaryHasTheNodeAndPods) {
    {
        std::lock_guard lock(pods_mu_);
        pods_ = {pod_json("default", "web", "uid-1")};
    }
    auto r = request("/stats/summary");
    ASSERT_EQ(r.status, 200) << r.body;
    auto sum = json::parse(r.body).as_object();
    const auto& node = sum.at("node").as_object();
    EXPECT_EQ(node.at("nodeName"), "edge1");
    EXPECT_TRUE(kube::parse_time(node.at("startTime").as_string()));
    const auto& cpu = node.at("cpu").as_object();
    EXPECT_TRUE(kube::parse_time(cpu.at("time").as_string()));
    EXPECT_GT(cpu.at("usageCoreNanoSeconds").to_number<std::uint64_t>(), 0u);
    EXPECT_TRUE(cpu.contains("usageNanoCores"));  // measured against the start-up sample
    const auto& mem = node.at("memory").as_object();
    auto available = mem.at("availableBytes").to_number<std::uint64_t>();
    auto working = mem.at("workingSetBytes").to_number<std::uint64_t>();
    auto usage = mem.at("usageBytes").to_number<std::uint64_t>();
    EXPECT_GT(available, 0u);
    EXPECT_GT(working, 0u);
    EXPECT_GE(usage, working);
    const auto& fsys = node.at("fs").as_object();
    auto capacity = fsys.at("capacityBytes").to_number<std::uint64_t>();
    EXPECT_GT(capacity, 0u);
    EXPECT_LE(fsys.at("availableBytes").to_number<std::uint64_t>(), capacity);
    EXPECT_LE(fsys.at("usedBytes").to_number<std::uint64_t>(), capacity);
    EXPECT_GT(fsys.at("inodes").to_number<std::uint64_t>(), 0u);

    const auto& pods = sum.at("pods").as_array();
    ASSERT_EQ(pods.size(), 1u);
    const auto& ref = pods[0].at("podRef").as_object();
    EXPECT_EQ(ref.at("name"), "web");
    EXPECT_EQ(ref.at("namespace"), "default");
    EXPECT_EQ(ref.at("uid"), "uid-1");
    EXPECT_EQ(pods[0].at("startTime"), "2024-05-01T10:00:00Z");
    EXPECT_EQ(pods[0].at("containers").as_array().at(0).at("name"), "app");
}

TEST_F(KubeletServerTest, AListerThatThrowsIs500) {
    server_->stop();
    KubeletServerOptions o;
    o.port = 0;
    o.pod_logs_root = root_;
    auto s = KubeletServer::start(io_.executor(), o, []() -> std::vector<std::string> {
        throw std::runtime_error("store closed");
    });
    ASSERT_TRUE(s);
    server_ = *s;
    net::HttpClientOptions co;
    co.base_url = "http://127.0.0.1:" + std::to_string(server_->port());
    client_ = std::make_unique<net::HttpClient>(io_.executor(), co);
    auto r = request("/pods");
    EXPECT_EQ(r.status, 500);
    EXPECT_NE(r.body.find("store closed"), std::string::npos);
}

TEST_F(KubeletServerTest, ATakenPortIsAnError) {
    KubeletServerOptions o;
    o.port = server_->port();
    auto s = KubeletServer::start(io_.executor(), o, {});
    ASSERT_FALSE(s);
    EXPECT_TRUE(s.error().is(errc::unavailable));
}

}  // namespace
}  // namespace kedge::edge
