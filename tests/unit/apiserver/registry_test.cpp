// Registry semantics on a real SqliteStorage in a temp dir: what kube-apiserver's generic
// registry promises clients (uid, generateName, optimistic concurrency, generation, status
// subresource, finalizers, graceful pod deletion, binding, scale, selectors, paging, watch).

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "apiserver/registry.hpp"
#include "apiserver/storage/sqlite_storage.hpp"
#include "base/uuid.hpp"
#include "kube/object.hpp"
#include "support/test_support.hpp"

namespace kedge::apiserver {
namespace {
namespace json = boost::json;

class RegistryTest : public ::testing::Test {
  protected:
    void SetUp() override {
        auto s = storage::SqliteStorage::open(
            {.data_dir = dir_.path(), .durability = storage::Durability::kNormal});
        ASSERT_TRUE(s) << s.error().message();
        storage_ = std::move(*s);
        types_ = ResourceTypes::with_builtins();
        registry_ = std::make_unique<Registry>(*storage_, types_,
                                               RegistryOptions{.watch_cache_capacity = 50});
        ASSERT_TRUE(registry_->ensure_default_namespaces());
    }

    Scope scope(const std::string& group, const std::string& resource, std::string ns = "default",
                std::string name = {}, std::string sub = {}) {
        auto t = types_->find(group, "v1", resource);
        EXPECT_TRUE(t) << resource;
        return Scope{*t, std::move(ns), std::move(name), std::move(sub)};
    }

    static json::object obj(const std::string& text) {
        return json::parse(text).as_object();
    }

    json::object create_ok(const Scope& s, const std::string& body) {
        auto r = registry_->create(s, body);
        EXPECT_TRUE(r) << (r ? "" : r.error().status.message);
        if (!r) return {};
        EXPECT_EQ(r->code, 201);
        return obj(r->body);
    }

    json::object get_ok(const Scope& s) {
        auto r = registry_->get(s);
        EXPECT_TRUE(r) << (r ? "" : r.error().status.message);
        return r ? obj(*r) : json::object{};
    }

    std::string cm(const std::string& name, const std::string& labels = "{}") {
        return R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":")" + name +
               R"(","labels":)" + labels + R"(},"data":{"k":"v"}})";
    }

    std::string pod(const std::string& name, const std::string& node = "") {
        std::string spec = R"({"containers":[{"name":"c","image":"busybox"}])";
        if (!node.empty()) spec += R"(,"nodeName":")" + node + '"';
        spec += "}";
        return R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":")" + name +
               R"("},"spec":)" + spec + "}";
    }

    test::TempDir dir_;
    std::unique_ptr<storage::SqliteStorage> storage_;
    std::shared_ptr<ResourceTypes> types_;
    std::unique_ptr<Registry> registry_;
};

TEST_F(RegistryTest, CreateSetsServerFields) {
    auto o = create_ok(scope("", "configmaps"), cm("a"));
    EXPECT_TRUE(is_uuid(kube::uid(o)));
    EXPECT_EQ(kube::namespace_of(o), "default");
    EXPECT_EQ(kube::creation_timestamp(o).size(), 20u);  // 2024-01-01T00:00:00Z
    EXPECT_EQ(kube::creation_timestamp(o).back(), 'Z');
    EXPECT_TRUE(kube::parse_resource_version(kube::resource_version(o)));
    auto again = get_ok(scope("", "configmaps", "default", "a"));
    EXPECT_EQ(kube::uid(again), kube::uid(o));
    EXPECT_EQ(kube::resource_version(again), kube::resource_version(o));
}

TEST_F(RegistryTest, DefaultNamespacesExist) {
    for (const char* ns : {"default", "kube-system", "kube-public", "kube-node-lease"})
        get_ok(scope("", "namespaces", "", ns));
}

TEST_F(RegistryTest, GenerateNameAddsFiveCharacters) {
    auto o = create_ok(scope("", "configmaps"),
                       R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"generateName":"x-"}})");
    std::string name(kube::name(o));
    ASSERT_EQ(name.size(), 7u);
    EXPECT_EQ(name.substr(0, 2), "x-");
}

