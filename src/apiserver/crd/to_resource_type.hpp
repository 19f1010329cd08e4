#pragma once
// Header-only bridge from crd::ServedResource to the server's apiserver::ResourceType. Kept out of
// the crd library's sources so that kedge::apiserver_crd does not depend on kedge::apiserver
// (the server links both, so including this from the server is cycle-free).

#include "apiserver/crd/crd.hpp"
#include "apiserver/resource_types.hpp"

namespace kedge::apiserver::crd {

inline ResourceType to_resource_type(const ServedResource& r) {
    ResourceType t;
    t.group = r.group;
    t.version = r.version;
    t.resource = r.plural;
    t.singular = r.singular;
    t.kind = r.kind;
    t.list_kind = r.list_kind;
    t.namespaced = r.namespaced;
    t.short_names = r.short_names;
    t.categories = r.categories;
    if (r.has_status) t.subresources.push_back("status");
    if (r.has_scale) t.subresources.push_back("scale");
    t.custom = true;
    return t;
}

}  // namespace kedge::apiserver::crd
