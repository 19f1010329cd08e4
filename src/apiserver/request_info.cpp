#include "apiserver/request_info.hpp"

#include <algorithm>
#include <cctype>
#include <vector>

namespace kedge::apiserver {
namespace {

std::vector<std::string> split_path(std::string_view path) {
    std::vector<std::string> parts;
    std::size_t i = 0;
    while (i < path.size()) {
        while (i < path.size() && path[i] == '/') ++i;
        std::size_t j = path.find('/', i);
        if (j == std::string_view::npos) j = path.size();
        if (j > i) parts.emplace_back(path.substr(i, j - i));
        i = j;
    }
    return parts;
}

// Go's strconv.ParseBool, which kube-apiserver uses for ?watch= (python sends "True").
bool truthy(std::string_view v) {
    return v == "1" || v == "t" || v == "T" || v == "true" || v == "TRUE" || v == "True";
}

std::string lower(std::string_view s) {
    std::string out(s);
    std::transform(out.begin(), out.end(), out.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return out;
}

}  // namespace

Result<RequestInfo> parse_request_info(std::string_view method, std::string_view path,
                                       std::string_view watch_param) {
    RequestInfo info;
    info.path = std::string(path);
    info.verb = lower(method);
    auto parts = split_path(path);
    if (parts.empty() || (parts[0] != "api" && parts[0] != "apis")) return info;
    info.api_prefix = parts[0];
    parts.erase(parts.begin());
    if (info.api_prefix == "apis") {
        if (parts.size() < 2) return info;  // /apis or /apis/<group>: discovery
        info.api_group = parts[0];
        parts.erase(parts.begin());
    } else if (parts.empty()) {
        return info;  // /api: discovery
    }
    info.api_version = parts[0];
    parts.erase(parts.begin());
    if (parts.empty()) return info;  // /api/v1, /apis/<g>/<v>: discovery

    info.is_resource_request = true;
    bool legacy_watch = false;
    if (parts[0] == "watch") {  // deprecated /api/v1/watch/... form
        legacy_watch = true;
        parts.erase(parts.begin());
        if (parts.empty()) return Error(errc::invalid_argument, "watch path names no resource");
    }

    if (parts[0] == "namespaces" && parts.size() > 1) {
        info.namespace_ = parts[1];
        // /namespaces/<ns>/status and /finalize are subresources of the namespace itself.
        if (parts.size() > 2 && parts[2] != "status" && parts[2] != "finalize")
            parts.erase(parts.begin(), parts.begin() + 2);
    }
    if (parts.size() > 3)
        return Error(errc::invalid_argument, "path has too many segments: " + info.path);
    info.resource = parts[0];
    if (parts.size() >= 2) info.name = parts[1];
    if (parts.size() >= 3) info.subresource = parts[2];

    std::string m = lower(method);
    if (legacy_watch || (m == "get" && truthy(watch_param))) {
        info.verb = "watch";
    } else if (m == "get" || m == "head") {
        info.verb = info.name.empty() ? "list" : "get";
    } else if (m == "post") {
        info.verb = "create";
    } else if (m == "put") {
        info.verb = "update";
    } else if (m == "patch") {
        info.verb = "patch";
    } else if (m == "delete") {
        info.verb = info.name.empty() ? "deletecollection" : "delete";
    }
    return info;
}

}  // namespace kedge::apiserver
