// The registry's writes to existing objects: update, patch, status, scale, binding, delete.

#include <boost/json.hpp>

#include "apiserver/object_rules.hpp"
#include "apiserver/registry.hpp"
#include "apiserver/registry_detail.hpp"
#include "apiserver/registry_namespace.hpp"
#include "kube/object.hpp"

namespace kedge::apiserver {
namespace json = boost::json;
using namespace detail;

namespace {

std::string rv_string(std::uint64_t rev) { return std::to_string(rev); }

std::int64_t int_at(const json::object& obj, std::string_view path, std::int64_t fallback) {
    const auto* v = kube::get_path(obj, path);
    return v && v->is_int64() ? v->as_int64() : fallback;
}

// The object an update stores, from the current one and what the client sent.
ApiResult<json::object> merge_for_update(const ResourceType& type, const std::string& subresource,
                                         const json::object& cur, json::object cand) {
    if (subresource == "status") {
        json::object res = cur;
        if (auto* st = cand.if_contains("status")) res["status"] = *st;
        else res.erase("status");
        return res;
    }
    json::object res = std::move(cand);
    kube::set_api_version(res, kube::api_version(cur));
    kube::set_kind(res, kube::kind(cur));
    auto& md = kube::ensure_metadata(res);
    const json::object* old_md = kube::metadata(cur);
    for (const char* k : {"name", "namespace", "uid", "creationTimestamp", "deletionTimestamp",
                          "deletionGracePeriodSeconds", "generation"}) {
        if (old_md && old_md->contains(k)) md[k] = old_md->at(k);
        else md.erase(k);
    }
    md.erase("managedFields");
    md.erase("selfLink");
    if (type.has_subresource("status")) {
        if (auto* st = cur.if_contains("status")) res["status"] = *st;
        else res.erase("status");
    }
    if (kube::deletion_timestamp(cur)) {
        auto before = kube::finalizers(cur);
        for (const auto& f : kube::finalizers(res)) {
            if (std::find(before.begin(), before.end(), f) == before.end()) {
                return api_error(kube::status_invalid(
                    type.group, type.kind, kube::name(cur),
                    {kube::field_forbidden("metadata.finalizers",
                                           "no new finalizers can be added if the object is "
                                           "being deleted, found new finalizers [\"" +
                                               f + "\"]")}));
            }
        }
    }
    if (kube::generation(cur) > 0 && spec_changed(cur, res))
        kube::set_generation(res, kube::generation(cur) + 1);
    return res;
}

json::object success_status(const ResourceType& type, const json::object& obj, int code = 200) {
    json::object details{{"name", kube::name(obj)}, {"kind", type.resource}};
    if (!type.group.empty()) details["group"] = type.group;
    if (!kube::uid(obj).empty()) details["uid"] = kube::uid(obj);
    json::object s{{"kind", "Status"},     {"apiVersion", "v1"}, {"metadata", json::object{}},
                   {"status", "Success"}, {"details", details}};
    if (code != 200) s["code"] = code;
    return s;
}

}  // namespace

ApiResult<json::object> Registry::apply_update(const Scope& scope, const Mutate& mutate,
                                               const WriteOptions& options,
                                               std::vector<std::string>* warnings) {
    const ResourceType& type = scope.type;
    const std::string sub = scope.subresource == "scale" ? "" : scope.subresource;
    std::string key = object_key(type, scope_namespace(scope), scope.name);
    std::optional<ApiError> failure;
    std::optional<json::object> unchanged;
    std::vector<std::string> finalize_warnings;
    json::object stored;
    auto kv = storage_.guaranteed_update(
        key, [&](const storage::KeyValue& current, std::uint64_t rev) -> Result<std::string> {
            failure.reset();
            unchanged.reset();
            auto cur = parse_object(current.value);
            if (!cur) {
                failure = api_error(kube::status_internal_error("stored object is not JSON"));
                return Error(errc::internal, "abort");
            }
            auto cand = mutate(*cur);
            if (!cand) {
                failure = cand.error();
                return Error(errc::internal, "abort");
            }
            std::string_view want_rv = kube::resource_version(*cand);
            if (!want_rv.empty() && want_rv != rv_string(current.mod_rev)) {
                failure = api_error(kube::status_conflict(group_resource(type), scope.name));
                return Error(errc::internal, "abort");
            }
            auto res = merge_for_update(type, sub, *cur, std::move(*cand));
            if (!res) {
                failure = res.error();
                return Error(errc::internal, "abort");
            }
            std::vector<std::string> extra;
            if (auto f = finalize_object(type, &*cur, *res, options, extra); !f) {
                failure = f.error();
                return Error(errc::internal, "abort");
            }
            finalize_warnings = std::move(extra);
            kube::set_resource_version(*res, rv_string(current.mod_rev));
            if (auto causes = validate_object(type, *res); !causes.empty()) {
                failure = api_error(
                    kube::status_invalid(type.group, type.kind, scope.name, std::move(causes)));
                return Error(errc::internal, "abort");
            }
            if (kube::json_equal(json::value(*res), json::value(*cur)) || options.dry_run) {
                unchanged = std::move(*res);
                return Error(errc::internal, "abort");
            }
            kube::set_resource_version(*res, rv_string(rev));
            stored = std::move(*res);
            return json::serialize(stored);
        });
    if (failure) return *failure;
    if (warnings)
        warnings->insert(warnings->end(), finalize_warnings.begin(), finalize_warnings.end());
    if (unchanged) return std::move(*unchanged);
    if (!kv) return api_error(kube::status_from_error(kv.error(), group_resource(type), scope.name));
    kube::set_resource_version(stored, rv_string(kv->mod_rev));
    bool deleted = false;
    if (ready_to_remove(stored)) {
        auto d = storage_.remove(key, kv->mod_rev);
        if (!d && !d.error().is(errc::not_found) && !d.error().is(errc::conflict))
            return api_error(kube::status_from_error(d.error(), group_resource(type), scope.name));
        deleted = d.has_value();
    }
    if (is_crd_type(type)) sync_crd(stored, deleted);
    return stored;
}

ApiResult<WriteResult> Registry::finish_write(const Scope& scope, ApiResult<json::object> r,
                                              std::vector<std::string> warnings) {
    if (!r) return r.error();
    WriteResult out;
    out.warnings = std::move(warnings);
    out.body = scope.subresource == "scale" ? json::serialize(scale_of(*r)) : json::serialize(*r);
    return out;
}

ApiResult<WriteResult> Registry::update(const Scope& scope, std::string_view body,
                                        const WriteOptions& options) {
    const ResourceType& type = scope.type;
    const std::string& sub = scope.subresource;
    const bool finalize = sub == "finalize" && is_namespace_type(type);
    if (!sub.empty() && !finalize &&
        (!type.has_subresource(sub) || (sub != "status" && sub != "scale")))
        return api_error(not_found_resource());
    auto parsed = parse_object(body);
    if (!parsed) return parsed.error();
    json::object obj = std::move(*parsed);
    std::vector<std::string> warnings;
    if (finalize) {
        // namespaces/<name>/finalize: only spec.finalizers changes (the namespace controller
        // drops "kubernetes" once the namespace is empty).
        if (auto r = check_kind(type, obj); !r) return r.error();
        if (!kube::name(obj).empty() && kube::name(obj) != scope.name)
            return api_error(kube::status_bad_request(
                "the name of the object (" + std::string(kube::name(obj)) +
                ") does not match the name on the URL (" + scope.name + ")"));
        return finish_write(
            scope,
            apply_update(
                scope,
                [&](const json::object& cur) { return apply_namespace_finalize(cur, obj); },
                options),
            {});
    }

    if (sub == "scale") {
        ResourceType scale_type;
        scale_type.group = "autoscaling";
        scale_type.version = "v1";
        scale_type.kind = "Scale";
        if (auto r = check_kind(scale_type, obj); !r) return r.error();
        const auto* rep = kube::get_path(obj, "spec.replicas");
        if (rep && (!rep->is_int64() || rep->as_int64() < 0))
            return api_error(kube::status_invalid(
                "autoscaling", "Scale", scope.name,
                {kube::field_invalid("spec.replicas", *rep,
                                     "must be greater than or equal to 0")}));
        std::int64_t replicas = rep ? rep->as_int64() : 0;
        std::string want_rv(kube::resource_version(obj));
        return finish_write(
            scope,
            apply_update(
                scope,
                [&](const json::object& cur) -> ApiResult<json::object> {
                    json::object c = cur;
                    auto* spec = c.if_contains("spec");
                    if (!spec || !spec->is_object()) c["spec"] = json::object{};
                    c["spec"].as_object()["replicas"] = replicas;
                    kube::set_resource_version(c, want_rv);
                    return c;
                },
                options),
            {});
    }

    if (auto r = check_kind(type, obj); !r) return r.error();
    if (auto r = check_fields(type, obj, options.field_validation, warnings); !r)
        return r.error();
    std::string_view body_name = kube::name(obj);
    if (body_name.empty()) {
        kube::set_name(obj, scope.name);
    } else if (body_name != scope.name) {
        return api_error(kube::status_bad_request("the name of the object (" +
                                                  std::string(body_name) +
                                                  ") does not match the name on the URL (" +
                                                  scope.name + ")"));
    }
    if (type.namespaced) {
        std::string_view ns = kube::namespace_of(obj);
        if (!ns.empty() && ns != scope.namespace_)
            return api_error(kube::status_bad_request(
                "the namespace of the provided object does not match the namespace sent on the "
                "request"));
    }
    return finish_write(
        scope,
        apply_update(
            scope, [&](const json::object&) -> ApiResult<json::object> { return obj; }, options,
            &warnings),
        std::move(warnings));
}

ApiResult<WriteResult> Registry::patch(const Scope& scope, kube::PatchType ptype,
                                       std::string_view body, const WriteOptions& options) {
    const ResourceType& type = scope.type;
    const std::string& sub = scope.subresource;
    if (!sub.empty() && (!type.has_subresource(sub) || (sub != "status" && sub != "scale")))
        return api_error(not_found_resource());
    if (ptype == kube::PatchType::kApplyPatch)
        return api_error(kube::status_unsupported_media_type(
            {"application/json-patch+json", "application/merge-patch+json",
             "application/strategic-merge-patch+json"}));
    std::vector<std::string> warnings;
    auto mutate = [&](const json::object& cur) -> ApiResult<json::object> {
        warnings.clear();
        json::value target = sub == "scale" ? json::value(scale_of(cur)) : json::value(cur);
        auto r = kube::apply_patch(ptype, target, body);
        if (!r) return api_error(kube::status_from_error(r.error(), group_resource(type), scope.name));
        if (!r->is_object())
            return api_error(kube::status_bad_request("the patch result is not an object"));
        json::object res = std::move(r->as_object());
        if (sub == "scale") {
            const auto* rep = kube::get_path(res, "spec.replicas");
            if (!rep || !rep->is_int64() || rep->as_int64() < 0)
                return api_error(kube::status_invalid(
                    "autoscaling", "Scale", scope.name,
                    {kube::field_invalid("spec.replicas", rep ? *rep : json::value(nullptr),
                                         "must be greater than or equal to 0")}));
            json::object c = cur;
            if (auto* spec = c.if_contains("spec"); !spec || !spec->is_object())
                c["spec"] = json::object{};
            c["spec"].as_object()["replicas"] = rep->as_int64();
            kube::set_resource_version(c, kube::resource_version(res));
            return c;
        }
        if (auto k = check_kind(type, res); !k) return k.error();
        if (auto f = check_fields(type, res, options.field_validation, warnings); !f)
            return f.error();
        return res;
    };
    auto r = apply_update(scope, mutate, options, &warnings);
    return finish_write(scope, std::move(r), std::move(warnings));
}

ApiResult<WriteResult> Registry::bind(const Scope& scope, std::string_view body,
                                      const WriteOptions&) {
    if (scope.type.resource != "pods" || scope.name.empty())
        return api_error(not_found_resource());
    auto parsed = parse_object(body);
    if (!parsed) return parsed.error();
    std::string target;
    if (const auto* t = kube::get_path(*parsed, "target.name"); t && t->is_string())
        target = std::string(t->as_string());
    if (target.empty())
        return api_error(kube::status_invalid("", "Binding", scope.name,
                                              {kube::field_required("target.name")}));
    std::string now = rfc3339(options_.clock->now());
    std::string key = object_key(scope.type, scope.namespace_, scope.name);
    std::optional<ApiError> failure;
    auto kv = storage_.guaranteed_update(
        key, [&](const storage::KeyValue& current, std::uint64_t rev) -> Result<std::string> {
            failure.reset();
            auto cur = parse_object(current.value);
            if (!cur) return Error(errc::internal, "stored object is not JSON");
            json::object& pod = *cur;
            if (kube::deletion_timestamp(pod)) {
                failure = api_error(kube::status_conflict(
                    {"", "pods/binding"}, scope.name,
                    "pod " + scope.name + " is being deleted, cannot be assigned to a host"));
                return Error(errc::internal, "abort");
            }
            if (auto n = kube::get_path_string(pod, "spec.nodeName"); n && !n->empty()) {
                failure = api_error(kube::status_conflict(
                    {"", "pods/binding"}, scope.name,
                    "pod " + scope.name + " is already assigned to node \"" + *n + "\""));
                return Error(errc::internal, "abort");
            }
            if (auto* spec = pod.if_contains("spec"); !spec || !spec->is_object())
                pod["spec"] = json::object{};
            pod["spec"].as_object()["nodeName"] = target;
            if (auto* st = pod.if_contains("status"); !st || !st->is_object())
                pod["status"] = json::object{};
            auto& status = pod["status"].as_object();
            if (auto* c = status.if_contains("conditions"); !c || !c->is_array())
                status["conditions"] = json::array{};
            // One PodScheduled condition: replace a False/Unschedulable one the scheduler set
            // earlier (keeping lastTransitionTime only when the status does not change).
            auto& conditions = status["conditions"].as_array();
            json::object scheduled{{"type", "PodScheduled"},
                                   {"status", "True"},
                                   {"lastProbeTime", nullptr},
                                   {"lastTransitionTime", now}};
            bool replaced = false;
            for (auto& c : conditions) {
                if (!c.is_object() || kube::get_path_string(c, "type") != "PodScheduled") continue;
                if (kube::get_path_string(c, "status") == "True")
                    if (auto* t = c.as_object().if_contains("lastTransitionTime"))
                        scheduled["lastTransitionTime"] = *t;
                c = scheduled;
                replaced = true;
            }
            if (!replaced) conditions.push_back(std::move(scheduled));
            kube::set_resource_version(pod, rv_string(rev));
            return json::serialize(pod);
        });
    if (failure) return *failure;
    if (!kv) return api_error(kube::status_from_error(kv.error(), {"", "pods"}, scope.name));
    WriteResult out;
    out.code = 201;
    out.body = json::serialize(json::object{{"kind", "Status"},
                                            {"apiVersion", "v1"},
                                            {"metadata", json::object{}},
                                            {"status", "Success"},
                                            {"code", 201}});
    return out;
}

// ---------------------------------------------------------------------------------------------
// delete

ApiResult<WriteResult> Registry::remove(const Scope& scope, const DeleteParams& params) {
    const ResourceType& type = scope.type;
    if (!scope.subresource.empty())
        return api_error(kube::status_method_not_allowed(group_resource(type), "DELETE"));
    auto gr = group_resource(type);
    // NamespaceLifecycle: the system namespaces stay.
    if (is_namespace_type(type) && is_immortal_namespace(scope.name))
        return api_error(
            kube::status_forbidden(gr, scope.name, "this namespace may not be deleted"));
    std::string key = object_key(type, scope_namespace(scope), scope.name);
    const bool return_object = type.custom || type.resource == "pods";
    for (int attempt = 0; attempt < 16; ++attempt) {
        auto kv = storage_.get(key);
        if (!kv) return api_error(kube::status_from_error(kv.error(), gr, scope.name));
        auto parsed = parse_object(kv->value);
        if (!parsed) return parsed.error();
        json::object obj = std::move(*parsed);
        if (params.precondition_uid && *params.precondition_uid != kube::uid(obj))
            return api_error(kube::status_conflict(
                gr, scope.name,
                "Precondition failed: UID in precondition: " + *params.precondition_uid +
                    ", UID in object meta: " + std::string(kube::uid(obj))));
        if (params.precondition_resource_version &&
            *params.precondition_resource_version != rv_string(kv->mod_rev))
            return api_error(kube::status_conflict(
                gr, scope.name,
                "Precondition failed: ResourceVersion in precondition: " +
                    *params.precondition_resource_version +
                    ", ResourceVersion in meta: " + rv_string(kv->mod_rev)));

        // Graceful deletion: a pod bound to a node stays (terminating) until the node's agent
        // deletes it with grace 0 once its containers are gone.
        std::int64_t grace = 0;
        if (type.resource == "pods") {
            auto phase = kube::get_path_string(obj, "status.phase").value_or("");
            bool bound = !kube::get_path_string(obj, "spec.nodeName").value_or("").empty();
            if (bound && phase != "Succeeded" && phase != "Failed") {
                grace = params.grace_period_seconds.value_or(
                    int_at(obj, "spec.terminationGracePeriodSeconds", 30));
            }
        }
        // Foreground/Orphan propagation become the GC's finalizers; a namespace waits for its
        // spec.finalizers (the namespace controller) as well.
        const auto old_finalizers = kube::finalizers(obj);
        const auto new_finalizers = deletion_finalizers(old_finalizers, params.propagation_policy);
        const bool is_ns = is_namespace_type(type);
        const bool pending = !new_finalizers.empty() || (is_ns && !spec_finalizers(obj).empty());
        const bool terminating = kube::deletion_timestamp(obj).has_value();
        WriteResult out;
        if (pending || grace > 0) {
            bool write = new_finalizers != old_finalizers;
            if (!terminating || (grace < int_at(obj, "metadata.deletionGracePeriodSeconds", 0) &&
                                 !(pending && grace > 0))) {
                // Mark for deletion (or shorten the grace period).
                kube::set_deletion_timestamp(
                    obj, rfc3339(options_.clock->now() + std::chrono::seconds(grace)));
                if (!is_ns) kube::ensure_metadata(obj)["deletionGracePeriodSeconds"] = grace;
                if (!terminating && kube::generation(obj) > 0)
                    kube::set_generation(obj, kube::generation(obj) + 1);
                if (is_ns) {
                    if (auto* st = obj.if_contains("status"); !st || !st->is_object())
                        obj["status"] = json::object{};
                    obj["status"].as_object()["phase"] = "Terminating";
                }
                write = true;
            }
            if (!write) {
                out.body = std::move(kv->value);
                return out;
            }
            kube::set_finalizers(obj, new_finalizers);
            if (params.dry_run) {
                out.body = json::serialize(obj);
                return out;
            }
            auto rev = storage_.update(
                key,
                [&](std::uint64_t r) -> Result<std::string> {
                    kube::set_resource_version(obj, rv_string(r));
                    return json::serialize(obj);
                },
                kv->mod_rev);
            if (!rev) {
                if (rev.error().is(errc::conflict)) continue;
                return api_error(kube::status_from_error(rev.error(), gr, scope.name));
            }
            kube::set_resource_version(obj, rv_string(*rev));
            out.body = json::serialize(obj);
            return out;
        }
        if (params.dry_run) {
            out.body = return_object ? std::move(kv->value)
                                     : json::serialize(success_status(type, obj));
            return out;
        }
        auto d = storage_.remove(key, kv->mod_rev);
        if (!d) {
            if (d.error().is(errc::conflict)) continue;
            return api_error(kube::status_from_error(d.error(), gr, scope.name));
        }
        if (is_crd_type(type)) sync_crd(obj, true);
        out.body = return_object ? std::move(kv->value)
                                 : json::serialize(success_status(type, obj));
        return out;
    }
    return api_error(kube::status_conflict(gr, scope.name,
                                           "the object kept changing while it was deleted"));
}

ApiResult<std::string> Registry::delete_collection(const Scope& scope, const ListParams& list_params,
                                                   const DeleteParams& params) {
    const ResourceType& type = scope.type;
    auto filter = make_filter(type, list_params.label_selector, list_params.field_selector, "");
    if (!filter) return filter.error();
    auto cache = cache_for(type);
    if (!cache) return api_error(kube::status_from_error(cache.error()));
    storage::CacheListOptions o;
    o.filter = std::move(*filter);
    o.key_prefix = collection_prefix(type, scope_namespace(scope));
    auto r = (*cache)->list(o);
    if (!r) return api_error(kube::status_from_error(r.error(), group_resource(type)));
    json::array items;
    for (const auto& item : r->items) {
        auto obj = parse_object(item->value);
        if (!obj) continue;
        Scope one{type, std::string(kube::namespace_of(*obj)), std::string(kube::name(*obj)), ""};
        auto d = remove(one, params);
        if (!d) {
            if (d.error().status.code == 404) continue;
            return d.error();
        }
        items.push_back(std::move(*obj));
    }
    return json::serialize(json::object{{"kind", type.list_kind},
                                        {"apiVersion", type.group_version()},
                                        {"metadata", json::object{}},
                                        {"items", std::move(items)}});
}

}  // namespace kedge::apiserver
