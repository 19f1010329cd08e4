#include "apiserver/auth/node_graph.hpp"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/string.hpp>
#include <mutex>
#include <set>

#include "kube/object.hpp"

namespace kedge::apiserver::auth {

namespace {

// Unit separator: cannot occur in a Kubernetes name or namespace.
constexpr char kSep = '\x1f';

std::string ref_key(std::string_view node, NodeObjectKind kind, std::string_view ns,
                    std::string_view name) {
    std::string key;
    key.reserve(node.size() + ns.size() + name.size() + 5);
    key.push_back(static_cast<char>('0' + static_cast<int>(kind)));
    key.push_back(kSep);
    key.append(node).push_back(kSep);
    key.append(ns).push_back(kSep);
    key.append(name);
    return key;
}

std::string pod_key(std::string_view ns, std::string_view name) {
    std::string key(ns);
    key.push_back('/');
    key.append(name);
    return key;
}

std::string_view string_at(const boost::json::object& obj, std::string_view path) {
    const auto* v = kube::get_path(obj, path);
    if (v == nullptr || !v->is_string()) return {};
    return v->get_string();
}

// PVCs a pod uses: persistentVolumeClaim volumes and generic ephemeral volumes, whose claim is
// named "<pod>-<volume>".
std::set<std::string> referenced_pvcs(const boost::json::object& pod) {
    std::set<std::string> out;
    const auto* volumes = kube::get_path(pod, "spec.volumes");
    if (volumes == nullptr || !volumes->is_array()) return out;
    for (const auto& v : volumes->get_array()) {
        if (!v.is_object()) continue;
        const auto& vol = v.get_object();
        std::string_view claim = string_at(vol, "persistentVolumeClaim.claimName");
        if (!claim.empty()) out.emplace(claim);
        if (const auto* eph = vol.if_contains("ephemeral"); eph != nullptr && eph->is_object()) {
            std::string_view vname = string_at(vol, "name");
            if (!vname.empty())
                out.emplace(std::string(kube::name(pod)) + "-" + std::string(vname));
        }
    }
    return out;
}

std::string_view service_account_of(const boost::json::object& pod) {
    std::string_view sa = string_at(pod, "spec.serviceAccountName");
    if (sa.empty()) sa = string_at(pod, "spec.serviceAccount");
    if (sa.empty()) sa = "default";
    return sa;
}

}  // namespace

void InMemoryNodeGraph::remove_locked(const std::string& key) {
    auto it = pods_.find(key);
    if (it == pods_.end()) return;
    for (const auto& r : it->second.ref_keys) {
        auto ref = refs_.find(r);
        if (ref != refs_.end() && --ref->second == 0) refs_.erase(ref);
    }
    pods_.erase(it);
}

void InMemoryNodeGraph::add_locked(const boost::json::object& pod) {
    std::string_view ns = kube::namespace_of(pod);
    std::string_view name = kube::name(pod);
    std::string_view node = string_at(pod, "spec.nodeName");
    if (name.empty() || node.empty()) return;
    PodEntry entry;
    entry.node = node;
    auto refs = kube::referenced_configmaps_and_secrets(pod);
    for (const auto& cm : refs.config_maps) {
        entry.ref_keys.push_back(ref_key(node, NodeObjectKind::kConfigMap, ns, cm));
    }
    for (const auto& s : refs.secrets) {
        entry.ref_keys.push_back(ref_key(node, NodeObjectKind::kSecret, ns, s));
    }
    for (const auto& pvc : referenced_pvcs(pod)) {
        entry.ref_keys.push_back(ref_key(node, NodeObjectKind::kPersistentVolumeClaim, ns, pvc));
    }
    entry.ref_keys.push_back(
        ref_key(node, NodeObjectKind::kServiceAccount, ns, service_account_of(pod)));
    for (const auto& r : entry.ref_keys) ++refs_[r];
    pods_.emplace(pod_key(ns, name), std::move(entry));
}

void InMemoryNodeGraph::on_pod_event(const boost::json::object& pod, bool deleted) {
    std::string_view name = kube::name(pod);
    if (name.empty()) return;
    std::string key = pod_key(kube::namespace_of(pod), name);
    std::unique_lock lock(mutex_);
    remove_locked(key);
    if (!deleted) add_locked(pod);
}

void InMemoryNodeGraph::reset(const std::vector<boost::json::object>& pods) {
    std::unique_lock lock(mutex_);
    pods_.clear();
    refs_.clear();
    for (const auto& pod : pods) {
        std::string_view name = kube::name(pod);
        if (name.empty()) continue;
        remove_locked(pod_key(kube::namespace_of(pod), name));
        add_locked(pod);
    }
}

std::optional<std::string> InMemoryNodeGraph::pod_node(std::string_view ns,
                                                       std::string_view name) const {
    std::shared_lock lock(mutex_);
    auto it = pods_.find(pod_key(ns, name));
    if (it == pods_.end()) return std::nullopt;
    return it->second.node;
}

bool InMemoryNodeGraph::node_references(std::string_view node, NodeObjectKind kind,
                                        std::string_view ns, std::string_view name) const {
    std::string key = ref_key(node, kind, ns, name);
    std::shared_lock lock(mutex_);
    return refs_.contains(key);
}

std::vector<std::string> InMemoryNodeGraph::pods_on_node(std::string_view node) const {
    std::vector<std::string> out;
    std::shared_lock lock(mutex_);
    for (const auto& [key, entry] : pods_) {
        if (entry.node == node) out.push_back(key);
    }
    return out;
}

std::size_t InMemoryNodeGraph::pod_count() const {
    std::shared_lock lock(mutex_);
    return pods_.size();
}

}  // namespace kedge::apiserver::auth
