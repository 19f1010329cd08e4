#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include "apiserver/auth/rbac_authorizer.hpp"

namespace kedge::apiserver::auth {
namespace {

boost::json::object obj(std::string_view json) { return boost::json::parse(json).as_object(); }

Attributes res(std::string_view verb, std::string_view group, std::string_view ns,
               std::string_view resource, std::string_view sub = {}, std::string_view name = {}) {
    return resource_attributes(verb, group, ns, resource, sub, name);
}

const UserInfo kAlice{"alice", "", {"system:authenticated"}, {}};
const UserInfo kBob{"bob", "", {"devs", "system:authenticated"}, {}};
const UserInfo kSa{"system:serviceaccount:apps:builder",
                   "",
                   {"system:serviceaccounts", "system:authenticated"},
                   {}};

class RbacTest : public ::testing::Test {
protected:
    void apply(std::string_view json) {
        auto r = store_.on_event(obj(json), false);
        ASSERT_TRUE(r) << r.error().message();
    }
    bool allowed(const UserInfo& u, const Attributes& a) {
        return store_.authorize(u, a).allowed();
    }

    RbacStore store_{false};
};

TEST_F(RbacTest, RoleRulesVerbsAndResources) {
    apply(R"({"kind":"Role","metadata":{"name":"pod-reader","namespace":"ns"},
              "rules":[{"apiGroups":[""],"resources":["pods"],"verbs":["get","list"]}]})");
    apply(R"({"kind":"RoleBinding","metadata":{"name":"alice-reads","namespace":"ns"},
              "roleRef":{"apiGroup":"rbac.authorization.k8s.io","kind":"Role","name":"pod-reader"},
              "subjects":[{"kind":"User","name":"alice"}]})");
    EXPECT_TRUE(allowed(kAlice, res("get", "", "ns", "pods", "", "p")));
    EXPECT_TRUE(allowed(kAlice, res("list", "", "ns", "pods")));
    EXPECT_FALSE(allowed(kAlice, res("watch", "", "ns", "pods")));
    EXPECT_FALSE(allowed(kAlice, res("delete", "", "ns", "pods", "", "p")));
    EXPECT_FALSE(allowed(kAlice, res("get", "", "other", "pods", "", "p")));
    EXPECT_FALSE(allowed(kAlice, res("list", "", "", "pods")));  // all namespaces
    EXPECT_FALSE(allowed(kAlice, res("get", "", "ns", "secrets", "", "s")));
    EXPECT_FALSE(allowed(kAlice, res("get", "apps", "ns", "pods", "", "p")));
    EXPECT_FALSE(allowed(kAlice, res("get", "", "ns", "pods", "status", "p")));
    EXPECT_FALSE(allowed(kBob, res("get", "", "ns", "pods", "", "p")));

    Decision d = store_.authorize(kAlice, res("get", "", "ns", "pods", "", "p"));
    EXPECT_EQ(d.reason,
              "RBAC: allowed by RoleBinding \"alice-reads\" in namespace \"ns\" of Role "
              "\"pod-reader\" to User \"alice\"");
    d = store_.authorize(kBob, res("get", "", "ns", "pods", "", "p"));
    EXPECT_TRUE(d.is_no_opinion());
    EXPECT_EQ(d.reason, "");
}

TEST_F(RbacTest, Wildcards) {
    apply(R"({"kind":"ClusterRole","metadata":{"name":"apps-all"},
              "rules":[{"apiGroups":["apps"],"resources":["*"],"verbs":["*"]},
                       {"apiGroups":["*"],"resources":["*/status"],"verbs":["get"]}]})");
    apply(R"({"kind":"ClusterRoleBinding","metadata":{"name":"b"},
              "roleRef":{"kind":"ClusterRole","name":"apps-all"},
              "subjects":[{"kind":"Group","name":"devs"}]})");
    EXPECT_TRUE(allowed(kBob, res("delete", "apps", "ns", "deployments", "", "d")));
    EXPECT_TRUE(allowed(kBob, res("update", "apps", "ns", "deployments", "scale", "d")));
    EXPECT_TRUE(allowed(kBob, res("deletecollection", "apps", "", "daemonsets")));
    EXPECT_FALSE(allowed(kBob, res("get", "", "ns", "pods", "", "p")));
    EXPECT_TRUE(allowed(kBob, res("get", "", "ns", "pods", "status", "p")));
    EXPECT_TRUE(allowed(kBob, res("get", "example.com", "", "widgets", "status", "w")));
    EXPECT_FALSE(allowed(kBob, res("update", "", "ns", "pods", "status", "p")));
    EXPECT_FALSE(allowed(kBob, res("get", "", "ns", "pods", "statusx", "p")));
    EXPECT_FALSE(allowed(kAlice, res("get", "apps", "ns", "deployments", "", "d")));
}

