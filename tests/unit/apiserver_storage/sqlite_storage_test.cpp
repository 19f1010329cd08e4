#include "apiserver/storage/sqlite_storage.hpp"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <boost/json.hpp>
#include <chrono>
#include <cstdio>
#include <map>
#include <mutex>
#include <thread>

#include "support/test_support.hpp"

namespace kedge::apiserver::storage {
namespace {

using namespace std::chrono_literals;
using kedge::test::TempDir;

std::unique_ptr<SqliteStorage> open_store(const TempDir& dir, Durability d = Durability::kNormal,
                                          std::uint64_t retain = 10'000) {
    SqliteOptions o;
    o.data_dir = dir.file("data");
    o.durability = d;
    o.retain_revisions = retain;
    auto s = SqliteStorage::open(o);
    if (!s) ADD_FAILURE() << s.error().message();
    return s ? std::move(*s) : nullptr;
}

std::string pod(const std::string& name, const std::string& extra = "1") {
    return R"({"kind":"Pod","metadata":{"name":")" + name + R"(","namespace":"default"},"x":")" +
           extra + R"("})";
}

std::string rv_of(const std::string& json) {
    return std::string(boost::json::parse(json).at("metadata").at("resourceVersion").as_string());
}

double ms_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

TEST(SqliteStorage, CrudWithOptimisticConcurrency) {
    TempDir dir;
    auto s = open_store(dir);
    ASSERT_TRUE(s);
    EXPECT_EQ(s->current_revision(), 0u);

    auto r1 = s->create("/registry/pods/default/a", pod("a"));
    ASSERT_TRUE(r1) << r1.error().message();
    EXPECT_EQ(*r1, 1u);
    auto dup = s->create("/registry/pods/default/a", pod("a"));
    ASSERT_FALSE(dup);
    EXPECT_TRUE(dup.error().is(errc::already_exists));
    EXPECT_EQ(s->current_revision(), 1u);  // a refused write takes no revision

    auto r2 = s->create("/registry/pods/default/b", pod("b"));
    ASSERT_TRUE(r2);
    EXPECT_EQ(*r2, 2u);

    auto got = s->get("/registry/pods/default/a");
    ASSERT_TRUE(got);
    EXPECT_EQ(got->value, pod("a"));
    EXPECT_EQ(got->mod_rev, 1u);
    EXPECT_EQ(got->create_rev, 1u);

    auto u = s->update("/registry/pods/default/a", pod("a", "2"), 1);
    ASSERT_TRUE(u) << u.error().message();
    EXPECT_EQ(*u, 3u);
    auto stale = s->update("/registry/pods/default/a", pod("a", "3"), 1);
    ASSERT_FALSE(stale);
    EXPECT_TRUE(stale.error().is(errc::conflict)) << stale.error().message();
    auto uncond = s->update("/registry/pods/default/a", pod("a", "4"), 0);
    ASSERT_TRUE(uncond);
    EXPECT_EQ(*uncond, 4u);
    got = s->get("/registry/pods/default/a");
    EXPECT_EQ(got->value, pod("a", "4"));
    EXPECT_EQ(got->mod_rev, 4u);
    EXPECT_EQ(got->create_rev, 1u);

    auto missing = s->update("/registry/pods/default/zz", pod("zz"), 0);
    ASSERT_FALSE(missing);
    EXPECT_TRUE(missing.error().is(errc::not_found));

    auto bad_del = s->remove("/registry/pods/default/a", 3);
    ASSERT_FALSE(bad_del);
    EXPECT_TRUE(bad_del.error().is(errc::conflict));
    auto del = s->remove("/registry/pods/default/a", 4);
    ASSERT_TRUE(del) << del.error().message();
    EXPECT_EQ(del->rev, 5u);
    EXPECT_EQ(del->prev.value, pod("a", "4"));
    EXPECT_EQ(del->prev.mod_rev, 4u);
    EXPECT_TRUE(s->get("/registry/pods/default/a").error().is(errc::not_found));
    EXPECT_TRUE(s->remove("/registry/pods/default/a", 0).error().is(errc::not_found));

    // A key can be created again after a delete: a new generation with a new create_rev.
    auto again = s->create("/registry/pods/default/a", pod("a"));
    ASSERT_TRUE(again);
    EXPECT_EQ(*again, 6u);
    EXPECT_EQ(s->get("/registry/pods/default/a")->create_rev, 6u);
}

