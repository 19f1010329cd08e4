#include "edge/metaserver/meta_server.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>

#include <atomic>
#include <deque>
#include <map>
#include <mutex>
#include <random>

#include "base/log.hpp"
#include "edge/metaserver/api_path.hpp"
#include "edge/metaserver/list_query.hpp"
#include "edge/metaserver/resources.hpp"
#include "edge/metaserver/table.hpp"
#include "edge/metaserver/watch_events.hpp"
#include "kube/object.hpp"
#include "kube/status.hpp"
#include "net/http_server.hpp"
#include "net/run_blocking.hpp"

namespace kedge::edge {
namespace asio = boost::asio;
namespace json = boost::json;
using asio::awaitable;
using asio::use_awaitable;
using metaserver::ApiPath;
using metaserver::ApiResource;
using metaserver::ListOptions;
using metaserver::ObjectFilter;

namespace {

using net::run_blocking;

kube::Status not_found_resource() {
    kube::Status s;
    s.code = 404;
    s.reason = "NotFound";
    s.message = "the server could not find the requested resource";
    return s;
}

std::string version_json(const std::string& git_version) {
    // "v1.30.0-kedge" -> major 1, minor 30.
    std::string major = "1", minor = "0";
    auto dot1 = git_version.find('.');
    if (dot1 != std::string::npos && dot1 > 1) {
        auto dot2 = git_version.find('.', dot1 + 1);
        major = git_version.substr(1, dot1 - 1);
        minor = git_version.substr(dot1 + 1,
                                   dot2 == std::string::npos ? std::string::npos : dot2 - dot1 - 1);
    }
    json::object v{
        {"major", major},       {"minor", minor},          {"gitVersion", git_version},
        {"gitCommit", ""},      {"gitTreeState", "clean"}, {"buildDate", "1970-01-01T00:00:00Z"},
        {"goVersion", "c++20"}, {"compiler", "clang"},     {"platform", "linux/amd64"}};
    return json::serialize(v);
}

// The store's changes for one watch, handed from the thread that applied them to the watch's
// strand. Bounded: a watch that falls capacity changes behind is closed, never buffered further.
struct WatchQueue : std::enable_shared_from_this<WatchQueue> {
    WatchQueue(asio::any_io_executor ex, std::size_t cap) : timer(std::move(ex)), capacity(cap) {}

    void push(const std::vector<MetaChange>& cs) {
        {
            std::lock_guard lock(mu);
            if (overflow) return;
            if (changes.size() + cs.size() > capacity) {
                overflow = true;
                changes.clear();
            } else {
                changes.insert(changes.end(), cs.begin(), cs.end());
            }
        }
        if (!wake_pending.exchange(true))
            asio::post(timer.get_executor(), [self = shared_from_this()] { self->timer.cancel(); });
    }
    std::deque<MetaChange> take(bool& overflowed) {
        wake_pending = false;
        std::lock_guard lock(mu);
        overflowed = overflow;
        return std::exchange(changes, {});
    }

    asio::steady_timer timer;  // the watch sleeps on it; a push cancels it
    const std::size_t capacity;
    std::atomic<bool> wake_pending{false};
    std::mutex mu;
    std::deque<MetaChange> changes;
    bool overflow = false;
};

}  // namespace

struct MetaServer::Impl {
    Impl(asio::any_io_executor e, std::shared_ptr<MetaStore> s, RemoteWriter w, MetaServerOptions o)
        : ex(std::move(e)),
          store(std::move(s)),
          writer(std::move(w)),
          options(std::move(o)),
          pool(std::max<std::size_t>(1, options.store_threads)) {}

    asio::any_io_executor ex;
    std::shared_ptr<MetaStore> store;
    RemoteWriter writer;
    MetaServerOptions options;
    asio::thread_pool pool;
    std::shared_ptr<net::HttpServer> http;
    std::shared_ptr<spdlog::logger> log = log::get("metaserver");
    std::atomic<bool> stopped{false};
    // Stored resources nothing is known about, described once from one of their objects.
    std::mutex described_mu;
    std::map<std::string, ApiResource> described;

