#include <gtest/gtest.h>

#include "kube/client/client_detail.hpp"

namespace kedge::kube::client::detail {
namespace {

TEST(ErrorMapping, HttpCodesAndReasons) {
    EXPECT_EQ(errc_for_status(404, "NotFound"), errc::not_found);
    EXPECT_EQ(errc_for_status(409, "AlreadyExists"), errc::already_exists);
    EXPECT_EQ(errc_for_status(409, "Conflict"), errc::conflict);
    EXPECT_EQ(errc_for_status(409, ""), errc::conflict);
    EXPECT_EQ(errc_for_status(410, "Expired"), errc::expired);
    EXPECT_EQ(errc_for_status(401, ""), errc::unauthorized);
    EXPECT_EQ(errc_for_status(403, ""), errc::forbidden);
    EXPECT_EQ(errc_for_status(400, ""), errc::invalid_argument);
    EXPECT_EQ(errc_for_status(422, "Invalid"), errc::invalid_argument);
    EXPECT_EQ(errc_for_status(413, ""), errc::too_large);
    EXPECT_EQ(errc_for_status(429, ""), errc::unavailable);
    EXPECT_EQ(errc_for_status(503, ""), errc::unavailable);
    EXPECT_EQ(errc_for_status(504, ""), errc::timeout);
    EXPECT_EQ(errc_for_status(500, ""), errc::internal);
    EXPECT_EQ(errc_for_status(502, ""), errc::internal);
    EXPECT_EQ(errc_for_status(415, ""), errc::invalid_argument);
}

TEST(ErrorMapping, StatusMessageBecomesTheDetail) {
    auto e = error_from_response(
        409,
        R"({"kind":"Status","apiVersion":"v1","status":"Failure","message":"pods \"a\" already exists","reason":"AlreadyExists","code":409})",
        "POST", "/api/v1/namespaces/default/pods");
    EXPECT_TRUE(e.is(errc::already_exists));
    EXPECT_EQ(e.detail, "pods \"a\" already exists");
}

TEST(ErrorMapping, NonStatusBodyIsQuotedWithTheRequest) {
    auto e = error_from_response(502, "Bad Gateway\n", "GET", "/api/v1/pods");
    EXPECT_TRUE(e.is(errc::internal));
    EXPECT_EQ(e.detail, "GET /api/v1/pods: HTTP 502: Bad Gateway");
    auto empty = error_from_response(503, "", "GET", "/x");
    EXPECT_TRUE(empty.is(errc::unavailable));
    EXPECT_EQ(empty.detail, "GET /x: HTTP 503");
    // A huge body is cut.
    auto big = error_from_response(500, std::string(100000, 'x'), "GET", "/x");
    EXPECT_LT(big.detail.size(), 300u);
}

TEST(WatchLine, ParsesEveryType) {
    auto pods = resources::pods();
    auto ev = parse_watch_event(
        R"({"type":"ADDED","object":{"metadata":{"name":"a","resourceVersion":"5"}}})", pods);
    ASSERT_TRUE(ev) << ev.error().message();
    EXPECT_EQ(ev->type, WatchEventType::kAdded);
    EXPECT_EQ(ev->object.at("kind").as_string(), "Pod");  // filled in
    EXPECT_EQ(ev->object.at("apiVersion").as_string(), "v1");

    auto kept = parse_watch_event(
        R"({"type":"MODIFIED","object":{"kind":"Other","apiVersion":"x/v2"}})", pods);
    ASSERT_TRUE(kept);
    EXPECT_EQ(kept->type, WatchEventType::kModified);
    EXPECT_EQ(kept->object.at("kind").as_string(), "Other");  // not overwritten

    auto del = parse_watch_event(R"({"type":"DELETED","object":{}})", pods);
    ASSERT_TRUE(del);
    EXPECT_EQ(del->type, WatchEventType::kDeleted);

    auto bm = parse_watch_event(
        R"({"type":"BOOKMARK","object":{"kind":"Pod","metadata":{"resourceVersion":"9"}}})", pods);
    ASSERT_TRUE(bm);
    EXPECT_EQ(bm->type, WatchEventType::kBookmark);

    auto err = parse_watch_event(
        R"({"type":"ERROR","object":{"kind":"Status","code":410,"reason":"Expired"}})", pods);
    ASSERT_TRUE(err);
    EXPECT_EQ(err->type, WatchEventType::kError);
    EXPECT_FALSE(err->object.contains("apiVersion"));  // a Status is left as sent
    EXPECT_EQ(to_string(WatchEventType::kBookmark), "BOOKMARK");
}

TEST(WatchLine, MalformedLinesAreParseErrors) {
    const char* bad[] = {
        "",
        "not json",
        "[]",
        "{}",
        R"({"type":"ADDED"})",
        R"({"object":{}})",
        R"({"type":1,"object":{}})",
        R"({"type":"ADDED","object":"str"})",
        R"({"type":"ADDED","object":null})",
        R"({"type":"SOMETHING","object":{}})",
        R"({"type":"ADDED","object":{})",
        "{\"type\":\"ADDED\",\"object\":{\"a\":\"\xff\"",
    };
    for (const char* line : bad) {
        auto ev = parse_watch_event(line, resources::pods());
        ASSERT_FALSE(ev) << line;
        EXPECT_TRUE(ev.error().is(errc::parse_error)) << line;
    }
    // Every prefix of a valid line fails cleanly (a connection cut mid-line).
    std::string good =
        R"({"type":"ADDED","object":{"metadata":{"name":"a","labels":{"x":"y"}},"spec":{}}})";
    for (std::size_t n = 0; n < good.size(); ++n)
        EXPECT_FALSE(parse_watch_event(good.substr(0, n), resources::pods())) << n;
    EXPECT_TRUE(parse_watch_event(good, resources::pods()));
}

TEST(QueryEscape, KeepsUnreservedAndEscapesTheRest) {
    EXPECT_EQ(query_escape("app=web,tier!=db"), "app%3Dweb%2Ctier%21%3Ddb");
    EXPECT_EQ(query_escape("a in (x, y)"), "a%20in%20%28x%2C%20y%29");
    EXPECT_EQ(query_escape("AZaz09-_.~"), "AZaz09-_.~");
    EXPECT_EQ(query_escape("metadata.name=x/y"), "metadata.name%3Dx%2Fy");
}

}  // namespace
}  // namespace kedge::kube::client::detail
