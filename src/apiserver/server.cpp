#include "apiserver/server.hpp"

#include <boost/asio.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/json.hpp>

#include <atomic>
#include <charconv>
#include <map>
#include <mutex>
#include <random>
#include <thread>

#include "apiserver/auth/attributes.hpp"
#include "apiserver/registry_detail.hpp"
#include "apiserver/protobuf_body.hpp"
#include "apiserver/request_info.hpp"
#include "apiserver/table.hpp"
#include "base/log.hpp"
#include "kube/patch.hpp"
#include "kube/status.hpp"
#include "net/http_server.hpp"

namespace kedge::apiserver {
namespace asio = boost::asio;
namespace json = boost::json;
using asio::awaitable;
using asio::use_awaitable;

namespace {

// Runs a blocking call on the worker pool and resumes the caller on its own executor.
template <class F>
awaitable<std::invoke_result_t<F>> run_blocking(asio::thread_pool& pool, F f) {
    using R = std::invoke_result_t<F>;
    co_return co_await asio::co_spawn(
        pool, [f = std::move(f)]() mutable -> awaitable<R> { co_return f(); }, use_awaitable);
}

std::string status_json(const kube::Status& s) { return s.to_json_string(); }

net::HttpHeaders warning_headers(const std::vector<std::string>& warnings) {
    net::HttpHeaders h;
    for (const auto& w : warnings) {
        std::string escaped;
        for (char c : w) {
            if (c == '"' || c == '\\') escaped += '\\';
            escaped += c;
        }
        h.emplace_back("Warning", "299 - \"" + escaped + "\"");
    }
    return h;
}

ListParams list_params(const net::HttpRequest& req) {
    ListParams p;
    p.label_selector = req.query_param("labelSelector").value_or("");
    p.field_selector = req.query_param("fieldSelector").value_or("");
    p.resource_version = req.query_param("resourceVersion").value_or("");
    p.resource_version_match = req.query_param("resourceVersionMatch").value_or("");
    p.continue_token = req.query_param("continue").value_or("");
    if (auto l = req.query_param("limit")) {
        try {
            p.limit = std::stoll(*l);
        } catch (const std::exception&) {
            p.limit = 0;
        }
    }
    return p;
}

// Go's strconv.ParseBool (kube's query booleans); a bare "?allowWatchBookmarks" counts too.
bool truthy(const std::optional<std::string>& v) {
    return v && (*v == "1" || *v == "t" || *v == "T" || *v == "true" || *v == "TRUE" ||
                 *v == "True" || v->empty());
}

// The media type without parameters, lower case.
std::string media_type(const net::HttpRequest& req) {
    std::string ct = req.header("Content-Type").value_or("");
    if (auto semi = ct.find(';'); semi != std::string::npos) ct.resize(semi);
    while (!ct.empty() && ct.back() == ' ') ct.pop_back();
    for (auto& c : ct) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return ct;
}

std::string version_json(const std::string& git_version) {
    // "v1.31.0-kedge" -> major 1, minor 31.
    std::string major = "1", minor = "0";
    auto dot1 = git_version.find('.');
    if (dot1 != std::string::npos) {
        auto dot2 = git_version.find('.', dot1 + 1);
        major = git_version.substr(1, dot1 - 1);
        minor = git_version.substr(dot1 + 1, dot2 == std::string::npos ? std::string::npos
                                                                       : dot2 - dot1 - 1);
    }
    return json::serialize(json::object{{"major", major},
                                        {"minor", minor},
                                        {"gitVersion", git_version},
                                        {"gitCommit", ""},
                                        {"gitTreeState", "clean"},
                                        {"buildDate", "1970-01-01T00:00:00Z"},
                                        {"goVersion", "c++20"},
                                        {"compiler", "clang"},
                                        {"platform", "linux/amd64"}});
}

}  // namespace

struct ApiServer::Impl {
    asio::any_io_executor ex;
    std::shared_ptr<Registry> registry;
    std::shared_ptr<const auth::RequestAuthenticator> authn;
    std::shared_ptr<const auth::Authorizer> authz;
    ApiServerOptions options;
    asio::thread_pool pool;
    std::shared_ptr<net::HttpServer> http;
    std::shared_ptr<spdlog::logger> log = log::get("apiserver");
    std::atomic<bool> stopped{false};
    // apiserver_request_total by its label set, for /metrics (tests count LISTs and WATCHes
    // with it: cloudcore's promise is that reconnecting edges cause none).
    std::mutex requests_mu;
    std::map<std::string, std::uint64_t> requests;

