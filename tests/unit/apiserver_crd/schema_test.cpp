#include "apiserver/crd/schema.hpp"
#include "apiserver/crd/field_validation.hpp"

#include <gtest/gtest.h>
#include <boost/json.hpp>

#include "yaml_json.hpp"

namespace kedge::apiserver::crd {
namespace {

namespace json = boost::json;
using kedge::test::yaml_to_json;

std::shared_ptr<const StructuralSchema> compile_yaml(const std::string& yaml) {
    auto r = StructuralSchema::compile(yaml_to_json(yaml));
    EXPECT_TRUE(r.has_value()) << (r ? "" : r.error().detail);
    return r ? *r : nullptr;
}

// "field: message" for each cause, the way kubectl prints them.
std::vector<std::string> lines(const std::vector<kube::StatusCause>& causes) {
    std::vector<std::string> out;
    for (const auto& c : causes) out.push_back(c.field + ": " + c.message);
    return out;
}

std::vector<std::string> structural_errors(const std::string& yaml) {
    std::vector<kube::StatusCause> errors;
    auto s = StructuralSchema::compile(yaml_to_json(yaml), "openAPIV3Schema", errors);
    EXPECT_EQ(s, nullptr);
    return lines(errors);
}

const char* kWidget = R"(
type: object
properties:
  spec:
    type: object
    required: [size]
    properties:
      replicas: {type: integer, minimum: 1, maximum: 10}
      ratio: {type: number, minimum: 0, exclusiveMinimum: true, maximum: 1, exclusiveMaximum: true}
      size: {type: string, enum: [small, large]}
      name: {type: string, minLength: 2, maxLength: 5, pattern: '^[a-z]+$'}
      when: {type: string, format: date-time}
      opaque: {type: string, format: no-such-format}
      enabled: {type: boolean}
      note: {type: string, nullable: true}
      port: {x-kubernetes-int-or-string: true}
      labels:
        type: object
        additionalProperties: {type: string}
      anything:
        type: object
        additionalProperties: true
      free:
        type: object
        x-kubernetes-preserve-unknown-fields: true
        properties:
          typed: {type: integer}
      template:
        type: object
        x-kubernetes-embedded-resource: true
        properties:
          spec: {type: object, properties: {x: {type: string}}}
      items:
        type: array
        minItems: 1
        maxItems: 2
        items:
          type: object
          required: [name]
          properties:
            name: {type: string}
)";

TEST(StructuralSchema, AcceptsAValidObjectUnchanged) {
    auto s = compile_yaml(kWidget);
    ASSERT_NE(s, nullptr);
    json::value obj = yaml_to_json(R"(
apiVersion: example.com/v1
kind: Widget
metadata: {name: w, labels: {a: b}, anything: [1]}
spec:
  replicas: 3
  ratio: 0.5
  size: small
  name: abc
  when: "2024-01-02T03:04:05Z"
  opaque: whatever
  enabled: true
  note: null
  port: http
  labels: {x: "1"}
  anything: {deep: {er: [1, 2]}}
  free: {typed: 1, other: {k: v}}
  template: {apiVersion: v1, kind: Pod, metadata: {name: p}, spec: {x: y}}
  items: [{name: a}]
)");
    const json::value before = obj;
    auto out = s->process(obj);
    EXPECT_TRUE(out.errors.empty()) << ::testing::PrintToString(lines(out.errors));
    EXPECT_TRUE(out.pruned.empty()) << ::testing::PrintToString(out.pruned);
    EXPECT_EQ(obj, before);
}

TEST(StructuralSchema, WrongTypeNamesTheFieldInKubesWords) {
    auto s = compile_yaml(kWidget);
    auto errors = s->validate(yaml_to_json("{spec: {size: small, replicas: three}}"));
    ASSERT_EQ(errors.size(), 1u);
    EXPECT_EQ(errors[0].field, "spec.replicas");
    EXPECT_EQ(errors[0].reason, "FieldValueInvalid");
    EXPECT_EQ(errors[0].message,
              "Invalid value: \"string\": spec.replicas in body must be of type integer: "
              "\"string\"");
}

TEST(StructuralSchema, RequiredFieldsInArrayItems) {
    auto s = compile_yaml(kWidget);
    auto errors = s->validate(yaml_to_json("{spec: {size: small, items: [{name: a}, {}]}}"));
    EXPECT_EQ(lines(errors), std::vector<std::string>{"spec.items[1].name: Required value"});
    errors = s->validate(yaml_to_json("{spec: {}}"));
    EXPECT_EQ(lines(errors), std::vector<std::string>{"spec.size: Required value"});
}

TEST(StructuralSchema, ValueConstraints) {
    auto s = compile_yaml(kWidget);
    auto check = [&](const std::string& spec_fields, const std::string& expected) {
        auto errors = s->validate(yaml_to_json("{spec: {size: small, " + spec_fields + "}}"));
        ASSERT_EQ(errors.size(), 1u)
            << spec_fields << " " << ::testing::PrintToString(lines(errors));
        EXPECT_EQ(lines(errors)[0], expected) << spec_fields;
    };
    check("replicas: 0",
          "spec.replicas: Invalid value: 0: spec.replicas in body should be greater than or equal "
          "to 1");
    check("replicas: 11",
          "spec.replicas: Invalid value: 11: spec.replicas in body should be less than or equal "
          "to 10");
    check("replicas: 2.5",
          "spec.replicas: Invalid value: \"number\": spec.replicas in body must be of type "
          "integer: \"number\"");
    check("ratio: 0", "spec.ratio: Invalid value: 0: spec.ratio in body should be greater than 0");
    check("ratio: 1", "spec.ratio: Invalid value: 1: spec.ratio in body should be less than 1");
    check("name: a",
          "spec.name: Invalid value: \"a\": spec.name in body should be at least 2 chars long");
    check("name: abcdef", "spec.name: Too long: may not be longer than 5");
    check("name: AB",
          "spec.name: Invalid value: \"AB\": spec.name in body should match '^[a-z]+$'");
    check("when: yesterday",
          "spec.when: Invalid value: \"yesterday\": spec.when in body must be of type date-time: "
          "\"yesterday\"");
    check("enabled: 'true'",
          "spec.enabled: Invalid value: \"string\": spec.enabled in body must be of type boolean: "
          "\"string\"");
    check("port: true",
          "spec.port: Invalid value: \"boolean\": spec.port in body must be of type "
          "integer,string: \"boolean\"");
    check("labels: {a: 1}",
          "spec.labels.a: Invalid value: \"integer\": spec.labels.a in body must be of type "
          "string: \"integer\"");
    check("items: []",
          "spec.items: Invalid value: 0: spec.items in body should have at least 1 items");
    check("items: [{name: a}, {name: b}, {name: c}]",
          "spec.items: Too many: 3: must have at most 2 items");
    check("template: {kind: Pod}", "spec.template.apiVersion: Required value: must not be empty");
    check("free: {typed: x}",
          "spec.free.typed: Invalid value: \"string\": spec.free.typed in body must be of type "
          "integer: \"string\"");

    auto errors = s->validate(yaml_to_json("{spec: {size: medium}}"));
    ASSERT_EQ(errors.size(), 1u);
    EXPECT_EQ(errors[0].reason, "FieldValueNotSupported");
    EXPECT_EQ(lines(errors)[0],
              "spec.size: Unsupported value: \"medium\": supported values: \"small\", \"large\"");
}

TEST(StructuralSchema, IntegerFormatsBoundTheRange) {
    auto s = compile_yaml(R"(
type: object
properties:
  small: {type: integer, format: int32}
  big: {type: integer, format: int64}
)");
    ASSERT_NE(s, nullptr);
    EXPECT_TRUE(
        s->validate(json::parse(R"({"small":2147483647,"big":9223372036854775807})")).empty());
    EXPECT_EQ(lines(s->validate(json::parse(R"({"small":2147483648,"big":9223372036854775808})"))),
              (std::vector<std::string>{
                  "big: Invalid value: 9223372036854775808: big in body must be of type int64: "
                  "9223372036854775808",
                  "small: Invalid value: 2147483648: small in body must be of type int32: "
                  "2147483648"}));
}

TEST(StructuralSchema, IntegralDoublesAreIntegersAndNullNeedsNullable) {
    auto s = compile_yaml(kWidget);
    EXPECT_TRUE(s->validate(json::parse(R"({"spec":{"size":"small","replicas":2.0}})")).empty());
    EXPECT_TRUE(s->validate(json::parse(R"({"spec":{"size":"small","note":null}})")).empty());
    auto errors = s->validate(json::parse(R"({"spec":{"size":"small","name":null}})"));
    EXPECT_EQ(lines(errors), std::vector<std::string>{
                                 "spec.name: Invalid value: \"null\": spec.name in body must be of "
                                 "type string: \"null\""});
}

TEST(StructuralSchema, PrunesUnknownFieldsAndReportsThem) {
    auto s = compile_yaml(kWidget);
    json::value obj = yaml_to_json(R"(
apiVersion: example.com/v1
kind: Widget
metadata: {name: w}
extra: 1
spec:
  size: small
  bogus: x
  items: [{name: a, nope: 1}]
  free: {whatever: {deep: 1}}
  anything: {k: v}
  template: {apiVersion: v1, kind: Pod, metadata: {name: p}, spec: {x: y, z: 1}, junk: 1}
)");
    auto out = s->process(obj);
    EXPECT_TRUE(out.errors.empty()) << ::testing::PrintToString(lines(out.errors));
    EXPECT_EQ(out.pruned, (std::vector<std::string>{"extra", "spec.bogus", "spec.items[0].nope",
                                                    "spec.template.spec.z", "spec.template.junk"}));
    EXPECT_EQ(obj, yaml_to_json(R"(
apiVersion: example.com/v1
kind: Widget
metadata: {name: w}
spec:
  size: small
  items: [{name: a}]
  free: {whatever: {deep: 1}}
  anything: {k: v}
  template: {apiVersion: v1, kind: Pod, metadata: {name: p}, spec: {x: y}}
)"));
}

TEST(FieldValidation, StrictAndWarnAnswers) {
    EXPECT_EQ(parse_field_validation("").value(), FieldValidation::kWarn);
    EXPECT_EQ(parse_field_validation("Strict").value(), FieldValidation::kStrict);
    EXPECT_EQ(parse_field_validation("Ignore").value(), FieldValidation::kIgnore);
    auto bad = parse_field_validation("strict");
    ASSERT_FALSE(bad);
    EXPECT_EQ(
        bad.error().detail,
        "fieldValidation parameter unsupported: strict, must be one of: Ignore, Warn, Strict");

    auto s = compile_yaml(kWidget);
    json::value obj = json::parse(R"({"spec":{"size":"small","a":1,"b":2}})");
    auto out = s->process(obj);
    kube::Status st = strict_decoding_error(out.pruned);
    EXPECT_EQ(st.code, 400);
    EXPECT_EQ(st.reason, "BadRequest");
    EXPECT_EQ(st.message,
              "strict decoding error: unknown field \"spec.a\", unknown field \"spec.b\"");
    EXPECT_EQ(unknown_field_warning(out.pruned[0]), "unknown field \"spec.a\"");
}

TEST(StructuralSchema, AppliesDefaultsTopDown) {
    auto s = compile_yaml(R"(
type: object
properties:
  spec:
    type: object
    default: {}
    properties:
      replicas: {type: integer, default: 1}
      mode: {type: string, default: auto}
      tags: {type: array, items: {type: string}}
      nested:
        type: object
        default: {inner: {}}
        properties:
          inner:
            type: object
            properties:
              level: {type: integer, default: 3}
      rules:
        type: array
        items:
          type: object
          properties:
            action: {type: string, default: allow}
)");
    ASSERT_NE(s, nullptr);
    json::value obj = json::parse(R"({"kind":"X"})");
    s->apply_defaults(obj);
    EXPECT_EQ(obj, json::parse(R"({"kind":"X","spec":{"replicas":1,"mode":"auto",
                                   "nested":{"inner":{"level":3}}}})"));

    obj = json::parse(R"({"spec":{"replicas":5,"mode":null,"tags":null,
                                  "rules":[{},{"action":"deny"}]}})");
    s->apply_defaults(obj);
    EXPECT_EQ(obj, json::parse(R"({"spec":{"replicas":5,"mode":"auto",
                                   "rules":[{"action":"allow"},{"action":"deny"}],
                                   "nested":{"inner":{"level":3}}}})"));
}

