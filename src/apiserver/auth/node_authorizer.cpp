#include "apiserver/auth/node_authorizer.hpp"

#include <algorithm>
#include <array>
#include <boost/json/object.hpp>
#include <initializer_list>

#include "kube/object.hpp"

namespace kedge::apiserver::auth {

namespace {

bool one_of(std::string_view v, std::initializer_list<std::string_view> set) {
    return std::find(set.begin(), set.end(), v) != set.end();
}

// Requests a node may make to any object of a type (kube's bootstrap NodeRules, the part the
// authorizer does not subdivide). `resource` is in combined "resource/subresource" form.
struct StaticRule {
    std::string_view group;
    std::string_view resource;
    std::array<std::string_view, 4> verbs;  // unused slots are empty

    bool has_verb(std::string_view verb) const {
        return !verb.empty() && std::find(verbs.begin(), verbs.end(), verb) != verbs.end();
    }
};

const std::array<StaticRule, 13>& static_rules() {
    static const std::array<StaticRule, 13> rules{{
        {"", "nodes", {{"get", "list", "watch", "create"}}},
        {"", "pods", {{"get", "list", "watch", "create"}}},
        {"", "services", {{"get", "list", "watch"}}},
        {"", "endpoints", {{"get", "list", "watch"}}},
        {"discovery.k8s.io", "endpointslices", {{"get", "list", "watch"}}},
        {"", "events", {{"create", "update", "patch"}}},
        {"events.k8s.io", "events", {{"create", "update", "patch"}}},
        {"certificates.k8s.io", "certificatesigningrequests", {{"create", "get", "list", "watch"}}},
        {"authentication.k8s.io", "tokenreviews", {{"create"}}},
        {"authorization.k8s.io", "subjectaccessreviews", {{"create"}}},
        {"authorization.k8s.io", "localsubjectaccessreviews", {{"create"}}},
        {"node.k8s.io", "runtimeclasses", {{"get", "list", "watch"}}},
        {"storage.k8s.io", "volumeattachments", {{"get"}}},
    }};
    return rules;
}

std::string node_str(std::string_view node) { return "node \"" + std::string(node) + "\""; }

class Judge {
public:
    Judge(const NodeGraph& graph, std::string_view node, const Attributes& a)
        : graph_(graph), node_(node), a_(a) {}

    Decision run() const {
        const std::string& g = a_.api_group;
        const std::string& r = a_.resource;
        if (g.empty() && (r == "secrets" || r == "configmaps")) {
            return read_referenced(r == "secrets" ? NodeObjectKind::kSecret
                                                  : NodeObjectKind::kConfigMap);
        }
        if (g.empty() && r == "persistentvolumeclaims") return get_pvc();
        if (g.empty() && r == "serviceaccounts") return create_token();
        if (g == "coordination.k8s.io" && r == "leases") return lease();
        if (g.empty() && r == "nodes" && one_of(a_.verb, {"update", "patch"}) &&
            (a_.subresource.empty() || a_.subresource == "status")) {
            return own_node();
        }
        if (g.empty() && r == "pods") {
            if (a_.subresource == "status" && one_of(a_.verb, {"update", "patch"})) {
                return bound_pod("pods/status update/patch");
            }
            if (a_.subresource.empty() && a_.verb == "delete") return bound_pod("pods delete");
            if (a_.subresource == "eviction" && a_.verb == "create") {
                return bound_pod("pods/eviction create");
            }
        }
        std::string combined = r;
        if (!a_.subresource.empty()) combined += "/" + a_.subresource;
        for (const auto& rule : static_rules()) {
            if (rule.group == g && rule.resource == combined && rule.has_verb(a_.verb)) {
                return Decision::allow("Node authorizer: node rule for " + combined);
            }
        }
        // No reason, as kube: most requests of a node that land here are RBAC's to decide.
        return Decision::no_opinion();
    }

private:
    Decision no(std::string why) const {
        return Decision::no_opinion("Node authorizer: " + node_str(node_) + " " + why);
    }
    Decision deny(std::string why) const {
        return Decision::deny("Node authorizer: " + node_str(node_) + " " + why);
    }

    // get, or list/watch pinned to one name, of an object a pod on this node references.
    Decision read_referenced(NodeObjectKind kind) const {
        const std::string& r = a_.resource;
        if (!one_of(a_.verb, {"get", "list", "watch"})) return no("can only read " + r);
        if (!a_.subresource.empty()) return no("cannot read subresource " + a_.subresource);
        if (a_.namespace_.empty()) return no("can only read namespaced " + r);
        if (a_.name.empty()) return no("can only read individual " + r + " (no name given)");
        return referenced(kind);
    }

    Decision get_pvc() const {
        if (a_.verb != "get" || !a_.subresource.empty()) {
            return no("can only get individual persistentvolumeclaims");
        }
        if (a_.namespace_.empty() || a_.name.empty()) {
            return no("can only get individual persistentvolumeclaims (no name given)");
        }
        return referenced(NodeObjectKind::kPersistentVolumeClaim);
    }

