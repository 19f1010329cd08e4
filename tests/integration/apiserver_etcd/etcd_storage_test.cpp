// What only the etcd backend has: etcd restarts (data, revisions and live watches survive), key
// prefixes sharing one etcd, resourceVersion fixed on read after a lost prediction race,
// periodic compaction, bad options.
#include <gtest/gtest.h>

#include <atomic>
#include <boost/json.hpp>
#include <cstdio>
#include <mutex>
#include <thread>

#include "apiserver/storage/etcd_storage.hpp"
#include "apiserver/storage/watch_cache.hpp"
#include "etcd_server.hpp"
#include "support/test_support.hpp"

namespace kedge::apiserver::storage {
namespace {

using namespace std::chrono_literals;
using kedge::test::EtcdServer;
using kedge::test::TempDir;
using kedge::test::wait_until;

std::string pod(const std::string& name, const std::string& extra = "1") {
    return R"({"kind":"Pod","metadata":{"name":")" + name + R"(","namespace":"default"},"x":")" +
           extra + R"("})";
}

std::string rv_of(const std::string& json) {
    return std::string(boost::json::parse(json).at("metadata").at("resourceVersion").as_string());
}

std::unique_ptr<EtcdStorage> open_store(const EtcdServer& etcd,
                                        std::string prefix = "/kedge-test") {
    auto s = EtcdStorage::open(etcd.options(std::move(prefix)));
    if (!s) ADD_FAILURE() << s.error().message() << "\n" << etcd.log();
    return s ? std::move(*s) : nullptr;
}

TEST(EtcdStorage, RestartKeepsDataRevisionsAndLiveWatches) {
    TempDir dir;
    EtcdServer etcd(dir.file("etcd"));
    auto s = open_store(etcd);
    ASSERT_TRUE(s);
    for (int i = 0; i < 5; ++i) {
        ASSERT_TRUE(s->create("/registry/cm/default/c" + std::to_string(i),
                              with_resource_version(pod("c" + std::to_string(i)))));
    }
    auto del = s->remove("/registry/cm/default/c4", 0);  // the last write is a delete
    ASSERT_TRUE(del);
    const auto last = del->rev;

    std::mutex mu;
    std::vector<Event> seen;
    auto sub =
        s->watch_from("/registry/cm/", last, [&](const std::vector<Event>& evs, std::uint64_t) {
            std::lock_guard lk(mu);
            seen.insert(seen.end(), evs.begin(), evs.end());
        });
    ASSERT_TRUE(sub) << sub.error().message();

    etcd.stop();
    etcd.start();

    // Same client: reconnects by itself; data and revisions kept.
    auto got = s->get("/registry/cm/default/c3");
    ASSERT_TRUE(got) << got.error().message();
    EXPECT_EQ(rv_of(got->value), std::to_string(got->mod_rev));
    EXPECT_FALSE(s->get("/registry/cm/default/c4"));
    EXPECT_EQ(s->current_revision(), last);
    auto next = s->create("/registry/cm/default/after", pod("after"));
    ASSERT_TRUE(next) << next.error().message();
    EXPECT_EQ(*next, last + 1);

    // The watch resumed after the restart without a gap or a repeat.
    ASSERT_TRUE(wait_until(
        [&] {
            std::lock_guard lk(mu);
            return !seen.empty();
        },
        15s))
        << etcd.log();
    {
        std::lock_guard lk(mu);
        ASSERT_EQ(seen.size(), 1u);
        EXPECT_EQ(seen[0].key, "/registry/cm/default/after");
        EXPECT_EQ(seen[0].mod_rev, last + 1);
    }

    // kill -9 and a fresh client: every acknowledged write is there (etcd fsyncs its WAL).
    etcd.kill9();
    etcd.start();
    s.reset();
    s = open_store(etcd);
    ASSERT_TRUE(s);
    EXPECT_EQ(s->current_revision(), last + 1);
    auto all = s->list("/registry/cm/", {});
    ASSERT_TRUE(all);
    EXPECT_EQ(all->items.size(), 5u);
}

