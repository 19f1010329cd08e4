#include "edge/metastore/meta_store.hpp"

#include <gtest/gtest.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <fstream>
#include <map>
#include <random>
#include <thread>

#include "support/test_support.hpp"

namespace kedge::edge {
namespace {

using kedge::test::TempDir;

std::string pod_json(std::string_view ns, std::string_view name, std::uint64_t rv,
                     std::string_view extra = "") {
    return R"({"apiVersion":"v1","kind":"Pod","metadata":{"namespace":")" + std::string(ns) +
           R"(","name":")" + std::string(name) + R"(","resourceVersion":")" + std::to_string(rv) +
           R"("},"spec":{"nodeName":"edge1")" + std::string(extra) + "}}";
}

MetaWrite put(std::string ns, std::string type, std::string name, std::string json) {
    return MetaWrite{MetaWrite::Op::put, MetaKey{std::move(ns), std::move(type), std::move(name)},
                     std::move(json)};
}

MetaWrite put_pod(std::string ns, std::string name, std::uint64_t rv, std::string_view extra = "") {
    auto json = pod_json(ns, name, rv, extra);
    return put(std::move(ns), "pod", std::move(name), std::move(json));
}

MetaWrite remove_obj(std::string ns, std::string type, std::string name, std::string json = {}) {
    return MetaWrite{MetaWrite::Op::remove,
                     MetaKey{std::move(ns), std::move(type), std::move(name)}, std::move(json)};
}

std::shared_ptr<MetaStore> open_store(const std::string& file, std::size_t capacity = 4096) {
    MetaStoreOptions opts;
    opts.change_log_capacity = capacity;
    auto s = MetaStore::open(file, opts);
    EXPECT_TRUE(s) << (s ? "" : s.error().message());
    return s ? *s : nullptr;
}

std::vector<MetaChange> apply(MetaStore& s, std::vector<MetaWrite> writes) {
    auto r = s.apply(writes);
    EXPECT_TRUE(r) << (r ? "" : r.error().message());
    return r ? *r : std::vector<MetaChange>{};
}

