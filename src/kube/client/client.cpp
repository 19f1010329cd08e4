#include "kube/client/client.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <array>
#include <atomic>
#include <cctype>
#include <mutex>

#include "base/log.hpp"
#include "kube/client/client_detail.hpp"
#include "kube/client/rate_limiter.hpp"
#include "kube/object.hpp"
#include "kube/status.hpp"

namespace kedge::kube::client {

namespace asio = boost::asio;
namespace json = boost::json;
using asio::awaitable;

std::string_view to_string(WatchEventType t) {
    switch (t) {
        case WatchEventType::kAdded:
            return "ADDED";
        case WatchEventType::kModified:
            return "MODIFIED";
        case WatchEventType::kDeleted:
            return "DELETED";
        case WatchEventType::kBookmark:
            return "BOOKMARK";
        case WatchEventType::kError:
            return "ERROR";
    }
    return "UNKNOWN";
}

namespace {

void fill_type(json::object& obj, const ApiResource& r) {
    if (kube::api_version(obj).empty()) kube::set_api_version(obj, r.api_version());
    if (kube::kind(obj).empty()) kube::set_kind(obj, r.kind);
}

}  // namespace

namespace detail {

std::string query_escape(std::string_view s) {
    static constexpr char kHex[] = "0123456789ABCDEF";
    std::string out;
    out.reserve(s.size());
    for (unsigned char c : s) {
        if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
            out.push_back(static_cast<char>(c));
        } else {
            out.push_back('%');
            out.push_back(kHex[c >> 4]);
            out.push_back(kHex[c & 15]);
        }
    }
    return out;
}

errc errc_for_status(int code, std::string_view reason) {
    switch (code) {
        case 404:
            return errc::not_found;
        case 409:
            return reason == "AlreadyExists" ? errc::already_exists : errc::conflict;
        case 410:
            return errc::expired;
        case 401:
            return errc::unauthorized;
        case 403:
            return errc::forbidden;
        case 400:
        case 422:
            return errc::invalid_argument;
        case 413:
            return errc::too_large;
        case 429:
        case 503:
            return errc::unavailable;
        case 504:
            return errc::timeout;
        default:
            break;
    }
    if (code >= 500) return errc::internal;
    return errc::invalid_argument;  // other 4xx: the request itself was refused
}

Error error_from_response(int code, std::string_view body, const std::string& method,
                          const std::string& target) {
    std::string reason;
    std::string message;
    if (auto st = kube::parse_status_body(body)) {
        reason = st->reason;
        message = st->message;
    }
    if (message.empty()) {
        message = method + " " + target + ": HTTP " + std::to_string(code);
        std::string_view snippet = body.substr(0, 200);
        while (!snippet.empty() && (snippet.back() == '\n' || snippet.back() == '\r'))
            snippet.remove_suffix(1);
        if (!snippet.empty()) message += ": " + std::string(snippet);
    }
    return Error(errc_for_status(code, reason), std::move(message));
}

Result<WatchEvent> parse_watch_event(std::string_view line, const ApiResource& r) {
    auto excerpt = [&] { return std::string(line.substr(0, 200)); };
    boost::system::error_code ec;
    json::value v = json::parse(line, ec);
    if (ec || !v.is_object())
        return Error(errc::parse_error, "watch line is not a JSON object: " + excerpt());
    auto& o = v.as_object();
    auto* type = o.if_contains("type");
    auto* obj = o.if_contains("object");
    if (!type || !type->is_string() || !obj || !obj->is_object())
        return Error(errc::parse_error,
                     "watch event without a string type and an object: " + excerpt());
    WatchEvent ev;
    std::string_view t = type->as_string();
    if (t == "ADDED")
        ev.type = WatchEventType::kAdded;
    else if (t == "MODIFIED")
        ev.type = WatchEventType::kModified;
    else if (t == "DELETED")
        ev.type = WatchEventType::kDeleted;
    else if (t == "BOOKMARK")
        ev.type = WatchEventType::kBookmark;
    else if (t == "ERROR")
        ev.type = WatchEventType::kError;
    else
        return Error(errc::parse_error, "unknown watch event type \"" + std::string(t) + "\"");
    ev.object = std::move(obj->as_object());
    if (ev.type != WatchEventType::kError && ev.type != WatchEventType::kBookmark)
        fill_type(ev.object, r);
    return ev;
}

}  // namespace detail