TEST(EtcdStorage, KeyPrefixesShareOneEtcd) {
    TempDir dir;
    EtcdServer etcd(dir.file("etcd"));
    auto a = open_store(etcd, "/cluster-a/");
    auto b = open_store(etcd, "/cluster-a0");  // a prefix of the other's bytes, still separate
    ASSERT_TRUE(a && b);
    ASSERT_TRUE(a->create("/registry/pods/x", pod("x")));
    ASSERT_TRUE(b->create("/registry/pods/y", pod("y")));
    EXPECT_TRUE(b->get("/registry/pods/x").error().is(errc::not_found));
    auto la = a->list("", {});
    ASSERT_TRUE(la);
    ASSERT_EQ(la->items.size(), 1u);
    EXPECT_EQ(la->items[0].key, "/registry/pods/x");
    EXPECT_EQ(b->list("", {})->items.size(), 1u);
    EXPECT_TRUE(a->create("registry/no-slash", "{}").error().is(errc::invalid_argument));

    // Each prefix's feed sees its own keys only.
    std::mutex mu;
    std::vector<Event> seen;
    auto sub = a->watch_from("/", 0, [&](const std::vector<Event>& evs, std::uint64_t) {
        std::lock_guard lk(mu);
        seen.insert(seen.end(), evs.begin(), evs.end());
    });
    ASSERT_TRUE(sub);
    ASSERT_TRUE(wait_until([&] {
        std::lock_guard lk(mu);
        return seen.size() == 1;
    }));
    ASSERT_TRUE(b->create("/registry/pods/z", pod("z")));
    ASSERT_TRUE(a->create("/registry/pods/w", pod("w")));
    ASSERT_TRUE(wait_until([&] {
        std::lock_guard lk(mu);
        return seen.size() == 2;
    }));
    {
        std::lock_guard lk(mu);
        EXPECT_EQ(seen[1].key, "/registry/pods/w");
    }

    // Another prefix's write is the last one: a watch cache on a still answers "most recent"
    // lists from memory at once, since the feed's progress follows every etcd revision.
    WatchCacheOptions wo;
    wo.prefix = "/registry/pods/";
    wo.fresh_timeout = 5s;
    auto cache = WatchCache::start(*a, wo);
    ASSERT_TRUE(cache) << cache.error().message();
    ASSERT_TRUE(b->create("/registry/pods/v", pod("v")));
    auto t0 = std::chrono::steady_clock::now();
    auto listed = (*cache)->list({});
    ASSERT_TRUE(listed) << listed.error().message();
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 2s);
    EXPECT_FALSE(listed->from_storage);
    EXPECT_EQ(listed->revision, a->current_revision());
    EXPECT_EQ(listed->items.size(), 2u);
    (*cache)->stop();

    // No prefix: the whole keyspace, keys as etcd has them.
    auto root = open_store(etcd, "");
    ASSERT_TRUE(root);
    auto everything = root->list("", {});
    ASSERT_TRUE(everything);
    ASSERT_EQ(everything->items.size(), 5u);
    EXPECT_EQ(everything->items[0].key, "/cluster-a/registry/pods/w");
    std::atomic<std::size_t> root_events{0};
    auto root_sub = root->watch_from(
        "", 0, [&](const std::vector<Event>& evs, std::uint64_t) { root_events += evs.size(); });
    ASSERT_TRUE(root_sub);
    ASSERT_TRUE(wait_until([&] { return root_events.load() == 5; }));
}