// Reads the file the way upstream (or a human with sqlite3) does: plain SQL on a new connection.
class RawDb {
public:
    explicit RawDb(const std::string& file) {
        EXPECT_EQ(sqlite3_open_v2(file.c_str(), &db_, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
    }
    ~RawDb() { sqlite3_close(db_); }
    // Every row, columns joined with '|'.
    std::vector<std::string> rows(const std::string& sql) {
        std::vector<std::string> out;
        sqlite3_stmt* st = nullptr;
        EXPECT_EQ(sqlite3_prepare_v2(db_, sql.c_str(), -1, &st, nullptr), SQLITE_OK)
            << sqlite3_errmsg(db_);
        while (st && sqlite3_step(st) == SQLITE_ROW) {
            std::string row;
            for (int i = 0; i < sqlite3_column_count(st); ++i) {
                if (i) row += "|";
                auto* t = sqlite3_column_text(st, i);
                row += t ? reinterpret_cast<const char*>(t) : "NULL";
            }
            out.push_back(row);
        }
        sqlite3_finalize(st);
        return out;
    }

private:
    sqlite3* db_ = nullptr;
};

TEST(MetaStore, TableShapesAreUpstreams) {
    TempDir dir;
    auto file = dir.file("var/lib/kubeedge/edgecore.db");
    auto store = open_store(file);
    ASSERT_TRUE(store);
    apply(
        *store,
        {put_pod("default", "web", 12),
         put("null", "node", "edge1",
             R"({"apiVersion":"v1","kind":"Node","metadata":{"name":"edge1","resourceVersion":"15"}})"),
         put("kube-node-lease", "lease", "edge1",
             R"({"apiVersion":"coordination.k8s.io/v1","kind":"Lease","metadata":{"name":"edge1","namespace":"kube-node-lease","resourceVersion":"9"}})")});

    struct stat st {};
    ASSERT_EQ(::stat(file.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);

    RawDb raw(file);
    EXPECT_EQ(raw.rows("PRAGMA journal_mode"), std::vector<std::string>{"wal"});
    // PRAGMA table_info: cid|name|type|notnull|dflt_value|pk
    EXPECT_EQ(
        raw.rows("SELECT name, lower(type), pk FROM pragma_table_info('meta')"),
        (std::vector<std::string>{"key|varchar(256)|1", "type|varchar(32)|0", "value|text|0"}));
    EXPECT_EQ(raw.rows("SELECT name, lower(type), pk FROM pragma_table_info('meta_v2')"),
              (std::vector<std::string>{"key|varchar(256)|1", "groupversionresource|varchar(256)|0",
                                        "namespace|varchar(256)|0", "name|varchar(256)|0",
                                        "resourceversion|integer unsigned|0", "value|text|0"}));
    EXPECT_EQ(raw.rows("SELECT name FROM pragma_table_info('kedge_outbox')"),
              (std::vector<std::string>{"key", "seq", "message"}));
    EXPECT_EQ(raw.rows("SELECT name FROM pragma_table_info('kedge_state')"),
              (std::vector<std::string>{"name", "value"}));

    EXPECT_EQ(
        raw.rows("SELECT key, type, value FROM meta ORDER BY key"),
        (std::vector<std::string>{
            "default/pod/web|pod|" + pod_json("default", "web", 12),
            R"(kube-node-lease/lease/edge1|lease|{"apiVersion":"coordination.k8s.io/v1","kind":"Lease","metadata":{"name":"edge1","namespace":"kube-node-lease","resourceVersion":"9"}})",
            R"(null/node/edge1|node|{"apiVersion":"v1","kind":"Node","metadata":{"name":"edge1","resourceVersion":"15"}})"}));
    EXPECT_EQ(raw.rows("SELECT key, groupversionresource, namespace, name, resourceversion, "
                       "value = (SELECT value FROM meta WHERE meta.type = 'pod') FROM meta_v2 "
                       "ORDER BY key"),
              (std::vector<std::string>{
                  "/coordination.k8s.io/v1/leases/kube-node-lease/edge1|coordination.k8s.io/v1, "
                  "Resource=leases|kube-node-lease|edge1|9|0",
                  "/core/v1/nodes/null/edge1|/v1, Resource=nodes|null|edge1|15|0",
                  "/core/v1/pods/default/web|/v1, Resource=pods|default|web|12|1"}));
    EXPECT_EQ(raw.rows("SELECT value FROM kedge_state WHERE name = 'hwm'"),
              std::vector<std::string>{"15"});
}

TEST(MetaStore, PutModifyRemoveReportChangeKinds) {
    TempDir dir;
    auto store = open_store(dir.file("m.db"));
    ASSERT_TRUE(store);

    auto c = apply(*store, {put_pod("default", "web", 5)});
    ASSERT_EQ(c.size(), 1u);
    EXPECT_EQ(c[0].kind, ChangeKind::added);
    EXPECT_EQ(c[0].object.key, (MetaKey{"default", "pod", "web"}));
    EXPECT_EQ(c[0].object.gvr, (GroupVersionResource{"core", "v1", "pods"}));
    EXPECT_EQ(c[0].object.resource_version, 5u);

    c = apply(*store, {put_pod("default", "web", 6, R"(,"x":1)")});
    ASSERT_EQ(c.size(), 1u);
    EXPECT_EQ(c[0].kind, ChangeKind::modified);
    EXPECT_EQ(c[0].object.json, pod_json("default", "web", 6, R"(,"x":1)"));
    EXPECT_GT(c[0].seq, 0u);
    auto seq_modified = c[0].seq;

    auto got = store->get(MetaKey{"default", "pod", "web"});
    ASSERT_TRUE(got && *got);
    EXPECT_EQ((*got)->resource_version, 6u);
    EXPECT_EQ((*got)->json, pod_json("default", "web", 6, R"(,"x":1)"));

    c = apply(*store, {remove_obj("default", "pod", "web")});
    ASSERT_EQ(c.size(), 1u);
    EXPECT_EQ(c[0].kind, ChangeKind::deleted);
    EXPECT_EQ(c[0].object.json, pod_json("default", "web", 6, R"(,"x":1)"))
        << "a delete carries the last stored value";
    EXPECT_GT(c[0].seq, seq_modified);
    got = store->get(MetaKey{"default", "pod", "web"});
    ASSERT_TRUE(got);
    EXPECT_FALSE(*got);
    EXPECT_EQ(*store->size(), 0u);
    RawDb raw(dir.file("m.db"));
    EXPECT_TRUE(raw.rows("SELECT key FROM meta_v2").empty()) << "both tables are written";

    // Removing a missing key is no change.
    c = apply(*store, {remove_obj("default", "pod", "web")});
    EXPECT_TRUE(c.empty());
}

TEST(MetaStore, IdenticalValueIsNoChange) {
    TempDir dir;
    auto store = open_store(dir.file("m.db"));
    ASSERT_TRUE(store);
    apply(*store, {put_pod("default", "web", 5)});
    int calls = 0;
    auto sub = store->subscribe(0, [&](const std::vector<MetaChange>&) { ++calls; });
    ASSERT_TRUE(sub);
    auto c = apply(*store, {put_pod("default", "web", 5)});
    EXPECT_TRUE(c.empty());
    EXPECT_EQ(calls, 0) << "no change, no notification";
}

TEST(MetaStore, BadWriteInBatchAppliesNothing) {
    TempDir dir;
    auto store = open_store(dir.file("m.db"));
    ASSERT_TRUE(store);
    apply(*store, {put_pod("default", "a", 3)});
    int calls = 0;
    auto sub = store->subscribe(0, [&](const std::vector<MetaChange>&) { ++calls; });
    ASSERT_TRUE(sub);

    for (std::string bad :
         {std::string("{not json"), std::string("[1,2]"), std::string("\"s\""), std::string()}) {
        std::vector<MetaWrite> batch{put_pod("default", "b", 10), remove_obj("default", "pod", "a"),
                                     put("default", "pod", "c", bad)};
        auto r = store->apply(batch);
        ASSERT_FALSE(r) << bad;
        EXPECT_TRUE(r.error().is(errc::invalid_argument)) << r.error().message();
        EXPECT_NE(r.error().detail.find("default/pod/c"), std::string::npos) << r.error().detail;
    }
    std::vector<MetaWrite> bad_key{put_pod("default", "b", 10),
                                   put("default", "po/d", "c", pod_json("default", "c", 11))};
    auto r = store->apply(bad_key);
    ASSERT_FALSE(r);
    EXPECT_TRUE(r.error().is(errc::invalid_argument));

    EXPECT_EQ(calls, 0);
    EXPECT_EQ(*store->size(), 1u);
    EXPECT_TRUE(*store->get(MetaKey{"default", "pod", "a"}));
    EXPECT_FALSE(*store->get(MetaKey{"default", "pod", "b"}));
    EXPECT_EQ(store->high_water_mark(), 3u) << "the failed batch did not raise the hwm";
    RawDb raw(dir.file("m.db"));
    EXPECT_EQ(raw.rows("SELECT count(*) FROM meta_v2"), std::vector<std::string>{"1"});
    EXPECT_EQ(raw.rows("SELECT value FROM kedge_state WHERE name = 'hwm'"),
              std::vector<std::string>{"3"});

    // The store is still usable after a rolled-back batch.
    EXPECT_EQ(apply(*store, {put_pod("default", "b", 10)}).size(), 1u);
}

TEST(MetaStore, ReopenKeepsObjectsAndHighWaterMark) {
    TempDir dir;
    auto file = dir.file("m.db");
    {
        auto store = open_store(file);
        ASSERT_TRUE(store);
        apply(*store, {put_pod("default", "a", 30), put_pod("default", "b", 7)});
        apply(*store, {remove_obj("default", "pod", "a")});
        EXPECT_EQ(store->high_water_mark(), 30u) << "never decreases";
    }
    auto store = open_store(file);
    ASSERT_TRUE(store);
    EXPECT_EQ(store->high_water_mark(), 30u);
    EXPECT_EQ(*store->size(), 1u);
    auto b = store->get(MetaKey{"default", "pod", "b"});
    ASSERT_TRUE(b && *b);
    EXPECT_EQ((*b)->resource_version, 7u);
    EXPECT_EQ((*b)->json, pod_json("default", "b", 7));
}

TEST(MetaStore, RemoveCarryingTheObjectRaisesHighWaterMark) {
    TempDir dir;
    auto store = open_store(dir.file("m.db"));
    ASSERT_TRUE(store);
    apply(*store, {put_pod("default", "a", 5)});
    apply(*store, {remove_obj("default", "pod", "a", pod_json("default", "a", 9))});
    EXPECT_EQ(store->high_water_mark(), 9u);
}

TEST(MetaStore, ListsGetsAndGvrs) {
    TempDir dir;
    auto store = open_store(dir.file("m.db"));
    ASSERT_TRUE(store);
    apply(
        *store,
        {put_pod("default", "b", 2), put_pod("default", "a", 1), put_pod("kube-system", "c", 3),
         put_pod("defaultx", "d", 4),
         put("default", "configmap", "cfg",
             R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"cfg","resourceVersion":"8"}})"),
         // No apiVersion/kind: the GVR comes from the key's type.
         put("default", "device", "thermo", R"({"metadata":{"resourceVersion":"11"}})"),
         // Unknown type without apiVersion/kind: meta only.
         put("default", "mystery", "m", R"({"x":1})")});

    auto pods = store->list_type("pod");
    ASSERT_TRUE(pods);
    ASSERT_EQ(pods->size(), 4u);
    EXPECT_EQ((*pods)[0].key.str(), "default/pod/a");
    EXPECT_EQ((*pods)[1].key.str(), "default/pod/b");
    EXPECT_EQ((*pods)[2].key.str(), "defaultx/pod/d");
    EXPECT_EQ((*pods)[3].resource_version, 3u);

    auto def = store->list_type("pod", "default");
    ASSERT_TRUE(def);
    ASSERT_EQ(def->size(), 2u) << "namespace 'defaultx' is not 'default'";

    auto by_gvr = store->list_gvr(GroupVersionResource{"core", "v1", "pods"}, "kube-system");
    ASSERT_TRUE(by_gvr);
    ASSERT_EQ(by_gvr->size(), 1u);
    EXPECT_EQ((*by_gvr)[0].key.str(), "kube-system/pod/c");
    EXPECT_EQ((*by_gvr)[0].resource_version, 3u);
    EXPECT_EQ((*by_gvr)[0].json, pod_json("kube-system", "c", 3));

    auto dev = store->get(MetaKey{"default", "device", "thermo"});
    ASSERT_TRUE(dev && *dev);
    EXPECT_EQ((*dev)->gvr, (GroupVersionResource{"devices.kubeedge.io", "v1beta1", "devices"}));
    EXPECT_EQ((*dev)->resource_version, 11u);
    auto devs = store->list_gvr(GroupVersionResource{"devices.kubeedge.io", "v1beta1", "devices"});
    ASSERT_TRUE(devs);
    ASSERT_EQ(devs->size(), 1u);
    EXPECT_EQ((*devs)[0].key.str(), "default/device/thermo");

    auto mystery = store->get(MetaKey{"default", "mystery", "m"});
    ASSERT_TRUE(mystery && *mystery);
    EXPECT_TRUE((*mystery)->gvr.resource.empty());

    auto gvrs = store->stored_gvrs();
    ASSERT_TRUE(gvrs);
    EXPECT_EQ(*gvrs,
              (std::vector<GroupVersionResource>{{"core", "v1", "configmaps"},
                                                 {"core", "v1", "pods"},
                                                 {"devices.kubeedge.io", "v1beta1", "devices"}}));
}

TEST(MetaStore, InventoryShape) {
    TempDir dir;
    auto store = open_store(dir.file("m.db"));
    ASSERT_TRUE(store);
    apply(
        *store,
        {put_pod("default", "web", 12), put_pod("kube-system", "dns", 13),
         put("null", "node", "edge1",
             R"({"apiVersion":"v1","kind":"Node","metadata":{"name":"edge1","resourceVersion":"15"}})"),
         put("default", "configmap", "cfg",
             R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"cfg","resourceVersion":"0042"}})")});
    auto inv = store->inventory();
    ASSERT_TRUE(inv);
    hub::Inventory want;
    want.resources["pod"]["default/web"] = "12";
    want.resources["pod"]["kube-system/dns"] = "13";
    want.resources["node"]["edge1"] = "15";
    want.resources["configmap"]["default/cfg"] = "0042";  // the string as stored
    EXPECT_EQ(inv->resources, want.resources);
    EXPECT_EQ(inv->size(), 4u);
}

TEST(MetaStore, OutboxCoalescesByKeyAndGuardsRemoveBySeq) {
    TempDir dir;
    auto file = dir.file("m.db");
    std::uint64_t last_seq = 0;
    {
        auto store = open_store(file);
        ASSERT_TRUE(store);
        auto a1 = store->outbox_put("default/podpatch/a", "a-v1");
        auto b1 = store->outbox_put("default/podpatch/b", "b-v1");
        ASSERT_TRUE(a1 && b1);
        EXPECT_LT(a1->seq, b1->seq);
        auto a2 = store->outbox_put("default/podpatch/a", "a-v2");
        ASSERT_TRUE(a2);
        EXPECT_GT(a2->seq, b1->seq);

        auto list = store->outbox_list();
        ASSERT_TRUE(list);
        ASSERT_EQ(list->size(), 2u) << "one entry per key";
        EXPECT_EQ((*list)[0].key, "default/podpatch/b") << "oldest first";
        EXPECT_EQ((*list)[1].message, "a-v2");

        // The sender delivered a-v1 and acks it, but a-v2 was queued since: it stays.
        ASSERT_TRUE(store->outbox_remove("default/podpatch/a", a1->seq));
        list = store->outbox_list();
        ASSERT_EQ(list->size(), 2u);
        ASSERT_TRUE(store->outbox_remove("default/podpatch/b", b1->seq));
        list = store->outbox_list();
        ASSERT_EQ(list->size(), 1u);
        EXPECT_EQ((*list)[0].seq, a2->seq);
        last_seq = a2->seq;
    }
    auto store = open_store(file);
    ASSERT_TRUE(store);
    auto list = store->outbox_list();
    ASSERT_TRUE(list);
    ASSERT_EQ(list->size(), 1u) << "the outbox survives a restart";
    EXPECT_EQ((*list)[0].message, "a-v2");
    auto c = store->outbox_put("null/nodepatch/edge1", "n");
    ASSERT_TRUE(c);
    EXPECT_GT(c->seq, last_seq) << "seqs are never reused across restarts";
    ASSERT_TRUE(store->outbox_remove("default/podpatch/a", last_seq));
    EXPECT_EQ(store->outbox_list()->size(), 1u);
}

std::vector<std::string> keys_of(const std::vector<MetaChange>& changes) {
    std::vector<std::string> out;
    for (const auto& c : changes) out.push_back(c.object.key.name);
    return out;
}

TEST(MetaStore, SubscribeReplaysFromTheHighWaterMark) {
    TempDir dir;
    auto store = open_store(dir.file("m.db"));
    ASSERT_TRUE(store);
    apply(*store, {put_pod("default", "p10", 10)});
    apply(*store, {put_pod("default", "p20", 20), put_pod("default", "p15", 15)});  // hwm stays 20
    apply(*store, {put_pod("default", "p30", 30)});

    auto none = store->subscribe(0, [](const std::vector<MetaChange>&) {});
    ASSERT_TRUE(none);
    EXPECT_TRUE(none->replay.empty()) << "RV 0: no replay";

    // A client that listed at RV 20 has seen p10, p20 and (maybe) p15; p15 repeats (allowed).
    auto s20 = store->subscribe(20, [](const std::vector<MetaChange>&) {});
    ASSERT_TRUE(s20);
    EXPECT_EQ(keys_of(s20->replay), (std::vector<std::string>{"p20", "p15", "p30"}));

    // RV 25 falls between changes: everything committed after the hwm reached 25.
    auto s25 = store->subscribe(25, [](const std::vector<MetaChange>&) {});
    ASSERT_TRUE(s25);
    EXPECT_EQ(keys_of(s25->replay), (std::vector<std::string>{"p30"}));

    auto s30 = store->subscribe(30, [](const std::vector<MetaChange>&) {});
    ASSERT_TRUE(s30);
    EXPECT_EQ(keys_of(s30->replay), (std::vector<std::string>{"p30"}));

    auto future = store->subscribe(31, [](const std::vector<MetaChange>&) {});
    ASSERT_TRUE(future);
    EXPECT_TRUE(future->replay.empty());

    // A delete without an RV does not raise the hwm: a client that listed at 30 before it
    // must still get it when it watches from 30.
    apply(*store, {remove_obj("default", "pod", "p10")});
    auto after_delete = store->subscribe(30, [](const std::vector<MetaChange>&) {});
    ASSERT_TRUE(after_delete);
    ASSERT_EQ(after_delete->replay.size(), 2u);
    EXPECT_EQ(after_delete->replay[1].kind, ChangeKind::deleted);
    EXPECT_EQ(after_delete->replay[1].object.key.name, "p10");
}

TEST(MetaStore, SubscribeExpiresWhenTheRingDroppedNeededChanges) {
    TempDir dir;
    auto file = dir.file("m.db");
    {
        auto store = open_store(file, 3);
        ASSERT_TRUE(store);
        for (std::uint64_t rv : {10, 20, 30, 40, 50}) {
            apply(*store, {put_pod("default", "p" + std::to_string(rv), rv)});
        }
        // Kept: p30 (hwm 20 -> 30), p40, p50; dropped entries ended at hwm 20.
        auto at20 = store->subscribe(20, [](const std::vector<MetaChange>&) {});
        ASSERT_TRUE(at20) << at20.error().message();
        EXPECT_EQ(keys_of(at20->replay), (std::vector<std::string>{"p30", "p40", "p50"}));
        auto at25 = store->subscribe(25, [](const std::vector<MetaChange>&) {});
        ASSERT_TRUE(at25);
        EXPECT_EQ(keys_of(at25->replay), (std::vector<std::string>{"p30", "p40", "p50"}));

        auto at19 = store->subscribe(19, [](const std::vector<MetaChange>&) {});
        ASSERT_FALSE(at19) << "p20 (hwm 10 -> 20) was dropped and is needed from 19";
        EXPECT_TRUE(at19.error().is(errc::expired));
        EXPECT_NE(at19.error().detail.find("too old resource version"), std::string::npos);
        EXPECT_FALSE(store->subscribe(5, [](const std::vector<MetaChange>&) {}));
    }
    // After a restart the log is empty: only "now or later" can be served.
    auto store = open_store(file, 3);
    ASSERT_TRUE(store);
    auto old = store->subscribe(49, [](const std::vector<MetaChange>&) {});
    ASSERT_FALSE(old);
    EXPECT_TRUE(old.error().is(errc::expired));
    auto now = store->subscribe(50, [](const std::vector<MetaChange>&) {});
    ASSERT_TRUE(now);
    EXPECT_TRUE(now->replay.empty());
}

TEST(MetaStore, LiveSubscribersSeeCommittedChangesInOrderWithoutTheLock) {
    TempDir dir;
    auto store = open_store(dir.file("m.db"));
    ASSERT_TRUE(store);
    std::vector<std::string> seen;
    bool visible_in_callback = false;
    Result<std::vector<MetaChange>> nested = std::vector<MetaChange>{};
    auto sub = store->subscribe(0, [&](const std::vector<MetaChange>& changes) {
        for (const auto& c : changes) seen.push_back(c.object.key.name);
        // The commit happened and the store lock is free: a read from the callback works.
        auto got = store->get(changes.front().object.key);
        visible_in_callback = got && *got;
        std::vector<MetaWrite> w{put_pod("default", "nested", 1)};
        nested = store->apply(w);
    });
    ASSERT_TRUE(sub);
    apply(*store, {put_pod("default", "a", 1), put_pod("default", "b", 2)});
    apply(*store, {put_pod("default", "c", 3)});
    EXPECT_EQ(seen, (std::vector<std::string>{"a", "b", "c"}));
    EXPECT_TRUE(visible_in_callback);
    ASSERT_FALSE(nested) << "apply() from a callback is refused, not a deadlock";
    EXPECT_TRUE(nested.error().is(errc::internal));
}

TEST(MetaStore, ConcurrentWritersDeliverInCommitOrder) {
    TempDir dir;
    auto store = open_store(dir.file("m.db"));
    ASSERT_TRUE(store);
    std::mutex mu;
    std::vector<std::uint64_t> seqs;
    auto sub = store->subscribe(0, [&](const std::vector<MetaChange>& changes) {
        std::lock_guard lock(mu);
        for (const auto& c : changes) seqs.push_back(c.seq);
    });
    ASSERT_TRUE(sub);
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&, t] {
            for (int i = 0; i < 25; ++i) {
                std::vector<MetaWrite> w{put_pod("default",
                                                 "t" + std::to_string(t) + "-" + std::to_string(i),
                                                 static_cast<std::uint64_t>(t * 100 + i + 1))};
                EXPECT_TRUE(store->apply(w));
            }
        });
    }
    for (auto& th : threads) th.join();
    ASSERT_EQ(seqs.size(), 100u);
    EXPECT_TRUE(std::is_sorted(seqs.begin(), seqs.end()));
}