TEST(SqliteStorage, StoredJsonCarriesItsResourceVersion) {
    TempDir dir;
    auto s = open_store(dir);
    ASSERT_TRUE(s);
    ASSERT_TRUE(s->create("/registry/pods/default/other", pod("other")));
    auto rev = s->create("/registry/pods/default/a", with_resource_version(pod("a")));
    ASSERT_TRUE(rev);
    auto got = s->get("/registry/pods/default/a");
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
    EXPECT_TRUE(set_resource_version("[1,2]", 3).error().is(errc::parse_error));
}

TEST(SqliteStorage, RevisionContinuesUpwardAfterReopen) {
    TempDir dir;
    std::uint64_t last = 0;
    {
        auto s = open_store(dir, Durability::kFull);
        ASSERT_TRUE(s);
        for (int i = 0; i < 5; ++i) {
            ASSERT_TRUE(s->create("/registry/cm/default/c" + std::to_string(i), pod("c")));
        }
        // The last write is a delete, so no stored key carries the highest revision.
        auto del = s->remove("/registry/cm/default/c4", 0);
        ASSERT_TRUE(del);
        last = del->rev;
        EXPECT_EQ(last, 6u);

        // A second process (or a second open) of the same data dir is refused.
        SqliteOptions o;
        o.data_dir = dir.file("data");
        auto second = SqliteStorage::open(o);
        ASSERT_FALSE(second);
        EXPECT_TRUE(second.error().is(errc::unavailable)) << second.error().message();
    }
    auto s = open_store(dir, Durability::kFull);
    ASSERT_TRUE(s);
    EXPECT_EQ(s->current_revision(), last);
    auto next = s->create("/registry/cm/default/new", pod("new"));
    ASSERT_TRUE(next);
    EXPECT_EQ(*next, last + 1);
    EXPECT_TRUE(s->get("/registry/cm/default/c3"));
    EXPECT_FALSE(s->get("/registry/cm/default/c4"));
}

TEST(SqliteStorage, ListHonoursPrefixBoundaries) {
    TempDir dir;
    auto s = open_store(dir);
    ASSERT_TRUE(s);
    for (auto k : {"/registry/pods/a/1", "/registry/pods/b/1", "/registry/podsx/a/1",
                   "/registry/pod/a", "/registry/pods/a/2"}) {
        ASSERT_TRUE(s->create(k, pod(k)));
    }
    auto all = s->list("/registry/pods/", {});
    ASSERT_TRUE(all);
    ASSERT_EQ(all->items.size(), 3u);
    EXPECT_EQ(all->items[0].key, "/registry/pods/a/1");
    EXPECT_EQ(all->items[1].key, "/registry/pods/a/2");
    EXPECT_EQ(all->items[2].key, "/registry/pods/b/1");
    EXPECT_FALSE(all->more);
    EXPECT_EQ(all->revision, 5u);
    auto ns = s->list("/registry/pods/a/", {});
    ASSERT_EQ(ns->items.size(), 2u);
    EXPECT_EQ(s->list("", {})->items.size(), 5u);
    EXPECT_EQ(prefix_end("/a/"), "/a0");
    EXPECT_EQ(prefix_end(std::string("a\xff", 2)), "b");
}

TEST(SqliteStorage, PaginationReturnsOneConsistentSnapshot) {
    TempDir dir;
    auto s = open_store(dir);
    ASSERT_TRUE(s);
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

    while (page->more) {
        lo.continue_key = page->next_key;
        lo.at_revision = page->revision;
        page = s->list("/registry/pods/", lo);
        ASSERT_TRUE(page) << page.error().message();
        EXPECT_EQ(page->revision, snapshot);
        EXPECT_LE(page->items.size(), 10u);
        for (auto& kv : page->items) {
            EXPECT_FALSE(seen.count(kv.key)) << "duplicate " << kv.key;
            EXPECT_LE(kv.mod_rev, snapshot);
            seen[kv.key] = kv.value;
        }
    }
    EXPECT_EQ(seen, original);

    // The latest state has the changes.
    auto now = s->list("/registry/pods/", {});
    EXPECT_EQ(now->items.size(), 24u);
    EXPECT_EQ(now->revision, snapshot + 4);
}