TEST_F(RegistryTest, CreateErrors) {
    auto s = scope("", "configmaps");
    create_ok(s, cm("dup"));
    auto r = registry_->create(s, cm("dup"));
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().status.code, 409);
    EXPECT_EQ(r.error().status.reason, "AlreadyExists");

    r = registry_->create(s, "{not json");
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().status.code, 400);

    r = registry_->create(s, R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{}})");
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().status.code, 422);
    EXPECT_EQ(r.error().status.reason, "Invalid");
    ASSERT_EQ(r.error().status.causes.size(), 1u);
    EXPECT_EQ(r.error().status.causes[0].field, "metadata.name");

    r = registry_->create(s, cm("Bad_Name"));
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().status.code, 422);

    r = registry_->create(s, pod("wrong-kind"));
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().status.code, 400);

    r = registry_->create(scope("", "configmaps", "nope"), cm("a"));
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().status.code, 404);
    EXPECT_EQ(r.error().status.message, "namespaces \"nope\" not found");

    r = registry_->create(scope("", "configmaps", "kube-system"),
                          R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"m",)"
                          R"("namespace":"default"}})");
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().status.code, 400);
}

TEST_F(RegistryTest, StrictFieldValidation) {
    auto s = scope("", "configmaps");
    std::string body =
        R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"f"},"bogus":1})";
    auto r = registry_->create(s, body, {FieldValidation::kStrict, false});
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().status.code, 400);
    EXPECT_EQ(r.error().status.message, "strict decoding error: unknown field \"bogus\"");
    EXPECT_FALSE(registry_->get(scope("", "configmaps", "default", "f")));

    auto w = registry_->create(s, body, {FieldValidation::kWarn, false});
    ASSERT_TRUE(w);
    ASSERT_EQ(w->warnings.size(), 1u);
    EXPECT_EQ(w->warnings[0], "unknown field \"bogus\"");
}

TEST_F(RegistryTest, UpdateOptimisticConcurrency) {
    auto s = scope("", "configmaps", "default", "u");
    auto o = create_ok(scope("", "configmaps"), cm("u"));
    std::string rv(kube::resource_version(o));
    o["data"] = json::object{{"k", "v2"}};
    auto r = registry_->update(s, json::serialize(o));
    ASSERT_TRUE(r) << r.error().status.message;
    auto updated = obj(r->body);
    EXPECT_NE(kube::resource_version(updated), rv);
    EXPECT_EQ(kube::uid(updated), kube::uid(o));

    // The same (now stale) resourceVersion again: 409 and nothing changes.
    o["data"] = json::object{{"k", "v3"}};
    auto stale = registry_->update(s, json::serialize(o));
    ASSERT_FALSE(stale);
    EXPECT_EQ(stale.error().status.code, 409);
    EXPECT_EQ(stale.error().status.reason, "Conflict");
    EXPECT_EQ(stale.error().status.message,
              "Operation cannot be fulfilled on configmaps \"u\": the object has been modified; "
              "please apply your changes to the latest version and try again");
    EXPECT_EQ(get_ok(s).at("data").at("k"), "v2");

    // uid and creationTimestamp cannot be changed.
    updated["metadata"].as_object()["uid"] = "other";
    updated["metadata"].as_object()["creationTimestamp"] = "2000-01-01T00:00:00Z";
    auto r2 = registry_->update(s, json::serialize(updated));
    ASSERT_TRUE(r2);
    EXPECT_EQ(kube::uid(obj(r2->body)), kube::uid(o));
    EXPECT_EQ(kube::creation_timestamp(obj(r2->body)), kube::creation_timestamp(o));

    // A name that differs from the URL.
    auto bad = registry_->update(scope("", "configmaps", "default", "other"), json::serialize(o));
    ASSERT_FALSE(bad);
    EXPECT_EQ(bad.error().status.code, 400);
    // Update of a missing object.
    auto missing = registry_->update(scope("", "configmaps", "default", "zzz"), cm("zzz"));
    ASSERT_FALSE(missing);
    EXPECT_EQ(missing.error().status.code, 404);
}

TEST_F(RegistryTest, NoOpUpdateKeepsResourceVersion) {
    auto o = create_ok(scope("", "configmaps"), cm("n"));
    auto r = registry_->update(scope("", "configmaps", "default", "n"), json::serialize(o));
    ASSERT_TRUE(r);
    EXPECT_EQ(kube::resource_version(obj(r->body)), kube::resource_version(o));
}