TEST(MetaStore, SubscriptionEndsOnDestructionAndMayOutliveTheStore) {
    TempDir dir;
    auto store = open_store(dir.file("m.db"));
    ASSERT_TRUE(store);
    int calls = 0;
    auto sub = store->subscribe(0, [&](const std::vector<MetaChange>&) { ++calls; });
    ASSERT_TRUE(sub);
    apply(*store, {put_pod("default", "a", 1)});
    EXPECT_EQ(calls, 1);
    sub->subscription.reset();
    apply(*store, {put_pod("default", "b", 2)});
    EXPECT_EQ(calls, 1) << "no callback after ~Subscription";

    auto late = store->subscribe(0, [&](const std::vector<MetaChange>&) { ++calls; });
    ASSERT_TRUE(late);
    store.reset();
    late->subscription.reset();  // the store is gone: harmless
    SUCCEED();
}

TEST(MetaStore, CorruptFileIsAnIoErrorNamingTheFile) {
    TempDir dir;
    auto file = dir.file("edgecore.db");
    {
        std::ofstream out(file, std::ios::binary);
        for (int i = 0; i < 512; ++i) out << "this is not an sqlite database ";
    }
    auto r = MetaStore::open(file);
    ASSERT_FALSE(r);
    EXPECT_TRUE(r.error().is(errc::io_error));
    EXPECT_NE(r.error().detail.find(file), std::string::npos) << r.error().detail;
    EXPECT_NE(r.error().detail.find("not a database"), std::string::npos) << r.error().detail;

    // A real database whose pages were damaged after the header.
    auto file2 = dir.file("damaged.db");
    {
        auto store = open_store(file2);
        ASSERT_TRUE(store);
        std::vector<MetaWrite> w;
        for (int i = 0; i < 200; ++i) {
            w.push_back(put_pod("default", "p" + std::to_string(i), i + 1,
                                R"(,"pad":")" + std::string(300, 'x') + "\""));
        }
        apply(*store, w);
    }
    {
        // Checkpointed on close, so the pages live in the main file; trash the middle.
        std::fstream f(file2, std::ios::in | std::ios::out | std::ios::binary);
        f.seekp(4096 * 3);
        std::string junk(4096 * 4, '\x5a');
        f.write(junk.data(), static_cast<std::streamsize>(junk.size()));
    }
    auto r2 = MetaStore::open(file2);
    ASSERT_FALSE(r2);
    EXPECT_TRUE(r2.error().is(errc::io_error));
    EXPECT_NE(r2.error().detail.find(file2), std::string::npos) << r2.error().detail;
}

