#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "kube/patch.hpp"

namespace kedge::kube {
namespace {

namespace json = boost::json;

struct Case {
    const char* name;
    const char* doc;
    const char* patch;
    const char* expected;  // nullptr: the patch must fail with `error`
    patch_errc error = patch_errc::ok;
};

// RFC 6902 Appendix A plus the error cases of the json-patch test suite.
const Case kCases[] = {
    {"A.1 add object member", R"({"foo":"bar"})", R"([{"op":"add","path":"/baz","value":"qux"}])",
     R"({"baz":"qux","foo":"bar"})"},
    {"A.2 add array element", R"({"foo":["bar","baz"]})",
     R"([{"op":"add","path":"/foo/1","value":"qux"}])", R"({"foo":["bar","qux","baz"]})"},
    {"A.3 remove object member", R"({"baz":"qux","foo":"bar"})",
     R"([{"op":"remove","path":"/baz"}])", R"({"foo":"bar"})"},
    {"A.4 remove array element", R"({"foo":["bar","qux","baz"]})",
     R"([{"op":"remove","path":"/foo/1"}])", R"({"foo":["bar","baz"]})"},
    {"A.5 replace", R"({"baz":"qux","foo":"bar"})",
     R"([{"op":"replace","path":"/baz","value":"boo"}])", R"({"baz":"boo","foo":"bar"})"},
    {"A.6 move value", R"({"foo":{"bar":"baz","waldo":"fred"},"qux":{"corge":"grault"}})",
     R"([{"op":"move","from":"/foo/waldo","path":"/qux/thud"}])",
     R"({"foo":{"bar":"baz"},"qux":{"corge":"grault","thud":"fred"}})"},
    {"A.7 move array element", R"({"foo":["all","grass","cows","eat"]})",
     R"([{"op":"move","from":"/foo/1","path":"/foo/3"}])",
     R"({"foo":["all","cows","eat","grass"]})"},
    {"A.8 test success", R"({"baz":"qux","foo":["a",2,"c"]})",
     R"([{"op":"test","path":"/baz","value":"qux"},{"op":"test","path":"/foo/1","value":2}])",
     R"({"baz":"qux","foo":["a",2,"c"]})"},
    {"A.9 test failure", R"({"baz":"qux"})", R"([{"op":"test","path":"/baz","value":"bar"}])",
     nullptr, patch_errc::apply_failed},
    {"A.10 add nested object", R"({"foo":"bar"})",
     R"([{"op":"add","path":"/child","value":{"grandchild":{}}}])",
     R"({"foo":"bar","child":{"grandchild":{}}})"},
    {"A.11 ignore unknown members", R"({"foo":"bar"})",
     R"([{"op":"add","path":"/baz","value":"qux","xyz":123}])", R"({"foo":"bar","baz":"qux"})"},
    {"A.12 add to missing parent", R"({"foo":"bar"})",
     R"([{"op":"add","path":"/baz/bat","value":"qux"}])", nullptr, patch_errc::apply_failed},
    {"A.14 escape ordering", R"({"/":9,"~1":10})", R"([{"op":"test","path":"/~01","value":10}])",
     R"({"/":9,"~1":10})"},
    {"A.15 string is not number", R"({"/":9,"~1":10})",
     R"([{"op":"test","path":"/~01","value":"10"}])", nullptr, patch_errc::apply_failed},
    {"A.16 add array value with -", R"({"foo":["bar"]})",
     R"([{"op":"add","path":"/foo/-","value":["abc","def"]}])", R"({"foo":["bar",["abc","def"]]})"},
    {"~1 addresses a slash", R"({"a/b":1})", R"([{"op":"replace","path":"/a~1b","value":2}])",
     R"({"a/b":2})"},
    {"empty key", R"({"":1})", R"([{"op":"replace","path":"/","value":2}])", R"({"":2})"},
    {"replace whole document", R"({"a":1})", R"([{"op":"replace","path":"","value":{"b":2}}])",
     R"({"b":2})"},
    {"add at end index", R"([1,2])", R"([{"op":"add","path":"/2","value":3}])", "[1,2,3]"},
    {"copy", R"({"a":{"b":1}})", R"([{"op":"copy","from":"/a","path":"/c"}])",
     R"({"a":{"b":1},"c":{"b":1}})"},
    {"move to same place", R"({"a":1})", R"([{"op":"move","from":"/a","path":"/a"}])",
     R"({"a":1})"},
    {"test numbers by value", R"({"a":1})", R"([{"op":"test","path":"/a","value":1.0}])",
     R"({"a":1})"},
    {"test whole document", R"({"a":[1]})", R"([{"op":"test","path":"","value":{"a":[1]}}])",
     R"({"a":[1]})"},
    {"empty patch", R"({"a":1})", "[]", R"({"a":1})"},
    {"add index out of range", R"([1])", R"([{"op":"add","path":"/3","value":2}])", nullptr,
     patch_errc::apply_failed},
    {"leading zero index", R"([1,2])", R"([{"op":"replace","path":"/01","value":3}])", nullptr,
     patch_errc::apply_failed},
    {"negative index", R"([1,2])", R"([{"op":"remove","path":"/-1"}])", nullptr,
     patch_errc::apply_failed},
    {"dash outside add", R"([1,2])", R"([{"op":"replace","path":"/-","value":3}])", nullptr,
     patch_errc::apply_failed},
    {"remove missing", R"({"a":1})", R"([{"op":"remove","path":"/b"}])", nullptr,
     patch_errc::apply_failed},
    {"replace missing", R"({"a":1})", R"([{"op":"replace","path":"/b","value":1}])", nullptr,
     patch_errc::apply_failed},
    {"test missing", R"({"a":1})", R"([{"op":"test","path":"/b","value":1}])", nullptr,
     patch_errc::apply_failed},
    {"move from missing", R"({"a":1})", R"([{"op":"move","from":"/b","path":"/c"}])", nullptr,
     patch_errc::apply_failed},
    {"move into own child", R"({"a":{"b":1}})", R"([{"op":"move","from":"/a","path":"/a/c"}])",
     nullptr, patch_errc::apply_failed},
    {"remove root", R"({"a":1})", R"([{"op":"remove","path":""}])", nullptr,
     patch_errc::apply_failed},
    {"through a scalar", R"({"a":1})", R"([{"op":"add","path":"/a/b","value":1}])", nullptr,
     patch_errc::apply_failed},
    {"unknown op", R"({"a":1})", R"([{"op":"spam","path":"/a"}])", nullptr,
     patch_errc::malformed_patch},
    {"missing op", R"({"a":1})", R"([{"path":"/a"}])", nullptr, patch_errc::malformed_patch},
    {"missing path", R"({"a":1})", R"([{"op":"remove"}])", nullptr, patch_errc::malformed_patch},
    {"missing value", R"({"a":1})", R"([{"op":"add","path":"/b"}])", nullptr,
     patch_errc::malformed_patch},
    {"missing from", R"({"a":1})", R"([{"op":"copy","path":"/b"}])", nullptr,
     patch_errc::malformed_patch},
    {"pointer without slash", R"({"a":1})", R"([{"op":"remove","path":"a"}])", nullptr,
     patch_errc::malformed_patch},
    {"bad escape", R"({"a":1})", R"([{"op":"remove","path":"/a~2"}])", nullptr,
     patch_errc::malformed_patch},
    {"trailing tilde", R"({"a":1})", R"([{"op":"remove","path":"/a~"}])", nullptr,
     patch_errc::malformed_patch},
    {"not an array", R"({"a":1})", R"({"op":"remove","path":"/a"})", nullptr,
     patch_errc::malformed_patch},
    {"operation not an object", R"({"a":1})", R"([1])", nullptr, patch_errc::malformed_patch},
};

TEST(JsonPatch, SuiteCases) {
    for (const Case& c : kCases) {
        SCOPED_TRACE(c.name);
        json::value doc = json::parse(c.doc);
        json::value before = doc;
        auto out = apply_json_patch(doc, json::parse(c.patch));
        if (c.expected != nullptr) {
            ASSERT_TRUE(out) << out.error().detail;
            EXPECT_TRUE(json_equal(*out, json::parse(c.expected))) << json::serialize(*out);
        } else {
            ASSERT_FALSE(out) << json::serialize(*out);
            EXPECT_EQ(out.error().code, c.error) << out.error().detail;
            EXPECT_FALSE(out.error().detail.empty());
        }
        EXPECT_TRUE(json_equal(doc, before));
    }
}

TEST(JsonPatch, ErrorsNameTheOperation) {
    auto out = apply_json_patch(json::parse(R"({"a":1})"),
                                json::parse(R"([{"op":"test","path":"/a","value":1},
                                               {"op":"test","path":"/a","value":2}])"));
    ASSERT_FALSE(out);
    EXPECT_NE(out.error().detail.find("operation 1"), std::string::npos) << out.error().detail;
    EXPECT_NE(out.error().detail.find("test failed"), std::string::npos) << out.error().detail;
}

TEST(JsonPatch, KubectlStyleOnPod) {
    json::value pod = json::parse(R"({"kind":"Pod","apiVersion":"v1",
        "metadata":{"name":"p","labels":{"app":"web"}},
        "spec":{"containers":[{"name":"c","image":"busybox:1"}]}})");
    auto out = apply_patch(PatchType::kJsonPatch, pod, R"([
        {"op":"replace","path":"/spec/containers/0/image","value":"busybox:2"},
        {"op":"add","path":"/metadata/labels/app.kubernetes.io~1name","value":"x"},
        {"op":"remove","path":"/metadata/labels/app"}])");
    ASSERT_TRUE(out) << out.error().detail;
    EXPECT_EQ(out->at_pointer("/spec/containers/0/image"), "busybox:2");
    EXPECT_EQ(out->at_pointer("/metadata/labels").as_object().size(), 1u);
    EXPECT_EQ(out->at_pointer("/metadata/labels/app.kubernetes.io~1name"), "x");

    auto root =
        apply_patch(PatchType::kJsonPatch, pod, R"([{"op":"replace","path":"","value":1}])");
    ASSERT_FALSE(root);
    EXPECT_EQ(root.error().code, patch_errc::apply_failed);
}

}  // namespace
}  // namespace kedge::kube
