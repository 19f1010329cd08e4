// Bad requests get kube-apiserver's Status (code and reason) and change nothing; plus
// authentication, restart and graceful stop of the real binary.

#include <sys/wait.h>

#include <boost/json.hpp>

#include "apiserver_fixture.hpp"

namespace kedge::apiserver::test {
namespace {
namespace json = boost::json;

class BadInputTest : public ApiServerFixture {
  protected:
    void SetUp() override {
        kedge::test::write_file(dir_.file("tokens.csv"),
                                "secret-token,alice,1001,\"dev,ops\"\n");
        start_server(args());
    }
    std::vector<std::string> args() {
        return {"--token-auth-file", dir_.file("tokens.csv"), "--watch-cache-size", "20",
                "--bookmark-interval-ms", "500"};
    }

    static std::string reason(const Http& h) {
        boost::system::error_code ec;
        auto v = json::parse(h.body, ec);
        if (ec || !v.is_object()) return "<not json: " + h.body + ">";
        auto* r = v.as_object().if_contains("reason");
        return r && r->is_string() ? std::string(r->as_string()) : "";
    }

    void expect_status(const Http& h, int code, const std::string& why) {
        EXPECT_EQ(h.code, code) << h.body;
        EXPECT_EQ(reason(h), why) << h.body;
    }

    const std::string cms = "/api/v1/namespaces/default/configmaps";
};

TEST_P(BadInputTest, CreateErrors) {
    expect_status(curl("POST", cms, "{not json"), 400, "BadRequest");
    expect_status(curl("POST", cms,
                       R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"x"},"spec":{}})"),
                  400, "BadRequest");
    expect_status(curl("POST", cms, R"({"apiVersion":"apps/v1","kind":"ConfigMap",)"
                                    R"("metadata":{"name":"x"}})"),
                  400, "BadRequest");
    auto missing_name = curl("POST", cms, R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{}})");
    expect_status(missing_name, 422, "Invalid");
    EXPECT_NE(missing_name.body.find("metadata.name"), std::string::npos);
    std::string big = R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"big"},)"
                      R"("data":{"a":")" + std::string(3 * 1024 * 1024 + 10, 'x') + "\"}}";
    expect_status(curl("POST", cms, big), 413, "RequestEntityTooLarge");
    auto strict = curl("POST", cms + "?fieldValidation=Strict",
                       R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"s"},"bad":1})");
    expect_status(strict, 400, "BadRequest");
    EXPECT_NE(strict.body.find("strict decoding error: unknown field \\\"bad\\\""),
              std::string::npos)
        << strict.body;
    auto proto = curl("POST", cms, "\x0a\x01x", "application/vnd.kubernetes.protobuf");
    EXPECT_EQ(proto.code, 415) << proto.body;
    expect_status(curl("POST", "/api/v1/namespaces/nope/configmaps",
                       R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"n"}})"),
                  404, "NotFound");
    // None of them created anything.
    auto list = curl("GET", cms);
    ASSERT_EQ(list.code, 200);
    EXPECT_EQ(json::parse(list.body).at("items").as_array().size(), 0u) << list.body;
}

TEST_P(BadInputTest, UpdateAndPatchErrorsChangeNothing) {
    auto created = curl("POST", cms, R"({"apiVersion":"v1","kind":"ConfigMap",)"
                                     R"("metadata":{"name":"c"},"data":{"k":"v"}})");
    ASSERT_EQ(created.code, 201) << created.body;
    auto obj = json::parse(created.body).as_object();
    std::string rv(obj.at("metadata").at("resourceVersion").as_string());
    obj["data"] = json::object{{"k", "v2"}};
    ASSERT_EQ(curl("PUT", cms + "/c", json::serialize(obj)).code, 200);
    obj["data"] = json::object{{"k", "v3"}};
    expect_status(curl("PUT", cms + "/c", json::serialize(obj)), 409, "Conflict");
    auto patch = curl("PATCH", cms + "/c", R"([{"op":"test","path":"/data/k","value":"no"}])",
                      "application/json-patch+json");
    EXPECT_EQ(patch.code, 422) << patch.body;
    expect_status(curl("PATCH", cms + "/c", "{bad", "application/merge-patch+json"), 400,
                  "BadRequest");
    expect_status(curl("PATCH", cms + "/missing", "{}", "application/merge-patch+json"), 404,
                  "NotFound");
    auto now = json::parse(curl("GET", cms + "/c").body);
    EXPECT_EQ(now.at("data").at("k"), "v2");
    EXPECT_NE(now.at("metadata").at("resourceVersion"), json::value(rv));
}