TEST_F(RegistryTest, GenerationAndStatusSubresource) {
    auto dep = R"({"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"d"},
        "spec":{"replicas":1,"selector":{"matchLabels":{"a":"b"}},
        "template":{"metadata":{"labels":{"a":"b"}},"spec":{"containers":[{"name":"c","image":"x"}]}}},
        "status":{"replicas":7}})";
    auto o = create_ok(scope("apps", "deployments"), dep);
    EXPECT_EQ(kube::generation(o), 1);
    EXPECT_EQ(o.at("status"), json::object{});  // status is reset on create

    auto main = scope("apps", "deployments", "default", "d");
    auto status = scope("apps", "deployments", "default", "d", "status");
    // Main resource: a label change keeps the generation, status changes are ignored.
    o["metadata"].as_object()["labels"] = json::object{{"x", "y"}};
    o["status"] = json::object{{"replicas", 3}};
    auto r = registry_->update(main, json::serialize(o));
    ASSERT_TRUE(r);
    auto u = obj(r->body);
    EXPECT_EQ(kube::generation(u), 1);
    EXPECT_EQ(u.at("status"), json::object{});
    // A spec change bumps it.
    u["spec"].as_object()["replicas"] = 4;
    r = registry_->update(main, json::serialize(u));
    ASSERT_TRUE(r);
    u = obj(r->body);
    EXPECT_EQ(kube::generation(u), 2);
    // Status subresource: only status changes.
    u["status"] = json::object{{"replicas", 4}};
    u["spec"].as_object()["replicas"] = 9;
    r = registry_->update(status, json::serialize(u));
    ASSERT_TRUE(r) << r.error().status.message;
    u = obj(r->body);
    EXPECT_EQ(u.at("status").at("replicas"), 4);
    EXPECT_EQ(u.at("spec").at("replicas"), 4);
    EXPECT_EQ(kube::generation(u), 2);
}

TEST_F(RegistryTest, Patches) {
    create_ok(scope("", "pods"), pod("p"));
    auto s = scope("", "pods", "default", "p");
    auto r = registry_->patch(s, kube::PatchType::kMergePatch,
                              R"({"metadata":{"labels":{"a":"1"}}})");
    ASSERT_TRUE(r) << r.error().status.message;
    r = registry_->patch(s, kube::PatchType::kJsonPatch,
                         R"([{"op":"add","path":"/metadata/labels/b","value":"2"}])");
    ASSERT_TRUE(r) << r.error().status.message;
    r = registry_->patch(s, kube::PatchType::kStrategicMergePatch,
                         R"({"spec":{"containers":[{"name":"c","image":"busybox:2"}]}})");
    ASSERT_TRUE(r) << r.error().status.message;
    auto p = get_ok(s);
    EXPECT_EQ(kube::labels(p), (kube::Labels{{"a", "1"}, {"b", "2"}}));
    EXPECT_EQ(p.at("spec").at("containers").as_array().size(), 1u);
    EXPECT_EQ(p.at("spec").at("containers").at(0).at("image"), "busybox:2");
    std::string rv(kube::resource_version(p));

    // A patch that does not apply changes nothing.
    auto bad = registry_->patch(s, kube::PatchType::kJsonPatch,
                                R"([{"op":"replace","path":"/spec/nope/x","value":1}])");
    ASSERT_FALSE(bad);
    EXPECT_EQ(bad.error().status.code, 422);
    bad = registry_->patch(s, kube::PatchType::kMergePatch, "{bad");
    ASSERT_FALSE(bad);
    EXPECT_EQ(bad.error().status.code, 400);
    // Status patch only touches status.
    r = registry_->patch(scope("", "pods", "default", "p", "status"),
                         kube::PatchType::kMergePatch,
                         R"({"status":{"phase":"Running"},"spec":{"nodeName":"n"}})");
    ASSERT_TRUE(r);
    p = get_ok(s);
    EXPECT_EQ(p.at("status").at("phase"), "Running");
    EXPECT_FALSE(p.at("spec").as_object().contains("nodeName"));
    // Patch to a missing object.
    auto missing = registry_->patch(scope("", "pods", "default", "zz"),
                                    kube::PatchType::kMergePatch, "{}");
    ASSERT_FALSE(missing);
    EXPECT_EQ(missing.error().status.code, 404);
}

