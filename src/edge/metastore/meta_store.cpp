#include "edge/metastore/meta_store.hpp"

#include <algorithm>
#include <atomic>
#include <charconv>
#include <condition_variable>
#include <deque>
#include <exception>
#include <map>
#include <mutex>

#include "base/log.hpp"
#include "sqlite/sqlite_db.hpp"

namespace kedge::edge {

using sqlite::Db;
using sqlite::Stmt;
using sqlite::StmtUse;
using sqlite::Transaction;

namespace {

// Column names and types are upstream's (beego ORM: `groupversionresource`, `resourceversion`)
// so that an upstream edgecore, or `keadm debug`, reads the same file. kedge's own tables and
// indexes carry a kedge_ prefix.
constexpr std::string_view kSchema = R"sql(
CREATE TABLE IF NOT EXISTS meta(
  key varchar(256) NOT NULL PRIMARY KEY,
  type varchar(32) NOT NULL DEFAULT '',
  value text);
CREATE INDEX IF NOT EXISTS kedge_meta_type ON meta(type);
CREATE TABLE IF NOT EXISTS meta_v2(
  key varchar(256) NOT NULL PRIMARY KEY,
  groupversionresource varchar(256) NOT NULL DEFAULT '',
  namespace varchar(256) NOT NULL DEFAULT '',
  name varchar(256) NOT NULL DEFAULT '',
  resourceversion integer unsigned NOT NULL DEFAULT 0,
  value text);
CREATE INDEX IF NOT EXISTS kedge_meta_v2_gvr ON meta_v2(groupversionresource, namespace);
CREATE TABLE IF NOT EXISTS kedge_outbox(
  key TEXT NOT NULL PRIMARY KEY,
  seq INTEGER NOT NULL,
  message TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS kedge_outbox_seq ON kedge_outbox(seq);
CREATE TABLE IF NOT EXISTS kedge_state(name TEXT NOT NULL PRIMARY KEY, value INTEGER NOT NULL);
INSERT OR IGNORE INTO kedge_state(name, value) VALUES ('hwm', 0), ('outbox_seq', 0);
)sql";

// SQLite's JSON1 extracts the few fields the store needs (one parse per row, cached across the
// json_extract calls of a row), which keeps a 10,000-object list free of a C++ JSON parse.
#define KEDGE_META_FIELDS(v)                               \
    "json_extract(" v ", '$.apiVersion'), json_extract(" v \
    ", '$.kind'), "                                        \
    "json_extract(" v ", '$.metadata.resourceVersion')"

std::uint64_t parse_u64(std::string_view s) {
    std::uint64_t v = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    return ec == std::errc() && p == s.data() + s.size() ? v : 0;
}

// upstream stores schema.GroupVersionResource.String(): "<group>/<version>, Resource=<res>",
// the legacy group as "".
std::string column_gvr(const GroupVersionResource& gvr) {
    return (gvr.group == "core" ? std::string() : gvr.group) + "/" + gvr.version +
           ", Resource=" + gvr.resource;
}

std::optional<GroupVersionResource> parse_column_gvr(std::string_view s) {
    constexpr std::string_view kSep = ", Resource=";
    auto sep = s.find(kSep);
    if (sep == std::string_view::npos) return std::nullopt;
    auto gv = s.substr(0, sep);
    auto slash = gv.find('/');
    if (slash == std::string_view::npos) return std::nullopt;
    GroupVersionResource gvr{std::string(gv.substr(0, slash)), std::string(gv.substr(slash + 1)),
                             std::string(s.substr(sep + kSep.size()))};
    if (gvr.group.empty()) gvr.group = "core";
    return gvr;
}

std::string v2_key(const GroupVersionResource& gvr, const MetaKey& key) {
    return "/" + gvr.group + "/" + gvr.version + "/" + gvr.resource + "/" + key.ns + "/" + key.name;
}

// The GVR of a stored object: from its apiVersion/kind, else from the key's type; empty when
// neither says (such objects live in `meta` only).
GroupVersionResource object_gvr(std::string_view type, std::string_view api_version,
                                std::string_view kind) {
    if (!api_version.empty() && !kind.empty()) {
        if (auto g = gvr_for(api_version, kind)) return *g;
    }
    if (auto g = gvr_for_type(type)) return *g;
    return {};
}

// Reads an object from a statement whose columns start at `col` with: value, apiVersion, kind,
// resourceVersion (KEDGE_META_FIELDS).
MetaObject read_object(const Stmt& s, int col, MetaKey key) {
    MetaObject o;
    o.json = s.column_text(col);
    o.gvr = object_gvr(key.type, s.column_text(col + 1), s.column_text(col + 2));
    o.resource_version = parse_u64(s.column_text(col + 3));
    o.key = std::move(key);
    return o;
}

bool valid_key(const MetaKey& k) {
    auto ok = [](const std::string& p) { return !p.empty() && p.find('/') == std::string::npos; };
    return ok(k.ns) && ok(k.type) && ok(k.name);
}

// Set while a thread delivers changes to subscribers, to refuse a re-entrant apply() (it would
// wait for its own delivery turn forever).
thread_local const void* t_delivering = nullptr;

}  // namespace

// Registered subscribers; shared with Subscription objects through a weak_ptr so that a
// Subscription outliving the store does nothing.
struct SubscriberSet {
    struct Sub {
        std::recursive_mutex mu;  // held while its callback runs: ~Subscription waits for it
        MetaStore::Subscriber fn;
        std::uint64_t start_seq = 0;  // changes before it were in the subscriber's replay
        bool dead = false;
    };
    std::mutex mu;
    std::map<std::uint64_t, std::shared_ptr<Sub>> subs;
    std::uint64_t next_id = 1;
};

struct MetaStore::Impl {
    struct LogEntry {
        MetaChange change;
        std::uint64_t hwm_after = 0;
    };

