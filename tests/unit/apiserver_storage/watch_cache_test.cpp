#include "apiserver/storage/watch_cache.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <boost/json.hpp>
#include <chrono>
#include <cstdio>

#include "apiserver/storage/sqlite_storage.hpp"
#include "support/test_support.hpp"

namespace kedge::apiserver::storage {
namespace {

using namespace std::chrono_literals;
using kedge::test::TempDir;

constexpr const char* kPods = "/registry/pods/";

std::string pod(const std::string& ns, const std::string& name, const std::string& app = "web",
                const std::string& extra = "") {
    return R"({"kind":"Pod","metadata":{"name":")" + name + R"(","namespace":")" + ns +
           R"(","labels":{"app":")" + app + R"("}},"x":")" + extra + R"("})";
}

std::string key(const std::string& ns, const std::string& name) {
    return std::string(kPods) + ns + "/" + name;
}

std::string rv_of(const std::string& json) {
    return std::string(boost::json::parse(json).at("metadata").at("resourceVersion").as_string());
}

// A storage and a pods cache over it.
struct Fixture {
    TempDir dir;
    std::unique_ptr<SqliteStorage> store;
    std::shared_ptr<WatchCache> cache;

    explicit Fixture(std::size_t capacity = 1000) { open(capacity); }
    void open(std::size_t capacity = 1000) {
        cache.reset();
        store.reset();
        SqliteOptions o;
        o.data_dir = dir.file("data");
        o.durability = Durability::kNormal;
        auto s = SqliteStorage::open(o);
        if (!s) throw std::runtime_error(s.error().message());
        store = std::move(*s);
        WatchCacheOptions wo;
        wo.prefix = kPods;
        wo.capacity = capacity;
        wo.fresh_timeout = 200ms;
        auto c = WatchCache::start(*store, wo);
        if (!c) throw std::runtime_error(c.error().message());
        cache = std::move(*c);
    }
    std::uint64_t create(const std::string& ns, const std::string& name,
                         const std::string& app = "web") {
        auto r = store->create(key(ns, name), with_resource_version(pod(ns, name, app)));
        EXPECT_TRUE(r) << r.error().message();
        return r ? *r : 0;
    }
    std::uint64_t update(const std::string& ns, const std::string& name, const std::string& app,
                         const std::string& extra = "") {
        auto r = store->update(key(ns, name), with_resource_version(pod(ns, name, app, extra)), 0);
        EXPECT_TRUE(r) << r.error().message();
        return r ? *r : 0;
    }
};

std::vector<WatchEventPtr> take_n(Watcher& w, std::size_t n) {
    std::vector<WatchEventPtr> out;
    auto deadline = std::chrono::steady_clock::now() + 5s;
    while (out.size() < n && std::chrono::steady_clock::now() < deadline) {
        w.wait_for(100ms);
        for (auto& e : w.take()) out.push_back(e);
    }
    return out;
}

ObjectFilter app_is(std::string app) {
    return [app = std::move(app)](const Object& o) {
        auto it = o.attrs.labels.find("app");
        return it != o.attrs.labels.end() && it->second == app;
    };
}

TEST(WatchCache, ListServesResourceVersionSemantics) {
    Fixture f;
    f.create("a", "p1");
    f.create("a", "p2", "db");
    f.create("b", "p3");
    ASSERT_TRUE(f.store->create("/registry/nodes/n1", pod("", "n1")));  // another resource

    // Unset = most recent: consistent with storage, including the other resource's revision.
    auto l = f.cache->list({});
    ASSERT_TRUE(l) << l.error().message();
    EXPECT_EQ(l->items.size(), 3u);
    EXPECT_EQ(l->revision, 4u);
    EXPECT_FALSE(l->from_storage);
    EXPECT_EQ(rv_of(l->items[0]->value), std::to_string(l->items[0]->mod_rev));

    CacheListOptions any;
    any.resource_version = 0;
    EXPECT_EQ(f.cache->list(any)->items.size(), 3u);

    CacheListOptions ns;
    ns.key_prefix = std::string(kPods) + "a/";
    ns.filter = app_is("db");
    auto filtered = f.cache->list(ns);
    ASSERT_EQ(filtered->items.size(), 1u);
    EXPECT_EQ(filtered->items[0]->key, key("a", "p2"));
    EXPECT_EQ(filtered->items[0]->attrs.fields.at("metadata.namespace"), "a");

    CacheListOptions outside;
    outside.key_prefix = "/registry/nodes/";
    EXPECT_TRUE(f.cache->list(outside).error().is(errc::invalid_argument));

    // NotOlderThan a revision the cache has not reached: "too large resource version".
    CacheListOptions future;
    future.resource_version = 100;
    auto tl = f.cache->list(future);
    ASSERT_FALSE(tl);
    EXPECT_TRUE(tl.error().is(errc::timeout)) << tl.error().message();

    // Exact at an older revision is answered from storage history.
    f.update("a", "p1", "web", "changed");
    CacheListOptions exact;
    exact.resource_version = 2;
    exact.match = RvMatch::kExact;
    auto ex = f.cache->list(exact);
    ASSERT_TRUE(ex) << ex.error().message();
    EXPECT_TRUE(ex->from_storage);
    EXPECT_EQ(ex->revision, 2u);
    ASSERT_EQ(ex->items.size(), 2u);
    EXPECT_EQ(ex->items[0]->mod_rev, 1u);  // p1 as it was
    exact.resource_version = 0;
    EXPECT_TRUE(f.cache->list(exact).error().is(errc::invalid_argument));
}