    Decision create_token() const {
        if (a_.verb != "create" || a_.subresource != "token" || a_.name.empty() ||
            a_.namespace_.empty()) {
            return no("can only create tokens for individual service accounts");
        }
        return referenced(NodeObjectKind::kServiceAccount);
    }

    Decision referenced(NodeObjectKind kind) const {
        if (graph_.node_references(node_, kind, a_.namespace_, a_.name)) {
            return Decision::allow("Node authorizer: " + a_.resource + " \"" + a_.namespace_ + "/" +
                                   a_.name + "\" is referenced by a pod bound to " +
                                   node_str(node_));
        }
        return no("has no relationship to " + a_.resource + " \"" + a_.namespace_ + "/" + a_.name +
                  "\" (no pod bound to the node references it)");
    }

    Decision lease() const {
        if (!one_of(a_.verb, {"get", "create", "update", "patch", "delete"})) {
            return no("can only get/create/update/patch/delete leases, not " + a_.verb);
        }
        if (!a_.subresource.empty()) return no("cannot access lease subresources");
        if (a_.namespace_ != kNodeLeaseNamespace) {
            return deny("can only access leases in the " + std::string(kNodeLeaseNamespace) +
                        " namespace (rule: node lease)");
        }
        // On create the name is in the body: node_restriction_admit checks it.
        if (a_.verb != "create" && a_.name != node_) {
            return deny("can only access its own Lease \"" + std::string(node_) + "\", not \"" +
                        a_.name + "\" (rule: node lease)");
        }
        return Decision::allow("Node authorizer: own Lease");
    }

    Decision own_node() const {
        if (a_.name != node_) {
            std::string what = a_.subresource.empty() ? "nodes" : "nodes/status";
            return deny("may only " + a_.verb + " its own Node object, not \"" + a_.name +
                        "\" (rule: " + what + " own object)");
        }
        return Decision::allow("Node authorizer: own Node");
    }

    Decision bound_pod(std::string_view rule) const {
        if (a_.namespace_.empty() || a_.name.empty()) {
            return no("can only act on individual pods (rule: " + std::string(rule) + ")");
        }
        auto bound = graph_.pod_node(a_.namespace_, a_.name);
        if (!bound) {
            return no("has no relationship to pod \"" + a_.namespace_ + "/" + a_.name +
                      "\" (not bound to any known node; rule: " + std::string(rule) + ")");
        }
        if (*bound != node_) {
            return deny("may only act on pods bound to itself; pod \"" + a_.namespace_ + "/" +
                        a_.name + "\" is bound to " + node_str(*bound) +
                        " (rule: " + std::string(rule) + ")");
        }
        return Decision::allow("Node authorizer: pod bound to " + node_str(node_));
    }

    const NodeGraph& graph_;
    std::string_view node_;
    const Attributes& a_;
};

}  // namespace

NodeAuthorizer::NodeAuthorizer(std::shared_ptr<const NodeGraph> graph) : graph_(std::move(graph)) {}

Decision NodeAuthorizer::authorize(const UserInfo& user, const Attributes& attrs) const {
    auto node = node_name_of(user);
    if (!node) return Decision::no_opinion();
    if (node->empty()) {
        return Decision::no_opinion("Node authorizer: unknown node for user \"" + user.name + "\"");
    }
    // Non-resource URLs (discovery, /healthz) are RBAC's business, as in kube.
    if (!attrs.is_resource_request) return Decision::no_opinion();
    return Judge(*graph_, *node, attrs).run();
}

Decision node_restriction_admit(const UserInfo& user, const Attributes& attrs,
                                const boost::json::object& object) {
    auto node = node_name_of(user);
    if (!node || !attrs.is_resource_request) return Decision::allow();
    const std::string& g = attrs.api_group;
    const std::string& r = attrs.resource;
    std::string_view name = kube::name(object);
    auto deny = [&](const std::string& why) {
        return Decision::deny("NodeRestriction: " + node_str(*node) + " " + why);
    };
    if (g.empty() && r == "nodes" && one_of(attrs.verb, {"create", "update", "patch"})) {
        if (name != *node) {
            return deny("may only " + attrs.verb + " its own Node object, not \"" +
                        std::string(name) + "\"");
        }
    } else if (g == "coordination.k8s.io" && r == "leases" &&
               one_of(attrs.verb, {"create", "update", "patch"})) {
        if (name != *node) {
            return deny("may only " + attrs.verb + " its own Lease, not \"" + std::string(name) +
                        "\"");
        }
    } else if (g.empty() && r == "pods" && attrs.subresource.empty() && attrs.verb == "create") {
        if (!kube::annotation(object, kMirrorPodAnnotation)) {
            return deny("may only create mirror pods (annotation " +
                        std::string(kMirrorPodAnnotation) + ")");
        }
        const auto* nn = kube::get_path(object, "spec.nodeName");
        if (nn == nullptr || !nn->is_string() || nn->get_string() != *node) {
            return deny("may only create mirror pods bound to itself (spec.nodeName)");
        }
    }
    return Decision::allow();
}

}  // namespace kedge::apiserver::auth