    void count_request(const RequestInfo& info) {
        std::string labels = "verb=\"" + info.verb + "\",group=\"" + info.api_group +
                             "\",resource=\"" + info.resource + "\",subresource=\"" +
                             info.subresource + "\"";
        std::lock_guard lock(requests_mu);
        ++requests[labels];
    }
    std::string metrics_text() {
        std::string out =
            "# HELP apiserver_request_total Resource requests by verb, group, resource and "
            "subresource.\n# TYPE apiserver_request_total counter\n";
        std::lock_guard lock(requests_mu);
        for (const auto& [labels, n] : requests)
            out += "apiserver_request_total{" + labels + "} " + std::to_string(n) + "\n";
        return out;
    }

    Impl(asio::any_io_executor e, std::shared_ptr<Registry> r,
         std::shared_ptr<const auth::RequestAuthenticator> a,
         std::shared_ptr<const auth::Authorizer> z, ApiServerOptions o)
        : ex(std::move(e)),
          registry(std::move(r)),
          authn(std::move(a)),
          authz(std::move(z)),
          options(std::move(o)),
          pool(std::max<std::size_t>(1, options.worker_threads)) {}

    awaitable<void> handle(net::HttpRequest& req, net::HttpResponder& resp);
    awaitable<void> non_resource(net::HttpRequest& req, net::HttpResponder& resp);
    awaitable<void> resource(net::HttpRequest& req, net::HttpResponder& resp,
                             const RequestInfo& info);
    awaitable<void> watch(net::HttpRequest& req, net::HttpResponder& resp, Scope scope);

