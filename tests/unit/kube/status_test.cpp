#include "kube/status.hpp"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "kube/patch.hpp"

namespace kedge::kube {
namespace {

namespace json = boost::json;

const GroupResource kPods{"", "pods"};
const GroupResource kDeployments{"apps", "deployments"};

TEST(Status, NotFoundBodyMatchesKubeApiserver) {
    Status s = status_not_found(kPods, "nginx");
    EXPECT_EQ(s.to_json_string(),
              R"({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",)"
              R"("message":"pods \"nginx\" not found","reason":"NotFound",)"
              R"("details":{"name":"nginx","kind":"pods"},"code":404})");
    Status d = status_not_found(kDeployments, "web");
    EXPECT_EQ(d.message, R"(deployments.apps "web" not found)");
    EXPECT_EQ(d.group, "apps");
}

TEST(Status, ConflictAndAlreadyExists) {
    Status c = status_conflict(kPods, "x");
    EXPECT_EQ(c.code, 409);
    EXPECT_EQ(c.reason, "Conflict");
    EXPECT_EQ(c.message,
              "Operation cannot be fulfilled on pods \"x\": the object has been modified; please "
              "apply your changes to the latest version and try again");
    Status a = status_already_exists(kPods, "x");
    EXPECT_EQ(a.code, 409);
    EXPECT_EQ(a.reason, "AlreadyExists");
    EXPECT_EQ(a.message, R"(pods "x" already exists)");
}

TEST(Status, InvalidCarriesFieldCauses) {
    Status one = status_invalid("", "Pod", "Bad",
                                {field_invalid("metadata.name", "Bad", "must be lowercase")});
    EXPECT_EQ(one.code, 422);
    EXPECT_EQ(one.reason, "Invalid");
    EXPECT_EQ(one.message,
              R"(Pod "Bad" is invalid: metadata.name: Invalid value: "Bad": must be lowercase)");
    Status two = status_invalid(
        "apps", "Deployment", "d",
        {field_required("spec.selector"),
         field_not_supported("spec.strategy.type", "Fast", {"Recreate", "RollingUpdate"})});
    EXPECT_EQ(two.message, R"(Deployment.apps "d" is invalid: [spec.selector: Required value, )"
                           R"(spec.strategy.type: Unsupported value: "Fast": supported values: )"
                           R"("Recreate", "RollingUpdate"])");
    json::object j = two.to_json();
    EXPECT_EQ(j.at("details").at("kind"), "Deployment");
    EXPECT_EQ(j.at("details").at("group"), "apps");
    auto& causes = j.at("details").at("causes").as_array();
    ASSERT_EQ(causes.size(), 2u);
    EXPECT_EQ(causes[0].at("reason"), "FieldValueRequired");
    EXPECT_EQ(causes[0].at("message"), "Required value");
    EXPECT_EQ(causes[0].at("field"), "spec.selector");
    EXPECT_EQ(field_invalid("spec.replicas", -1, "must be >= 0").message,
              "Invalid value: -1: must be >= 0");
    EXPECT_EQ(field_duplicate("spec.ports[1].port", 80).message, "Duplicate value: 80");
    EXPECT_EQ(field_forbidden("spec", "cannot change").message, "Forbidden: cannot change");
}

