#include "controllers/gc/namespace_logic.hpp"

#include <boost/json.hpp>

#include "kube/object.hpp"

namespace kedge::controllers::gc {
namespace json = boost::json;

namespace {

struct Condition {
    std::string type, status, reason, message;
};

std::string join(const std::vector<std::string>& items) {
    std::string out;
    for (const auto& s : items) out += (out.empty() ? "" : ", ") + s;
    return out;
}

std::vector<Condition> desired(const NamespaceContent& c) {
    std::vector<Condition> out;
    if (c.discovery_failures.empty()) {
        out.push_back({"NamespaceDeletionDiscoveryFailure", "False", "ResourcesDiscovered",
                       "All resources successfully discovered"});
    } else {
        out.push_back({"NamespaceDeletionDiscoveryFailure", "True", "DiscoveryFailed",
                       "Discovery failed for some groups, " +
                           std::to_string(c.discovery_failures.size()) +
                           " failing: " + join(c.discovery_failures)});
    }
    out.push_back({"NamespaceDeletionGroupVersionParsingFailure", "False", "ParsedGroupVersions",
                   "All legacy kube types successfully parsed"});
    if (c.delete_failures.empty()) {
        out.push_back({"NamespaceDeletionContentFailure", "False", "ContentDeleted",
                       "All content successfully deleted, may be waiting on finalization"});
    } else {
        out.push_back({"NamespaceDeletionContentFailure", "True", "ContentDeletionFailed",
                       "Failed to delete all resource types, " +
                           std::to_string(c.delete_failures.size()) +
                           " remaining: " + join(c.delete_failures)});
    }
    if (c.remaining.empty()) {
        out.push_back({"NamespaceContentRemaining", "False", "ContentRemoved",
                       "All content successfully removed"});
    } else {
        std::vector<std::string> parts;
        for (const auto& [r, n] : c.remaining)
            parts.push_back(r + " has " + std::to_string(n) + " resource instances");
        out.push_back({"NamespaceContentRemaining", "True", "SomeResourcesRemain",
                       "Some resources are remaining: " + join(parts)});
    }
    if (c.finalizers.empty()) {
        out.push_back({"NamespaceFinalizersRemaining", "False", "ContentHasNoFinalizers",
                       "All content-preserving finalizers finished"});
    } else {
        std::vector<std::string> parts;
        for (const auto& [f, n] : c.finalizers)
            parts.push_back(f + " in " + std::to_string(n) + " resource instances");
        out.push_back({"NamespaceFinalizersRemaining", "True", "SomeFinalizersRemain",
                       "Some content in the namespace has finalizers remaining: " + join(parts)});
    }
    return out;
}

}  // namespace

json::array namespace_conditions(const json::object& ns, const NamespaceContent& content,
                                 const std::string& now) {
    json::array current;
    if (const auto* c = kube::get_path(ns, "status.conditions"); c && c->is_array())
        current = c->as_array();
    json::array out;
    auto wanted = desired(content);
    // Conditions of other types stay as they are.
    for (const auto& c : current) {
        auto type = kube::get_path_string(c, "type").value_or("");
        bool ours = false;
        for (const auto& w : wanted) ours = ours || w.type == type;
        if (!ours) out.push_back(c);
    }
    for (const auto& w : wanted) {
        std::string since = now;
        for (const auto& c : current) {
            if (kube::get_path_string(c, "type").value_or("") == w.type &&
                kube::get_path_string(c, "status").value_or("") == w.status)
                since = kube::get_path_string(c, "lastTransitionTime").value_or(now);
        }
        out.push_back(json::object{{"type", w.type},
                                   {"status", w.status},
                                   {"lastTransitionTime", since},
                                   {"reason", w.reason},
                                   {"message", w.message}});
    }
    return out;
}

std::optional<json::object> finalize_request(const json::object& ns) {
    const auto* f = kube::get_path(ns, "spec.finalizers");
    if (!f || !f->is_array()) return std::nullopt;
    json::array kept;
    bool found = false;
    for (const auto& v : f->as_array()) {
        if (v.is_string() && v.as_string() == kFinalizerKubernetes)
            found = true;
        else
            kept.push_back(v);
    }
    if (!found) return std::nullopt;
    json::object out = ns;
    out["spec"].as_object()["finalizers"] = std::move(kept);
    return out;
}

bool needs_content_deletion(const json::object& ns) {
    if (!kube::deletion_timestamp(ns)) return false;
    const auto* f = kube::get_path(ns, "spec.finalizers");
    if (!f || !f->is_array()) return false;
    for (const auto& v : f->as_array())
        if (v.is_string() && v.as_string() == kFinalizerKubernetes) return true;
    return false;
}

}  // namespace kedge::controllers::gc
