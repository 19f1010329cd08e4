#pragma once
// What a Kubernetes API request addresses, derived from its method, path and query the way
// kube-apiserver's RequestInfoFactory does: the verb (get, list, watch, create, ...), the API
// group/version, namespace, resource, name and subresource. Authorization, routing and audit
// all work on this instead of on raw paths.

#include "base/error.hpp"

#include <string>
#include <string_view>

namespace kedge::apiserver {

struct RequestInfo {
    bool is_resource_request = false;  // false for /api, /apis, /version, /healthz ...
    std::string path;
    std::string verb;         // get list watch create update patch delete deletecollection
                              // (non-resource requests: the lowercase HTTP method)
    std::string api_prefix;   // "api" or "apis"
    std::string api_group;    // "" for core
    std::string api_version;  // "v1"
    std::string namespace_;
    std::string resource;     // "pods"
    std::string subresource;  // "status", "binding", "scale", ...
    std::string name;
};

// method: HTTP method in upper case. path: the decoded URL path. watch_param: the raw value of
// the "watch" query parameter ("" when absent). Malformed resource paths are an invalid_argument
// error whose detail the server turns into a 404/400 body.
Result<RequestInfo> parse_request_info(std::string_view method, std::string_view path,
                                       std::string_view watch_param);

}  // namespace kedge::apiserver
