#include "kube/field_selector.hpp"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>

namespace kedge::kube {
namespace {

namespace json = boost::json;

FieldSelector parse_ok(std::string_view s) {
    auto r = FieldSelector::parse(s);
    EXPECT_TRUE(r) << s << ": " << (r ? "" : r.error().detail);
    return r ? *r : FieldSelector();
}

TEST(FieldSelector, Parses) {
    auto s = parse_ok("spec.nodeName!=y,metadata.name=x,status.phase==Running");
    ASSERT_EQ(s.requirements().size(), 3u);
    // Sorted by term text, as apimachinery does.
    EXPECT_EQ(s.requirements()[0], (FieldRequirement{"metadata.name", false, "x"}));
    EXPECT_EQ(s.requirements()[1], (FieldRequirement{"spec.nodeName", true, "y"}));
    EXPECT_EQ(s.requirements()[2], (FieldRequirement{"status.phase", false, "Running"}));
    EXPECT_EQ(s.to_string(), "metadata.name=x,spec.nodeName!=y,status.phase=Running");

    EXPECT_TRUE(parse_ok("").empty());
    EXPECT_EQ(parse_ok("a=b,,c=d").requirements().size(), 2u);
    EXPECT_EQ(parse_ok("spec.nodeName=").requirements()[0].value, "");
}

TEST(FieldSelector, EscapesValues) {
    auto s = parse_ok(R"(metadata.name=a\,b\=c\\d,spec.x=y)");
    ASSERT_EQ(s.requirements().size(), 2u);
    EXPECT_EQ(s.requirements()[0].value, R"(a,b=c\d)");
    EXPECT_EQ(s.to_string(), R"(metadata.name=a\,b\=c\\d,spec.x=y)");
    EXPECT_EQ(escape_field_value("a,b=c\\"), R"(a\,b\=c\\)");
    EXPECT_EQ(unescape_field_value(R"(a\,b)").value(), "a,b");
}

TEST(FieldSelector, RejectsBadTerms) {
    for (auto bad : {"metadata.name", "a=b=c", R"(a=b\x)", R"(a=b\)", "=x", "a!b"}) {
        auto r = FieldSelector::parse(bad);
        ASSERT_FALSE(r) << bad;
        EXPECT_TRUE(r.error().is(errc::invalid_argument));
        EXPECT_NE(r.error().detail.find("invalid field selector"), std::string::npos);
    }
    EXPECT_NE(FieldSelector::parse("a=b=c").error().detail.find("unescaped character"),
              std::string::npos);
    EXPECT_NE(FieldSelector::parse(R"(a=b\x)").error().detail.find("invalid escape sequence"),
              std::string::npos);
}

TEST(FieldSelector, ValidatesSupportedFields) {
    auto s = parse_ok("spec.nodeName=n,metadata.name=x");
    EXPECT_TRUE(s.validate(supported_field_labels("pods")));
    auto r = s.validate(supported_field_labels("configmaps"));
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().detail, "field label not supported: spec.nodeName");
    EXPECT_TRUE(parse_ok("metadata.namespace=a").validate(supported_field_labels("widgets")));
}

TEST(FieldSelector, MatchesObjects) {
    json::object pod = json::parse(R"({
        "metadata": {"name": "p1", "namespace": "ns"},
        "spec": {"nodeName": "edge-1", "hostNetwork": true},
        "status": {"phase": "Running"}})")
                           .as_object();
    json::object pending = json::parse(R"({"metadata": {"name": "p2"}, "spec": {}})").as_object();

    EXPECT_TRUE(parse_ok("spec.nodeName=edge-1").matches_object(pod));
    EXPECT_TRUE(parse_ok("spec.nodeName=edge-1,status.phase!=Failed").matches_object(pod));
    EXPECT_FALSE(parse_ok("spec.nodeName=edge-2").matches_object(pod));
    EXPECT_FALSE(parse_ok("spec.nodeName!=edge-1").matches_object(pod));
    EXPECT_TRUE(parse_ok("spec.hostNetwork=true").matches_object(pod));
    // An absent field compares as "": the scheduler's "unscheduled pods" selector.
    EXPECT_TRUE(parse_ok("spec.nodeName=").matches_object(pending));
    EXPECT_FALSE(parse_ok("spec.nodeName=").matches_object(pod));
    EXPECT_TRUE(parse_ok("").matches_object(pod));

    auto s = parse_ok("metadata.name=p1");
    EXPECT_EQ(s.requires_exact_match("metadata.name"), "p1");
    EXPECT_FALSE(s.requires_exact_match("spec.nodeName"));
    EXPECT_TRUE(s.matches([](std::string_view f) -> std::optional<std::string> {
        return f == "metadata.name" ? std::optional<std::string>("p1") : std::nullopt;
    }));
}

TEST(FieldSelector, SelectableFieldValuesApplyKubernetesDefaults) {
    json::object node = json::parse(R"({"metadata": {"name": "n"}, "spec": {}})").as_object();
    EXPECT_EQ(selectable_field_value(node, "nodes", "spec.unschedulable"), "false");
    json::object event = json::parse(R"({"source": {"component": "kubelet"}})").as_object();
    EXPECT_EQ(selectable_field_value(event, "events", "source"), "kubelet");
    EXPECT_FALSE(selectable_field_value(node, "pods", "spec.nodeName"));
}

}  // namespace
}  // namespace kedge::kube
