#include <string_view>
#include <vector>

#include "mqtt/mqtt_client.hpp"

namespace kedge::mqtt {

namespace {

// Levels are separated by '/'; empty levels count ("/a" has two levels).
std::vector<std::string_view> split_levels(std::string_view s) {
    std::vector<std::string_view> levels;
    std::size_t start = 0;
    for (;;) {
        auto slash = s.find('/', start);
        if (slash == std::string_view::npos) {
            levels.push_back(s.substr(start));
            return levels;
        }
        levels.push_back(s.substr(start, slash - start));
        start = slash + 1;
    }
}

}  // namespace

bool topic_matches(std::string_view filter, std::string_view topic) {
    if (filter.empty() || topic.empty()) return false;
    if (topic.find_first_of("+#") != std::string_view::npos) return false;  // not a topic name
    // MQTT 3.1.1 §4.7.2: a leading wildcard never matches the broker's "$..." topics.
    if (topic.front() == '$' && (filter.front() == '+' || filter.front() == '#')) return false;

    auto f = split_levels(filter);
    auto t = split_levels(topic);
    for (std::size_t i = 0; i < f.size(); ++i) {
        // '#' is valid only as the whole last level; it also matches the parent ("a/#" ~ "a").
        if (f[i] == "#") return i + 1 == f.size();
        if (f[i] != "+" && f[i].find_first_of("+#") != std::string_view::npos) return false;
        if (i >= t.size()) return false;
        if (f[i] != "+" && f[i] != t[i]) return false;
    }
    return f.size() == t.size();
}

}  // namespace kedge::mqtt
