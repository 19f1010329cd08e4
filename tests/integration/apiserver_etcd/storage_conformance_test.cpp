// The Storage contract, run on both backends: SQLite and a real etcd on loopback. Revisions are
// relative to the store's starting revision (etcd starts at 1, SQLite at 0), and the change feed
// is awaited with a deadline (etcd delivers on its own thread).
#include <gtest/gtest.h>

#include <algorithm>
#include <boost/json.hpp>
#include <cstdio>
#include <map>
#include <mutex>
#include <thread>

#include "apiserver/storage/etcd_storage.hpp"
#include "apiserver/storage/sqlite_storage.hpp"
#include "apiserver/storage/watch_cache.hpp"
#include "etcd_server.hpp"
#include "support/test_support.hpp"

namespace kedge::apiserver::storage {
namespace {

using namespace std::chrono_literals;
using kedge::test::TempDir;
using kedge::test::wait_until;

struct SqliteBackend {
    TempDir dir;
    Result<std::unique_ptr<Storage>> open() {
        SqliteOptions o;
        o.data_dir = dir.file("data");
        o.durability = Durability::kNormal;
        auto s = SqliteStorage::open(o);
        if (!s) return s.error();
        return std::unique_ptr<Storage>(std::move(*s));
    }
    static Result<void> compact(Storage& s, std::uint64_t rev) {
        return static_cast<SqliteStorage&>(s).compact(rev);
    }
};

struct EtcdBackend {
    TempDir dir;
    kedge::test::EtcdServer etcd{dir.file("etcd")};
    Result<std::unique_ptr<Storage>> open() {
        auto s = EtcdStorage::open(etcd.options());
        if (!s) return s.error();
        return std::unique_ptr<Storage>(std::move(*s));
    }
    static Result<void> compact(Storage& s, std::uint64_t rev) {
        return static_cast<EtcdStorage&>(s).compact(rev);
    }
};

template <typename Backend>
class StorageConformance : public ::testing::Test {
protected:
    void SetUp() override {
        auto s = backend_.open();
        ASSERT_TRUE(s) << s.error().message();
        store_ = std::move(*s);
        base_ = store_->current_revision();
    }
    Result<void> compact(std::uint64_t rev) { return Backend::compact(*store_, rev); }

    Backend backend_;
    std::unique_ptr<Storage> store_;
    std::uint64_t base_ = 0;  // the revision before the test's first write
};

using Backends = ::testing::Types<SqliteBackend, EtcdBackend>;
class BackendNames {
public:
    template <typename T>
    static std::string GetName(int) {
        return std::is_same_v<T, SqliteBackend> ? "Sqlite" : "Etcd";
    }
};
TYPED_TEST_SUITE(StorageConformance, Backends, BackendNames);

std::string pod(const std::string& name, const std::string& extra = "1") {
    return R"({"kind":"Pod","metadata":{"name":")" + name + R"(","namespace":"default"},"x":")" +
           extra + R"("})";
}

std::string rv_of(const std::string& json) {
    return std::string(boost::json::parse(json).at("metadata").at("resourceVersion").as_string());
}

// Collects a subscription's callbacks.
struct Feed {
    std::mutex mu;
    std::vector<Event> events;
    std::uint64_t progress = 0;
    WatchCallback callback() {
        return [this](const std::vector<Event>& evs, std::uint64_t p) {
            std::lock_guard lk(mu);
            for (const auto& e : evs) events.push_back(e);
            progress = p;
        };
    }
    std::size_t size() {
        std::lock_guard lk(mu);
        return events.size();
    }
    std::uint64_t last_progress() {
        std::lock_guard lk(mu);
        return progress;
    }
};

