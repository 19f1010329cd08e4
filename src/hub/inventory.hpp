#pragma once
// kedge's edge-driven resync (PROTOCOL.md "Where kedge goes further"): on every (re)connect a
// kedge edge sends the inventory of what it stores, and the cloud answers with exactly the
// inserts, updates and deletes that bring it level, then one response summarising the counts.
//
// Wire shape (format version 1), an ordinary message an upstream cloudcore ignores (its edge
// controller logs and drops unknown resource types):
//   route   {source: "edgehub", group: "resource", operation: "resync",
//            resource: "null/inventory/<node>"}
//   content {"version": 1,
//            "resources": {"pod": {"<ns>/<name>": "<resourceVersion>", ...},
//                          "configmap": {...}, "secret": {...}, "node": {"<name>": "<rv>"},
//                          "service": {...}, "endpoints": {...}, ...}}
// Objects are keyed by their namespace/name (cluster-scoped: name), not by UID: the edge's store
// is keyed by "<ns>/<type>/<name>" (PROTOCOL.md §7), a delete must name the object, and the key
// is half the size of a UID, so 10,000 objects take ~350 KB. A re-created object has a new
// resourceVersion, so it is seen as changed.
// The answer: the delta messages (ordinary insert/update/delete), then
//   route   {source: "edgecontroller", group: "resource", operation: "response",
//            resource: "null/inventory/<node>"}, parent_msg_id = the inventory's msg_id
//   content {"version": 1, "inserted": n, "updated": n, "deleted": n, "unchanged": n}

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "base/error.hpp"
#include "bus/message.hpp"

namespace kedge::hub {

inline constexpr int kInventoryVersion = 1;
inline constexpr std::string_view kInventoryOperation = "resync";
inline constexpr std::string_view kInventoryType = "inventory";

// type ("pod", "configmap", ...) -> key ("<ns>/<name>" or "<name>") -> resourceVersion.
struct Inventory {
    std::map<std::string, std::map<std::string, std::string, std::less<>>, std::less<>> resources;
    std::size_t size() const;
};

// The message an edge sends (resource "null/inventory/<node>").
bus::Message make_inventory_message(std::string_view node, const Inventory& inventory);
// True for an inventory message, with or without the cloud-side "node/<n>/" prefix.
bool is_inventory_message(const bus::Message& msg);
// invalid_argument naming what is wrong (unknown version, wrong shapes); never throws.
Result<Inventory> parse_inventory(const bus::Message& msg);

struct ResyncSummary {
    std::uint64_t inserted = 0, updated = 0, deleted = 0, unchanged = 0;
    bool operator==(const ResyncSummary&) const = default;
};
// The cloud's closing response to an inventory message.
bus::Message make_resync_response(const bus::Message& inventory, const ResyncSummary& summary);
// True for a resync response (operation response, resource type inventory).
bool is_resync_response(const bus::Message& msg);
Result<ResyncSummary> parse_resync_response(const bus::Message& msg);

}  // namespace kedge::hub
