// CustomResourceDefinitions in the registry: CRD defaulting, validation and status on write, the
// custom types they define added to (and removed from) the served types, and the structural
// schema applied to custom objects.

#include <boost/json.hpp>

#include "apiserver/crd/crd.hpp"
#include "apiserver/crd/to_resource_type.hpp"
#include "apiserver/device_validation.hpp"
#include "apiserver/object_rules.hpp"
#include "apiserver/registry.hpp"
#include "apiserver/registry_detail.hpp"
#include "base/log.hpp"
#include "kube/object.hpp"

namespace kedge::apiserver {
namespace json = boost::json;
using namespace detail;

namespace {

std::string type_key(const std::string& group, const std::string& version,
                     const std::string& plural) {
    return group + "/" + version + "/" + plural;
}

}  // namespace

ApiResult<void> Registry::finalize_object(const ResourceType& type, const json::object* old,
                                          json::object& obj, const WriteOptions& options,
                                          std::vector<std::string>& warnings) {
    if (is_crd_type(type)) {
        crd::apply_crd_defaults(obj);
        auto causes = old ? crd::validate_crd_update(*old, obj) : crd::validate_crd(obj);
        if (!causes.empty())
            return api_error(crd::crd_invalid_status(kube::name(obj), std::move(causes)));
        auto parsed = crd::parse_crd(obj);
        if (!parsed) return api_error(kube::status_bad_request(parsed.error().detail));
        const json::object* old_status = nullptr;
        if (old)
            if (const auto* st = old->if_contains("status"); st && st->is_object())
                old_status = &st->as_object();
        obj["status"] =
            crd::compute_crd_status(*parsed, old_status, rfc3339(options_.clock->now()));
        return {};
    }
    if (!type.custom) return {};
    auto schema = std::static_pointer_cast<const crd::StructuralSchema>(schema_for(type));
    if (!schema) return {};
    json::value v = std::move(obj);
    auto outcome = schema->process(v);
    obj = std::move(v.as_object());
    if (!outcome.pruned.empty() && options.field_validation != FieldValidation::kIgnore) {
        if (options.field_validation == FieldValidation::kStrict) {
            std::string msg = "strict decoding error: ";
            for (std::size_t i = 0; i < outcome.pruned.size(); ++i) {
                if (i > 0) msg += ", ";
                msg += "unknown field \"" + outcome.pruned[i] + "\"";
            }
            return api_error(kube::status_bad_request(msg));
        }
        for (const auto& f : outcome.pruned) warnings.push_back("unknown field \"" + f + "\"");
    }
    if (!outcome.errors.empty())
        return api_error(kube::status_invalid(type.group, type.kind, kube::name(obj),
                                              std::move(outcome.errors)));
    // devices.kubeedge.io: a Device's properties against its stored model.
    auto find_model = [&](std::string_view ns,
                          std::string_view name) -> std::optional<json::object> {
        auto model_type = types_->find(type.group, type.version, "devicemodels");
        if (!model_type) return std::nullopt;
        auto kv = storage_.get(object_key(*model_type, std::string(ns), std::string(name)));
        if (!kv) return std::nullopt;
        boost::system::error_code ec;
        auto v = parse_json(kv->value, ec);
        if (ec || !v.is_object()) return std::nullopt;
        return std::move(v.as_object());
    };
    if (auto causes = admit_device_object(type, old, obj, find_model); !causes.empty())
        return api_error(
            kube::status_invalid(type.group, type.kind, kube::name(obj), std::move(causes)));
    return {};
}

std::shared_ptr<const void> Registry::schema_for(const ResourceType& type) const {
    std::string key = type_key(type.group, type.version, type.resource);
    std::lock_guard lock(crd_mu_);
    for (const auto& [name, types] : crd_types_)
        if (auto it = types.find(key); it != types.end()) return it->second;
    return nullptr;
}

void Registry::sync_crd(const json::object& crd_obj, bool deleted) {
    std::string name(kube::name(crd_obj));
    std::map<std::string, std::shared_ptr<const void>> now;
    std::vector<ResourceType> add;
    if (!deleted && crd::is_established(crd_obj)) {
        if (auto parsed = crd::parse_crd(crd_obj)) {
            for (const auto& r : parsed->served_resources()) {
                now[type_key(r.group, r.version, r.plural)] = r.schema;
                add.push_back(crd::to_resource_type(r));
            }
        } else {
            log::get("apiserver")->warn("CRD {} is stored but does not parse: {}", name,
                                        parsed.error().detail);
        }
    }
    std::lock_guard lock(crd_mu_);
    for (const auto& [key, schema] : crd_types_[name]) {
        if (now.contains(key)) continue;
        auto s1 = key.find('/'), s2 = key.rfind('/');
        types_->remove(key.substr(0, s1), key.substr(s1 + 1, s2 - s1 - 1), key.substr(s2 + 1));
    }
    for (auto& t : add) types_->add(std::move(t));
    if (now.empty()) crd_types_.erase(name);
    else crd_types_[name] = std::move(now);
}

Result<void> Registry::load_custom_resources() {
    auto crd_type = types_->find("apiextensions.k8s.io", "v1", "customresourcedefinitions");
    if (!crd_type) return {};
    auto list = storage_.list(type_prefix(*crd_type), {});
    if (!list) return list.error();
    for (const auto& kv : list->items) {
        boost::system::error_code ec;
        json::value v = parse_json(kv.value, ec);
        if (!ec && v.is_object()) sync_crd(v.as_object(), false);
    }
    return {};
}

}  // namespace kedge::apiserver