TEST_F(RegistryTest, FinalizersDelayDeletion) {
    create_ok(scope("", "configmaps"),
              R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"f",)"
              R"("finalizers":["example.com/x"]}})");
    auto s = scope("", "configmaps", "default", "f");
    auto d = registry_->remove(s, {});
    ASSERT_TRUE(d);
    auto o = get_ok(s);
    EXPECT_TRUE(kube::deletion_timestamp(o));
    // No new finalizers while terminating.
    auto add = registry_->patch(s, kube::PatchType::kMergePatch,
                                R"({"metadata":{"finalizers":["example.com/x","y.io/z"]}})");
    ASSERT_FALSE(add);
    EXPECT_EQ(add.error().status.code, 422);
    // Removing the last finalizer deletes the object.
    auto r = registry_->patch(s, kube::PatchType::kMergePatch,
                              R"({"metadata":{"finalizers":null}})");
    ASSERT_TRUE(r) << r.error().status.message;
    auto gone = registry_->get(s);
    ASSERT_FALSE(gone);
    EXPECT_EQ(gone.error().status.code, 404);
}

TEST_F(RegistryTest, DeletePreconditions) {
    auto o = create_ok(scope("", "configmaps"), cm("pre"));
    auto s = scope("", "configmaps", "default", "pre");
    DeleteParams p;
    p.precondition_uid = "not-the-uid";
    auto d = registry_->remove(s, p);
    ASSERT_FALSE(d);
    EXPECT_EQ(d.error().status.code, 409);
    p = {};
    p.precondition_resource_version = "1";
    d = registry_->remove(s, p);
    ASSERT_FALSE(d);
    EXPECT_EQ(d.error().status.code, 409);
    get_ok(s);
    p = {};
    p.precondition_uid = std::string(kube::uid(o));
    d = registry_->remove(s, p);
    ASSERT_TRUE(d);
    EXPECT_EQ(obj(d->body).at("kind"), "Status");
    EXPECT_FALSE(registry_->get(s));
    d = registry_->remove(s, {});
    ASSERT_FALSE(d);
    EXPECT_EQ(d.error().status.code, 404);
}

TEST_F(RegistryTest, GracefulPodDeletion) {
    create_ok(scope("", "pods"), pod("unbound"));
    ASSERT_TRUE(registry_->remove(scope("", "pods", "default", "unbound"), {}));
    EXPECT_FALSE(registry_->get(scope("", "pods", "default", "unbound")));

    create_ok(scope("", "pods"), pod("bound", "node1"));
    auto s = scope("", "pods", "default", "bound");
    auto d = registry_->remove(s, {});
    ASSERT_TRUE(d);
    auto o = get_ok(s);
    ASSERT_TRUE(kube::deletion_timestamp(o));
    EXPECT_EQ(o.at("metadata").at("deletionGracePeriodSeconds"), 30);
    // The node agent confirms with grace 0.
    DeleteParams now;
    now.grace_period_seconds = 0;
    ASSERT_TRUE(registry_->remove(s, now));
    EXPECT_FALSE(registry_->get(s));
}

TEST_F(RegistryTest, BindingAndScale) {
    create_ok(scope("", "pods"), pod("b"));
    auto bind = scope("", "pods", "default", "b", "binding");
    std::string body =
        R"({"apiVersion":"v1","kind":"Binding","metadata":{"name":"b"},"target":{"name":"n1"}})";
    auto r = registry_->create(bind, body);
    ASSERT_TRUE(r) << r.error().status.message;
    EXPECT_EQ(r->code, 201);
    EXPECT_EQ(get_ok(scope("", "pods", "default", "b")).at("spec").at("nodeName"), "n1");
    r = registry_->create(bind, body);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().status.code, 409);

    create_ok(scope("apps", "deployments"),
              R"({"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"d"},
                  "spec":{"replicas":2,"selector":{"matchLabels":{"a":"b"}},"template":{}}})");
    auto sc = scope("apps", "deployments", "default", "d", "scale");
    auto g = obj(*registry_->get(sc));
    EXPECT_EQ(g.at("kind"), "Scale");
    EXPECT_EQ(g.at("spec").at("replicas"), 2);
    EXPECT_EQ(g.at("status").at("selector"), "a=b");
    g["spec"].as_object()["replicas"] = 5;
    auto u = registry_->update(sc, json::serialize(g));
    ASSERT_TRUE(u) << u.error().status.message;
    EXPECT_EQ(obj(u->body).at("spec").at("replicas"), 5);
    auto dep = get_ok(scope("apps", "deployments", "default", "d"));
    EXPECT_EQ(dep.at("spec").at("replicas"), 5);
    EXPECT_EQ(kube::generation(dep), 2);
    // The old Scale's resourceVersion is stale now.
    auto stale = registry_->update(sc, json::serialize(g));
    ASSERT_FALSE(stale);
    EXPECT_EQ(stale.error().status.code, 409);
}