TEST(SqliteStorage, ListAtRevisionLimits) {
    TempDir dir;
    auto s = open_store(dir, Durability::kNormal, /*retain=*/10);
    ASSERT_TRUE(s);
    for (int i = 0; i < 30; ++i) {
        ASSERT_TRUE(s->update("/registry/cm/a", pod("a", std::to_string(i)), 0) ||
                    s->create("/registry/cm/a", pod("a", std::to_string(i))));
    }
    EXPECT_GT(s->compacted_revision(), 0u);
    EXPECT_GE(s->current_revision() - s->compacted_revision(), 10u);

    ListOptions old;
    old.at_revision = s->compacted_revision() - 1;
    auto gone = s->list("/registry/cm/", old);
    ASSERT_FALSE(gone);
    EXPECT_TRUE(gone.error().is(errc::expired)) << gone.error().message();

    ListOptions kept;
    kept.at_revision = s->current_revision() - 5;
    auto at = s->list("/registry/cm/", kept);
    ASSERT_TRUE(at) << at.error().message();
    ASSERT_EQ(at->items.size(), 1u);
    EXPECT_EQ(at->items[0].mod_rev, s->current_revision() - 5);

    ListOptions future;
    future.at_revision = s->current_revision() + 1;
    auto f = s->list("/registry/cm/", future);
    ASSERT_FALSE(f);
    EXPECT_TRUE(f.error().is(errc::timeout));

    ASSERT_TRUE(s->compact(s->current_revision() - 2));
    EXPECT_EQ(s->compacted_revision(), s->current_revision() - 2);
    EXPECT_TRUE(s->compact(s->current_revision() + 5).error().is(errc::invalid_argument));
}

TEST(SqliteStorage, HistoryOlderThanRetainForIsCompacted) {
    TempDir dir;
    FakeClock clock;
    SqliteOptions o;
    o.data_dir = dir.file("data");
    o.durability = Durability::kNormal;
    o.retain_revisions = 0;  // by age only
    o.retain_for = 60s;
    o.clock = &clock;
    auto s = SqliteStorage::open(o);
    ASSERT_TRUE(s);
    for (int i = 0; i < 3; ++i) ASSERT_TRUE((*s)->create("/k/" + std::to_string(i), "{}"));
    EXPECT_EQ((*s)->compacted_revision(), 0u);
    clock.advance(61s);
    ASSERT_TRUE((*s)->create("/k/new", "{}"));
    EXPECT_EQ((*s)->compacted_revision(), 3u);
    auto cb = [](const std::vector<Event>&, std::uint64_t) {};
    EXPECT_TRUE((*s)->watch_from("/k/", 2, cb).error().is(errc::expired));
    EXPECT_TRUE((*s)->watch_from("/k/", 3, cb));
}

TEST(SqliteStorage, ChangeFeedDeliversEveryWriteInOrder) {
    TempDir dir;
    auto s = open_store(dir);
    ASSERT_TRUE(s);
    ASSERT_TRUE(s->create("/registry/pods/a", pod("a")));
    ASSERT_TRUE(s->create("/registry/nodes/n1", pod("n1")));
    ASSERT_TRUE(s->update("/registry/pods/a", pod("a", "2"), 0));

    std::mutex mu;
    std::vector<Event> got;
    std::uint64_t progress = 0;
    auto sub =
        s->watch_from("/registry/pods/", 0, [&](const std::vector<Event>& evs, std::uint64_t p) {
            std::lock_guard lk(mu);
            for (auto& e : evs) got.push_back(e);
            progress = p;
        });
    ASSERT_TRUE(sub) << sub.error().message();
    {
        std::lock_guard lk(mu);
        ASSERT_EQ(got.size(), 2u);  // replayed history, nodes filtered out
        EXPECT_EQ(got[0].type, EventType::kAdded);
        EXPECT_EQ(got[1].type, EventType::kModified);
        EXPECT_EQ(got[1].prev_value, pod("a"));
        EXPECT_EQ(got[1].prev_mod_rev, 1u);
        EXPECT_EQ(progress, 3u);
    }

    constexpr int kThreads = 4, kPerThread = 50;
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
    ASSERT_TRUE(s->remove("/registry/nodes/n1", 0));

    {
        std::lock_guard lk(mu);
        ASSERT_EQ(got.size(), 2u + kThreads * kPerThread * 3 / 2);
        for (std::size_t i = 1; i < got.size(); ++i) {
            EXPECT_LT(got[i - 1].mod_rev, got[i].mod_rev);
            EXPECT_EQ(got[i].key.rfind("/registry/pods/", 0), 0u);
        }
        EXPECT_EQ(progress, s->current_revision());  // progress even for other prefixes' writes
        auto deleted = std::count_if(got.begin(), got.end(),
                                     [](const Event& e) { return e.type == EventType::kDeleted; });
        EXPECT_EQ(deleted, kThreads * kPerThread / 2);
        for (auto& e : got) {
            if (e.type == EventType::kDeleted) {
                EXPECT_TRUE(e.value.empty());
                EXPECT_EQ(e.prev_value, pod(e.key));
            }
        }
    }
    // Not under mu: the callback takes mu inside the feed lock that cancel() takes.
    sub.value()->cancel();
    std::size_t before = got.size();
    ASSERT_TRUE(s->create("/registry/pods/after", pod("after")));
    std::lock_guard lk(mu);
    EXPECT_EQ(got.size(), before);
}

