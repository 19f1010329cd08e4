#pragma once
// Informers: keep a local, indexed copy of one resource type in sync with the API server and
// call handlers on every change. List once, then watch from the list's resourceVersion; after a
// dropped watch resume from the last version seen (bookmarks advance it); relist only when the
// server says that version is gone (410). Thousands of reconnecting edges never cause a relist.
//
// Thread model: an informer runs on the executor given to make() (single-threaded: a strand or
// an io_context run by one thread); handlers run there too, after the store was updated, and
// the store may be read there at any time without locks.

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/json/object.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "kube/client/client.hpp"

namespace kedge::kube::client {

// Objects are shared and immutable once stored: handlers may keep them.
using ObjectPtr = std::shared_ptr<const boost::json::object>;

// Index values of one object (e.g. its node name). An object may have several or none.
using IndexFunc = std::function<std::vector<std::string>(const boost::json::object&)>;

// Predefined index functions.
namespace indexers {
inline constexpr std::string_view kNamespace = "namespace";  // always present on every store
IndexFunc by_namespace();
IndexFunc by_node_name();          // pods: spec.nodeName ("" not indexed)
IndexFunc by_controller_uid();     // metadata.ownerReferences[controller=true].uid
IndexFunc by_owner_uid();          // every ownerReference uid
}  // namespace indexers

// The local cache: objects by key ("<ns>/<name>" or "<name>", kube::cache_key) plus indexes.
class Store {
  public:
    Store();
    void add_index(std::string name, IndexFunc f);  // before objects are added

    ObjectPtr get(std::string_view key) const;  // nullptr when absent
    ObjectPtr get(std::string_view ns, std::string_view name) const;
    std::vector<ObjectPtr> list() const;
    std::vector<ObjectPtr> by_index(std::string_view index, std::string_view value) const;
    std::size_t size() const;
    template <class F>
    void for_each(F&& f) const {
        for (const auto& [k, v] : objects_) f(v);
    }

    // Used by the informer (and by tests that drive a store directly). put returns the previous
    // object (nullptr when new); erase returns the removed one (nullptr when absent).
    ObjectPtr put(ObjectPtr obj);
    ObjectPtr erase(std::string_view key);

  private:
    void index(const std::string& key, const boost::json::object& obj, bool add);
    std::map<std::string, ObjectPtr, std::less<>> objects_;
    struct Index {
        IndexFunc func;
        std::map<std::string, std::set<std::string>, std::less<>> keys_by_value;
    };
    std::map<std::string, Index, std::less<>> indexes_;
};

struct EventHandlers {
    std::function<void(const ObjectPtr& obj)> on_add;
    // Called for every MODIFIED event, and on relist/resync for objects whose
    // resourceVersion changed (resync: for every object, old == now).
    std::function<void(const ObjectPtr& old, const ObjectPtr& now)> on_update;
    // The last state the informer knew (on a relist that finds an object gone, that is the
    // last stored version, not the final one).
    std::function<void(const ObjectPtr& last)> on_delete;
};

struct InformerOptions {
    ApiResource resource;
    std::string namespace_;  // "" = all namespaces
    std::string label_selector;
    std::string field_selector;
    // Call on_update(obj, obj) for every stored object this often; 0 = never.
    std::chrono::milliseconds resync_period{0};
    std::int64_t page_size = 500;  // list paging
    // Server-side timeout asked for each watch request (the watch is then resumed).
    int watch_timeout_seconds = 300;
    std::chrono::milliseconds min_backoff{200}, max_backoff{30'000};
};

// Counters for tests, metrics and the "no relist" guarantee.
struct InformerStats {
    std::uint64_t lists = 0;          // full lists (initial + after 410)
    std::uint64_t watches = 0;        // watch requests started
    std::uint64_t events = 0;         // watch events applied (not bookmarks)
    std::uint64_t bookmarks = 0;
    std::uint64_t errors = 0;         // failed list/watch attempts
};

class Informer : public std::enable_shared_from_this<Informer> {
  public:
    static std::shared_ptr<Informer> make(boost::asio::any_io_executor ex,
                                          std::shared_ptr<Client> client,
                                          InformerOptions options);
    virtual ~Informer() = default;

    // Before start().
    virtual void add_index(std::string name, IndexFunc f) = 0;
    // Any time; after the initial sync the new handler first gets on_add for every stored
    // object (as client-go does).
    virtual void add_handlers(EventHandlers handlers) = 0;

    virtual void start() = 0;  // idempotent
    virtual void stop() = 0;   // closes the watch; handlers are not called afterwards

    // True once the first list was stored and its handlers called.
    virtual bool has_synced() const = 0;
    // Waits for has_synced(); false on timeout or stop.
    virtual boost::asio::awaitable<bool> wait_synced(std::chrono::milliseconds timeout) = 0;

    virtual const Store& store() const = 0;
    // The last resourceVersion seen (list, event or bookmark).
    virtual std::string last_resource_version() const = 0;
    virtual InformerStats stats() const = 0;
    virtual const InformerOptions& options() const = 0;
};

// One shared informer per resource (whole-cluster, no selectors), so several controllers share
// a single list-watch.
class InformerFactory {
  public:
    InformerFactory(boost::asio::any_io_executor ex, std::shared_ptr<Client> client);
    // Created (not started) on first use; the same object afterwards.
    std::shared_ptr<Informer> get(const ApiResource& r);
    void start_all();
    void stop_all();
    // Every informer created so far has synced; false on timeout.
    boost::asio::awaitable<bool> wait_synced(std::chrono::milliseconds timeout);
    const std::shared_ptr<Client>& client() const { return client_; }
    // Every informer created so far, by "<resource>" (core) or "<group>/<resource>" (read on
    // the factory's executor).
    const std::map<std::string, std::shared_ptr<Informer>>& informers() const {
        return informers_;
    }

  private:
    boost::asio::any_io_executor ex_;
    std::shared_ptr<Client> client_;
    std::map<std::string, std::shared_ptr<Informer>> informers_;  // "pods", "apps/deployments"
    bool started_ = false;
};

}  // namespace kedge::kube::client