TEST(MetaStore, TenThousandObjectsListQuickly) {
    TempDir dir;
    auto store = open_store(dir.file("m.db"));
    ASSERT_TRUE(store);
    std::vector<MetaWrite> w;
    const std::string pad =
        R"(,"containers":[{"name":"c","image":")" + std::string(800, 'i') + R"("}])";
    for (int i = 0; i < 10000; ++i) {
        w.push_back(put_pod("ns" + std::to_string(i % 10), "p" + std::to_string(i), i + 1, pad));
    }
    apply(*store, w);
    auto start = std::chrono::steady_clock::now();
    auto all = store->list_type("pod");
    auto one_ns = store->list_gvr(GroupVersionResource{"core", "v1", "pods"}, "ns3");
    auto inv = store->inventory();
    auto elapsed = std::chrono::steady_clock::now() - start;
    ASSERT_TRUE(all && one_ns && inv);
    EXPECT_EQ(all->size(), 10000u);
    EXPECT_EQ(one_ns->size(), 1000u);
    EXPECT_EQ(inv->size(), 10000u);
    EXPECT_LT(elapsed, std::chrono::seconds(3));
}

TEST(MetaKeyAndGvr, ParseAndFormat) {
    auto k = MetaKey::parse("default/pod/web");
    ASSERT_TRUE(k);
    EXPECT_EQ(*k, (MetaKey{"default", "pod", "web"}));
    EXPECT_EQ(k->str(), "default/pod/web");
    for (std::string_view bad :
         {"", "default/pod", "default/pod/", "/pod/web", "a/b/c/d", "a//c"}) {
        auto r = MetaKey::parse(bad);
        ASSERT_FALSE(r) << bad;
        EXPECT_TRUE(r.error().is(errc::invalid_argument));
    }

    auto gvr = [](std::string_view av, std::string_view kind) {
        auto r = gvr_for(av, kind);
        return r ? r->str() : "error";
    };
    EXPECT_EQ(gvr("v1", "Pod"), "core/v1/pods");
    EXPECT_EQ(gvr("v1", "Endpoints"), "core/v1/endpoints");
    EXPECT_EQ(gvr("networking.k8s.io/v1", "NetworkPolicy"), "networking.k8s.io/v1/networkpolicies");
    EXPECT_EQ(gvr("networking.k8s.io/v1", "Ingress"), "networking.k8s.io/v1/ingresses");
    EXPECT_EQ(gvr("apps/v1", "Deployment"), "apps/v1/deployments");
    EXPECT_EQ(gvr("devices.kubeedge.io/v1beta1", "DeviceModel"),
              "devices.kubeedge.io/v1beta1/devicemodels");
    EXPECT_EQ(gvr("example.com/v1", "Box"), "example.com/v1/boxes");
    EXPECT_EQ(gvr("example.com/v1", "Patch"), "example.com/v1/patches");
    EXPECT_EQ(gvr("example.com/v1", "Mesh"), "example.com/v1/meshes");
    EXPECT_EQ(gvr("gateway.networking.k8s.io/v1", "Gateway"),
              "gateway.networking.k8s.io/v1/gateways");
    EXPECT_EQ(gvr("", "Pod"), "error");
    EXPECT_EQ(gvr("v1", ""), "error");
    EXPECT_EQ(gvr("a/b/c", "Pod"), "error");
    EXPECT_EQ(gvr("/v1", "Pod"), "error");

    auto by_type = [](std::string_view t) {
        auto g = gvr_for_type(t);
        return g ? g->str() : "none";
    };
    EXPECT_EQ(by_type("pod"), "core/v1/pods");
    EXPECT_EQ(by_type("endpoints"), "core/v1/endpoints");
    EXPECT_EQ(by_type("lease"), "coordination.k8s.io/v1/leases");
    EXPECT_EQ(by_type("persistentvolumeclaim"), "core/v1/persistentvolumeclaims");
    EXPECT_EQ(by_type("volumeattachment"), "storage.k8s.io/v1/volumeattachments");
    EXPECT_EQ(by_type("device"), "devices.kubeedge.io/v1beta1/devices");
    EXPECT_EQ(by_type("devicemodel"), "devices.kubeedge.io/v1beta1/devicemodels");
    EXPECT_EQ(by_type("rule"), "rules.kubeedge.io/v1/rules");
    EXPECT_EQ(by_type("ruleendpoint"), "rules.kubeedge.io/v1/ruleendpoints");
    EXPECT_EQ(by_type("podstatus"), "none");

    EXPECT_EQ(type_for_resource("pods"), "pod");
    EXPECT_EQ(type_for_resource("endpoints"), "endpoints");
    EXPECT_EQ(type_for_resource("leases"), "lease");
    EXPECT_EQ(type_for_resource("devicemodels"), "devicemodel");
    EXPECT_EQ(type_for_resource("networkpolicies"), "networkpolicy");
    EXPECT_EQ(type_for_resource("ingresses"), "ingress");
    EXPECT_EQ(type_for_resource("deployments"), "deployment");
    EXPECT_EQ(type_for_resource(""), std::nullopt);
}

