#include "sqlite/sqlite_db.hpp"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <limits>

namespace kedge::sqlite {

Db::~Db() {
    if (db_) sqlite3_close_v2(db_);
}

Db& Db::operator=(Db&& other) noexcept {
    if (this != &other) {
        if (db_) sqlite3_close_v2(db_);
        db_ = other.db_;
        other.db_ = nullptr;
    }
    return *this;
}

Result<Db> Db::open(const std::string& path, bool create, int busy_timeout_ms) {
    Db db;
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX;
    if (create) flags |= SQLITE_OPEN_CREATE;
    int rc = sqlite3_open_v2(path.c_str(), &db.db_, flags, nullptr);
    if (rc != SQLITE_OK) {
        std::string msg = db.db_ ? sqlite3_errmsg(db.db_) : sqlite3_errstr(rc);
        return Error(errc::io_error, "cannot open " + path + ": " + msg);
    }
    sqlite3_busy_timeout(db.db_, busy_timeout_ms);
    sqlite3_extended_result_codes(db.db_, 1);
    return db;
}

Result<Db> Db::open_private(const std::string& path, int busy_timeout_ms) {
    std::filesystem::path file(path);
    std::error_code ec;
    if (file.has_parent_path()) {
        std::filesystem::create_directories(file.parent_path(), ec);
        if (ec)
            return Error(errc::io_error, "cannot create directory " + file.parent_path().string() +
                                             ": " + ec.message());
    }
    int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) return Error(errc::io_error, "cannot open " + path + ": " + std::strerror(errno));
    struct stat st {};
    if (::fstat(fd, &st) == 0 && (st.st_mode & 0077) != 0) (void)::fchmod(fd, 0600);
    ::close(fd);
    auto db = open(path, false, busy_timeout_ms);
    if (!db) return db.error();
    for (std::string_view sql : {"PRAGMA journal_mode=WAL", "PRAGMA synchronous=FULL"}) {
        if (auto r = db->exec(sql); !r) return Error(errc::io_error, path + ": " + r.error().detail);
    }
    return db;
}

Result<void> Db::exec(std::string_view sql) {
    std::string s(sql);
    char* err = nullptr;
    int rc = sqlite3_exec(db_, s.c_str(), nullptr, nullptr, &err);
    if (rc != SQLITE_OK) {
        std::string msg = err ? err : sqlite3_errstr(rc);
        sqlite3_free(err);
        return Error(errc::io_error, "sqlite: " + msg + " in: " + s.substr(0, 80));
    }
    return {};
}

std::string Db::last_error() const { return db_ ? sqlite3_errmsg(db_) : "no database"; }

std::int64_t Db::changes() const { return db_ ? sqlite3_changes64(db_) : 0; }

bool Db::autocommit() const { return !db_ || sqlite3_get_autocommit(db_) != 0; }

Stmt::~Stmt() {
    if (stmt_) sqlite3_finalize(stmt_);
}

Stmt& Stmt::operator=(Stmt&& other) noexcept {
    if (this != &other) {
        if (stmt_) sqlite3_finalize(stmt_);
        stmt_ = other.stmt_;
        db_ = other.db_;
        other.stmt_ = nullptr;
    }
    return *this;
}

Result<Stmt> Stmt::prepare(Db& db, std::string_view sql) {
    Stmt s;
    s.db_ = db.handle();
    int rc = sqlite3_prepare_v3(db.handle(), sql.data(), static_cast<int>(sql.size()),
                                SQLITE_PREPARE_PERSISTENT, &s.stmt_, nullptr);
    if (rc != SQLITE_OK) {
        return Error(errc::internal,
                     "sqlite prepare failed: " + db.last_error() + " in: " + std::string(sql));
    }
    return s;
}

void Stmt::bind(int index, std::int64_t v) { sqlite3_bind_int64(stmt_, index, v); }

void Stmt::bind(int index, std::string_view text) {
    sqlite3_bind_text64(stmt_, index, text.data(), text.size(), SQLITE_TRANSIENT, SQLITE_UTF8);
}

void Stmt::bind_null(int index) { sqlite3_bind_null(stmt_, index); }

void Stmt::bind_uint64(int index, std::uint64_t v) {
    constexpr auto kMax = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
    sqlite3_bind_int64(stmt_, index, static_cast<std::int64_t>(std::min(v, kMax)));
}

Result<bool> Stmt::step() {
    int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    return Error(errc::io_error, std::string("sqlite step failed: ") + sqlite3_errmsg(db_) +
                                     " in: " + sqlite3_sql(stmt_));
}

Result<void> Stmt::run() {
    auto r = step();
    if (!r) return r.error();
    return {};
}

void Stmt::reset() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
}

std::int64_t Stmt::column_int(int col) const { return sqlite3_column_int64(stmt_, col); }

std::string Stmt::column_text(int col) const {
    auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, col));
    int n = sqlite3_column_bytes(stmt_, col);
    return p ? std::string(p, static_cast<std::size_t>(n)) : std::string();
}

std::uint64_t Stmt::column_uint64(int col) const {
    std::int64_t v = sqlite3_column_int64(stmt_, col);
    return v < 0 ? 0 : static_cast<std::uint64_t>(v);
}

bool Stmt::column_is_null(int col) const { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }

Result<Transaction> Transaction::begin(Db& db, Mode mode) {
    std::string_view sql = mode == Mode::kImmediate   ? "BEGIN IMMEDIATE"
                           : mode == Mode::kExclusive ? "BEGIN EXCLUSIVE"
                                                      : "BEGIN";
    auto r = db.exec(sql);
    if (!r) return r.error();
    return Transaction(&db);
}

Transaction::~Transaction() { rollback(); }

Result<void> Transaction::commit() {
    if (!db_) return Error(errc::internal, "sqlite: commit of a finished transaction");
    auto r = db_->exec("COMMIT");
    if (!r) {
        rollback();
        return r.error();
    }
    db_ = nullptr;
    return {};
}

void Transaction::rollback() {
    if (!db_) return;
    // A failed COMMIT or an I/O error may already have ended the transaction.
    if (!db_->autocommit()) (void)db_->exec("ROLLBACK");
    db_ = nullptr;
}

}  // namespace kedge::sqlite