// The revision a write gets is only known at commit; when the value was made for a different
// one (another client wrote in between), reads still show resourceVersion == mod_rev.
TEST(EtcdStorage, ResourceVersionIsTheModRevisionOnEveryRead) {
    TempDir dir;
    EtcdServer etcd(dir.file("etcd"));
    auto s = open_store(etcd);
    auto other = open_store(etcd);
    ASSERT_TRUE(s && other);
    ASSERT_TRUE(s->create("/registry/pods/default/a", pod("a")));
    std::uint64_t predicted = 0;
    auto rev = s->update(
        "/registry/pods/default/a",
        [&](std::uint64_t r) -> Result<std::string> {
            predicted = r;
            // Another client commits first, so the prediction is wrong.
            EXPECT_TRUE(other->create("/registry/pods/default/racer", pod("racer")));
            return set_resource_version(pod("a", "2"), r);
        },
        0);
    ASSERT_TRUE(rev) << rev.error().message();
    EXPECT_EQ(*rev, predicted + 1);
    std::vector<Event> events;
    std::mutex mu;
    auto sub = s->watch_from("/registry/pods/", *rev - 1,
                             [&](const std::vector<Event>& evs, std::uint64_t) {
                                 std::lock_guard lk(mu);
                                 events.insert(events.end(), evs.begin(), evs.end());
                             });
    ASSERT_TRUE(sub);
    auto got = s->get("/registry/pods/default/a");
    ASSERT_TRUE(got);
    EXPECT_EQ(rv_of(got->value), std::to_string(*rev));
    auto listed = s->list("/registry/pods/default/a", {});
    ASSERT_EQ(listed->items.size(), 1u);
    EXPECT_EQ(rv_of(listed->items[0].value), std::to_string(*rev));
    ASSERT_TRUE(wait_until([&] {
        std::lock_guard lk(mu);
        return !events.empty();
    }));
    {
        std::lock_guard lk(mu);
        EXPECT_EQ(rv_of(events[0].value), std::to_string(*rev));
    }
    // Values without a resourceVersion are returned byte for byte.
    EXPECT_EQ(s->get("/registry/pods/default/racer")->value, pod("racer"));
}

// With serialize_writes the bytes a ValueFn makes carry the revision the write really gets,
// even with concurrent writers (guaranteed_update returns them to the caller).
TEST(EtcdStorage, SerializedWritesMakeValuesForTheirExactRevision) {
    TempDir dir;
    EtcdServer etcd(dir.file("etcd"));
    auto o = etcd.options();
    o.serialize_writes = true;
    auto opened = EtcdStorage::open(o);
    ASSERT_TRUE(opened) << opened.error().message();
    auto& s = *opened;
    constexpr int kThreads = 4, kPerThread = 20;
    for (int t = 0; t < kThreads; ++t) {
        ASSERT_TRUE(s->create("/registry/pods/default/p" + std::to_string(t),
                              with_resource_version(pod("p" + std::to_string(t)))));
    }
    std::vector<std::thread> threads;
    std::atomic<int> exact{0};
    for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back([&, t] {
            for (int i = 0; i < kPerThread; ++i) {
                auto key = "/registry/pods/default/p" + std::to_string((t + i) % kThreads);
                auto r = s->guaranteed_update(
                    key,
                    [&](const KeyValue& cur, std::uint64_t rev) -> Result<std::string> {
                        auto v = boost::json::parse(cur.value);
                        v.as_object()["x"] = std::to_string(i);
                        return set_resource_version(boost::json::serialize(v), rev);
                    },
                    100);
                ASSERT_TRUE(r) << r.error().message();
                if (rv_of(r->value) == std::to_string(r->mod_rev)) ++exact;
            }
        });
    }
    for (auto& t : threads) t.join();
    EXPECT_EQ(exact.load(), kThreads * kPerThread);
}