    awaitable<void> send_status(net::HttpResponder& resp, const kube::Status& s) {
        co_await resp.respond_json(s.code, status_json(s));
    }
    awaitable<void> send_write(net::HttpResponder& resp, const ApiResult<WriteResult>& r) {
        if (!r) {
            co_await send_status(resp, r.error().status);
        } else {
            co_await resp.respond_json(r->code, r->body, warning_headers(r->warnings));
        }
    }
};

awaitable<void> ApiServer::Impl::handle(net::HttpRequest& req, net::HttpResponder& resp) {
    auth::Credentials creds;
    if (req.peer.has_certificate)
        creds.client_certificate = pki::Subject{req.peer.common_name, req.peer.organizations};
    std::string authz_header = req.header("Authorization").value_or("");
    if (!authz_header.empty()) creds.bearer_token = auth::bearer_token(authz_header);
    auto user = authn->authenticate(creds);
    if (!user) {
        log->warn("{} {} from {}: unauthorized: {}", req.method, req.path, req.remote_address,
                  user.error().detail);
        co_await send_status(resp, kube::status_unauthorized());
        co_return;
    }
    auto info = parse_request_info(req.method, req.path, req.query_param("watch").value_or(""));
    if (!info) {
        co_await send_status(resp, kube::status_from_error(info.error()));
        co_return;
    }
    log->debug("{} {} user={} verb={}", req.method, req.target, user->name, info->verb);
    auth::Attributes attrs = *info;
    if (attrs.is_resource_request)
        auth::apply_field_selector_name(attrs, req.query_param("fieldSelector").value_or(""));
    auto decision = authz->authorize(*user, attrs);
    if (!decision.allowed()) {
        std::string why = "User \"" + user->name + "\" cannot " + info->verb;
        kube::Status s;
        if (info->is_resource_request) {
            std::string res = info->resource;
            if (!info->subresource.empty()) res += "/" + info->subresource;
            why += " resource \"" + res + "\" in API group \"" + info->api_group + "\"";
            if (!info->namespace_.empty() && info->resource != "namespaces")
                why += " in the namespace \"" + info->namespace_ + "\"";
            if (!decision.reason.empty()) why += ": " + decision.reason;
            s = kube::status_forbidden({info->api_group, res}, info->name, why);
        } else {
            why += " path \"" + req.path + "\"";
            s = kube::status_forbidden({}, {}, why);
            s.message = "forbidden: " + why;
        }
        co_await send_status(resp, s);
        co_return;
    }
    if (info->is_resource_request) {
        count_request(*info);
        co_await resource(req, resp, *info);
    } else {
        co_await non_resource(req, resp);
    }
}

awaitable<void> ApiServer::Impl::non_resource(net::HttpRequest& req, net::HttpResponder& resp) {
    const std::string& p = req.path;
    const auto& types = registry->types();
    if (req.method != "GET" && req.method != "HEAD") {
        co_await send_status(resp, kube::status_method_not_allowed({}, req.method));
        co_return;
    }
    if (p == "/healthz" || p == "/livez" || p == "/readyz" || p.starts_with("/healthz/") ||
        p.starts_with("/livez/") || p.starts_with("/readyz/")) {
        co_await resp.respond(200, "ok", "text/plain");
    } else if (p == "/metrics") {
        co_await resp.respond(200, metrics_text(), "text/plain; version=0.0.4");
    } else if (p == "/version" || p == "/version/") {
        co_await resp.respond_json(200, version_json(options.git_version));
    } else if (p == "/api" || p == "/api/") {
        co_await resp.respond_json(200, json::serialize(types.api_versions()));
    } else if (p == "/apis" || p == "/apis/") {
        co_await resp.respond_json(200, json::serialize(types.api_group_list()));
    } else if (p == "/openapi/v2") {
        // No schemas are published: an empty document (protobuf: an empty message) makes
        // kubectl skip client-side validation and leaves validation to the server.
        std::string accept = req.header("Accept").value_or("");
        if (accept.find("protobuf") != std::string::npos) {
            co_await resp.respond(200, "", "application/octet-stream");
        } else {
            co_await resp.respond_json(
                200, R"({"swagger":"2.0","info":{"title":"kedge","version":")" +
                         options.git_version + R"("},"paths":{},"definitions":{}})");
        }
    } else if (p == "/openapi/v3" || p == "/openapi/v3/") {
        co_await resp.respond_json(200, R"({"paths":{}})");
    } else if (p.starts_with("/apis/")) {
        // /apis/<group> or /apis/<group>/<version>
        std::string rest = p.substr(6);
        if (!rest.empty() && rest.back() == '/') rest.pop_back();
        auto slash = rest.find('/');
        std::optional<json::value> doc =
            slash == std::string::npos
                ? types.api_group(rest)
                : types.resource_list(rest.substr(0, slash), rest.substr(slash + 1));
        if (doc) {
            co_await resp.respond_json(200, json::serialize(*doc));
        } else {
            co_await send_status(resp, detail::not_found_resource());
        }
    } else if (p == "/api/v1" || p == "/api/v1/") {
        co_await resp.respond_json(200, json::serialize(*types.resource_list("", "v1")));
    } else {
        co_await send_status(resp, detail::not_found_resource());
    }
}