TEST_F(RbacTest, ResourceNamesAndSubresources) {
    apply(R"({"kind":"Role","metadata":{"name":"one-cm","namespace":"ns"},
              "rules":[{"apiGroups":[""],"resources":["configmaps"],"resourceNames":["cfg"],
                        "verbs":["get","update","watch"]},
                       {"apiGroups":[""],"resources":["pods/status"],"verbs":["patch"]}]})");
    apply(R"({"kind":"RoleBinding","metadata":{"name":"b","namespace":"ns"},
              "roleRef":{"kind":"Role","name":"one-cm"},
              "subjects":[{"kind":"User","name":"alice"}]})");
    EXPECT_TRUE(allowed(kAlice, res("get", "", "ns", "configmaps", "", "cfg")));
    EXPECT_TRUE(allowed(kAlice, res("update", "", "ns", "configmaps", "", "cfg")));
    EXPECT_FALSE(allowed(kAlice, res("get", "", "ns", "configmaps", "", "other")));
    EXPECT_FALSE(allowed(kAlice, res("watch", "", "ns", "configmaps")));  // unnamed
    Attributes pinned = res("watch", "", "ns", "configmaps");
    apply_field_selector_name(pinned, "metadata.name=cfg");
    EXPECT_TRUE(allowed(kAlice, pinned));

    EXPECT_TRUE(allowed(kAlice, res("patch", "", "ns", "pods", "status", "p")));
    EXPECT_FALSE(allowed(kAlice, res("patch", "", "ns", "pods", "", "p")));
}

TEST_F(RbacTest, RoleBindingScopesClusterRoleToItsNamespace) {
    apply(R"({"kind":"ClusterRole","metadata":{"name":"secret-reader"},
              "rules":[{"apiGroups":[""],"resources":["secrets"],"verbs":["get","list"]}]})");
    apply(R"({"kind":"RoleBinding","metadata":{"name":"b","namespace":"team"},
              "roleRef":{"kind":"ClusterRole","name":"secret-reader"},
              "subjects":[{"kind":"User","name":"alice"}]})");
    EXPECT_TRUE(allowed(kAlice, res("get", "", "team", "secrets", "", "s")));
    EXPECT_FALSE(allowed(kAlice, res("get", "", "other", "secrets", "", "s")));
    EXPECT_FALSE(allowed(kAlice, res("list", "", "", "secrets")));

    // A ClusterRoleBinding of the same role applies everywhere.
    apply(R"({"kind":"ClusterRoleBinding","metadata":{"name":"cb"},
              "roleRef":{"kind":"ClusterRole","name":"secret-reader"},
              "subjects":[{"kind":"Group","name":"devs"}]})");
    EXPECT_TRUE(allowed(kBob, res("get", "", "other", "secrets", "", "s")));
    EXPECT_TRUE(allowed(kBob, res("list", "", "", "secrets")));
    Decision d = store_.authorize(kBob, res("list", "", "", "secrets"));
    EXPECT_EQ(d.reason,
              "RBAC: allowed by ClusterRoleBinding \"cb\" of ClusterRole \"secret-reader\" to "
              "Group \"devs\"");
}

TEST_F(RbacTest, ServiceAccountSubjects) {
    apply(R"({"kind":"ClusterRole","metadata":{"name":"lister"},
              "rules":[{"apiGroups":[""],"resources":["pods"],"verbs":["list"]}]})");
    // Namespace omitted on a RoleBinding subject: the binding's namespace.
    apply(R"({"kind":"RoleBinding","metadata":{"name":"b","namespace":"apps"},
              "roleRef":{"kind":"ClusterRole","name":"lister"},
              "subjects":[{"kind":"ServiceAccount","name":"builder"}]})");
    EXPECT_TRUE(allowed(kSa, res("list", "", "apps", "pods")));
    EXPECT_FALSE(allowed(kSa, res("list", "", "web", "pods")));
    UserInfo other_ns{"system:serviceaccount:web:builder", "", {}, {}};
    EXPECT_FALSE(allowed(other_ns, res("list", "", "apps", "pods")));

    apply(R"({"kind":"ClusterRoleBinding","metadata":{"name":"cb"},
              "roleRef":{"kind":"ClusterRole","name":"lister"},
              "subjects":[{"kind":"ServiceAccount","name":"builder","namespace":"web"}]})");
    EXPECT_TRUE(allowed(other_ns, res("list", "", "anything", "pods")));
}

