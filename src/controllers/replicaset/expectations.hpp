#pragma once
// client-go's ControllerExpectations: what a controller is waiting to see in its informer after
// its own creates and deletes, so that a sync running before the informer caught up does not
// create or delete the same pods twice. Records expire (a lost watch event must not wedge a
// controller forever). Single-threaded, no Asio.

#include <chrono>
#include <map>
#include <set>
#include <string>
#include <string_view>

#include "base/clock.hpp"

namespace kedge::controllers::replicaset {

class Expectations {
public:
    explicit Expectations(std::chrono::nanoseconds ttl = std::chrono::minutes(5)) : ttl_(ttl) {}

    // Replaces the key's record: `count` creations pending.
    void expect_creations(const std::string& key, int count, Clock::time_point now);
    // Replaces the key's record: deletions of these pods ("<ns>/<name>") pending.
    void expect_deletions(const std::string& key, std::set<std::string> pod_keys,
                          Clock::time_point now);
    // An observed (or abandoned) creation / deletion. Unknown keys are ignored.
    void creation_observed(std::string_view key);
    void deletion_observed(std::string_view key, std::string_view pod_key);

    // True when nothing is pending, the record expired, or there is no record: a sync may act.
    bool satisfied(std::string_view key, Clock::time_point now) const;
    void forget(std::string_view key);

    int pending_creations(std::string_view key) const;
    std::size_t pending_deletions(std::string_view key) const;

private:
    struct Record {
        int add = 0;
        std::set<std::string, std::less<>> deletes;
        Clock::time_point since;
    };
    std::chrono::nanoseconds ttl_;
    std::map<std::string, Record, std::less<>> records_;
};

}  // namespace kedge::controllers::replicaset
