#pragma once
// The namespace controller's decisions as pure functions: the status conditions kube's namespace
// deleter reports while a namespace terminates, and the finalize request that ends it.

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace kedge::controllers::gc {

inline constexpr std::string_view kFinalizerKubernetes = "kubernetes";

// What one pass over a terminating namespace found.
struct NamespaceContent {
    std::vector<std::string> discovery_failures;  // group versions discovery could not read
    std::vector<std::string> delete_failures;     // "configmaps: <error>" for failed deletes
    // Objects still present by "<resource>.<group>" (kube's spelling: "pods." for core).
    std::map<std::string, int> remaining;
    // Finalizers of the remaining objects, with how many objects carry each.
    std::map<std::string, int> finalizers;
    bool empty() const { return remaining.empty(); }
};

// The five NamespaceDeletion*/Namespace*Remaining conditions for `content`, merged into the
// namespace's current status.conditions (lastTransitionTime kept when a status did not change).
boost::json::array namespace_conditions(const boost::json::object& ns,
                                        const NamespaceContent& content, const std::string& now);

// The namespace to PUT to namespaces/<name>/finalize: spec.finalizers without "kubernetes";
// nullopt when "kubernetes" is not there (nothing for this controller to do).
std::optional<boost::json::object> finalize_request(const boost::json::object& ns);

// True when the namespace is being deleted and still carries the "kubernetes" finalizer.
bool needs_content_deletion(const boost::json::object& ns);

}  // namespace kedge::controllers::gc