// Subscriptions starting at older revisions while writes go on read history on a catch-up
// stream and then join the shared feed: every revision exactly once, in order.
TEST(EtcdStorage, SubscriptionsJoiningDuringWritesMissNothing) {
    TempDir dir;
    EtcdServer etcd(dir.file("etcd"));
    auto s = open_store(etcd);
    ASSERT_TRUE(s);
    const auto base = s->current_revision();
    constexpr int kWrites = 300;
    std::thread writer([&] {
        for (int i = 0; i < kWrites; ++i) {
            ASSERT_TRUE(s->create("/registry/pods/p" + std::to_string(i), pod("p")));
        }
    });
    struct Watch {
        std::uint64_t from = 0;
        std::mutex mu;
        std::vector<std::uint64_t> revs;
        std::uint64_t progress = 0;
        std::unique_ptr<Subscription> sub;
    };
    std::vector<std::unique_ptr<Watch>> watches;
    for (int i = 0; i < 6; ++i) {
        ASSERT_TRUE(wait_until([&] { return s->current_revision() >= base + 40 * (i + 1); }));
        auto w = std::make_unique<Watch>();
        auto now = s->current_revision();
        w->from = i % 2 ? now : base + static_cast<std::uint64_t>(i) * 10;  // live or history
        auto sub = s->watch_from("/registry/pods/", w->from,
                                 [raw = w.get()](const std::vector<Event>& evs, std::uint64_t p) {
                                     std::lock_guard lk(raw->mu);
                                     for (auto& e : evs) raw->revs.push_back(e.mod_rev);
                                     raw->progress = p;
                                 });
        ASSERT_TRUE(sub) << sub.error().message();
        w->sub = std::move(*sub);
        watches.push_back(std::move(w));
    }
    writer.join();
    const auto last = s->current_revision();
    ASSERT_EQ(last, base + kWrites);
    for (auto& w : watches) {
        ASSERT_TRUE(wait_until([&] {
            std::lock_guard lk(w->mu);
            return w->progress >= last;
        })) << "from "
            << w->from;
        std::lock_guard lk(w->mu);
        ASSERT_EQ(w->revs.size(), last - w->from) << "from " << w->from;
        for (std::size_t i = 0; i < w->revs.size(); ++i) {
            ASSERT_EQ(w->revs[i], w->from + 1 + i) << "from " << w->from;
        }
    }
}

TEST(EtcdStorage, PeriodicCompactionKeepsTheRetainedRevisions) {
    TempDir dir;
    EtcdServer etcd(dir.file("etcd"));
    auto o = etcd.options();
    o.compaction_interval = 1s;
    o.compaction_retain = 5;
    auto s = EtcdStorage::open(o);
    ASSERT_TRUE(s) << s.error().message();
    for (int i = 0; i < 20; ++i) ASSERT_TRUE((*s)->create("/k/" + std::to_string(i), "{}"));
    const auto current = (*s)->current_revision();
    ASSERT_TRUE(wait_until([&] { return (*s)->compacted_revision() > 0; }, 10s));
    EXPECT_EQ((*s)->compacted_revision(), current - 5);
    // A second client learns the compaction from etcd itself.
    auto fresh = open_store(etcd);
    ASSERT_TRUE(fresh);
    EXPECT_EQ(fresh->compacted_revision(), current - 5);
}

TEST(EtcdStorage, BadOptionsAndUnreachableEtcd) {
    EtcdOptions o;
    EXPECT_TRUE(EtcdStorage::open(o).error().is(errc::invalid_argument));
    o.endpoints = {"https://127.0.0.1:2379"};
    EXPECT_TRUE(EtcdStorage::open(o).error().is(errc::invalid_argument));
    o.endpoints = {"127.0.0.1"};
    EXPECT_TRUE(EtcdStorage::open(o).error().is(errc::invalid_argument));
    o.endpoints = {"http://127.0.0.1:" + std::to_string(kedge::test::free_port())};
    o.key_prefix = "no-slash";
    EXPECT_TRUE(EtcdStorage::open(o).error().is(errc::invalid_argument));
    o.key_prefix = "/x";
    o.dial_timeout = 300ms;
    auto t0 = std::chrono::steady_clock::now();
    auto none = EtcdStorage::open(o);
    ASSERT_FALSE(none);
    EXPECT_TRUE(none.error().is(errc::unavailable)) << none.error().message();
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 3s);
}

// A watch cache over etcd survives an etcd restart: its watchers keep receiving events.
TEST(EtcdStorage, WatchCacheFollowsAcrossEtcdRestart) {
    TempDir dir;
    EtcdServer etcd(dir.file("etcd"));
    auto s = open_store(etcd);
    ASSERT_TRUE(s);
    WatchCacheOptions wo;
    wo.prefix = "/registry/pods/";
    auto cache = WatchCache::start(*s, wo);
    ASSERT_TRUE(cache) << cache.error().message();
    auto w = (*cache)->watch({.from_revision = s->current_revision()});
    ASSERT_TRUE(w);
    etcd.stop();
    etcd.start();
    auto rev = s->create("/registry/pods/default/p", with_resource_version(pod("p")));
    ASSERT_TRUE(rev) << rev.error().message();
    std::vector<WatchEventPtr> got;
    ASSERT_TRUE(wait_until(
        [&] {
            for (auto& e : (*w)->take()) got.push_back(e);
            return !got.empty();
        },
        15s));
    EXPECT_EQ(got[0]->revision, *rev);
    EXPECT_EQ(rv_of(got[0]->object->value), std::to_string(*rev));
    (*cache)->stop();
}

