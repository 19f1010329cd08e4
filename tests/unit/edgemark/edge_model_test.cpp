// A simulated edge's protocol behaviour without a network: what it stores, acks, patches and
// measures for each downstream message, and the inventory it resyncs with.
#include "edgemark/edge_model.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "bus/codec.hpp"
#include "kube/time.hpp"

namespace kedge::edgemark {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;

bus::Message pod_message(std::string op, std::string name, std::string rv,
                         std::optional<std::string> created_at = std::nullopt) {
    json::object meta{{"name", name},
                      {"namespace", "default"},
                      {"uid", "uid-" + name},
                      {"resourceVersion", rv},
                      {"creationTimestamp", "2023-11-14T22:13:20Z"}};
    if (created_at) meta["annotations"] = json::object{{kCreatedAtAnnotation, *created_at}};
    json::object pod{{"apiVersion", "v1"}, {"kind", "Pod"}, {"metadata", meta}};
    return bus::Message::make("edgecontroller", "resource", std::move(op), "default/pod/" + name,
                              bus::Content::from_value(pod))
        .with_resource_version(rv);
}

class EdgeModelTest : public ::testing::Test {
protected:
    FakeClock clock_;
    FleetStats stats_;
    EdgeModel model_{"edge1", stats_, clock_};
};

TEST_F(EdgeModelTest, NewPodIsStoredPatchedRunningAndAcked) {
    auto created = clock_.now();
    clock_.advance(1500us);
    auto msg = pod_message("insert", "nginx", "42", kube::format_micro_time(created));
    auto out = model_.handle(msg, 300);

    ASSERT_EQ(out.size(), 2u);
    const auto& patch = out[0];
    EXPECT_EQ(patch.route.resource, "default/podpatch/nginx");
    EXPECT_EQ(patch.route.operation, "patch");
    EXPECT_EQ(patch.route.source, "edged");
    ASSERT_TRUE(patch.content.is_string());  // upstream edged sends the patch as a JSON string
    auto body = json::parse(patch.content.as_string().value());
    EXPECT_EQ(body.at("status").at("phase"), "Running");
    EXPECT_EQ(body.at("metadata").at("uid"), "uid-nginx");
    bool ready = false;
    for (const auto& c : body.at("status").at("conditions").as_array())
        if (c.at("type") == "Ready" && c.at("status") == "True") ready = true;
    EXPECT_TRUE(ready);

    const auto& ack = out[1];
    EXPECT_EQ(ack.route.operation, "response");
    EXPECT_EQ(ack.header.parent_msg_id, msg.header.msg_id);
    EXPECT_TRUE(ack.content.string_equals("OK"));
    EXPECT_EQ(ack.route.resource, "default/pod/nginx");

    EXPECT_EQ(model_.inventory().resources.at("pod").at("default/nginx"), "42");
    auto lat = stats_.pod_latency.summary();
    ASSERT_EQ(lat.count, 1u);
    EXPECT_DOUBLE_EQ(lat.max_us, 1500);
    auto snap = stats_.snapshot();
    EXPECT_EQ(snap.pods_seen, 1u);
    EXPECT_EQ(snap.acks_sent, 1u);
    EXPECT_EQ(snap.messages_in[static_cast<std::size_t>(OpKind::kInsert)], 1u);
    EXPECT_EQ(snap.bytes_in, 300u);
}

TEST_F(EdgeModelTest, LatencyFallsBackToCreationTimestamp) {
    clock_.set_wall(*kube::parse_time("2023-11-14T22:13:22Z"));
    model_.handle(pod_message("update", "a", "1"), 10);
    EXPECT_DOUBLE_EQ(stats_.pod_latency.summary().p50_us, 2'000'000);
}

TEST_F(EdgeModelTest, UpdateOfAKnownPodIsAckedButNotPatchedAgain) {
    model_.handle(pod_message("insert", "nginx", "42"), 10);
    auto out = model_.handle(pod_message("update", "nginx", "43"), 10);
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0].route.operation, "response");
    EXPECT_EQ(model_.inventory().resources.at("pod").at("default/nginx"), "43");
    EXPECT_EQ(stats_.snapshot().pod_patches_sent, 1u);
}

TEST_F(EdgeModelTest, DeleteRemovesFromInventoryAndIsAcked) {
    model_.handle(pod_message("insert", "a", "1"), 10);
    model_.handle(pod_message("insert", "b", "2"), 10);
    auto out = model_.handle(pod_message("delete", "a", "3"), 10);
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0].route.operation, "response");
    EXPECT_EQ(model_.inventory().resources.at("pod").count("default/a"), 0u);
    EXPECT_EQ(model_.inventory().size(), 1u);
}

TEST_F(EdgeModelTest, ClusterScopedObjectsAreKeyedByName) {
    json::object node{{"kind", "Node"},
                      {"metadata", json::object{{"name", "edge1"}, {"resourceVersion", "7"}}}};
    // No header resourceversion: the object's metadata is used.
    auto msg = bus::Message::make("edgecontroller", "resource", "update", "null/node/edge1",
                                  bus::Content::from_value(node));
    auto out = model_.handle(msg, 10);
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(model_.inventory().resources.at("node").at("edge1"), "7");
}

