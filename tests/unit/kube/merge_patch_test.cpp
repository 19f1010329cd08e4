#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "kube/patch.hpp"

namespace kedge::kube {
namespace {

namespace json = boost::json;

struct Rfc7386Case {
    const char* original;
    const char* patch;
    const char* result;
};

// RFC 7386 Appendix A, every row.
TEST(MergePatch, Rfc7386AppendixA) {
    for (auto c : std::initializer_list<Rfc7386Case>{
             {R"({"a":"b"})", R"({"a":"c"})", R"({"a":"c"})"},
             {R"({"a":"b"})", R"({"b":"c"})", R"({"a":"b","b":"c"})"},
             {R"({"a":"b"})", R"({"a":null})", R"({})"},
             {R"({"a":"b","b":"c"})", R"({"a":null})", R"({"b":"c"})"},
             {R"({"a":["b"]})", R"({"a":"c"})", R"({"a":"c"})"},
             {R"({"a":"c"})", R"({"a":["b"]})", R"({"a":["b"]})"},
             {R"({"a":{"b":"c"}})", R"({"a":{"b":"d","c":null}})", R"({"a":{"b":"d"}})"},
             {R"({"a":[{"b":"c"}]})", R"({"a":[1]})", R"({"a":[1]})"},
             {R"(["a","b"])", R"(["c","d"])", R"(["c","d"])"},
             {R"({"a":"b"})", R"(["c"])", R"(["c"])"},
             {R"({"a":"foo"})", "null", "null"},
             {R"({"a":"foo"})", R"("bar")", R"("bar")"},
             {R"({"e":null})", R"({"a":1})", R"({"e":null,"a":1})"},
             {R"([1,2])", R"({"a":"b","c":null})", R"({"a":"b"})"},
             {R"({})", R"({"a":{"bb":{"ccc":null}}})", R"({"a":{"bb":{}}})"},
         }) {
        json::value out = apply_merge_patch(json::parse(c.original), json::parse(c.patch));
        EXPECT_TRUE(json_equal(out, json::parse(c.result)))
            << c.original << " + " << c.patch << " = " << json::serialize(out);
    }
}

TEST(MergePatch, ReplacesListsWholeOnKubernetesObjects) {
    auto out = apply_patch(PatchType::kMergePatch, json::parse(R"({
        "kind": "Pod", "apiVersion": "v1", "metadata": {"name": "p", "labels": {"a": "1"}},
        "spec": {"containers": [{"name": "a", "image": "x"}, {"name": "b", "image": "y"}]}})"),
                           R"({"metadata": {"labels": {"a": null, "b": "2"}},
                               "spec": {"containers": [{"name": "b", "image": "z"}]}})");
    ASSERT_TRUE(out) << out.error().detail;
    EXPECT_TRUE(json_equal(*out, json::parse(R"({
        "kind": "Pod", "apiVersion": "v1", "metadata": {"name": "p", "labels": {"b": "2"}},
        "spec": {"containers": [{"name": "b", "image": "z"}]}})")))
        << json::serialize(*out);
}

TEST(MergePatch, DispatcherRejectsBadBodies) {
    json::value target = json::parse(R"({"kind": "Pod", "apiVersion": "v1"})");
    auto not_json = apply_patch(PatchType::kMergePatch, target, "{nope");
    ASSERT_FALSE(not_json);
    EXPECT_EQ(not_json.error().code, patch_errc::malformed_patch);
    auto not_object = apply_patch(PatchType::kMergePatch, target, "[1]");
    ASSERT_FALSE(not_object);
    EXPECT_EQ(not_object.error().code, patch_errc::malformed_patch);
}

TEST(MergePatch, ContentTypes) {
    EXPECT_EQ(patch_type_from_content_type("application/merge-patch+json").value(),
              PatchType::kMergePatch);
    EXPECT_EQ(patch_type_from_content_type("application/json-patch+json; charset=utf-8").value(),
              PatchType::kJsonPatch);
    EXPECT_EQ(patch_type_from_content_type("application/strategic-merge-patch+json").value(),
              PatchType::kStrategicMergePatch);
    EXPECT_EQ(patch_type_from_content_type("application/apply-patch+yaml").value(),
              PatchType::kApplyPatch);
    auto bad = patch_type_from_content_type("application/json");
    ASSERT_FALSE(bad);
    EXPECT_EQ(bad.error().code, patch_errc::unsupported_media_type);
    for (auto t : {PatchType::kJsonPatch, PatchType::kMergePatch, PatchType::kStrategicMergePatch,
                   PatchType::kApplyPatch}) {
        EXPECT_EQ(patch_type_from_content_type(content_type_of(t)).value(), t);
    }
}

TEST(JsonEqual, ComparesNumbersByValue) {
    EXPECT_TRUE(json_equal(json::parse("1"), json::parse("1.0")));
    EXPECT_TRUE(
        json_equal(json::parse(R"({"a":[1,{"b":2}]})"), json::parse(R"({"a":[1,{"b":2.0}]})")));
    EXPECT_FALSE(json_equal(json::parse("1"), json::parse(R"("1")")));
    EXPECT_FALSE(json_equal(json::parse(R"({"a":1})"), json::parse(R"({"a":1,"b":2})")));
    EXPECT_FALSE(json_equal(json::parse("[1,2]"), json::parse("[2,1]")));
}

}  // namespace
}  // namespace kedge::kube