TEST(WatchCache, PaginatedListIsOneSnapshot) {
    Fixture f;
    for (int i = 0; i < 25; ++i) f.create("a", "p" + std::to_string(100 + i));
    CacheListOptions lo;
    lo.limit = 10;
    auto page = f.cache->list(lo);
    ASSERT_TRUE(page);
    ASSERT_EQ(page->items.size(), 10u);
    ASSERT_TRUE(page->more);
    std::uint64_t snapshot = page->revision;
    std::size_t total = page->items.size();
    ASSERT_TRUE(f.store->remove(key("a", "p120"), 0));
    f.create("a", "p115x");
    while (page->more) {
        CacheListOptions next;
        next.limit = 10;
        next.continue_key = page->next_key;
        next.continue_rev = page->revision;
        page = f.cache->list(next);
        ASSERT_TRUE(page) << page.error().message();
        EXPECT_EQ(page->revision, snapshot);
        total += page->items.size();
    }
    EXPECT_EQ(total, 25u);

    // Paging with a filter counts matching objects only.
    CacheListOptions none;
    none.limit = 5;
    none.filter = app_is("nothing");
    auto empty = f.cache->list(none);
    ASSERT_TRUE(empty);
    EXPECT_TRUE(empty->items.empty());
    EXPECT_FALSE(empty->more);
}

TEST(WatchCache, WatchReplaysFromResourceVersionThenLive) {
    Fixture f;
    auto r1 = f.create("a", "p1");
    auto r2 = f.create("a", "p2");
    auto r3 = f.update("a", "p1", "web", "v2");
    auto w = f.cache->watch({.from_revision = r1});
    ASSERT_TRUE(w) << w.error().message();
    auto evs = take_n(**w, 2);
    ASSERT_EQ(evs.size(), 2u);
    EXPECT_EQ(evs[0]->type, EventType::kAdded);
    EXPECT_EQ(evs[0]->revision, r2);
    EXPECT_EQ(evs[1]->type, EventType::kModified);
    EXPECT_EQ(evs[1]->revision, r3);
    EXPECT_EQ(evs[1]->prev_object->mod_rev, r1);

    auto del = f.store->remove(key("a", "p2"), 0);
    ASSERT_TRUE(del);
    evs = take_n(**w, 1);
    ASSERT_EQ(evs.size(), 1u);
    EXPECT_EQ(evs[0]->type, EventType::kDeleted);
    EXPECT_EQ(evs[0]->revision, del->rev);
    // The deleted object carries the revision of the delete, as Kubernetes sends it.
    EXPECT_EQ(rv_of(evs[0]->object->value), std::to_string(del->rev));
    EXPECT_EQ(f.cache->object_count(), 1u);
}

TEST(WatchCache, TooOldResourceVersionIsExpired) {
    Fixture f(/*capacity=*/5);
    std::uint64_t first = f.create("a", "p0");
    for (int i = 1; i < 20; ++i) f.create("a", "p" + std::to_string(i));
    auto w = f.cache->watch({.from_revision = first});
    ASSERT_FALSE(w);
    EXPECT_TRUE(w.error().is(errc::expired));
    EXPECT_NE(w.error().detail.find("too old resource version"), std::string::npos);
    auto oldest = f.cache->oldest_revision();
    auto ok = f.cache->watch({.from_revision = oldest});
    ASSERT_TRUE(ok) << ok.error().message();
    EXPECT_EQ(take_n(**ok, 5).size(), f.store->current_revision() - oldest);
}