// A writer killed at a random point (kill -9) never loses a batch it reported as committed, and
// leaves a database that passes integrity_check.
TEST(MetaStore, KillNineLosesNoCommittedBatch) {
    TempDir dir;
    auto file = dir.file("crash.db");
    std::random_device rd;
    int kill_after = 20 + static_cast<int>(rd() % 150);

    int fds[2];
    ASSERT_EQ(::pipe(fds), 0);
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
        ::close(fds[0]);
        auto store = MetaStore::open(file);
        if (!store) ::_exit(2);
        for (std::uint32_t batch = 1;; ++batch) {
            std::vector<MetaWrite> w{put_pod("default", "a" + std::to_string(batch), batch * 2),
                                     put_pod("default", "b" + std::to_string(batch), batch * 2 + 1),
                                     remove_obj("default", "pod", "b" + std::to_string(batch - 1))};
            if (!(*store)->apply(w)) ::_exit(3);
            if (::write(fds[1], &batch, sizeof batch) != sizeof batch) ::_exit(4);
        }
    }
    ::close(fds[1]);
    std::uint32_t last = 0, got = 0;
    int count = 0;
    while (::read(fds[0], &got, sizeof got) == sizeof got) {
        last = got;
        if (++count == kill_after) ::kill(pid, SIGKILL);
    }
    ::close(fds[0]);
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFSIGNALED(status)) << "child exited with " << WEXITSTATUS(status);
    ASSERT_GE(last, static_cast<std::uint32_t>(kill_after));

    auto store = open_store(file);
    ASSERT_TRUE(store);
    for (std::uint32_t b = 1; b <= last; ++b) {
        auto a = store->get(MetaKey{"default", "pod", "a" + std::to_string(b)});
        ASSERT_TRUE(a && *a) << "batch " << b << " of " << last << " lost";
    }
    // The child may have committed one more batch (which removes b<last>) before the kill
    // reached it without getting to report it: then that whole batch is there instead.
    auto b = store->get(MetaKey{"default", "pod", "b" + std::to_string(last)});
    auto next_a = store->get(MetaKey{"default", "pod", "a" + std::to_string(last + 1)});
    auto next_b = store->get(MetaKey{"default", "pod", "b" + std::to_string(last + 1)});
    bool next_committed = next_a && *next_a;
    if (next_committed) {
        EXPECT_TRUE(next_b && *next_b) << "batch " << last + 1 << " is half there";
        EXPECT_FALSE(b && *b) << "batch " << last + 1 << " is half there";
    } else {
        ASSERT_TRUE(b && *b) << "b" << last << " lost";
        EXPECT_FALSE(next_b && *next_b);
    }
    EXPECT_GE(store->high_water_mark(), last * 2 + 1);
    RawDb raw(file);
    EXPECT_EQ(raw.rows("PRAGMA integrity_check"), std::vector<std::string>{"ok"});
    // Tables agree: every meta row has its meta_v2 row.
    EXPECT_EQ(raw.rows("SELECT count(*) FROM meta"), raw.rows("SELECT count(*) FROM meta_v2"));
}

}  // namespace
}  // namespace kedge::edge
