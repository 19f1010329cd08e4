#include "apiserver/registry.hpp"

#include <boost/json.hpp>

#include "apiserver/object_rules.hpp"
#include "apiserver/registry_detail.hpp"
#include "apiserver/registry_namespace.hpp"
#include "base/uuid.hpp"
#include "kube/field_selector.hpp"
#include "kube/label_selector.hpp"
#include "kube/object.hpp"

namespace kedge::apiserver {
namespace json = boost::json;
using namespace detail;

void throw_exception_from_error(const ApiError& e, const boost::source_location&) {
    throw std::runtime_error(e.status.message);
}

Result<FieldValidation> parse_field_validation(std::string_view value) {
    if (value.empty() || value == "Warn") return FieldValidation::kWarn;
    if (value == "Strict") return FieldValidation::kStrict;
    if (value == "Ignore") return FieldValidation::kIgnore;
    return Error(errc::invalid_argument,
                 "fieldValidation parameter unsupported: " + std::string(value) +
                     " (supported: Ignore, Warn, Strict)");
}

ApiResult<DeleteParams> parse_delete_params(std::string_view body,
                                            std::optional<std::string> grace_query,
                                            std::optional<std::string> propagation_query) {
    DeleteParams p;
    if (!body.empty()) {
        auto obj = parse_object(body);
        if (!obj) return obj.error();
        const json::object& o = *obj;
        if (auto* g = o.if_contains("gracePeriodSeconds"); g && g->is_int64())
            p.grace_period_seconds = g->as_int64();
        if (auto* pc = o.if_contains("preconditions"); pc && pc->is_object()) {
            if (auto* u = pc->as_object().if_contains("uid"); u && u->is_string())
                p.precondition_uid = std::string(u->as_string());
            if (auto* r = pc->as_object().if_contains("resourceVersion"); r && r->is_string())
                p.precondition_resource_version = std::string(r->as_string());
        }
        if (auto* pp = o.if_contains("propagationPolicy"); pp && pp->is_string())
            p.propagation_policy = std::string(pp->as_string());
        // The legacy orphanDependents flag is a propagation policy.
        if (auto* od = o.if_contains("orphanDependents"); od && od->is_bool()) {
            if (!p.propagation_policy.empty())
                return api_error(kube::status_invalid(
                    "", "DeleteOptions", "",
                    {kube::field_invalid("propagationPolicy", json::string(p.propagation_policy),
                                         "orphanDependents and deletionPropagation cannot be "
                                         "both set")}));
            p.propagation_policy = od->as_bool() ? "Orphan" : "Background";
        }
        if (auto* dr = o.if_contains("dryRun"); dr && dr->is_array() && !dr->as_array().empty())
            p.dry_run = true;
    }
    if (grace_query) {
        try {
            std::size_t used = 0;
            p.grace_period_seconds = std::stoll(*grace_query, &used);
            if (used != grace_query->size()) throw std::invalid_argument("trailing");
        } catch (const std::exception&) {
            return api_error(kube::status_bad_request("invalid gracePeriodSeconds: " +
                                                      *grace_query));
        }
    }
    if (propagation_query) p.propagation_policy = *propagation_query;
    const auto& pp = p.propagation_policy;
    if (!pp.empty() && pp != "Orphan" && pp != "Background" && pp != "Foreground") {
        return api_error(kube::status_bad_request(
            "propagationPolicy: Unsupported value: \"" + pp +
            "\": supported values: \"Foreground\", \"Background\", \"Orphan\""));
    }
    if (p.grace_period_seconds && *p.grace_period_seconds < 0) p.grace_period_seconds = 1;
    return p;
}

Registry::Registry(storage::Storage& storage, std::shared_ptr<ResourceTypes> types,
                   RegistryOptions options)
    : storage_(storage), types_(std::move(types)), options_(options) {
    if (!options_.clock) options_.clock = &SystemClock::instance();
}

Registry::~Registry() { stop(); }

void Registry::stop() {
    std::map<std::string, std::shared_ptr<storage::WatchCache>> caches;
    {
        std::lock_guard lock(caches_mu_);
        stopped_ = true;
        caches.swap(caches_);
    }
    for (auto& [k, c] : caches) c->stop();
}

std::string Registry::type_prefix(const ResourceType& type) {
    if (type.group.empty()) return "/registry/" + type.resource + "/";
    return "/registry/" + type.group + "/" + type.resource + "/";
}

Result<std::shared_ptr<storage::WatchCache>> Registry::cache_for(const ResourceType& type) {
    std::string prefix = type_prefix(type);
    std::lock_guard lock(caches_mu_);
    if (stopped_) return Error(errc::closed, "the registry is stopped");
    if (auto it = caches_.find(prefix); it != caches_.end()) return it->second;
    storage::WatchCacheOptions o;
    o.prefix = prefix;
    o.capacity = options_.watch_cache_capacity;
    o.clock = options_.clock;
    o.attrs = [resource = type.resource](std::string_view key, std::string_view value) {
        return object_attrs(resource, key, value);
    };
    auto cache = storage::WatchCache::start(storage_, std::move(o));
    if (!cache) return cache.error();
    caches_[prefix] = *cache;
    return *cache;
}

Result<void> Registry::ensure_default_namespaces() {
    auto ns_type = types_->find("", "v1", "namespaces");
    if (!ns_type) return Error(errc::internal, "no namespaces type");
    for (const char* ns : {"default", "kube-system", "kube-public", "kube-node-lease"}) {
        json::object o{{"apiVersion", "v1"}, {"kind", "Namespace"},
                       {"metadata", json::object{{"name", ns}}}};
        auto r = create(Scope{*ns_type, "", "", ""}, json::serialize(o));
        if (!r && r.error().status.code != 409)
            return Error(errc::internal, "creating namespace " + std::string(ns) + ": " +
                                             r.error().status.message);
    }
    return {};
}

// ---------------------------------------------------------------------------------------------
// create

ApiResult<WriteResult> Registry::create(const Scope& scope, std::string_view body,
                                        const WriteOptions& options) {
    const ResourceType& type = scope.type;
    if (scope.subresource == "binding") return bind(scope, body, options);
    if (!scope.subresource.empty() || !scope.name.empty())
        return api_error(kube::status_method_not_allowed(group_resource(type), "POST"));
    auto parsed = parse_object(body);
    if (!parsed) return parsed.error();
    json::object obj = std::move(*parsed);
    if (auto r = check_kind(type, obj); !r) return r.error();
    WriteResult out;
    if (auto r = check_fields(type, obj, options.field_validation, out.warnings); !r)
        return r.error();

    std::string ns = type.namespaced ? scope.namespace_ : "";
    if (type.namespaced) {
        std::string_view body_ns = kube::namespace_of(obj);
        if (ns.empty()) ns = std::string(body_ns);
        if (ns.empty()) ns = "default";
        if (!body_ns.empty() && body_ns != ns)
            return api_error(kube::status_bad_request(
                "the namespace of the provided object does not match the namespace sent on the "
                "request"));
        kube::set_namespace(obj, ns);
    } else if (auto* md = kube::metadata(obj); md && md->contains("namespace")) {
        kube::ensure_metadata(obj).erase("namespace");
    }

    auto& md = kube::ensure_metadata(obj);
    if (kube::name(obj).empty() && !kube::generate_name(obj).empty())
        kube::set_name(obj, std::string(kube::generate_name(obj)) + random_name_suffix());
    if (auto causes = validate_object(type, obj); !causes.empty())
        return api_error(kube::status_invalid(type.group, type.kind, kube::name(obj),
                                              std::move(causes)));
    std::string name(kube::name(obj));

    if (type.namespaced) {
        if (auto admit = admit_create_in_namespace(storage_, type, ns, name); !admit)
            return admit.error();
    }

    for (const char* k : {"resourceVersion", "deletionTimestamp", "deletionGracePeriodSeconds",
                          "selfLink", "managedFields"})
        md.erase(k);
    kube::set_uid(obj, new_uuid());
    kube::set_creation_timestamp(obj, rfc3339(options_.clock->now()));
    if (has_generation(type, obj)) kube::set_generation(obj, 1);
    else md.erase("generation");
    apply_create_defaults(type, obj);
    if (auto f = finalize_object(type, nullptr, obj, options, out.warnings); !f) return f.error();

    out.code = 201;
    if (options.dry_run) {
        out.body = json::serialize(obj);
        return out;
    }
    std::string key = object_key(type, ns, name);
    auto rev = storage_.create(key, [&](std::uint64_t r) -> Result<std::string> {
        kube::set_resource_version(obj, std::to_string(r));
        return json::serialize(obj);
    });
    if (!rev) return api_error(kube::status_from_error(rev.error(), group_resource(type), name));
    // The revision the write got (a backend such as etcd may have predicted another one).
    kube::set_resource_version(obj, std::to_string(*rev));
    if (is_crd_type(type)) sync_crd(obj, false);
    out.body = json::serialize(obj);
    return out;
}

// ---------------------------------------------------------------------------------------------
// get / list

ApiResult<std::string> Registry::get(const Scope& scope) {
    const ResourceType& type = scope.type;
    if (!scope.subresource.empty() && scope.subresource != "status" &&
        scope.subresource != "scale")
        return api_error(not_found_resource());
    if (!scope.subresource.empty() && !type.has_subresource(scope.subresource))
        return api_error(not_found_resource());
    auto kv = storage_.get(object_key(type, scope_namespace(scope), scope.name));
    if (!kv) return api_error(kube::status_from_error(kv.error(), group_resource(type), scope.name));
    if (scope.subresource == "scale") {
        auto obj = parse_object(kv->value);
        if (!obj) return obj.error();
        return json::serialize(scale_of(*obj));
    }
    return std::move(kv->value);
}

ApiResult<std::string> Registry::list(const Scope& scope, const ListParams& params) {
    const ResourceType& type = scope.type;
    auto filter = make_filter(type, params.label_selector, params.field_selector, scope.name);
    if (!filter) return filter.error();
    storage::CacheListOptions o;
    o.filter = std::move(*filter);
    o.key_prefix = collection_prefix(type, scope_namespace(scope));
    o.limit = params.limit > 0 ? static_cast<std::size_t>(params.limit) : 0;
    if (!params.continue_token.empty()) {
        if (!params.resource_version.empty() && params.resource_version != "0")
            return api_error(kube::status_bad_request(
                "specifying resource version is not allowed when using continue"));
        auto token = decode_continue(params.continue_token, type_prefix(type));
        if (!token) return token.error();
        o.continue_key = token->first;
        o.continue_rev = token->second;
    } else {
        auto rv = parse_rv_param(params.resource_version);
        if (!rv) return rv.error();
        o.resource_version = *rv;
        if (params.resource_version_match == "Exact") {
            if (!rv->has_value() || **rv == 0)
                return api_error(kube::status_bad_request(
                    "resourceVersionMatch \"Exact\" is forbidden for resourceVersion \"0\" or "
                    "unset"));
            o.match = storage::RvMatch::kExact;
        } else if (!params.resource_version_match.empty() &&
                   params.resource_version_match != "NotOlderThan") {
            return api_error(kube::status_bad_request(
                "resourceVersionMatch: Unsupported value: \"" + params.resource_version_match +
                "\""));
        }
    }
    auto cache = cache_for(type);
    if (!cache) return api_error(kube::status_from_error(cache.error()));
    auto r = (*cache)->list(o);
    if (!r) return api_error(kube::status_from_error(r.error(), group_resource(type)));

    std::string out = R"({"kind":)" + json::serialize(json::string(type.list_kind)) +
                      R"(,"apiVersion":)" + json::serialize(json::string(type.group_version())) +
                      R"(,"metadata":{"resourceVersion":")" + std::to_string(r->revision) + '"';
    if (r->more)
        out += R"(,"continue":")" + encode_continue(r->next_key, r->revision, type_prefix(type)) +
               '"';
    out += R"(},"items":[)";
    bool first = true;
    for (const auto& item : r->items) {
        if (!first) out += ',';
        first = false;
        out += item->value;
    }
    out += "]}";
    return out;
}