TEST(WatchCache, WatchFromZeroSendsCurrentStateThenLive) {
    Fixture f;
    f.create("a", "p1");
    f.create("a", "p2", "db");
    f.create("b", "p3");
    auto w = f.cache->watch({.from_revision = 0, .key_prefix = std::string(kPods) + "a/"});
    ASSERT_TRUE(w);
    auto evs = take_n(**w, 2);
    ASSERT_EQ(evs.size(), 2u);
    for (auto& e : evs) EXPECT_EQ(e->type, EventType::kAdded);
    EXPECT_EQ(evs[0]->object->key, key("a", "p1"));
    f.create("b", "p4");  // other namespace: not delivered
    auto r = f.create("a", "p5");
    evs = take_n(**w, 1);
    ASSERT_EQ(evs.size(), 1u);
    EXPECT_EQ(evs[0]->revision, r);
    EXPECT_TRUE((*w)->take().empty());
}

TEST(WatchCache, FilteredWatchConvertsSelectionChanges) {
    Fixture f;
    f.create("a", "p1", "web");
    auto w = f.cache->watch({.from_revision = f.store->current_revision(), .filter = app_is("db")});
    ASSERT_TRUE(w);
    auto into = f.update("a", "p1", "db");  // enters the selection -> ADDED
    f.update("a", "p1", "db", "x");         // stays -> MODIFIED
    auto out = f.update("a", "p1", "web");  // leaves -> DELETED with the previous state
    f.update("a", "p1", "web", "y");        // outside -> nothing
    auto evs = take_n(**w, 3);
    ASSERT_EQ(evs.size(), 3u);
    EXPECT_EQ(evs[0]->type, EventType::kAdded);
    EXPECT_EQ(evs[0]->revision, into);
    EXPECT_EQ(evs[1]->type, EventType::kModified);
    EXPECT_EQ(evs[2]->type, EventType::kDeleted);
    EXPECT_EQ(evs[2]->object->attrs.labels.at("app"), "db");
    EXPECT_EQ(rv_of(evs[2]->object->value), std::to_string(out));
    EXPECT_FALSE((*w)->wait_for(50ms));
}

TEST(WatchCache, SlowWatcherIsTerminatedWithoutBlockingWriters) {
    Fixture f;
    std::atomic<int> ready_calls{0};
    auto slow = f.cache->watch({.from_revision = f.store->current_revision(),
                                .queue_capacity = 5,
                                .on_ready = [&] { ++ready_calls; }});
    auto fast = f.cache->watch({.from_revision = f.store->current_revision()});
    ASSERT_TRUE(slow && fast);
    EXPECT_EQ(f.cache->watcher_count(), 2u);
    for (int i = 0; i < 50; ++i) f.create("a", "p" + std::to_string(i));
    EXPECT_TRUE((*slow)->closed());
    ASSERT_TRUE((*slow)->error());
    EXPECT_TRUE((*slow)->error()->is(errc::queue_full));
    EXPECT_EQ((*slow)->take().size(), 5u);  // what was queued before the cut
    EXPECT_GE(ready_calls.load(), 2);       // first event + close
    EXPECT_EQ(f.cache->watcher_count(), 1u);
    EXPECT_FALSE((*fast)->closed());
    EXPECT_EQ(take_n(**fast, 50).size(), 50u);
    (*fast)->stop();
    EXPECT_EQ(f.cache->watcher_count(), 0u);
}

TEST(WatchCache, BookmarkRevisionFollowsProgress) {
    Fixture f;
    f.create("a", "p1");
    auto w = f.cache->watch({.from_revision = f.store->current_revision()});
    ASSERT_TRUE(w);
    EXPECT_EQ((*w)->bookmark_revision(), f.store->current_revision());
    // Writes to another resource move the bookmark without events.
    ASSERT_TRUE(f.store->create("/registry/nodes/n1", pod("", "n1")));
    EXPECT_EQ((*w)->bookmark_revision(), f.store->current_revision());
    f.create("a", "p2");
    EXPECT_FALSE((*w)->bookmark_revision());  // an event is still queued
    EXPECT_EQ((*w)->take().size(), 1u);
    EXPECT_EQ((*w)->bookmark_revision(), f.store->current_revision());
}

