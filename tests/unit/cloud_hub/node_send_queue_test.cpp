// The per-node send queue of PROTOCOL.md §3, driven by a FakeClock: ordering, coalescing by
// object UID, bounds, the resend schedule, acks and the counters metrics read.
#include "cloud/hub/node_send_queue.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <random>
#include <set>

#include "base/log.hpp"
#include "bus/constants.hpp"

namespace kedge::cloud {
namespace {

using namespace std::chrono_literals;

bus::Message object_msg(std::string_view op, std::string_view type, std::string_view name,
                        std::string_view uid, std::string_view rv, const Clock& clock,
                        bool deleting = false) {
    boost::json::object meta{
        {"name", name}, {"namespace", "default"}, {"uid", uid}, {"resourceVersion", rv}};
    if (deleting) meta["deletionTimestamp"] = "2024-01-01T00:00:00Z";
    boost::json::object obj{{"apiVersion", "v1"}, {"kind", "Pod"}, {"metadata", meta}};
    auto m = bus::Message::make("edgecontroller", "resource", std::string(op),
                                "node/edge1/default/" + std::string(type) + "/" + std::string(name),
                                bus::Content::encoded(obj), clock);
    m.header.resource_version = std::string(rv);
    return m;
}

class SendQueueTest : public ::testing::Test {
protected:
    bus::Message pod(std::string_view name, std::string_view uid, std::string_view rv,
                     std::string_view op = "update") {
        return object_msg(op, "pod", name, uid, rv, clock_);
    }
    bus::Message no_ack(std::string_view name) {
        return bus::Message::make("edgecontroller", "resource", "update",
                                  "node/edge1/default/podlist/" + std::string(name),
                                  bus::Content::from_string(name), clock_);
    }
    NodeSendQueue make(SendQueueOptions o = {}) { return NodeSendQueue("edge1", clock_, o); }
    static std::string name_of(const Outgoing& o) { return o.message.resource(); }