TYPED_TEST(StorageConformance, CrudWithOptimisticConcurrency) {
    auto& s = this->store_;
    const auto b = this->base_;
    auto r1 = s->create("/registry/pods/default/a", pod("a"));
    ASSERT_TRUE(r1) << r1.error().message();
    EXPECT_EQ(*r1, b + 1);
    auto dup = s->create("/registry/pods/default/a", pod("a"));
    ASSERT_FALSE(dup);
    EXPECT_TRUE(dup.error().is(errc::already_exists));
    EXPECT_EQ(s->current_revision(), b + 1);  // a refused write takes no revision

    auto r2 = s->create("/registry/pods/default/b", pod("b"));
    ASSERT_TRUE(r2);
    EXPECT_EQ(*r2, b + 2);

    auto got = s->get("/registry/pods/default/a");
    ASSERT_TRUE(got);
    EXPECT_EQ(got->key, "/registry/pods/default/a");
    EXPECT_EQ(got->value, pod("a"));
    EXPECT_EQ(got->mod_rev, b + 1);
    EXPECT_EQ(got->create_rev, b + 1);

    auto u = s->update("/registry/pods/default/a", pod("a", "2"), b + 1);
    ASSERT_TRUE(u) << u.error().message();
    EXPECT_EQ(*u, b + 3);
    auto stale = s->update("/registry/pods/default/a", pod("a", "3"), b + 1);
    ASSERT_FALSE(stale);
    EXPECT_TRUE(stale.error().is(errc::conflict)) << stale.error().message();
    auto uncond = s->update("/registry/pods/default/a", pod("a", "4"), 0);
    ASSERT_TRUE(uncond);
    EXPECT_EQ(*uncond, b + 4);
    got = s->get("/registry/pods/default/a");
    EXPECT_EQ(got->value, pod("a", "4"));
    EXPECT_EQ(got->mod_rev, b + 4);
    EXPECT_EQ(got->create_rev, b + 1);

    auto missing = s->update("/registry/pods/default/zz", pod("zz"), 0);
    ASSERT_FALSE(missing);
    EXPECT_TRUE(missing.error().is(errc::not_found));
    EXPECT_TRUE(s->update("/registry/pods/default/zz", pod("zz"), 7).error().is(errc::not_found));

    auto bad_del = s->remove("/registry/pods/default/a", b + 3);
    ASSERT_FALSE(bad_del);
    EXPECT_TRUE(bad_del.error().is(errc::conflict));
    auto del = s->remove("/registry/pods/default/a", b + 4);
    ASSERT_TRUE(del) << del.error().message();
    EXPECT_EQ(del->rev, b + 5);
    EXPECT_EQ(del->prev.key, "/registry/pods/default/a");
    EXPECT_EQ(del->prev.value, pod("a", "4"));
    EXPECT_EQ(del->prev.mod_rev, b + 4);
    EXPECT_TRUE(s->get("/registry/pods/default/a").error().is(errc::not_found));
    EXPECT_TRUE(s->remove("/registry/pods/default/a", 0).error().is(errc::not_found));
    EXPECT_EQ(s->current_revision(), b + 5);

    // A key can be created again after a delete: a new generation with a new create_rev.
    auto again = s->create("/registry/pods/default/a", pod("a"));
    ASSERT_TRUE(again);
    EXPECT_EQ(*again, b + 6);
    EXPECT_EQ(s->get("/registry/pods/default/a")->create_rev, b + 6);
}

TYPED_TEST(StorageConformance, StoredJsonCarriesItsResourceVersion) {
    auto& s = this->store_;
    ASSERT_TRUE(s->create("/registry/pods/default/other", pod("other")));
    auto rev = s->create("/registry/pods/default/a", with_resource_version(pod("a")));
    ASSERT_TRUE(rev);
    auto got = s->get("/registry/pods/default/a");
    ASSERT_TRUE(got);
    EXPECT_EQ(rv_of(got->value), std::to_string(got->mod_rev));
    EXPECT_EQ(got->mod_rev, *rev);

    auto up =
        s->guaranteed_update("/registry/pods/default/a",
                             [](const KeyValue& cur, std::uint64_t new_rev) -> Result<std::string> {
                                 auto v = boost::json::parse(cur.value);
                                 v.as_object()["x"] = "patched";
                                 return set_resource_version(boost::json::serialize(v), new_rev);
                             });
    ASSERT_TRUE(up) << up.error().message();
    got = s->get("/registry/pods/default/a");
    EXPECT_EQ(got->value, up->value);
    EXPECT_EQ(rv_of(got->value), std::to_string(got->mod_rev));
    EXPECT_EQ(up->mod_rev, got->mod_rev);

    // A value function's error aborts the write and takes no revision.
    auto before = s->current_revision();
    auto bad = s->update(
        "/registry/pods/default/a",
        [](std::uint64_t) -> Result<std::string> { return Error(errc::invalid_argument, "no"); },
        0);
    ASSERT_FALSE(bad);
    EXPECT_TRUE(bad.error().is(errc::invalid_argument));
    EXPECT_EQ(s->current_revision(), before);
}