namespace {

enum Verb { kGet, kList, kWatch, kCreate, kUpdate, kPatch, kDelete, kRaw, kVerbCount };
constexpr std::array<std::string_view, kVerbCount> kVerbNames{"get",    "list",  "watch",  "create",
                                                              "update", "patch", "delete", "raw"};

class Query {
public:
    void add(std::string_view key, std::string_view value) {
        out_ += out_.empty() ? '?' : '&';
        out_ += key;
        out_ += '=';
        out_ += detail::query_escape(value);
    }
    const std::string& str() const { return out_; }

private:
    std::string out_;
};

std::string list_query(const ListOptions& o, bool watch) {
    Query q;
    if (watch) q.add("watch", "true");
    if (!o.label_selector.empty()) q.add("labelSelector", o.label_selector);
    if (!o.field_selector.empty()) q.add("fieldSelector", o.field_selector);
    if (!o.resource_version.empty()) q.add("resourceVersion", o.resource_version);
    if (!o.resource_version_match.empty()) q.add("resourceVersionMatch", o.resource_version_match);
    if (o.limit > 0 && !watch) q.add("limit", std::to_string(o.limit));
    if (!o.continue_token.empty() && !watch) q.add("continue", o.continue_token);
    if (o.timeout_seconds) q.add("timeoutSeconds", std::to_string(*o.timeout_seconds));
    if (o.allow_watch_bookmarks && watch) q.add("allowWatchBookmarks", "true");
    return q.str();
}

Result<json::object> parse_object(std::string_view body, const std::string& what) {
    boost::system::error_code ec;
    json::value v = json::parse(body, ec);
    if (ec) return Error(errc::parse_error, what + ": response is not JSON: " + ec.message());
    if (!v.is_object()) return Error(errc::parse_error, what + ": response is not a JSON object");
    return std::move(v.as_object());
}

// A watch over one streamed response: one JSON event per line.
class WatchStreamImpl final : public WatchStream {
public:
    WatchStreamImpl(std::unique_ptr<net::HttpStream> stream, ApiResource r)
        : stream_(std::move(stream)), resource_(std::move(r)) {}

    awaitable<Result<std::optional<WatchEvent>>> next() override {
        while (true) {
            auto line = co_await stream_->read_line();
            if (!line) co_return line.error();
            if (!*line) co_return std::optional<WatchEvent>();
            if ((*line)->find_first_not_of(" \t\r") == std::string::npos) continue;
            auto ev = detail::parse_watch_event(**line, resource_);
            if (!ev) co_return ev.error();
            co_return std::optional<WatchEvent>(std::move(*ev));
        }
    }

    void close() override { stream_->close(); }

private:
    std::unique_ptr<net::HttpStream> stream_;
    ApiResource resource_;
};

class ClientImpl final : public Client, public std::enable_shared_from_this<ClientImpl> {
public:
    ClientImpl(asio::any_io_executor ex, ClientConfig config, net::HttpClientOptions http)
        : config_(std::move(config)),
          http_(ex, std::move(http)),
          limiter_(ex, config_.qps, config_.burst) {}

    Task<Object> get(const ApiResource& r, std::string_view ns, std::string_view name,
                     std::string_view subresource) override {
        return object_call(shared_from_this(), kGet, "GET", r.path(ns, name, subresource), {},
                           "application/json");
    }

    Task<ObjectList> list(const ApiResource& r, std::string_view ns,
                          const ListOptions& options) override {
        return do_list(shared_from_this(), r, r.path(ns) + list_query(options, false));
    }

