#include "apiserver/auth/attributes.hpp"

#include "kube/field_selector.hpp"

namespace kedge::apiserver::auth {

void apply_field_selector_name(Attributes& attrs, std::string_view field_selector) {
    if (!attrs.is_resource_request || !attrs.name.empty()) return;
    if (attrs.verb != "list" && attrs.verb != "watch") return;
    auto selector = kube::FieldSelector::parse(field_selector);
    if (!selector) return;
    auto name = selector->requires_exact_match("metadata.name");
    // path.IsValidPathSegmentName: not "." or "..", no '/' or '%'.
    if (!name || name->empty() || *name == "." || *name == ".." ||
        name->find_first_of("/%") != std::string::npos) {
        return;
    }
    attrs.name = std::move(*name);
}

Attributes resource_attributes(std::string_view verb, std::string_view api_group,
                               std::string_view namespace_, std::string_view resource,
                               std::string_view subresource, std::string_view name) {
    Attributes a;
    a.is_resource_request = true;
    a.verb = verb;
    a.api_prefix = api_group.empty() ? "api" : "apis";
    a.api_group = api_group;
    a.api_version = "v1";
    a.namespace_ = namespace_;
    a.resource = resource;
    a.subresource = subresource;
    a.name = name;
    return a;
}

Attributes non_resource_attributes(std::string_view verb, std::string_view path) {
    Attributes a;
    a.is_resource_request = false;
    a.verb = verb;
    a.path = path;
    return a;
}

}  // namespace kedge::apiserver::auth
