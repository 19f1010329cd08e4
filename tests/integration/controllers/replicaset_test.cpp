// A ReplicaSet used on its own, driven with kubectl: it keeps its replicas, reports status,
// scales down, releases pods whose labels stop matching and adopts matching orphans.

#include "controllers_fixture.hpp"

namespace kedge::controllers::test {
namespace {

namespace json = boost::json;

std::string str_at(const json::object& o, std::initializer_list<const char*> path) {
    const json::value* v = nullptr;
    const json::object* cur = &o;
    for (const char* k : path) {
        if (!cur) return "";
        v = cur->if_contains(k);
        if (!v) return "";
        cur = v->if_object();
    }
    if (!v) return "";
    if (v->is_string()) return std::string(v->as_string());
    if (v->is_int64()) return std::to_string(v->as_int64());
    return "";
}

std::string controller_uid(const json::object& o) {
    auto* md = o.at("metadata").as_object().if_contains("ownerReferences");
    if (!md || !md->is_array()) return "";
    for (auto& r : md->as_array()) {
        auto* c = r.as_object().if_contains("controller");
        if (c && c->is_bool() && c->as_bool()) return str_at(r.as_object(), {"uid"});
    }
    return "";
}

class ReplicaSetTest : public ControllersFixture {
protected:
    void SetUp() override {
        ControllersFixture::SetUp();
        start_kubelet({FakeNode::edge("edge-1"), FakeNode::edge("edge-2")});
    }

    void create_rs(int replicas) {
        apply(R"({"apiVersion":"apps/v1","kind":"ReplicaSet",
                  "metadata":{"name":"front","namespace":"default"},
                  "spec":{"replicas":)" +
              std::to_string(replicas) + R"(,"selector":{"matchLabels":{"tier":"front"}},
                  "template":{"metadata":{"labels":{"tier":"front","extra":"yes"}},
                              "spec":{"containers":[{"name":"c","image":"localhost:5000/x"}]}}}})");
    }

    std::vector<json::object> active_pods() {
        std::vector<json::object> out;
        for (auto& p : get_items("pods -n default -l tier=front"))
            if (str_at(p, {"metadata", "deletionTimestamp"}).empty()) out.push_back(p);
        return out;
    }
    json::object rs() {
        auto v = get_json("rs front -n default");
        return v.is_object() ? v.as_object() : json::object{};
    }
    bool status_is(int replicas, int ready) {
        auto r = rs();
        return str_at(r, {"status", "replicas"}) == std::to_string(replicas) &&
               str_at(r, {"status", "readyReplicas"}) == std::to_string(ready) &&
               str_at(r, {"status", "availableReplicas"}) == std::to_string(ready) &&
               str_at(r, {"status", "fullyLabeledReplicas"}) == std::to_string(replicas) &&
               str_at(r, {"status", "observedGeneration"}) == str_at(r, {"metadata", "generation"});
    }
};

TEST_F(ReplicaSetTest, KeepsReplicasReportsStatusAndScalesDown) {
    create_rs(3);
    ASSERT_TRUE(eventually([&] { return status_is(3, 3); })) << json::serialize(rs());
    std::string uid = str_at(rs(), {"metadata", "uid"});
    auto pods = active_pods();
    ASSERT_EQ(pods.size(), 3u);
    for (auto& p : pods) {
        EXPECT_EQ(str_at(p, {"metadata", "generateName"}), "front-");
        EXPECT_EQ(str_at(p, {"metadata", "labels", "extra"}), "yes");
        EXPECT_EQ(controller_uid(p), uid);
    }

    // A deleted pod is replaced.
    kubectl_ok("delete pod -n default " + str_at(pods[0], {"metadata", "name"}) + " --wait=false");
    EXPECT_TRUE(eventually([&] { return active_pods().size() == 3 && status_is(3, 3); }));

    kubectl_ok("scale rs front -n default --replicas=1");
    EXPECT_TRUE(eventually([&] { return active_pods().size() == 1 && status_is(1, 1); }))
        << json::serialize(rs());

    auto events = kubectl_ok("get events -n default --field-selector involvedObject.name=front");
    EXPECT_NE(events.find("SuccessfulCreate"), std::string::npos) << events;
    EXPECT_NE(events.find("Created pod: front-"), std::string::npos) << events;
    EXPECT_NE(events.find("SuccessfulDelete"), std::string::npos) << events;
}

TEST_F(ReplicaSetTest, ReleasesRelabelledPodsAndAdoptsOrphans) {
    create_rs(2);
    ASSERT_TRUE(eventually([&] { return status_is(2, 2); })) << json::serialize(rs());
    std::string uid = str_at(rs(), {"metadata", "uid"});
    std::string moved = str_at(active_pods()[0], {"metadata", "name"});

    // Relabelled out of the selector: released (no controller) and replaced.
    kubectl_ok("label pod -n default " + moved + " tier=elsewhere --overwrite");
    EXPECT_TRUE(eventually([&] {
        auto p = get_json("pod " + moved + " -n default");
        return p.is_object() && controller_uid(p.as_object()).empty() && active_pods().size() == 2;
    }));

    // Labelled back: adopted again, and one of the three goes.
    kubectl_ok("label pod -n default " + moved + " tier=front --overwrite");
    EXPECT_TRUE(eventually([&] {
        auto ps = active_pods();
        if (ps.size() != 2) return false;
        for (auto& p : ps)
            if (controller_uid(p) != uid) return false;
        return status_is(2, 2);
    })) << json::serialize(rs());

    // An orphan created by hand with matching labels is adopted too.
    apply(R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"stray","namespace":"default",
              "labels":{"tier":"front","extra":"yes"}},
              "spec":{"containers":[{"name":"c","image":"localhost:5000/x"}]}})");
    EXPECT_TRUE(eventually([&] {
        auto ps = active_pods();
        if (ps.size() != 2) return false;
        for (auto& p : ps)
            if (controller_uid(p) != uid) return false;
        return true;
    }));
}

}  // namespace
}  // namespace kedge::controllers::test
