// Server-side printing (the Table kubectl get asks for).

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "apiserver/table.hpp"

namespace kedge::apiserver {
namespace {
namespace json = boost::json;
using std::chrono::seconds;

TEST(Table, HumanDurationMatchesKube) {
    EXPECT_EQ(human_duration(seconds(-5)), "<invalid>");
    EXPECT_EQ(human_duration(seconds(5)), "5s");
    EXPECT_EQ(human_duration(seconds(119)), "119s");
    EXPECT_EQ(human_duration(seconds(200)), "3m20s");
    EXPECT_EQ(human_duration(seconds(600)), "10m");
    EXPECT_EQ(human_duration(seconds(3 * 3600 + 60)), "3h1m");
    EXPECT_EQ(human_duration(seconds(20 * 3600)), "20h");
    EXPECT_EQ(human_duration(seconds(3 * 86400 + 7200)), "3d2h");
    EXPECT_EQ(human_duration(seconds(100 * 86400)), "100d");
}

TEST(Table, AcceptAndPodRow) {
    EXPECT_TRUE(wants_table(
        "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;"
        "g=meta.k8s.io,application/json"));
    EXPECT_FALSE(wants_table("application/json"));
    ResourceType pods = *ResourceTypes::with_builtins()->find("", "v1", "pods");
    auto pod = json::parse(R"({"metadata":{"name":"p","namespace":"ns","creationTimestamp":
        "2024-01-01T00:00:00Z","resourceVersion":"7"},
        "spec":{"nodeName":"n1","containers":[{"name":"a"},{"name":"b"}]},
        "status":{"phase":"Running","podIP":"10.0.0.1","containerStatuses":[
          {"ready":true,"restartCount":2},{"ready":false,"restartCount":1}]}})")
                   .as_object();
    auto now = Clock::time_point(std::chrono::system_clock::from_time_t(1704067200 + 90));
    auto t = table_of_object(pods, pod, IncludeObject::kMetadata, now);
    EXPECT_EQ(t.at("kind"), "Table");
    EXPECT_EQ(t.at("columnDefinitions").as_array().size(), 7u);
    auto cells = t.at("rows").at(0).at("cells");
    EXPECT_EQ(cells, json::parse(R"(["p","1/2","Running","3","90s","10.0.0.1","n1"])"));
    EXPECT_EQ(t.at("rows").at(0).at("object").at("kind"), "PartialObjectMetadata");
    EXPECT_EQ(t.at("rows").at(0).at("object").at("metadata").at("namespace"), "ns");
}

TEST(Table, NodeRowShowsRolesFromLabels) {
    ResourceType nodes = *ResourceTypes::with_builtins()->find("", "v1", "nodes");
    auto node = json::parse(R"({"metadata":{"name":"edge-1","creationTimestamp":
        "2024-01-01T00:00:00Z","labels":{"node-role.kubernetes.io/edge":"",
        "node-role.kubernetes.io/agent":"","kubernetes.io/hostname":"edge-1"}},
        "status":{"conditions":[{"type":"Ready","status":"True"}],
                  "nodeInfo":{"kubeletVersion":"v1.30.0-kubeedge-v0.1.0"}}})")
                    .as_object();
    auto now = Clock::time_point(std::chrono::system_clock::from_time_t(1704067200 + 90));
    auto cells = table_of_object(nodes, node, IncludeObject::kMetadata, now)
                     .at("rows").at(0).at("cells");
    EXPECT_EQ(cells, json::parse(R"(["edge-1","Ready","agent,edge","90s","v1.30.0-kubeedge-v0.1.0"])"));
    node["metadata"].as_object()["labels"] = json::object{};
    cells = table_of_object(nodes, node, IncludeObject::kMetadata, now).at("rows").at(0).at("cells");
    EXPECT_EQ(cells.at(2), "<none>");
}

}  // namespace
}  // namespace kedge::apiserver
