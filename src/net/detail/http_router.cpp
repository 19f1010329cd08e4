#include "net/detail/http_router.hpp"

namespace kedge::net::detail {
namespace {

std::vector<std::string> split_path(std::string_view path) {
    std::vector<std::string> out;
    std::size_t i = 0;
    if (!path.empty() && path.front() == '/') i = 1;
    while (i <= path.size()) {
        auto slash = path.find('/', i);
        if (slash == std::string_view::npos) slash = path.size();
        out.emplace_back(path.substr(i, slash - i));
        i = slash + 1;
    }
    return out;
}

bool method_matches(const std::string& route_method, std::string_view method) {
    return route_method == "*" || route_method == method;
}

}  // namespace

void HttpRouter::add(std::string method, std::string pattern, HttpHandler handler) {
    Route r;
    r.method = std::move(method);
    r.prefix = pattern.size() > 1 && pattern.back() == '/';
    r.has_params = !r.prefix && pattern.find('{') != std::string::npos;
    if (r.has_params) r.segments = split_path(pattern);
    r.pattern = std::move(pattern);
    r.handler = std::move(handler);
    routes_.push_back(std::move(r));
}

bool HttpRouter::match_segments(const Route& r, std::string_view path,
                                std::map<std::string, std::string>& params) {
    auto parts = split_path(path);
    if (parts.size() != r.segments.size()) return false;
    std::map<std::string, std::string> found;
    for (std::size_t i = 0; i < parts.size(); ++i) {
        const auto& seg = r.segments[i];
        if (seg.size() > 2 && seg.front() == '{' && seg.back() == '}') {
            if (parts[i].empty()) return false;
            found[seg.substr(1, seg.size() - 2)] = parts[i];
        } else if (seg != parts[i]) {
            return false;
        }
    }
    params = std::move(found);
    return true;
}

HttpRouter::Match HttpRouter::find(std::string_view method, std::string_view path) const {
    Match m;
    std::vector<const Route*> path_hits;  // path matched, method did not
    auto take = [&](const Route& r) {
        if (method_matches(r.method, method)) {
            m.outcome = Outcome::matched;
            m.handler = r.handler;
            return true;
        }
        path_hits.push_back(&r);
        return false;
    };
    // Exact routes first, then segment patterns, both in registration order.
    for (const auto& r : routes_)
        if (!r.prefix && !r.has_params && r.pattern == path && take(r)) return m;
    for (const auto& r : routes_) {
        std::map<std::string, std::string> params;
        if (r.has_params && match_segments(r, path, params) && take(r)) {
            m.params = std::move(params);
            return m;
        }
    }
    // Longest prefix; "/api/" also serves "/api".
    const Route* best = nullptr;
    for (const auto& r : routes_) {
        if (!r.prefix) continue;
        std::string_view p = r.pattern;
        bool hit = path.substr(0, p.size()) == p || path == p.substr(0, p.size() - 1);
        if (!hit) continue;
        if (!method_matches(r.method, method)) {
            path_hits.push_back(&r);
            continue;
        }
        if (!best || r.pattern.size() > best->pattern.size()) best = &r;
    }
    if (best) {
        m.outcome = Outcome::matched;
        m.handler = best->handler;
        return m;
    }
    if (!path_hits.empty()) {
        m.outcome = Outcome::method_not_allowed;
        for (const Route* r : path_hits) {
            if (m.allowed.find(r->method) != std::string::npos) continue;
            if (!m.allowed.empty()) m.allowed += ", ";
            m.allowed += r->method;
        }
    }
    return m;
}

}  // namespace kedge::net::detail
