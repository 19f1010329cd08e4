#include "controllers/gc/gc_logic.hpp"

#include <boost/json.hpp>

#include <algorithm>

namespace kedge::controllers::gc {
namespace json = boost::json;

bool DiscoveredResource::can(std::string_view verb) const {
    return std::find(verbs.begin(), verbs.end(), verb) != verbs.end();
}

std::string DiscoveredResource::id() const { return resource.group + "/" + resource.resource; }

std::vector<std::string> preferred_group_versions(const json::object& group_list) {
    std::vector<std::string> out;
    const auto* groups = group_list.if_contains("groups");
    if (!groups || !groups->is_array()) return out;
    for (const auto& g : groups->as_array()) {
        if (!g.is_object()) continue;
        if (auto gv = kube::get_path_string(g, "preferredVersion.groupVersion");
            gv && !gv->empty()) {
            out.push_back(*gv);
            continue;
        }
        // No preferred version: the first one listed.
        const auto* versions = g.as_object().if_contains("versions");
        if (versions && versions->is_array() && !versions->as_array().empty()) {
            if (auto gv = kube::get_path_string(versions->as_array()[0], "groupVersion"))
                out.push_back(*gv);
        }
    }
    return out;
}

std::vector<DiscoveredResource> parse_resource_list(const json::object& list) {
    std::vector<DiscoveredResource> out;
    std::string gv;
    if (const auto* v = list.if_contains("groupVersion"); v && v->is_string())
        gv = std::string(v->as_string());
    auto parsed = kube::parse_api_version(gv);
    if (!parsed) return out;
    const auto* resources = list.if_contains("resources");
    if (!resources || !resources->is_array()) return out;
    for (const auto& rv : resources->as_array()) {
        const auto* r = rv.if_object();
        if (!r) continue;
        DiscoveredResource d;
        d.resource.group = parsed->group;
        d.resource.version = parsed->version;
        if (auto n = kube::get_path_string(rv, "name")) d.resource.resource = *n;
        if (auto k = kube::get_path_string(rv, "kind")) d.resource.kind = *k;
        if (d.resource.resource.empty() || d.resource.kind.empty() ||
            d.resource.resource.find('/') != std::string::npos)
            continue;  // subresources
        const auto* ns = r->if_contains("namespaced");
        d.resource.namespaced = ns && ns->is_bool() && ns->as_bool();
        if (const auto* verbs = r->if_contains("verbs"); verbs && verbs->is_array())
            for (const auto& v : verbs->as_array())
                if (v.is_string()) d.verbs.emplace_back(v.as_string());
        out.push_back(std::move(d));
    }
    return out;
}

bool gc_follows(const DiscoveredResource& r) {
    return r.can("list") && r.can("watch") && r.can("delete");
}

const DiscoveredResource* find_kind(const std::vector<DiscoveredResource>& resources,
                                    std::string_view api_version, std::string_view kind) {
    auto gv = kube::parse_api_version(api_version);
    if (!gv) return nullptr;
    const DiscoveredResource* same_group = nullptr;
    for (const auto& r : resources) {
        if (r.resource.kind != kind || r.resource.group != gv->group) continue;
        if (r.resource.version == gv->version) return &r;
        if (!same_group) same_group = &r;
    }
    return same_group;
}

OwnerState classify_owner(const kube::OwnerReference& ref, const json::object* owner) {
    if (!owner || kube::uid(*owner) != ref.uid) return OwnerState::kDangling;
    if (kube::deletion_timestamp(*owner) && kube::has_finalizer(*owner, kFinalizerForeground))
        return OwnerState::kWaitingForDependentsDeletion;
    return OwnerState::kSolid;
}

DependentDecision decide_dependent(const json::object& dependent,
                                   const std::vector<OwnerVerdict>& owners) {
    using Action = DependentDecision::Action;
    DependentDecision d;
    if (owners.empty() || kube::deletion_timestamp(dependent)) return d;
    std::vector<std::string> solid, not_solid;
    bool waiting = false;
    for (const auto& o : owners) {
        if (o.state == OwnerState::kSolid) {
            solid.push_back(o.ref.uid);
        } else {
            not_solid.push_back(o.ref.uid);
            waiting = waiting || o.state == OwnerState::kWaitingForDependentsDeletion;
        }
    }
    if (!solid.empty()) {
        // Kept alive by a solid owner: only drop the references to the others, so that an owner
        // waiting in foreground deletion is not blocked by an object that will not go.
        if (!not_solid.empty()) {
            d.action = Action::kRemoveOwnerRefs;
            d.remove_owner_uids = std::move(not_solid);
        }
        return d;
    }
    d.action = Action::kDelete;
    if (kube::has_finalizer(dependent, kFinalizerOrphan))
        d.propagation_policy = "Orphan";
    else if (kube::has_finalizer(dependent, kFinalizerForeground) || waiting)
        d.propagation_policy = "Foreground";
    else
        d.propagation_policy = "Background";
    return d;
}

bool blocks_owner(const json::object& dependent, std::string_view owner_uid) {
    for (const auto& r : kube::owner_references(dependent))
        if (r.uid == owner_uid && r.block_owner_deletion) return true;
    return false;
}

bool has_owner(const json::object& dependent, std::string_view owner_uid) {
    for (const auto& r : kube::owner_references(dependent))
        if (r.uid == owner_uid) return true;
    return false;
}

namespace {

json::object precondition_metadata(const json::object& obj) {
    json::object md;
    md["resourceVersion"] = std::string(kube::resource_version(obj));
    return md;
}

}  // namespace

std::optional<std::string> remove_owner_refs_patch(const json::object& obj,
                                                   const std::vector<std::string>& owner_uids) {
    const auto* refs = kube::get_path(obj, "metadata.ownerReferences");
    if (!refs || !refs->is_array()) return std::nullopt;
    json::array kept;
    bool removed = false;
    for (const auto& r : refs->as_array()) {
        auto uid = kube::get_path_string(r, "uid").value_or("");
        if (std::find(owner_uids.begin(), owner_uids.end(), uid) != owner_uids.end()) {
            removed = true;
            continue;
        }
        kept.push_back(r);
    }
    if (!removed) return std::nullopt;
    json::object md = precondition_metadata(obj);
    md["ownerReferences"] = kept.empty() ? json::value(nullptr) : json::value(std::move(kept));
    return json::serialize(json::object{{"metadata", std::move(md)}});
}

std::optional<std::string> remove_finalizer_patch(const json::object& obj,
                                                  std::string_view finalizer) {
    auto current = kube::finalizers(obj);
    auto it = std::remove(current.begin(), current.end(), finalizer);
    if (it == current.end()) return std::nullopt;
    current.erase(it, current.end());
    json::object md = precondition_metadata(obj);
    if (current.empty()) {
        md["finalizers"] = nullptr;
    } else {
        json::array arr;
        for (auto& f : current) arr.emplace_back(f);
        md["finalizers"] = std::move(arr);
    }
    return json::serialize(json::object{{"metadata", std::move(md)}});
}

}  // namespace kedge::controllers::gc
