#include "hub/inventory.hpp"

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>


namespace kedge::hub {

namespace json = boost::json;

namespace {

// "null/inventory/<node>" or "node/<n>/null/inventory/<node>": the type segment is second to
// last either way.
bool has_inventory_resource(std::string_view resource) {
    auto last = resource.rfind('/');
    if (last == std::string_view::npos || last == 0) return false;
    auto prev = resource.rfind('/', last - 1);
    std::string_view type = prev == std::string_view::npos
                                ? resource.substr(0, last)
                                : resource.substr(prev + 1, last - prev - 1);
    return type == kInventoryType;
}

Result<const json::object*> content_object(const bus::Message& msg, std::string_view what) {
    auto v = msg.content.value();
    if (!v) return v.error();
    if (!(*v)->is_object())
        return Error(errc::invalid_argument, std::string(what) + ": content is not an object");
    // The shared value lives as long as msg.content; callers use it within msg's lifetime.
    return &(*v)->as_object();
}

Result<void> check_version(const json::object& o, std::string_view what) {
    auto* v = o.if_contains("version");
    if (!v || !v->is_int64())
        return Error(errc::invalid_argument, std::string(what) + ": missing integer \"version\"");
    if (v->as_int64() != kInventoryVersion)
        return Error(errc::invalid_argument, std::string(what) + ": unsupported version " +
                                                 std::to_string(v->as_int64()) + " (want " +
                                                 std::to_string(kInventoryVersion) + ")");
    return {};
}

}  // namespace

std::size_t Inventory::size() const {
    std::size_t n = 0;
    for (const auto& [type, objects] : resources) n += objects.size();
    return n;
}

bus::Message make_inventory_message(std::string_view node, const Inventory& inventory) {
    json::object resources;
    for (const auto& [type, objects] : inventory.resources) {
        json::object o;
        o.reserve(objects.size());
        for (const auto& [key, rv] : objects) o[key] = rv;
        resources[type] = std::move(o);
    }
    json::object content{{"version", kInventoryVersion}, {"resources", std::move(resources)}};
    return bus::Message::make("edgehub", "resource", std::string(kInventoryOperation),
                              "null/" + std::string(kInventoryType) + "/" + std::string(node),
                              bus::Content::encoded(std::move(content)));
}

bool is_inventory_message(const bus::Message& msg) {
    return msg.operation() == kInventoryOperation && has_inventory_resource(msg.resource());
}

Result<Inventory> parse_inventory(const bus::Message& msg) {
    if (!is_inventory_message(msg))
        return Error(errc::invalid_argument, "not an inventory message");
    auto o = content_object(msg, "inventory");
    if (!o) return o.error();
    if (auto r = check_version(**o, "inventory"); !r) return r.error();
    Inventory inv;
    auto* res = (*o)->if_contains("resources");
    if (!res || !res->is_object())
        return Error(errc::invalid_argument, "inventory: \"resources\" must be an object");
    for (const auto& [type, objects] : res->as_object()) {
        if (!objects.is_object())
            return Error(errc::invalid_argument,
                         "inventory: resources." + std::string(type) + " must be an object");
        auto& out = inv.resources[std::string(type)];
        for (const auto& [key, rv] : objects.as_object()) {
            if (!rv.is_string() || key.empty())
                return Error(errc::invalid_argument, "inventory: resources." + std::string(type) +
                                                         "[\"" + std::string(key) +
                                                         "\"] must be a resourceVersion string");
            out.emplace(std::string(key), std::string(rv.as_string()));
        }
    }
    return inv;
}

bus::Message make_resync_response(const bus::Message& inventory, const ResyncSummary& s) {
    json::object content{{"version", kInventoryVersion},
                         {"inserted", s.inserted},
                         {"updated", s.updated},
                         {"deleted", s.deleted},
                         {"unchanged", s.unchanged}};
    auto out = bus::make_response(inventory, bus::Content::encoded(std::move(content)));
    out.route.source = "edgecontroller";
    return out;
}

bool is_resync_response(const bus::Message& msg) {
    return msg.operation() == "response" && has_inventory_resource(msg.resource());
}

Result<ResyncSummary> parse_resync_response(const bus::Message& msg) {
    if (!is_resync_response(msg)) return Error(errc::invalid_argument, "not a resync response");
    auto o = content_object(msg, "resync response");
    if (!o) return o.error();
    if (auto r = check_version(**o, "resync response"); !r) return r.error();
    ResyncSummary s;
    auto read = [&](const char* k, std::uint64_t& out) -> Result<void> {
        auto* v = (*o)->if_contains(k);
        if (!v || !(v->is_int64() || v->is_uint64()) || (v->is_int64() && v->as_int64() < 0))
            return Error(errc::invalid_argument,
                         std::string("resync response: \"") + k + "\" must be a count");
        out = v->is_int64() ? static_cast<std::uint64_t>(v->as_int64()) : v->as_uint64();
        return {};
    };
    for (auto [k, p] : {std::pair{"inserted", &s.inserted}, std::pair{"updated", &s.updated},
                        std::pair{"deleted", &s.deleted}, std::pair{"unchanged", &s.unchanged}})
        if (auto r = read(k, *p); !r) return r.error();
    return s;
}

}  // namespace kedge::hub