    awaitable<void> handle(net::HttpRequest& req, net::HttpResponder& resp);
    awaitable<void> non_resource(net::HttpRequest& req, net::HttpResponder& resp);
    awaitable<void> resource(net::HttpRequest& req, net::HttpResponder& resp, ApiPath path);
    awaitable<void> get(net::HttpRequest& req, net::HttpResponder& resp, ApiResource res,
                        ApiPath path);
    awaitable<void> list(net::HttpRequest& req, net::HttpResponder& resp, ApiResource res,
                         ApiPath path, ListOptions opts);
    awaitable<void> watch(net::HttpRequest& req, net::HttpResponder& resp, ApiResource res,
                          ApiPath path, ListOptions opts);
    awaitable<void> write(net::HttpRequest& req, net::HttpResponder& resp, ApiResource res,
                          ApiPath path);

    // Blocking (store reads): run on the pool.
    ApiResource describe(const GroupVersionResource& gvr);
    Result<metaserver::ResourceCatalog> catalog();
    Result<std::optional<ApiResource>> resolve(const std::string& group, const std::string& version,
                                               const std::string& resource);
};

namespace {

awaitable<void> send_status(net::HttpResponder& resp, const kube::Status& s) {
    co_await resp.respond_json(s.code, s.to_json_string());
}

awaitable<void> dispatch(std::shared_ptr<MetaServer::Impl> self, net::HttpRequest& req,
                         net::HttpResponder& resp) {
    if (!self) {  // a request that raced the server's destruction
        co_await send_status(resp, kube::status_service_unavailable("the meta server is stopping"));
        co_return;
    }
    co_await self->handle(req, resp);
}

}  // namespace

ApiResource MetaServer::Impl::describe(const GroupVersionResource& gvr) {
    if (auto k = metaserver::find_known(gvr.group, gvr.version, gvr.resource)) return *k;
    {
        std::lock_guard lock(described_mu);
        if (auto it = described.find(gvr.str()); it != described.end()) return it->second;
    }
    std::string kind;
    bool namespaced = true;
    if (auto objects = store->list_gvr(gvr); objects && !objects->empty()) {
        const MetaObject& first = objects->front();
        namespaced = first.key.ns != "null";
        boost::system::error_code ec;
        auto v = json::parse(first.json, ec);
        if (!ec && v.is_object()) kind = std::string(kube::kind(v.as_object()));
    }
    auto res = metaserver::describe_unknown(gvr, kind, namespaced);
    std::lock_guard lock(described_mu);
    described.emplace(gvr.str(), res);
    return res;
}

Result<metaserver::ResourceCatalog> MetaServer::Impl::catalog() {
    auto stored = store->stored_gvrs();
    if (!stored) return stored.error();
    std::vector<ApiResource> resources;
    auto served = [&](const GroupVersionResource& gvr) {
        return std::any_of(resources.begin(), resources.end(),
                           [&](const ApiResource& r) { return r.gvr() == gvr; });
    };
    for (const auto& k : metaserver::known_resources())
        if (k.always) resources.push_back(k.resource);
    for (const auto& gvr : *stored)
        if (!served(gvr)) resources.push_back(describe(gvr));
    return metaserver::ResourceCatalog(std::move(resources));
}

Result<std::optional<ApiResource>> MetaServer::Impl::resolve(const std::string& group,
                                                             const std::string& version,
                                                             const std::string& resource) {
    if (auto k = metaserver::find_known(group, version, resource)) return k;
    auto stored = store->stored_gvrs();
    if (!stored) return stored.error();
    GroupVersionResource gvr{group.empty() ? "core" : group, version, resource};
    for (const auto& g : *stored)
        if (g == gvr) return std::optional<ApiResource>(describe(gvr));
    return std::optional<ApiResource>();
}

awaitable<void> MetaServer::Impl::handle(net::HttpRequest& req, net::HttpResponder& resp) {
    auto path =
        metaserver::parse_api_path(req.method, req.path, req.query_param("watch").value_or(""));
    if (!path) {
        co_await send_status(resp, not_found_resource());
        co_return;
    }
    log->debug("{} {} from {}", req.method, req.target, req.remote_address);
    if (path->is_resource) {
        co_await resource(req, resp, std::move(*path));
    } else {
        co_await non_resource(req, resp);
    }
}

awaitable<void> MetaServer::Impl::non_resource(net::HttpRequest& req, net::HttpResponder& resp) {
    std::string p = req.path;
    if (p.size() > 1 && p.back() == '/') p.pop_back();
    if (req.method != "GET" && req.method != "HEAD") {
        auto s = kube::status_method_not_allowed({}, req.method);
        co_await send_status(resp, s);
        co_return;
    }
    if (p == "/healthz" || p == "/livez" || p == "/readyz") {
        co_await resp.respond(200, "ok", "text/plain");
        co_return;
    }
    if (p == "/version") {
        co_await resp.respond_json(200, version_json(options.git_version));
        co_return;
    }
    if (p == "/openapi/v2") {
        // No schemas: an empty document makes kubectl skip client-side validation.
        std::string doc = R"({"swagger":"2.0","info":{"title":"kedge-edge","version":")" +
                          options.git_version + R"("},"paths":{},"definitions":{}})";
        co_await resp.respond_json(200, std::move(doc));
        co_return;
    }
    auto parsed = metaserver::parse_api_path("GET", p, "");
    if (!parsed || parsed->prefix.empty()) {
        co_await send_status(resp, not_found_resource());
        co_return;
    }
    auto cat = co_await run_blocking(pool, [this] { return catalog(); });
    if (!cat) {
        co_await send_status(resp, kube::status_internal_error(cat.error().detail));
        co_return;
    }
    std::optional<json::value> doc;
    if (parsed->prefix == "api") {
        if (parsed->version.empty())
            doc = cat->api_versions();
        else
            doc = cat->resource_list("", parsed->version);
    } else if (parsed->group.empty()) {
        doc = cat->api_group_list();
    } else if (parsed->version.empty()) {
        doc = cat->api_group(parsed->group);
    } else {
        doc = cat->resource_list(parsed->group, parsed->version);
    }
    if (!doc) {
        co_await send_status(resp, not_found_resource());
        co_return;
    }
    co_await resp.respond_json(200, json::serialize(*doc));
}