TEST_F(RegistryTest, ListSelectorsAndPaging) {
    auto s = scope("", "configmaps");
    for (int i = 0; i < 5; ++i)
        create_ok(s, cm("c" + std::to_string(i),
                        i % 2 ? R"({"odd":"yes"})" : R"({"odd":"no"})"));
    create_ok(scope("", "configmaps", "kube-system"), cm("other"));
    auto l = obj(*registry_->list(s, {}));
    EXPECT_EQ(l.at("kind"), "ConfigMapList");
    EXPECT_EQ(l.at("items").as_array().size(), 5u);
    auto all = obj(*registry_->list(scope("", "configmaps", ""), {}));
    EXPECT_EQ(all.at("items").as_array().size(), 6u);

    ListParams lp;
    lp.label_selector = "odd=yes";
    EXPECT_EQ(obj(*registry_->list(s, lp)).at("items").as_array().size(), 2u);
    lp.label_selector = "odd notin (yes)";
    EXPECT_EQ(obj(*registry_->list(s, lp)).at("items").as_array().size(), 3u);
    lp = {};
    lp.field_selector = "metadata.name=c3";
    EXPECT_EQ(obj(*registry_->list(s, lp)).at("items").as_array().size(), 1u);
    lp.field_selector = "spec.bogus=1";
    auto bad = registry_->list(s, lp);
    ASSERT_FALSE(bad);
    EXPECT_EQ(bad.error().status.code, 400);

    // Pages of 2 while a write happens in between: one consistent snapshot.
    lp = {};
    lp.limit = 2;
    std::vector<std::string> names;
    auto page = obj(*registry_->list(s, lp));
    std::string snapshot(page.at("metadata").at("resourceVersion").as_string());
    create_ok(s, cm("c9"));
    while (true) {
        for (const auto& it : page.at("items").as_array())
            names.push_back(std::string(kube::name(it.as_object())));
        auto* cont = page.at("metadata").as_object().if_contains("continue");
        if (!cont) break;
        lp.continue_token = std::string(cont->as_string());
        auto next = registry_->list(s, lp);
        ASSERT_TRUE(next) << next.error().status.message;
        page = obj(*next);
        EXPECT_EQ(page.at("metadata").at("resourceVersion"), json::value(snapshot));
    }
    EXPECT_EQ(names, (std::vector<std::string>{"c0", "c1", "c2", "c3", "c4"}));
}

TEST_F(RegistryTest, WatchFromVersionAndExpiry) {
    auto s = scope("", "configmaps");
    auto first = create_ok(s, cm("w0"));
    std::uint64_t rv = *kube::parse_resource_version(kube::resource_version(first));
    create_ok(s, cm("w1"));
    ASSERT_TRUE(registry_->remove(scope("", "configmaps", "default", "w0"), {}));

    ListParams lp;
    lp.resource_version = std::to_string(rv);
    auto req = registry_->prepare_watch(s, lp);
    ASSERT_TRUE(req);
    auto w = registry_->watch(s, std::move(*req), [] {});
    ASSERT_TRUE(w) << w.error().status.message;
    std::vector<std::string> seen;
    ASSERT_TRUE(test::wait_until([&] {
        for (const auto& ev : (*w)->take()) {
            auto o = obj(ev->object->value);
            seen.push_back(std::string(storage::to_string(ev->type)) + ":" +
                           std::string(kube::name(o)));
        }
        return seen.size() >= 2;
    }));
    EXPECT_EQ(seen, (std::vector<std::string>{"ADDED:w1", "DELETED:w0"}));

    // Push the window (50 events) past rv: a watch from rv is 410 Expired.
    for (int i = 0; i < 60; ++i) create_ok(s, cm("x" + std::to_string(i)));
    auto req2 = registry_->prepare_watch(s, lp);
    ASSERT_TRUE(req2);
    auto expired = registry_->watch(s, std::move(*req2), [] {});
    ASSERT_FALSE(expired);
    EXPECT_EQ(expired.error().status.code, 410);
    EXPECT_EQ(expired.error().status.reason, "Expired");
}

TEST_F(RegistryTest, DeeplyNestedObjectsAreAccepted) {
    // boost::json's default nesting limit (32) is below what deep CRD schemas reach.
    std::string deep = "1";
    for (int i = 0; i < 60; ++i) deep = R"({"a":)" + deep + "}";
    auto r = registry_->create(scope("", "configmaps"),
                               R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"deep"},)"
                               R"("binaryData":{},"data":{},"immutable":false,"x":)" + deep + "}");
    ASSERT_TRUE(r) << r.error().status.message;
}

