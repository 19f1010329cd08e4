#pragma once
// Which objects relate to which node, for the Node authorizer: the node each pod is bound to and
// the ConfigMaps, Secrets, PersistentVolumeClaims and ServiceAccounts those pods reference (the
// relationships kube's node authorizer graph keeps).

#include <boost/json/fwd.hpp>
#include <cstddef>
#include <map>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace kedge::apiserver::auth {

// Kinds of namespaced objects a node may read because its pods reference them.
enum class NodeObjectKind { kConfigMap, kSecret, kPersistentVolumeClaim, kServiceAccount };

// The question the Node authorizer asks; the server answers from its caches. Thread-safe.
class NodeGraph {
public:
    virtual ~NodeGraph() = default;
    // spec.nodeName of the pod, nullopt when the pod is unknown or not scheduled.
    virtual std::optional<std::string> pod_node(std::string_view namespace_,
                                                std::string_view name) const = 0;
    // Whether any pod bound to `node` references the object.
    virtual bool node_references(std::string_view node, NodeObjectKind kind,
                                 std::string_view namespace_, std::string_view name) const = 0;
};

// A NodeGraph kept up to date from pod watch events. Updates and queries may come from any
// thread (a shared_mutex guards the index; queries take it shared).
class InMemoryNodeGraph final : public NodeGraph {
public:
    // Adds, replaces (on update) or removes (deleted=true) one pod. Objects that are not pods
    // with a name are ignored; a pod without spec.nodeName is forgotten (it relates to no node).
    void on_pod_event(const boost::json::object& pod, bool deleted);
    // Replaces everything with `pods` (after a relist).
    void reset(const std::vector<boost::json::object>& pods);

    std::optional<std::string> pod_node(std::string_view namespace_,
                                        std::string_view name) const override;
    bool node_references(std::string_view node, NodeObjectKind kind, std::string_view namespace_,
                         std::string_view name) const override;

    // "<namespace>/<name>" of the pods bound to `node`, sorted.
    std::vector<std::string> pods_on_node(std::string_view node) const;
    std::size_t pod_count() const;

private:
    struct PodEntry {
        std::string node;
        std::vector<std::string> ref_keys;  // keys into refs_
    };
    void remove_locked(const std::string& pod_key);
    void add_locked(const boost::json::object& pod);

    mutable std::shared_mutex mutex_;
    std::map<std::string, PodEntry, std::less<>> pods_;  // "ns/name" -> entry
    std::unordered_map<std::string, std::size_t> refs_;  // ref key -> pod count
};

}  // namespace kedge::apiserver::auth