TEST(StructuralSchema, Junctors) {
    auto s = compile_yaml(R"(
type: object
properties:
  v:
    type: string
    anyOf: [{pattern: '^a'}, {pattern: '^b'}]
    not: {pattern: 'x$'}
  w:
    type: integer
    oneOf: [{minimum: 5}, {maximum: 10}]
)");
    ASSERT_NE(s, nullptr);
    EXPECT_TRUE(s->validate(json::parse(R"({"v":"apple","w":20})")).empty());
    EXPECT_EQ(
        lines(s->validate(json::parse(R"({"v":"cat"})"))),
        std::vector<std::string>{
            "v: Invalid value: \"cat\": v in body must validate at least one schema (anyOf)"});
    EXPECT_EQ(lines(s->validate(json::parse(R"({"v":"ax"})"))),
              std::vector<std::string>{
                  "v: Invalid value: \"ax\": v in body must not validate the schema (not)"});
    EXPECT_EQ(lines(s->validate(json::parse(R"({"w":7})"))),
              std::vector<std::string>{
                  "w: Invalid value: 7: w in body must validate one and only one schema (oneOf)"});
}

TEST(StructuralSchema, ControllerGenIntOrStringAndListTypes) {
    // What controller-gen emits for intstr.IntOrString, and list-type set/map semantics.
    auto s = compile_yaml(R"(
type: object
properties:
  port:
    anyOf: [{type: integer}, {type: string}]
    x-kubernetes-int-or-string: true
  tags:
    type: array
    x-kubernetes-list-type: set
    items: {type: string}
  ports:
    type: array
    x-kubernetes-list-type: map
    x-kubernetes-list-map-keys: [name, protocol]
    items:
      type: object
      properties:
        name: {type: string}
        protocol: {type: string}
        port: {type: integer}
)");
    ASSERT_NE(s, nullptr);
    EXPECT_TRUE(s->validate(json::parse(R"({"port":8080,"tags":["a","b"],
        "ports":[{"name":"a","protocol":"TCP"},{"name":"a","protocol":"UDP"}]})"))
                    .empty());
    EXPECT_TRUE(s->validate(json::parse(R"({"port":"http"})")).empty());
    EXPECT_EQ(lines(s->validate(json::parse(R"({"port":1.5})"))).size(), 1u);
    EXPECT_EQ(lines(s->validate(json::parse(R"({"tags":["a","b","a"],
        "ports":[{"name":"a","protocol":"TCP","port":1},{"name":"a","protocol":"TCP","port":2}]})"))),
              (std::vector<std::string>{
                  "ports[1]: Duplicate value: {\"name\":\"a\",\"protocol\":\"TCP\"}",
                  "tags[2]: Duplicate value: \"a\""}));

    EXPECT_EQ(structural_errors("{type: object, properties: {l: {type: array, items: {type: "
                                "string}, x-kubernetes-list-type: map}}}"),
              (std::vector<std::string>{
                  "openAPIV3Schema.properties[l].x-kubernetes-list-map-keys: Required value: must "
                  "not be empty if x-kubernetes-list-type is map",
                  "openAPIV3Schema.properties[l].x-kubernetes-list-type: Invalid value: \"map\": "
                  "must only be map if items type is object"}));
}

TEST(StructuralSchema, PatternsUseGoSyntaxAndLinearTime) {
    auto s = compile_yaml(R"(
type: object
properties:
  name: {type: string, pattern: '^[a-z]+$'}
  word: {type: string, pattern: '\pL+'}
)");
    ASSERT_NE(s, nullptr);
    // A long value from a client must not exhaust the stack (std::regex would recurse per char).
    json::object obj;
    obj["name"] = std::string(4 << 20, 'a');
    obj["word"] = "héllo";
    EXPECT_TRUE(s->validate(obj).empty());
    obj["name"] = std::string(4 << 20, 'a') + "1";
    EXPECT_EQ(s->validate(obj).size(), 1u);
    // Perl lookahead is not Go syntax: rejected when the CRD is created.
    EXPECT_EQ(structural_errors("{type: object, properties: {a: {type: string, pattern: "
                                "'^(?=a)'}}}")
                  .size(),
              1u);
}

TEST(StructuralSchema, RejectsNonStructuralSchemas) {
    EXPECT_EQ(structural_errors("{properties: {a: {type: string}}}"),
              std::vector<std::string>{
                  "openAPIV3Schema.type: Required value: must not be empty at the root"});
    EXPECT_EQ(structural_errors("{type: string}"),
              std::vector<std::string>{
                  "openAPIV3Schema.type: Invalid value: \"string\": must be object at the root"});
    EXPECT_EQ(structural_errors("{type: object, properties: {a: {description: x}}}"),
              std::vector<std::string>{"openAPIV3Schema.properties[a].type: Required value: must "
                                       "not be empty for specified object fields"});
    EXPECT_EQ(structural_errors("{type: object, properties: {a: {type: array}}}"),
              std::vector<std::string>{
                  "openAPIV3Schema.properties[a].items: Required value: must be specified"});
    EXPECT_EQ(structural_errors("{type: object, properties: {a: {type: strin}}}"),
              std::vector<std::string>{
                  "openAPIV3Schema.properties[a].type: Unsupported value: \"strin\": supported "
                  "values: \"array\", \"boolean\", \"integer\", \"number\", \"object\", "
                  "\"string\""});
    EXPECT_EQ(structural_errors("{type: object, properties: {a: {$ref: '#/x'}}}").front(),
              "openAPIV3Schema.properties[a].$ref: Forbidden: $ref is not supported");
    EXPECT_EQ(structural_errors("{type: object, properties: {a: {type: string, pattern: '('}}}")
                  .front()
                  .rfind("openAPIV3Schema.properties[a].pattern: Invalid value: \"(\": must be a "
                         "valid regular expression",
                         0),
              0u);
    EXPECT_EQ(structural_errors("{type: object, properties: {a: {type: integer, default: x}}}"),
              std::vector<std::string>{
                  "openAPIV3Schema.properties[a].default: Invalid value: \"x\": Invalid value: "
                  "\"string\": body must be of type integer: \"string\""});
    EXPECT_EQ(
        structural_errors(
            "{type: object, properties: {a: {type: object, default: {b: 1}, properties: {}}}}"),
        std::vector<std::string>{"openAPIV3Schema.properties[a].default: Invalid value: "
                                 "{\"b\":1}: must not have unknown fields: b"});
    EXPECT_EQ(structural_errors("{type: object, properties: {a: {type: object, properties: {}, "
                                "additionalProperties: {type: string}}}}"),
              std::vector<std::string>{"openAPIV3Schema.properties[a].additionalProperties: "
                                       "Forbidden: additionalProperties and properties are "
                                       "mutual exclusive"});
    EXPECT_EQ(structural_errors("{type: object, properties: {a: {type: string, "
                                "anyOf: [{type: string}]}}}"),
              std::vector<std::string>{"openAPIV3Schema.properties[a].anyOf[0].type: Forbidden: "
                                       "must be empty to be structural"});

    auto r = StructuralSchema::compile(json::parse(R"({"type":"object","properties":[]})"));
    ASSERT_FALSE(r);
    EXPECT_TRUE(r.error().is(errc::invalid_argument));
    EXPECT_EQ(r.error().detail, "openAPIV3Schema.properties: Invalid value: []: must be an object");
}

TEST(StructuralSchema, NeverThrowsOnGarbage) {
    // Malformed schemas and objects of every shape: errors as values, no crash.
    const std::vector<std::string> docs = {"null",
                                           "1",
                                           "\"x\"",
                                           "[]",
                                           "{}",
                                           R"({"type":1})",
                                           R"({"type":"object","required":"a"})",
                                           R"({"type":"object","minLength":-1})",
                                           R"({"type":"object","items":[]})",
                                           R"({"type":"object","properties":{"a":null}})"};
    for (const auto& d : docs) {
        auto r = StructuralSchema::compile(json::parse(d));
        if (r) {
            for (const auto& o : docs) {
                json::value v = json::parse(o);
                (void)(*r)->process(v);
            }
        }
    }
    auto s = compile_yaml(kWidget);
    for (const auto& o : docs) {
        json::value v = json::parse(o);
        auto out = s->process(v);
        if (!v.is_object()) EXPECT_FALSE(out.errors.empty()) << o;
    }
}

}  // namespace
}  // namespace kedge::apiserver::crd
