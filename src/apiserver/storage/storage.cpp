#include "apiserver/storage/storage.hpp"

#include <boost/json.hpp>

namespace kedge::apiserver::storage {

const char* to_string(EventType t) noexcept {
    switch (t) {
        case EventType::kAdded:
            return "ADDED";
        case EventType::kModified:
            return "MODIFIED";
        case EventType::kDeleted:
            return "DELETED";
    }
    return "UNKNOWN";
}

Result<std::uint64_t> Storage::create(std::string_view key, std::string value) {
    return create(key, [&value](std::uint64_t) -> Result<std::string> { return value; });
}

Result<std::uint64_t> Storage::update(std::string_view key, std::string value,
                                      std::uint64_t expected_mod_rev) {
    return update(
        key, [&value](std::uint64_t) -> Result<std::string> { return value; }, expected_mod_rev);
}

Result<KeyValue> Storage::guaranteed_update(std::string_view key, const UpdateFn& fn,
                                            int max_attempts) {
    for (int attempt = 0; attempt < max_attempts; ++attempt) {
        auto current = get(key);
        if (!current) return current.error();
        std::string written;
        std::uint64_t predicted_rev = 0;
        auto rev = update(
            key,
            [&](std::uint64_t new_rev) -> Result<std::string> {
                predicted_rev = new_rev;
                auto v = fn(*current, new_rev);
                if (v) written = *v;
                return v;
            },
            current->mod_rev);
        if (rev) {
            // Backends that only predict the revision (etcd assigns it at commit) may have
            // stamped another one into the bytes; the caller must see the real one.
            if (*rev != predicted_rev) {
                if (auto restamped = set_resource_version(written, *rev)) written = *restamped;
            }
            return KeyValue{std::string(key), std::move(written), *rev, current->create_rev};
        }
        // Someone else wrote between our get and update: read again and reapply.
        if (!rev.error().is(errc::conflict)) return rev.error();
    }
    return Error(errc::conflict, "guaranteed update of " + std::string(key) + " gave up after " +
                                     std::to_string(max_attempts) + " conflicting attempts");
}

std::string prefix_end(std::string_view prefix) {
    std::string end(prefix);
    while (!end.empty()) {
        auto& c = reinterpret_cast<unsigned char&>(end.back());
        if (c < 0xff) {
            ++c;
            return end;
        }
        end.pop_back();
    }
    return end;
}

Result<std::string> set_resource_version(std::string_view json, std::uint64_t rev) {
    boost::system::error_code ec;
    auto value = boost::json::parse(json, ec);
    if (ec) return Error(errc::parse_error, "object is not valid JSON: " + ec.message());
    auto* obj = value.if_object();
    if (!obj) return Error(errc::parse_error, "object is not a JSON object");
    auto& meta = (*obj)["metadata"];
    if (meta.is_null()) meta.emplace_object();
    auto* meta_obj = meta.if_object();
    if (!meta_obj) return Error(errc::parse_error, "metadata is not a JSON object");
    (*meta_obj)["resourceVersion"] = std::to_string(rev);
    return boost::json::serialize(value);
}

ValueFn with_resource_version(std::string json) {
    return [json = std::move(json)](std::uint64_t rev) { return set_resource_version(json, rev); };
}

}  // namespace kedge::apiserver::storage
