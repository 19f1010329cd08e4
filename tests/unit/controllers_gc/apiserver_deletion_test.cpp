// The API server's half of garbage collection and namespace deletion, on a real registry over
// SQLite: propagationPolicy becomes the GC finalizers, namespaces terminate until finalized,
// NamespaceLifecycle admission refuses content in terminating or missing namespaces.

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "apiserver/registry.hpp"
#include "apiserver/storage/sqlite_storage.hpp"
#include "kube/object.hpp"
#include "support/test_support.hpp"

namespace kedge::apiserver {
namespace {
namespace json = boost::json;

class DeletionTest : public ::testing::Test {
protected:
    void SetUp() override {
        auto s = storage::SqliteStorage::open(
            {.data_dir = dir_.path(), .durability = storage::Durability::kNormal});
        ASSERT_TRUE(s) << s.error().message();
        storage_ = std::move(*s);
        types_ = ResourceTypes::with_builtins();
        registry_ = std::make_unique<Registry>(*storage_, types_, RegistryOptions{});
        ASSERT_TRUE(registry_->ensure_default_namespaces());
    }

    Scope scope(const std::string& resource, std::string ns = "default", std::string name = {},
                std::string sub = {}) {
        auto t = types_->find("", "v1", resource);
        EXPECT_TRUE(t) << resource;
        return Scope{*t, std::move(ns), std::move(name), std::move(sub)};
    }

    json::object create_cm(const std::string& name, const std::string& ns = "default",
                           const std::string& finalizers = "[]") {
        auto r = registry_->create(scope("configmaps", ns),
                                   R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":")" +
                                       name + R"(","finalizers":)" + finalizers + "}}");
        EXPECT_TRUE(r) << (r ? "" : r.error().status.message);
        return r ? json::parse(r->body).as_object() : json::object{};
    }

    void create_ns(const std::string& name) {
        auto r = registry_->create(
            scope("namespaces", ""),
            R"({"apiVersion":"v1","kind":"Namespace","metadata":{"name":")" + name + R"("}})");
        ASSERT_TRUE(r) << r.error().status.message;
    }

    std::optional<json::object> get(const Scope& s) {
        auto r = registry_->get(s);
        if (!r) return std::nullopt;
        return json::parse(*r).as_object();
    }

    ApiResult<WriteResult> remove(const Scope& s, std::string policy) {
        DeleteParams p;
        p.propagation_policy = std::move(policy);
        return registry_->remove(s, p);
    }

    test::TempDir dir_;
    std::unique_ptr<storage::SqliteStorage> storage_;
    std::shared_ptr<ResourceTypes> types_;
    std::unique_ptr<Registry> registry_;
};

TEST_F(DeletionTest, BackgroundAndDefaultDeleteAtOnce) {
    create_cm("a");
    create_cm("b");
    ASSERT_TRUE(remove(scope("configmaps", "default", "a"), "Background"));
    EXPECT_FALSE(get(scope("configmaps", "default", "a")));
    ASSERT_TRUE(remove(scope("configmaps", "default", "b"), ""));
    EXPECT_FALSE(get(scope("configmaps", "default", "b")));
}

TEST_F(DeletionTest, ForegroundAddsTheFinalizerAndKeepsTheObject) {
    create_cm("fg", "default", R"(["example.com/x"])");
    auto s = scope("configmaps", "default", "fg");
    auto r = remove(s, "Foreground");
    ASSERT_TRUE(r) << r.error().status.message;
    auto o = get(s);
    ASSERT_TRUE(o);
    EXPECT_TRUE(kube::deletion_timestamp(*o));
    EXPECT_EQ(kube::finalizers(*o),
              (std::vector<std::string>{"example.com/x", "foregroundDeletion"}));
    // A second Foreground delete changes nothing; Background drops the GC finalizer again.
    ASSERT_TRUE(remove(s, "Foreground"));
    EXPECT_EQ(kube::finalizers(*get(s)).size(), 2u);
    ASSERT_TRUE(remove(s, "Background"));
    EXPECT_EQ(kube::finalizers(*get(s)), std::vector<std::string>{"example.com/x"});
}

TEST_F(DeletionTest, RemovingTheLastGcFinalizerDeletes) {
    create_cm("o");
    auto s = scope("configmaps", "default", "o");
    ASSERT_TRUE(remove(s, "Orphan"));
    auto o = get(s);
    ASSERT_TRUE(o);
    EXPECT_EQ(kube::finalizers(*o), std::vector<std::string>{"orphan"});
    auto p =
        registry_->patch(s, kube::PatchType::kMergePatch, R"({"metadata":{"finalizers":null}})");
    ASSERT_TRUE(p) << p.error().status.message;
    EXPECT_FALSE(get(s));
}

