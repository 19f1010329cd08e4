#include "controllers/daemonset/revision_logic.hpp"

#include <gtest/gtest.h>
#include <boost/json/parse.hpp>

#include "controllers/daemonset/daemonset_logic.hpp"
#include "kube/object.hpp"

namespace kedge::controllers::daemonset {
namespace {

namespace json = boost::json;

json::object ds_with_image(std::string image) {
    auto ds = json::parse(R"({"apiVersion":"apps/v1","kind":"DaemonSet",
        "metadata":{"name":"agent","namespace":"default","uid":"u1"},
        "spec":{"template":{"metadata":{"labels":{"app":"agent"}},
                            "spec":{"containers":[{"name":"a","image":"x"}]}}}})")
                  .as_object();
    ds["spec"]
        .as_object()["template"]
        .as_object()["spec"]
        .as_object()["containers"]
        .as_array()[0]
        .as_object()["image"] = image;
    return ds;
}

TEST(Revisions, CanonicalJsonSortsKeys) {
    EXPECT_EQ(kube::canonical_json(json::parse(R"({"b":1,"a":{"d":[{"y":1,"x":2}],"c":"s"}})")),
              R"({"a":{"c":"s","d":[{"x":2,"y":1}]},"b":1})");
}

TEST(Revisions, HashIsStableOrderIndependentAndSafe) {
    auto a = json::parse(R"({"metadata":{"labels":{"app":"x"}},"spec":{"containers":[]}})");
    auto b = json::parse(R"({"spec":{"containers":[]},"metadata":{"labels":{"app":"x"}}})");
    auto h = template_hash(a, std::nullopt);
    EXPECT_EQ(h, template_hash(b, std::nullopt));
    EXPECT_NE(h, template_hash(a, 1));
    EXPECT_NE(h, template_hash(json::parse(R"({"spec":{}})"), std::nullopt));
    EXPECT_FALSE(h.empty());
    EXPECT_LE(h.size(), 10u);
    for (char c : h)
        EXPECT_NE(std::string_view("bcdfghjklmnpqrstvwxz2456789").find(c), std::string_view::npos);
}

TEST(Revisions, NewRevisionSnapshotsTheTemplate) {
    auto ds = ds_with_image("agent:1");
    auto rev = new_revision(ds, "abc", 4);
    EXPECT_EQ(kube::name(rev), "agent-abc");
    EXPECT_EQ(kube::namespace_of(rev), "default");
    EXPECT_EQ(kube::label(rev, kRevisionHashLabel), "abc");
    EXPECT_EQ(kube::label(rev, "app"), "agent");
    EXPECT_EQ(revision_number(rev), 4);
    EXPECT_EQ(kube::get_path_string(rev, "data.spec.template.$patch"), "replace");
    EXPECT_EQ(kube::controller_of(rev)->uid, "u1");
    EXPECT_EQ(json::value(revision_template(rev)), *kube::get_path(ds, "spec.template"));
}

TEST(Revisions, MatchingRevisionIsFoundForARollback) {
    auto v1 = ds_with_image("agent:1");
    auto v2 = ds_with_image("agent:2");
    auto r1 = new_revision(v1, "h1", 1);
    auto r2 = new_revision(v2, "h2", 2);
    std::vector<const json::object*> revs{&r1, &r2};
    EXPECT_EQ(find_matching_revision(revs, v1), &r1);
    EXPECT_EQ(find_matching_revision(revs, v2), &r2);
    EXPECT_EQ(find_matching_revision(revs, ds_with_image("agent:3")), nullptr);
}

TEST(Revisions, PruneKeepsLimitCurrentAndLiveOnes) {
    std::vector<json::object> store;
    for (int i = 1; i <= 6; ++i)
        store.push_back(
            new_revision(ds_with_image("agent:" + std::to_string(i)), "h" + std::to_string(i), i));
    std::vector<const json::object*> revs;
    for (auto& r : store) revs.push_back(&r);
    // Current is h6; a pod still runs h1; keep 2 old ones.
    auto pruned = revisions_to_prune(revs, "agent-h6", {"h1"}, 2);
    EXPECT_EQ(pruned, (std::vector<std::string>{"agent-h2", "agent-h3"}));
    EXPECT_TRUE(revisions_to_prune(revs, "agent-h6", {}, 10).empty());
    EXPECT_EQ(revisions_to_prune(revs, "agent-h6", {}, 0).size(), 5u);
}

}  // namespace
}  // namespace kedge::controllers::daemonset
