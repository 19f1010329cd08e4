#include "net/detail/http_router.hpp"

#include <gtest/gtest.h>

#include "net/http_client.hpp"

namespace kedge::net {
namespace {

using detail::HttpRouter;

HttpHandler tagged(int* slot, int value) {
    return [slot, value](HttpRequest&, HttpResponder&) -> boost::asio::awaitable<void> {
        *slot = value;
        co_return;
    };
}

TEST(HttpRouter, ExactBeatsPatternBeatsLongestPrefix) {
    int hit = 0;
    HttpRouter r;
    r.add("GET", "/api/", tagged(&hit, 1));
    r.add("GET", "/api/v1/", tagged(&hit, 2));
    r.add("GET", "/api/v1/namespaces/{ns}/pods/{name}", tagged(&hit, 3));
    r.add("GET", "/api/v1/namespaces/default/pods/special", tagged(&hit, 4));

    auto m = r.find("GET", "/api/v1/namespaces/default/pods/special");
    ASSERT_EQ(m.outcome, HttpRouter::Outcome::matched);
    EXPECT_TRUE(m.params.empty());

    m = r.find("GET", "/api/v1/namespaces/kube-system/pods/coredns");
    ASSERT_EQ(m.outcome, HttpRouter::Outcome::matched);
    EXPECT_EQ(m.params.at("ns"), "kube-system");
    EXPECT_EQ(m.params.at("name"), "coredns");

    // Longest prefix wins; "/api/" also serves "/api".
    EXPECT_EQ(r.find("GET", "/api/v1/nodes").outcome, HttpRouter::Outcome::matched);
    EXPECT_EQ(r.find("GET", "/api").outcome, HttpRouter::Outcome::matched);
    EXPECT_EQ(r.find("GET", "/apis").outcome, HttpRouter::Outcome::not_found);
    EXPECT_EQ(r.find("GET", "/other").outcome, HttpRouter::Outcome::not_found);
}

TEST(HttpRouter, PatternNeedsNonEmptySegmentsAndSameDepth) {
    int hit = 0;
    HttpRouter r;
    r.add("GET", "/nodes/{name}/status", tagged(&hit, 1));
    EXPECT_EQ(r.find("GET", "/nodes/edge1/status").outcome, HttpRouter::Outcome::matched);
    EXPECT_EQ(r.find("GET", "/nodes//status").outcome, HttpRouter::Outcome::not_found);
    EXPECT_EQ(r.find("GET", "/nodes/edge1/status/x").outcome, HttpRouter::Outcome::not_found);
    EXPECT_EQ(r.find("GET", "/nodes/edge1").outcome, HttpRouter::Outcome::not_found);
}

TEST(HttpRouter, WrongMethodIs405WithAllow) {
    int hit = 0;
    HttpRouter r;
    r.add("GET", "/ca.crt", tagged(&hit, 1));
    r.add("PUT", "/ca.crt", tagged(&hit, 2));
    r.add("*", "/any", tagged(&hit, 3));
    auto m = r.find("POST", "/ca.crt");
    EXPECT_EQ(m.outcome, HttpRouter::Outcome::method_not_allowed);
    EXPECT_EQ(m.allowed, "GET, PUT");
    EXPECT_EQ(r.find("DELETE", "/any").outcome, HttpRouter::Outcome::matched);
}

TEST(ParseUrl, SchemesHostsPortsTargets) {
    auto u = parse_url("https://127.0.0.1:6443");
    ASSERT_TRUE(u) << u.error().message();
    EXPECT_EQ(u->scheme, "https");
    EXPECT_EQ(u->host, "127.0.0.1");
    EXPECT_EQ(u->port, 6443);
    EXPECT_EQ(u->target, "/");

    u = parse_url("http://localhost/api/v1/pods?watch=true&x=%20");
    ASSERT_TRUE(u);
    EXPECT_EQ(u->port, 80);
    EXPECT_EQ(u->target, "/api/v1/pods?watch=true&x=%20");

    u = parse_url("HTTPS://[::1]/x");
    ASSERT_TRUE(u);
    EXPECT_EQ(u->scheme, "https");
    EXPECT_EQ(u->host, "::1");
    EXPECT_EQ(u->port, 443);

    EXPECT_FALSE(parse_url("ftp://host/"));
    EXPECT_FALSE(parse_url("not a url"));
    EXPECT_FALSE(parse_url("http://host:99999/"));
    EXPECT_FALSE(parse_url("http:///path"));
}

}  // namespace
}  // namespace kedge::net
