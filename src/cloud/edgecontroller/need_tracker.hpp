#pragma once
// Who needs which ConfigMaps and Secrets: a ConfigMap or Secret goes to a node only while at
// least one pod bound to that node references it (PROTOCOL.md §12, upstream edgecontroller's
// "location" cache). Pure bookkeeping, no Kubernetes client: fed by the pod informer's events.

#include <boost/json/object.hpp>

#include <compare>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace kedge::cloud::edgecontroller {

// One object as the edge names it: wire type ("pod", "configmap", ...) and informer cache key
// ("<ns>/<name>", or "<name>" for cluster-scoped objects).
struct ObjectKey {
    std::string type;
    std::string key;

    auto operator<=>(const ObjectKey&) const = default;
    bool operator==(const ObjectKey&) const = default;
};

// The configmap/secret keys a pod references (kube::referenced_configmaps_and_secrets).
std::set<ObjectKey> pod_references(const boost::json::object& pod);

// What one pod change means for one node: objects it now needs and no longer needs.
struct NeedChange {
    std::string node;
    std::vector<ObjectKey> added;    // first pod on that node referencing it
    std::vector<ObjectKey> removed;  // last pod on that node referencing it went away
};

// Reference counts node -> object -> pods. Not thread-safe (owned by the controller's executor).
class NeedTracker {
public:
    // The pod `pod_key` is bound to `node` (may be "" = unbound) with these references. Returns
    // the per-node changes (at most two: the old node and the new one).
    std::vector<NeedChange> set_pod(const std::string& pod_key, const std::string& node,
                                    std::set<ObjectKey> refs);
    std::vector<NeedChange> remove_pod(const std::string& pod_key);

    bool needs(std::string_view node, const ObjectKey& object) const;
    // Nodes with at least one pod referencing the object.
    std::vector<std::string> nodes_needing(const ObjectKey& object) const;
    // Every object the node's pods reference.
    std::vector<ObjectKey> needed_by(std::string_view node) const;
    // The node a tracked pod is bound to ("" when unknown).
    std::string node_of(std::string_view pod_key) const;
    std::size_t pod_count() const { return pods_.size(); }

private:
    struct PodEntry {
        std::string node;
        std::set<ObjectKey> refs;
    };
    void add_refs(const std::string& node, const std::set<ObjectKey>& refs, NeedChange& change);
    void drop_refs(const std::string& node, const std::set<ObjectKey>& refs, NeedChange& change);

    std::map<std::string, PodEntry, std::less<>> pods_;
    // node -> object -> number of pods on that node referencing it.
    std::map<std::string, std::map<ObjectKey, int>, std::less<>> counts_;
    // object -> nodes needing it (reverse index, for configmap/secret events).
    std::map<ObjectKey, std::set<std::string>> nodes_;
};

}  // namespace kedge::cloud::edgecontroller
