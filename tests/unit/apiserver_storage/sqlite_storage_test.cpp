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

// The behaviour every backend shares (CRUD, conflicts, paging, change feed, compaction,
// guaranteed_update) is tested once for SQLite and etcd in
// tests/integration/apiserver_etcd/storage_conformance_test.cpp; this file keeps what is
// SQLite's own: reopening, retention, bulk writes and kill -9 durability.

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

double ms_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
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
