#include "keadm/edge_health.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/json/parse.hpp>

#include <thread>

#include "keadm/common.hpp"
#include "keadm/process.hpp"
#include "keadm/run_sync.hpp"
#include "net/host_port.hpp"
#include "net/http_client.hpp"

namespace kedge::keadm {

namespace asio = boost::asio;
namespace json = boost::json;
using namespace std::chrono_literals;

namespace {

// A listener's address as a client on this host reaches it.
std::string loopback_of(const std::string& bind) {
    auto hp = net::split_host_port(bind);
    if (!hp) return bind;
    std::string host = hp->first == "0.0.0.0" ? "127.0.0.1" : hp->first == "::" ? "[::1]" : hp->first;
    if (host.find(':') != std::string::npos && host.front() != '[') host = "[" + host + "]";
    return host + ":" + std::to_string(hp->second);
}

asio::awaitable<Result<net::HttpResponse>> get(asio::any_io_executor ex, std::string base,
                                               std::string target) {
    net::HttpClientOptions o;
    o.base_url = "http://" + base;
    o.connect_timeout = 2s;
    o.request_timeout = 2s;
    net::HttpClient client(ex, o);
    net::HttpRequestSpec spec;
    spec.target = std::move(target);
    co_return co_await client.request(std::move(spec));
}

asio::awaitable<Result<EdgeState>> look(asio::any_io_executor ex, std::string monitor,
                                        std::string meta, std::string node) {
    EdgeState state;
    auto r = co_await get(ex, monitor, "/readyz");
    state.connected = r && r->status == 200;
    if (meta.empty()) co_return state;
    auto n = co_await get(ex, meta, "/api/v1/nodes/" + node);
    if (!n || n->status != 200) co_return state;
    boost::system::error_code ec;
    auto v = json::parse(n->body, ec);
    if (ec || !v.is_object()) co_return state;
    const auto* status = v.as_object().if_contains("status");
    const auto* conds =
        status && status->is_object() ? status->as_object().if_contains("conditions") : nullptr;
    if (!conds || !conds->is_array()) co_return state;
    for (const auto& c : conds->as_array()) {
        if (!c.is_object()) continue;
        const auto* type = c.as_object().if_contains("type");
        const auto* st = c.as_object().if_contains("status");
        if (type && type->is_string() && type->as_string() == "Ready" && st && st->is_string())
            state.ready = std::string(st->as_string());
    }
    co_return state;
}

std::string meta_address(const edge::EdgeCoreConfig& cfg) {
    return cfg.modules.meta_manager.meta_server.enable
               ? loopback_of(cfg.modules.meta_manager.meta_server.server)
               : std::string();
}

}  // namespace

EdgeState look_at_edge(const edge::EdgeCoreConfig& cfg, const std::string& node) {
    asio::io_context ioc;
    auto state = run_blocking(
        ioc, look(ioc.get_executor(), loopback_of(cfg.kedge.monitor_server.bind_address),
                  meta_address(cfg), node),
        5s);
    return state ? *state : EdgeState{};
}

Result<std::string> wait_edge_ready(const Layout& layout, const edge::EdgeCoreConfig& cfg,
                                    const std::string& node, std::chrono::seconds limit) {
    const auto pid_file = layout.pid_file("edgecore");
    const auto log_file = layout.log_file("edgecore");
    const bool meta_on = !meta_address(cfg).empty();
    auto first_child = running_child(pid_file);
    auto deadline = std::chrono::steady_clock::now() + limit;
    EdgeState last;
    for (;;) {
        auto child = running_child(pid_file);
        if (!is_running(pid_file) || (first_child && child != first_child))
            return Error(errc::unavailable,
                         "edgecore exited (its supervisor restarts it, but that means it cannot "
                         "run as configured)\n" +
                             log_tail_lines(log_file));
        last = look_at_edge(cfg, node);
        if (last.connected && (!meta_on || last.ready == "True")) break;
        if (std::chrono::steady_clock::now() >= deadline)
            return Error(errc::timeout,
                         "not Ready after " + std::to_string(limit.count()) +
                             " s: connected to the cloud: " + (last.connected ? "yes" : "no") +
                             ", node Ready condition: " +
                             (last.ready.empty() ? "not reported yet" : last.ready) +
                             "; edgecore keeps running (see " + log_file.string() + ")\n" +
                             log_tail_lines(log_file));
        std::this_thread::sleep_for(250ms);
    }
    return std::string(meta_on ? "connected, Ready"
                               : "connected (the meta server is off, so Ready was not read)");
}

}  // namespace kedge::keadm
