#include "controllers/gc/owner_graph.hpp"

#include <algorithm>

#include "controllers/gc/gc_logic.hpp"

namespace kedge::controllers::gc {
namespace json = boost::json;

namespace {

void add_unique(std::vector<std::string>& out, const std::string& uid) {
    if (std::find(out.begin(), out.end(), uid) == out.end()) out.push_back(uid);
}

}  // namespace

void OwnerGraph::unlink(const std::string& uid, const Node& node) {
    for (const auto& o : node.owner_uids) {
        auto it = dependents_.find(o);
        if (it == dependents_.end()) continue;
        it->second.erase(uid);
        if (it->second.empty()) dependents_.erase(it);
    }
}

std::vector<std::string> OwnerGraph::observe(std::string_view resource_id,
                                             const json::object& obj) {
    std::vector<std::string> out;
    std::string uid(kube::uid(obj));
    if (uid.empty()) return out;
    Node node;
    node.resource_id = std::string(resource_id);
    node.namespace_ = std::string(kube::namespace_of(obj));
    node.name = std::string(kube::name(obj));
    for (const auto& r : kube::owner_references(obj))
        if (!r.uid.empty()) add_unique(node.owner_uids, r.uid);
    node.deleting = kube::deletion_timestamp(obj).has_value();
    node.gc_finalizer = node.deleting && (kube::has_finalizer(obj, kFinalizerOrphan) ||
                                          kube::has_finalizer(obj, kFinalizerForeground));
    const bool foreground = node.deleting && kube::has_finalizer(obj, kFinalizerForeground);

    std::vector<std::string> owners = node.owner_uids;
    bool was_foreground = false;
    // Only changes that matter to the GC put the object on the queue (a status heartbeat of a
    // Lease owned by its Node does not).
    bool changed = true;
    if (auto it = nodes_.find(uid); it != nodes_.end()) {
        const Node& old = it->second;
        for (const auto& o : old.owner_uids) add_unique(owners, o);
        was_foreground = old.gc_finalizer;
        changed = old.owner_uids != node.owner_uids || old.deleting != node.deleting ||
                  old.gc_finalizer != node.gc_finalizer;
        unlink(uid, old);
    }
    for (const auto& o : node.owner_uids) dependents_[o].insert(uid);

    if (changed && (!node.owner_uids.empty() || node.gc_finalizer)) out.push_back(uid);
    for (const auto& o : owners) {
        auto it = nodes_.find(o);
        if (it != nodes_.end() && it->second.gc_finalizer) add_unique(out, o);
    }
    if (foreground && !was_foreground)
        for (const auto& d : dependents(uid)) add_unique(out, d);
    nodes_[uid] = std::move(node);
    return out;
}

std::vector<std::string> OwnerGraph::forget(const json::object& last) {
    std::vector<std::string> out;
    std::string uid(kube::uid(last));
    auto it = nodes_.find(uid);
    if (it == nodes_.end()) return out;
    for (const auto& o : it->second.owner_uids) {
        auto owner = nodes_.find(o);
        if (owner != nodes_.end() && owner->second.deleting) add_unique(out, o);
    }
    unlink(uid, it->second);
    nodes_.erase(it);
    for (const auto& d : dependents(uid)) add_unique(out, d);
    return out;
}

const OwnerGraph::Node* OwnerGraph::find(std::string_view uid) const {
    auto it = nodes_.find(uid);
    return it == nodes_.end() ? nullptr : &it->second;
}

std::vector<std::string> OwnerGraph::dependents(std::string_view owner_uid) const {
    auto it = dependents_.find(owner_uid);
    if (it == dependents_.end()) return {};
    return {it->second.begin(), it->second.end()};
}

std::vector<std::string> OwnerGraph::interesting() const {
    std::vector<std::string> out;
    for (const auto& [uid, n] : nodes_)
        if (!n.owner_uids.empty() || n.gc_finalizer) out.push_back(uid);
    return out;
}

}  // namespace kedge::controllers::gc