awaitable<void> MetaServer::Impl::resource(net::HttpRequest& req, net::HttpResponder& resp,
                                           ApiPath path) {
    auto found = co_await run_blocking(
        pool, [this, &path] { return resolve(path.group, path.version, path.resource); });
    if (!found) {
        co_await send_status(resp, kube::status_internal_error(found.error().detail));
        co_return;
    }
    if (!*found) {
        co_await send_status(resp, not_found_resource());
        co_return;
    }
    ApiResource res = std::move(**found);
    // Paths kube-apiserver does not route: a namespace on a cluster-scoped resource, a named
    // namespaced object without one.
    if ((!res.namespaced && !path.ns.empty()) ||
        (res.namespaced && path.ns.empty() && !path.name.empty())) {
        co_await send_status(resp, not_found_resource());
        co_return;
    }
    const std::string& verb = path.verb;
    if (verb == "get") {
        co_await get(req, resp, std::move(res), std::move(path));
    } else if (verb == "list" || verb == "watch") {
        auto opts = metaserver::parse_list_options(req.query_params);
        if (!opts) {
            co_await send_status(resp, kube::status_bad_request(opts.error().detail));
            co_return;
        }
        if (verb == "list")
            co_await list(req, resp, std::move(res), std::move(path), std::move(*opts));
        else
            co_await watch(req, resp, std::move(res), std::move(path), std::move(*opts));
    } else {
        co_await write(req, resp, std::move(res), std::move(path));
    }
}

