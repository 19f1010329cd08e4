#include "cloud/edgecontroller/need_tracker.hpp"

#include "kube/object.hpp"

namespace kedge::cloud::edgecontroller {

std::set<ObjectKey> pod_references(const boost::json::object& pod) {
    std::set<ObjectKey> out;
    std::string ns(kube::namespace_of(pod));
    auto refs = kube::referenced_configmaps_and_secrets(pod);
    for (const auto& n : refs.config_maps) out.insert({"configmap", ns + "/" + n});
    for (const auto& n : refs.secrets) out.insert({"secret", ns + "/" + n});
    return out;
}

void NeedTracker::add_refs(const std::string& node, const std::set<ObjectKey>& refs,
                           NeedChange& change) {
    if (node.empty()) return;
    auto& counts = counts_[node];
    for (const auto& r : refs) {
        if (counts[r]++ == 0) {
            change.added.push_back(r);
            nodes_[r].insert(node);
        }
    }
}

void NeedTracker::drop_refs(const std::string& node, const std::set<ObjectKey>& refs,
                            NeedChange& change) {
    if (node.empty()) return;
    auto nit = counts_.find(node);
    if (nit == counts_.end()) return;
    for (const auto& r : refs) {
        auto it = nit->second.find(r);
        if (it == nit->second.end()) continue;
        if (--it->second > 0) continue;
        nit->second.erase(it);
        change.removed.push_back(r);
        auto rit = nodes_.find(r);
        if (rit != nodes_.end()) {
            rit->second.erase(node);
            if (rit->second.empty()) nodes_.erase(rit);
        }
    }
    if (nit->second.empty()) counts_.erase(nit);
}

std::vector<NeedChange> NeedTracker::set_pod(const std::string& pod_key, const std::string& node,
                                             std::set<ObjectKey> refs) {
    std::vector<NeedChange> out;
    auto it = pods_.find(pod_key);
    if (it == pods_.end()) {
        NeedChange add{node, {}, {}};
        add_refs(node, refs, add);
        if (!node.empty()) pods_.emplace(pod_key, PodEntry{node, std::move(refs)});
        if (!add.added.empty()) out.push_back(std::move(add));
        return out;
    }
    PodEntry old = it->second;
    if (old.node == node && old.refs == refs) return out;
    // Add before dropping so an object still needed on the same node is never removed and
    // re-added.
    NeedChange on_new{node, {}, {}};
    add_refs(node, refs, on_new);
    NeedChange on_old{old.node, {}, {}};
    drop_refs(old.node, old.refs, on_old);
    if (old.node == node) {
        on_new.removed = std::move(on_old.removed);
        if (!on_new.added.empty() || !on_new.removed.empty()) out.push_back(std::move(on_new));
    } else {
        if (!on_old.removed.empty()) out.push_back(std::move(on_old));
        if (!on_new.added.empty()) out.push_back(std::move(on_new));
    }
    if (node.empty()) {
        pods_.erase(it);
    } else {
        it->second = PodEntry{node, std::move(refs)};
    }
    return out;
}

std::vector<NeedChange> NeedTracker::remove_pod(const std::string& pod_key) {
    std::vector<NeedChange> out;
    auto it = pods_.find(pod_key);
    if (it == pods_.end()) return out;
    NeedChange change{it->second.node, {}, {}};
    drop_refs(it->second.node, it->second.refs, change);
    pods_.erase(it);
    if (!change.removed.empty()) out.push_back(std::move(change));
    return out;
}

bool NeedTracker::needs(std::string_view node, const ObjectKey& object) const {
    auto it = counts_.find(node);
    return it != counts_.end() && it->second.count(object) > 0;
}

std::vector<std::string> NeedTracker::nodes_needing(const ObjectKey& object) const {
    auto it = nodes_.find(object);
    if (it == nodes_.end()) return {};
    return {it->second.begin(), it->second.end()};
}

std::vector<ObjectKey> NeedTracker::needed_by(std::string_view node) const {
    std::vector<ObjectKey> out;
    auto it = counts_.find(node);
    if (it == counts_.end()) return out;
    for (const auto& [k, n] : it->second) out.push_back(k);
    return out;
}

std::string NeedTracker::node_of(std::string_view pod_key) const {
    auto it = pods_.find(pod_key);
    return it == pods_.end() ? std::string() : it->second.node;
}

}  // namespace kedge::cloud::edgecontroller