double ms_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

// 10,000 creates from 16 threads with 20 subscriptions open (one receiving every event), a
// full and a paginated list. Times are printed, not asserted (shared 2-core VM).
TEST(EtcdStorage, TenThousandCreates) {
    TempDir dir;
    EtcdServer etcd(dir.file("etcd"));
    auto s = open_store(etcd);
    ASSERT_TRUE(s);
    constexpr int kObjects = 10'000, kThreads = 16;
    std::atomic<int> events{0};
    auto sub = s->watch_from("/registry/pods/", s->current_revision(),
                             [&](const std::vector<Event>& evs, std::uint64_t) {
                                 events += static_cast<int>(evs.size());
                             });
    ASSERT_TRUE(sub);
    // The server has one subscription per resource type (a watch cache each): 20 streams.
    std::atomic<std::uint64_t> other_progress{0};
    std::vector<std::unique_ptr<Subscription>> others;
    for (int i = 0; i < 19; ++i) {
        auto o = s->watch_from("/registry/other" + std::to_string(i) + "/", s->current_revision(),
                               [&](const std::vector<Event>&, std::uint64_t p) {
                                   other_progress = std::max(other_progress.load(), p);
                               });
        ASSERT_TRUE(o);
        others.push_back(std::move(*o));
    }
    auto t0 = std::chrono::steady_clock::now();
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back([&, t] {
            for (int i = t; i < kObjects; i += kThreads) {
                auto name = "p" + std::to_string(i);
                ASSERT_TRUE(
                    s->create("/registry/pods/ns/" + name, with_resource_version(pod(name))));
            }
        });
    }
    for (auto& t : threads) t.join();
    auto write_ms = ms_since(t0);
    ASSERT_TRUE(wait_until([&] { return events.load() == kObjects; }, 30s)) << events.load();
    ASSERT_TRUE(wait_until([&] { return other_progress.load() == s->current_revision(); }, 30s));
    std::printf(
        "[ perf ] etcd: %d creates from %d threads, 20 subscriptions open: %.0f ms; all events "
        "delivered after %.0f ms\n",
        kObjects, kThreads, write_ms, ms_since(t0));
    auto l0 = std::chrono::steady_clock::now();
    auto all = s->list("/registry/pods/", {});
    ASSERT_TRUE(all);
    EXPECT_EQ(all->items.size(), static_cast<std::size_t>(kObjects));
    std::printf("[ perf ] etcd: list of %d objects: %.1f ms\n", kObjects, ms_since(l0));
    for (auto& kv : all->items) ASSERT_EQ(rv_of(kv.value), std::to_string(kv.mod_rev)) << kv.key;
    l0 = std::chrono::steady_clock::now();
    ListOptions lo;
    lo.limit = 500;
    std::size_t total = 0;
    for (;;) {
        auto page = s->list("/registry/pods/", lo);
        ASSERT_TRUE(page);
        total += page->items.size();
        if (!page->more) break;
        lo.continue_key = page->next_key;
        lo.at_revision = page->revision;
    }
    EXPECT_EQ(total, static_cast<std::size_t>(kObjects));
    std::printf("[ perf ] etcd: paginated list (500 per page): %.1f ms\n", ms_since(l0));

    l0 = std::chrono::steady_clock::now();
    for (int i = 0; i < 200; ++i) {
        ASSERT_TRUE(s->create("/registry/cm/ns/c" + std::to_string(i), pod("c")));
    }
    std::printf("[ perf ] etcd: 200 sequential creates: %.0f ms\n", ms_since(l0));
}

}  // namespace
}  // namespace kedge::apiserver::storage