TEST_F(EdgeModelTest, InventoryMessageCarriesWhatIsStored) {
    model_.handle(pod_message("insert", "a", "5"), 10);
    auto inv = model_.session_opened();
    EXPECT_TRUE(hub::is_inventory_message(inv));
    EXPECT_EQ(inv.route.resource, "null/inventory/edge1");
    auto parsed = hub::parse_inventory(inv);
    ASSERT_TRUE(parsed) << parsed.error().message();
    EXPECT_EQ(parsed->resources.at("pod").at("default/a"), "5");
    // It survives the wire.
    auto decoded = bus::decode(bus::encode(inv));
    ASSERT_TRUE(decoded);
    EXPECT_EQ(hub::parse_inventory(*decoded)->resources, parsed->resources);
}

TEST_F(EdgeModelTest, ResyncResponseMakesTheNodeLevelOnlyForTheCurrentInventory) {
    auto stale = model_.session_opened();
    model_.session_closed();
    auto inv = model_.session_opened();
    model_.handle(hub::make_resync_response(stale, {1, 0, 0, 0}), 10);
    EXPECT_FALSE(model_.level());

    clock_.advance(3ms);
    auto response = hub::make_resync_response(inv, {2, 1, 1, 5});
    auto out = model_.handle(response, 10);
    // The summary is an object-carrying answer, ACK-mode for the cloud: it is acked.
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0].route.operation, "response");
    EXPECT_EQ(out[0].header.parent_msg_id, response.header.msg_id);
    EXPECT_TRUE(model_.level());
    EXPECT_EQ(*model_.last_resync(), (hub::ResyncSummary{2, 1, 1, 5}));
    auto s = stats_.snapshot();
    EXPECT_EQ(s.level, 1u);
    EXPECT_EQ(s.resyncs, 1u);
    EXPECT_EQ(s.resync_inserted, 2u);
    EXPECT_EQ(s.resync_unchanged, 5u);
    EXPECT_DOUBLE_EQ(stats_.resync_latency.summary().p50_us, 3000);

    model_.session_closed();
    EXPECT_FALSE(model_.level());
    EXPECT_EQ(stats_.snapshot().level, 0u);
}

TEST_F(EdgeModelTest, UnusableResourceIsNotAckedAndCounted) {
    auto msg = bus::Message::make("edgecontroller", "resource", "insert", "garbage",
                                  bus::Content::from_string("x"));
    EXPECT_TRUE(model_.handle(msg, 10).empty());
    EXPECT_EQ(stats_.snapshot().malformed, 1u);
    EXPECT_EQ(model_.inventory().size(), 0u);
}

TEST_F(EdgeModelTest, AnswersToPatchesAndOkResponsesAreNotAcked) {
    auto req = bus::Message::make("edged", "resource", "patch", "default/podpatch/a");
    auto resp = bus::make_response(req, bus::Content::from_string("OK"));
    EXPECT_TRUE(model_.handle(resp, 10).empty());
    auto patched = bus::make_response(
        req, bus::Content::from_value(json::object{{"Object", json::object{}}, {"Err", nullptr}}));
    EXPECT_TRUE(model_.handle(patched, 10).empty());
    EXPECT_EQ(stats_.snapshot().messages_in[static_cast<std::size_t>(OpKind::kResponse)], 2u);
    EXPECT_EQ(stats_.snapshot().acks_sent, 0u);
}

TEST_F(EdgeModelTest, QueryAnswersWithObjectsAreAcked) {
    auto req = bus::Message::make("metamanager", "resource", "query", "default/configmap/c");
    auto resp = bus::make_response(req, bus::Content::from_value(json::object{{"kind", "x"}}));
    auto out = model_.handle(resp, 10);
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0].header.parent_msg_id, resp.header.msg_id);
}

TEST_F(EdgeModelTest, ResponseCountsAreByOperation) {
    auto req = bus::Message::make("edged", "resource", "patch", "default/podpatch/a");
    auto resp = bus::make_response(req, bus::Content::from_string("OK"));
    EXPECT_TRUE(model_.handle(resp, 10).empty());
    EXPECT_EQ(stats_.snapshot().messages_in[static_cast<std::size_t>(OpKind::kResponse)], 1u);
}

TEST_F(EdgeModelTest, KeepaliveIsExactlyWhatEdgehubSends) {
    auto k = model_.keepalive();
    EXPECT_EQ(k.route.source, "websocket");
    EXPECT_EQ(k.route.group, "resource");
    EXPECT_EQ(k.route.operation, "keepalive");
    EXPECT_EQ(k.route.resource, "node");
    EXPECT_TRUE(k.content.string_equals("ping"));
}

TEST(LatencyRecorderTest, NearestRankPercentiles) {
    LatencyRecorder r;
    for (int i = 1; i <= 100; ++i) r.record(std::chrono::microseconds(i * 1000));
    auto s = r.summary();
    EXPECT_EQ(s.count, 100u);
    EXPECT_DOUBLE_EQ(s.p50_us, 50'000);
    EXPECT_DOUBLE_EQ(s.p90_us, 90'000);
    EXPECT_DOUBLE_EQ(s.p99_us, 99'000);
    EXPECT_DOUBLE_EQ(s.max_us, 100'000);
    EXPECT_EQ(LatencyRecorder{}.summary().count, 0u);
}

TEST(LatencyRecorderTest, KeepsAtMostMaxSamples) {
    LatencyRecorder r(3);
    for (int i = 0; i < 10; ++i) r.record(std::chrono::microseconds(i));
    EXPECT_EQ(r.summary().count, 3u);
}

}  // namespace
}  // namespace kedge::edgemark
