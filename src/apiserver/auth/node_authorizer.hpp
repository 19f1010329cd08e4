#pragma once
// kube's Node authorizer and the create-time half of its NodeRestriction admission plugin: a
// node credential (user system:node:<n> in group system:nodes) may read what its node needs and
// write only its own Node, its own Lease and the status of pods bound to it.

#include <boost/json/fwd.hpp>
#include <memory>

#include "apiserver/auth/authorizer.hpp"
#include "apiserver/auth/node_graph.hpp"

namespace kedge::apiserver::auth {

// The namespace of node heartbeats (coordination.k8s.io Leases named after their node).
inline constexpr std::string_view kNodeLeaseNamespace = "kube-node-lease";
// The annotation that marks a mirror pod (a static pod's API twin).
inline constexpr std::string_view kMirrorPodAnnotation = "kubernetes.io/config.mirror";

// No opinion for users that are not nodes. For nodes:
// - allow get/list/watch of nodes, pods, services, endpoints, endpointslices, runtimeclasses;
//   create/update/patch of events; create of pods (mirror pods: see node_restriction_admit),
//   nodes (its own: ditto), certificatesigningrequests, tokenreviews, subjectaccessreviews;
//   get/list/watch of CSRs;
// - allow get (and list/watch pinned to one name) of secrets and configmaps, get of
//   persistentvolumeclaims, and create of serviceaccounts/token, only when a pod bound to the
//   node references the object (no opinion otherwise, as kube);
// - allow update/patch of nodes and nodes/status named after itself; get/create/update/patch/
//   delete of its own Lease in kube-node-lease; update/patch of pods/status, delete of pods and
//   create of pods/eviction for pods bound to it. Writing another node's Node, Lease or pods is
//   a deny (what kube's NodeRestriction admission answers), whose reason names the rule.
class NodeAuthorizer final : public Authorizer {
public:
    explicit NodeAuthorizer(std::shared_ptr<const NodeGraph> graph);
    Decision authorize(const UserInfo& user, const Attributes& attrs) const override;

private:
    std::shared_ptr<const NodeGraph> graph_;
};

// The checks the authorizer cannot make because the object's name is in the body: called by the
// server for create/update/patch with the decoded (for patch: the patched) object. For node
// users: a created or updated Node must be named after the node, a Lease in kube-node-lease
// likewise, a created pod must be a mirror pod (kMirrorPodAnnotation) with spec.nodeName set to
// the node. Deny with the reason, otherwise allow (always allow for non-node users).
Decision node_restriction_admit(const UserInfo& user, const Attributes& attrs,
                                const boost::json::object& object);

}  // namespace kedge::apiserver::auth