TEST(SqliteStorage, WatchFromCompactedRevisionIsExpired) {
    TempDir dir;
    auto s = open_store(dir, Durability::kNormal, /*retain=*/10);
    ASSERT_TRUE(s);
    for (int i = 0; i < 40; ++i) ASSERT_TRUE(s->create("/k/" + std::to_string(i), pod("x")));
    auto cb = [](const std::vector<Event>&, std::uint64_t) {};
    auto old = s->watch_from("/k/", 1, cb);
    ASSERT_FALSE(old);
    EXPECT_TRUE(old.error().is(errc::expired)) << old.error().message();
    std::size_t n = 0;
    auto ok = s->watch_from("/k/", s->compacted_revision(),
                            [&](const std::vector<Event>& evs, std::uint64_t) { n += evs.size(); });
    ASSERT_TRUE(ok) << ok.error().message();
    EXPECT_EQ(n, s->current_revision() - s->compacted_revision());
}

TEST(SqliteStorage, GuaranteedUpdateRetriesOnConflict) {
    TempDir dir;
    auto s = open_store(dir);
    ASSERT_TRUE(s);
    ASSERT_TRUE(s->create("/counter", "0"));
    constexpr int kThreads = 4, kIncrements = 50;
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

// Throughput of 10,000 creates: sequential with synchronous=NORMAL, and concurrent writers with
// synchronous=FULL where group commit shares each fsync. Times are printed, not asserted.
TEST(SqliteStorage, TenThousandCreates) {
    constexpr int kObjects = 10'000;
    {
        TempDir dir;
        auto s = open_store(dir, Durability::kNormal);
        ASSERT_TRUE(s);
        auto t0 = std::chrono::steady_clock::now();
        for (int i = 0; i < kObjects; ++i) {
            ASSERT_TRUE(s->create("/registry/pods/ns/p" + std::to_string(i),
                                  with_resource_version(pod("p" + std::to_string(i)))));
        }
        std::printf("[ perf ] %d sequential creates, synchronous=NORMAL: %.0f ms\n", kObjects,
                    ms_since(t0));
        auto l0 = std::chrono::steady_clock::now();
        auto all = s->list("/registry/pods/", {});
        ASSERT_TRUE(all);
        EXPECT_EQ(all->items.size(), static_cast<std::size_t>(kObjects));
        std::printf("[ perf ] list of %d objects: %.1f ms\n", kObjects, ms_since(l0));
    }
    {
        TempDir dir;
        auto s = open_store(dir, Durability::kFull);
        ASSERT_TRUE(s);
        constexpr int kThreads = 16;
        auto t0 = std::chrono::steady_clock::now();
        std::vector<std::thread> threads;
        for (int t = 0; t < kThreads; ++t) {
            threads.emplace_back([&, t] {
                for (int i = t; i < kObjects; i += kThreads) {
                    ASSERT_TRUE(s->create("/registry/pods/ns/p" + std::to_string(i),
                                          with_resource_version(pod("p" + std::to_string(i)))));
                }
            });
        }
        for (auto& t : threads) t.join();
        auto st = s->stats();
        std::printf(
            "[ perf ] %d creates from %d threads, synchronous=FULL: %.0f ms, %llu "
            "commits\n",
            kObjects, kThreads, ms_since(t0), static_cast<unsigned long long>(st.commits));
        EXPECT_EQ(st.writes, static_cast<std::uint64_t>(kObjects));
        EXPECT_EQ(s->current_revision(), static_cast<std::uint64_t>(kObjects));
        EXPECT_EQ(s->list("/registry/pods/", {})->items.size(), static_cast<std::size_t>(kObjects));
    }
    {
        TempDir dir;
        auto s = open_store(dir, Durability::kFull);
        ASSERT_TRUE(s);
        auto t0 = std::chrono::steady_clock::now();
        for (int i = 0; i < 200; ++i) {
            ASSERT_TRUE(s->create("/registry/pods/ns/p" + std::to_string(i), pod("p")));
        }
        std::printf("[ perf ] 200 sequential creates, synchronous=FULL: %.0f ms\n", ms_since(t0));
    }
}

// A child process writes in a loop and reports each acknowledged revision over a pipe; the parent
// kill -9s it mid-stream, reopens the database and finds every acknowledged write.
void durability_round(Durability durability) {
    TempDir dir;
    int fds[2];
    ASSERT_EQ(::pipe(fds), 0);
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
        ::close(fds[0]);
        SqliteOptions o;
        o.data_dir = dir.file("data");
        o.durability = durability;
        auto s = SqliteStorage::open(o);
        if (!s) ::_exit(2);
        for (std::uint64_t i = 0;; ++i) {
            auto key = "/registry/pods/ns/p" + std::to_string(i % 500);
            auto rev = (*s)->update(key, pod(key, std::to_string(i)), 0);
            if (!rev) rev = (*s)->create(key, pod(key, std::to_string(i)));
            if (!rev) ::_exit(3);
            std::uint64_t msg[2] = {i, *rev};
            if (::write(fds[1], msg, sizeof msg) != sizeof msg) ::_exit(4);
        }
    }
    ::close(fds[1]);
    std::map<std::uint64_t, std::uint64_t> acked;  // i -> rev
    std::uint64_t msg[2];
    while (acked.size() < 1500 && ::read(fds[0], msg, sizeof msg) == sizeof msg) {
        acked[msg[0]] = msg[1];
    }
    ASSERT_EQ(::kill(pid, SIGKILL), 0);
    // Acknowledgements already in the pipe count too.
    while (::read(fds[0], msg, sizeof msg) == sizeof msg) acked[msg[0]] = msg[1];
    int status = 0;
    ::waitpid(pid, &status, 0);
    ::close(fds[0]);
    ASSERT_TRUE(WIFSIGNALED(status)) << "child exited with " << WEXITSTATUS(status);
    ASSERT_GE(acked.size(), 1500u);

    auto s = open_store(dir, durability);
    ASSERT_TRUE(s);
    std::uint64_t max_rev = 0;
    // The newest acknowledged write of each key must be there (a later unacknowledged one may
    // have landed too, with a higher revision).
    std::map<std::string, std::pair<std::uint64_t, std::uint64_t>> newest;  // key -> (i, rev)
    for (auto [i, rev] : acked) {
        newest["/registry/pods/ns/p" + std::to_string(i % 500)] = {i, rev};
        max_rev = std::max(max_rev, rev);
    }
    EXPECT_GE(s->current_revision(), max_rev);
    for (auto& [key, ir] : newest) {
        auto got = s->get(key);
        ASSERT_TRUE(got) << key;
        EXPECT_GE(got->mod_rev, ir.second) << key;
        if (got->mod_rev == ir.second) EXPECT_EQ(got->value, pod(key, std::to_string(ir.first)));
    }
    // Every acknowledged revision is in the history, in order, with its value.
    std::map<std::uint64_t, std::string> history;
    auto sub =
        s->watch_from("/registry/pods/", 0, [&](const std::vector<Event>& evs, std::uint64_t) {
            for (auto& e : evs) history[e.mod_rev] = e.value;
        });
    ASSERT_TRUE(sub) << sub.error().message();
    for (auto [i, rev] : acked) {
        ASSERT_TRUE(history.count(rev)) << "acknowledged revision " << rev << " lost";
        EXPECT_EQ(history[rev],
                  pod("/registry/pods/ns/p" + std::to_string(i % 500), std::to_string(i)));
    }
    auto next = s->create("/registry/pods/ns/after", pod("after"));
    ASSERT_TRUE(next);
    EXPECT_GT(*next, max_rev);
    std::printf("[ info ] %zu acknowledged writes survived kill -9 (revision %llu)\n", acked.size(),
                static_cast<unsigned long long>(s->current_revision()));
}

TEST(SqliteStorage, AcknowledgedWritesSurviveKill9Full) { durability_round(Durability::kFull); }
TEST(SqliteStorage, AcknowledgedWritesSurviveKill9Normal) { durability_round(Durability::kNormal); }

}  // namespace
}  // namespace kedge::apiserver::storage
