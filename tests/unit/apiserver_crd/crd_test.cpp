#include "apiserver/crd/crd.hpp"

#include <gtest/gtest.h>
#include <boost/json.hpp>

#include "apiserver/crd/to_resource_type.hpp"
#include "yaml_json.hpp"

namespace kedge::apiserver::crd {
namespace {

namespace json = boost::json;
using kedge::test::yaml_to_json;

const char* kFooCrd = R"(
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: foos.example.com}
spec:
  group: example.com
  scope: Namespaced
  names: {plural: foos, kind: Foo, shortNames: [fo], categories: [all]}
  versions:
    - name: v1
      served: true
      storage: true
      subresources: {status: {}, scale: {specReplicasPath: .spec.replicas, statusReplicasPath: .status.replicas}}
      schema:
        openAPIV3Schema:
          type: object
          properties:
            spec: {type: object, properties: {replicas: {type: integer, default: 1}}}
            status: {type: object, properties: {replicas: {type: integer}}}
    - name: v1beta1
      served: false
      storage: false
      schema:
        openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}
)";

json::object foo_crd() { return yaml_to_json(kFooCrd).as_object(); }

std::vector<std::string> lines(const std::vector<kube::StatusCause>& causes) {
    std::vector<std::string> out;
    for (const auto& c : causes) out.push_back(c.field + ": " + c.message);
    return out;
}

// The causes after defaulting, like the server's create path.
std::vector<std::string> problems(json::object crd) {
    apply_crd_defaults(crd);
    return lines(validate_crd(crd));
}

json::value& at(json::object& o, std::string_view path) {
    json::value* v = nullptr;
    json::object* cur = &o;
    std::size_t start = 0;
    while (true) {
        const auto dot = path.find('.', start);
        const auto key = path.substr(start, dot == std::string_view::npos ? dot : dot - start);
        v = &(*cur)[key];
        if (dot == std::string_view::npos) return *v;
        if (v->is_array()) {  // "versions.0" style: next segment is an index
            const auto next = path.find('.', dot + 1);
            const auto idx = std::stoul(std::string(path.substr(dot + 1, next - dot - 1)));
            v = &v->as_array().at(idx);
            if (next == std::string_view::npos) return *v;
            start = next + 1;
        } else {
            start = dot + 1;
        }
        cur = &v->as_object();
    }
}

TEST(Crd, DefaultsAndAcceptsAValidCrd) {
    json::object crd = foo_crd();
    apply_crd_defaults(crd);
    EXPECT_EQ(at(crd, "spec.names.listKind"), "FooList");
    EXPECT_EQ(at(crd, "spec.names.singular"), "foo");
    EXPECT_EQ(at(crd, "spec.conversion.strategy"), "None");
    EXPECT_TRUE(validate_crd(crd).empty()) << ::testing::PrintToString(lines(validate_crd(crd)));

    auto parsed = parse_crd(crd);
    ASSERT_TRUE(parsed) << parsed.error().detail;
    EXPECT_EQ(parsed->name, "foos.example.com");
    EXPECT_EQ(parsed->storage_version().name, "v1");
    ASSERT_NE(parsed->find_version("v1beta1"), nullptr);
    EXPECT_EQ(parsed->find_version("v2"), nullptr);

    auto served = parsed->served_resources();
    ASSERT_EQ(served.size(), 1u);  // v1beta1 is not served
    const ServedResource& r = served[0];
    EXPECT_EQ(r.group_version(), "example.com/v1");
    EXPECT_EQ(r.plural, "foos");
    EXPECT_EQ(r.singular, "foo");
    EXPECT_EQ(r.kind, "Foo");
    EXPECT_EQ(r.list_kind, "FooList");
    EXPECT_TRUE(r.namespaced);
    EXPECT_EQ(r.short_names, std::vector<std::string>{"fo"});
    EXPECT_EQ(r.categories, std::vector<std::string>{"all"});
    EXPECT_TRUE(r.has_status);
    EXPECT_TRUE(r.has_scale);
    EXPECT_TRUE(r.storage);
    ASSERT_NE(r.schema, nullptr);
    json::value obj = json::parse(R"({"apiVersion":"example.com/v1","kind":"Foo","spec":{}})");
    EXPECT_TRUE(r.schema->process(obj).errors.empty());
    EXPECT_EQ(obj.at("spec").at("replicas"), 1);

    const ResourceType t = to_resource_type(r);
    EXPECT_EQ(t.resource, "foos");
    EXPECT_EQ(t.group_version(), "example.com/v1");
    EXPECT_EQ(t.subresources, (std::vector<std::string>{"status", "scale"}));
    EXPECT_TRUE(t.custom);
}