TEST_F(RbacTest, NonResourceUrls) {
    apply(R"({"kind":"ClusterRole","metadata":{"name":"metrics"},
              "rules":[{"nonResourceURLs":["/metrics","/debug/*"],"verbs":["get"]}]})");
    apply(R"({"kind":"ClusterRoleBinding","metadata":{"name":"m"},
              "roleRef":{"kind":"ClusterRole","name":"metrics"},
              "subjects":[{"kind":"User","name":"alice"}]})");
    EXPECT_TRUE(allowed(kAlice, non_resource_attributes("get", "/metrics")));
    EXPECT_TRUE(allowed(kAlice, non_resource_attributes("get", "/debug/pprof/heap")));
    EXPECT_FALSE(allowed(kAlice, non_resource_attributes("post", "/metrics")));
    EXPECT_FALSE(allowed(kAlice, non_resource_attributes("get", "/metricsx")));
    EXPECT_FALSE(allowed(kAlice, non_resource_attributes("get", "/healthz")));
    // A non-resource rule never matches a resource request.
    EXPECT_FALSE(allowed(kAlice, res("get", "", "", "metrics")));
}

TEST_F(RbacTest, RoleBindingCannotUseNonResourceRulesOrOtherNamespacesRoles) {
    apply(R"({"kind":"Role","metadata":{"name":"r","namespace":"a"},
              "rules":[{"apiGroups":[""],"resources":["pods"],"verbs":["get"]}]})");
    apply(R"({"kind":"RoleBinding","metadata":{"name":"b","namespace":"b"},
              "roleRef":{"kind":"Role","name":"r"},
              "subjects":[{"kind":"User","name":"alice"}]})");
    EXPECT_FALSE(allowed(kAlice, res("get", "", "b", "pods", "", "p")));
    EXPECT_FALSE(allowed(kAlice, res("get", "", "a", "pods", "", "p")));
}

TEST_F(RbacTest, UpdatesAndDeletesTakeEffect) {
    const char* role = R"({"kind":"Role","metadata":{"name":"r","namespace":"ns"},
              "rules":[{"apiGroups":[""],"resources":["pods"],"verbs":["get"]}]})";
    const char* binding = R"({"kind":"RoleBinding","metadata":{"name":"b","namespace":"ns"},
              "roleRef":{"kind":"Role","name":"r"},
              "subjects":[{"kind":"User","name":"alice"}]})";
    apply(role);
    EXPECT_FALSE(allowed(kAlice, res("get", "", "ns", "pods", "", "p")));  // no binding yet
    apply(binding);
    EXPECT_TRUE(allowed(kAlice, res("get", "", "ns", "pods", "", "p")));
    apply(R"({"kind":"Role","metadata":{"name":"r","namespace":"ns"},
              "rules":[{"apiGroups":[""],"resources":["pods"],"verbs":["list"]}]})");
    EXPECT_FALSE(allowed(kAlice, res("get", "", "ns", "pods", "", "p")));
    EXPECT_TRUE(allowed(kAlice, res("list", "", "ns", "pods")));
    ASSERT_TRUE(store_.on_event(obj(binding), true));
    EXPECT_FALSE(allowed(kAlice, res("list", "", "ns", "pods")));

    auto errors = store_.reset({obj(role), obj(binding), obj(R"({"kind":"Role"})")});
    EXPECT_EQ(errors.size(), 1U);
    EXPECT_TRUE(allowed(kAlice, res("get", "", "ns", "pods", "", "p")));
}

TEST_F(RbacTest, AggregatedClusterRoles) {
    apply(R"({"kind":"ClusterRole","metadata":{"name":"agg"},
              "aggregationRule":{"clusterRoleSelectors":[{"matchLabels":{"agg/me":"true"}}]},
              "rules":[]})");
    apply(R"({"kind":"ClusterRole","metadata":{"name":"part","labels":{"agg/me":"true"}},
              "rules":[{"apiGroups":[""],"resources":["services"],"verbs":["get"]}]})");
    apply(R"({"kind":"ClusterRole","metadata":{"name":"unlabelled"},
              "rules":[{"apiGroups":[""],"resources":["secrets"],"verbs":["get"]}]})");
    apply(R"({"kind":"ClusterRoleBinding","metadata":{"name":"b"},
              "roleRef":{"kind":"ClusterRole","name":"agg"},
              "subjects":[{"kind":"User","name":"alice"}]})");
    EXPECT_TRUE(allowed(kAlice, res("get", "", "ns", "services", "", "s")));
    EXPECT_FALSE(allowed(kAlice, res("get", "", "ns", "secrets", "", "s")));
}

