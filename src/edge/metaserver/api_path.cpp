#include "edge/metaserver/api_path.hpp"

#include <cctype>
#include <vector>

namespace kedge::edge::metaserver {
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

std::string lower(std::string_view s) {
    std::string out(s);
    for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

}  // namespace

bool parse_bool_param(std::string_view v) {
    return v == "1" || v == "t" || v == "T" || v == "true" || v == "TRUE" || v == "True";
}

Result<ApiPath> parse_api_path(std::string_view method, std::string_view path,
                               std::string_view watch_param) {
    ApiPath p;
    p.verb = lower(method);
    auto parts = split_path(path);
    if (parts.empty() || (parts[0] != "api" && parts[0] != "apis")) return p;
    p.prefix = parts[0];
    std::size_t i = 1;
    if (p.prefix == "apis") {
        if (parts.size() < 3) {  // /apis or /apis/<group>: discovery
            if (parts.size() == 2) p.group = parts[1];
            return p;
        }
        p.group = parts[i++];
    } else if (parts.size() < 2) {
        return p;  // /api
    }
    p.version = parts[i++];
    if (i == parts.size()) return p;  // /api/v1, /apis/<g>/<v>: discovery

    p.is_resource = true;
    bool legacy_watch = false;
    if (parts[i] == "watch") {  // the deprecated /api/v1/watch/... form
        legacy_watch = true;
        ++i;
        if (i == parts.size()) return Error(errc::invalid_argument, "watch path names no resource");
    }
    // /namespaces/<ns>/<resource>...; /namespaces/<ns> and /namespaces/<ns>/status are the
    // namespace object itself.
    if (parts[i] == "namespaces" && parts.size() - i > 2 && parts[i + 2] != "status" &&
        parts[i + 2] != "finalize") {
        p.ns = parts[i + 1];
        i += 2;
    }
    std::size_t left = parts.size() - i;
    if (left > 3)
        return Error(errc::invalid_argument, "path has too many segments: " + std::string(path));
    p.resource = parts[i];
    if (left >= 2) p.name = parts[i + 1];
    if (left >= 3) p.subresource = parts[i + 2];

    const std::string m = lower(method);
    if (legacy_watch || ((m == "get" || m == "head") && parse_bool_param(watch_param))) {
        p.verb = "watch";
    } else if (m == "get" || m == "head") {
        p.verb = p.name.empty() ? "list" : "get";
    } else if (m == "post") {
        p.verb = "create";
    } else if (m == "put") {
        p.verb = "update";
    } else if (m == "patch") {
        p.verb = "patch";
    } else if (m == "delete") {
        p.verb = p.name.empty() ? "deletecollection" : "delete";
    }
    return p;
}

}  // namespace kedge::edge::metaserver