TEST(Crd, ClusterScope) {
    json::object crd = foo_crd();
    at(crd, "spec.scope") = "Cluster";
    apply_crd_defaults(crd);
    auto parsed = parse_crd(crd);
    ASSERT_TRUE(parsed);
    EXPECT_FALSE(parsed->served_resources().at(0).namespaced);
}

TEST(Crd, ReportsEachProblemWithItsField) {
    auto with = [](auto edit) {
        json::object crd = foo_crd();
        edit(crd);
        return problems(crd);
    };
    EXPECT_EQ(with([](json::object& c) { at(c, "metadata.name") = "bars.example.com"; }),
              std::vector<std::string>{"metadata.name: Invalid value: \"bars.example.com\": must "
                                       "be spec.names.plural+\".\"+spec.group"});
    EXPECT_EQ(with([](json::object& c) { at(c, "spec.versions.0").as_object().erase("schema"); }),
              std::vector<std::string>{"spec.versions[0].schema.openAPIV3Schema: Required value: "
                                       "schemas are required"});
    EXPECT_EQ(with([](json::object& c) { at(c, "spec.versions.1.storage") = true; }),
              std::vector<std::string>{"spec.versions: Invalid value: [\"v1\",\"v1beta1\"]: must "
                                       "have exactly one version marked as storage version"});
    EXPECT_EQ(with([](json::object& c) { at(c, "spec.versions.1.name") = "v1"; }),
              std::vector<std::string>{"spec.versions[1].name: Duplicate value: \"v1\""});
    EXPECT_EQ(with([](json::object& c) { at(c, "spec.scope") = "Global"; }),
              std::vector<std::string>{"spec.scope: Unsupported value: \"Global\": supported "
                                       "values: \"Cluster\", \"Namespaced\""});
    EXPECT_EQ(with([](json::object& c) {
                  at(c, "spec.group") = "example";
                  at(c, "metadata.name") = "foos.example";
              }),
              std::vector<std::string>{
                  "spec.group: Invalid value: \"example\": should be a domain with at least one "
                  "dot"});
    EXPECT_EQ(with([](json::object& c) { at(c, "spec.names.shortNames.0") = "F_o"; })
                  .at(0)
                  .rfind("spec.names.shortNames[0]: Invalid value: \"F_o\": a DNS-1035 label", 0),
              0u);
    EXPECT_EQ(with([](json::object& c) { at(c, "spec.names").as_object().erase("kind"); }),
              (std::vector<std::string>{"spec.names.kind: Required value",
                                        "spec.names.listKind: Required value"}));
    EXPECT_EQ(with([](json::object& c) { at(c, "spec.names.listKind") = "Foo"; }),
              std::vector<std::string>{"spec.names.listKind: Invalid value: \"Foo\": kind and "
                                       "listKind may not be the same"});
    EXPECT_EQ(with([](json::object& c) {
                  at(c, "spec.versions.0.schema.openAPIV3Schema.properties.spec.type") = "bogus";
              })
                  .at(0)
                  .rfind("spec.versions[0].schema.openAPIV3Schema.properties[spec].type: "
                         "Unsupported value: \"bogus\"",
                         0),
              0u);
    EXPECT_EQ(with([](json::object& c) {
                  at(c, "spec.conversion") = json::object{{"strategy", "Webhook"}};
              }),
              std::vector<std::string>{"spec.conversion.strategy: Forbidden: webhook conversion "
                                       "is not supported by kedge-apiserver"});
    EXPECT_EQ(with([](json::object& c) {
                  at(c, "spec.versions.0.subresources.scale").as_object().erase("specReplicasPath");
              }),
              std::vector<std::string>{
                  "spec.versions[0].subresources.scale.specReplicasPath: Required value"});

    json::object empty = json::parse(R"({"metadata":{"name":"x"},"spec":{}})").as_object();
    auto all = problems(empty);
    // name, group, scope, plural, kind, listKind, versions
    EXPECT_EQ(all.size(), 7u) << ::testing::PrintToString(all);
}