TEST(WatchCache, WatchersResumeAfterRestart) {
    Fixture f;
    f.create("a", "p1");
    auto seen = f.create("a", "p2");
    auto w = f.cache->watch({.from_revision = seen});
    ASSERT_TRUE(w);
    auto later = f.update("a", "p1", "db");
    EXPECT_EQ(take_n(**w, 1).size(), 1u);
    w->reset();

    f.open();  // server restart: storage reopened, cache rebuilt from disk
    EXPECT_EQ(f.cache->object_count(), 2u);
    auto resumed = f.cache->watch({.from_revision = seen});
    ASSERT_TRUE(resumed) << resumed.error().message();
    auto evs = take_n(**resumed, 1);
    ASSERT_EQ(evs.size(), 1u);
    EXPECT_EQ(evs[0]->revision, later);
    EXPECT_EQ(evs[0]->type, EventType::kModified);
    auto next = f.create("a", "p3");
    EXPECT_GT(next, later);
    evs = take_n(**resumed, 1);
    ASSERT_EQ(evs.size(), 1u);
    EXPECT_EQ(evs[0]->revision, next);
}

TEST(WatchCache, StopClosesWatchers) {
    Fixture f;
    auto w = f.cache->watch({});
    ASSERT_TRUE(w);
    f.cache->stop();
    EXPECT_TRUE((*w)->closed());
    EXPECT_TRUE((*w)->error()->is(errc::closed));
    EXPECT_TRUE(f.cache->watch({}).error().is(errc::closed));
    f.create("a", "p1");  // the feed is cancelled: no crash, nothing delivered
    EXPECT_TRUE((*w)->take().empty());

    // A watcher may outlive its cache.
    auto w2 = Fixture().cache->watch({});
    ASSERT_TRUE(w2);
    EXPECT_TRUE((*w2)->closed());
    (*w2)->stop();
}

TEST(WatchCache, EventsLeaveTheWindowByAge) {
    TempDir dir;
    FakeClock clock;
    SqliteOptions so;
    so.data_dir = dir.file("data");
    so.durability = Durability::kNormal;
    so.clock = &clock;
    auto store = SqliteStorage::open(so);
    ASSERT_TRUE(store);
    auto& s = **store;
    WatchCacheOptions wo;
    wo.prefix = kPods;
    wo.max_age = 60s;
    wo.clock = &clock;
    auto cache = WatchCache::start(s, wo);
    ASSERT_TRUE(cache);
    auto r1 = s.create(key("a", "p1"), pod("a", "p1"));
    auto r2 = s.create(key("a", "p2"), pod("a", "p2"));
    ASSERT_TRUE(r1 && r2);
    EXPECT_TRUE((*cache)->watch({.from_revision = *r1}));
    clock.advance(61s);
    auto r3 = s.create(key("a", "p3"), pod("a", "p3"));
    ASSERT_TRUE(r3);
    EXPECT_EQ((*cache)->oldest_revision(), *r2);
    auto old = (*cache)->watch({.from_revision = *r1});
    ASSERT_FALSE(old);
    EXPECT_TRUE(old.error().is(errc::expired));
    auto ok = (*cache)->watch({.from_revision = *r2});
    ASSERT_TRUE(ok);
    auto evs = take_n(**ok, 1);
    ASSERT_EQ(evs.size(), 1u);
    EXPECT_EQ(evs[0]->revision, *r3);
}

TEST(WatchCache, TenThousandWatchersShareOneEvent) {
    Fixture f;
    constexpr int kWatchers = 10'000;
    std::vector<std::shared_ptr<Watcher>> watchers;
    watchers.reserve(kWatchers);
    auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < kWatchers; ++i) {
        auto w = f.cache->watch({.from_revision = f.store->current_revision(),
                                 .key_prefix = i % 2 ? std::string(kPods) + "a/" : std::string(),
                                 .filter = i % 3 ? ObjectFilter() : app_is("web")});
        ASSERT_TRUE(w);
        watchers.push_back(std::move(*w));
    }
    auto registered = std::chrono::steady_clock::now();
    f.create("a", "p1");
    auto written = std::chrono::steady_clock::now();
    const WatchEvent* shared = nullptr;
    for (auto& w : watchers) {
        auto evs = w->take();
        ASSERT_EQ(evs.size(), 1u);
        if (!shared) shared = evs[0].get();
        EXPECT_EQ(evs[0].get(), shared);  // one event object fanned out, not copies
    }
    auto ms = [](auto a, auto b) {
        return std::chrono::duration<double, std::milli>(b - a).count();
    };
    std::printf("[ perf ] %d watchers: register %.1f ms, write + fan-out %.2f ms, drain %.1f ms\n",
                kWatchers, ms(t0, registered), ms(registered, written),
                ms(written, std::chrono::steady_clock::now()));
    watchers.clear();
    EXPECT_EQ(f.cache->watcher_count(), 0u);
}

}  // namespace
}  // namespace kedge::apiserver::storage
