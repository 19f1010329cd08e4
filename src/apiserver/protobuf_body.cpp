#include "apiserver/protobuf_body.hpp"

#include <boost/json.hpp>

#include <cstdint>
#include <functional>

namespace kedge::apiserver {
namespace json = boost::json;

namespace {

// Walks the fields of one protobuf message; false on malformed input.
bool for_each_field(std::string_view msg,
                    const std::function<bool(std::uint32_t field, std::uint32_t wire,
                                             std::string_view bytes)>& f) {
    std::size_t i = 0;
    auto varint = [&](std::uint64_t& out) {
        out = 0;
        for (int shift = 0; shift < 64; shift += 7) {
            if (i >= msg.size()) return false;
            auto b = static_cast<unsigned char>(msg[i++]);
            out |= static_cast<std::uint64_t>(b & 0x7f) << shift;
            if (!(b & 0x80)) return true;
        }
        return false;
    };
    while (i < msg.size()) {
        std::uint64_t key = 0;
        if (!varint(key)) return false;
        auto field = static_cast<std::uint32_t>(key >> 3), wire = static_cast<std::uint32_t>(key & 7);
        std::string_view bytes;
        if (wire == 0) {
            std::uint64_t ignored = 0;
            if (!varint(ignored)) return false;
        } else if (wire == 2) {
            std::uint64_t len = 0;
            if (!varint(len) || len > msg.size() - i) return false;
            bytes = msg.substr(i, len);
            i += len;
        } else if (wire == 1 || wire == 5) {
            std::size_t n = wire == 1 ? 8 : 4;
            if (n > msg.size() - i) return false;
            i += n;
        } else {
            return false;
        }
        if (!f(field, wire, bytes)) return false;
    }
    return true;
}

// A message of string fields, by field number.
bool strings(std::string_view msg, const std::function<void(std::uint32_t, std::string)>& f) {
    return for_each_field(msg, [&](std::uint32_t field, std::uint32_t wire, std::string_view b) {
        // Go's JSON omits empty strings (omitempty); protobuf always carries them.
        if (wire == 2 && !b.empty()) f(field, std::string(b));
        return true;
    });
}

bool map_entry(std::string_view msg, json::object& into) {
    std::string k, v;
    if (!strings(msg, [&](std::uint32_t field, std::string s) {
            if (field == 1) k = std::move(s);
            if (field == 2) v = std::move(s);
        }))
        return false;
    into[k] = v;
    return true;
}

bool object_meta(std::string_view msg, json::object& md) {
    return for_each_field(msg, [&](std::uint32_t field, std::uint32_t wire, std::string_view b) {
        if (wire != 2 || b.empty()) return true;
        switch (field) {
            case 1: md["name"] = std::string(b); break;
            case 2: md["generateName"] = std::string(b); break;
            case 3: md["namespace"] = std::string(b); break;
            case 11: {
                if (!md.contains("labels")) md["labels"] = json::object{};
                return map_entry(b, md["labels"].as_object());
            }
            case 12: {
                if (!md.contains("annotations")) md["annotations"] = json::object{};
                return map_entry(b, md["annotations"].as_object());
            }
            default: break;
        }
        return true;
    });
}

std::optional<json::object> role_binding(std::string_view raw) {
    json::object md;
    json::array subjects;
    json::object role_ref;
    bool ok = for_each_field(raw, [&](std::uint32_t field, std::uint32_t wire, std::string_view b) {
        if (wire != 2) return true;
        if (field == 1) return object_meta(b, md);
        if (field == 2) {
            json::object s;
            static const char* names[] = {"", "kind", "apiGroup", "name", "namespace"};
            if (!strings(b, [&](std::uint32_t f, std::string v) {
                    if (f >= 1 && f <= 4) s[names[f]] = std::move(v);
                }))
                return false;
            subjects.push_back(std::move(s));
        }
        if (field == 3) {
            static const char* names[] = {"", "apiGroup", "kind", "name"};
            return strings(b, [&](std::uint32_t f, std::string v) {
                if (f >= 1 && f <= 3) role_ref[names[f]] = std::move(v);
            });
        }
        return true;
    });
    if (!ok) return std::nullopt;
    json::object o{{"metadata", std::move(md)}, {"roleRef", std::move(role_ref)}};
    if (!subjects.empty()) o["subjects"] = std::move(subjects);
    return o;
}

}  // namespace

std::optional<std::string> protobuf_body_to_json(std::string_view body) {
    static constexpr std::string_view kMagic("k8s\0", 4);
    if (!body.starts_with(kMagic)) return std::nullopt;
    std::string api_version, kind;
    std::string_view raw;
    bool ok = for_each_field(body.substr(4), [&](std::uint32_t field, std::uint32_t wire,
                                                 std::string_view b) {
        if (wire != 2) return true;
        if (field == 1)
            return strings(b, [&](std::uint32_t f, std::string v) {
                if (f == 1) api_version = std::move(v);
                if (f == 2) kind = std::move(v);
            });
        if (field == 2) raw = b;
        return true;
    });
    if (!ok || api_version != "rbac.authorization.k8s.io/v1" ||
        (kind != "RoleBinding" && kind != "ClusterRoleBinding"))
        return std::nullopt;
    auto o = role_binding(raw);
    if (!o) return std::nullopt;
    (*o)["apiVersion"] = api_version;
    (*o)["kind"] = kind;
    return json::serialize(*o);
}

}  // namespace kedge::apiserver
