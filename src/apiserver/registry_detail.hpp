#pragma once
// Internal helpers of the registry: body parsing and kind checks, keys, selectors as watch-cache
// filters, continue tokens, the autoscaling/v1 Scale view. Not for other libraries.

#include <boost/json/object.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "apiserver/registry.hpp"

namespace kedge::apiserver::detail {

inline ApiError api_error(kube::Status s) { return ApiError{std::move(s)}; }

inline kube::GroupResource group_resource(const ResourceType& t) { return {t.group, t.resource}; }

inline bool is_crd_type(const ResourceType& t) {
    return t.group == "apiextensions.k8s.io" && t.resource == "customresourcedefinitions";
}

// 404 "the server could not find the requested resource".
kube::Status not_found_resource();

// boost::json::parse with a nesting limit fit for Kubernetes objects (boost's default of 32 is
// less than a deep CRD schema needs). ec is set on bad input.
boost::json::value parse_json(std::string_view text, boost::system::error_code& ec);

// A JSON object body; 400 BadRequest otherwise.
ApiResult<boost::json::object> parse_object(std::string_view body);

// apiVersion/kind of a body must be the type's (filled in when both are absent).
ApiResult<void> check_kind(const ResourceType& type, boost::json::object& obj);

// fieldValidation: Strict -> 400 naming the unknown fields, Warn -> warnings.
ApiResult<void> check_fields(const ResourceType& type, const boost::json::object& obj,
                             FieldValidation validation, std::vector<std::string>& warnings);

// The namespace part of keys for this scope ("" for cluster-scoped types).
inline std::string scope_namespace(const Scope& s) {
    return s.type.namespaced ? s.namespace_ : std::string();
}
std::string object_key(const ResourceType& type, const std::string& ns, const std::string& name);
// All objects of the type (ns empty) or of one namespace.
std::string collection_prefix(const ResourceType& type, const std::string& ns);

// resourceVersion query parameter: "" -> nullopt, "0" -> 0, digits -> N, else 400.
ApiResult<std::optional<std::uint64_t>> parse_rv_param(std::string_view rv);

// A watch-cache filter from label and field selectors (400 on bad syntax or an unsupported
// field), plus an exact name when name is non-empty.
ApiResult<storage::ObjectFilter> make_filter(const ResourceType& type, std::string_view labels,
                                             std::string_view fields, const std::string& name);

// Labels and the selectable fields of an object of `resource`, computed once per write.
storage::ObjectAttrs object_attrs(const std::string& resource, std::string_view key,
                                  std::string_view value);

// kube's continue token: base64 of {"v":"meta.k8s.io/v1","rv":N,"start":"<key after prefix>"}.
std::string encode_continue(const std::string& next_key, std::uint64_t rev,
                            const std::string& prefix);
// (full next key, revision); 410 Expired-style 400 for garbage.
ApiResult<std::pair<std::string, std::uint64_t>> decode_continue(std::string_view token,
                                                                 const std::string& prefix);

// The autoscaling/v1 Scale of a deployment or replica set.
boost::json::object scale_of(const boost::json::object& obj);

}  // namespace kedge::apiserver::detail