TEST(Crd, MalformedCrdsAreCausesNeverCrashes) {
    // Every field of the wrong JSON type, one at a time: always causes, never an exception.
    const std::vector<std::string> paths = {
        "spec",
        "spec.names",
        "spec.names.plural",
        "spec.names.kind",
        "spec.names.shortNames",
        "spec.names.shortNames.0",
        "spec.versions",
        "spec.versions.0",
        "spec.versions.0.name",
        "spec.versions.0.schema",
        "spec.versions.0.schema.openAPIV3Schema",
        "spec.versions.0.schema.openAPIV3Schema.properties",
        "spec.versions.0.schema.openAPIV3Schema.properties.spec.properties.replicas.default",
        "spec.versions.0.subresources",
        "spec.versions.0.subresources.scale",
        "spec.scope",
        "spec.group",
        "spec.conversion",
        "metadata"};
    const std::vector<json::value> bad = {
        nullptr, 7, "x", json::array{1, "y"}, json::object{{"a", 1}}, true};
    for (const auto& p : paths) {
        for (const auto& b : bad) {
            json::object crd = foo_crd();
            at(crd, p) = b;
            apply_crd_defaults(crd);
            auto causes = validate_crd(crd);
            auto parsed = parse_crd(crd);
            EXPECT_EQ(parsed.has_value(), causes.empty()) << p << " = " << json::serialize(b);
            if (parsed) {
                (void)compute_crd_status(*parsed, nullptr, "2024-01-01T00:00:00Z");
                (void)parsed->served_resources();
            }
        }
    }
    json::object crd = foo_crd();
    at(crd, "spec.conversion") = "x";
    EXPECT_EQ(problems(crd),
              std::vector<std::string>{"spec.conversion: Invalid value: \"x\": must be an object"});
}

TEST(Crd, InvalidStatusIsA422WithCauses) {
    json::object crd = foo_crd();
    at(crd, "spec.scope") = "Global";
    apply_crd_defaults(crd);
    kube::Status s = crd_invalid_status("foos.example.com", validate_crd(crd));
    EXPECT_EQ(s.code, 422);
    EXPECT_EQ(s.reason, "Invalid");
    EXPECT_EQ(s.kind, "CustomResourceDefinition");
    EXPECT_EQ(s.group, "apiextensions.k8s.io");
    ASSERT_EQ(s.causes.size(), 1u);
    EXPECT_EQ(s.causes[0].field, "spec.scope");
    EXPECT_NE(s.message.find("CustomResourceDefinition.apiextensions.k8s.io \"foos.example.com\" "
                             "is invalid"),
              std::string::npos)
        << s.message;

    auto parsed = parse_crd(crd);
    ASSERT_FALSE(parsed);
    EXPECT_TRUE(parsed.error().is(errc::invalid_argument));
    EXPECT_EQ(parsed.error().detail.rfind("spec.scope: Unsupported value", 0), 0u);
}

