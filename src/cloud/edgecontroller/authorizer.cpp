#include "cloud/edgecontroller/authorizer.hpp"

#include <boost/json/value.hpp>

#include "bus/constants.hpp"
#include "kube/object.hpp"

namespace kedge::cloud::edgecontroller {

namespace json = boost::json;

namespace {

Decision allow() { return {Verdict::kAllow, {}}; }

Decision deny(std::string_view node, std::string why) {
    return {Verdict::kDeny, "node \"" + std::string(node) + "\" may not " + std::move(why)};
}

std::string what(const bus::Message& msg, const bus::ResourceRef& ref) {
    return msg.operation() + " " + msg.resource();
}

Decision own_node(std::string_view node, const bus::Message& msg, const bus::ResourceRef& ref) {
    if (!ref.cluster_scoped())
        return deny(node, what(msg, ref) + ": nodes are cluster-scoped (namespace must be null)");
    if (ref.name != node) return deny(node, what(msg, ref) + ": not its own node");
    return allow();
}

Decision own_pod(std::string_view node, const bus::Message& msg, const bus::ResourceRef& ref,
                 const AuthzFacts& facts) {
    if (ref.ns.empty() || ref.name.empty())
        return deny(node, what(msg, ref) + ": a pod needs a namespace and a name");
    auto bound = facts.pod_node(ref.ns, ref.name);
    if (!bound) return {Verdict::kNotFound, "pod " + ref.ns + "/" + ref.name + " not found"};
    if (*bound != node) return deny(node, what(msg, ref) + ": the pod is not bound to this node");
    return allow();
}

// A node may create only mirror pods of its own static pods (kube's NodeRestriction): bound to
// itself, annotated kubernetes.io/config.mirror, referencing no secrets, configmaps or service
// account tokens (a static pod cannot be a way to read what the node may not).
Decision mirror_pod(std::string_view node, const bus::Message& msg, const bus::ResourceRef& ref) {
    auto content = msg.content.value();
    if (!content || !(*content)->is_object())
        return deny(node, what(msg, ref) + ": the content is not a Pod object");
    const auto& pod = (*content)->as_object();
    if (kube::name(pod) != ref.name || kube::namespace_of(pod) != ref.ns)
        return deny(node, what(msg, ref) + ": the pod's namespace/name differ from the resource");
    const auto* node_name = kube::get_path(pod, "spec.nodeName");
    if (!node_name || !node_name->is_string() || node_name->as_string() != node)
        return deny(node, what(msg, ref) + ": a node may only create pods bound to itself");
    const auto* mirror = kube::get_path(pod, "metadata.annotations");
    if (!mirror || !mirror->is_object() ||
        !mirror->as_object().contains("kubernetes.io/config.mirror"))
        return deny(node, what(msg, ref) +
                              ": a node may only create mirror pods (annotation "
                              "kubernetes.io/config.mirror)");
    if (auto refs = kube::referenced_configmaps_and_secrets(pod);
        !refs.config_maps.empty() || !refs.secrets.empty())
        return deny(node, what(msg, ref) +
                              ": a mirror pod may not reference configmaps or secrets");
    const auto* sa = kube::get_path(pod, "spec.serviceAccountName");
    if (sa && sa->is_string() && !sa->as_string().empty())
        return deny(node, what(msg, ref) + ": a mirror pod may not use a service account");
    return allow();
}

Decision referenced(std::string_view node, const bus::Message& msg, const bus::ResourceRef& ref,
                    const AuthzFacts& facts) {
    if (msg.operation() != bus::kOpQuery && msg.operation() != bus::kOpGetResult)
        return deny(node, what(msg, ref) + ": only queries are allowed on " + ref.type);
    if (ref.ns.empty() || ref.name.empty())
        return deny(node, what(msg, ref) + ": a namespace and a name are required");
    if (!facts.node_references(node, {ref.type, ref.ns + "/" + ref.name}))
        return deny(node, what(msg, ref) + ": no pod on this node references it");
    return allow();
}

Decision token(std::string_view node, const bus::Message& msg, const bus::ResourceRef& ref,
               const AuthzFacts& facts) {
    if (ref.ns.empty() || ref.name.empty())
        return deny(node, what(msg, ref) + ": a namespace and a service account are required");
    if (!facts.node_uses_service_account(node, ref.ns, ref.name))
        return deny(node, what(msg, ref) + ": no pod on this node runs as that service account");
    // A token bound to a pod must be bound to one of this node's pods.
    auto content = msg.content.value();
    if (content && (*content)->is_object()) {
        const auto* ref_kind = kube::get_path((*content)->as_object(), "spec.boundObjectRef.kind");
        const auto* ref_name = kube::get_path((*content)->as_object(), "spec.boundObjectRef.name");
        if (ref_kind && ref_kind->is_string() && ref_kind->as_string() == "Pod") {
            std::string pod = ref_name && ref_name->is_string() ? std::string(ref_name->as_string())
                                                                : std::string();
            auto bound = facts.pod_node(ref.ns, pod);
            if (!bound || *bound != node)
                return deny(node, what(msg, ref) + ": the token is bound to pod " + ref.ns + "/" +
                                      pod + ", which is not on this node");
        }
    }
    return allow();
}

}  // namespace

Decision authorize_event(std::string_view node, const json::object& event,
                         const AuthzFacts& facts) {
    const auto* kind = kube::get_path(event, "involvedObject.kind");
    const auto* name = kube::get_path(event, "involvedObject.name");
    const auto* ns = kube::get_path(event, "involvedObject.namespace");
    auto str = [](const json::value* v) {
        return v && v->is_string() ? std::string(v->as_string()) : std::string();
    };
    std::string k = str(kind), n = str(name), s = str(ns);
    if (k == "Node") {
        if (n == node) return allow();
        return deny(node, "write an event about node \"" + n + "\"");
    }
    if (k == "Pod") {
        if (s.empty()) s = std::string(kube::namespace_of(event));
        auto bound = facts.pod_node(s, n);
        if (bound && *bound == node) return allow();
        return deny(
            node, "write an event about pod " + s + "/" + n + ", which is not bound to this node");
    }
    return deny(node, "write an event about a " + (k.empty() ? std::string("missing") : k) +
                          " object (only its node and its pods)");
}

Decision authorize(std::string_view node, const bus::Message& msg, const bus::ResourceRef& ref,
                   const AuthzFacts& facts) {
    const auto& type = ref.type;
    if (type == bus::kResNode || type == bus::kResNodeStatus || type == bus::kResNodePatch)
        return own_node(node, msg, ref);
    if (type == bus::kResLease) {
        if (ref.ns != "kube-node-lease" || ref.name != node)
            return deny(
                node, what(msg, ref) + ": only its own lease kube-node-lease/" + std::string(node));
        return allow();
    }
    if (type == bus::kResPodPatch || type == bus::kResPodStatus)
        return own_pod(node, msg, ref, facts);
    if (type == bus::kResConfigMap || type == bus::kResSecret)
        return referenced(node, msg, ref, facts);
    if (type == bus::kResServiceAccountToken) return token(node, msg, ref, facts);
    if (type == bus::kResEvent) {
        if (ref.ns.empty()) return deny(node, what(msg, ref) + ": events are namespaced");
        if (msg.operation() == bus::kOpPatch) return allow();  // checked on the stored event
        auto content = msg.content.value();
        if (!content || !(*content)->is_object())
            return deny(node, what(msg, ref) + ": the content is not an Event object");
        const auto& ev = (*content)->as_object();
        if (!kube::namespace_of(ev).empty() && kube::namespace_of(ev) != ref.ns)
            return deny(node, what(msg, ref) + ": the event's namespace differs from the resource");
        return authorize_event(node, ev, facts);
    }
    if (type == bus::kResPod && msg.operation() == bus::kOpQuery && ref.name.empty())
        return allow();  // the answer only lists pods bound to this node
    if (type == bus::kResPod && msg.operation() == bus::kOpDelete)
        return own_pod(node, msg, ref, facts);
    if (type == bus::kResPod && msg.operation() == bus::kOpInsert) return mirror_pod(node, msg, ref);
    return deny(node, what(msg, ref) + ": unsupported resource type or operation");
}

}  // namespace kedge::cloud::edgecontroller