awaitable<void> MetaServer::Impl::get(net::HttpRequest& req, net::HttpResponder& resp,
                                      ApiResource res, ApiPath path) {
    if (!path.subresource.empty() && path.subresource != "status") {
        co_await send_status(resp, not_found_resource());
        co_return;
    }
    MetaKey key{res.namespaced ? path.ns : "null", res.type, path.name};
    auto obj = co_await run_blocking(pool, [this, &key] { return store->get(key); });
    if (!obj) {
        co_await send_status(resp, kube::status_internal_error(obj.error().detail));
        co_return;
    }
    std::optional<json::object> served;
    if (*obj && (*obj)->gvr == res.gvr()) served = metaserver::served_object(res, **obj);
    if (!served) {
        auto s = kube::status_not_found({res.group, res.resource}, path.name);
        co_await send_status(resp, s);
        co_return;
    }
    if (metaserver::wants_table(req.header("Accept").value_or(""))) {
        auto table = metaserver::table_of_object(res, *served, SystemClock::instance().now());
        co_await resp.respond_json(200, json::serialize(table));
        co_return;
    }
    co_await resp.respond_json(200, json::serialize(*served));
}

awaitable<void> MetaServer::Impl::list(net::HttpRequest& req, net::HttpResponder& resp,
                                       ApiResource res, ApiPath path, ListOptions opts) {
    // The high-water mark before the read: a watch from it may repeat what the list has, but
    // never misses a change the list does not have.
    std::uint64_t rv = 0;
    auto gvr = res.gvr();
    auto objects = co_await run_blocking(pool, [this, &gvr, &path, &rv] {
        rv = store->high_water_mark();
        return store->list_gvr(gvr, path.ns);
    });
    if (!objects) {
        co_await send_status(resp, kube::status_internal_error(objects.error().detail));
        co_return;
    }
    ObjectFilter filter(res.resource, path.ns, "", opts.labels, opts.fields);
    std::string body = metaserver::list_body(res, std::move(*objects), filter, opts, rv);
    if (metaserver::wants_table(req.header("Accept").value_or(""))) {
        boost::system::error_code ec;
        auto v = json::parse(body, ec);
        if (!ec && v.is_object())
            body = json::serialize(
                metaserver::table_of_list(res, v.as_object(), SystemClock::instance().now()));
    }
    co_await resp.respond_json(200, std::move(body));
}

awaitable<void> MetaServer::Impl::write(net::HttpRequest& req, net::HttpResponder& resp,
                                        ApiResource res, ApiPath path) {
    const std::string& verb = path.verb;
    const kube::GroupResource gr{res.group, res.resource};
    bool supported = verb == "create" || verb == "update" || verb == "patch" || verb == "delete";
    // Creating a namespaced object needs its namespace in the path, as in kube-apiserver.
    if (verb == "create" && res.namespaced && path.ns.empty()) supported = false;
    if (!writer || !supported) {
        auto s = kube::status_method_not_allowed(gr, verb);
        co_await send_status(resp, s);
        co_return;
    }
    RemoteWrite w;
    w.verb = verb;
    w.gvr = res.gvr();
    w.subresource = path.subresource;
    w.key = MetaKey{res.namespaced ? path.ns : "null", res.type, path.name};
    if (verb == "create") {
        boost::system::error_code ec;
        auto body = json::parse(req.body, ec);
        if (!ec && body.is_object()) w.key.name = std::string(kube::name(body.as_object()));
    }
    if (verb == "patch") w.patch_type = req.header("Content-Type").value_or("");
    w.body = std::move(req.body);
    const std::string what = verb + " " + w.gvr.str() + " " + w.key.str();
    auto result = co_await writer(std::move(w));
    if (result) {
        log->debug("{}: the cloud answered {}", what, result->http_status);
        co_await resp.respond_json(result->http_status, std::move(result->body));
        co_return;
    }
    const Error& e = result.error();
    log->info("{}: {}", what, e.detail);
    kube::Status s;
    if (e.is(errc::unavailable)) {
        s = kube::status_service_unavailable("the cloud is not connected: " + e.detail +
                                             "; the edge meta server serves reads only while "
                                             "offline");
    } else if (e.is(errc::timeout)) {
        s = kube::status_timeout(e.detail);
    } else {
        s = kube::status_internal_error(e.detail);
    }
    co_await send_status(resp, s);
}

