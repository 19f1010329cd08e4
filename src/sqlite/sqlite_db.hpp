#pragma once
// Thin RAII wrappers over the SQLite C API (used by the apiserver's SqliteStorage and the edge's
// MetaStore): a connection, a prepared statement and a transaction guard whose errors come back
// as kedge::Error values naming the statement.

#include <cstdint>
#include <string>
#include <string_view>

#include "base/error.hpp"

struct sqlite3;
struct sqlite3_stmt;

namespace kedge::sqlite {

// One SQLite connection (not shared between threads at the same time).
class Db {
public:
    Db() = default;
    ~Db();
    Db(Db&& other) noexcept : db_(other.db_) { other.db_ = nullptr; }
    Db& operator=(Db&& other) noexcept;
    Db(const Db&) = delete;

    // Opens (creating when asked) with a busy timeout, so a checkpoint or another connection's
    // lock is waited for instead of failing with SQLITE_BUSY at once.
    static Result<Db> open(const std::string& path, bool create, int busy_timeout_ms);
    // The edge database that several connections share (meta store, device twin, event bus):
    // creates the parent directory and the file mode 0600 before SQLite sees it (its -wal and
    // -shm files take the database file's mode; it holds secrets), tightens an existing file
    // that others can read, opens it and sets WAL + synchronous=FULL. journal_mode is the first
    // statement that reads the file, so a file that is not a database fails here.
    static Result<Db> open_private(const std::string& path, int busy_timeout_ms);

    // Runs one or more statements without results.
    Result<void> exec(std::string_view sql);
    sqlite3* handle() const { return db_; }
    std::string last_error() const;
    // Rows changed by the last INSERT/UPDATE/DELETE on this connection.
    std::int64_t changes() const;
    // True when no transaction is open (SQLite's autocommit mode).
    bool autocommit() const;

private:
    sqlite3* db_ = nullptr;
};

// A prepared statement, reset after each use by the Use guard below.
class Stmt {
public:
    Stmt() = default;
    ~Stmt();
    Stmt(Stmt&& other) noexcept : stmt_(other.stmt_), db_(other.db_) { other.stmt_ = nullptr; }
    Stmt& operator=(Stmt&& other) noexcept;
    Stmt(const Stmt&) = delete;

    static Result<Stmt> prepare(Db& db, std::string_view sql);

    void bind(int index, std::int64_t v);
    void bind(int index, std::string_view text);  // copied (SQLITE_TRANSIENT)
    void bind_null(int index);
    // uint64 values above INT64_MAX are stored as INT64_MAX (resourceVersions never get there).
    void bind_uint64(int index, std::uint64_t v);

    // SQLITE_ROW -> true, SQLITE_DONE -> false, anything else -> io_error with the message.
    Result<bool> step();
    // step() that must end with SQLITE_DONE.
    Result<void> run();
    void reset();

    std::int64_t column_int(int col) const;
    std::int64_t column_int64(int col) const { return column_int(col); }
    // The column as uint64: negative values (never written by kedge) read as 0.
    std::uint64_t column_uint64(int col) const;
    std::string column_text(int col) const;
    bool column_is_null(int col) const;

private:
    sqlite3_stmt* stmt_ = nullptr;
    sqlite3* db_ = nullptr;
};

// Resets (and unbinds) a statement when a use of it ends, also on early returns.
class StmtUse {
public:
    explicit StmtUse(Stmt& s) : s_(s) {}
    ~StmtUse() { s_.reset(); }
    StmtUse(const StmtUse&) = delete;
    StmtUse& operator=(const StmtUse&) = delete;

private:
    Stmt& s_;
};

// An open transaction: BEGIN (IMMEDIATE by default, so the write lock is taken up front and a
// busy database fails here, not at COMMIT) and ROLLBACK on destruction unless commit() succeeded.
class Transaction {
public:
    enum class Mode { kDeferred, kImmediate, kExclusive };

    static Result<Transaction> begin(Db& db, Mode mode = Mode::kImmediate);
    ~Transaction();
    Transaction(Transaction&& other) noexcept : db_(other.db_) { other.db_ = nullptr; }
    Transaction& operator=(Transaction&&) = delete;
    Transaction(const Transaction&) = delete;

    // COMMIT; on failure the transaction is rolled back (by the destructor) and nothing applied.
    Result<void> commit();
    // ROLLBACK now (also what the destructor does when commit() was not called or failed).
    void rollback();

private:
    explicit Transaction(Db* db) : db_(db) {}
    Db* db_ = nullptr;  // null once finished
};

}  // namespace kedge::sqlite
