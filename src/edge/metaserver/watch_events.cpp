#include "edge/metaserver/watch_events.hpp"

#include <boost/json.hpp>

#include <algorithm>

#include "kube/status.hpp"

namespace kedge::edge::metaserver {
namespace json = boost::json;

WatchEvents::WatchEvents(ApiResource resource, ObjectFilter filter, std::uint64_t from_rv,
                         bool initial)
    : resource_(std::move(resource)),
      filter_(std::move(filter)),
      gvr_(resource_.gvr()),
      from_rv_(from_rv),
      initial_(initial),
      seen_rv_(from_rv) {}

std::string WatchEvents::event_line(const char* type, const json::object& obj) const {
    std::string line = R"({"type":")";
    line += type;
    line += R"(","object":)";
    line += json::serialize(obj);
    line += "}\n";
    return line;
}

std::string WatchEvents::add_initial(const MetaObject& object) {
    if (!(object.gvr == gvr_) || !filter_.matches_key(object.key)) return {};
    auto obj = served_object(resource_, object);
    if (!obj || !filter_.matches_selectors(*obj)) return {};
    known_[object.key.str()] = object.resource_version;
    return event_line("ADDED", *obj);
}

std::string WatchEvents::on_change(const MetaChange& change) {
    const MetaObject& object = change.object;
    // Every change moves the safe bookmark, also those of other resources: the store's
    // resourceVersions are global.
    seen_rv_ = std::max(seen_rv_, object.resource_version);
    if (!(object.gvr == gvr_) || !filter_.matches_key(object.key)) return {};
    auto obj = served_object(resource_, object);
    if (!obj) return {};
    const std::string key = object.key.str();
    auto known = known_.find(key);
    const bool matches = filter_.matches_selectors(*obj);
    if (change.kind == ChangeKind::deleted) {
        // A resumed watch does not know what the client holds: a delete of a matching object
        // is news. A fresh one does: a delete of something never sent is not.
        if (known == known_.end() && (initial_ || !matches)) return {};
        if (known != known_.end()) known_.erase(known);
        return event_line("DELETED", *obj);
    }
    // The client already has this version (the list it started from, or the RV it resumed
    // from); resourceVersion 0 means "not numeric" and is never dropped.
    std::uint64_t have = initial_ ? 0 : from_rv_;
    if (known != known_.end()) have = std::max(have, known->second);
    if (object.resource_version != 0 && object.resource_version <= have) return {};
    if (!matches) {
        if (known == known_.end()) return {};
        known_.erase(known);
        return event_line("DELETED", *obj);
    }
    const char* type = "ADDED";
    if (known != known_.end() || (!initial_ && change.kind == ChangeKind::modified))
        type = "MODIFIED";
    known_[key] = object.resource_version;
    return event_line(type, *obj);
}

std::string WatchEvents::bookmark_line() const {
    json::object obj{{"kind", resource_.kind},
                     {"apiVersion", resource_.group_version()},
                     {"metadata", json::object{{"resourceVersion", std::to_string(seen_rv_)}}}};
    return event_line("BOOKMARK", obj);
}

std::string expired_event_line(std::string_view message) {
    auto status = kube::status_expired(message);
    return R"({"type":"ERROR","object":)" + status.to_json_string() + "}\n";
}

}  // namespace kedge::edge::metaserver