    Task<ObjectList> list_all(const ApiResource& r, std::string_view ns,
                              ListOptions options) override {
        return do_list_all(shared_from_this(), r, std::string(ns), std::move(options));
    }

    Task<Object> create(const ApiResource& r, std::string_view ns, const Object& obj,
                        std::string_view subresource) override {
        std::string path =
            subresource.empty() ? r.path(ns) : r.path(ns, kube::name(obj), subresource);
        return object_call(shared_from_this(), kCreate, "POST", std::move(path),
                           json::serialize(obj), "application/json");
    }

    Task<Object> update(const ApiResource& r, const Object& obj,
                        std::string_view subresource) override {
        if (kube::name(obj).empty())
            return fail<Object>(Error(errc::invalid_argument, "update: the object has no name"));
        if (r.namespaced && kube::namespace_of(obj).empty())
            return fail<Object>(Error(errc::invalid_argument, "update: " + r.resource + " \"" +
                                                                  std::string(kube::name(obj)) +
                                                                  "\" has no namespace"));
        return object_call(shared_from_this(), kUpdate, "PUT",
                           r.path(kube::namespace_of(obj), kube::name(obj), subresource),
                           json::serialize(obj), "application/json");
    }

    Task<Object> patch(const ApiResource& r, std::string_view ns, std::string_view name,
                       kube::PatchType type, std::string body,
                       std::string_view subresource) override {
        if (name.empty()) return fail<Object>(Error(errc::invalid_argument, "patch: empty name"));
        return object_call(shared_from_this(), kPatch, "PATCH", r.path(ns, name, subresource),
                           std::move(body), std::string(kube::content_type_of(type)));
    }

    Task<std::optional<Object>> remove(const ApiResource& r, std::string_view ns,
                                       std::string_view name,
                                       const DeleteOptions& options) override {
        if (name.empty())
            return fail<std::optional<Object>>(Error(errc::invalid_argument, "delete: empty name"));
        return do_remove(shared_from_this(), r.path(ns, name), delete_body(options),
                         options.grace_period_seconds);
    }

    Task<std::unique_ptr<WatchStream>> watch(const ApiResource& r, std::string_view ns,
                                             const ListOptions& options) override {
        return do_watch(shared_from_this(), r, r.path(ns) + list_query(options, true));
    }

    Task<net::HttpResponse> raw(net::HttpRequestSpec spec) override {
        return do_raw(shared_from_this(), std::move(spec));
    }

    std::uint64_t requests_sent(std::string_view verb) const override {
        for (std::size_t i = 0; i < kVerbNames.size(); ++i)
            if (kVerbNames[i] == verb) return counters_[i].load(std::memory_order_relaxed);
        return 0;
    }

    const ClientConfig& config() const override { return config_; }

private:
    using Self = std::shared_ptr<ClientImpl>;

    template <class T>
    static Task<T> fail(Error e) {
        co_return e;
    }

    static std::string delete_body(const DeleteOptions& o) {
        json::object body;
        if (o.grace_period_seconds) body["gracePeriodSeconds"] = *o.grace_period_seconds;
        if (!o.propagation_policy.empty()) body["propagationPolicy"] = o.propagation_policy;
        if (o.precondition_uid || o.precondition_resource_version) {
            json::object pre;
            if (o.precondition_uid) pre["uid"] = *o.precondition_uid;
            if (o.precondition_resource_version)
                pre["resourceVersion"] = *o.precondition_resource_version;
            body["preconditions"] = std::move(pre);
        }
        if (body.empty()) return {};
        body["kind"] = "DeleteOptions";
        body["apiVersion"] = "v1";
        return json::serialize(body);
    }