awaitable<void> ApiServer::Impl::resource(net::HttpRequest& req, net::HttpResponder& resp,
                                          const RequestInfo& info) {
    auto type = registry->types().find(info.api_group, info.api_version, info.resource);
    if (!type) {
        co_await send_status(resp, detail::not_found_resource());
        co_return;
    }
    Scope scope{*type, type->namespaced ? info.namespace_ : std::string(), info.name,
                info.subresource};
    const std::string& verb = info.verb;
    if (req.body.size() > options.max_body_bytes) {
        co_await send_status(resp, kube::status_request_entity_too_large(
                                       "limit is " + std::to_string(options.max_body_bytes)));
        co_return;
    }
    WriteOptions wopts;
    if (auto fv = parse_field_validation(req.query_param("fieldValidation").value_or("")); fv) {
        wopts.field_validation = *fv;
    } else {
        co_await send_status(resp, kube::status_bad_request(fv.error().detail));
        co_return;
    }
    wopts.dry_run = !req.query_param_all("dryRun").empty();
    auto& reg = *registry;

    const bool table = wants_table(req.header("Accept").value_or("")) && scope.subresource.empty();
    const auto include = parse_include_object(req.query_param("includeObject").value_or(""));
    if (verb == "get" || verb == "list") {
        auto params = list_params(req);
        auto r = co_await run_blocking(pool, [&]() -> ApiResult<std::string> {
            auto body = verb == "get" ? reg.get(scope) : reg.list(scope, params);
            if (!body || !table) return body;
            // kubectl's `get` asks for a Table: print on the server like kube-apiserver.
            boost::system::error_code ec;
            auto v = detail::parse_json(*body, ec);
            if (ec || !v.is_object()) return body;
            auto now = SystemClock::instance().now();
            return json::serialize(verb == "get"
                                       ? table_of_object(scope.type, v.as_object(), include, now)
                                       : table_of_list(scope.type, v.as_object(), include, now));
        });
        if (!r) co_await send_status(resp, r.error().status);
        else co_await resp.respond_json(200, std::move(*r));
    } else if (verb == "watch") {
        co_await watch(req, resp, std::move(scope));
    } else if (verb == "create" || verb == "update") {
        std::string mt = media_type(req);
        if (mt == "application/vnd.kubernetes.protobuf") {
            // kubectl create rolebinding/clusterrolebinding only speak protobuf.
            if (auto converted = protobuf_body_to_json(req.body)) {
                req.body = std::move(*converted);
                mt = "application/json";
            }
        }
        if (!mt.empty() && mt != "application/json") {
            // Built outside the co_await: g++ 12 rejects a braced list of string literals
            // inside a coroutine's co_await expression ("array used as initializer").
            auto status = kube::status_unsupported_media_type(
                std::vector<std::string>{"application/json", "application/yaml"});
            co_await send_status(resp, std::move(status));
            co_return;
        }
        auto r = co_await run_blocking(pool, [&] {
            return verb == "create" ? reg.create(scope, req.body, wopts)
                                    : reg.update(scope, req.body, wopts);
        });
        co_await send_write(resp, r);
    } else if (verb == "patch") {
        auto pt = kube::patch_type_from_content_type(req.header("Content-Type").value_or(""));
        if (!pt) {
            co_await send_status(resp, kube::status_from_error(pt.error()));
            co_return;
        }
        auto r = co_await run_blocking(pool, [&] { return reg.patch(scope, *pt, req.body, wopts); });
        co_await send_write(resp, r);
    } else if (verb == "delete" || verb == "deletecollection") {
        auto dp = parse_delete_params(req.body, req.query_param("gracePeriodSeconds"),
                                      req.query_param("propagationPolicy"));
        if (!dp) {
            co_await send_status(resp, dp.error().status);
            co_return;
        }
        if (wopts.dry_run) dp->dry_run = true;
        if (verb == "delete") {
            auto r = co_await run_blocking(pool, [&] { return reg.remove(scope, *dp); });
            co_await send_write(resp, r);
        } else {
            auto params = list_params(req);
            auto r = co_await run_blocking(
                pool, [&] { return reg.delete_collection(scope, params, *dp); });
            if (!r) co_await send_status(resp, r.error().status);
            else co_await resp.respond_json(200, std::move(*r));
        }
    } else {
        co_await send_status(resp, kube::status_method_not_allowed(
                                       {type->group, type->resource}, req.method));
    }
}

