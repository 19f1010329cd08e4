#include "edge/metaserver/list_query.hpp"

#include <boost/json.hpp>

#include <algorithm>
#include <charconv>

#include "base/base64.hpp"
#include "edge/metaserver/api_path.hpp"
#include "kube/object.hpp"

namespace kedge::edge::metaserver {
namespace json = boost::json;

namespace {

Result<std::int64_t> parse_int(std::string_view name, std::string_view text) {
    std::int64_t v = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (text.empty() || ec != std::errc{} || end != text.data() + text.size() || v < 0)
        return Error(errc::invalid_argument, std::string(name) + ": Invalid value: \"" +
                                                 std::string(text) +
                                                 "\": must be a non-negative integer");
    return v;
}

Result<std::string> decode_continue(std::string_view token) {
    auto invalid = [&](std::string_view why) {
        return Error(errc::invalid_argument, "invalid continue token: " + std::string(why));
    };
    std::string raw;
    if (!base64_decode(token, raw)) return invalid("not base64");
    boost::system::error_code ec;
    json::value v = json::parse(raw, ec);
    if (ec || !v.is_object()) return invalid("not a JSON object");
    const auto* start = v.as_object().if_contains("start");
    if (!start || !start->is_string() || start->as_string().find('/') == json::string::npos)
        return invalid("no start key");
    return std::string(start->as_string());
}

// "<ns>/<name>" as the order of list items: namespace first (cluster-scoped: "null").
std::string sort_key(const MetaKey& key) { return key.ns + "/" + key.name; }

}  // namespace

Result<ListOptions> parse_list_options(
    const std::vector<std::pair<std::string, std::string>>& query) {
    ListOptions o;
    for (const auto& [name, value] : query) {
        if (name == "labelSelector") {
            auto s = kube::LabelSelector::parse(value);
            if (!s) return Error(errc::invalid_argument, s.error().detail);
            o.labels = std::move(*s);
        } else if (name == "fieldSelector") {
            auto s = kube::FieldSelector::parse(value);
            if (!s) return Error(errc::invalid_argument, s.error().detail);
            o.fields = std::move(*s);
        } else if (name == "limit") {
            if (value.empty()) continue;
            auto n = parse_int("limit", value);
            if (!n) return n.error();
            o.limit = static_cast<std::size_t>(*n);
        } else if (name == "continue") {
            if (value.empty()) continue;
            auto start = decode_continue(value);
            if (!start) return start.error();
            o.continue_after = std::move(*start);
        } else if (name == "resourceVersion") {
            o.resource_version = value;
        } else if (name == "allowWatchBookmarks") {
            o.allow_bookmarks = value.empty() || parse_bool_param(value);
        } else if (name == "timeoutSeconds") {
            if (value.empty()) continue;
            auto n = parse_int("timeoutSeconds", value);
            if (!n) return n.error();
            o.timeout = std::chrono::seconds(*n);
        }
    }
    return o;
}

ObjectFilter::ObjectFilter(std::string resource, std::string ns, std::string name,
                           kube::LabelSelector labels, kube::FieldSelector fields)
    : resource_(std::move(resource)),
      ns_(std::move(ns)),
      name_(std::move(name)),
      labels_(std::move(labels)),
      fields_(std::move(fields)) {}

bool ObjectFilter::matches_key(const MetaKey& key) const {
    return (ns_.empty() || key.ns == ns_) && (name_.empty() || key.name == name_);
}

bool ObjectFilter::matches_selectors(const json::object& obj) const {
    if (!labels_.matches_object(obj)) return false;
    if (fields_.empty()) return true;
    return fields_.matches([&](std::string_view field) {
        return kube::selectable_field_value(obj, resource_, field);
    });
}

std::optional<json::object> served_object(const ApiResource& resource, const MetaObject& object) {
    boost::system::error_code ec;
    json::value v = json::parse(object.json, ec);
    if (ec || !v.is_object()) return std::nullopt;
    json::object& o = v.as_object();
    if (kube::api_version(o).empty()) kube::set_api_version(o, resource.group_version());
    if (kube::kind(o).empty()) kube::set_kind(o, resource.kind);
    return std::move(o);
}

std::string list_body(const ApiResource& resource, std::vector<MetaObject> objects,
                      const ObjectFilter& filter, const ListOptions& options, std::uint64_t rv) {
    std::sort(objects.begin(), objects.end(), [](const MetaObject& a, const MetaObject& b) {
        return std::tie(a.key.ns, a.key.name) < std::tie(b.key.ns, b.key.name);
    });
    // The continue key "<ns>/<name>" compared as the (namespace, name) pair the items are
    // sorted by (as one string, "a-b/x" < "a/y" would disagree with the sort).
    std::string after_ns, after_name;
    if (auto slash = options.continue_after.find('/'); slash != std::string::npos) {
        after_ns = options.continue_after.substr(0, slash);
        after_name = options.continue_after.substr(slash + 1);
    }
    json::array items;
    std::string last;
    std::size_t remaining = 0;
    for (const auto& obj : objects) {
        if (!filter.matches_key(obj.key)) continue;
        if (!options.continue_after.empty() &&
            std::tie(obj.key.ns, obj.key.name) <= std::tie(after_ns, after_name))
            continue;
        std::string key = sort_key(obj.key);
        auto served = served_object(resource, obj);
        if (!served || !filter.matches_selectors(*served)) continue;
        if (options.limit > 0 && items.size() >= options.limit) {
            ++remaining;
            continue;
        }
        items.push_back(std::move(*served));
        last = std::move(key);
    }
    json::object meta{{"resourceVersion", std::to_string(rv)}};
    if (remaining > 0) {
        meta["continue"] = encode_continue(rv, last);
        meta["remainingItemCount"] = remaining;
    }
    json::object list{{"kind", resource.list_kind()},
                      {"apiVersion", resource.group_version()},
                      {"metadata", std::move(meta)},
                      {"items", std::move(items)}};
    return json::serialize(list);
}

std::string encode_continue(std::uint64_t rv, std::string_view start_after) {
    json::object token{{"v", "meta.k8s.io/v1"}, {"rv", rv}, {"start", start_after}};
    return base64_encode(json::serialize(token));
}

}  // namespace kedge::edge::metaserver