    net::HttpRequestSpec make_spec(std::string method, std::string target, std::string body,
                                   std::string content_type) const {
        net::HttpRequestSpec spec;
        spec.method = std::move(method);
        spec.target = std::move(target);
        spec.headers.emplace_back("Accept", "application/json");
        if (!body.empty()) spec.headers.emplace_back("Content-Type", std::move(content_type));
        spec.body = std::move(body);
        spec.timeout = config_.timeout;
        return spec;
    }

    // Waits for the rate limiter, counts the request and sends it.
    static awaitable<Result<net::HttpResponse>> send(Self self, Verb verb,
                                                     net::HttpRequestSpec spec) {
        co_await self->limiter_.acquire();
        self->counters_[verb].fetch_add(1, std::memory_order_relaxed);
        co_return co_await self->http_.request(std::move(spec));
    }

    // A request whose 2xx answer is one object.
    static Task<Object> object_call(Self self, Verb verb, std::string method, std::string target,
                                    std::string body, std::string content_type) {
        auto spec = self->make_spec(method, target, std::move(body), std::move(content_type));
        auto resp = co_await send(self, verb, std::move(spec));
        if (!resp) co_return resp.error();
        if (resp->status < 200 || resp->status > 299)
            co_return detail::error_from_response(resp->status, resp->body, method, target);
        co_return parse_object(resp->body, method + " " + target);
    }

    static Task<ObjectList> do_list(Self self, ApiResource r, std::string target) {
        auto resp = co_await send(self, kList, self->make_spec("GET", target, {}, {}));
        if (!resp) co_return resp.error();
        if (resp->status != 200)
            co_return detail::error_from_response(resp->status, resp->body, "GET", target);
        auto obj = parse_object(resp->body, "GET " + target);
        if (!obj) co_return obj.error();
        ObjectList out;
        if (auto* md = obj->if_contains("metadata"); md && md->is_object()) {
            if (auto* rv = md->as_object().if_contains("resourceVersion"); rv && rv->is_string())
                out.resource_version = std::string(rv->as_string());
            if (auto* c = md->as_object().if_contains("continue"); c && c->is_string())
                out.continue_token = std::string(c->as_string());
        }
        if (auto* items = obj->if_contains("items"); items && items->is_array()) {
            out.items.reserve(items->as_array().size());
            for (auto& item : items->as_array()) {
                if (!item.is_object())
                    co_return Error(errc::parse_error,
                                    "GET " + target + ": a list item is not an object");
                out.items.push_back(std::move(item.as_object()));
                fill_type(out.items.back(), r);
            }
        } else if (auto* bad = obj->if_contains("items"); bad && !bad->is_null()) {
            co_return Error(errc::parse_error, "GET " + target + ": items is not a list");
        }
        co_return out;
    }

    static Task<ObjectList> do_list_all(Self self, ApiResource r, std::string ns,
                                        ListOptions options) {
        ObjectList all;
        bool first = true;
        while (true) {
            auto page = co_await do_list(self, r, r.path(ns) + list_query(options, false));
            if (!page) co_return page.error();
            if (first) all.resource_version = page->resource_version;
            first = false;
            for (auto& item : page->items) all.items.push_back(std::move(item));
            if (page->continue_token.empty()) break;
            options.continue_token = std::move(page->continue_token);
            // Later pages are served at the first page's revision; the token carries it.
            options.resource_version.clear();
            options.resource_version_match.clear();
        }
        co_return all;
    }

    static Task<std::optional<Object>> do_remove(Self self, std::string target, std::string body,
                                                 std::optional<std::int64_t> grace) {
        auto resp = co_await send(
            self, kDelete, self->make_spec("DELETE", target, std::move(body), "application/json"));
        if (!resp) co_return resp.error();
        if (resp->status < 200 || resp->status > 299)
            co_return detail::error_from_response(resp->status, resp->body, "DELETE", target);
        auto obj = parse_object(resp->body, "DELETE " + target);
        if (!obj) co_return obj.error();
        if (kube::kind(*obj) == "Status") co_return std::optional<Object>();
        // kube-apiserver answers 200 with the object both when it went at once and when it
        // stays (terminating); 202 only for some foreground deletions. What remains: an object
        // waiting for finalizers, or a graceful deletion that was not cut to zero.
        bool stays = resp->status == 202 || !kube::finalizers(*obj).empty();
        if (!stays && kube::deletion_timestamp(*obj) && grace.value_or(-1) != 0) {
            auto* g = kube::get_path(*obj, "metadata.deletionGracePeriodSeconds");
            stays = g && g->is_int64() && g->as_int64() > 0;
        }
        if (!stays) co_return std::optional<Object>();
        co_return std::optional<Object>(std::move(*obj));
    }

