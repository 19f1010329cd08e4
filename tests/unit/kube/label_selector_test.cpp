#include "kube/label_selector.hpp"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>

#include "kube/validation.hpp"

namespace kedge::kube {
namespace {

namespace json = boost::json;

LabelSelector parse_ok(std::string_view s) {
    auto r = LabelSelector::parse(s);
    EXPECT_TRUE(r) << s << ": " << (r ? "" : r.error().detail);
    return r ? *r : LabelSelector::nothing();
}

bool matches(std::string_view sel, const Labels& l) { return parse_ok(sel).matches(l); }

TEST(LabelSelector, AcceptsTheGrammar) {
    for (auto s : {"x=a,y=b,z=c",
                   "",
                   "x!=a,y=b",
                   "x=",
                   "x= ",
                   "x=,z= ",
                   "x= ,z= ",
                   "!x",
                   "x>1",
                   "x>1,z<5",
                   "x>1,z<5,a",
                   "x==a",
                   "x in (a,b)",
                   "x notin (a)",
                   "x in(a)",
                   "x in ()",
                   "x in (a,)",
                   "  a  ,  ! b , c in ( d , e )  ",
                   "notin=in",
                   "example.com/app=v1",
                   "a.b-c_d=E.f-G_h",
                   "x\t=\ta"}) {
        EXPECT_TRUE(LabelSelector::parse(s)) << s;
    }
}

TEST(LabelSelector, RejectsBadSyntaxWithTheOffendingToken) {
    struct Case {
        const char* text;
        const char* expect_in_message;
    };
    for (auto c : std::initializer_list<Case>{
             {"x=a||y=b", "invalid"},  // "a||y" is not a valid label value
             {"x==a==b", "found '=='"},
             {"!x=a", "found '='"},
             {"x<a", "must be an integer"},
             {"x=a,", "identifier after ','"},
             {",x=a", "found ','"},
             {"x in a", "expected: '('"},
             {"x in (a", "found 'end of string'"},
             {"x in (a b)", "found 'b'"},
             {"x notin", "expected: '('"},
             {"x y", "found 'y'"},
             {"=a", "found '='"},
             {"x=(a)", "found '('"},
             {"x>", "must be an integer"},
         }) {
        auto r = LabelSelector::parse(c.text);
        ASSERT_FALSE(r) << c.text;
        EXPECT_TRUE(r.error().is(errc::invalid_argument));
        EXPECT_NE(r.error().detail.find(c.expect_in_message), std::string::npos)
            << c.text << " -> " << r.error().detail;
    }
}

TEST(LabelSelector, ValidatesKeysAndValuesLikeKubernetes) {
    std::string long63(63, 'a');
    std::string long64(64, 'a');
    EXPECT_TRUE(LabelSelector::parse(long63 + "=" + long63));
    EXPECT_FALSE(LabelSelector::parse(long64 + "=a"));
    EXPECT_FALSE(LabelSelector::parse("a=" + long64));
    EXPECT_FALSE(LabelSelector::parse("-a=b"));
    EXPECT_FALSE(LabelSelector::parse("a=b-"));
    EXPECT_FALSE(LabelSelector::parse("Example.com/a=b"));  // prefix must be lowercase DNS
    EXPECT_FALSE(LabelSelector::parse("/a=b"));
    EXPECT_FALSE(LabelSelector::parse("a/b/c=d"));
    EXPECT_FALSE(LabelSelector::parse("a/=d"));
    auto r = LabelSelector::parse(long64 + "=a");
    EXPECT_NE(r.error().detail.find("name part must be no more than 63 characters"),
              std::string::npos)
        << r.error().detail;

    EXPECT_TRUE(validate_qualified_name("kubernetes.io/hostname"));
    EXPECT_TRUE(validate_qualified_name(std::string(253, 'a') + "/b"));
    EXPECT_FALSE(validate_qualified_name(std::string(254, 'a') + "/b"));
    EXPECT_TRUE(validate_label_value(""));
    EXPECT_FALSE(validate_label_value("a b"));
    EXPECT_TRUE(validate_dns1123_label("my-ns"));
    EXPECT_FALSE(validate_dns1123_label("My-ns"));
    EXPECT_FALSE(validate_dns1123_label("a.b"));
    EXPECT_TRUE(validate_dns1123_subdomain("a.b-c.d"));
    EXPECT_FALSE(validate_dns1123_subdomain("a..b"));
    EXPECT_FALSE(validate_dns1123_subdomain(""));
}

TEST(LabelSelector, Matches) {
    EXPECT_TRUE(matches("", {{"x", "y"}}));
    EXPECT_TRUE(matches("x=y", {{"x", "y"}}));
    EXPECT_TRUE(matches("x==y", {{"x", "y"}}));
    EXPECT_TRUE(matches("x=y,z=w", {{"x", "y"}, {"z", "w"}}));
    EXPECT_TRUE(matches("x!=y,z!=w", {{"x", "z"}, {"z", "a"}}));
    EXPECT_TRUE(matches("notin=in", {{"notin", "in"}}));
    EXPECT_TRUE(matches("x", {{"x", "z"}}));
    EXPECT_TRUE(matches("!x", {{"y", "z"}}));
    EXPECT_TRUE(matches("x>1", {{"x", "2"}}));
    EXPECT_TRUE(matches("x<1", {{"x", "0"}}));
    EXPECT_TRUE(matches("x in (a,b)", {{"x", "b"}}));
    EXPECT_TRUE(matches("x notin (a,b)", {{"x", "c"}}));
    EXPECT_TRUE(matches("x notin (a,b)", {}));  // absent label is "not in"
    EXPECT_TRUE(matches("x!=a", {}));
    EXPECT_TRUE(matches("x=", {{"x", ""}}));
    EXPECT_TRUE(matches("x in ()", {{"x", ""}}));

    EXPECT_FALSE(matches("x=z", {}));
    EXPECT_FALSE(matches("x=y", {{"x", "z"}}));
    EXPECT_FALSE(matches("x=y,z=w", {{"x", "w"}, {"z", "w"}}));
    EXPECT_FALSE(matches("x!=y,z!=w", {{"x", "z"}, {"z", "w"}}));
    EXPECT_FALSE(matches("x", {{"y", "z"}}));
    EXPECT_FALSE(matches("!x", {{"x", "z"}}));
    EXPECT_FALSE(matches("x>1", {{"x", "0"}}));
    EXPECT_FALSE(matches("x>1", {{"x", "abc"}}));
    EXPECT_FALSE(matches("x<1", {{"x", "2"}}));
    EXPECT_FALSE(matches("x in (a,b)", {}));
    EXPECT_FALSE(matches("x notin (a,b)", {{"x", "a"}}));
    EXPECT_FALSE(matches("x=", {}));

    EXPECT_TRUE(LabelSelector().empty());
    EXPECT_TRUE(LabelSelector().matches(Labels{}));
    EXPECT_FALSE(LabelSelector::nothing().matches(Labels{}));
    EXPECT_FALSE(LabelSelector::nothing().empty());
}

TEST(LabelSelector, MatchesObjectLabelsWithoutCopying) {
    json::object pod =
        json::parse(R"({"metadata": {"labels": {"app": "web", "n": 3}}})").as_object();
    EXPECT_TRUE(parse_ok("app=web").matches_object(pod));
    EXPECT_TRUE(parse_ok("app in (web, db), !n").matches_object(pod));  // non-string = absent
    EXPECT_FALSE(parse_ok("app=db").matches_object(pod));
    EXPECT_TRUE(parse_ok("!app").matches_object(json::object{}));
    EXPECT_TRUE(parse_ok("!app").matches_json_labels(nullptr));
}

TEST(LabelSelector, CanonicalStringRoundTrips) {
    auto s = parse_ok(" z in (b, a,b), !y , x==1,w, v>3, u notin (q) ");
    EXPECT_EQ(s.to_string(), "u notin (q),v>3,w,x==1,!y,z in (a,b)");
    auto again = parse_ok(s.to_string());
    EXPECT_EQ(again.to_string(), s.to_string());
    EXPECT_EQ(parse_ok("").to_string(), "");
    EXPECT_EQ(parse_ok("a=").to_string(), "a=");
    EXPECT_EQ(parse_ok("x in (,a)").to_string(), "x in (,a)");
}

TEST(LabelSelector, RequiresExactMatch) {
    auto s = parse_ok("app=web,tier in (a,b),env in (prod)");
    EXPECT_EQ(s.requires_exact_match("app"), "web");
    EXPECT_EQ(s.requires_exact_match("env"), "prod");
    EXPECT_FALSE(s.requires_exact_match("tier"));
    EXPECT_FALSE(s.requires_exact_match("other"));
}

TEST(LabelSelector, FromJson) {
    auto sel = LabelSelector::from_json(json::parse(R"({
        "matchLabels": {"app": "web"},
        "matchExpressions": [
            {"key": "tier", "operator": "In", "values": ["front", "back"]},
            {"key": "env", "operator": "NotIn", "values": ["dev"]},
            {"key": "team", "operator": "Exists"},
            {"key": "legacy", "operator": "DoesNotExist"}
        ]})"));
    ASSERT_TRUE(sel) << sel.error().detail;
    EXPECT_EQ(sel->to_string(), "app=web,env notin (dev),!legacy,team,tier in (back,front)");
    EXPECT_TRUE(sel->matches({{"app", "web"}, {"tier", "front"}, {"team", "t"}}));
    EXPECT_FALSE(sel->matches({{"app", "web"}, {"tier", "front"}}));
    EXPECT_FALSE(sel->matches({{"app", "web"}, {"tier", "front"}, {"team", "t"}, {"env", "dev"}}));

    auto empty = LabelSelector::from_json(json::parse("{}"));
    ASSERT_TRUE(empty);
    EXPECT_TRUE(empty->empty());
    EXPECT_TRUE(empty->matches({{"a", "b"}}));
    auto null = LabelSelector::from_json(json::value());
    ASSERT_TRUE(null);
    EXPECT_FALSE(null->matches({{"a", "b"}}));

    for (auto bad :
         {R"({"matchExpressions": [{"key": "a", "operator": "Gt", "values": ["1"]}]})",
          R"({"matchExpressions": [{"key": "a", "operator": "In", "values": []}]})",
          R"({"matchExpressions": [{"key": "a", "operator": "Exists", "values": ["x"]}]})",
          R"({"matchExpressions": [{"operator": "Exists"}]})", R"({"matchLabels": {"a": 1}})",
          R"({"matchLabels": {"a b": "c"}})", R"({"matchLabels": []})", R"([])"}) {
        auto r = LabelSelector::from_json(json::parse(bad));
        EXPECT_FALSE(r) << bad;
    }
    auto gt = LabelSelector::from_json(
        json::parse(R"({"matchExpressions": [{"key": "a", "operator": "Gt"}]})"));
    ASSERT_FALSE(gt);
    EXPECT_NE(gt.error().detail.find("\"Gt\" is not a valid label selector operator"),
              std::string::npos);
}

TEST(LabelSelector, FromLabelsAndAdd) {
    auto s = LabelSelector::from_labels({{"b", "2"}, {"a", "1"}});
    ASSERT_TRUE(s);
    EXPECT_EQ(s->to_string(), "a=1,b=2");
    auto r = Requirement::make("0", SelectorOperator::kExists, {});
    ASSERT_TRUE(r);
    s->add(*r);
    EXPECT_EQ(s->to_string(), "0,a=1,b=2");
    EXPECT_FALSE(Requirement::make("a", SelectorOperator::kEquals, {"x", "y"}));
    EXPECT_FALSE(Requirement::make("a", SelectorOperator::kIn, {}));
}

}  // namespace
}  // namespace kedge::kube
