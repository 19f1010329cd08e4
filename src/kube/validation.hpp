#pragma once
// Kubernetes' name and label syntax rules (apimachinery util/validation), with its messages, for
// selectors and for an API server validating objects.

#include <string_view>

#include "base/error.hpp"

namespace kedge::kube {

// Label keys and annotation keys: an optional DNS-subdomain prefix and '/', then a name of at most
// 63 alphanumerics, '-', '_', '.' that starts and ends alphanumeric.
Result<void> validate_qualified_name(std::string_view value);
// Label values: empty, or at most 63 characters of the qualified-name alphabet.
Result<void> validate_label_value(std::string_view value);
// RFC 1123 label (namespace names, most resource names that go into DNS): [a-z0-9-], <= 63.
Result<void> validate_dns1123_label(std::string_view value);
// RFC 1123 subdomain (most object names): labels joined by '.', <= 253.
Result<void> validate_dns1123_subdomain(std::string_view value);

}  // namespace kedge::kube
