#pragma once
// What the authorizers judge a request by. kube's authorizer.Attributes carries the same fields
// as the parsed request path, so kedge uses RequestInfo itself (header only: this library must
// not link kedge::apiserver, which will link it).

#include <string_view>

#include "apiserver/request_info.hpp"

namespace kedge::apiserver::auth {

// verb, api_group, namespace_, resource, subresource, name, is_resource_request and (for
// non-resource requests) path are read.
using Attributes = RequestInfo;

// kube's RequestInfoFactory names a list/watch after the object a `fieldSelector` pins with
// metadata.name=<n>, so that the Node and RBAC authorizers (resourceNames) can allow a
// single-object watch. Sets attrs.name when attrs is a resource list/watch without a name and the
// selector parses and pins metadata.name to a valid path segment; otherwise leaves attrs alone.
void apply_field_selector_name(Attributes& attrs, std::string_view field_selector);

// Convenience for tests and callers that build attributes by hand.
Attributes resource_attributes(std::string_view verb, std::string_view api_group,
                               std::string_view namespace_, std::string_view resource,
                               std::string_view subresource = {}, std::string_view name = {});
Attributes non_resource_attributes(std::string_view verb, std::string_view path);

}  // namespace kedge::apiserver::auth