TYPED_TEST(StorageConformance, ListHonoursPrefixBoundaries) {
    auto& s = this->store_;
    for (auto k : {"/registry/pods/a/1", "/registry/pods/b/1", "/registry/podsx/a/1",
                   "/registry/pod/a", "/registry/pods/a/2"}) {
        ASSERT_TRUE(s->create(k, pod(k)));
    }
    auto all = s->list("/registry/pods/", {});
    ASSERT_TRUE(all) << all.error().message();
    ASSERT_EQ(all->items.size(), 3u);
    EXPECT_EQ(all->items[0].key, "/registry/pods/a/1");
    EXPECT_EQ(all->items[1].key, "/registry/pods/a/2");
    EXPECT_EQ(all->items[2].key, "/registry/pods/b/1");
    EXPECT_EQ(all->items[2].value, pod("/registry/pods/b/1"));
    EXPECT_FALSE(all->more);
    EXPECT_EQ(all->revision, this->base_ + 5);
    auto ns = s->list("/registry/pods/a/", {});
    ASSERT_TRUE(ns);
    EXPECT_EQ(ns->items.size(), 2u);
    EXPECT_EQ(s->list("", {})->items.size(), 5u);
    EXPECT_TRUE(s->list("/registry/nothing/", {})->items.empty());
}

TYPED_TEST(StorageConformance, PaginationReturnsOneConsistentSnapshot) {
    auto& s = this->store_;
    std::map<std::string, std::string> original;
    for (int i = 0; i < 25; ++i) {
        char name[16];
        std::snprintf(name, sizeof name, "p%02d", i);
        std::string key = std::string("/registry/pods/default/") + name;
        ASSERT_TRUE(s->create(key, pod(name)));
        original[key] = pod(name);
    }
    ListOptions lo;
    lo.limit = 10;
    auto page = s->list("/registry/pods/", lo);
    ASSERT_TRUE(page);
    EXPECT_EQ(page->items.size(), 10u);
    EXPECT_TRUE(page->more);
    const std::uint64_t snapshot = page->revision;
    std::map<std::string, std::string> seen;
    for (auto& kv : page->items) seen[kv.key] = kv.value;

    // Writes between pages must not show up in later pages of the same list.
    ASSERT_TRUE(s->update("/registry/pods/default/p15", pod("p15", "changed"), 0));
    ASSERT_TRUE(s->remove("/registry/pods/default/p20", 0));
    ASSERT_TRUE(s->create("/registry/pods/default/p12a", pod("p12a")));
    ASSERT_TRUE(s->remove("/registry/pods/default/p03", 0));  // already returned

    int pages = 1;
    while (page->more) {
        lo.continue_key = page->next_key;
        lo.at_revision = page->revision;
        page = s->list("/registry/pods/", lo);
        ASSERT_TRUE(page) << page.error().message();
        ++pages;
        EXPECT_EQ(page->revision, snapshot);
        EXPECT_LE(page->items.size(), 10u);
        for (auto& kv : page->items) {
            EXPECT_FALSE(seen.count(kv.key)) << "duplicate " << kv.key;
            EXPECT_LE(kv.mod_rev, snapshot);
            seen[kv.key] = kv.value;
        }
    }
    EXPECT_EQ(pages, 3);
    EXPECT_EQ(seen, original);

    auto now = s->list("/registry/pods/", {});
    EXPECT_EQ(now->items.size(), 24u);
    EXPECT_EQ(now->revision, snapshot + 4);
}

TYPED_TEST(StorageConformance, ListAtRevisionAndCompaction) {
    auto& s = this->store_;
    for (int i = 0; i < 30; ++i) {
        ASSERT_TRUE(s->update("/registry/cm/a", pod("a", std::to_string(i)), 0) ||
                    s->create("/registry/cm/a", pod("a", std::to_string(i))));
    }
    const auto current = s->current_revision();
    ListOptions kept;
    kept.at_revision = current - 5;
    auto at = s->list("/registry/cm/", kept);
    ASSERT_TRUE(at) << at.error().message();
    ASSERT_EQ(at->items.size(), 1u);
    EXPECT_EQ(at->items[0].mod_rev, current - 5);
    EXPECT_EQ(at->items[0].value, pod("a", "24"));
    EXPECT_EQ(at->revision, current - 5);

    ListOptions future;
    future.at_revision = current + 1;
    auto f = s->list("/registry/cm/", future);
    ASSERT_FALSE(f);
    EXPECT_TRUE(f.error().is(errc::timeout)) << f.error().message();

    ASSERT_TRUE(this->compact(current - 10));
    EXPECT_EQ(s->compacted_revision(), current - 10);
    ListOptions old;
    old.at_revision = current - 11;
    auto gone = s->list("/registry/cm/", old);
    ASSERT_FALSE(gone);
    EXPECT_TRUE(gone.error().is(errc::expired)) << gone.error().message();
    kept.at_revision = current - 10;
    EXPECT_TRUE(s->list("/registry/cm/", kept)) << "the compaction revision itself is readable";

    ASSERT_TRUE(this->compact(current - 20));  // older than the compaction: a no-op
    EXPECT_EQ(s->compacted_revision(), current - 10);
    EXPECT_TRUE(this->compact(current + 5).error().is(errc::invalid_argument));
}

