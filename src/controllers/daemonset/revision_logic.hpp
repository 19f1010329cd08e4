#pragma once
// ControllerRevisions of a DaemonSet, without I/O: the template hash (the controller-revision-hash
// label), the revision object that snapshots a template, which existing revision a template
// matches (a rollback reuses it) and which old revisions history cleanup deletes.

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace kedge::controllers::daemonset {


// FNV-1a (32 bit) of the canonical template (and collisionCount when set), written the way
// Kubernetes writes such hashes: the decimal digits mapped onto "bcdfghjklmnpqrstvwxz2456789".
std::string template_hash(const boost::json::value& pod_template,
                          std::optional<std::int64_t> collision_count);

// The template a revision snapshots (data.spec.template without the "$patch" directive), or
// nullptr-like empty object when absent.
boost::json::object revision_template(const boost::json::object& revision);

// A ControllerRevision "<ds>-<hash>" holding the DaemonSet's template as the strategic merge
// patch Kubernetes stores ({"spec":{"template":{..., "$patch":"replace"}}}), labelled with the
// template's labels plus controller-revision-hash, controlled by the DaemonSet.
boost::json::object new_revision(const boost::json::object& ds, std::string_view hash,
                                 std::int64_t revision);

std::int64_t revision_number(const boost::json::object& revision);

// Among `revisions`, the one whose template equals the DaemonSet's current one (highest
// revision number first), or nullptr.
const boost::json::object* find_matching_revision(
    const std::vector<const boost::json::object*>& revisions, const boost::json::object& ds);

// Names of old revisions to delete so that at most `limit` remain besides the current one; the
// oldest go first and revisions whose hash a live pod still carries are kept.
std::vector<std::string> revisions_to_prune(
    const std::vector<const boost::json::object*>& revisions, std::string_view current_name,
    const std::set<std::string, std::less<>>& live_hashes, std::int64_t limit);

}  // namespace kedge::controllers::daemonset
