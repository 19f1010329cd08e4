#include "edge/devicetwin/twin_store.hpp"

#include <system_error>

#include "sqlite/sqlite_db.hpp"

namespace kedge::edge::devicetwin {

using sqlite::Db;
using sqlite::Stmt;
using sqlite::StmtUse;
using sqlite::Transaction;

namespace {

// Upstream's beego ORM tables (column names and types as upstream creates them), plus kedge's
// pending reports.
constexpr std::string_view kSchema = R"sql(
CREATE TABLE IF NOT EXISTS device(
  id varchar(64) NOT NULL PRIMARY KEY,
  name varchar(32) NOT NULL DEFAULT '',
  description varchar(64) NOT NULL DEFAULT '',
  state varchar(32) NOT NULL DEFAULT '',
  last_online varchar(32) NOT NULL DEFAULT '');
CREATE TABLE IF NOT EXISTS device_attr(
  id integer NOT NULL PRIMARY KEY AUTOINCREMENT,
  deviceid varchar(64) NOT NULL DEFAULT '',
  name varchar(32) NOT NULL DEFAULT '',
  description varchar(64) NOT NULL DEFAULT '',
  value varchar(64) NOT NULL DEFAULT '',
  optional bool NOT NULL DEFAULT 0,
  attr_type varchar(32) NOT NULL DEFAULT '',
  metadata varchar(256) NOT NULL DEFAULT '');
CREATE TABLE IF NOT EXISTS device_twin(
  id integer NOT NULL PRIMARY KEY AUTOINCREMENT,
  deviceid varchar(64) NOT NULL DEFAULT '',
  name varchar(32) NOT NULL DEFAULT '',
  description varchar(64) NOT NULL DEFAULT '',
  expected varchar(64) NOT NULL DEFAULT '',
  actual varchar(64) NOT NULL DEFAULT '',
  expected_meta varchar(256) NOT NULL DEFAULT '',
  actual_meta varchar(256) NOT NULL DEFAULT '',
  expected_version varchar(256) NOT NULL DEFAULT '',
  actual_version varchar(256) NOT NULL DEFAULT '',
  optional bool NOT NULL DEFAULT 0,
  attr_type varchar(32) NOT NULL DEFAULT '',
  metadata varchar(256) NOT NULL DEFAULT '');
CREATE TABLE IF NOT EXISTS kedge_twin_pending(
  device_id TEXT NOT NULL,
  kind TEXT NOT NULL,
  content TEXT NOT NULL,
  PRIMARY KEY(device_id, kind));
)sql";

std::string type_meta(const std::string& type) { return "{\"type\":\"" + type + "\"}"; }

}  // namespace

struct TwinStore::Impl {
    std::filesystem::path path;
    Db db;

    Result<void> fail(const Error& e) const {
        return Error(errc::io_error, "twin store " + path.string() + ": " + e.detail);
    }

    Result<Stmt> prepare(std::string_view sql) {
        auto s = Stmt::prepare(db, sql);
        if (!s)
            return Error(errc::io_error, "twin store " + path.string() + ": " + s.error().detail);
        return s;
    }
};