TYPED_TEST(StorageConformance, ChangeFeedDeliversEveryWriteInOrder) {
    auto& s = this->store_;
    const auto b = this->base_;
    ASSERT_TRUE(s->create("/registry/pods/a", pod("a")));
    ASSERT_TRUE(s->create("/registry/nodes/n1", pod("n1")));
    ASSERT_TRUE(s->update("/registry/pods/a", pod("a", "2"), 0));

    Feed feed;
    auto sub = s->watch_from("/registry/pods/", b, feed.callback());
    ASSERT_TRUE(sub) << sub.error().message();
    ASSERT_TRUE(wait_until([&] { return feed.size() >= 2 && feed.last_progress() >= b + 3; }));
    {
        std::lock_guard lk(feed.mu);
        ASSERT_EQ(feed.events.size(), 2u);  // replayed history, nodes filtered out
        EXPECT_EQ(feed.events[0].type, EventType::kAdded);
        EXPECT_EQ(feed.events[0].value, pod("a"));
        EXPECT_EQ(feed.events[0].create_rev, b + 1);
        EXPECT_EQ(feed.events[1].type, EventType::kModified);
        EXPECT_EQ(feed.events[1].value, pod("a", "2"));
        EXPECT_EQ(feed.events[1].prev_value, pod("a"));
        EXPECT_EQ(feed.events[1].prev_mod_rev, b + 1);
        EXPECT_EQ(feed.progress, b + 3);
    }

    constexpr int kThreads = 4, kPerThread = 25;
    std::vector<std::thread> writers;
    for (int t = 0; t < kThreads; ++t) {
        writers.emplace_back([&, t] {
            for (int i = 0; i < kPerThread; ++i) {
                auto key = "/registry/pods/t" + std::to_string(t) + "-" + std::to_string(i);
                ASSERT_TRUE(s->create(key, pod(key)));
                ASSERT_TRUE(s->create("/registry/nodes/" + key, pod(key)));
                if (i % 2) ASSERT_TRUE(s->remove(key, 0));
            }
        });
    }
    for (auto& w : writers) w.join();
    ASSERT_TRUE(s->remove("/registry/nodes/n1", 0));  // another prefix: progress only
    const auto last = s->current_revision();
    const std::size_t expected = 2u + kThreads * kPerThread + kThreads * (kPerThread / 2);
    ASSERT_TRUE(wait_until([&] { return feed.last_progress() >= last; }))
        << feed.last_progress() << " < " << last;
    {
        std::lock_guard lk(feed.mu);
        ASSERT_EQ(feed.events.size(), expected);
        for (std::size_t i = 1; i < feed.events.size(); ++i) {
            EXPECT_LT(feed.events[i - 1].mod_rev, feed.events[i].mod_rev);
            EXPECT_EQ(feed.events[i].key.rfind("/registry/pods/", 0), 0u);
        }
        EXPECT_EQ(feed.progress, last);  // progress even for other prefixes' writes
        auto deleted = std::count_if(feed.events.begin(), feed.events.end(),
                                     [](const Event& e) { return e.type == EventType::kDeleted; });
        EXPECT_EQ(deleted, kThreads * (kPerThread / 2));
        for (auto& e : feed.events) {
            if (e.type == EventType::kDeleted) {
                EXPECT_TRUE(e.value.empty());
                EXPECT_EQ(e.prev_value, pod(e.key));
                EXPECT_EQ(e.create_rev, e.prev_mod_rev);  // created, then deleted
            }
        }
    }
    sub.value()->cancel();
    std::size_t before = feed.size();
    ASSERT_TRUE(s->create("/registry/pods/after", pod("after")));
    // Give a (wrong) late delivery the chance to show: a second, live subscription sees it.
    Feed probe;
    auto sub2 = s->watch_from("/registry/pods/", last, probe.callback());
    ASSERT_TRUE(sub2);
    ASSERT_TRUE(wait_until([&] { return probe.size() == 1; }));
    EXPECT_EQ(feed.size(), before);
}

