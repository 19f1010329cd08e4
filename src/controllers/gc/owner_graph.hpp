#pragma once
// The garbage collector's graph of owners and dependents across every followed resource type,
// fed by informer events. Pure (no Asio): observe/forget return the uids whose state must be
// re-checked, which the controller puts on its work queue.

#include <boost/json/object.hpp>

#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "kube/object.hpp"

namespace kedge::controllers::gc {

class OwnerGraph {
public:
    // Where an object lives, so that its current state can be read from its informer's store.
    struct Node {
        std::string resource_id;  // DiscoveredResource::id()
        std::string namespace_;
        std::string name;
        std::vector<std::string> owner_uids;
        bool deleting = false;  // deletionTimestamp set
        // Being deleted with the orphan or foregroundDeletion finalizer: work for the GC.
        bool gc_finalizer = false;
    };

    // An object was added or changed. Returns the uids to re-check: the object itself when it
    // has owners or a GC finalizer, its owners that are being deleted (their dependents changed),
    // and its dependents when it just entered foreground deletion.
    std::vector<std::string> observe(std::string_view resource_id, const boost::json::object& obj);
    // An object is gone. Returns its dependents (their owner may be dangling now) and its owners
    // that are being deleted (one fewer dependent to wait for).
    std::vector<std::string> forget(const boost::json::object& last);

    const Node* find(std::string_view uid) const;
    // uids whose ownerReferences name this owner uid (objects currently known).
    std::vector<std::string> dependents(std::string_view owner_uid) const;
    // Every uid worth a periodic re-check (has owners or a GC finalizer).
    std::vector<std::string> interesting() const;
    std::size_t size() const { return nodes_.size(); }

private:
    void unlink(const std::string& uid, const Node& node);
    std::map<std::string, Node, std::less<>> nodes_;
    std::map<std::string, std::set<std::string>, std::less<>> dependents_;  // owner uid -> uids
};

}  // namespace kedge::controllers::gc