TwinStore::TwinStore(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
TwinStore::~TwinStore() = default;

Result<std::unique_ptr<TwinStore>> TwinStore::open(const std::filesystem::path& file) {
    auto impl = std::make_unique<Impl>();
    impl->path = file;
    auto db = Db::open_private(file.string(), 5000);
    if (!db) return Error(errc::io_error, "twin store: " + db.error().detail);
    impl->db = std::move(*db);
    if (auto r = impl->db.exec(kSchema); !r) return impl->fail(r.error()).error();
    return std::unique_ptr<TwinStore>(new TwinStore(std::move(impl)));
}

Result<std::vector<DeviceRecord>> TwinStore::load_devices() {
    std::vector<DeviceRecord> out;
    std::map<std::string, std::size_t> index;
    {
        auto s = impl_->prepare("SELECT id, name, description, state, last_online FROM device");
        if (!s) return s.error();
        for (;;) {
            auto row = s->step();
            if (!row) return impl_->fail(row.error()).error();
            if (!*row) break;
            DeviceRecord d;
            d.id = s->column_text(0);
            d.name = s->column_text(1);
            d.description = s->column_text(2);
            d.state = s->column_text(3);
            d.last_online = s->column_text(4);
            index[d.id] = out.size();
            out.push_back(std::move(d));
        }
    }
    {
        auto s = impl_->prepare(
            "SELECT deviceid, name, description, value, optional, attr_type FROM device_attr");
        if (!s) return s.error();
        for (;;) {
            auto row = s->step();
            if (!row) return impl_->fail(row.error()).error();
            if (!*row) break;
            auto it = index.find(s->column_text(0));
            if (it == index.end()) continue;
            Attr a{s->column_text(1), s->column_text(2), s->column_text(3), s->column_int(4) != 0,
                   s->column_text(5)};
            out[it->second].attributes[a.name] = std::move(a);
        }
    }
    auto s = impl_->prepare(
        "SELECT deviceid, name, description, expected, actual, expected_meta, actual_meta, "
        "expected_version, actual_version, optional, attr_type FROM device_twin");
    if (!s) return s.error();
    for (;;) {
        auto row = s->step();
        if (!row) return impl_->fail(row.error()).error();
        if (!*row) break;
        auto it = index.find(s->column_text(0));
        if (it == index.end()) continue;
        Twin t;
        t.name = s->column_text(1);
        t.description = s->column_text(2);
        // An empty *_meta column means the side was never set (upstream leaves it empty too).
        if (auto meta = s->column_text(5); !meta.empty())
            t.expected = TwinValue{s->column_text(3), parse_meta_timestamp(meta)};
        if (auto meta = s->column_text(6); !meta.empty())
            t.actual = TwinValue{s->column_text(4), parse_meta_timestamp(meta)};
        t.expected_version = parse_version_text(s->column_text(7));
        t.actual_version = parse_version_text(s->column_text(8));
        t.optional = s->column_int(9) != 0;
        t.type = s->column_text(10);
        if (t.type.empty()) t.type = "string";
        out[it->second].twins[t.name] = std::move(t);
    }
    return out;
}

Result<void> TwinStore::put_device(const DeviceRecord& d) {
    auto tx = Transaction::begin(impl_->db);
    if (!tx) return impl_->fail(tx.error());
    {
        auto s = impl_->prepare(
            "INSERT OR REPLACE INTO device(id, name, description, state, last_online) "
            "VALUES(?,?,?,?,?)");
        if (!s) return s.error();
        s->bind(1, d.id);
        s->bind(2, d.name);
        s->bind(3, d.description);
        s->bind(4, d.state);
        s->bind(5, d.last_online);
        if (auto r = s->run(); !r) return impl_->fail(r.error());
    }
    for (std::string_view sql : {"DELETE FROM device_attr WHERE deviceid = ?",
                                 "DELETE FROM device_twin WHERE deviceid = ?"}) {
        auto s = impl_->prepare(sql);
        if (!s) return s.error();
        s->bind(1, d.id);
        if (auto r = s->run(); !r) return impl_->fail(r.error());
    }
    if (!d.attributes.empty()) {
        auto s = impl_->prepare(
            "INSERT INTO device_attr(deviceid, name, description, value, optional, attr_type, "
            "metadata) VALUES(?,?,?,?,?,?,?)");
        if (!s) return s.error();
        for (const auto& [name, a] : d.attributes) {
            StmtUse use(*s);
            s->bind(1, d.id);
            s->bind(2, a.name);
            s->bind(3, a.description);
            s->bind(4, a.value);
            s->bind(5, std::int64_t{a.optional ? 1 : 0});
            s->bind(6, a.type);
            s->bind(7, type_meta(a.type));
            if (auto r = s->run(); !r) return impl_->fail(r.error());
        }
    }
    if (!d.twins.empty()) {
        auto s = impl_->prepare(
            "INSERT INTO device_twin(deviceid, name, description, expected, actual, "
            "expected_meta, actual_meta, expected_version, actual_version, optional, attr_type, "
            "metadata) VALUES(?,?,?,?,?,?,?,?,?,?,?,?)");
        if (!s) return s.error();
        for (const auto& [name, t] : d.twins) {
            StmtUse use(*s);
            s->bind(1, d.id);
            s->bind(2, t.name);
            s->bind(3, t.description);
            s->bind(4, t.expected ? std::string_view(t.expected->value) : "");
            s->bind(5, t.actual ? std::string_view(t.actual->value) : "");
            s->bind(6, t.expected ? value_meta_text(*t.expected) : std::string());
            s->bind(7, t.actual ? value_meta_text(*t.actual) : std::string());
            s->bind(8, version_text(t.expected_version));
            s->bind(9, version_text(t.actual_version));
            s->bind(10, std::int64_t{t.optional ? 1 : 0});
            s->bind(11, t.type);
            s->bind(12, type_meta(t.type));
            if (auto r = s->run(); !r) return impl_->fail(r.error());
        }
    }
    if (auto r = tx->commit(); !r) return impl_->fail(r.error());
    return {};
}

Result<void> TwinStore::remove_device(std::string_view id) {
    auto tx = Transaction::begin(impl_->db);
    if (!tx) return impl_->fail(tx.error());
    for (std::string_view sql :
         {"DELETE FROM device WHERE id = ?", "DELETE FROM device_attr WHERE deviceid = ?",
          "DELETE FROM device_twin WHERE deviceid = ?",
          "DELETE FROM kedge_twin_pending WHERE device_id = ?"}) {
        auto s = impl_->prepare(sql);
        if (!s) return s.error();
        s->bind(1, id);
        if (auto r = s->run(); !r) return impl_->fail(r.error());
    }
    if (auto r = tx->commit(); !r) return impl_->fail(r.error());
    return {};
}

Result<void> TwinStore::put_pending(const PendingReport& p) {
    auto s = impl_->prepare(
        "INSERT OR REPLACE INTO kedge_twin_pending(device_id, kind, content) VALUES(?,?,?)");
    if (!s) return s.error();
    s->bind(1, p.device_id);
    s->bind(2, p.kind);
    s->bind(3, p.content);
    if (auto r = s->run(); !r) return impl_->fail(r.error());
    return {};
}

Result<void> TwinStore::remove_pending(const PendingReport& p) {
    auto s = impl_->prepare(
        "DELETE FROM kedge_twin_pending WHERE device_id = ? AND kind = ? AND content = ?");
    if (!s) return s.error();
    s->bind(1, p.device_id);
    s->bind(2, p.kind);
    s->bind(3, p.content);
    if (auto r = s->run(); !r) return impl_->fail(r.error());
    return {};
}

Result<std::vector<PendingReport>> TwinStore::list_pending() {
    auto s = impl_->prepare(
        "SELECT device_id, kind, content FROM kedge_twin_pending ORDER BY device_id, kind");
    if (!s) return s.error();
    std::vector<PendingReport> out;
    for (;;) {
        auto row = s->step();
        if (!row) return impl_->fail(row.error()).error();
        if (!*row) break;
        out.push_back(PendingReport{s->column_text(0), s->column_text(1), s->column_text(2)});
    }
    return out;
}

Result<std::vector<StoredObject>> TwinStore::load_objects() {
    std::vector<StoredObject> out;
    {
        auto s = impl_->prepare("SELECT 1 FROM sqlite_master WHERE type='table' AND name='meta'");
        if (!s) return s.error();
        auto row = s->step();
        if (!row) return impl_->fail(row.error()).error();
        if (!*row) return out;
    }
    auto s = impl_->prepare(
        "SELECT type, key, value FROM meta WHERE type IN ('device', 'devicemodel') ORDER BY key");
    if (!s) return s.error();
    for (;;) {
        auto row = s->step();
        if (!row) return impl_->fail(row.error()).error();
        if (!*row) break;
        out.push_back(StoredObject{s->column_text(0), s->column_text(1), s->column_text(2)});
    }
    return out;
}

}  // namespace kedge::edge::devicetwin
