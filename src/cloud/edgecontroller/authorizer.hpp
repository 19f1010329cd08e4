#pragma once
// Node authorization of upstream messages (ARCHITECTURE.md §8): a node may touch only its own
// Node and Lease, the status of pods bound to it, read the ConfigMaps, Secrets and service
// account tokens its pods reference, and create events about its own objects. The node is the
// authenticated one (certificate CN), never what the message claims. Pure: facts come from the
// controller's caches through AuthzFacts.

#include <boost/json/object.hpp>

#include <optional>
#include <string>
#include <string_view>

#include "bus/message.hpp"
#include "bus/resource.hpp"
#include "cloud/edgecontroller/need_tracker.hpp"

namespace kedge::cloud::edgecontroller {

// What the authorizer asks about the cluster.
class AuthzFacts {
public:
    virtual ~AuthzFacts() = default;
    // The node the pod is bound to ("" when unbound); nullopt when the pod is unknown.
    virtual std::optional<std::string> pod_node(std::string_view ns,
                                                std::string_view name) const = 0;
    // True when a pod bound to node references the configmap/secret.
    virtual bool node_references(std::string_view node, const ObjectKey& object) const = 0;
    // True when a pod bound to node runs as the service account ns/name.
    virtual bool node_uses_service_account(std::string_view node, std::string_view ns,
                                           std::string_view name) const = 0;
};

enum class Verdict {
    kAllow,
    kDeny,      // answer with an error response, count and log it
    kNotFound,  // the object is not known at all (e.g. a pod already deleted): answer 404
};

struct Decision {
    Verdict verdict = Verdict::kDeny;
    std::string reason;  // for denials: what was refused and why
    bool allowed() const { return verdict == Verdict::kAllow; }
};

// Decides one upstream message from `node` about `ref` (the parsed edge-side resource). Event
// patches carry no involvedObject: the caller fetches the event and calls authorize_event.
Decision authorize(std::string_view node, const bus::Message& msg, const bus::ResourceRef& ref,
                   const AuthzFacts& facts);

// An event may be written by a node only about itself or its own pods.
Decision authorize_event(std::string_view node, const boost::json::object& event,
                         const AuthzFacts& facts);

}  // namespace kedge::cloud::edgecontroller