TEST(Status, OtherReasons) {
    struct Case {
        Status s;
        int code;
        const char* reason;
        const char* message;
    };
    for (const auto& c : std::initializer_list<Case>{
             {status_expired(too_old_resource_version_message(5, 100)), 410, "Expired",
              "too old resource version: 5 (100)"},
             {status_gone("gone"), 410, "Gone", "gone"},
             {status_forbidden(kPods, "p", "User \"u\" cannot get resource \"pods\""), 403,
              "Forbidden", R"(pods "p" is forbidden: User "u" cannot get resource "pods")"},
             {status_forbidden(kPods, "", "no"), 403, "Forbidden", "pods is forbidden: no"},
             {status_unauthorized(), 401, "Unauthorized", "Unauthorized"},
             {status_bad_request("bad"), 400, "BadRequest", "bad"},
             {status_method_not_allowed(kPods, "watch"), 405, "MethodNotAllowed",
              R"(watch is not supported on resources of kind "pods")"},
             {status_request_entity_too_large("limit is 3145728"), 413, "RequestEntityTooLarge",
              "Request entity too large: limit is 3145728"},
             {status_unsupported_media_type({"application/json", "application/yaml"}), 415,
              "UnsupportedMediaType",
              "the body of the request was in an unknown format - accepted media types include: "
              "application/json, application/yaml"},
             {status_service_unavailable("down"), 503, "ServiceUnavailable", "down"},
             {status_internal_error("boom"), 500, "InternalError", "Internal error occurred: boom"},
             {status_timeout("slow", 2), 504, "Timeout", "Timeout: slow"},
             {status_too_many_requests("slow down"), 429, "TooManyRequests", "slow down"},
         }) {
        EXPECT_EQ(c.s.code, c.code) << c.reason;
        EXPECT_EQ(c.s.reason, c.reason);
        EXPECT_EQ(c.s.message, c.message);
        // Every body reads back the same.
        auto back = parse_status_body(c.s.to_json_string());
        ASSERT_TRUE(back) << back.error().detail;
        EXPECT_EQ(back->code, c.code);
        EXPECT_EQ(back->reason, c.reason);
        EXPECT_EQ(back->message, c.message);
        EXPECT_EQ(back->status, "Failure");
    }
    EXPECT_EQ(status_timeout("slow", 2).to_json().at("details").at("retryAfterSeconds"), 2);
    EXPECT_EQ(status_internal_error("boom").causes.at(0).message, "boom");
}

TEST(Status, ParsesServerBodies) {
    auto s = parse_status_body(R"({"kind":"Status","apiVersion":"v1","metadata":{},
        "status":"Failure","message":"pods \"x\" is invalid: spec: Forbidden","reason":"Invalid",
        "details":{"name":"x","kind":"pods","causes":[{"reason":"FieldValueForbidden",
        "message":"Forbidden","field":"spec"}]},"code":422})");
    ASSERT_TRUE(s) << s.error().detail;
    EXPECT_EQ(s->code, 422);
    EXPECT_EQ(s->reason, "Invalid");
    EXPECT_EQ(s->name, "x");
    ASSERT_EQ(s->causes.size(), 1u);
    EXPECT_EQ(s->causes[0].field, "spec");

    EXPECT_FALSE(parse_status_body("{not json"));
    EXPECT_FALSE(parse_status_body(R"({"kind":"Pod"})"));
    EXPECT_FALSE(parse_status_body(R"({"kind":"Status","code":"404"})"));
    EXPECT_FALSE(parse_status_body("[]"));
    auto minimal = parse_status_body(R"({"code":404})");
    ASSERT_TRUE(minimal);
    EXPECT_EQ(minimal->code, 404);
    EXPECT_EQ(minimal->reason, "");
}

TEST(Status, FromError) {
    EXPECT_EQ(status_from_error(Error(errc::not_found), kPods, "p").message,
              R"(pods "p" not found)");
    EXPECT_EQ(status_from_error(Error(errc::conflict), kPods, "p").message,
              status_conflict(kPods, "p").message);
    EXPECT_EQ(status_from_error(Error(errc::invalid_argument, "field label not supported: x")).code,
              400);
    EXPECT_EQ(status_from_error(Error(errc::expired, "too old")).reason, "Expired");
    EXPECT_EQ(status_from_error(Error(errc::internal, "db")).code, 500);

    auto smp = apply_patch(PatchType::kStrategicMergePatch,
                           json::parse(R"({"apiVersion":"x.io/v1","kind":"Thing"})"), "{}");
    ASSERT_FALSE(smp);
    Status s415 = status_from_error(smp.error());
    EXPECT_EQ(s415.code, 415);
    EXPECT_EQ(s415.reason, "UnsupportedMediaType");
    auto test = apply_patch(PatchType::kJsonPatch, json::parse(R"({"a":1})"),
                            R"([{"op":"test","path":"/a","value":2}])");
    ASSERT_FALSE(test);
    EXPECT_EQ(status_from_error(test.error()).code, 422);
    auto bad = apply_patch(PatchType::kJsonPatch, json::parse(R"({"a":1})"), "nope");
    ASSERT_FALSE(bad);
    EXPECT_EQ(status_from_error(bad.error()).code, 400);
}

}  // namespace
}  // namespace kedge::kube