    FakeClock clock_;
};

TEST(AckPolicyTest, ClassifiesLikeUpstream) {
    FakeClock c;
    auto msg = [&](std::string source, std::string group, std::string op, std::string res,
                   bus::Content content = bus::Content::from_string("x")) {
        return bus::Message::make(std::move(source), std::move(group), std::move(op),
                                  std::move(res), std::move(content), c);
    };
    const auto ack = AckMode::kAck;
    const auto no = AckMode::kNoAck;
    EXPECT_EQ(ack_mode(object_msg("insert", "pod", "p", "u", "5", c)), ack);
    EXPECT_EQ(ack_mode(object_msg("delete", "configmap", "c", "u", "5", c)), ack);
    EXPECT_EQ(ack_mode(msg("edgecontroller", "resource", "update", "node/e/default/secret/s")),
              ack);
    EXPECT_EQ(ack_mode(msg("devicecontroller", "twin", "update", "node/e/default/device/d")), ack);
    // A pod that happens to be called "podlist" is still a pod.
    EXPECT_EQ(ack_mode(msg("edgecontroller", "resource", "update", "node/e/default/pod/podlist")),
              ack);
    EXPECT_EQ(ack_mode(msg("edgecontroller", "resource", "update", "node/e/null/node/e")), ack);
    // A query answered with an object is acked; an "OK" or an error is not.
    EXPECT_EQ(ack_mode(msg("edgecontroller", "resource", "response", "node/e/default/configmap/c",
                           bus::Content::from_value(boost::json::object{{"kind", "ConfigMap"}}))),
              ack);
    EXPECT_EQ(ack_mode(msg("edgecontroller", "resource", "response", "node/e/default/configmap/c",
                           bus::Content::from_string("OK"))),
              no);
    EXPECT_EQ(ack_mode(msg("edgecontroller", "resource", "error", "node/e/default/configmap/c")),
              no);

    EXPECT_EQ(ack_mode(msg("edgecontroller", "resource", "update", "node/e/default/podlist")), no);
    EXPECT_EQ(ack_mode(msg("devicecontroller", "twin", "update", "node/e/membership")), no);
    EXPECT_EQ(ack_mode(msg("devicecontroller", "twin", "get", "node/e/membership/detail")), no);
    EXPECT_EQ(ack_mode(msg("devicecontroller", "twin", "update",
                           "node/e/device/default/dev1/twin/cloud_updated")),
              no);
    EXPECT_EQ(ack_mode(msg("edgecontroller", "resource", "response",
                           "node/e/default/serviceaccounttoken/t",
                           bus::Content::from_value(boost::json::object{{"a", 1}}))),
              no);
    EXPECT_EQ(ack_mode(msg("edgecontroller", "resource", "response", "node/e/null/k8s/ca.crt")),
              no);
    EXPECT_EQ(ack_mode(msg("edgecontroller", "resource", "update",
                           "node/e/null/certificatesigningrequest/csr-1")),
              no);
    EXPECT_EQ(ack_mode(msg("router", "user", "message", "node/e/rule/x")), no);
    EXPECT_EQ(ack_mode(msg("taskmanager", "taskmanager", "upgrade", "node/e/task/x")), no);
    EXPECT_EQ(ack_mode(msg("metaserver", "dynamiccontroller", "applicationResponse", "node/e/a")),
              no);
    for (const char* type : {"lease", "nodepatch", "podpatch", "podstatus"}) {
        EXPECT_EQ(ack_mode(msg("edgecontroller", "resource", "response",
                               std::string("node/e/default/") + type + "/x",
                               bus::Content::from_value(boost::json::object{{"a", 1}}))),
                  no)
            << type;
    }
    EXPECT_EQ(ack_mode(msg("edgecontroller", "resource", "insert", "node/e/null/node/e")), no);
    EXPECT_EQ(ack_mode(msg("edgecontroller", "resource", "response", "node/e/default/pod/p",
                           bus::Content::from_value(boost::json::object{{"a", 1}}))),
              no);
    // The edge-side form (after the hub strips node/<n>/) classifies the same.
    EXPECT_EQ(ack_mode(msg("edgecontroller", "resource", "update", "default/podlist")), no);
    EXPECT_EQ(ack_mode(msg("edgecontroller", "resource", "update", "default/pod/p")), ack);
}

TEST(AckPolicyTest, ObjectFacts) {
    FakeClock c;
    auto m = object_msg("update", "pod", "p", "uid-1", "42", c);
    auto f = object_facts(m);
    EXPECT_EQ(f.uid, "uid-1");
    EXPECT_EQ(f.resource_version, 42u);
    EXPECT_FALSE(f.is_delete);

    // Without a header RV, metadata.resourceVersion is used.
    m.header.resource_version.clear();
    EXPECT_EQ(object_facts(m).resource_version, 42u);

    EXPECT_TRUE(object_facts(object_msg("delete", "pod", "p", "u", "1", c)).is_delete);
    EXPECT_TRUE(object_facts(object_msg("update", "pod", "p", "u", "1", c, true)).is_delete);

    // Anything odd leaves the facts empty rather than failing.
    auto odd = bus::Message::make("a", "b", "update", "default/pod/p",
                                  bus::Content::from_value(boost::json::array{1, 2}), c);
    EXPECT_EQ(object_facts(odd).uid, "");
    odd.content = bus::Content::from_value(boost::json::object{{"metadata", 5}});
    EXPECT_EQ(object_facts(odd).uid, "");
    odd.content = bus::Content::from_value(boost::json::object{
        {"metadata", boost::json::object{{"uid", 5}, {"resourceVersion", "x"}}}});
    EXPECT_EQ(object_facts(odd).uid, "");
    EXPECT_FALSE(object_facts(odd).resource_version);
    odd.content = bus::Content::from_string("OK");
    EXPECT_EQ(object_facts(odd).uid, "");

    EXPECT_EQ(parse_resource_version("18446744073709551615"), 18446744073709551615u);
    EXPECT_FALSE(parse_resource_version("18446744073709551616"));
    EXPECT_FALSE(parse_resource_version("-1"));
    EXPECT_FALSE(parse_resource_version("12a"));
    EXPECT_FALSE(parse_resource_version(""));
}

TEST_F(SendQueueTest, NoAckMessagesGoOutOnceInOrder) {
    auto q = make();
    for (auto n : {"a", "b", "c"}) ASSERT_EQ(q.push(no_ack(n)).value(), PushOutcome::kQueued);
    for (auto n : {"a", "b", "c"}) {
        auto o = q.pop();
        ASSERT_TRUE(o);
        EXPECT_EQ(o->mode, AckMode::kNoAck);
        EXPECT_EQ(name_of(*o), std::string("node/edge1/default/podlist/") + n);
    }
    EXPECT_FALSE(q.pop());
    EXPECT_FALSE(q.next_deadline());  // nothing will ever be resent
    clock_.advance(1h);
    EXPECT_FALSE(q.pop());
    EXPECT_EQ(q.stats().writes, 3u);
}

TEST_F(SendQueueTest, OneAckMessageInFlight) {
    auto q = make();
    q.push(pod("a", "ua", "1")).value();
    q.push(pod("b", "ub", "1")).value();
    auto a = q.pop();
    ASSERT_TRUE(a);
    EXPECT_EQ(a->mode, AckMode::kAck);
    EXPECT_EQ(a->write, 1);
    EXPECT_FALSE(q.pop()) << "b must wait for a's ack";
    EXPECT_FALSE(q.ready());
    auto st = q.stats();
    EXPECT_EQ(st.in_flight, 1u);
    EXPECT_EQ(st.pending_acks, 1u);
    EXPECT_EQ(st.depth, 1u);
    EXPECT_EQ(st.ack_depth, 1u);

    auto done = q.ack(a->message.id());
    ASSERT_TRUE(done);
    EXPECT_EQ(done->resource(), "node/edge1/default/pod/a");
    EXPECT_TRUE(q.ready());
    auto b = q.pop();
    ASSERT_TRUE(b);
    EXPECT_EQ(b->message.resource(), "node/edge1/default/pod/b");
    EXPECT_EQ(q.stats().acked, 1u);
}

TEST_F(SendQueueTest, PushOrderAcrossModesWhenNothingIsInFlight) {
    auto q = make();
    q.push(no_ack("n1")).value();
    q.push(pod("a", "ua", "1")).value();
    q.push(no_ack("n2")).value();
    q.push(pod("b", "ub", "1")).value();
    q.push(no_ack("n3")).value();
    std::vector<std::string> order;
    while (auto o = q.pop()) order.push_back(o->message.resource());
    // b waits behind a's ack, n3 overtakes it.
    EXPECT_EQ(order, (std::vector<std::string>{
                         "node/edge1/default/podlist/n1", "node/edge1/default/pod/a",
                         "node/edge1/default/podlist/n2", "node/edge1/default/podlist/n3"}));
}

TEST_F(SendQueueTest, NewerVersionReplacesQueuedOneInPlace) {
    auto q = make();
    q.push(pod("a", "ua", "5")).value();  // goes in flight first
    ASSERT_TRUE(q.pop());
    q.push(pod("b", "ub", "10")).value();
    q.push(pod("c", "uc", "10")).value();
    auto newer = pod("b", "ub", "11");
    EXPECT_EQ(q.push(newer).value(), PushOutcome::kReplaced);
    EXPECT_EQ(q.push(pod("b", "ub", "9")).value(), PushOutcome::kStale);
    EXPECT_EQ(q.push(pod("b", "ub", "11")).value(), PushOutcome::kStale) << "equal is not newer";
    auto st = q.stats();
    EXPECT_EQ(st.depth, 2u);
    EXPECT_EQ(st.replaced, 1u);
    EXPECT_EQ(st.stale, 2u);

    // Flush a; b (still ahead of c) comes out with the newest content.
    auto pending = q.take_unacked();
    ASSERT_EQ(pending.size(), 3u);
    EXPECT_EQ(pending[1].id(), newer.id());
    EXPECT_EQ(pending[1].header.resource_version, "11");
    EXPECT_EQ(pending[2].resource(), "node/edge1/default/pod/c");
}

TEST_F(SendQueueTest, ReplacedMessageKeepsItsPlaceInLine) {
    auto q = make();
    q.push(pod("b", "ub", "1")).value();
    q.push(pod("c", "uc", "1")).value();
    q.push(pod("b", "ub", "2")).value();
    auto first = q.pop();
    ASSERT_TRUE(first);
    EXPECT_EQ(first->message.resource(), "node/edge1/default/pod/b");
    EXPECT_EQ(first->message.header.resource_version, "2");
}

TEST_F(SendQueueTest, DeletesAlwaysPassAndEndTheObject) {
    auto q = make();
    q.push(pod("x", "ux", "1")).value();
    auto in_flight = q.pop();  // x@1 in flight
    ASSERT_TRUE(in_flight);
    q.push(pod("a", "ua", "20")).value();
    // A delete with an older RV than what is queued still replaces it.
    EXPECT_EQ(q.push(pod("a", "ua", "3", "delete")).value(), PushOutcome::kReplaced);
    // After the delete nothing else about the object gets in, not even a newer version.
    EXPECT_EQ(q.push(pod("a", "ua", "30")).value(), PushOutcome::kStale);
    EXPECT_EQ(q.push(pod("a", "ua", "31", "delete")).value(), PushOutcome::kStale);
    // A deletionTimestamp counts as a delete too.
    q.push(pod("d", "ud", "1")).value();
    EXPECT_EQ(q.push(object_msg("update", "pod", "d", "ud", "2", clock_, true)).value(),
              PushOutcome::kReplaced);
    EXPECT_EQ(q.push(pod("d", "ud", "3")).value(), PushOutcome::kStale);

    ASSERT_TRUE(q.ack(in_flight->message.id()));
    auto a = q.pop();
    ASSERT_TRUE(a);
    EXPECT_EQ(a->message.operation(), "delete");
}

TEST_F(SendQueueTest, NewerVersionSupersedesTheMessageInFlight) {
    auto q = make();
    q.push(pod("a", "ua", "1")).value();
    q.push(pod("b", "ub", "1")).value();
    auto old = q.pop();
    ASSERT_TRUE(old);
    auto newer = pod("a", "ua", "2");
    EXPECT_EQ(q.push(newer).value(), PushOutcome::kReplaced);
    // The new version goes at once, ahead of b, and the obsolete one is never resent.
    auto next = q.pop();
    ASSERT_TRUE(next);
    EXPECT_EQ(next->message.id(), newer.id());
    EXPECT_EQ(next->write, 1);
    EXPECT_FALSE(q.ack(old->message.id())) << "the old version's ack completes nothing";
    EXPECT_EQ(q.stats().unknown_acks, 1u);
    EXPECT_EQ(q.stats().in_flight, 1u);
    ASSERT_TRUE(q.ack(newer.id()));
    auto b = q.pop();
    ASSERT_TRUE(b);
    EXPECT_EQ(b->message.resource(), "node/edge1/default/pod/b");
    EXPECT_EQ(q.push(pod("a", "ua", "1")).value(), PushOutcome::kQueued)
        << "an acked object is forgotten: recording acked versions is the sync layer's job";
}

TEST_F(SendQueueTest, ResponsesAndUidlessMessagesNeverCoalesce) {
    auto q = make();
    // Query answers carrying the same object (a configmap the edge asked for twice).
    auto r1 = object_msg("response", "configmap", "c", "uc", "5", clock_);
    auto r2 = object_msg("response", "configmap", "c", "uc", "5", clock_);
    EXPECT_EQ(q.push(r1).value(), PushOutcome::kQueued);
    EXPECT_EQ(q.push(r2).value(), PushOutcome::kQueued);
    // ACK-mode messages without an object UID.
    auto plain = [&] {
        return bus::Message::make(
            "edgecontroller", "resource", "update", "node/edge1/default/configmap/c",
            bus::Content::from_value(boost::json::object{{"data", 1}}), clock_);
    };
    EXPECT_EQ(q.push(plain()).value(), PushOutcome::kQueued);
    EXPECT_EQ(q.push(plain()).value(), PushOutcome::kQueued);
    EXPECT_EQ(q.stats().depth, 4u);
    std::set<std::string> ids;
    for (int i = 0; i < 4; ++i) {
        auto o = q.pop();
        ASSERT_TRUE(o) << i;
        ids.insert(o->message.id());
        ASSERT_TRUE(q.ack(o->message.id()));
    }
    EXPECT_EQ(ids.size(), 4u);
}

TEST_F(SendQueueTest, BoundedWithAClearError) {
    SendQueueOptions o;
    o.capacity = 3;
    auto q = make(o);
    q.push(pod("a", "ua", "1")).value();
    q.push(pod("b", "ub", "1")).value();
    q.push(no_ack("n")).value();
    auto full = q.push(pod("c", "uc", "1"));
    ASSERT_FALSE(full);
    EXPECT_TRUE(full.error().is(errc::queue_full));
    EXPECT_NE(full.error().detail.find("node edge1"), std::string::npos) << full.error().detail;
    EXPECT_NE(full.error().detail.find("capacity 3"), std::string::npos) << full.error().detail;
    EXPECT_NE(full.error().detail.find("default/pod/c"), std::string::npos) << full.error().detail;
    EXPECT_TRUE(q.push(no_ack("m")).error().is(errc::queue_full));
    // Coalescing never needs room: a newer version still replaces, an older one is still stale.
    EXPECT_EQ(q.push(pod("b", "ub", "2")).value(), PushOutcome::kReplaced);
    EXPECT_EQ(q.push(pod("b", "ub", "1")).value(), PushOutcome::kStale);
    EXPECT_EQ(q.stats().rejected_full, 2u);
    EXPECT_EQ(q.stats().depth, 3u);
    // The message in flight does not count against the bound.
    auto a = q.pop();
    ASSERT_TRUE(a);
    EXPECT_EQ(q.push(pod("c", "uc", "1")).value(), PushOutcome::kQueued);
    EXPECT_TRUE(q.push(pod("d", "ud", "1")).error().is(errc::queue_full));
}

TEST_F(SendQueueTest, ResendEveryFiveSecondsFiveWritesThenBackOff) {
    auto q = make();
    q.push(pod("a", "ua", "1")).value();
    auto first = q.pop();
    ASSERT_TRUE(first);
    const auto t0 = clock_.steady_now();
    EXPECT_EQ(q.next_deadline(), t0 + 5s);
    for (int write = 2; write <= 5; ++write) {
        clock_.advance(4999ms);
        EXPECT_FALSE(q.pop()) << "write " << write << " came early";
        clock_.advance(1ms);
        EXPECT_TRUE(q.ready());
        auto again = q.pop();
        ASSERT_TRUE(again) << write;
        EXPECT_EQ(again->write, write);
        // Same msg_id, same timestamp, same bytes.
        EXPECT_EQ(again->message.header, first->message.header);
        EXPECT_EQ(again->message.content.raw(), first->message.content.raw());
    }
    EXPECT_EQ(q.stats().resends, 4u);
    // Five seconds after the fifth write it is given up for now and backs off 5 s.
    clock_.advance(5s);
    EXPECT_FALSE(q.pop());
    auto st = q.stats();
    EXPECT_EQ(st.requeued, 1u);
    EXPECT_EQ(st.backing_off, 1u);
    EXPECT_EQ(st.in_flight, 0u);
    EXPECT_EQ(st.pending_acks, 1u);
    EXPECT_EQ(q.next_deadline(), clock_.steady_now() + 5s);
    clock_.advance(5s);
    auto retry = q.pop();
    ASSERT_TRUE(retry);
    EXPECT_EQ(retry->write, 1);
    EXPECT_EQ(retry->message.id(), first->message.id());
    // The second give-up doubles the back-off.
    for (int write = 2; write <= 5; ++write) {
        clock_.advance(5s);
        ASSERT_TRUE(q.pop());
    }
    clock_.advance(5s);
    EXPECT_FALSE(q.pop());
    EXPECT_EQ(q.next_deadline(), clock_.steady_now() + 10s);
    clock_.advance(9s);
    EXPECT_FALSE(q.pop());
    clock_.advance(1s);
    EXPECT_TRUE(q.pop());
}

TEST_F(SendQueueTest, BackOffIsCapped) {
    SendQueueOptions o;
    o.requeue_backoff_initial = 5s;
    o.requeue_backoff_max = 12s;
    o.max_writes = 1;
    auto q = make(o);
    q.push(pod("a", "ua", "1")).value();
    std::vector<std::chrono::steady_clock::duration> delays;
    for (int i = 0; i < 4; ++i) {
        ASSERT_TRUE(q.pop());
        clock_.advance(5s);  // resend interval with max_writes 1: give up
        EXPECT_FALSE(q.pop());
        auto d = q.next_deadline();
        ASSERT_TRUE(d);
        delays.push_back(*d - clock_.steady_now());
        clock_.advance(*d - clock_.steady_now());
    }
    EXPECT_EQ(delays, (std::vector<std::chrono::steady_clock::duration>{5s, 10s, 12s, 12s}));
}

TEST_F(SendQueueTest, GiveUpFreesTheSlotForTheNextObject) {
    auto q = make();
    q.push(pod("a", "ua", "1")).value();
    q.push(pod("b", "ub", "1")).value();
    ASSERT_TRUE(q.pop());
    for (int i = 0; i < 4; ++i) {
        clock_.advance(5s);
        ASSERT_TRUE(q.pop());
    }
    clock_.advance(5s);
    auto b = q.pop();
    ASSERT_TRUE(b);
    EXPECT_EQ(b->message.resource(), "node/edge1/default/pod/b");
    EXPECT_EQ(q.stats().pending_acks, 2u);
}

TEST_F(SendQueueTest, LateAckDuringBackOffCompletesTheMessage) {
    auto q = make();
    q.push(pod("a", "ua", "1")).value();
    auto a = q.pop();
    ASSERT_TRUE(a);
    for (int i = 0; i < 5; ++i) {
        clock_.advance(5s);
        q.pop();
    }
    ASSERT_EQ(q.stats().backing_off, 1u);
    auto done = q.on_upstream(bus::make_response(a->message, bus::Content::from_string("OK")));
    ASSERT_TRUE(done);
    auto st = q.stats();
    EXPECT_EQ(st.backing_off, 0u);
    EXPECT_EQ(st.pending_acks, 0u);
    EXPECT_EQ(st.depth, 0u);
    clock_.advance(1h);
    EXPECT_FALSE(q.pop());
    EXPECT_FALSE(q.next_deadline());
}

TEST_F(SendQueueTest, LateAckAfterBackOffExpiredCompletesTheQueuedMessage) {
    SendQueueOptions o;
    o.max_writes = 1;
    auto q = make(o);
    q.push(pod("a", "ua", "1")).value();
    q.push(pod("b", "ub", "1")).value();
    auto a = q.pop();
    ASSERT_TRUE(a);
    clock_.advance(5s);
    auto b = q.pop();  // a given up, b goes
    ASSERT_TRUE(b);
    EXPECT_EQ(b->message.resource(), "node/edge1/default/pod/b");
    clock_.advance(1s);  // inside b's resend interval
    EXPECT_FALSE(q.pop());
    // a's back-off ends while b is in flight: a waits in line; then its ack arrives.
    clock_.advance(4s);
    ASSERT_TRUE(q.ack(a->message.id()));
    ASSERT_TRUE(q.ack(b->message.id()));
    EXPECT_FALSE(q.pop());
    EXPECT_EQ(q.stats().depth, 0u);
}

TEST_F(SendQueueTest, NewerVersionOfABackingOffObjectGoesWithoutWaiting) {
    SendQueueOptions o;
    o.max_writes = 1;
    o.requeue_backoff_initial = 1min;
    auto q = make(o);
    q.push(pod("a", "ua", "1")).value();
    auto old = q.pop();
    clock_.advance(5s);
    EXPECT_FALSE(q.pop());
    EXPECT_EQ(q.push(pod("a", "ua", "2")).value(), PushOutcome::kReplaced);
    auto next = q.pop();
    ASSERT_TRUE(next);
    EXPECT_EQ(next->message.header.resource_version, "2");
    EXPECT_FALSE(q.ack(old->message.id()));
    EXPECT_EQ(q.stats().backing_off, 0u);
}

TEST_F(SendQueueTest, OnlyResponsesAreAcks) {
    auto q = make();
    q.push(pod("a", "ua", "1")).value();
    auto a = q.pop();
    ASSERT_TRUE(a);
    auto keepalive = bus::Message::make("websocket", "resource", "keepalive", "node",
                                        bus::Content::from_string("ping"), clock_);
    keepalive.header.parent_msg_id = a->message.id();
    EXPECT_FALSE(q.on_upstream(keepalive));
    auto no_parent = bus::Message::make("edged", "resource", "response", "default/pod/a",
                                        bus::Content::from_string("OK"), clock_);
    EXPECT_FALSE(q.on_upstream(no_parent));
    EXPECT_EQ(q.stats().in_flight, 1u);
    EXPECT_FALSE(q.ack("not-a-known-id"));
    EXPECT_EQ(q.stats().unknown_acks, 1u);
    EXPECT_TRUE(q.on_upstream(bus::make_response(a->message, bus::Content::from_string("OK"))));
}

TEST_F(SendQueueTest, TakeUnackedHandsOverInOrder) {
    SendQueueOptions o;
    o.max_writes = 1;
    o.requeue_backoff_initial = 1min;
    auto q = make(o);
    q.push(pod("a", "ua", "1")).value();
    ASSERT_TRUE(q.pop());
    clock_.advance(5s);
    q.push(pod("b", "ub", "1")).value();
    q.push(pod("c", "uc", "1")).value();
    q.push(no_ack("n")).value();
    ASSERT_TRUE(q.pop());  // a given up; n was pushed after b, so b goes first
    std::size_t dropped = 0;
    auto rest = q.take_unacked(&dropped);
    std::vector<std::string> names;
    for (auto& m : rest) names.push_back(m.resource());
    EXPECT_EQ(names,
              (std::vector<std::string>{"node/edge1/default/pod/b", "node/edge1/default/pod/c",
                                        "node/edge1/default/pod/a"}));
    EXPECT_EQ(dropped, 1u);
    auto st = q.stats();
    EXPECT_EQ(st.depth, 0u);
    EXPECT_EQ(st.pending_acks, 0u);
    EXPECT_FALSE(q.pop());
}

// Random pushes, pops, acks and clock steps against the invariants a session relies on.
TEST_F(SendQueueTest, RandomOperationsKeepTheInvariants) {
    SendQueueOptions o;
    o.capacity = 8;
    auto q = make(o);
    // Give-ups are logged at info; thousands of them would drown the test output.
    auto logger = log::get("cloudhub");
    const auto old_level = logger->level();
    logger->set_level(spdlog::level::warn);
    std::mt19937 rng(12345);
    std::map<std::string, std::uint64_t> newest_rv;  // per uid, the newest version pushed
    std::map<std::string, std::uint64_t> acked_rv;
    std::vector<std::string> outstanding;
    std::uint64_t rv = 0;
    for (int step = 0; step < 20000; ++step) {
        switch (rng() % 5) {
            case 0:
            case 1: {
                std::string uid = "u" + std::to_string(rng() % 12);
                auto r = q.push(pod(uid, uid, std::to_string(++rv)));
                if (!r) {
                    ASSERT_TRUE(r.error().is(errc::queue_full));
                } else if (*r != PushOutcome::kStale) {
                    newest_rv[uid] = rv;
                }
                break;
            }
            case 2:
                if (auto out = q.pop()) {
                    if (out->mode == AckMode::kAck) outstanding.push_back(out->message.id());
                }
                break;
            case 3:
                if (!outstanding.empty() && rng() % 3 != 0) {
                    auto done = q.ack(outstanding[rng() % outstanding.size()]);
                    if (done) {
                        auto f = object_facts(*done);
                        ASSERT_GT(*f.resource_version, acked_rv[f.uid]);
                        acked_rv[f.uid] = *f.resource_version;
                    }
                }
                break;
            case 4:
                clock_.advance(std::chrono::milliseconds(rng() % 7000));
                break;
        }
        auto st = q.stats();
        ASSERT_LE(st.in_flight, 1u);
        ASSERT_LE(st.depth, o.capacity + 1);  // +1: a superseded in-flight message
        ASSERT_EQ(st.depth, st.no_ack_depth + st.ack_depth + st.backing_off);
        if (!q.ready()) {
            auto d = q.next_deadline();
            if (st.in_flight || st.backing_off) {
                ASSERT_TRUE(d);
                ASSERT_GT(*d, clock_.steady_now());
            }
        }
    }
    // Drain with acks for everything: each object ends acked at the newest version accepted.
    for (int i = 0; i < 10000 && q.stats().depth + q.stats().in_flight > 0; ++i) {
        clock_.advance(10min);
        while (auto out = q.pop()) {
            auto done = q.ack(out->message.id());
            ASSERT_TRUE(done);
            auto f = object_facts(*done);
            acked_rv[f.uid] = *f.resource_version;
        }
    }
    for (const auto& [uid, v] : newest_rv) EXPECT_EQ(acked_rv[uid], v) << uid;
    EXPECT_EQ(q.stats().depth, 0u);
    logger->set_level(old_level);
}

}  // namespace
}  // namespace kedge::cloud