TEST_F(DeletionTest, LegacyOrphanDependents) {
    auto p = parse_delete_params(R"({"orphanDependents":true})", std::nullopt, std::nullopt);
    ASSERT_TRUE(p);
    EXPECT_EQ(p->propagation_policy, "Orphan");
    p = parse_delete_params(R"({"orphanDependents":false})", std::nullopt, std::nullopt);
    ASSERT_TRUE(p);
    EXPECT_EQ(p->propagation_policy, "Background");
    auto both = parse_delete_params(R"({"orphanDependents":true,"propagationPolicy":"Foreground"})",
                                    std::nullopt, std::nullopt);
    ASSERT_FALSE(both);
    EXPECT_EQ(both.error().status.code, 422);
}

TEST_F(DeletionTest, NamespaceTerminatesUntilFinalized) {
    create_ns("x");
    create_cm("inside", "x");
    auto s = scope("namespaces", "", "x");
    auto r = remove(s, "");
    ASSERT_TRUE(r) << r.error().status.message;
    auto o = get(s);
    ASSERT_TRUE(o);
    EXPECT_TRUE(kube::deletion_timestamp(*o));
    EXPECT_EQ(kube::get_path_string(*o, "status.phase"), "Terminating");
    EXPECT_EQ(o->at("spec").at("finalizers"), json::array{"kubernetes"});

    // NamespaceLifecycle: no new content while terminating.
    auto refused =
        registry_->create(scope("configmaps", "x"),
                          R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"n"}})");
    ASSERT_FALSE(refused);
    EXPECT_EQ(refused.error().status.code, 403);
    EXPECT_EQ(refused.error().status.message,
              "configmaps \"n\" is forbidden: unable to create new content in namespace x "
              "because it is being terminated");
    ASSERT_EQ(refused.error().status.causes.size(), 1u);
    EXPECT_EQ(refused.error().status.causes[0].reason, "NamespaceTerminating");
    // Deleting content is still allowed.
    ASSERT_TRUE(remove(scope("configmaps", "x", "inside"), ""));

    // A second DELETE returns the namespace, still there.
    ASSERT_TRUE(remove(s, ""));
    ASSERT_TRUE(get(s));

    // The finalize subresource ends it.
    json::object fin = *o;
    fin["spec"].as_object()["finalizers"] = json::array{};
    auto f = registry_->update(scope("namespaces", "", "x", "finalize"), json::serialize(fin));
    ASSERT_TRUE(f) << f.error().status.message;
    EXPECT_FALSE(get(s));

    auto missing =
        registry_->create(scope("configmaps", "x"),
                          R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"n"}})");
    ASSERT_FALSE(missing);
    EXPECT_EQ(missing.error().status.code, 404);
    EXPECT_EQ(missing.error().status.message, "namespaces \"x\" not found");
}

TEST_F(DeletionTest, FinalizeValidatesAndKeepsEverythingElse) {
    create_ns("y");
    auto s = scope("namespaces", "", "y");
    auto bad = registry_->update(
        scope("namespaces", "", "y", "finalize"),
        R"({"apiVersion":"v1","kind":"Namespace","metadata":{"name":"y"},"spec":{"finalizers":["not qualified"]}})");
    ASSERT_FALSE(bad);
    EXPECT_EQ(bad.error().status.code, 422);
    // Only spec.finalizers changes: labels in the body are ignored; an Active namespace stays.
    auto ok = registry_->update(
        scope("namespaces", "", "y", "finalize"),
        R"({"apiVersion":"v1","kind":"Namespace","metadata":{"name":"y","labels":{"a":"b"}},"spec":{"finalizers":["example.com/f"]}})");
    ASSERT_TRUE(ok) << ok.error().status.message;
    auto o = get(s);
    ASSERT_TRUE(o);
    EXPECT_EQ(o->at("spec").at("finalizers"), json::array{"example.com/f"});
    EXPECT_FALSE(kube::label(*o, "a"));
    EXPECT_EQ(kube::get_path_string(*o, "status.phase"), "Active");
}

TEST_F(DeletionTest, SystemNamespacesCannotBeDeleted) {
    for (const char* name : {"default", "kube-system", "kube-public", "kube-node-lease"}) {
        auto r = remove(scope("namespaces", "", name), "");
        ASSERT_FALSE(r) << name;
        EXPECT_EQ(r.error().status.code, 403);
        EXPECT_EQ(r.error().status.message,
                  "namespaces \"" + std::string(name) +
                      "\" is forbidden: this namespace may not be deleted");
        EXPECT_TRUE(get(scope("namespaces", "", name)));
    }
}

TEST_F(DeletionTest, NamespaceWithoutSpecFinalizersGoesAtOnce) {
    create_ns("z");
    auto s = scope("namespaces", "", "z");
    auto o = *get(s);
    o["spec"].as_object()["finalizers"] = json::array{};
    ASSERT_TRUE(registry_->update(scope("namespaces", "", "z", "finalize"), json::serialize(o)));
    ASSERT_TRUE(remove(s, ""));
    EXPECT_FALSE(get(s));
}

}  // namespace
}  // namespace kedge::apiserver
