// Namespace lifecycle and deletion propagation rules of the registry (see registry_namespace.hpp).

#include "apiserver/registry_namespace.hpp"

#include <boost/json.hpp>

#include <algorithm>

#include "apiserver/registry_detail.hpp"
#include "kube/object.hpp"

namespace kedge::apiserver::detail {
namespace json = boost::json;

bool is_namespace_object(const json::object& obj) {
    return kube::kind(obj) == "Namespace" && kube::api_version(obj) == "v1";
}

bool is_immortal_namespace(std::string_view name) {
    return name == "default" || name == "kube-system" || name == "kube-public" ||
           name == "kube-node-lease";
}

ApiResult<void> admit_create_in_namespace(storage::Storage& storage, const ResourceType& type,
                                          const std::string& ns, std::string_view name) {
    auto kv = storage.get("/registry/namespaces/" + ns);
    if (!kv) {
        if (kv.error().is(errc::not_found))
            return api_error(kube::status_not_found({"", "namespaces"}, ns));
        return api_error(kube::status_from_error(kv.error()));
    }
    auto obj = parse_object(kv->value);
    if (!obj) return obj.error();
    bool terminating = kube::deletion_timestamp(*obj).has_value() ||
                       kube::get_path_string(*obj, "status.phase").value_or("") == "Terminating";
    if (!terminating) return {};
    auto status = kube::status_forbidden(
        group_resource(type), name,
        "unable to create new content in namespace " + ns + " because it is being terminated");
    status.causes.push_back(kube::StatusCause{
        "NamespaceTerminating", "namespace " + ns + " is being terminated", "metadata.namespace"});
    return api_error(std::move(status));
}

std::vector<std::string> deletion_finalizers(const std::vector<std::string>& current,
                                             std::string_view policy) {
    if (policy.empty()) return current;
    std::vector<std::string> out;
    for (const auto& f : current)
        if (f != kFinalizerOrphan && f != kFinalizerForeground) out.push_back(f);
    if (policy == "Orphan") out.emplace_back(kFinalizerOrphan);
    if (policy == "Foreground") out.emplace_back(kFinalizerForeground);
    return out;
}

std::vector<std::string> spec_finalizers(const json::object& ns) {
    std::vector<std::string> out;
    const auto* f = kube::get_path(ns, "spec.finalizers");
    if (!f || !f->is_array()) return out;
    for (const auto& v : f->as_array())
        if (v.is_string()) out.emplace_back(v.as_string());
    return out;
}

namespace {

// kube's ValidateFinalizerName: a standard finalizer or a domain-qualified name.
bool valid_finalizer_name(std::string_view f) {
    if (f == kFinalizerKubernetes || f == kFinalizerOrphan || f == kFinalizerForeground)
        return true;
    auto slash = f.find('/');
    if (slash == std::string_view::npos || slash == 0 || slash + 1 == f.size() || f.size() > 316)
        return false;
    return std::all_of(f.begin(), f.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '.' || c == '-' || c == '_' || c == '/';
    });
}

}  // namespace

ApiResult<json::object> apply_namespace_finalize(const json::object& current,
                                                 const json::object& body) {
    json::array finalizers;
    if (const auto* f = kube::get_path(body, "spec.finalizers"); f && !f->is_null()) {
        if (!f->is_array())
            return api_error(kube::status_invalid(
                "", "Namespace", kube::name(current),
                {kube::field_invalid("spec.finalizers", *f, "must be a list of strings")}));
        std::size_t i = 0;
        for (const auto& v : f->as_array()) {
            std::string field = "spec.finalizers[" + std::to_string(i++) + "]";
            if (!v.is_string() || !valid_finalizer_name(v.as_string()))
                return api_error(kube::status_invalid(
                    "", "Namespace", kube::name(current),
                    {kube::field_invalid(field, v,
                                         "name is neither a standard finalizer name nor is it "
                                         "fully qualified")}));
            finalizers.push_back(v);
        }
    }
    json::object out = current;
    if (auto* spec = out.if_contains("spec"); !spec || !spec->is_object())
        out["spec"] = json::object{};
    auto& spec = out["spec"].as_object();
    if (finalizers.empty())
        spec.erase("finalizers");
    else
        spec["finalizers"] = std::move(finalizers);
    // The body's resourceVersion is the precondition.
    kube::set_resource_version(out, kube::resource_version(body));
    return out;
}

bool ready_to_remove(const json::object& obj) {
    if (!kube::deletion_timestamp(obj) || !kube::finalizers(obj).empty()) return false;
    const auto* g = kube::get_path(obj, "metadata.deletionGracePeriodSeconds");
    if (g && g->is_int64() && g->as_int64() != 0) return false;
    return !is_namespace_object(obj) || spec_finalizers(obj).empty();
}

}  // namespace kedge::apiserver::detail
