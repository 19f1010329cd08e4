#pragma once
// Turns the store's change stream into the events of one Kubernetes watch: filtered by
// resource, namespace, name and selectors, objects that stop matching sent as DELETED (as
// kube-apiserver does), repeats of what the client already has dropped, and the resourceVersion
// a BOOKMARK may safely carry. Pure: the meta server feeds it on the watch's strand.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "edge/metaserver/list_query.hpp"
#include "edge/metaserver/resources.hpp"
#include "edge/metastore/meta_store.hpp"

namespace kedge::edge::metaserver {

// The event state of one watch.
class WatchEvents {
public:
    // from_rv: the resourceVersion the client watches from (for a watch without one: the
    // high-water mark read before subscribing). initial: the client has nothing yet (no RV or
    // "0"), so it learns every object through add_initial() and exact ADDED/MODIFIED/DELETED
    // follow; otherwise the client is assumed to hold the state at from_rv.
    WatchEvents(ApiResource resource, ObjectFilter filter, std::uint64_t from_rv, bool initial);

    // An object of the current state, as a synthetic ADDED line ("" when it does not match).
    std::string add_initial(const MetaObject& object);
    // The event line of one change ("" when the client does not see it).
    std::string on_change(const MetaChange& change);
    // The resourceVersion a BOOKMARK can carry: every change up to it has been through
    // on_change, so a client resuming from it misses nothing.
    std::uint64_t bookmark_rv() const { return seen_rv_; }
    // {"type":"BOOKMARK","object":{kind, apiVersion, metadata.resourceVersion}}
    std::string bookmark_line() const;

private:
    std::string event_line(const char* type, const boost::json::object& obj) const;

    ApiResource resource_;
    ObjectFilter filter_;
    GroupVersionResource gvr_;
    std::uint64_t from_rv_;
    bool initial_;
    std::uint64_t seen_rv_;
    // Objects the client holds (matching, not deleted) -> the resourceVersion it has.
    std::map<std::string, std::uint64_t> known_;
};

// {"type":"ERROR","object":<Status>} with the 410 Expired Status of a too old resourceVersion
// ("too old resource version: 5 (oldest available: 100)").
std::string expired_event_line(std::string_view message);

}  // namespace kedge::edge::metaserver
