// The garbage collector through kubectl against the real kedge-apiserver: owners and dependents
// are made by hand (configmaps and secrets owned by a configmap, a custom resource) so that no
// other controller is involved. Background, --cascade=foreground and --cascade=orphan.

#include "controllers_fixture.hpp"

namespace kedge::controllers::test {
namespace {

namespace json = boost::json;

class GcTest : public ControllersFixture {
protected:
    // Creates a configmap and returns its uid.
    std::string make_owner(const std::string& name, const std::string& extra_md = "") {
        apply(R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":")" + name +
              R"(","namespace":"default")" + extra_md + R"(},"data":{"k":"v"}})");
        return uid_of("configmap " + name);
    }

    std::string uid_of(const std::string& what) {
        auto v = get_json(what + " -n default");
        if (!v.is_object()) return {};
        auto* uid = v.as_object().at("metadata").as_object().if_contains("uid");
        return uid ? std::string(uid->as_string()) : std::string();
    }

    static std::string ref(const std::string& name, const std::string& uid, bool block = false,
                           const std::string& kind = "ConfigMap",
                           const std::string& api_version = "v1") {
        return R"({"apiVersion":")" + api_version + R"(","kind":")" + kind + R"(","name":")" +
               name + R"(","uid":")" + uid + R"(")" +
               (block ? R"(,"blockOwnerDeletion":true)" : "") + "}";
    }

    // A dependent of `kind` (ConfigMap or Secret) with these ownerReferences.
    void make_dependent(const std::string& kind, const std::string& name, const std::string& refs,
                        const std::string& extra_md = "") {
        apply(R"({"apiVersion":"v1","kind":")" + kind + R"(","metadata":{"name":")" + name +
              R"(","namespace":"default","ownerReferences":[)" + refs + "]" + extra_md + "}}");
    }

    bool exists(const std::string& what) { return get_json(what + " -n default").is_object(); }
    bool gone(const std::string& what) {
        return eventually([&] { return !exists(what); });
    }

    json::object object(const std::string& what) {
        auto v = get_json(what + " -n default");
        return v.is_object() ? v.as_object() : json::object{};
    }
    static std::size_t owner_count(const json::object& o) {
        auto* refs = o.at("metadata").as_object().if_contains("ownerReferences");
        return refs && refs->is_array() ? refs->as_array().size() : 0;
    }
};

TEST_F(GcTest, BackgroundDeletionRemovesDependentsKeepsObjectsWithAnotherOwner) {
    auto owner = make_owner("owner");
    auto other = make_owner("other");
    ASSERT_FALSE(owner.empty());
    make_dependent("ConfigMap", "dep-cm", ref("owner", owner));
    make_dependent("Secret", "dep-secret", ref("owner", owner));
    make_dependent("ConfigMap", "two-owners", ref("owner", owner) + "," + ref("other", other));
    // Nothing happens while the owner exists.
    EXPECT_TRUE(exists("configmap dep-cm"));

    kubectl_ok("delete configmap owner");  // kubectl's default: --cascade=background
    EXPECT_TRUE(gone("configmap dep-cm"));
    EXPECT_TRUE(gone("secret dep-secret"));
    // The one with a living owner stays, without the dangling reference.
    EXPECT_TRUE(eventually([&] { return owner_count(object("configmap two-owners")) == 1; }));
    auto kept = object("configmap two-owners");
    EXPECT_EQ(kept.at("metadata").at("ownerReferences").as_array()[0].at("uid"), other.c_str());
}

TEST_F(GcTest, DependentOfAnOwnerThatNeverExistedIsDeleted) {
    make_dependent("ConfigMap", "orphaned", ref("ghost", "00000000-0000-4000-8000-000000000000"));
    EXPECT_TRUE(gone("configmap orphaned"));
    // An owner of the same name but another uid is not the owner either.
    make_owner("reborn");
    make_dependent("ConfigMap", "stale", ref("reborn", "11111111-1111-4111-8111-111111111111"));
    EXPECT_TRUE(gone("configmap stale"));
    EXPECT_TRUE(exists("configmap reborn"));
}

