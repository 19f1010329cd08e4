#pragma once
// The three patch types kubectl sends: JSON merge patch (RFC 7386), JSON Patch (RFC 6902) and
// Kubernetes strategic merge patch for built-in types. All work on JSON documents and never throw
// on bad input.

#include <boost/json/fwd.hpp>
#include <boost/system/error_category.hpp>
#include <boost/system/error_code.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "base/error.hpp"

namespace kedge::kube {

// Why a patch failed; each maps to one HTTP status in kube-apiserver (see status_from_error).
enum class patch_errc {
    ok = 0,
    malformed_patch,         // the body is not a patch of its type (400 BadRequest)
    apply_failed,            // a well-formed patch does not apply: path missing, test failed (422)
    unsupported_media_type,  // patch type not accepted for this resource, e.g. SMP on a CR (415)
};

const boost::system::error_category& patch_category() noexcept;

inline boost::system::error_code make_error_code(patch_errc e) noexcept {
    return {static_cast<int>(e), patch_category()};
}

enum class PatchType {
    kJsonPatch,            // application/json-patch+json
    kMergePatch,           // application/merge-patch+json
    kStrategicMergePatch,  // application/strategic-merge-patch+json
    kApplyPatch,           // application/apply-patch+yaml (server-side apply; not supported)
};

// Maps a request Content-Type (parameters such as "; charset=utf-8" ignored) to a patch type;
// unsupported_media_type with kube-apiserver's message for anything else.
Result<PatchType> patch_type_from_content_type(std::string_view content_type);
std::string_view content_type_of(PatchType type);

// Deep equality with numbers compared by value (1 == 1.0), as RFC 6902 "test" requires.
bool json_equal(const boost::json::value& a, const boost::json::value& b);

// RFC 7386. Cannot fail: every JSON value is a merge patch.
boost::json::value apply_merge_patch(const boost::json::value& target,
                                     const boost::json::value& patch);

// RFC 6902, atomically (on any failure the target is untouched because a copy is patched).
// malformed_patch for a patch that is not an array of operations or has a bad pointer or op;
// apply_failed for a missing path, an index out of range or a failed "test".
Result<boost::json::value> apply_json_patch(const boost::json::value& target,
                                            const boost::json::value& operations);

// How strategic merge treats the lists of one kind. Paths are field names from the object root
// with list elements skipped ("spec.containers.env"). Lists not listed are replaced whole.
class StrategicSchema {
  public:
    // Merge the list at `path`: by `merge_key` for lists of objects, as a set when merge_key is
    // empty (lists of strings such as metadata.finalizers).
    void add_merge_list(std::string path, std::string merge_key);
    // nullopt: replace the list (atomic); "": merge as a set; otherwise the merge key.
    std::optional<std::string_view> list_merge_key(std::string_view path) const;

  private:
    std::unordered_map<std::string, std::string> lists_;
};

// The schema for a built-in Kubernetes type, or nullptr for types strategic merge does not apply
// to (custom resources: kube-apiserver answers 415 Unsupported Media Type).
const StrategicSchema* builtin_strategic_schema(std::string_view api_version,
                                                std::string_view kind);

// Kubernetes strategic merge patch with the apiserver's options (unmatched nulls ignored), the
// directives $patch (replace/delete/merge errors), $retainKeys, $deleteFromPrimitiveList/<f> and
// $setElementOrder/<f> (ordering applied; server-only entries follow the ordered ones).
Result<boost::json::value> apply_strategic_merge_patch(const boost::json::value& target,
                                                       const boost::json::value& patch,
                                                       const StrategicSchema& schema);

// What an API server calls for PATCH: parses `body`, picks the algorithm, and checks the result
// is an object. Strategic merge on a kind without a built-in schema is unsupported_media_type.
Result<boost::json::value> apply_patch(PatchType type, const boost::json::value& target,
                                       std::string_view body);

}  // namespace kedge::kube

template <>
struct boost::system::is_error_code_enum<kedge::kube::patch_errc> : std::true_type {};