TEST_P(BadInputTest, Authentication) {
    expect_status(curl("GET", cms, {}, {}, /*anonymous=*/true), 401, "Unauthorized");
    auto r = run_command("curl -s -o /dev/null -w '%{http_code}' --cacert " + pki("ca.crt") +
                         " -H 'Authorization: Bearer secret-token' " + base_url() + cms);
    EXPECT_EQ(r.output, "200");
    r = run_command("curl -s -o /dev/null -w '%{http_code}' --cacert " + pki("ca.crt") +
                    " -H 'Authorization: Bearer wrong' " + base_url() + cms);
    EXPECT_EQ(r.output, "401");
}

TEST_P(BadInputTest, WatchTimeoutBookmarksAndExpired) {
    auto watch = [&](const std::string& query) {
        return run_command("timeout 10 curl -sN --cacert " + pki("ca.crt") + " --cert " +
                           pki("admin.crt") + " --key " + pki("admin.key") + " '" + base_url() +
                           cms + "?watch=true&" + query + "'");
    };
    // The stream ends by itself at timeoutSeconds, with periodic BOOKMARKs when asked for.
    auto r = watch("timeoutSeconds=2&allowWatchBookmarks=true");
    EXPECT_EQ(r.exit_code, 0) << "the stream did not end by itself: " << r.output;
    EXPECT_NE(r.output.find(R"({"type":"BOOKMARK","object":{"kind":"ConfigMap")"),
              std::string::npos)
        << r.output;
    // 30 writes push revision 1 out of a 20-event window: 200, then an ERROR event with 410.
    for (int i = 0; i < 30; ++i)
        ASSERT_EQ(curl("POST", cms,
                       R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"e)" +
                           std::to_string(i) + R"("}})")
                      .code,
                  201);
    r = watch("resourceVersion=1&timeoutSeconds=5");
    EXPECT_EQ(r.exit_code, 0) << r.output;
    EXPECT_NE(r.output.find(R"({"type":"ERROR","object":{"kind":"Status")"), std::string::npos)
        << r.output;
    EXPECT_NE(r.output.find(R"("reason":"Expired")"), std::string::npos) << r.output;
    EXPECT_NE(r.output.find(R"("code":410)"), std::string::npos) << r.output;
    // Label-filtered watch from now: only the matching object arrives.
    Process w({"curl", "-sN", "--cacert", pki("ca.crt"), "--cert", pki("admin.crt"), "--key",
               pki("admin.key"), base_url() + cms + "?watch=1&labelSelector=pick%3Dyes&timeoutSeconds=5"},
              dir_.file("w.out"));
    ASSERT_EQ(curl("POST", cms, R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"no"}})")
                  .code,
              201);
    ASSERT_EQ(curl("POST", cms,
                   R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"yes",)"
                   R"("labels":{"pick":"yes"}}})")
                  .code,
              201);
    ASSERT_TRUE(kedge::test::wait_until([&] {
        return kedge::test::read_file(dir_.file("w.out")).find(R"("name":"yes")") !=
               std::string::npos;
    }));
    EXPECT_EQ(kedge::test::read_file(dir_.file("w.out")).find(R"("name":"no")"),
              std::string::npos);
}

TEST_P(BadInputTest, RestartKeepsDataAndSigtermStops) {
    ASSERT_EQ(curl("POST", cms, R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"p"}})")
                  .code,
              201);
    int status = server_->stop(std::chrono::seconds(10));
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
    start_server(args());
    EXPECT_EQ(curl("GET", cms + "/p").code, 200);
}

KEDGE_APISERVER_BACKENDS(BadInputTest);

}  // namespace
}  // namespace kedge::apiserver::test