    static Task<std::unique_ptr<WatchStream>> do_watch(Self self, ApiResource r,
                                                       std::string target) {
        co_await self->limiter_.acquire();
        self->counters_[kWatch].fetch_add(1, std::memory_order_relaxed);
        auto stream = co_await self->http_.stream(self->make_spec("GET", target, {}, {}));
        if (!stream) co_return stream.error();
        int status = (*stream)->status();
        if (status != 200) {
            // The error body is small (a Status); read it whole but bounded.
            std::string body;
            while (body.size() < 64 * 1024) {
                auto part = co_await (*stream)->read_some();
                if (!part || !*part) break;
                body += **part;
            }
            (*stream)->close();
            co_return detail::error_from_response(status, body, "GET", target);
        }
        co_return std::unique_ptr<WatchStream>(
            std::make_unique<WatchStreamImpl>(std::move(*stream), std::move(r)));
    }

    static Task<net::HttpResponse> do_raw(Self self, net::HttpRequestSpec spec) {
        if (!spec.timeout) spec.timeout = self->config_.timeout;
        co_return co_await send(self, kRaw, std::move(spec));
    }

    ClientConfig config_;
    net::HttpClient http_;
    RateLimiter limiter_;
    std::array<std::atomic<std::uint64_t>, kVerbCount> counters_{};
};

}  // namespace

Result<std::shared_ptr<Client>> Client::make(asio::any_io_executor ex, ClientConfig config) {
    if (config.server.empty())
        return Error(errc::invalid_argument, "client config: server is empty");
    auto url = net::parse_url(config.server);
    if (!url) return Error(errc::invalid_argument, "client config: " + url.error().detail);
    if (config.client_cert_pem.empty() != config.client_key_pem.empty())
        return Error(errc::invalid_argument,
                     "client config: a client certificate needs its key and the other way round");
    net::HttpClientOptions http;
    http.base_url = config.server;
    http.bearer_token = config.bearer_token;
    http.request_timeout = config.timeout;
    http.user_agent = config.user_agent;
    http.max_idle_connections = 16;  // controllers issue many requests side by side
    if (url->scheme == "https") {
        net::ClientTlsOptions tls;
        if (!config.ca_pem.empty()) tls.ca = net::PemSource::from_pem(config.ca_pem);
        if (!config.client_cert_pem.empty()) {
            tls.cert = net::PemSource::from_pem(config.client_cert_pem);
            tls.key = net::PemSource::from_pem(config.client_key_pem);
        }
        tls.verify_peer = !config.insecure_skip_tls_verify;
        auto ctx = net::TlsContext::make_client(tls);
        if (!ctx)
            return Error(errc::invalid_argument,
                         "client config: unusable TLS material: " + ctx.error().message());
        http.tls = std::move(*ctx);
    }
    if (!config.tls_server_name.empty())
        log::get("kube.client")
            ->warn(
                "tls-server-name {} is not supported; the server certificate is checked "
                "against {}",
                config.tls_server_name, url->host);
    try {
        return std::shared_ptr<Client>(
            std::make_shared<ClientImpl>(std::move(ex), std::move(config), std::move(http)));
    } catch (const ErrorException& e) {
        return Error(errc::invalid_argument, "client config: " + e.error().message());
    }
}

}  // namespace kedge::kube::client
