#pragma once
// What a request to the meta server addresses, derived from its method and path the way
// kube-apiserver's RequestInfoFactory does: discovery or a resource, and for a resource the
// verb, group/version, namespace, plural, name and subresource. Pure.

#include <string>
#include <string_view>

#include "base/error.hpp"

namespace kedge::edge::metaserver {

// One parsed request path.
struct ApiPath {
    bool is_resource = false;  // false for /api, /apis, /api/v1, /apis/<g>[/<v>], /version, ...
    std::string prefix;        // "api" or "apis" ("" for other paths)
    std::string group;         // "" for the legacy group
    std::string version;
    std::string ns;  // "" when the path names no namespace
    std::string resource;
    std::string name;
    std::string subresource;
    // get list watch create update patch delete deletecollection; for non-resource paths the
    // lower-case HTTP method.
    std::string verb;
};

// Go's strconv.ParseBool as kube reads boolean query parameters (python sends "True").
bool parse_bool_param(std::string_view value);

// method: HTTP method as sent; path: the decoded path; watch_param: the raw ?watch= value.
// invalid_argument for resource paths with too many segments.
Result<ApiPath> parse_api_path(std::string_view method, std::string_view path,
                               std::string_view watch_param);

}  // namespace kedge::edge::metaserver