    std::filesystem::path path;
    MetaStoreOptions options;
    mutable std::mutex mu;  // guards db, statements, log, counters
    Db db;
    mutable Stmt get_meta, put_meta, put_v2, del_meta, del_v2, set_state, get_state;
    mutable Stmt list_type_all, list_type_ns, list_gvr_all, list_gvr_ns, gvrs, inventory, count;
    mutable Stmt outbox_put, outbox_list, outbox_remove, describe_new;

    std::atomic<std::uint64_t> hwm{0};
    std::uint64_t outbox_seq = 0;
    std::uint64_t next_seq = 1;
    std::deque<LogEntry> log;
    // hwm right after the newest change not in `log` (dropped, or before this process).
    std::uint64_t floor = 0;

    std::shared_ptr<SubscriberSet> subscribers = std::make_shared<SubscriberSet>();
    // Deliveries run in commit order: each apply() takes a ticket under `mu`.
    std::mutex order_mu;
    std::condition_variable order_cv;
    std::uint64_t next_ticket = 0;
    std::uint64_t delivered = 0;

    Result<void> prepare_all();
    Result<std::uint64_t> read_state(std::string_view name);
    Result<void> write_state(std::string_view name, std::uint64_t value);
    Result<std::optional<MetaObject>> get_locked(const MetaKey& key) const;
    Result<std::optional<MetaChange>> apply_one(const MetaWrite& w, std::uint64_t& hwm_now);
    void append_log(std::vector<MetaChange>& changes, const std::vector<std::uint64_t>& hwms);
    void deliver(std::uint64_t ticket, const std::vector<MetaChange>& changes);
};

Result<void> MetaStore::Impl::prepare_all() {
    struct {
        Stmt* s;
        const char* sql;
    } stmts[] = {
        {&get_meta, "SELECT value, " KEDGE_META_FIELDS("value") " FROM meta WHERE key = ?1"},
        {&put_meta, "INSERT OR REPLACE INTO meta(key, type, value) VALUES (?1, ?2, ?3)"},
        {&put_v2,
         "INSERT OR REPLACE INTO meta_v2(key, groupversionresource, namespace, name, "
         "resourceversion, value) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"},
        {&del_meta, "DELETE FROM meta WHERE key = ?1"},
        {&del_v2, "DELETE FROM meta_v2 WHERE key = ?1"},
        {&set_state, "INSERT OR REPLACE INTO kedge_state(name, value) VALUES (?1, ?2)"},
        {&get_state, "SELECT value FROM kedge_state WHERE name = ?1"},
        {&list_type_all, "SELECT key, value, " KEDGE_META_FIELDS(
                             "value") " FROM meta WHERE type = ?1 ORDER BY key"},
        {&list_type_ns, "SELECT key, value, " KEDGE_META_FIELDS(
                            "value") " FROM meta WHERE key >= ?2 AND key < ?3 AND type = ?1 "
                                     "ORDER BY key"},
        {&list_gvr_all,
         "SELECT namespace, name, resourceversion, value FROM meta_v2 "
         "WHERE groupversionresource = ?1 ORDER BY key"},
        {&list_gvr_ns,
         "SELECT namespace, name, resourceversion, value FROM meta_v2 "
         "WHERE groupversionresource = ?1 AND namespace = ?2 ORDER BY key"},
        {&gvrs, "SELECT DISTINCT groupversionresource FROM meta_v2 ORDER BY 1"},
        {&inventory,
         "SELECT key, type, json_extract(value, '$.metadata.resourceVersion') FROM meta"},
        {&count, "SELECT count(*) FROM meta"},
        {&outbox_put, "INSERT OR REPLACE INTO kedge_outbox(key, seq, message) VALUES (?1, ?2, ?3)"},
        {&outbox_list, "SELECT key, seq, message FROM kedge_outbox ORDER BY seq"},
        {&outbox_remove, "DELETE FROM kedge_outbox WHERE key = ?1 AND seq = ?2"},
        // CASE keeps json_extract away from text that is not JSON (it would fail the statement).
        {&describe_new,
         "SELECT t = 'object', CASE WHEN t = 'object' THEN json_extract(v, "
         "'$.apiVersion') END, CASE WHEN t = 'object' THEN json_extract(v, '$.kind') "
         "END, CASE WHEN t = 'object' THEN json_extract(v, "
         "'$.metadata.resourceVersion') END FROM (SELECT ?1 AS v, CASE WHEN "
         "json_valid(?1) THEN json_type(?1) ELSE '' END AS t)"},
    };
    for (auto& s : stmts) {
        auto p = Stmt::prepare(db, s.sql);
        if (!p) return p.error();
        *s.s = std::move(*p);
    }
    return {};
}

Result<std::uint64_t> MetaStore::Impl::read_state(std::string_view name) {
    StmtUse use(get_state);
    get_state.bind(1, name);
    auto row = get_state.step();
    if (!row) return row.error();
    return *row ? get_state.column_uint64(0) : 0;
}

Result<void> MetaStore::Impl::write_state(std::string_view name, std::uint64_t value) {
    StmtUse use(set_state);
    set_state.bind(1, name);
    set_state.bind_uint64(2, value);
    return set_state.run();
}

Result<std::shared_ptr<MetaStore>> MetaStore::open(const std::filesystem::path& file,
                                                   MetaStoreOptions options) {
    auto fail = [&](const Error& e) {
        return Error(errc::io_error, "meta store " + file.string() + ": " + e.detail);
    };
    auto impl = std::make_unique<Impl>();
    impl->path = file;
    impl->options = options;
    auto db = Db::open_private(file.string(), options.busy_timeout_ms);
    if (!db) return Error(errc::io_error, "meta store: " + db.error().detail);
    impl->db = std::move(*db);
    {
        auto check = Stmt::prepare(impl->db, "PRAGMA quick_check");
        if (!check) return fail(check.error());
        std::string problems;
        for (int n = 0; n < 4; ++n) {
            auto row = check->step();
            if (!row) return fail(row.error());
            if (!*row || check->column_text(0) == "ok") break;
            problems += (problems.empty() ? "" : "; ") + check->column_text(0);
        }
        if (!problems.empty()) {
            return Error(errc::io_error, "meta store " + file.string() +
                                             " is corrupt (quick_check: " + problems + ")");
        }
    }
    if (auto r = impl->db.exec(kSchema); !r) return fail(r.error());
    if (auto r = impl->prepare_all(); !r) return fail(r.error());
    auto hwm = impl->read_state("hwm");
    if (!hwm) return fail(hwm.error());
    auto seq = impl->read_state("outbox_seq");
    if (!seq) return fail(seq.error());
    impl->hwm = *hwm;
    impl->floor = *hwm;
    impl->outbox_seq = *seq;
    return std::shared_ptr<MetaStore>(new MetaStore(std::move(impl)));
}

MetaStore::MetaStore(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

MetaStore::~MetaStore() = default;

const std::filesystem::path& MetaStore::path() const { return impl_->path; }

std::uint64_t MetaStore::high_water_mark() const { return impl_->hwm.load(); }

Result<std::optional<MetaObject>> MetaStore::Impl::get_locked(const MetaKey& key) const {
    StmtUse use(get_meta);
    get_meta.bind(1, key.str());
    auto row = get_meta.step();
    if (!row) return row.error();
    if (!*row) return std::optional<MetaObject>();
    return std::optional<MetaObject>(read_object(get_meta, 0, key));
}

Result<std::optional<MetaChange>> MetaStore::Impl::apply_one(const MetaWrite& w,
                                                             std::uint64_t& hwm_now) {
    if (!valid_key(w.key)) {
        return Error(errc::invalid_argument,
                     "meta key '" + w.key.str() + "' is not <namespace>/<type>/<name>");
    }
    auto old = get_locked(w.key);
    if (!old) return old.error();
    auto key = w.key.str();

    // The new value's fields (put), or the RV a remove may carry (raises the high-water mark).
    std::string api_version, kind;
    std::uint64_t rv = 0;
    bool is_object = false;
    if (!w.json.empty()) {
        StmtUse use(describe_new);
        describe_new.bind(1, w.json);
        auto row = describe_new.step();
        if (!row) return row.error();
        is_object = describe_new.column_int(0) == 1;
        if (is_object) {
            api_version = describe_new.column_text(1);
            kind = describe_new.column_text(2);
            rv = parse_u64(describe_new.column_text(3));
        }
    }

    if (w.op == MetaWrite::Op::remove) {
        if (!*old) return std::optional<MetaChange>();
        {
            StmtUse use(del_meta);
            del_meta.bind(1, key);
            if (auto r = del_meta.run(); !r) return r.error();
        }
        if (!(*old)->gvr.resource.empty()) {
            StmtUse use(del_v2);
            del_v2.bind(1, v2_key((*old)->gvr, w.key));
            if (auto r = del_v2.run(); !r) return r.error();
        }
        if (is_object) hwm_now = std::max(hwm_now, rv);
        return std::optional<MetaChange>(MetaChange{ChangeKind::deleted, std::move(**old), 0});
    }

    if (!is_object) {
        return Error(errc::invalid_argument, "value for " + key + " is not a JSON object (" +
                                                 std::to_string(w.json.size()) + " bytes)");
    }
    if (*old && (*old)->json == w.json) return std::optional<MetaChange>();

    MetaObject obj{w.key, object_gvr(w.key.type, api_version, kind), rv, w.json};
    {
        StmtUse use(put_meta);
        put_meta.bind(1, key);
        put_meta.bind(2, w.key.type);
        put_meta.bind(3, w.json);
        if (auto r = put_meta.run(); !r) return r.error();
    }
    // A kind change moves the meta_v2 row: drop the old one first.
    if (*old && !(*old)->gvr.resource.empty() && (*old)->gvr != obj.gvr) {
        StmtUse use(del_v2);
        del_v2.bind(1, v2_key((*old)->gvr, w.key));
        if (auto r = del_v2.run(); !r) return r.error();
    }
    if (!obj.gvr.resource.empty()) {
        StmtUse use(put_v2);
        put_v2.bind(1, v2_key(obj.gvr, w.key));
        put_v2.bind(2, column_gvr(obj.gvr));
        put_v2.bind(3, w.key.ns);
        put_v2.bind(4, w.key.name);
        put_v2.bind_uint64(5, rv);
        put_v2.bind(6, w.json);
        if (auto r = put_v2.run(); !r) return r.error();
    }
    hwm_now = std::max(hwm_now, rv);
    auto change_kind = *old ? ChangeKind::modified : ChangeKind::added;
    return std::optional<MetaChange>(MetaChange{change_kind, std::move(obj), 0});
}

void MetaStore::Impl::append_log(std::vector<MetaChange>& changes,
                                 const std::vector<std::uint64_t>& hwms) {
    for (std::size_t i = 0; i < changes.size(); ++i) {
        changes[i].seq = next_seq++;
        log.push_back(LogEntry{changes[i], hwms[i]});
    }
    while (log.size() > options.change_log_capacity) {
        floor = log.front().hwm_after;
        log.pop_front();
    }
}

void MetaStore::Impl::deliver(std::uint64_t ticket, const std::vector<MetaChange>& changes) {
    {
        std::unique_lock lock(order_mu);
        order_cv.wait(lock, [&] { return delivered == ticket; });
    }
    std::vector<std::shared_ptr<SubscriberSet::Sub>> subs;
    {
        std::lock_guard lock(subscribers->mu);
        subs.reserve(subscribers->subs.size());
        for (auto& [id, s] : subscribers->subs) subs.push_back(s);
    }
    t_delivering = this;
    for (auto& s : subs) {
        std::lock_guard lock(s->mu);
        if (s->dead || changes.front().seq < s->start_seq) continue;
        try {
            s->fn(changes);
        } catch (const std::exception& e) {
            log::get("metastore")->error("meta store subscriber threw: {}", e.what());
        } catch (...) {
            log::get("metastore")->error("meta store subscriber threw a non-exception");
        }
    }
    t_delivering = nullptr;
    {
        std::lock_guard lock(order_mu);
        ++delivered;
    }
    order_cv.notify_all();
}

Result<std::vector<MetaChange>> MetaStore::apply(std::span<const MetaWrite> writes) {
    auto& d = *impl_;
    if (t_delivering == &d) {
        return Error(errc::internal, "MetaStore::apply() called from a subscriber callback");
    }
    std::vector<MetaChange> changes;
    std::uint64_t ticket = 0;
    {
        std::lock_guard lock(d.mu);
        auto tx = Transaction::begin(d.db);
        if (!tx) return tx.error();
        std::uint64_t hwm_now = d.hwm.load();
        const std::uint64_t hwm_start = hwm_now;
        std::vector<std::uint64_t> hwms;
        for (const auto& w : writes) {
            auto c = d.apply_one(w, hwm_now);
            if (!c) return c.error();  // tx rolls back
            if (*c) {
                changes.push_back(std::move(**c));
                hwms.push_back(hwm_now);
            }
        }
        if (hwm_now != hwm_start) {
            if (auto r = d.write_state("hwm", hwm_now); !r) return r.error();
        }
        if (auto r = tx->commit(); !r) {
            return Error(errc::io_error, "meta store " + d.path.string() + ": " + r.error().detail);
        }
        d.hwm = hwm_now;
        if (changes.empty()) return changes;
        d.append_log(changes, hwms);
        ticket = d.next_ticket++;
    }
    d.deliver(ticket, changes);
    return changes;
}

Result<std::optional<MetaObject>> MetaStore::get(const MetaKey& key) const {
    std::lock_guard lock(impl_->mu);
    return impl_->get_locked(key);
}

Result<std::vector<MetaObject>> MetaStore::list_type(std::string_view type,
                                                     std::string_view ns) const {
    auto& d = *impl_;
    std::lock_guard lock(d.mu);
    Stmt& s = ns.empty() ? d.list_type_all : d.list_type_ns;
    StmtUse use(s);
    s.bind(1, type);
    if (!ns.empty()) {
        // Keys of one namespace are the range ["<ns>/", "<ns>0"): '0' follows '/'.
        s.bind(2, std::string(ns) + "/");
        s.bind(3, std::string(ns) + "0");
    }
    std::vector<MetaObject> out;
    for (;;) {
        auto row = s.step();
        if (!row) return row.error();
        if (!*row) break;
        auto key = MetaKey::parse(s.column_text(0));
        if (!key) continue;  // not written by us; upstream keys are always three parts
        out.push_back(read_object(s, 1, std::move(*key)));
    }
    return out;
}

Result<std::vector<MetaObject>> MetaStore::list_gvr(const GroupVersionResource& gvr,
                                                    std::string_view ns) const {
    auto& d = *impl_;
    std::lock_guard lock(d.mu);
    Stmt& s = ns.empty() ? d.list_gvr_all : d.list_gvr_ns;
    StmtUse use(s);
    s.bind(1, column_gvr(gvr));
    if (!ns.empty()) s.bind(2, ns);
    auto type = type_for_resource(gvr.resource).value_or(gvr.resource);
    std::vector<MetaObject> out;
    for (;;) {
        auto row = s.step();
        if (!row) return row.error();
        if (!*row) break;
        out.push_back(MetaObject{MetaKey{s.column_text(0), type, s.column_text(1)}, gvr,
                                 s.column_uint64(2), s.column_text(3)});
    }
    return out;
}

Result<std::vector<GroupVersionResource>> MetaStore::stored_gvrs() const {
    auto& d = *impl_;
    std::lock_guard lock(d.mu);
    StmtUse use(d.gvrs);
    std::vector<GroupVersionResource> out;
    for (;;) {
        auto row = d.gvrs.step();
        if (!row) return row.error();
        if (!*row) break;
        if (auto g = parse_column_gvr(d.gvrs.column_text(0))) out.push_back(std::move(*g));
    }
    return out;
}

Result<hub::Inventory> MetaStore::inventory() const {
    auto& d = *impl_;
    std::lock_guard lock(d.mu);
    StmtUse use(d.inventory);
    hub::Inventory inv;
    for (;;) {
        auto row = d.inventory.step();
        if (!row) return row.error();
        if (!*row) break;
        auto key = MetaKey::parse(d.inventory.column_text(0));
        if (!key) continue;
        auto name = key->ns == "null" ? key->name : key->ns + "/" + key->name;
        inv.resources[d.inventory.column_text(1)][std::move(name)] = d.inventory.column_text(2);
    }
    return inv;
}

Result<std::size_t> MetaStore::size() const {
    auto& d = *impl_;
    std::lock_guard lock(d.mu);
    StmtUse use(d.count);
    auto row = d.count.step();
    if (!row) return row.error();
    return static_cast<std::size_t>(d.count.column_uint64(0));
}

Result<OutboxEntry> MetaStore::outbox_put(std::string_view key, std::string_view encoded_message) {
    auto& d = *impl_;
    std::lock_guard lock(d.mu);
    auto tx = Transaction::begin(d.db);
    if (!tx) return tx.error();
    // Counted even when the commit fails: seqs only need to increase, not be dense.
    OutboxEntry e{std::string(key), ++d.outbox_seq, std::string(encoded_message)};
    {
        StmtUse use(d.outbox_put);
        d.outbox_put.bind(1, e.key);
        d.outbox_put.bind_uint64(2, e.seq);
        d.outbox_put.bind(3, e.message);
        if (auto r = d.outbox_put.run(); !r) return r.error();
    }
    if (auto r = d.write_state("outbox_seq", e.seq); !r) return r.error();
    if (auto r = tx->commit(); !r) return r.error();
    return e;
}

Result<std::vector<OutboxEntry>> MetaStore::outbox_list() const {
    auto& d = *impl_;
    std::lock_guard lock(d.mu);
    StmtUse use(d.outbox_list);
    std::vector<OutboxEntry> out;
    for (;;) {
        auto row = d.outbox_list.step();
        if (!row) return row.error();
        if (!*row) break;
        out.push_back(OutboxEntry{d.outbox_list.column_text(0), d.outbox_list.column_uint64(1),
                                  d.outbox_list.column_text(2)});
    }
    return out;
}

Result<void> MetaStore::outbox_remove(std::string_view key, std::uint64_t seq) {
    auto& d = *impl_;
    std::lock_guard lock(d.mu);
    StmtUse use(d.outbox_remove);
    d.outbox_remove.bind(1, key);
    d.outbox_remove.bind_uint64(2, seq);
    return d.outbox_remove.run();
}

Result<MetaStore::Subscribed> MetaStore::subscribe(std::uint64_t from_rv, Subscriber subscriber) {
    auto& d = *impl_;
    std::lock_guard lock(d.mu);
    Subscribed out;
    if (from_rv != 0) {
        // Entries whose hwm_after < from_rv were committed before the hwm reached from_rv, so
        // the client has seen them. Everything else must be replayed; expired when some of it
        // was dropped (or happened before this process opened the store).
        if (d.floor > from_rv) {
            return Error(errc::expired, "too old resource version: " + std::to_string(from_rv) +
                                            " (oldest available: " + std::to_string(d.floor) + ")");
        }
        auto first = std::find_if(d.log.begin(), d.log.end(),
                                  [&](const Impl::LogEntry& e) { return e.hwm_after >= from_rv; });
        for (auto it = first; it != d.log.end(); ++it) out.replay.push_back(it->change);
    }
    auto sub = std::make_shared<SubscriberSet::Sub>();
    sub->fn = std::move(subscriber);
    sub->start_seq = d.next_seq;
    std::uint64_t id = 0;
    {
        std::lock_guard slock(d.subscribers->mu);
        id = d.subscribers->next_id++;
        d.subscribers->subs.emplace(id, std::move(sub));
    }
    out.subscription = std::make_unique<Subscription>(std::weak_ptr<void>(d.subscribers), id);
    return out;
}

MetaStore::Subscription::~Subscription() {
    auto owner = owner_.lock();
    if (!owner) return;
    auto set = std::static_pointer_cast<SubscriberSet>(owner);
    std::shared_ptr<SubscriberSet::Sub> sub;
    {
        std::lock_guard lock(set->mu);
        auto it = set->subs.find(id_);
        if (it == set->subs.end()) return;
        sub = std::move(it->second);
        set->subs.erase(it);
    }
    // Waits for a callback running on another thread; re-entrant for one running on this one.
    std::lock_guard lock(sub->mu);
    sub->dead = true;
}

#undef KEDGE_META_FIELDS

}  // namespace kedge::edge
