#pragma once
// The garbage collector's decisions as pure functions (JSON objects in, decisions out, no Asio):
// reading discovery documents, classifying owners, what to do with a dependent, and the patches
// that orphan dependents and drop finalizers. The rules are kube-controller-manager's.

#include <boost/json/object.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "kube/client/resource.hpp"
#include "kube/object.hpp"

namespace kedge::controllers::gc {

inline constexpr std::string_view kFinalizerOrphan = "orphan";
inline constexpr std::string_view kFinalizerForeground = "foregroundDeletion";

// One resource a server serves, as discovery describes it.
struct DiscoveredResource {
    kube::client::ApiResource resource;
    std::vector<std::string> verbs;
    bool can(std::string_view verb) const;
    // "group/resource" (core: "/pods"), the resource's identity across versions.
    std::string id() const;
};

// GET /apis (APIGroupList): the preferred "group/version" of every group.
std::vector<std::string> preferred_group_versions(const boost::json::object& group_list);
// GET /api/v1 or /apis/<group>/<version> (APIResourceList): its resources (no subresources).
std::vector<DiscoveredResource> parse_resource_list(const boost::json::object& list);
// Resources the garbage collector follows: listable, watchable and deletable.
bool gc_follows(const DiscoveredResource& r);
// The resource of an ownerReference's apiVersion and kind (same group, any version when the
// exact version is not served); nullptr when unknown.
const DiscoveredResource* find_kind(const std::vector<DiscoveredResource>& resources,
                                    std::string_view api_version, std::string_view kind);

// What an owner is to its dependent.
enum class OwnerState {
    kSolid,     // exists (possibly being deleted without foregroundDeletion)
    kDangling,  // confirmed absent (or a different object of that name: another uid)
    kWaitingForDependentsDeletion,  // being deleted with foregroundDeletion
};
// owner: the current owner object, nullptr when confirmed absent.
OwnerState classify_owner(const kube::OwnerReference& ref, const boost::json::object* owner);

struct OwnerVerdict {
    kube::OwnerReference ref;
    OwnerState state = OwnerState::kSolid;
};

// What to do with a dependent, given the state of each of its owners.
struct DependentDecision {
    enum class Action { kKeep, kRemoveOwnerRefs, kDelete };
    Action action = Action::kKeep;
    std::vector<std::string> remove_owner_uids;  // kRemoveOwnerRefs
    std::string propagation_policy;              // kDelete: Background, Foreground or Orphan
};
DependentDecision decide_dependent(const boost::json::object& dependent,
                                   const std::vector<OwnerVerdict>& owners);

// The dependent points at owner_uid with blockOwnerDeletion=true: the owner's foreground
// deletion waits for it.
bool blocks_owner(const boost::json::object& dependent, std::string_view owner_uid);
bool has_owner(const boost::json::object& dependent, std::string_view owner_uid);

// A JSON merge patch that removes the ownerReferences with these uids (resourceVersion as the
// precondition); nullopt when none of them is present.
std::optional<std::string> remove_owner_refs_patch(const boost::json::object& obj,
                                                   const std::vector<std::string>& owner_uids);
// A JSON merge patch that drops one finalizer (resourceVersion as the precondition); nullopt when
// the object does not have it.
std::optional<std::string> remove_finalizer_patch(const boost::json::object& obj,
                                                  std::string_view finalizer);

}  // namespace kedge::controllers::gc
