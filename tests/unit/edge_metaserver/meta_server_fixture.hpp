#pragma once
// A MetaStore in a TempDir with the MetaServer on a free loopback port, an io_context on a
// background thread (the server never runs out of work, so run_coro does not fit), an HTTP
// client, and object builders. Shared by the unit and integration tests of the meta server.

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

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "edge/metaserver/meta_server.hpp"
#include "edge/metastore/meta_store.hpp"
#include "net/http_client.hpp"
#include "support/coro.hpp"
#include "support/test_support.hpp"

namespace kedge::edge::test {

namespace asio = boost::asio;
namespace json = boost::json;

using kedge::test::IoThread;

// A Pod as the cloud sends it.
inline std::string pod_json(const std::string& ns, const std::string& name, int rv,
                            const std::map<std::string, std::string>& labels = {},
                            const std::string& node = "edge1",
                            const std::string& phase = "Running") {
    json::object l;
    for (const auto& [k, v] : labels) l[k] = v;
    json::object pod{
        {"apiVersion", "v1"},
        {"kind", "Pod"},
        {"metadata",
         {{"name", name},
          {"namespace", ns},
          {"uid", "uid-" + ns + "-" + name},
          {"resourceVersion", std::to_string(rv)},
          {"creationTimestamp", "2024-01-01T00:00:00Z"},
          {"labels", l}}},
        {"spec",
         {{"nodeName", node},
          {"containers", json::array{json::object{{"name", "c"}, {"image", "busybox"}}}}}},
        {"status", {{"phase", phase}}}};
    return json::serialize(pod);
}

// One parsed watch event.
struct WatchEvent {
    std::string type;
    json::object object;
};

// A watch stream read line by line with a deadline per read.
class WatchReader {
public:
    WatchReader(IoThread& io, std::unique_ptr<net::HttpStream> stream)
        : io_(io), stream_(std::move(stream)) {}
    ~WatchReader() {
        if (stream_) close();
    }
    int status() const { return stream_->status(); }
    // The next event; nullopt at the end of the stream or when none came within `wait` (which
    // closes the stream: an interrupted read leaves it unusable).
    std::optional<WatchEvent> next(std::chrono::milliseconds wait = std::chrono::seconds(10)) {
        auto line = io_.run(read_line(stream_.get(), wait));
        ended_ = line.second;
        if (!line.first) return std::nullopt;
        auto v = json::parse(*line.first);
        return WatchEvent{std::string(v.at("type").as_string()), v.at("object").as_object()};
    }
    // True when the server ended the stream (not just a read timeout).
    bool ended() const { return ended_; }
    void close() {
        io_.run(close_on_loop(stream_.get()));
        stream_.reset();
    }

private:
    // {line, ended}
    static asio::awaitable<std::pair<std::optional<std::string>, bool>> read_line(
        net::HttpStream* s, std::chrono::milliseconds wait) {
        using namespace asio::experimental::awaitable_operators;
        asio::steady_timer timer(co_await asio::this_coro::executor, wait);
        auto r = co_await (s->read_line() || timer.async_wait(asio::as_tuple(asio::use_awaitable)));
        if (r.index() == 1) {
            s->close();
            co_return std::pair<std::optional<std::string>, bool>{std::nullopt, false};
        }
        auto& line = std::get<0>(r);
        if (!line || !*line)
            co_return std::pair<std::optional<std::string>, bool>{std::nullopt, true};
        co_return std::pair<std::optional<std::string>, bool>{**line, false};
    }
    static asio::awaitable<int> close_on_loop(net::HttpStream* s) {
        s->close();
        co_return 0;
    }

    IoThread& io_;
    std::unique_ptr<net::HttpStream> stream_;
    bool ended_ = false;
};

class MetaServerFixture : public ::testing::Test {
protected:
    void open_store(MetaStoreOptions o = {}) {
        auto s = MetaStore::open(dir_.file("edge.db"), o);
        ASSERT_TRUE(s) << s.error().message();
        store_ = *s;
    }
    void start(RemoteWriter writer = {}, MetaServerOptions o = {}) {
        if (!store_) open_store();
        o.port = 0;
        auto s = MetaServer::start(io_.executor(), store_, std::move(writer), o);
        ASSERT_TRUE(s) << s.error().message();
        server_ = *s;
        net::HttpClientOptions co;
        co.base_url = base_url();
        client_ = std::make_unique<net::HttpClient>(io_.executor(), co);
    }
    void TearDown() override {
        if (server_) server_->stop();
        client_.reset();
        server_.reset();
    }
    std::string base_url() const { return "http://127.0.0.1:" + std::to_string(server_->port()); }

    void apply(std::vector<MetaWrite> writes) {
        if (!store_) open_store();
        auto r = store_->apply(writes);
        ASSERT_TRUE(r) << r.error().message();
    }
    void put(const std::string& key, std::string object) {
        apply({MetaWrite{MetaWrite::Op::put, MetaKey::parse(key).value(), std::move(object)}});
    }
    void remove(const std::string& key) {
        apply({MetaWrite{MetaWrite::Op::remove, MetaKey::parse(key).value(), {}}});
    }

    net::HttpResponse request(std::string method, std::string target, std::string body = {},
                              net::HttpHeaders headers = {}) {
        net::HttpRequestSpec spec;
        spec.method = std::move(method);
        spec.target = std::move(target);
        spec.body = std::move(body);
        spec.headers = std::move(headers);
        auto r = io_.run(client_->request(std::move(spec)));
        if (!r) throw std::runtime_error("request failed: " + r.error().message());
        return std::move(*r);
    }
    net::HttpResponse get(std::string target) { return request("GET", std::move(target)); }
    // GET that must answer 200 with JSON.
    json::object get_json(const std::string& target) {
        auto r = get(target);
        EXPECT_EQ(r.status, 200) << target << ": " << r.body;
        return json::parse(r.body).as_object();
    }
    WatchReader watch(std::string target) {
        net::HttpRequestSpec spec;
        spec.target = std::move(target);
        auto s = io_.run(client_->stream(std::move(spec)));
        if (!s) throw std::runtime_error("watch failed: " + s.error().message());
        return WatchReader(io_, std::move(*s));
    }

    kedge::test::TempDir dir_;
    IoThread io_;
    std::shared_ptr<MetaStore> store_;
    std::shared_ptr<MetaServer> server_;
    std::unique_ptr<net::HttpClient> client_;
};

}  // namespace kedge::edge::test