TEST_F(GcTest, ForegroundWaitsForBlockingDependents) {
    auto owner = make_owner("fg-owner");
    // The blocking dependent carries a finalizer of its own, so it stays terminating until the
    // test releases it: the owner must wait for it.
    make_dependent("ConfigMap", "blocker", ref("fg-owner", owner, true),
                   R"(,"finalizers":["example.com/hold"])");
    make_dependent("Secret", "plain", ref("fg-owner", owner));

    kubectl_ok("delete configmap fg-owner --cascade=foreground --wait=false");
    // The owner is held by foregroundDeletion while its dependents go.
    auto held = object("configmap fg-owner");
    ASSERT_FALSE(held.empty());
    EXPECT_TRUE(held.at("metadata").as_object().contains("deletionTimestamp"));
    EXPECT_NE(json::serialize(held.at("metadata").at("finalizers")).find("foregroundDeletion"),
              std::string::npos);
    EXPECT_TRUE(gone("secret plain"));
    EXPECT_TRUE(eventually([&] {
        auto b = object("configmap blocker");
        return !b.empty() && b.at("metadata").as_object().contains("deletionTimestamp");
    }));
    EXPECT_TRUE(exists("configmap fg-owner"));

    kubectl_ok(R"(patch configmap blocker --type=merge -p '{"metadata":{"finalizers":null}}')");
    EXPECT_TRUE(gone("configmap blocker"));
    EXPECT_TRUE(gone("configmap fg-owner"));
}

TEST_F(GcTest, KubectlForegroundDeleteWaitsUntilDependentsAreGone) {
    auto owner = make_owner("w-owner");
    make_dependent("ConfigMap", "w-dep", ref("w-owner", owner, true));
    // kubectl waits for the owner to disappear, which needs the GC to delete w-dep first.
    kubectl_ok("delete configmap w-owner --cascade=foreground --timeout=60s");
    EXPECT_FALSE(exists("configmap w-owner"));
    EXPECT_FALSE(exists("configmap w-dep"));
}

TEST_F(GcTest, OrphanKeepsDependentsAndDropsTheirReferences) {
    auto owner = make_owner("o-owner");
    auto other = make_owner("o-other");
    make_dependent("ConfigMap", "o-dep", ref("o-owner", owner));
    make_dependent("Secret", "o-dep2", ref("o-owner", owner) + "," + ref("o-other", other));
    kubectl_ok("delete configmap o-owner --cascade=orphan --timeout=60s");
    EXPECT_TRUE(gone("configmap o-owner"));
    auto dep = object("configmap o-dep");
    ASSERT_FALSE(dep.empty()) << "the orphaned dependent was deleted";
    EXPECT_EQ(owner_count(dep), 0u);
    auto dep2 = object("secret o-dep2");
    ASSERT_FALSE(dep2.empty());
    ASSERT_EQ(owner_count(dep2), 1u);
    EXPECT_EQ(dep2.at("metadata").at("ownerReferences").as_array()[0].at("uid"), other.c_str());
}

TEST_F(GcTest, CustomResourcesAreCollected) {
    apply(R"({"apiVersion":"apiextensions.k8s.io/v1","kind":"CustomResourceDefinition",
      "metadata":{"name":"widgets.example.com"},
      "spec":{"group":"example.com","scope":"Namespaced",
        "names":{"plural":"widgets","singular":"widget","kind":"Widget"},
        "versions":[{"name":"v1","served":true,"storage":true,
          "schema":{"openAPIV3Schema":{"type":"object",
            "x-kubernetes-preserve-unknown-fields":true}}}]}})");
    ASSERT_TRUE(eventually([&] { return kubectl("get widgets").exit_code == 0; }));
    // A custom owner of a configmap, and a custom dependent of a configmap.
    apply(R"({"apiVersion":"example.com/v1","kind":"Widget",
      "metadata":{"name":"w1","namespace":"default"}})");
    auto widget = uid_of("widget w1");
    ASSERT_FALSE(widget.empty());
    make_dependent("ConfigMap", "of-widget", ref("w1", widget, false, "Widget", "example.com/v1"));
    auto owner = make_owner("cm-owner");
    apply(R"({"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"w2",
      "namespace":"default","ownerReferences":[)" +
          ref("cm-owner", owner) + "]}}");

    kubectl_ok("delete widget w1");
    EXPECT_TRUE(gone("configmap of-widget"));
    kubectl_ok("delete configmap cm-owner");
    EXPECT_TRUE(gone("widget w2"));
}

}  // namespace
}  // namespace kedge::controllers::test
