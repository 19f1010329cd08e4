#pragma once
// The ?fieldValidation= query parameter (Ignore, Warn, Strict) and kube-apiserver's answers for
// unknown fields found by pruning: a 400 for Strict, Warning-header texts for Warn.

#include <string>
#include <string_view>
#include <vector>

#include "base/error.hpp"
#include "kube/status.hpp"

namespace kedge::apiserver::crd {

// What the server does with unknown (pruned) fields of a create/update/patch.
enum class FieldValidation { kIgnore, kWarn, kStrict };

// "" -> kWarn (kube-apiserver's default), "Ignore", "Warn", "Strict"; anything else is
// invalid_argument with kube's message (the server answers 400 BadRequest with it).
Result<FieldValidation> parse_field_validation(std::string_view value);

// `unknown field "spec.foo"`: the text of one Warning header (code 299) under kWarn.
std::string unknown_field_warning(std::string_view path);

// 400 BadRequest: strict decoding error: unknown field "spec.a", unknown field "spec.b".
kube::Status strict_decoding_error(const std::vector<std::string>& pruned);

}  // namespace kedge::apiserver::crd
