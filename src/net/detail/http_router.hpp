#pragma once
// INTERNAL: route table of HttpServer. Pure (no Asio), so matching is unit-testable.

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "net/http_server.hpp"

namespace kedge::net::detail {

// Exact paths, "{name}" segment patterns, and prefixes ("/api/"), see HttpServer::handle().
class HttpRouter {
  public:
    void add(std::string method, std::string pattern, HttpHandler handler);

    enum class Outcome { matched, method_not_allowed, not_found };
    struct Match {
        Outcome outcome = Outcome::not_found;
        HttpHandler handler;  // set when matched
        std::map<std::string, std::string> params;
        std::string allowed;  // "GET, POST" for 405
    };
    Match find(std::string_view method, std::string_view path) const;

  private:
    struct Route {
        std::string method;
        std::string pattern;
        std::vector<std::string> segments;  // for "{x}" patterns
        bool prefix = false;
        bool has_params = false;
        HttpHandler handler;
    };
    static bool match_segments(const Route& r, std::string_view path,
                               std::map<std::string, std::string>& params);

    std::vector<Route> routes_;
};

}  // namespace kedge::net::detail