TEST_F(RegistryTest, DeleteCollectionWithSelector) {
    auto s = scope("", "configmaps");
    create_ok(s, cm("keep", R"({"t":"keep"})"));
    create_ok(s, cm("drop1", R"({"t":"drop"})"));
    create_ok(s, cm("drop2", R"({"t":"drop"})"));
    ListParams lp;
    lp.label_selector = "t=drop";
    auto r = registry_->delete_collection(s, lp, {});
    ASSERT_TRUE(r) << r.error().status.message;
    EXPECT_EQ(obj(*r).at("items").as_array().size(), 2u);
    auto left = obj(*registry_->list(s, {}));
    ASSERT_EQ(left.at("items").as_array().size(), 1u);
    EXPECT_EQ(kube::name(left.at("items").at(0).as_object()), "keep");
}

TEST_F(RegistryTest, CustomResourceDefinitionServesAValidatedType) {
    auto crds = scope("apiextensions.k8s.io", "customresourcedefinitions", "");
    std::string crd = R"({"apiVersion":"apiextensions.k8s.io/v1","kind":"CustomResourceDefinition",
      "metadata":{"name":"widgets.example.com"},
      "spec":{"group":"example.com","scope":"Namespaced",
        "names":{"plural":"widgets","kind":"Widget"},
        "versions":[{"name":"v1","served":true,"storage":true,
          "subresources":{"status":{}},
          "schema":{"openAPIV3Schema":{"type":"object","properties":{
            "spec":{"type":"object","properties":{
              "size":{"type":"integer","minimum":1,"default":3}}},
            "status":{"type":"object","properties":{"ok":{"type":"boolean"}}}}}}}]}})";
    auto created = create_ok(crds, crd);
    EXPECT_NE(json::serialize(created.at("status")).find("Established"), std::string::npos);
    auto t = types_->find("example.com", "v1", "widgets");
    ASSERT_TRUE(t);
    EXPECT_TRUE(t->custom);
    EXPECT_TRUE(t->has_subresource("status"));

    Scope widgets{*t, "default", "", ""};
    // Defaults apply; unknown fields are pruned (Warn) or refused (Strict); schema errors: 422.
    auto w = create_ok(widgets, R"({"apiVersion":"example.com/v1","kind":"Widget",
        "metadata":{"name":"w1"},"spec":{"extra":1}})");
    EXPECT_EQ(w.at("spec").at("size"), 3);
    EXPECT_FALSE(w.at("spec").as_object().contains("extra"));
    auto strict = registry_->create(widgets, R"({"apiVersion":"example.com/v1","kind":"Widget",
        "metadata":{"name":"w2"},"spec":{"extra":1}})",
                                    {FieldValidation::kStrict, false});
    ASSERT_FALSE(strict);
    EXPECT_EQ(strict.error().status.code, 400);
    auto invalid = registry_->create(widgets, R"({"apiVersion":"example.com/v1","kind":"Widget",
        "metadata":{"name":"w3"},"spec":{"size":0}})");
    ASSERT_FALSE(invalid);
    EXPECT_EQ(invalid.error().status.code, 422);
    // Strategic merge is not defined for custom resources.
    auto smp = registry_->patch(Scope{*t, "default", "w1", ""},
                                kube::PatchType::kStrategicMergePatch, R"({"spec":{"size":4}})");
    ASSERT_FALSE(smp);
    EXPECT_EQ(smp.error().status.code, 415);
    auto mp = registry_->patch(Scope{*t, "default", "w1", ""}, kube::PatchType::kMergePatch,
                               R"({"spec":{"size":4}})");
    ASSERT_TRUE(mp) << mp.error().status.message;
    EXPECT_EQ(kube::generation(obj(mp->body)), 2);

    // A second registry on the same storage (a restart) serves the type after loading CRDs.
    auto types2 = ResourceTypes::with_builtins();
    Registry again(*storage_, types2);
    ASSERT_TRUE(again.load_custom_resources());
    EXPECT_TRUE(types2->find("example.com", "v1", "widgets"));

    // Deleting the CRD stops serving the type.
    ASSERT_TRUE(registry_->remove(scope("apiextensions.k8s.io", "customresourcedefinitions", "",
                                        "widgets.example.com"),
                                  {}));
    EXPECT_FALSE(types_->find("example.com", "v1", "widgets"));
}

}  // namespace
}  // namespace kedge::apiserver
