#include "apiserver/storage/sqlite_storage.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstring>
#include <filesystem>
#include <map>
#include <mutex>
#include <optional>

#include "base/log.hpp"
#include "sqlite/sqlite_db.hpp"

namespace kedge::apiserver::storage {

using kedge::sqlite::Db;
using kedge::sqlite::Stmt;
using kedge::sqlite::StmtUse;

namespace {

constexpr int kSchemaVersion = 1;

constexpr std::string_view kSchema = R"sql(
CREATE TABLE IF NOT EXISTS kv(
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL,
  mod_rev INTEGER NOT NULL,
  create_rev INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS events(
  rev INTEGER PRIMARY KEY,
  key TEXT NOT NULL,
  type INTEGER NOT NULL,
  value TEXT,
  create_rev INTEGER NOT NULL,
  prev_value TEXT,
  prev_mod_rev INTEGER NOT NULL,
  ts INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS meta(name TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
INSERT OR IGNORE INTO meta(name, value) VALUES ('revision', 0), ('compacted', 0), ('schema', 1);
)sql";

std::int64_t to_i64(std::uint64_t v) { return static_cast<std::int64_t>(v); }
std::uint64_t to_u64(std::int64_t v) { return static_cast<std::uint64_t>(v); }

bool has_prefix(std::string_view key, std::string_view prefix) {
    return key.substr(0, prefix.size()) == prefix;
}

// One reader connection with its prepared statements.
struct Reader {
    Db db;
    Stmt get, meta, scan_bounded, scan_open, events_after, events_range;

    static Result<std::unique_ptr<Reader>> open(const std::string& path, int busy_ms) {
        auto db = Db::open(path, false, busy_ms);
        if (!db) return db.error();
        auto r = std::make_unique<Reader>(Reader{std::move(*db), {}, {}, {}, {}, {}, {}});
        struct {
            Stmt* s;
            const char* sql;
        } stmts[] = {
            {&r->get, "SELECT value, mod_rev, create_rev FROM kv WHERE key = ?1"},
            {&r->meta, "SELECT name, value FROM meta"},
            {&r->scan_bounded,
             "SELECT key, value, mod_rev, create_rev FROM kv WHERE key >= ?1 AND key < ?2 "
             "ORDER BY key"},
            {&r->scan_open,
             "SELECT key, value, mod_rev, create_rev FROM kv WHERE key >= ?1 ORDER BY key"},
            {&r->events_after,
             "SELECT rev, key, type, prev_value, prev_mod_rev, create_rev FROM events "
             "WHERE rev > ?1 ORDER BY rev"},
            {&r->events_range,
             "SELECT rev, key, type, value, create_rev, prev_value, prev_mod_rev FROM events "
             "WHERE rev > ?1 AND rev <= ?2 ORDER BY rev"},
        };
        for (auto& s : stmts) {
            auto p = Stmt::prepare(r->db, s.sql);
            if (!p) return p.error();
            *s.s = std::move(*p);
        }
        return r;
    }

    // (revision, compacted) as of the current read transaction.
    Result<std::pair<std::uint64_t, std::uint64_t>> read_meta() {
        StmtUse use(meta);
        std::uint64_t rev = 0, compacted = 0;
        for (;;) {
            auto row = meta.step();
            if (!row) return row.error();
            if (!*row) break;
            auto name = meta.column_text(0);
            if (name == "revision") rev = to_u64(meta.column_int(1));
            if (name == "compacted") compacted = to_u64(meta.column_int(1));
        }
        return std::pair{rev, compacted};
    }
};

// A read transaction (a consistent snapshot across statements); ends with the scope.
class ReadTxn {
  public:
    explicit ReadTxn(Reader& r) : r_(r) { ok_ = static_cast<bool>(r_.db.exec("BEGIN")); }
    ~ReadTxn() {
        if (ok_) (void)r_.db.exec("COMMIT");
    }
    ReadTxn(const ReadTxn&) = delete;
    ReadTxn& operator=(const ReadTxn&) = delete;
    bool ok() const { return ok_; }

  private:
    Reader& r_;
    bool ok_ = false;
};

Event event_from_row(Stmt& s) {
    Event e;
    e.mod_rev = to_u64(s.column_int(0));
    e.key = s.column_text(1);
    e.type = static_cast<EventType>(s.column_int(2));
    e.value = s.column_text(3);
    e.create_rev = to_u64(s.column_int(4));
    e.prev_value = s.column_text(5);
    e.prev_mod_rev = to_u64(s.column_int(6));
    return e;
}

}  // namespace

// The change-feed registry. Shared with Subscription objects so that one outliving the storage
// is harmless.
struct Feed {
    struct Sub {
        std::string prefix;
        std::uint64_t from_rev;
        WatchCallback callback;
    };
    std::mutex mu;  // held while callbacks run: delivery is ordered and cancel() is a barrier
    std::uint64_t published_rev = 0;
    std::uint64_t next_id = 1;
    std::map<std::uint64_t, Sub> subs;

    void publish(const std::vector<Event>& events, std::uint64_t rev) {
        std::lock_guard lk(mu);
        published_rev = rev;
        std::vector<Event> mine;
        for (auto& [id, sub] : subs) {
            mine.clear();
            for (const auto& e : events) {
                if (e.mod_rev > sub.from_rev && has_prefix(e.key, sub.prefix)) mine.push_back(e);
            }
            sub.callback(mine, rev);
        }
    }
};

namespace {

class FeedSubscription final : public Subscription {
  public:
    FeedSubscription(std::weak_ptr<Feed> feed, std::uint64_t id)
        : feed_(std::move(feed)), id_(id) {}
    ~FeedSubscription() override { cancel(); }
    void cancel() override {
        if (auto f = feed_.lock()) {
            std::lock_guard lk(f->mu);
            f->subs.erase(id_);
        }
        feed_.reset();
    }

  private:
    std::weak_ptr<Feed> feed_;
    std::uint64_t id_;
};

}  // namespace

struct SqliteStorage::Impl {
    // Declared first so the data dir stays locked until every connection below is closed.
    struct LockFile {
        int fd = -1;
        ~LockFile() {
            if (fd >= 0) ::close(fd);
        }
    } lock;
    SqliteOptions opt;
    std::string path;
    std::shared_ptr<spdlog::logger> log = kedge::log::get("apiserver.storage");

    // Writer state. `busy` owns the writer connection; `mu` only guards the fields below.
    std::mutex mu;
    std::condition_variable cv;
    bool busy = false;
    int waiting = 0;
    bool txn_open = false;
    struct Batch {
        bool done = false;
        std::optional<Error> error;
    };
    std::shared_ptr<Batch> batch;
    std::size_t batch_ops = 0;
    std::optional<Error> poisoned;      // an SQL error inside the open transaction
    std::vector<Event> pending_events;  // of the open transaction, in revision order
    std::uint64_t next_rev = 0;         // revision of the last write in the open transaction
    std::uint64_t requested_compaction = 0;

    Db wdb;
    Stmt w_get, w_insert, w_update, w_delete, w_event, w_meta, w_compact, w_oldest_after;

    std::atomic<std::uint64_t> revision{0};
    std::atomic<std::uint64_t> compacted{0};
    std::atomic<std::uint64_t> n_writes{0}, n_commits{0};
    std::chrono::steady_clock::time_point last_time_compaction{};

    std::mutex readers_mu;
    std::vector<std::unique_ptr<Reader>> idle_readers;

    std::shared_ptr<Feed> feed = std::make_shared<Feed>();

    ~Impl() {
        std::lock_guard lk(feed->mu);
        feed->subs.clear();
    }

    const Clock& clock() const { return opt.clock ? *opt.clock : SystemClock::instance(); }

    Result<void> init();
    Result<std::optional<KeyValue>> lookup(std::string_view key);
    // The current row of key, checked against the caller's expected mod_rev (0 = any).
    Result<KeyValue> lookup_expected(std::string_view key, std::uint64_t expected_mod_rev);
    Result<void> append_event(const Event& e);
    // After a row write w: logs the event and makes it pending; an SQL error poisons the batch.
    Result<bool> record(Result<void> w, Event e);
    Result<void> run_write(const std::function<Result<bool>()>& op);
    void commit(const std::shared_ptr<Batch>& b, std::vector<Event> events,
                std::optional<Error> failure);
    std::uint64_t compaction_target();

    // A pooled reader, returned to the pool when the lease ends.
    struct Lease {
        Impl* impl;
        std::unique_ptr<Reader> r;
        Lease(Impl* i, std::unique_ptr<Reader> rd) : impl(i), r(std::move(rd)) {}
        Lease(Lease&&) = default;
        Lease& operator=(Lease&&) = delete;
        ~Lease() {
            if (r) {
                std::lock_guard lk(impl->readers_mu);
                impl->idle_readers.push_back(std::move(r));
            }
        }
        Reader* operator->() { return r.get(); }
        Reader& operator*() { return *r; }
    };
    Result<Lease> reader() {
        {
            std::lock_guard lk(readers_mu);
            if (!idle_readers.empty()) {
                Lease l{this, std::move(idle_readers.back())};
                idle_readers.pop_back();
                return l;
            }
        }
        auto r = Reader::open(path, opt.busy_timeout_ms);
        if (!r) return r.error();
        return Lease{this, std::move(*r)};
    }
};

Result<void> SqliteStorage::Impl::init() {
    std::error_code ec;
    std::filesystem::create_directories(opt.data_dir, ec);
    if (ec)
        return Error(errc::io_error,
                     "cannot create data dir " + opt.data_dir + ": " + ec.message());
    path = opt.data_dir + "/state.db";

    // SQLite itself would let a second process in; our in-memory revision counter would not.
    std::string lock_path = path + ".lock";
    lock.fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (lock.fd < 0) {
        return Error(errc::io_error, "cannot open " + lock_path + ": " + std::strerror(errno));
    }
    if (::flock(lock.fd, LOCK_EX | LOCK_NB) != 0) {
        return Error(errc::unavailable, "data dir " + opt.data_dir +
                                            " is in use by another process (lock on " + lock_path +
                                            ")");
    }

    auto db = Db::open(path, true, opt.busy_timeout_ms);
    if (!db) return db.error();
    wdb = std::move(*db);
    if (auto r = wdb.exec("PRAGMA journal_mode=WAL"); !r) return r;
    const char* sync = opt.durability == Durability::kFull ? "PRAGMA synchronous=FULL"
                                                           : "PRAGMA synchronous=NORMAL";
    if (auto r = wdb.exec(sync); !r) return r;
    if (auto r = wdb.exec(kSchema); !r) return r;

    struct {
        Stmt* s;
        const char* sql;
    } stmts[] = {
        {&w_get, "SELECT value, mod_rev, create_rev FROM kv WHERE key = ?1"},
        {&w_insert, "INSERT INTO kv(key, value, mod_rev, create_rev) VALUES (?1, ?2, ?3, ?4)"},
        {&w_update, "UPDATE kv SET value = ?2, mod_rev = ?3 WHERE key = ?1"},
        {&w_delete, "DELETE FROM kv WHERE key = ?1"},
        {&w_event,
         "INSERT INTO events(rev, key, type, value, create_rev, prev_value, prev_mod_rev, ts) "
         "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"},
        {&w_meta, "UPDATE meta SET value = ?2 WHERE name = ?1"},
        {&w_compact, "DELETE FROM events WHERE rev <= ?1"},
        {&w_oldest_after, "SELECT MAX(rev) FROM events WHERE ts < ?1"},
    };
    for (auto& s : stmts) {
        auto p = Stmt::prepare(wdb, s.sql);
        if (!p) return p.error();
        *s.s = std::move(*p);
    }

    auto r = reader();
    if (!r) return r.error();
    {
        ReadTxn txn(**r);
        auto m = (*r)->read_meta();
        if (!m) return m.error();
        revision = m->first;
        compacted = m->second;
    }
    feed->published_rev = revision;
    log->info("opened {} at revision {} (compacted {}, schema {})", path, revision.load(),
              compacted.load(), kSchemaVersion);
    return {};
}

Result<std::optional<KeyValue>> SqliteStorage::Impl::lookup(std::string_view key) {
    StmtUse use(w_get);
    w_get.bind(1, key);
    auto row = w_get.step();
    if (!row) return row.error();
    if (!*row) return std::optional<KeyValue>();
    return std::optional<KeyValue>(KeyValue{std::string(key), w_get.column_text(0),
                                            to_u64(w_get.column_int(1)),
                                            to_u64(w_get.column_int(2))});
}

Result<KeyValue> SqliteStorage::Impl::lookup_expected(std::string_view key,
                                                     std::uint64_t expected_mod_rev) {
    auto cur = lookup(key);
    if (!cur) return cur.error();
    if (!*cur) return Error(errc::not_found, "key " + std::string(key) + " not found");
    if (expected_mod_rev != 0 && (*cur)->mod_rev != expected_mod_rev) {
        return Error(errc::conflict, "key " + std::string(key) + " is at revision " +
                                         std::to_string((*cur)->mod_rev) + ", expected " +
                                         std::to_string(expected_mod_rev));
    }
    return std::move(**cur);
}

Result<bool> SqliteStorage::Impl::record(Result<void> w, Event e) {
    if (w) w = append_event(e);
    if (!w) {
        poisoned = w.error();
        return w.error();
    }
    next_rev = e.mod_rev;
    pending_events.push_back(std::move(e));
    return true;
}

Result<void> SqliteStorage::Impl::append_event(const Event& e) {
    StmtUse use(w_event);
    w_event.bind(1, to_i64(e.mod_rev));
    w_event.bind(2, e.key);
    w_event.bind(3, static_cast<std::int64_t>(e.type));
    if (e.type == EventType::kDeleted) {
        w_event.bind_null(4);
    } else {
        w_event.bind(4, e.value);
    }
    w_event.bind(5, to_i64(e.create_rev));
    if (e.type == EventType::kAdded) {
        w_event.bind_null(6);
    } else {
        w_event.bind(6, e.prev_value);
    }
    w_event.bind(7, to_i64(e.prev_mod_rev));
    w_event.bind(8, clock().unix_millis());
    return w_event.run();
}

// Group commit. Writers take turns on the writer connection; each runs its operation inside the
// open transaction. The last writer in line (nobody else waiting, or the batch is full) commits
// for everyone, so N concurrent writers share one fsync. A write is acknowledged (this returns)
// only after the commit that contains it succeeded.
Result<void> SqliteStorage::Impl::run_write(const std::function<Result<bool>()>& op) {
    std::unique_lock lk(mu);
    ++waiting;
    cv.wait(lk, [&] { return !busy; });
    --waiting;
    busy = true;
    lk.unlock();

    Result<bool> wrote = false;
    if (!txn_open) {
        if (auto r = wdb.exec("BEGIN IMMEDIATE"); !r) {
            wrote = r.error();
        } else {
            txn_open = true;
            batch = std::make_shared<Batch>();
            batch_ops = 0;
            next_rev = revision;
        }
    }
    if (txn_open) wrote = op();

    std::shared_ptr<Batch> mine;
    if (wrote && *wrote) {
        mine = batch;
        ++batch_ops;
    }

    lk.lock();
    if (!txn_open || (batch_ops == 0 && !poisoned && waiting > 0)) {
        // Nothing of ours to commit and someone else will continue.
        busy = false;
        cv.notify_all();
        if (!wrote) return wrote.error();
        return {};
    }
    // A refused operation (conflict, exists) commits the pending batch at once: it may have been
    // refused because of that batch, and its caller will retry from a committed read; waiting
    // for the queue to drain could livelock such retries.
    if (wrote && waiting > 0 && batch_ops < opt.max_batch && !poisoned) {
        busy = false;
        cv.notify_all();
        if (!mine) return wrote ? Result<void>() : Result<void>(wrote.error());
        cv.wait(lk, [&] { return mine->done; });
        if (mine->error) return *mine->error;
        return {};
    }
    auto b = std::move(batch);
    auto events = std::move(pending_events);
    pending_events.clear();
    auto failure = std::move(poisoned);
    poisoned.reset();
    txn_open = false;
    lk.unlock();

    commit(b, std::move(events), std::move(failure));

    lk.lock();
    b->done = true;
    busy = false;
    cv.notify_all();
    if (mine && b->error) return *b->error;
    if (!wrote) return wrote.error();
    return {};
}

std::uint64_t SqliteStorage::Impl::compaction_target() {
    std::uint64_t target = requested_compaction;
    requested_compaction = 0;
    std::uint64_t done = compacted;
    if (opt.retain_revisions > 0 && next_rev > done + opt.retain_revisions) {
        // Compact in steps of ~10% of the window so the DELETE is amortized over many commits.
        std::uint64_t slack = std::max<std::uint64_t>(opt.retain_revisions / 10, 1);
        if (next_rev - done >= opt.retain_revisions + slack) {
            target = std::max(target, next_rev - opt.retain_revisions);
        }
    }
    // Checked at most once a second: it is a query, unlike the revision arithmetic above.
    auto now = clock().steady_now();
    if (opt.retain_for.count() > 0 && now - last_time_compaction > std::chrono::seconds(1)) {
        last_time_compaction = now;
        StmtUse use(w_oldest_after);
        w_oldest_after.bind(1, clock().unix_millis() - opt.retain_for.count() * 1000);
        auto row = w_oldest_after.step();
        if (row && *row && !w_oldest_after.column_is_null(0)) {
            target = std::max(target, to_u64(w_oldest_after.column_int(0)));
        }
    }
    return target > done ? std::min(target, next_rev) : 0;
}

void SqliteStorage::Impl::commit(const std::shared_ptr<Batch>& b, std::vector<Event> events,
                                 std::optional<Error> failure) {
    std::uint64_t new_compacted = compacted;
    auto set_meta = [&](const char* name, std::uint64_t v) -> Result<void> {
        StmtUse use(w_meta);
        w_meta.bind(1, std::string_view(name));
        w_meta.bind(2, to_i64(v));
        return w_meta.run();
    };
    if (!failure) {
        if (auto target = compaction_target(); target > 0) {
            StmtUse use(w_compact);
            w_compact.bind(1, to_i64(target));
            auto r = w_compact.run();
            if (r) r = set_meta("compacted", target);
            if (r) {
                new_compacted = target;
            } else {
                failure = r.error();
            }
        }
    }
    if (!failure) {
        if (auto r = set_meta("revision", next_rev); !r) failure = r.error();
    }
    if (!failure) {
        if (auto r = wdb.exec("COMMIT"); !r) failure = r.error();
    }
    if (failure) {
        (void)wdb.exec("ROLLBACK");
        log->error("commit of {} writes failed, rolled back: {}", events.size(),
                   failure->message());
        next_rev = revision;
        b->error = std::move(failure);
        return;
    }
    n_commits.fetch_add(1, std::memory_order_relaxed);
    n_writes.fetch_add(events.size(), std::memory_order_relaxed);
    if (new_compacted != compacted) {
        log->debug("compacted history up to revision {}", new_compacted);
        compacted = new_compacted;
    }
    revision = next_rev;
    // Still the only writer here, so batches reach subscribers in revision order.
    feed->publish(events, next_rev);
}

SqliteStorage::SqliteStorage(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
SqliteStorage::~SqliteStorage() = default;

Result<std::unique_ptr<SqliteStorage>> SqliteStorage::open(SqliteOptions options) {
    if (options.data_dir.empty()) return Error(errc::invalid_argument, "storage data dir is empty");
    if (options.max_batch == 0) options.max_batch = 1;
    auto impl = std::make_unique<Impl>();
    impl->opt = std::move(options);
    if (auto r = impl->init(); !r) return r.error();
    return std::unique_ptr<SqliteStorage>(new SqliteStorage(std::move(impl)));
}

Result<std::uint64_t> SqliteStorage::create(std::string_view key, const ValueFn& make_value) {
    auto& d = *impl_;
    std::uint64_t rev = 0;
    auto r = d.run_write([&]() -> Result<bool> {
        auto cur = d.lookup(key);
        if (!cur) return cur.error();
        if (*cur) {
            return Error(errc::already_exists, "key " + std::string(key) + " already exists");
        }
        std::uint64_t new_rev = d.next_rev + 1;
        auto value = make_value(new_rev);
        if (!value) return value.error();
        Event e{EventType::kAdded, std::string(key), std::move(*value), {}, new_rev, new_rev, 0};
        StmtUse use(d.w_insert);
        d.w_insert.bind(1, key);
        d.w_insert.bind(2, e.value);
        d.w_insert.bind(3, to_i64(new_rev));
        d.w_insert.bind(4, to_i64(new_rev));
        auto done = d.record(d.w_insert.run(), std::move(e));
        if (done) rev = new_rev;
        return done;
    });
    if (!r) return r.error();
    return rev;
}

Result<std::uint64_t> SqliteStorage::update(std::string_view key, const ValueFn& make_value,
                                            std::uint64_t expected_mod_rev) {
    auto& d = *impl_;
    std::uint64_t rev = 0;
    auto r = d.run_write([&]() -> Result<bool> {
        auto cur = d.lookup_expected(key, expected_mod_rev);
        if (!cur) return cur.error();
        std::uint64_t new_rev = d.next_rev + 1;
        auto value = make_value(new_rev);
        if (!value) return value.error();
        Event e{EventType::kModified, std::string(key), std::move(*value), std::move(cur->value),
                new_rev,             cur->create_rev,  cur->mod_rev};
        StmtUse use(d.w_update);
        d.w_update.bind(1, key);
        d.w_update.bind(2, e.value);
        d.w_update.bind(3, to_i64(new_rev));
        auto done = d.record(d.w_update.run(), std::move(e));
        if (done) rev = new_rev;
        return done;
    });
    if (!r) return r.error();
    return rev;
}

Result<DeleteResult> SqliteStorage::remove(std::string_view key, std::uint64_t expected_mod_rev) {
    auto& d = *impl_;
    DeleteResult out;
    auto r = d.run_write([&]() -> Result<bool> {
        auto cur = d.lookup_expected(key, expected_mod_rev);
        if (!cur) return cur.error();
        std::uint64_t new_rev = d.next_rev + 1;
        Event e{EventType::kDeleted, std::string(key), {}, cur->value, new_rev,
                cur->create_rev,     cur->mod_rev};
        StmtUse use(d.w_delete);
        d.w_delete.bind(1, key);
        auto done = d.record(d.w_delete.run(), std::move(e));
        if (done) {
            out.rev = new_rev;
            out.prev = std::move(*cur);
        }
        return done;
    });
    if (!r) return r.error();
    return out;
}

Result<void> SqliteStorage::compact(std::uint64_t rev) {
    auto& d = *impl_;
    return d.run_write([&]() -> Result<bool> {
        if (rev > d.next_rev) {
            return Error(errc::invalid_argument, "cannot compact to revision " +
                                                     std::to_string(rev) + ": current is " +
                                                     std::to_string(d.next_rev));
        }
        if (rev <= d.compacted) return false;
        d.requested_compaction = std::max(d.requested_compaction, rev);
        return true;
    });
}

Result<KeyValue> SqliteStorage::get(std::string_view key) {
    auto r = impl_->reader();
    if (!r) return r.error();
    auto& s = (*r)->get;
    StmtUse use(s);
    s.bind(1, key);
    auto row = s.step();
    if (!row) return row.error();
    if (!*row) return Error(errc::not_found, "key " + std::string(key) + " not found");
    return KeyValue{std::string(key), s.column_text(0), to_u64(s.column_int(1)),
                    to_u64(s.column_int(2))};
}

// A list at an old revision R is the current table with the writes after R undone: the first
// event after R of each key holds that key's state at R (its previous value, or absence).
Result<ListResult> SqliteStorage::list(std::string_view prefix, const ListOptions& options) {
    auto r = impl_->reader();
    if (!r) return r.error();
    Reader& rd = **r;
    ReadTxn txn(rd);
    if (!txn.ok()) return Error(errc::io_error, "cannot begin read: " + rd.db.last_error());
    auto meta = rd.read_meta();
    if (!meta) return meta.error();
    auto [current, compacted] = *meta;

    ListResult out;
    out.revision = options.at_revision ? options.at_revision : current;
    if (out.revision > current) {
        return Error(errc::timeout, "too large resource version: " + std::to_string(out.revision) +
                                        ", current: " + std::to_string(current));
    }
    if (out.revision < compacted) {
        return Error(errc::expired, "revision " + std::to_string(out.revision) +
                                        " has been compacted (oldest available " +
                                        std::to_string(compacted) + ")");
    }
    std::string start(prefix);
    if (!options.continue_key.empty()) {
        if (!has_prefix(options.continue_key, prefix)) {
            return Error(errc::invalid_argument, "continue key " + options.continue_key +
                                                     " is outside " + std::string(prefix));
        }
        start = options.continue_key;
    }
    std::string end = prefix_end(prefix);

    // Keys changed after the snapshot revision -> their state at it (nullopt = absent).
    std::map<std::string, std::optional<KeyValue>> changed;
    if (out.revision < current) {
        StmtUse use(rd.events_after);
        rd.events_after.bind(1, to_i64(out.revision));
        for (;;) {
            auto row = rd.events_after.step();
            if (!row) return row.error();
            if (!*row) break;
            auto key = rd.events_after.column_text(1);
            if (key < start || (!end.empty() && key >= end) || changed.count(key)) continue;
            auto type = static_cast<EventType>(rd.events_after.column_int(2));
            if (type == EventType::kAdded) {
                changed.emplace(key, std::nullopt);
            } else {
                KeyValue kv{key, rd.events_after.column_text(3),
                            to_u64(rd.events_after.column_int(4)),
                            to_u64(rd.events_after.column_int(5))};
                changed.emplace(std::move(key), std::move(kv));
            }
        }
    }

    Stmt& scan = end.empty() ? rd.scan_open : rd.scan_bounded;
    StmtUse use(scan);
    scan.bind(1, start);
    if (!end.empty()) scan.bind(2, end);
    auto ch = changed.begin();
    std::size_t want = options.limit ? options.limit + 1 : SIZE_MAX;
    auto emit = [&](KeyValue kv) {
        if (out.items.size() < want) out.items.push_back(std::move(kv));
    };
    bool scan_done = false;
    while (out.items.size() < want) {
        std::optional<KeyValue> row_kv;
        if (!scan_done) {
            auto row = scan.step();
            if (!row) return row.error();
            if (*row) {
                row_kv = KeyValue{scan.column_text(0), scan.column_text(1),
                                  to_u64(scan.column_int(2)), to_u64(scan.column_int(3))};
            } else {
                scan_done = true;
            }
        }
        // Emit changed keys that sort before this row (they may not exist in kv any more).
        const bool have_row = row_kv.has_value();
        while (ch != changed.end() && (!have_row || ch->first <= row_kv->key)) {
            bool same = have_row && ch->first == row_kv->key;
            if (ch->second) emit(*ch->second);
            ++ch;
            if (same) {
                row_kv.reset();  // the table's version is newer than the snapshot
                break;
            }
        }
        if (row_kv) emit(std::move(*row_kv));
        if (scan_done && ch == changed.end()) break;
    }
    if (options.limit && out.items.size() > options.limit) {
        out.items.resize(options.limit);
        out.more = true;
        out.next_key = out.items.back().key + '\0';
    }
    return out;
}

std::uint64_t SqliteStorage::current_revision() { return impl_->revision; }
std::uint64_t SqliteStorage::compacted_revision() { return impl_->compacted; }

Result<std::unique_ptr<Subscription>> SqliteStorage::watch_from(std::string_view prefix,
                                                                std::uint64_t from_rev,
                                                                WatchCallback callback) {
    auto& feed = *impl_->feed;
    std::lock_guard lk(feed.mu);  // no commit is published while we replay and register
    std::uint64_t upto = feed.published_rev;
    if (from_rev < upto) {
        auto r = impl_->reader();
        if (!r) return r.error();
        Reader& rd = **r;
        ReadTxn txn(rd);
        auto meta = rd.read_meta();
        if (!meta) return meta.error();
        if (from_rev < meta->second) {
            return Error(errc::expired, "revision " + std::to_string(from_rev) +
                                            " has been compacted (oldest available " +
                                            std::to_string(meta->second) + ")");
        }
        StmtUse use(rd.events_range);
        rd.events_range.bind(1, to_i64(from_rev));
        rd.events_range.bind(2, to_i64(upto));
        std::vector<Event> chunk;
        for (;;) {
            auto row = rd.events_range.step();
            if (!row) return row.error();
            if (!*row) break;
            auto e = event_from_row(rd.events_range);
            if (!has_prefix(e.key, prefix)) continue;
            chunk.push_back(std::move(e));
            if (chunk.size() == 1000) {
                callback(chunk, chunk.back().mod_rev);
                chunk.clear();
            }
        }
        callback(chunk, upto);
    } else {
        callback({}, upto);
    }
    auto id = feed.next_id++;
    feed.subs.emplace(id, Feed::Sub{std::string(prefix), from_rev, std::move(callback)});
    return std::unique_ptr<Subscription>(new FeedSubscription(impl_->feed, id));
}

SqliteStorage::Stats SqliteStorage::stats() const {
    return Stats{impl_->n_writes.load(), impl_->n_commits.load()};
}

}  // namespace kedge::apiserver::storage
