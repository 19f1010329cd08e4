// Static pod manifests read as the kubelet's file source does, and the YAML -> JSON rules of
// Kubernetes' decoder.
#include "edge/edged/static_pods.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <filesystem>
#include <fstream>

#include "kube/object.hpp"
#include "support/test_support.hpp"

namespace kedge::edge {
namespace {

namespace json = boost::json;
namespace fs = std::filesystem;

constexpr const char* kNode = "edge-1";
const Clock::time_point kSeen =
    Clock::time_point(std::chrono::seconds(1'700'000'000) + std::chrono::nanoseconds(123'456'000));

constexpr const char* kWebYaml = R"(apiVersion: v1
kind: Pod
metadata:
  name: web
  labels:
    app: web
  annotations:
    team: edge
spec:
  containers:
  - name: nginx
    image: localhost:5000/nginx:1.25
    ports:
    - containerPort: 80
      hostPort: 8080
)";

class StaticPods : public ::testing::Test {
protected:
    test::TempDir tmp_;

    void write(const std::string& name, const std::string& content) {
        std::ofstream(tmp_.file(name), std::ios::binary | std::ios::trunc) << content;
    }
    StaticPodScan scan() { return scan_static_pods(tmp_.path(), kNode, kSeen); }
    static std::string errors_of(const StaticPodScan& s) {
        std::string out;
        for (const auto& e : s.errors) out += e + "\n";
        return out;
    }
};

json::value yaml(const std::string& text) {
    auto v = yaml_to_json(text);
    EXPECT_TRUE(v.has_value()) << (v ? "" : v.error().detail);
    return v ? *v : json::value();
}

TEST_F(StaticPods, YamlManifestBecomesThePodEdgedRuns) {
    write("web.yaml", kWebYaml);
    auto s = scan();
    ASSERT_TRUE(s.errors.empty()) << errors_of(s);
    ASSERT_EQ(s.pods.size(), 1u);
    const auto& sp = s.pods[0];
    const auto& pod = sp.pod;
    EXPECT_EQ(sp.file, fs::path(tmp_.file("web.yaml")));
    EXPECT_EQ(kube::name(pod), "web-edge-1");
    EXPECT_EQ(kube::namespace_of(pod), "default");
    EXPECT_EQ(*kube::get_path_string(pod, "spec.nodeName"), kNode);
    EXPECT_EQ(sp.hash.size(), 32u);
    EXPECT_EQ(sp.hash.find_first_not_of("0123456789abcdef"), std::string::npos) << sp.hash;
    EXPECT_EQ(kube::uid(pod), sp.hash);
    auto ann = kube::annotations(pod);
    EXPECT_EQ(ann["kubernetes.io/config.hash"], sp.hash);
    EXPECT_EQ(ann["kubernetes.io/config.source"], "file");
    EXPECT_EQ(ann["kubernetes.io/config.seen"], "2023-11-14T22:13:20.123456Z");
    EXPECT_EQ(ann["team"], "edge");
    EXPECT_EQ(kube::labels(pod)["app"], "web");
    // Integers stay integers (the pod manager reads ports as numbers).
    EXPECT_EQ(*kube::get_path(pod, "spec.containers.0.ports.0.containerPort"), json::value(80));
    EXPECT_EQ(*kube::get_path_string(pod, "spec.containers.0.image"), "localhost:5000/nginx:1.25");
    EXPECT_EQ(json::value_from(pod.at("spec").at("tolerations")),
              json::parse(R"([{"operator": "Exists", "effect": "NoExecute"}])"));
    EXPECT_EQ(*kube::get_path_string(pod, "status.phase"), "Pending");
    EXPECT_FALSE(is_mirror_pod(pod));
}

TEST_F(StaticPods, JsonManifestKeepsNamespaceAndMayUseTabs) {
    write("db.json",
          "{\n\t\"apiVersion\": \"v1\", \"kind\": \"Pod\",\n\t\"metadata\": {\"name\": \"db\", "
          "\"namespace\": \"kube-system\"},\n\t\"spec\": {\"containers\": [{\"name\": \"c\", "
          "\"image\": \"i\"}],\n\t\t\"tolerations\": [{\"operator\": \"Exists\", \"effect\": "
          "\"NoExecute\", \"tolerationSeconds\": 30}, {\"key\": \"k\", \"operator\": "
          "\"Exists\"}]}}\n");
    auto s = scan();
    ASSERT_TRUE(s.errors.empty()) << errors_of(s);
    ASSERT_EQ(s.pods.size(), 1u);
    EXPECT_EQ(kube::name(s.pods[0].pod), "db-edge-1");
    EXPECT_EQ(kube::namespace_of(s.pods[0].pod), "kube-system");
    // The kubelet replaces a matching NoExecute toleration (dropping tolerationSeconds) and
    // keeps the others.
    EXPECT_EQ(s.pods[0].pod.at("spec").at("tolerations"),
              json::parse(R"([{"operator": "Exists", "effect": "NoExecute"},
                              {"key": "k", "operator": "Exists"}])"));
}

TEST_F(StaticPods, MissingDirectoryIsNoPodsAndNoError) {
    auto s = scan_static_pods(tmp_.file("absent"), kNode, kSeen);
    EXPECT_TRUE(s.pods.empty());
    EXPECT_TRUE(s.errors.empty()) << errors_of(s);
}

TEST_F(StaticPods, SingleFilePathIsTheOnlyManifest) {
    write("only.manifest", kWebYaml);
    auto s = scan_static_pods(tmp_.file("only.manifest"), kNode, kSeen);
    ASSERT_TRUE(s.errors.empty()) << errors_of(s);
    ASSERT_EQ(s.pods.size(), 1u);
    EXPECT_EQ(kube::name(s.pods[0].pod), "web-edge-1");
}

TEST_F(StaticPods, HiddenOtherFilesAndDirectoriesAreIgnored) {
    write(".web.yaml.swp", "garbage: [");
    write(".hidden.yaml", kWebYaml);
    write("README.md", "# not a pod: [");
    write("web.yaml~", kWebYaml);
    fs::create_directory(tmp_.file("sub.yaml"));
    std::ofstream(tmp_.file("sub.yaml/inner.yaml")) << kWebYaml;
    auto s = scan();
    EXPECT_TRUE(s.pods.empty());
    EXPECT_TRUE(s.errors.empty()) << errors_of(s);
}

TEST_F(StaticPods, BadManifestsAreErrorLinesAndTheGoodOnesStillRun) {
    write("a-good.yml", kWebYaml);
    write("b-noname.yaml",
          "apiVersion: v1\nkind: Pod\nmetadata: {}\nspec:\n  containers: "
          "[{name: c, image: i}]\n");
    write("c-deploy.yaml", "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: d\n");
    write("d-bad.yaml", "apiVersion: v1\nkind: Pod\nmetadata:\n  name: x\n bad: [1, 2\n");
    write("e-empty.yaml", "# nothing here\n");
    write("f-nocontainers.yaml", "apiVersion: v1\nkind: Pod\nmetadata: {name: f}\nspec: {}\n");
    write("g-v2.yaml",
          "apiVersion: v2\nkind: Pod\nmetadata: {name: g}\nspec: {containers: "
          "[{name: c}]}\n");
    write("h-badjson.json", "{\"kind\": \"Pod\",\n  \"metadata\": {\"name\": }}");
    auto s = scan();
    ASSERT_EQ(s.pods.size(), 1u) << errors_of(s);
    EXPECT_EQ(kube::name(s.pods[0].pod), "web-edge-1");
    ASSERT_EQ(s.errors.size(), 7u) << errors_of(s);
    auto dir = tmp_.path() + "/";
    EXPECT_EQ(s.errors[0], dir + "b-noname.yaml: metadata.name is missing");
    EXPECT_EQ(s.errors[1], dir + "c-deploy.yaml: not a Pod: kind is \"Deployment\"");
    EXPECT_TRUE(s.errors[2].starts_with(dir + "d-bad.yaml: line 5, column ")) << s.errors[2];
    EXPECT_EQ(s.errors[3], dir + "e-empty.yaml: empty manifest");
    EXPECT_EQ(s.errors[4],
              dir + "f-nocontainers.yaml: spec.containers: at least one container is required");
    EXPECT_EQ(s.errors[5], dir + "g-v2.yaml: not a Pod: apiVersion is \"v2\", expected \"v1\"");
    EXPECT_TRUE(s.errors[6].starts_with(dir + "h-badjson.json: line 2, column 24: "))
        << s.errors[6];
}

TEST_F(StaticPods, SecondFileWithTheSamePodNameIsAnError) {
    write("a.yaml", kWebYaml);
    write("b.yaml", std::string(kWebYaml) + "  restartPolicy: Never\n");
    // Same name in another namespace is a different pod.
    write("c.yaml",
          "apiVersion: v1\nkind: Pod\nmetadata: {name: web, namespace: other}\n"
          "spec: {containers: [{name: c, image: i}]}\n");
    auto s = scan();
    ASSERT_EQ(s.pods.size(), 2u) << errors_of(s);
    EXPECT_EQ(s.pods[0].file, fs::path(tmp_.file("a.yaml")));
    EXPECT_EQ(s.pods[1].file, fs::path(tmp_.file("c.yaml")));
    ASSERT_EQ(s.errors.size(), 1u);
    EXPECT_EQ(s.errors[0], tmp_.file("b.yaml") + ": duplicate pod default/web-edge-1 (also in " +
                               tmp_.file("a.yaml") + ")");
}

TEST_F(StaticPods, UidIsStableAcrossScansAndChangesWithTheManifest) {
    write("web.yaml", kWebYaml);
    auto first = scan();
    ASSERT_EQ(first.pods.size(), 1u);
    auto again = scan_static_pods(tmp_.path(), kNode);  // another time: only config.seen moves
    ASSERT_EQ(again.pods.size(), 1u);
    EXPECT_EQ(again.pods[0].hash, first.pods[0].hash);
    EXPECT_NE(kube::annotations(again.pods[0].pod)["kubernetes.io/config.seen"],
              kube::annotations(first.pods[0].pod)["kubernetes.io/config.seen"]);

    auto other_node = scan_static_pods(tmp_.path(), "edge-2", kSeen);
    ASSERT_EQ(other_node.pods.size(), 1u);
    EXPECT_NE(other_node.pods[0].hash, first.pods[0].hash);
    EXPECT_EQ(kube::name(other_node.pods[0].pod), "web-edge-2");

    fs::rename(tmp_.file("web.yaml"), tmp_.file("web2.yaml"));
    auto moved = scan();
    ASSERT_EQ(moved.pods.size(), 1u);
    EXPECT_NE(moved.pods[0].hash, first.pods[0].hash);

    write("web2.yaml", std::string(kWebYaml) + "  restartPolicy: Never\n");
    auto changed = scan();
    ASSERT_EQ(changed.pods.size(), 1u);
    EXPECT_NE(changed.pods[0].hash, moved.pods[0].hash);
    EXPECT_EQ(kube::uid(changed.pods[0].pod), changed.pods[0].hash);
}

TEST_F(StaticPods, UidWrittenInTheManifestIsKept) {
    write("web.yaml",
          "apiVersion: v1\nkind: Pod\nmetadata: {name: web, uid: my-uid}\n"
          "spec: {containers: [{name: c, image: i}]}\n");
    auto s = scan();
    ASSERT_EQ(s.pods.size(), 1u) << errors_of(s);
    EXPECT_EQ(s.pods[0].hash, "my-uid");
    EXPECT_EQ(kube::annotations(s.pods[0].pod)["kubernetes.io/config.hash"], "my-uid");
}

TEST_F(StaticPods, MultiDocumentFiles) {
    write("one.yaml", std::string("---\n# leading empty document\n---\n") + kWebYaml + "---\n");
    write("two.yaml", std::string("apiVersion: v1\nkind: Pod\nmetadata: {name: a}\n") +
                          "spec: {containers: [{name: c}]}\n---\n" + kWebYaml);
    auto s = scan();
    ASSERT_EQ(s.pods.size(), 1u) << errors_of(s);
    EXPECT_EQ(kube::name(s.pods[0].pod), "web-edge-1");
    ASSERT_EQ(s.errors.size(), 1u);
    EXPECT_EQ(s.errors[0], tmp_.file("two.yaml") +
                               ": line 6, column 1: a second YAML document: a manifest holds "
                               "one pod");
}

TEST_F(StaticPods, InvalidNamesAreRejected) {
    write("bad.yaml",
          "apiVersion: v1\nkind: Pod\nmetadata: {name: Web_1}\n"
          "spec: {containers: [{name: c}]}\n");
    auto s = scan();
    EXPECT_TRUE(s.pods.empty());
    ASSERT_EQ(s.errors.size(), 1u);
    EXPECT_TRUE(s.errors[0].find("pod name \"Web_1-edge-1\" is invalid") != std::string::npos)
        << s.errors[0];
}

TEST_F(StaticPods, SpecialFileIsAnErrorLine) {
    ASSERT_EQ(::mkfifo(tmp_.file("fifo").c_str(), 0600), 0);
    auto s = scan_static_pods(tmp_.file("fifo"), kNode, kSeen);
    EXPECT_TRUE(s.pods.empty());
    ASSERT_EQ(s.errors.size(), 1u);
    EXPECT_EQ(s.errors[0], tmp_.file("fifo") + ": neither a directory nor a regular file");
}

TEST_F(StaticPods, SeenIsRfc3339NanoWithoutTrailingZeros) {
    write("web.yaml", kWebYaml);
    auto whole = scan_static_pods(tmp_.path(), kNode, Clock::time_point(std::chrono::seconds(0)));
    auto nanos = scan_static_pods(tmp_.path(), kNode,
                                  Clock::time_point(std::chrono::nanoseconds(1'500'000'007)));
    ASSERT_EQ(whole.pods.size(), 1u);
    ASSERT_EQ(nanos.pods.size(), 1u);
    EXPECT_EQ(kube::annotations(whole.pods[0].pod)["kubernetes.io/config.seen"],
              "1970-01-01T00:00:00Z");
    EXPECT_EQ(kube::annotations(nanos.pods[0].pod)["kubernetes.io/config.seen"],
              "1970-01-01T00:00:01.500000007Z");
}

TEST_F(StaticPods, MirrorPodShape) {
    write("web.yaml", kWebYaml);
    auto s = scan();
    ASSERT_EQ(s.pods.size(), 1u);
    auto mirror = mirror_pod(s.pods[0], kNode, "node-uid-1");
    EXPECT_TRUE(is_mirror_pod(mirror));
    EXPECT_EQ(kube::name(mirror), "web-edge-1");
    EXPECT_EQ(kube::namespace_of(mirror), "default");
    EXPECT_EQ(kube::uid(mirror), "");
    const auto& md = mirror.at("metadata").as_object();
    EXPECT_FALSE(md.contains("uid"));
    EXPECT_FALSE(md.contains("resourceVersion"));
    EXPECT_FALSE(md.contains("creationTimestamp"));
    auto ann = kube::annotations(mirror);
    EXPECT_EQ(ann["kubernetes.io/config.mirror"], s.pods[0].hash);
    EXPECT_EQ(ann["kubernetes.io/config.hash"], s.pods[0].hash);
    EXPECT_EQ(ann["kubernetes.io/config.source"], "file");
    EXPECT_EQ(ann["team"], "edge");
    EXPECT_EQ(md.at("ownerReferences"), json::parse(R"([{"apiVersion": "v1", "kind": "Node",
        "name": "edge-1", "uid": "node-uid-1", "controller": true}])"));
    EXPECT_EQ(mirror.at("spec"), s.pods[0].pod.at("spec"));
    EXPECT_EQ(*kube::get_path_string(mirror, "spec.nodeName"), kNode);
    // The static pod itself is untouched.
    EXPECT_FALSE(is_mirror_pod(s.pods[0].pod));
    EXPECT_EQ(kube::uid(s.pods[0].pod), s.pods[0].hash);

    auto orphan = mirror_pod(s.pods[0], kNode, "");
    EXPECT_FALSE(orphan.at("metadata").as_object().contains("ownerReferences"));
    EXPECT_TRUE(is_mirror_pod(orphan));
}

TEST(IsMirrorPod, AnnotationPresenceDecides) {
    EXPECT_FALSE(is_mirror_pod(json::object{}));
    EXPECT_FALSE(
        is_mirror_pod(json::parse(R"({"metadata": {"annotations": {"a": "b"}}})").as_object()));
    EXPECT_TRUE(is_mirror_pod(
        json::parse(R"({"metadata": {"annotations": {"kubernetes.io/config.mirror": ""}}})")
            .as_object()));
    EXPECT_FALSE(
        is_mirror_pod(json::parse(R"({"metadata": {"annotations": "junk"}})").as_object()));
}

TEST(YamlToJson, ScalarTypes) {
    auto v = yaml(R"(
quoted_true: "true"
single_quoted: 'false'
t1: true
t2: True
t3: TRUE
f1: false
yes_is_a_string: yes
on_is_a_string: on
tRuE: tRuE
int: 42
negative: -7
plus: +3
octal: 010
octal_mode: 0644
octal_o: 0o17
hex: 0x1F
not_octal: 09
big: 18446744073709551615
huge: 99999999999999999999
quoted_int: "42"
float: 1.5
exp: 1e3
dot: .5
tilde: ~
null_word: null
Null_word: Null
empty:
quoted_empty: ""
str_tag: !!str 12
int_tag: !!int "12"
version: 1.0.0
colon_text: a:b
literal: |
  line1
  line2
folded: >
  a
  b
)");
    json::value expected = json::parse(R"({
        "quoted_true": "true", "single_quoted": "false", "t1": true, "t2": true, "t3": true,
        "f1": false, "yes_is_a_string": "yes", "on_is_a_string": "on", "tRuE": "tRuE",
        "int": 42, "negative": -7, "plus": 3, "octal": 8, "octal_mode": 420, "octal_o": 15,
        "hex": 31, "not_octal": 9.0, "big": 18446744073709551615, "huge": 1e20,
        "quoted_int": "42", "float": 1.5, "exp": 1000.0, "dot": 0.5, "tilde": null,
        "null_word": null, "Null_word": null, "empty": null, "quoted_empty": "",
        "str_tag": "12", "int_tag": 12, "version": "1.0.0", "colon_text": "a:b",
        "literal": "line1\nline2\n", "folded": "a b\n"})");
    EXPECT_EQ(v, expected) << json::serialize(v);
    EXPECT_TRUE(v.at("int").is_int64());
    EXPECT_TRUE(v.at("big").is_uint64());
    EXPECT_TRUE(v.at("float").is_double());
    EXPECT_TRUE(v.at("not_octal").is_double());
}

TEST(YamlToJson, NestedListsMapsAnchorsAndMerges) {
    auto v = yaml(R"(
base: &base
  image: busybox
  env: [{name: A, value: "1"}]
containers:
- <<: *base
  name: one
- <<: *base
  name: two
  image: override
matrix:
- [1, 2]
- []
- {}
- - nested: [a, {b: c}]
flow: {a: [x, y], b: {c: null}}
)");
    json::value expected = json::parse(R"({
        "base": {"image": "busybox", "env": [{"name": "A", "value": "1"}]},
        "containers": [
            {"name": "one", "image": "busybox", "env": [{"name": "A", "value": "1"}]},
            {"name": "two", "image": "override", "env": [{"name": "A", "value": "1"}]}],
        "matrix": [[1, 2], [], {}, [{"nested": ["a", {"b": "c"}]}]],
        "flow": {"a": ["x", "y"], "b": {"c": null}}})");
    EXPECT_EQ(v, expected) << json::serialize(v);
}

TEST(YamlToJson, DocumentsAndTopLevelValues) {
    EXPECT_EQ(yaml(""), json::value(nullptr));
    EXPECT_EQ(yaml("# only a comment\n"), json::value(nullptr));
    EXPECT_EQ(yaml("---\n---\n- 1\n"), json::parse("[1]"));
    EXPECT_EQ(yaml("plain text"), json::value("plain text"));
    EXPECT_EQ(yaml("{\"json\": [1, 2.5, true, null, \"s\"]}"),
              json::parse(R"({"json": [1, 2.5, true, null, "s"]})"));
}

TEST(YamlToJson, ErrorsSayWhereAndWhat) {
    auto expect_error = [](const std::string& text, const std::string& detail) {
        auto v = yaml_to_json(text);
        ASSERT_FALSE(v.has_value()) << text;
        EXPECT_TRUE(v.error().is(errc::invalid_argument));
        EXPECT_EQ(v.error().detail, detail) << text;
    };
    expect_error("a: b\n c: d: e\n", "line 2, column 3: illegal map value");
    expect_error("a: [1, 2\n", "line 2, column 1: end of sequence flow not found");
    expect_error("a: 1\na: 2\n", "line 2, column 1: duplicate key \"a\"");
    expect_error("? [1, 2]\n: x\n", "line 1, column 3: a mapping key is not a string");
    expect_error("~: x\n", "line 1, column 1: a mapping key is null");
    expect_error("x: .inf\n",
                 "line 1, column 4: \".inf\" (infinity or NaN) cannot be represented "
                 "in JSON");
    expect_error("x: !!int abc\n", "line 1, column 4: \"abc\" is not an integer (or out of range)");
    expect_error("a: 1\n---\nb: 2\n",
                 "line 3, column 1: a second YAML document: a manifest holds one pod");
    expect_error("a: *nope\n", "line 1, column 4: the referenced anchor is not defined");
}

TEST(YamlToJson, MalformedInputIsAnErrorNeverACrash) {
    // Every prefix of a manifest, and every prefix with a byte flipped to YAML punctuation.
    const std::string text = kWebYaml;
    for (std::size_t n = 0; n <= text.size(); ++n) {
        (void)yaml_to_json(text.substr(0, n));
        for (char c : {'[', '{', ':', '&', '*', '!', '\'', '"', '\t'}) {
            std::string broken = text;
            if (n < broken.size()) broken[n] = c;
            auto v = yaml_to_json(broken);
            if (!v) EXPECT_FALSE(v.error().detail.empty());
        }
    }
    auto deep = yaml_to_json(std::string(5000, '[') + std::string(5000, ']'));
    ASSERT_FALSE(deep.has_value());
    EXPECT_FALSE(deep.error().detail.empty());
}

TEST(YamlToJson, AliasExpansionIsBounded) {
    std::string text = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n";
    for (int i = 1; i < 9; ++i)
        text += "a" + std::to_string(i) + ": &a" + std::to_string(i) + " [*a" +
                std::to_string(i - 1) + ", *a" + std::to_string(i - 1) + ", *a" +
                std::to_string(i - 1) + ", *a" + std::to_string(i - 1) + ", *a" +
                std::to_string(i - 1) + ", *a" + std::to_string(i - 1) + ", *a" +
                std::to_string(i - 1) + ", *a" + std::to_string(i - 1) + ", *a" +
                std::to_string(i - 1) + ", *a" + std::to_string(i - 1) + "]\n";
    auto v = yaml_to_json(text);
    ASSERT_FALSE(v.has_value());
    EXPECT_NE(v.error().detail.find("expands to more than"), std::string::npos) << v.error().detail;
}

}  // namespace
}  // namespace kedge::edge