// ---------------------------------------------------------------------------------------------
// watch

ApiResult<Registry::WatchRequest> Registry::prepare_watch(const Scope& scope,
                                                          const ListParams& params) {
    WatchRequest req;
    auto filter = make_filter(scope.type, params.label_selector, params.field_selector,
                              scope.name);
    if (!filter) return filter.error();
    req.filter = std::move(*filter);
    auto rv = parse_rv_param(params.resource_version);
    if (!rv) return rv.error();
    req.from_revision = rv->value_or(0);
    req.key_prefix = collection_prefix(scope.type, scope_namespace(scope));
    return req;
}

ApiResult<std::shared_ptr<storage::Watcher>> Registry::watch(const Scope& scope,
                                                             WatchRequest request,
                                                             std::function<void()> on_ready,
                                                             std::size_t queue_capacity) {
    auto cache = cache_for(scope.type);
    if (!cache) return api_error(kube::status_from_error(cache.error()));
    storage::WatchOptions o;
    o.from_revision = request.from_revision;
    o.key_prefix = std::move(request.key_prefix);
    o.filter = std::move(request.filter);
    o.queue_capacity = queue_capacity;
    o.on_ready = std::move(on_ready);
    auto w = (*cache)->watch(std::move(o));
    if (!w) return api_error(kube::status_from_error(w.error(), group_resource(scope.type)));
    return *w;
}

}  // namespace kedge::apiserver
