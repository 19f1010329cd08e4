#pragma once
// Per-type rules the registry applies to objects: defaults on create, what a status or main
// resource update may change, which top-level fields a built-in kind has (fieldValidation), name
// rules. Pure functions on JSON objects.

#include <boost/json/object.hpp>

#include <string>
#include <string_view>
#include <vector>

#include "apiserver/resource_types.hpp"
#include "base/base64.hpp"
#include "base/clock.hpp"
#include "kube/status.hpp"

namespace kedge::apiserver {

// Fields of the object that the type does not declare, as "x" or "metadata.x" (kube's strict
// decoding names them so). Only top-level and metadata fields of built-in kinds are known; custom
// types report nothing here.
std::vector<std::string> unknown_fields(const ResourceType& type, const boost::json::object& obj);

// Server-side defaults and resets of a new object (pod phase Pending, namespace phase Active,
// secret stringData folded into data, workload status cleared, ...).
void apply_create_defaults(const ResourceType& type, boost::json::object& obj);

// Validation of a new or updated object: metadata.name syntax, labels and annotations. Empty when
// valid.
std::vector<kube::StatusCause> validate_object(const ResourceType& type,
                                               const boost::json::object& obj);

// True when something outside metadata and status differs (the generation bumps).
bool spec_changed(const boost::json::object& before, const boost::json::object& after);

// Types whose objects carry metadata.generation (the ones with a spec).
bool has_generation(const ResourceType& type, const boost::json::object& obj);

// The 5 characters generateName appends (kube's alphabet without vowels and confusables).
std::string random_name_suffix();

// "2024-05-01T12:00:00Z" (seconds precision, UTC), the form of metav1.Time.
std::string rfc3339(Clock::time_point t);


}  // namespace kedge::apiserver
