#pragma once
// List and watch query handling of the meta server: the query parameters kube clients send
// (selectors, limit/continue, resourceVersion, watch options), the filter an object must pass,
// and the <Kind>List body with kube's paging. Pure: no Asio, no store access.

#include <boost/json/object.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/error.hpp"
#include "edge/metaserver/resources.hpp"
#include "edge/metastore/meta_store.hpp"
#include "kube/field_selector.hpp"
#include "kube/label_selector.hpp"

namespace kedge::edge::metaserver {

// The query of a list or watch request, validated.
struct ListOptions {
    kube::LabelSelector labels;
    kube::FieldSelector fields;
    std::size_t limit = 0;         // 0 = everything
    std::string continue_after;    // "<ns>/<name>" of the last item of the previous page
    std::string resource_version;  // as sent ("" when absent)
    bool allow_bookmarks = false;
    std::optional<std::chrono::seconds> timeout;  // ?timeoutSeconds (watch)
};

// Parses the decoded query parameters. invalid_argument (the server answers 400 BadRequest
// with the detail) for malformed selectors, limit, continue, resourceVersion or timeoutSeconds.
Result<ListOptions> parse_list_options(
    const std::vector<std::pair<std::string, std::string>>& query);

// What an object must satisfy to be listed or watched: namespace, name, selectors.
class ObjectFilter {
public:
    // ns "" = every namespace; name "" = any name (a watch of one object sets it).
    ObjectFilter(std::string resource, std::string ns, std::string name, kube::LabelSelector labels,
                 kube::FieldSelector fields);

    // The part that never changes for an object: its namespace and name.
    bool matches_key(const MetaKey& key) const;
    // The selectors, on the parsed object.
    bool matches_selectors(const boost::json::object& obj) const;
    bool has_selectors() const { return !labels_.empty() || !fields_.empty(); }

private:
    std::string resource_;
    std::string ns_;
    std::string name_;
    kube::LabelSelector labels_;
    kube::FieldSelector fields_;
};

// A stored object parsed, with apiVersion and kind filled in when the cloud sent it without
// them (kube objects as served always carry both). nullopt when the stored text is not a JSON
// object.
std::optional<boost::json::object> served_object(const ApiResource& resource,
                                                 const MetaObject& object);

// The <Kind>List body for the objects (any order; sorted here by namespace/name), filtered,
// paged by limit/continue, with metadata.resourceVersion = rv. Objects whose stored text is not
// JSON are skipped.
std::string list_body(const ApiResource& resource, std::vector<MetaObject> objects,
                      const ObjectFilter& filter, const ListOptions& options, std::uint64_t rv);

// The opaque continue token kube clients send back for the next page (base64 JSON, as kube).
std::string encode_continue(std::uint64_t rv, std::string_view start_after);

}  // namespace kedge::edge::metaserver