TEST(Crd, UpdateRules) {
    json::object old_crd = foo_crd();
    apply_crd_defaults(old_crd);
    old_crd["status"] = json::parse(R"({"storedVersions":["v1beta1","v1"]})");

    json::object updated = old_crd;
    EXPECT_TRUE(validate_crd_update(old_crd, updated).empty());

    at(updated, "spec.scope") = "Cluster";
    at(updated, "spec.versions")
        .as_array()
        .erase(at(updated, "spec.versions").as_array().begin() + 1);
    EXPECT_EQ(lines(validate_crd_update(old_crd, updated)),
              (std::vector<std::string>{
                  "spec.scope: Invalid value: \"Cluster\": field is immutable",
                  "status.storedVersions[0]: Invalid value: \"v1beta1\": must appear in "
                  "spec.versions"}));
}

TEST(Crd, StatusEstablishesAndKeepsTransitionTimes) {
    json::object crd = foo_crd();
    apply_crd_defaults(crd);
    auto parsed = parse_crd(crd);
    ASSERT_TRUE(parsed);
    json::object status = compute_crd_status(*parsed, nullptr, "2024-01-01T00:00:00Z");
    EXPECT_EQ(status.at("acceptedNames"),
              json::parse(R"({"plural":"foos","singular":"foo","kind":"Foo","listKind":"FooList",
                              "shortNames":["fo"],"categories":["all"]})"));
    EXPECT_EQ(status.at("storedVersions"), json::parse(R"(["v1"])"));
    const auto& conds = status.at("conditions").as_array();
    ASSERT_EQ(conds.size(), 2u);
    EXPECT_EQ(conds[0].at("type"), "NamesAccepted");
    EXPECT_EQ(conds[0].at("status"), "True");
    EXPECT_EQ(conds[0].at("reason"), "NoConflicts");
    EXPECT_EQ(conds[1].at("type"), "Established");
    EXPECT_EQ(conds[1].at("status"), "True");
    EXPECT_EQ(conds[1].at("lastTransitionTime"), "2024-01-01T00:00:00Z");

    crd["status"] = status;
    EXPECT_TRUE(is_established(crd));
    EXPECT_FALSE(is_established(foo_crd()));

    // A later update keeps the transition time and the stored versions.
    json::object old_status = status;
    old_status["storedVersions"] = json::parse(R"(["v1beta1","v1"])");
    json::object again = compute_crd_status(*parsed, &old_status, "2024-06-01T00:00:00Z");
    EXPECT_EQ(again.at("conditions").as_array()[1].at("lastTransitionTime"),
              "2024-01-01T00:00:00Z");
    EXPECT_EQ(again.at("storedVersions"), json::parse(R"(["v1beta1","v1"])"));
}

TEST(Crd, NameConflictWithinAGroupIsNotAccepted) {
    json::object a = foo_crd();
    apply_crd_defaults(a);
    json::object b = foo_crd();
    at(b, "metadata.name") = "foos2.example.com";
    at(b, "spec.names.plural") = "foos2";
    at(b, "spec.names.singular") = "foo2";
    at(b, "spec.names.shortNames.0") = "fo";  // collides
    at(b, "spec.names.kind") = "Foo2";
    apply_crd_defaults(b);
    auto pa = parse_crd(a);
    auto pb = parse_crd(b);
    ASSERT_TRUE(pa && pb);
    json::object status = compute_crd_status(*pb, nullptr, "2024-01-01T00:00:00Z", {*pa, *pb});
    const auto& conds = status.at("conditions").as_array();
    EXPECT_EQ(conds[0].at("status"), "False");
    EXPECT_EQ(conds[0].at("reason"), "ShortNamesConflict");
    EXPECT_EQ(conds[0].at("message"), "\"fo\" is already in use");
    EXPECT_EQ(conds[1].at("status"), "False");
    EXPECT_EQ(conds[1].at("reason"), "NotAccepted");

    // Another group may reuse every name.
    at(b, "spec.group") = "other.io";
    at(b, "metadata.name") = "foos2.other.io";
    auto pc = parse_crd(b);
    ASSERT_TRUE(pc);
    status = compute_crd_status(*pc, nullptr, "2024-01-01T00:00:00Z", {*pa});
    EXPECT_EQ(status.at("conditions").as_array()[1].at("status"), "True");
}

}  // namespace
}  // namespace kedge::apiserver::crd
