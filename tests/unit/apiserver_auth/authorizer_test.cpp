#include <gtest/gtest.h>

#include "apiserver/auth/authorizer.hpp"
#include "apiserver/auth/node_graph.hpp"
#include "apiserver/auth/rbac_authorizer.hpp"

namespace kedge::apiserver::auth {
namespace {

// Answers a fixed decision and counts calls, to observe the chain's order.
class Fixed final : public Authorizer {
public:
    explicit Fixed(Decision d) : d_(std::move(d)) {}
    Decision authorize(const UserInfo&, const Attributes&) const override {
        ++calls;
        return d_;
    }
    mutable int calls = 0;

private:
    Decision d_;
};

const UserInfo kAlice{"alice", "1", {"system:authenticated"}, {}};
const Attributes kGetPod = resource_attributes("get", "", "default", "pods", "", "p");

TEST(UnionAuthorizer, FirstAllowOrDenyWinsNoOpinionContinues) {
    auto none1 = std::make_shared<Fixed>(Decision::no_opinion("first has none"));
    auto deny = std::make_shared<Fixed>(Decision::deny("denied by second"));
    auto allow = std::make_shared<Fixed>(Decision::allow("allowed by third"));

    UnionAuthorizer deny_first({none1, deny, allow});
    Decision d = deny_first.authorize(kAlice, kGetPod);
    EXPECT_TRUE(d.denied());
    EXPECT_EQ(d.reason, "denied by second");
    EXPECT_EQ(allow->calls, 0);

    UnionAuthorizer allow_first({none1, allow, deny});
    d = allow_first.authorize(kAlice, kGetPod);
    EXPECT_TRUE(d.allowed());
    EXPECT_EQ(d.reason, "allowed by third");
    EXPECT_EQ(none1->calls, 2);

    auto none2 = std::make_shared<Fixed>(Decision::no_opinion("second has none"));
    UnionAuthorizer nobody({none1, none2});
    d = nobody.authorize(kAlice, kGetPod);
    EXPECT_TRUE(d.is_no_opinion());
    EXPECT_EQ(d.reason, "first has none; second has none");

    UnionAuthorizer empty({});
    EXPECT_TRUE(empty.authorize(kAlice, kGetPod).is_no_opinion());
}

TEST(PrivilegedGroups, MastersAlwaysAllowed) {
    PrivilegedGroupsAuthorizer authz;
    UserInfo admin{"admin", "", {"system:masters", "system:authenticated"}, {}};
    EXPECT_TRUE(authz.authorize(admin, kGetPod).allowed());
    EXPECT_TRUE(authz.authorize(admin, non_resource_attributes("delete", "/anything")).allowed());
    EXPECT_TRUE(authz.authorize(kAlice, kGetPod).is_no_opinion());
}

TEST(MakeAuthorizer, AlwaysAllow) {
    auto authz = make_authorizer("AlwaysAllow", {});
    ASSERT_TRUE(authz) << authz.error().message();
    EXPECT_TRUE((*authz)->authorize(kAlice, kGetPod).allowed());
}

TEST(MakeAuthorizer, NodeRbacChainHeadedByMasters) {
    AuthorizerDeps deps{std::make_shared<InMemoryNodeGraph>(), std::make_shared<RbacStore>()};
    auto authz = make_authorizer("Node,RBAC", deps);
    ASSERT_TRUE(authz) << authz.error().message();
    // alice has no binding: no opinion from every member.
    Decision d = (*authz)->authorize(kAlice, kGetPod);
    EXPECT_TRUE(d.is_no_opinion());
    // A node's reason survives the chain.
    UserInfo node{"system:node:n1", "", {"system:nodes"}, {}};
    d = (*authz)->authorize(node, resource_attributes("get", "", "ns", "secrets", "", "s"));
    EXPECT_TRUE(d.is_no_opinion());
    EXPECT_NE(d.reason.find("no relationship"), std::string::npos) << d.reason;
    d = (*authz)->authorize(node, resource_attributes("update", "", "", "nodes", "", "n2"));
    EXPECT_TRUE(d.denied());
    // Discovery is allowed for any authenticated user by the bootstrap policy.
    EXPECT_TRUE((*authz)->authorize(kAlice, non_resource_attributes("get", "/apis")).allowed());
    // system:masters even without any RBAC object.
    AuthorizerDeps empty_rbac{deps.node_graph, std::make_shared<RbacStore>(false)};
    auto bare = make_authorizer("Node,RBAC", empty_rbac).value();
    UserInfo admin{"admin", "", {"system:masters"}, {}};
    EXPECT_TRUE(bare->authorize(admin, kGetPod).allowed());
}

TEST(MakeAuthorizer, RejectsBadModeLists) {
    EXPECT_FALSE(make_authorizer("", {}));
    EXPECT_FALSE(make_authorizer("Node,,RBAC", {}));
    auto unknown = make_authorizer("Webhook", {});
    ASSERT_FALSE(unknown);
    EXPECT_NE(unknown.error().detail.find("Webhook"), std::string::npos);
    auto twice = make_authorizer("AlwaysAllow,AlwaysAllow", {});
    ASSERT_FALSE(twice);
    EXPECT_NE(twice.error().detail.find("twice"), std::string::npos);
    EXPECT_FALSE(make_authorizer("Node", {}));  // no graph
    EXPECT_FALSE(make_authorizer("RBAC", {}));  // no store
}

TEST(Attributes, FieldSelectorNamesSingleObjectListAndWatch) {
    Attributes a = resource_attributes("watch", "", "ns", "secrets");
    apply_field_selector_name(a, "metadata.name=s1");
    EXPECT_EQ(a.name, "s1");

    for (auto selector : {"metadata.name!=s1", "metadata.name=a/b", "metadata.name=..",
                          "metadata.namespace=ns", "", "garbage\\"}) {
        Attributes b = resource_attributes("list", "", "ns", "secrets");
        apply_field_selector_name(b, selector);
        EXPECT_EQ(b.name, "") << selector;
    }

    Attributes c = resource_attributes("get", "", "ns", "secrets", "", "x");
    apply_field_selector_name(c, "metadata.name=s1");
    EXPECT_EQ(c.name, "x");
}

TEST(Attributes, DescribeNamesEverything) {
    EXPECT_EQ(describe(resource_attributes("update", "", "ns", "pods", "status", "p")),
              "update resource \"pods/status\" in API group \"\" in namespace \"ns\" named \"p\"");
    EXPECT_EQ(describe(resource_attributes("list", "apps", "", "deployments")),
              "list resource \"deployments\" in API group \"apps\" at the cluster scope");
    EXPECT_EQ(describe(non_resource_attributes("get", "/healthz")), "get path \"/healthz\"");
}

TEST(UserInfo, NodeIdentityNeedsNameAndGroup) {
    EXPECT_EQ(node_name_of({"system:node:n1", "", {"system:nodes"}, {}}), "n1");
    EXPECT_FALSE(node_name_of({"system:node:n1", "", {}, {}}));
    EXPECT_FALSE(node_name_of({"n1", "", {"system:nodes"}, {}}));
    EXPECT_EQ(node_name_of({"system:node:", "", {"system:nodes"}, {}}), "");
    EXPECT_EQ(service_account_user_name("kube-system", "default"),
              "system:serviceaccount:kube-system:default");
}

}  // namespace
}  // namespace kedge::apiserver::auth