TEST_F(RbacTest, InvalidObjectsAreRefusedAndPreviousVersionStays) {
    apply(R"({"kind":"Role","metadata":{"name":"r","namespace":"ns"},
              "rules":[{"apiGroups":[""],"resources":["pods"],"verbs":["get"]}]})");
    apply(R"({"kind":"RoleBinding","metadata":{"name":"b","namespace":"ns"},
              "roleRef":{"kind":"Role","name":"r"},"subjects":[{"kind":"User","name":"alice"}]})");
    struct Case {
        const char* json;
        const char* expect;
    };
    const Case cases[] = {
        {R"({"kind":"Role","metadata":{"name":"r","namespace":"ns"},"rules":[{"verbs":"get"}]})",
         "rules[0].verbs must be a list of strings"},
        {R"({"kind":"Role","metadata":{"name":"r"}})", "metadata.namespace is required"},
        {R"({"kind":"ClusterRole","metadata":{}})", "metadata.name is required"},
        {R"({"kind":"RoleBinding","metadata":{"name":"b","namespace":"ns"},
             "roleRef":{"kind":"Secret","name":"x"}})",
         "roleRef.kind \"Secret\" must be Role or ClusterRole"},
        {R"({"kind":"ClusterRoleBinding","metadata":{"name":"b"},
             "roleRef":{"kind":"Role","name":"x"}})",
         "must be ClusterRole"},
        {R"({"kind":"RoleBinding","metadata":{"name":"b","namespace":"ns"},
             "roleRef":{"kind":"Role","name":"r"},"subjects":[{"kind":"Robot","name":"x"}]})",
         "subjects[0].kind \"Robot\""},
        {R"({"kind":"ClusterRoleBinding","metadata":{"name":"b"},
             "roleRef":{"kind":"ClusterRole","name":"r"},
             "subjects":[{"kind":"ServiceAccount","name":"x"}]})",
         "subjects[0].namespace is required"},
        {R"({"kind":"Pod","metadata":{"name":"p"}})", "not an RBAC kind"},
    };
    for (const auto& c : cases) {
        auto r = store_.on_event(obj(c.json), false);
        ASSERT_FALSE(r) << c.json;
        EXPECT_TRUE(r.error().is(errc::invalid_argument));
        EXPECT_NE(r.error().detail.find(c.expect), std::string::npos) << r.error().detail;
    }
    EXPECT_TRUE(allowed(kAlice, res("get", "", "ns", "pods", "", "p")));
}

TEST(RbacBootstrap, AdminAndDiscovery) {
    RbacStore store;
    UserInfo admin{"admin", "", {"system:masters", "system:authenticated"}, {}};
    EXPECT_TRUE(
        store.authorize(admin, res("delete", "apps", "x", "deployments", "", "d")).allowed());
    EXPECT_TRUE(store.authorize(admin, non_resource_attributes("post", "/anything")).allowed());

    for (auto path : {"/api", "/api/v1", "/apis", "/apis/apps/v1", "/version", "/healthz", "/livez",
                      "/readyz", "/openapi/v2"}) {
        EXPECT_TRUE(store.authorize(kAlice, non_resource_attributes("get", path)).allowed())
            << path;
    }
    EXPECT_FALSE(store.authorize(kAlice, non_resource_attributes("get", "/metrics")).allowed());
    EXPECT_FALSE(store.authorize(kAlice, res("get", "", "default", "pods", "", "p")).allowed());
    EXPECT_TRUE(store
                    .authorize(kAlice, res("create", "authorization.k8s.io", "",
                                           "selfsubjectaccessreviews"))
                    .allowed());
    // Not authenticated (no system:authenticated group): only the public info.
    UserInfo anon{"system:anonymous", "", {"system:unauthenticated"}, {}};
    EXPECT_TRUE(store.authorize(anon, non_resource_attributes("get", "/healthz")).allowed());
    EXPECT_FALSE(store.authorize(anon, non_resource_attributes("get", "/api")).allowed());
}

TEST(RbacBootstrap, StoredObjectOverridesAndDeletionRestores) {
    RbacStore store;
    UserInfo admin{"admin", "", {"system:masters"}, {}};
    auto narrowed = obj(R"({"kind":"ClusterRole","metadata":{"name":"cluster-admin"},
        "rules":[{"apiGroups":[""],"resources":["pods"],"verbs":["get"]}]})");
    ASSERT_TRUE(store.on_event(narrowed, false));
    EXPECT_FALSE(
        store.authorize(admin, res("delete", "apps", "x", "deployments", "", "d")).allowed());
    ASSERT_TRUE(store.on_event(narrowed, true));
    EXPECT_TRUE(
        store.authorize(admin, res("delete", "apps", "x", "deployments", "", "d")).allowed());

    auto objects = bootstrap_policy();
    EXPECT_EQ(objects.size(), 8U);
    for (const auto& o : objects) {
        EXPECT_EQ(kube::api_version(o), "rbac.authorization.k8s.io/v1");
        EXPECT_EQ(kube::label(o, "kubernetes.io/bootstrapping"), "rbac-defaults");
    }
}

}  // namespace
}  // namespace kedge::apiserver::auth