awaitable<void> MetaServer::Impl::watch(net::HttpRequest& req, net::HttpResponder& resp,
                                        ApiResource res, ApiPath path, ListOptions opts) {
    using namespace asio::experimental::awaitable_operators;
    const bool initial = opts.resource_version.empty() || opts.resource_version == "0";
    std::uint64_t from = 0;
    if (!initial) {
        auto rv = kube::parse_resource_version(opts.resource_version);
        if (!rv) {
            auto s = kube::status_bad_request("resourceVersion: Invalid value: \"" +
                                              opts.resource_version + "\": " + rv.error().detail);
            co_await send_status(resp, s);
            co_return;
        }
        from = *rv;
    }
    std::chrono::seconds timeout = opts.timeout.value_or(std::chrono::seconds(0));
    if (timeout.count() == 0) {
        // kube-apiserver spreads watch lifetimes over 30-60 minutes so re-watches do not herd.
        thread_local std::mt19937 rng{std::random_device{}()};
        timeout = std::chrono::seconds(std::uniform_int_distribution<int>(1800, 3600)(rng));
    }
    const bool table = metaserver::wants_table(req.header("Accept").value_or(""));

    auto strand = co_await asio::this_coro::executor;
    auto queue = std::make_shared<WatchQueue>(strand, options.watch_queue_capacity);
    std::weak_ptr<WatchQueue> weak = queue;
    auto subscribed = co_await run_blocking(pool, [this, initial, &from, weak] {
        // A watch without a resourceVersion starts at the current state.
        if (initial) from = store->high_water_mark();
        return store->subscribe(from, [weak](const std::vector<MetaChange>& changes) {
            if (auto q = weak.lock()) q->push(changes);
        });
    });
    const net::HttpHeaders head{{"Cache-Control", "no-cache, private"}};
    // The connection is not reused after a watch: say so, or clients pool it.
    resp.close_after_response();
    if (!subscribed) {
        if (!subscribed.error().is(errc::expired)) {
            co_await send_status(resp, kube::status_internal_error(subscribed.error().detail));
            co_return;
        }
        // As kube-apiserver: the stream starts, and the 410 comes as an ERROR event.
        if (!co_await resp.begin_stream(200, "application/json", head)) co_return;
        co_await resp.write_chunk(metaserver::expired_event_line(subscribed.error().detail));
        co_await resp.end_stream();
        co_return;
    }
    std::unique_ptr<MetaStore::Subscription> subscription = std::move(subscribed->subscription);
    if (!co_await resp.begin_stream(200, "application/json", head)) co_return;

    ObjectFilter filter(res.resource, path.ns, path.name, opts.labels, opts.fields);
    metaserver::WatchEvents events(res, std::move(filter), from, initial);
    bool first_table = true;
    // Table watches (kubectl get -w) get Table rows, with the columns in the first one only.
    auto render = [&](std::string line) {
        if (!table || line.empty()) return line;
        boost::system::error_code ec;
        auto v = json::parse(line, ec);
        if (ec || !v.is_object()) return line;
        auto& ev = v.as_object();
        auto* obj = ev.if_contains("object");
        if (!obj || !obj->is_object()) return line;
        ev["object"] = metaserver::table_of_object(res, obj->as_object(),
                                                   SystemClock::instance().now(), first_table);
        first_table = false;
        return json::serialize(ev) + "\n";
    };
    std::string chunk;
    if (initial) {
        auto gvr = res.gvr();
        auto objects = co_await run_blocking(
            pool, [this, &gvr, &path] { return store->list_gvr(gvr, path.ns); });
        if (objects) {
            std::sort(objects->begin(), objects->end(), [](const auto& a, const auto& b) {
                return std::tie(a.key.ns, a.key.name) < std::tie(b.key.ns, b.key.name);
            });
            for (const auto& obj : *objects) chunk += render(events.add_initial(obj));
        }
    }
    for (const auto& change : subscribed->replay) chunk += render(events.on_change(change));
    subscribed->replay.clear();
    if (!chunk.empty() && !co_await resp.write_chunk(std::exchange(chunk, {}))) co_return;

    const auto deadline = std::chrono::steady_clock::now() + timeout;
    auto next_bookmark = std::chrono::steady_clock::now() + options.bookmark_interval;
    const char* why = "timeout";
    std::size_t sent = 0;
    while (true) {
        if (stopped) {
            why = "server stopping";
            break;
        }
        bool overflowed = false;
        auto changes = queue->take(overflowed);
        if (overflowed) {
            log->warn("watch {} from {}: the client fell {} changes behind; closing it", req.target,
                      req.remote_address, queue->capacity);
            why = "slow client";
            break;
        }
        if (!changes.empty()) {
            for (const auto& change : changes) {
                std::string line = render(events.on_change(change));
                if (!line.empty()) ++sent;
                chunk += line;
            }
            if (!chunk.empty() && !co_await resp.write_chunk(std::exchange(chunk, {}))) {
                why = "client gone";
                break;
            }
            continue;
        }
        auto now = std::chrono::steady_clock::now();
        if (now >= deadline) break;
        if (opts.allow_bookmarks && now >= next_bookmark) {
            next_bookmark = now + options.bookmark_interval;
            if (!co_await resp.write_chunk(events.bookmark_line())) {
                why = "client gone";
                break;
            }
            continue;
        }
        if (queue->wake_pending) continue;
        queue->timer.expires_at(opts.allow_bookmarks ? std::min(deadline, next_bookmark)
                                                     : deadline);
        co_await (queue->timer.async_wait(asio::as_tuple(use_awaitable)) ||
                  resp.wait_client_gone());
        if (resp.client_gone()) {
            why = "client gone";
            break;
        }
    }
    subscription.reset();
    log->debug("watch {} from {} ended ({}), {} events sent", req.target, req.remote_address, why,
               sent);
    if (!resp.client_gone()) co_await resp.end_stream();
}