namespace {

// Wakes a watch handler from the watch cache's writer thread.
struct WatchSignal {
    explicit WatchSignal(asio::any_io_executor ex) : timer(ex) {}
    asio::steady_timer timer;
    std::atomic<bool> pending{false};
};

std::string event_line(storage::EventType t, const std::string& object) {
    std::string line = R"({"type":")";
    line += t == storage::EventType::kAdded      ? "ADDED"
            : t == storage::EventType::kModified ? "MODIFIED"
                                                 : "DELETED";
    line += R"(","object":)";
    line += object;
    line += "}\n";
    return line;
}

}  // namespace

awaitable<void> ApiServer::Impl::watch(net::HttpRequest& req, net::HttpResponder& resp,
                                       Scope scope) {
    using namespace asio::experimental::awaitable_operators;
    auto params = list_params(req);
    std::chrono::seconds timeout{0};
    if (auto t = req.query_param("timeoutSeconds"); t && !t->empty()) {
        long long secs = -1;
        auto [end, ec] = std::from_chars(t->data(), t->data() + t->size(), secs);
        if (ec != std::errc{} || end != t->data() + t->size() || secs < 0) {
            co_await send_status(resp, kube::status_bad_request("invalid timeoutSeconds: " + *t));
            co_return;
        }
        timeout = std::chrono::seconds(secs);
    }
    if (timeout.count() == 0) {  // unset or 0: the server's default
        // kube-apiserver spreads watch lifetimes over 30-60 minutes so re-watches do not herd.
        thread_local std::mt19937 rng{std::random_device{}()};
        timeout = std::chrono::seconds(std::uniform_int_distribution<int>(1800, 3600)(rng));
    }
    const bool bookmarks = truthy(req.query_param("allowWatchBookmarks"));
    // kubectl get -w asks for Table events: columns in the first one only, as kube-apiserver.
    const bool table = wants_table(req.header("Accept").value_or(""));
    const auto include = parse_include_object(req.query_param("includeObject").value_or(""));
    bool first_table = true;
    auto& reg = *registry;
    auto prepared = co_await run_blocking(pool, [&] { return reg.prepare_watch(scope, params); });
    if (!prepared) {
        co_await send_status(resp, prepared.error().status);
        co_return;
    }
    auto strand = co_await asio::this_coro::executor;
    auto signal = std::make_shared<WatchSignal>(strand);
    std::weak_ptr<WatchSignal> weak = signal;
    auto on_ready = [weak, strand] {
        auto s = weak.lock();
        if (!s) return;
        s->pending = true;
        asio::post(strand, [s] { s->timer.cancel(); });
    };
    auto watcher = co_await run_blocking(pool, [&] {
        return reg.watch(scope, std::move(*prepared), on_ready, options.watch_queue_capacity);
    });
    const net::HttpHeaders head{{"Cache-Control", "no-cache, private"}};
    // A watch connection is not reused (the client-gone reader owns the socket): say so in the
    // head, or clients put it back in their pool and their next request finds it closed.
    resp.close_after_response();
    if (!watcher) {
        const auto& st = watcher.error().status;
        if (st.code == 410) {
            // kube-apiserver starts the stream and sends the 410 as an ERROR event.
            if (!co_await resp.begin_stream(200, "application/json", head)) co_return;
            co_await resp.write_chunk(R"({"type":"ERROR","object":)" + status_json(st) + "}\n");
            co_await resp.end_stream();
        } else {
            co_await send_status(resp, st);
        }
        co_return;
    }
    std::shared_ptr<storage::Watcher> w = *watcher;
    if (!co_await resp.begin_stream(200, "application/json", head)) {
        w->stop();
        co_return;
    }
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    auto next_bookmark = std::chrono::steady_clock::now() + options.bookmark_interval;
    const std::string bookmark_head =
        R"({"type":"BOOKMARK","object":{"kind":)" + json::serialize(json::string(scope.type.kind)) +
        R"(,"apiVersion":)" + json::serialize(json::string(scope.type.group_version())) +
        R"(,"metadata":{"resourceVersion":")";
    bool ok = true;
    std::size_t sent = 0;
    while (ok && !stopped) {
        auto events = w->take(256);
        if (!events.empty()) {
            std::string chunk;
            for (const auto& ev : events) {
                if (!table) {
                    chunk += event_line(ev->type, ev->object->value);
                    continue;
                }
                boost::system::error_code ec;
                auto v = detail::parse_json(ev->object->value, ec);
                if (ec || !v.is_object()) continue;
                chunk += event_line(ev->type, json::serialize(table_of_object(
                                                  scope.type, v.as_object(), include,
                                                  SystemClock::instance().now(), first_table)));
                first_table = false;
            }
            sent += events.size();
            if (!co_await resp.write_chunk(std::move(chunk))) break;
            continue;
        }
        if (w->closed()) break;  // too slow or the cache stopped: the client re-watches
        auto now = std::chrono::steady_clock::now();
        if (now >= deadline) break;
        if (bookmarks && now >= next_bookmark) {
            next_bookmark = now + options.bookmark_interval;
            if (auto rv = w->bookmark_revision()) {
                if (!co_await resp.write_chunk(bookmark_head + std::to_string(*rv) + "\"}}}\n"))
                    break;
            }
            continue;
        }
        if (signal->pending.exchange(false)) continue;
        auto wake = bookmarks ? std::min(deadline, next_bookmark) : deadline;
        signal->timer.expires_at(wake);
        co_await (signal->timer.async_wait(asio::as_tuple(use_awaitable)) ||
                  resp.wait_client_gone());
        if (resp.client_gone()) ok = false;
    }
    w->stop();
    const char* why = !ok || resp.client_gone() ? "client gone"
                      : w->closed()             ? "watcher closed (slow client or stopping)"
                                                : "timeout";
    log->debug("watch {} ended: {}, {} events sent", req.target, why, sent);
    if (ok && !resp.client_gone()) co_await resp.end_stream();
}

