// Namespace deletion through kubectl against the real kedge-apiserver: the namespace turns
// Terminating, its content is deleted (a bound pod gracefully: the fake kubelet completes it),
// then the namespace goes; nothing new may be created meanwhile; system namespaces stay.

#include "controllers_fixture.hpp"

namespace kedge::controllers::test {
namespace {

namespace json = boost::json;

class NamespaceTest : public ControllersFixture {
protected:
    std::string phase(const std::string& ns) {
        auto v = get_json("namespace " + ns);
        if (!v.is_object()) return "<gone>";
        auto* p = v.as_object().at("status").as_object().if_contains("phase");
        return p ? std::string(p->as_string()) : "";
    }
    std::string condition_message(const std::string& ns, const std::string& type) {
        auto v = get_json("namespace " + ns);
        if (!v.is_object()) return {};
        auto* cs = v.as_object().at("status").as_object().if_contains("conditions");
        if (!cs || !cs->is_array()) return {};
        for (const auto& c : cs->as_array())
            if (c.at("type").as_string() == type && c.at("status").as_string() == "True")
                return std::string(c.at("message").as_string());
        return {};
    }
};

TEST_F(NamespaceTest, DeletingANamespaceRemovesItsContentThenItself) {
    start_kubelet({FakeNode::cloud("node-1")});
    kubectl_ok("create namespace team");
    kubectl_ok("create configmap cfg -n team --from-literal=a=b");
    kubectl_ok("create secret generic pw -n team --from-literal=p=q");
    // A pod already bound to the fake kubelet's node: its deletion is graceful.
    apply(R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","namespace":"team"},
      "spec":{"nodeName":"node-1","containers":[{"name":"c","image":"localhost:5000/busybox"}]}})");
    ASSERT_TRUE(eventually([&] {
        auto p = get_json("pod p -n team");
        return p.is_object() && p.at("status").as_object().contains("phase") &&
               p.at("status").at("phase") == "Running";
    }));

    auto out = kubectl_ok("delete namespace team --timeout=60s");
    EXPECT_NE(out.find("namespace \"team\" deleted"), std::string::npos) << out;
    EXPECT_EQ(phase("team"), "<gone>");
    EXPECT_TRUE(get_items("configmaps -n team").empty());
    EXPECT_TRUE(get_items("pods -n team").empty());
    // The name can be used again, empty.
    kubectl_ok("create namespace team");
    EXPECT_TRUE(get_items("secrets -n team").empty());
}

TEST_F(NamespaceTest, TerminatingNamespaceRefusesNewContentAndWaitsForFinalizers) {
    kubectl_ok("create namespace held");
    apply(R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"sticky",
      "namespace":"held","finalizers":["example.com/hold"]}})");
    kubectl_ok("delete namespace held --wait=false");
    EXPECT_EQ(phase("held"), "Terminating");

    auto r = kubectl("create configmap late -n held --from-literal=a=b");
    EXPECT_NE(r.exit_code, 0);
    EXPECT_NE(r.output.find("unable to create new content in namespace held because it is being "
                            "terminated"),
              std::string::npos)
        << r.output;

    // The namespace says what it waits for.
    EXPECT_TRUE(eventually([&] {
        return condition_message("held", "NamespaceFinalizersRemaining")
                   .find("example.com/hold in 1 resource instances") != std::string::npos;
    })) << kubectl_ok("get namespace held -o yaml");
    EXPECT_NE(condition_message("held", "NamespaceContentRemaining").find("configmaps."),
              std::string::npos);
    EXPECT_EQ(phase("held"), "Terminating");

    kubectl_ok(
        R"(patch configmap sticky -n held --type=merge -p '{"metadata":{"finalizers":null}}')");
    EXPECT_TRUE(eventually([&] { return phase("held") == "<gone>"; }));
}

TEST_F(NamespaceTest, CreatingInAMissingNamespaceIsNotFound) {
    auto r = kubectl("create configmap x -n nowhere --from-literal=a=b");
    EXPECT_NE(r.exit_code, 0);
    EXPECT_NE(r.output.find("namespaces \"nowhere\" not found"), std::string::npos) << r.output;
}

TEST_F(NamespaceTest, SystemNamespacesCannotBeDeleted) {
    for (const char* ns : {"default", "kube-system", "kube-public", "kube-node-lease"}) {
        auto r = kubectl(std::string("delete namespace ") + ns + " --wait=false");
        EXPECT_NE(r.exit_code, 0) << ns;
        EXPECT_NE(r.output.find("this namespace may not be deleted"), std::string::npos)
            << r.output;
        EXPECT_EQ(phase(ns), "Active");
    }
}

}  // namespace
}  // namespace kedge::controllers::test
