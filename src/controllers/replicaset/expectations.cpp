#include "controllers/replicaset/expectations.hpp"

namespace kedge::controllers::replicaset {

void Expectations::expect_creations(const std::string& key, int count, Clock::time_point now) {
    records_[key] = Record{count, {}, now};
}

void Expectations::expect_deletions(const std::string& key, std::set<std::string> pod_keys,
                                    Clock::time_point now) {
    Record r;
    r.deletes.insert(pod_keys.begin(), pod_keys.end());
    r.since = now;
    records_[key] = std::move(r);
}

void Expectations::creation_observed(std::string_view key) {
    auto it = records_.find(key);
    if (it != records_.end() && it->second.add > 0) --it->second.add;
}

void Expectations::deletion_observed(std::string_view key, std::string_view pod_key) {
    auto it = records_.find(key);
    if (it == records_.end()) return;
    auto d = it->second.deletes.find(pod_key);
    if (d != it->second.deletes.end()) it->second.deletes.erase(d);
}

bool Expectations::satisfied(std::string_view key, Clock::time_point now) const {
    auto it = records_.find(key);
    if (it == records_.end()) return true;
    const Record& r = it->second;
    if (r.add <= 0 && r.deletes.empty()) return true;
    return now - r.since > ttl_;
}

void Expectations::forget(std::string_view key) {
    auto it = records_.find(key);
    if (it != records_.end()) records_.erase(it);
}

int Expectations::pending_creations(std::string_view key) const {
    auto it = records_.find(key);
    return it == records_.end() ? 0 : it->second.add;
}

std::size_t Expectations::pending_deletions(std::string_view key) const {
    auto it = records_.find(key);
    return it == records_.end() ? 0 : it->second.deletes.size();
}

}  // namespace kedge::controllers::replicaset