ApiServer::ApiServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ApiServer::~ApiServer() { stop(); }

std::shared_ptr<ApiServer> ApiServer::make(asio::any_io_executor ex,
                                           std::shared_ptr<Registry> registry,
                                           std::shared_ptr<const auth::RequestAuthenticator> authn,
                                           std::shared_ptr<const auth::Authorizer> authz,
                                           ApiServerOptions options) {
    auto impl = std::make_unique<Impl>(ex, std::move(registry), std::move(authn),
                                       std::move(authz), std::move(options));
    net::HttpServerOptions ho;
    ho.host = impl->options.bind_address;
    ho.port = impl->options.port;
    ho.tls = impl->options.tls;
    // Bodies up to 1 MiB over the API limit are read so that the answer is a kube Status 413;
    // beyond that the HTTP layer refuses them itself.
    ho.max_body_bytes = impl->options.max_body_bytes + 1024 * 1024;
    ho.name = "apiserver";
    ho.max_connections = impl->options.max_connections;
    impl->http = net::HttpServer::make(ex, ho);
    Impl* raw = impl.get();
    // Every path goes through one handler: authentication and authorization come first.
    impl->http->set_fallback([raw](net::HttpRequest& req, net::HttpResponder& resp) {
        return raw->handle(req, resp);
    });
    return std::shared_ptr<ApiServer>(new ApiServer(std::move(impl)));
}

Result<void> ApiServer::start() { return impl_->http->start(); }
unsigned short ApiServer::port() const { return impl_->http->port(); }

void ApiServer::stop() {
    if (!impl_ || impl_->stopped.exchange(true)) return;
    impl_->http->stop();
    impl_->pool.join();
}

}  // namespace kedge::apiserver