TYPED_TEST(StorageConformance, WatchFromCompactedRevisionIsExpired) {
    auto& s = this->store_;
    for (int i = 0; i < 20; ++i) ASSERT_TRUE(s->create("/k/" + std::to_string(i), pod("x")));
    const auto current = s->current_revision();
    ASSERT_TRUE(this->compact(current - 5));
    Feed none;
    auto old = s->watch_from("/k/", current - 6, none.callback());
    ASSERT_FALSE(old);
    EXPECT_TRUE(old.error().is(errc::expired)) << old.error().message();
    EXPECT_TRUE(s->watch_from("/k/", 0, none.callback()).error().is(errc::expired));

    Feed feed;
    auto ok = s->watch_from("/k/", s->compacted_revision(), feed.callback());
    ASSERT_TRUE(ok) << ok.error().message();
    ASSERT_TRUE(wait_until([&] { return feed.size() == 5; }));
    std::lock_guard lk(feed.mu);
    EXPECT_EQ(feed.events.front().mod_rev, current - 4);
    EXPECT_EQ(feed.events.back().mod_rev, current);
}

TYPED_TEST(StorageConformance, GuaranteedUpdateRetriesOnConflict) {
    auto& s = this->store_;
    ASSERT_TRUE(s->create("/counter", "0"));
    constexpr int kThreads = 4, kIncrements = 25;
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back([&] {
            for (int i = 0; i < kIncrements; ++i) {
                auto r = s->guaranteed_update(
                    "/counter",
                    [](const KeyValue& cur, std::uint64_t) -> Result<std::string> {
                        return std::to_string(std::stoi(cur.value) + 1);
                    },
                    1000);
                ASSERT_TRUE(r) << r.error().message();
            }
        });
    }
    for (auto& t : threads) t.join();
    EXPECT_EQ(s->get("/counter")->value, std::to_string(kThreads * kIncrements));
    EXPECT_TRUE(
        s->guaranteed_update(
             "/nope", [](const KeyValue&, std::uint64_t) { return Result<std::string>("x"); })
            .error()
            .is(errc::not_found));
}

// The watch cache on top of each backend: list (most recent, consistent with writes to other
// resources), watch from a revision, and 410 for a revision older than the window.
TYPED_TEST(StorageConformance, WatchCacheListWatchAndExpired) {
    auto& s = this->store_;
    WatchCacheOptions wo;
    wo.prefix = "/registry/pods/";
    wo.capacity = 5;
    wo.fresh_timeout = 3s;
    auto started = WatchCache::start(*s, wo);
    ASSERT_TRUE(started) << started.error().message();
    auto cache = *started;

    std::uint64_t first = 0;
    for (int i = 0; i < 10; ++i) {
        auto r = s->create("/registry/pods/default/p" + std::to_string(i),
                           with_resource_version(pod("p" + std::to_string(i))));
        ASSERT_TRUE(r);
        if (i == 0) first = *r;
    }
    ASSERT_TRUE(s->create("/registry/nodes/n1", pod("n1")));  // another resource, last write
    auto t0 = std::chrono::steady_clock::now();
    auto l = cache->list({});
    ASSERT_TRUE(l) << l.error().message();
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 2s) << "the cache never caught up";
    EXPECT_FALSE(l->from_storage);
    EXPECT_EQ(l->revision, s->current_revision());
    ASSERT_EQ(l->items.size(), 10u);
    for (auto& o : l->items) EXPECT_EQ(rv_of(o->value), std::to_string(o->mod_rev));

    auto old = cache->watch({.from_revision = first});
    ASSERT_FALSE(old);
    EXPECT_TRUE(old.error().is(errc::expired));

    auto w = cache->watch({.from_revision = cache->oldest_revision()});
    ASSERT_TRUE(w) << w.error().message();
    auto upd = s->update("/registry/pods/default/p3", with_resource_version(pod("p3", "v2")), 0);
    ASSERT_TRUE(upd);
    std::vector<WatchEventPtr> got;
    ASSERT_TRUE(wait_until([&] {
        for (auto& e : (*w)->take()) got.push_back(e);
        return !got.empty() && got.back()->revision == *upd;
    }));
    EXPECT_EQ(got.back()->type, EventType::kModified);
    EXPECT_EQ(rv_of(got.back()->object->value), std::to_string(*upd));
    for (std::size_t i = 1; i < got.size(); ++i) EXPECT_LT(got[i - 1]->revision, got[i]->revision);
    cache->stop();
}

}  // namespace
}  // namespace kedge::apiserver::storage
