#pragma once
// A REST client of the Kubernetes API (kube-apiserver or kedge-apiserver): get, list, create,
// update, patch, delete and watch of JSON objects, with client-side rate limiting. Built on
// net::HttpClient; Beast stays in net's .cpp files.
//
// Errors: the server's Status is mapped to errc and its message kept in Error::detail:
//   404 not_found, 409 AlreadyExists already_exists, 409 other conflict, 410 expired,
//   401 unauthorized, 403 forbidden, 400/422 invalid_argument, 413 too_large, 429/503
//   unavailable, 504 timeout, other 5xx internal; transport failures keep net's codes
//   (unavailable, timeout, closed, io_error, crypto_error).

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/json/object.hpp>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.hpp"
#include "kube/client/config.hpp"
#include "kube/client/resource.hpp"
#include "kube/patch.hpp"
#include "net/http_client.hpp"

namespace kedge::kube::client {

// Query parameters of list and watch.
struct ListOptions {
    std::string label_selector;
    std::string field_selector;
    std::string resource_version;        // "" = most recent; "0" = any (served from cache)
    std::string resource_version_match;  // "", "NotOlderThan", "Exact"
    std::int64_t limit = 0;              // list page size; 0 = no paging
    std::string continue_token;
    std::optional<int> timeout_seconds;  // watch: server ends the watch after this long
    bool allow_watch_bookmarks = false;
};

// One page of a list. Kubernetes omits apiVersion/kind in list items; Client fills them in from
// the resource so that every object a caller sees carries them.
struct ObjectList {
    std::vector<boost::json::object> items;
    std::string resource_version;
    std::string continue_token;
};

// DeleteOptions.
struct DeleteOptions {
    std::optional<std::int64_t> grace_period_seconds;
    std::string propagation_policy;  // "", "Orphan", "Background", "Foreground"
    std::optional<std::string> precondition_uid;
    std::optional<std::string> precondition_resource_version;
};

enum class WatchEventType { kAdded, kModified, kDeleted, kBookmark, kError };
std::string_view to_string(WatchEventType t);

// One line of a watch. For kError, object is the Status the server sent (code 410 = the
// requested resourceVersion is too old: relist).
struct WatchEvent {
    WatchEventType type = WatchEventType::kAdded;
    boost::json::object object;
};

// An open watch. Use from the client's executor.
class WatchStream {
  public:
    virtual ~WatchStream() = default;
    // The next event; nullopt when the server ended the watch (timeout, shutdown); an error for
    // a broken connection or a malformed line (errc::parse_error).
    virtual boost::asio::awaitable<Result<std::optional<WatchEvent>>> next() = 0;
    // Aborts a pending next() (it returns errc::closed).
    virtual void close() = 0;
};

// A client of one API server. Thread model: call from coroutines on the executor given to
// make() (a strand or a single-threaded io_context); concurrent calls are fine.
class Client {
  public:
    // invalid_argument for a config without server, or with unusable TLS material.
    static Result<std::shared_ptr<Client>> make(boost::asio::any_io_executor ex,
                                                ClientConfig config);
    virtual ~Client() = default;

    using Object = boost::json::object;
    template <class T>
    using Task = boost::asio::awaitable<Result<T>>;

    // GET one object (or a subresource such as "status", "scale").
    virtual Task<Object> get(const ApiResource& r, std::string_view ns, std::string_view name,
                             std::string_view subresource = {}) = 0;
    // GET one page of a collection; ns "" = all namespaces.
    virtual Task<ObjectList> list(const ApiResource& r, std::string_view ns,
                                  const ListOptions& options = {}) = 0;
    // Every page (follows continue tokens); resource_version is the first page's.
    virtual Task<ObjectList> list_all(const ApiResource& r, std::string_view ns,
                                      ListOptions options = {}) = 0;
    // POST to the collection (ns from the argument, not the object). With a subresource (e.g.
    // "binding", "eviction") the POST goes to <collection>/<name>/<subresource>, name taken
    // from obj.metadata.name.
    virtual Task<Object> create(const ApiResource& r, std::string_view ns, const Object& obj,
                                std::string_view subresource = {}) = 0;
    // PUT of obj (namespace/name from its metadata; resourceVersion in it is the precondition).
    virtual Task<Object> update(const ApiResource& r, const Object& obj,
                                std::string_view subresource = {}) = 0;
    virtual Task<Object> patch(const ApiResource& r, std::string_view ns, std::string_view name,
                               kube::PatchType type, std::string body,
                               std::string_view subresource = {}) = 0;
    // DELETE; returns the object when it still exists afterwards (finalizers, graceful
    // deletion, foreground propagation), nullopt when it is gone.
    virtual Task<std::optional<Object>> remove(const ApiResource& r, std::string_view ns,
                                               std::string_view name,
                                               const DeleteOptions& options = {}) = 0;
    // GET ?watch=true. Returns once the response head arrived; an HTTP error status (e.g. 410)
    // is an error here.
    virtual Task<std::unique_ptr<WatchStream>> watch(const ApiResource& r, std::string_view ns,
                                                     const ListOptions& options) = 0;
    // Any other request (discovery, /healthz), rate limited like the rest.
    virtual Task<net::HttpResponse> raw(net::HttpRequestSpec spec) = 0;

    // Requests sent so far, by verb ("get", "list", "watch", "create", "update", "patch",
    // "delete", "raw"): tests and metrics.
    virtual std::uint64_t requests_sent(std::string_view verb) const = 0;
    virtual const ClientConfig& config() const = 0;
};

}  // namespace kedge::kube::client