MetaServer::MetaServer(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}

MetaServer::~MetaServer() { stop(); }

Result<std::shared_ptr<MetaServer>> MetaServer::start(asio::any_io_executor ex,
                                                      std::shared_ptr<MetaStore> store,
                                                      RemoteWriter writer,
                                                      MetaServerOptions options) {
    if (!store) return Error(errc::invalid_argument, "meta server: no store");
    auto impl = std::make_shared<Impl>(ex, std::move(store), std::move(writer), std::move(options));
    net::HttpServerOptions ho;
    ho.host = impl->options.host;
    ho.port = impl->options.port;
    ho.name = "metaserver";
    impl->http = net::HttpServer::make(ex, ho);
    // A running handler keeps the Impl alive; the server's handler table only holds it weakly
    // (the Impl owns the server).
    std::weak_ptr<Impl> weak = impl;
    impl->http->set_fallback([weak](net::HttpRequest& req, net::HttpResponder& resp) {
        return dispatch(weak.lock(), req, resp);
    });
    if (auto started = impl->http->start(); !started) {
        return Error(errc::unavailable, "meta server: " + started.error().message());
    }
    impl->log->info("serving the edge's Kubernetes API on http://{}:{}", impl->options.host,
                    impl->http->port());
    return std::shared_ptr<MetaServer>(new MetaServer(std::move(impl)));
}

unsigned short MetaServer::port() const { return impl_->http->port(); }

void MetaServer::stop() {
    if (!impl_ || impl_->stopped.exchange(true)) return;
    impl_->http->stop();
}

}  // namespace kedge::edge
