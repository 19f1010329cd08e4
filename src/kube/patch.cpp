#include "kube/patch.hpp"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/string.hpp>
#include <boost/json/value.hpp>
#include <charconv>
#include <vector>

#include "kube/object.hpp"

namespace kedge::kube {

namespace json = boost::json;

namespace {

// See base/error.cpp: boost's category base has a protected non-virtual destructor by design.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnon-virtual-dtor"
class PatchCategory final : public boost::system::error_category {
  public:
    const char* name() const noexcept override { return "kube.patch"; }
    std::string message(int ev) const override {
        switch (static_cast<patch_errc>(ev)) {
            case patch_errc::ok:
                return "ok";
            case patch_errc::malformed_patch:
                return "malformed patch";
            case patch_errc::apply_failed:
                return "patch does not apply";
            case patch_errc::unsupported_media_type:
                return "unsupported media type";
        }
        return "unknown patch error";
    }
};
#pragma GCC diagnostic pop

Error patch_error(patch_errc e, std::string detail) {
    return Error(make_error_code(e), std::move(detail));
}

// ---- JSON Pointer (RFC 6901) ----

Result<std::vector<std::string>> parse_pointer(std::string_view p) {
    std::vector<std::string> tokens;
    if (p.empty()) return tokens;
    if (p.front() != '/') {
        return patch_error(patch_errc::malformed_patch,
                           "JSON pointer \"" + std::string(p) + "\" must start with '/'");
    }
    std::string cur;
    for (std::size_t i = 1; i <= p.size(); ++i) {
        if (i == p.size() || p[i] == '/') {
            tokens.push_back(std::move(cur));
            cur.clear();
            continue;
        }
        if (p[i] == '~') {
            char next = i + 1 < p.size() ? p[i + 1] : '\0';
            if (next != '0' && next != '1') {
                return patch_error(patch_errc::malformed_patch,
                                   "JSON pointer \"" + std::string(p) +
                                       "\" has an invalid escape: '~' must be followed by 0 or 1");
            }
            cur += next == '0' ? '~' : '/';
            ++i;
            continue;
        }
        cur += p[i];
    }
    return tokens;
}

// Array index per RFC 6901: "0" or digits without a leading zero.
std::optional<std::size_t> parse_index(std::string_view t) {
    if (t.empty() || (t.size() > 1 && t[0] == '0')) return std::nullopt;
    std::size_t v = 0;
    auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
    if (ec != std::errc{} || end != t.data() + t.size()) return std::nullopt;
    return v;
}

struct Pointer {
    std::string text;
    std::vector<std::string> tokens;
};

// Walks all tokens; nullptr when something on the way is missing.
json::value* resolve(json::value& doc, const std::vector<std::string>& tokens, std::size_t count) {
    json::value* cur = &doc;
    for (std::size_t i = 0; i < count; ++i) {
        if (json::object* o = cur->if_object()) {
            cur = o->if_contains(tokens[i]);
        } else if (json::array* a = cur->if_array()) {
            auto idx = parse_index(tokens[i]);
            if (!idx || *idx >= a->size()) return nullptr;
            cur = &(*a)[*idx];
        } else {
            return nullptr;
        }
        if (cur == nullptr) return nullptr;
    }
    return cur;
}

Error missing(const Pointer& p) {
    return patch_error(patch_errc::apply_failed, "path \"" + p.text + "\" does not exist");
}

json::value* parent_of(json::value& doc, const Pointer& p) {
    return resolve(doc, p.tokens, p.tokens.size() - 1);
}

Result<void> op_add(json::value& doc, const Pointer& p, json::value v) {
    if (p.tokens.empty()) {
        doc = std::move(v);
        return {};
    }
    json::value* parent = parent_of(doc, p);
    const std::string& last = p.tokens.back();
    if (parent != nullptr) {
        if (json::object* o = parent->if_object()) {
            (*o)[last] = std::move(v);
            return {};
        }
        if (json::array* a = parent->if_array()) {
            if (last == "-") {
                a->push_back(std::move(v));
                return {};
            }
            auto idx = parse_index(last);
            if (!idx || *idx > a->size()) {
                return patch_error(patch_errc::apply_failed, "array index \"" + last + "\" in \"" +
                                                                 p.text +
                                                                 "\" is out of range (size " +
                                                                 std::to_string(a->size()) + ")");
            }
            a->insert(a->begin() + static_cast<std::ptrdiff_t>(*idx), std::move(v));
            return {};
        }
    }
    return missing(p);
}

Result<json::value> op_remove(json::value& doc, const Pointer& p) {
    if (p.tokens.empty()) {
        return patch_error(patch_errc::apply_failed, "cannot remove the whole document");
    }
    json::value* parent = parent_of(doc, p);
    const std::string& last = p.tokens.back();
    if (parent != nullptr) {
        if (json::object* o = parent->if_object()) {
            auto it = o->find(last);
            if (it == o->end()) return missing(p);
            json::value out = std::move(it->value());
            o->erase(it);
            return out;
        }
        if (json::array* a = parent->if_array()) {
            auto idx = parse_index(last);
            if (!idx || *idx >= a->size()) return missing(p);
            json::value out = std::move((*a)[*idx]);
            a->erase(a->begin() + static_cast<std::ptrdiff_t>(*idx));
            return out;
        }
    }
    return missing(p);
}

Result<Pointer> member_pointer(const json::object& op, std::string_view member) {
    const json::value* v = op.if_contains(member);
    if (v == nullptr || !v->is_string()) {
        return patch_error(patch_errc::malformed_patch,
                           "operation needs a string \"" + std::string(member) + "\" member");
    }
    auto tokens = parse_pointer(v->get_string());
    if (!tokens) return tokens.error();
    return Pointer{std::string(v->get_string()), std::move(*tokens)};
}

Result<const json::value*> member_value(const json::object& op) {
    const json::value* v = op.if_contains("value");
    if (v == nullptr) {
        return patch_error(patch_errc::malformed_patch, "operation needs a \"value\" member");
    }
    return v;
}

Result<void> apply_one(json::value& doc, const json::object& op) {
    const json::value* kind = op.if_contains("op");
    if (kind == nullptr || !kind->is_string()) {
        return patch_error(patch_errc::malformed_patch, "operation needs a string \"op\" member");
    }
    std::string_view name = kind->get_string();
    auto path = member_pointer(op, "path");
    if (!path) return path.error();
    if (name == "add" || name == "replace" || name == "test") {
        auto value = member_value(op);
        if (!value) return value.error();
        if (name == "add") return op_add(doc, *path, **value);
        json::value* target = resolve(doc, path->tokens, path->tokens.size());
        if (target == nullptr) return missing(*path);
        if (name == "replace") {
            *target = **value;
            return {};
        }
        if (!json_equal(*target, **value)) {
            return patch_error(patch_errc::apply_failed, "test failed: value at \"" + path->text +
                                                             "\" is " + json::serialize(*target) +
                                                             ", not " + json::serialize(**value));
        }
        return {};
    }
    if (name == "remove") {
        auto r = op_remove(doc, *path);
        if (!r) return r.error();
        return {};
    }
    if (name == "move" || name == "copy") {
        auto from = member_pointer(op, "from");
        if (!from) return from.error();
        if (name == "move") {
            if (from->text == path->text) return {};
            if (path->text.starts_with(from->text + "/")) {
                return patch_error(
                    patch_errc::apply_failed,
                    "cannot move \"" + from->text + "\" into its own child \"" + path->text + "\"");
            }
            auto v = op_remove(doc, *from);
            if (!v) return v.error();
            return op_add(doc, *path, std::move(*v));
        }
        json::value* source = resolve(doc, from->tokens, from->tokens.size());
        if (source == nullptr) return missing(*from);
        return op_add(doc, *path, json::value(*source));
    }
    return patch_error(patch_errc::malformed_patch,
                       "unknown operation \"" + std::string(name) + "\"");
}

}  // namespace

const boost::system::error_category& patch_category() noexcept {
    static const PatchCategory category;
    return category;
}

Result<PatchType> patch_type_from_content_type(std::string_view content_type) {
    std::string_view media = content_type.substr(0, content_type.find(';'));
    while (!media.empty() && media.back() == ' ') media.remove_suffix(1);
    while (!media.empty() && media.front() == ' ') media.remove_prefix(1);
    if (media == "application/json-patch+json") return PatchType::kJsonPatch;
    if (media == "application/merge-patch+json") return PatchType::kMergePatch;
    if (media == "application/strategic-merge-patch+json") return PatchType::kStrategicMergePatch;
    if (media == "application/apply-patch+yaml") return PatchType::kApplyPatch;
    return patch_error(patch_errc::unsupported_media_type,
                       "the body of the request was in an unknown format - accepted media types "
                       "include: application/json-patch+json, application/merge-patch+json, "
                       "application/strategic-merge-patch+json");
}

std::string_view content_type_of(PatchType type) {
    switch (type) {
        case PatchType::kJsonPatch:
            return "application/json-patch+json";
        case PatchType::kMergePatch:
            return "application/merge-patch+json";
        case PatchType::kStrategicMergePatch:
            return "application/strategic-merge-patch+json";
        case PatchType::kApplyPatch:
            return "application/apply-patch+yaml";
    }
    return "";
}

bool json_equal(const json::value& a, const json::value& b) {
    auto is_number = [](const json::value& v) { return v.is_number(); };
    if (is_number(a) && is_number(b)) {
        if (a.is_double() || b.is_double()) {
            auto as_double = [](const json::value& v) {
                return v.is_double()  ? v.get_double()
                       : v.is_int64() ? static_cast<double>(v.get_int64())
                                      : static_cast<double>(v.get_uint64());
            };
            return as_double(a) == as_double(b);
        }
        return a == b;  // int64/uint64 compare by value in Boost.JSON
    }
    if (a.kind() != b.kind()) return false;
    if (const json::object* ao = a.if_object()) {
        const json::object& bo = b.get_object();
        if (ao->size() != bo.size()) return false;
        for (const auto& kv : *ao) {
            const json::value* other = bo.if_contains(kv.key());
            if (other == nullptr || !json_equal(kv.value(), *other)) return false;
        }
        return true;
    }
    if (const json::array* aa = a.if_array()) {
        const json::array& ba = b.get_array();
        if (aa->size() != ba.size()) return false;
        for (std::size_t i = 0; i < aa->size(); ++i) {
            if (!json_equal((*aa)[i], ba[i])) return false;
        }
        return true;
    }
    return a == b;
}

namespace {

// RFC 7386 MergePatch, in place so each level is not copied again.
void merge_into(json::value& target, const json::value& patch) {
    const json::object* p = patch.if_object();
    if (p == nullptr) {
        target = patch;
        return;
    }
    if (!target.is_object()) target.emplace_object();
    json::object& out = target.get_object();
    for (const auto& kv : *p) {
        if (kv.value().is_null()) {
            out.erase(kv.key());
            continue;
        }
        merge_into(out[kv.key()], kv.value());  // a new key starts as null: "not an object"
    }
}

}  // namespace

json::value apply_merge_patch(const json::value& target, const json::value& patch) {
    json::value result = target;
    merge_into(result, patch);
    return result;
}

Result<json::value> apply_json_patch(const json::value& target, const json::value& operations) {
    const json::array* ops = operations.if_array();
    if (ops == nullptr) {
        return patch_error(patch_errc::malformed_patch,
                           "a JSON patch must be an array of operations");
    }
    json::value doc = target;
    for (std::size_t i = 0; i < ops->size(); ++i) {
        const json::object* op = (*ops)[i].if_object();
        Result<void> r = op == nullptr ? Result<void>(patch_error(patch_errc::malformed_patch,
                                                                  "operation is not an object"))
                                       : apply_one(doc, *op);
        if (!r) {
            return Error(r.error().code, "JSON patch operation " + std::to_string(i) + " (" +
                                             json::serialize((*ops)[i]) + "): " + r.error().detail);
        }
    }
    return doc;
}

Result<json::value> apply_patch(PatchType type, const json::value& target, std::string_view body) {
    boost::system::error_code ec;
    json::value patch = json::parse(body, ec);
    if (ec) {
        return patch_error(patch_errc::malformed_patch,
                           "the patch body is not valid JSON: " + ec.message());
    }
    Result<json::value> out = json::value();
    switch (type) {
        case PatchType::kJsonPatch:
            out = apply_json_patch(target, patch);
            break;
        case PatchType::kMergePatch:
            if (!patch.is_object()) {
                return patch_error(patch_errc::malformed_patch,
                                   "a merge patch for an object must be a JSON object");
            }
            out = apply_merge_patch(target, patch);
            break;
        case PatchType::kStrategicMergePatch: {
            const json::object* t = target.if_object();
            const StrategicSchema* schema =
                t != nullptr ? builtin_strategic_schema(api_version(*t), kind(*t)) : nullptr;
            if (schema == nullptr) {
                return patch_error(
                    patch_errc::unsupported_media_type,
                    "the body of the request was in an unknown format - accepted media types "
                    "include: application/json-patch+json, application/merge-patch+json, "
                    "application/apply-patch+yaml");
            }
            out = apply_strategic_merge_patch(target, patch, *schema);
            break;
        }
        case PatchType::kApplyPatch:
            return patch_error(patch_errc::unsupported_media_type,
                               "server-side apply (application/apply-patch+yaml) is not "
                               "supported; use kubectl apply without --server-side");
    }
    if (out && !out->is_object()) {
        return patch_error(patch_errc::apply_failed, "the patched document is not an object");
    }
    return out;
}

}  // namespace kedge::kube
