#pragma once
// CustomResourceDefinitions (apiextensions.k8s.io/v1) for kedge-apiserver: defaulting and
// validation of the CRD object with kube-apiserver's field causes, the typed view the server
// routes with, the status it sets (NamesAccepted, Established, acceptedNames, storedVersions), and
// the list of served resources for discovery. Pure functions over boost::json; no I/O.
//
// Dependency note: this library must not depend on kedge::apiserver (the server depends on it),
// so it has its own ServedResource type; "apiserver/crd/to_resource_type.hpp" converts it to
// apiserver::ResourceType header-only, for the server's use.

#include <boost/json/object.hpp>

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "apiserver/crd/schema.hpp"
#include "base/error.hpp"
#include "kube/status.hpp"

namespace kedge::apiserver::crd {

inline constexpr std::string_view kCrdGroup = "apiextensions.k8s.io";
inline constexpr std::string_view kCrdKind = "CustomResourceDefinition";

// spec.names (and status.acceptedNames) of a CRD.
struct CrdNames {
    std::string plural;
    std::string singular;
    std::string kind;
    std::string list_kind;
    std::vector<std::string> short_names;
    std::vector<std::string> categories;

    friend bool operator==(const CrdNames&, const CrdNames&) = default;
    boost::json::object to_json() const;  // {plural, singular, kind, listKind, shortNames?, ...}
};

// One entry of spec.versions, with its compiled schema.
struct CrdVersion {
    std::string name;
    bool served = false;
    bool storage = false;
    bool deprecated = false;
    std::string deprecation_warning;
    std::shared_ptr<const StructuralSchema> schema;  // never null in a parsed CRD
    bool status_subresource = false;
    bool scale_subresource = false;
    std::string spec_replicas_path;    // scale: ".spec.replicas"
    std::string status_replicas_path;  // scale: ".status.replicas"
    std::string label_selector_path;   // scale: optional
};

// One custom resource at one served version: what discovery lists and the router needs.
struct ServedResource {
    std::string group;
    std::string version;
    std::string plural;
    std::string singular;
    std::string kind;
    std::string list_kind;
    bool namespaced = true;
    std::vector<std::string> short_names;
    std::vector<std::string> categories;
    bool has_status = false;  // the /status subresource exists
    bool has_scale = false;   // the /scale subresource exists
    bool storage = false;     // this is the storage version
    std::shared_ptr<const StructuralSchema> schema;

    std::string group_version() const { return group + "/" + version; }
};

// A valid CustomResourceDefinition in typed form (built only by parse_crd).
struct CustomResourceDefinition {
    std::string name;  // metadata.name, "<plural>.<group>"
    std::string group;
    CrdNames names;
    bool namespaced = true;
    std::vector<CrdVersion> versions;

    const CrdVersion* find_version(std::string_view version) const;
    const CrdVersion& storage_version() const;  // exactly one exists in a parsed CRD
    // The served versions, in spec order (the first is discovery's preferred version).
    std::vector<ServedResource> served_resources() const;
};

// What kube-apiserver defaults on a CRD before validating it: names.singular (lowercased kind),
// names.listKind ("<Kind>List"), conversion.strategy "None". Call on create and update.
void apply_crd_defaults(boost::json::object& crd);

// Every problem with a (defaulted) CRD, as Invalid causes with kube's field paths
// ("spec.versions[0].schema.openAPIV3Schema: Required value: schemas are required"); empty when
// the CRD is valid.
std::vector<kube::StatusCause> validate_crd(const boost::json::object& crd);
// Extra rules for an update: spec.group and spec.scope are immutable, and every version in the
// old status.storedVersions must stay in spec.versions. Includes validate_crd(updated).
std::vector<kube::StatusCause> validate_crd_update(const boost::json::object& old_crd,
                                                   const boost::json::object& updated);
// The 422 kube-apiserver answers: CustomResourceDefinition.apiextensions.k8s.io "<name>" is
// invalid: ...
kube::Status crd_invalid_status(std::string_view name, std::vector<kube::StatusCause> causes);

// Validates and converts; invalid_argument naming the first problem ("<field>: <message>").
Result<CustomResourceDefinition> parse_crd(const boost::json::object& crd);

// The status kube-apiserver's controllers give an established CRD: conditions NamesAccepted and
// Established (True unless a name collides with another CRD of the same group, then both False
// with reasons NameConflict / NotAccepted), acceptedNames, and storedVersions (the old list plus
// the storage version). Transition times of unchanged conditions are kept from `old_status`.
// `others` are the other CRDs the server has (any group; same-name entries are ignored).
boost::json::object compute_crd_status(const CustomResourceDefinition& crd,
                                       const boost::json::object* old_status,
                                       std::string_view now_rfc3339,
                                       const std::vector<CustomResourceDefinition>& others = {});

// True when status.conditions has Established=True (a server serves only such CRDs).
bool is_established(const boost::json::object& crd);

}  // namespace kedge::apiserver::crd
