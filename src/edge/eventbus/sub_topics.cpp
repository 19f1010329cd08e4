#include "edge/eventbus/sub_topics.hpp"

#include <filesystem>
#include <system_error>

namespace kedge::edge {

namespace {

// Upstream's beego model: column "topic", varchar(256), primary key.
constexpr std::string_view kCreateTable =
    "CREATE TABLE IF NOT EXISTS sub_topics (topic varchar(256) NOT NULL PRIMARY KEY)";
constexpr int kBusyTimeoutMs = 5000;

}  // namespace

Result<SubTopicStore> SubTopicStore::open(const std::string& file) {
    auto db = sqlite::Db::open_private(file, kBusyTimeoutMs);
    if (!db) return db.error();
    if (auto r = db->exec(kCreateTable); !r)
        return Error{errc::io_error, file + ": " + r.error().detail};
    return SubTopicStore(std::move(*db));
}

Result<std::vector<std::string>> SubTopicStore::list() {
    auto stmt = sqlite::Stmt::prepare(db_, "SELECT topic FROM sub_topics ORDER BY topic");
    if (!stmt) return stmt.error();
    std::vector<std::string> topics;
    for (;;) {
        auto row = stmt->step();
        if (!row) return row.error();
        if (!*row) break;
        topics.push_back(stmt->column_text(0));
    }
    return topics;
}

Result<void> SubTopicStore::add(const std::string& topic) {
    auto stmt = sqlite::Stmt::prepare(db_, "INSERT OR IGNORE INTO sub_topics(topic) VALUES (?)");
    if (!stmt) return stmt.error();
    stmt->bind(1, std::string_view(topic));
    return stmt->run();
}

Result<void> SubTopicStore::remove(const std::string& topic) {
    auto stmt = sqlite::Stmt::prepare(db_, "DELETE FROM sub_topics WHERE topic = ?");
    if (!stmt) return stmt.error();
    stmt->bind(1, std::string_view(topic));
    return stmt->run();
}

}  // namespace kedge::edge
