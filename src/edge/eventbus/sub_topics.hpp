#pragma once
// The event bus's persisted MQTT subscriptions: upstream's table `sub_topics(topic PK)` in the
// edgecore SQLite file, through the bus's own connection.

#include <string>
#include <vector>

#include "base/error.hpp"
#include "sqlite/sqlite_db.hpp"

namespace kedge::edge {

// One connection to the edgecore database for sub_topics. Not thread-safe: one user at a time.
class SubTopicStore {
public:
    // Opens (creating the file, mode 0600, and its directory when missing) and creates the
    // table if needed. io_error naming the file.
    static Result<SubTopicStore> open(const std::string& file);

    // Every stored filter, sorted.
    Result<std::vector<std::string>> list();
    // Idempotent.
    Result<void> add(const std::string& topic);
    Result<void> remove(const std::string& topic);

private:
    explicit SubTopicStore(sqlite::Db db) : db_(std::move(db)) {}
    sqlite::Db db_;
};

}  // namespace kedge::edge
