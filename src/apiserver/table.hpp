#pragma once
// Server-side printing: the meta.k8s.io/v1 Table that `kubectl get` asks for (Accept
// "application/json;as=Table;v=v1;g=meta.k8s.io"), with kube-apiserver's columns for the common
// built-in kinds and Name/Age for everything else.

#include <boost/json/object.hpp>

#include <string>
#include <string_view>

#include "apiserver/resource_types.hpp"
#include "base/clock.hpp"
#include "kube/printing.hpp"

namespace kedge::apiserver {

// ?includeObject=: what each row carries besides its cells.
enum class IncludeObject { kNone, kMetadata, kObject };
IncludeObject parse_include_object(std::string_view value);

// A Table of the objects of a list body (<Kind>List JSON), keeping its list metadata.
// with_columns=false leaves columnDefinitions out (watch events after the first).
boost::json::object table_of_list(const ResourceType& type, const boost::json::object& list,
                                  IncludeObject include, Clock::time_point now);
// A Table with one row for one object.
boost::json::object table_of_object(const ResourceType& type, const boost::json::object& obj,
                                    IncludeObject include, Clock::time_point now,
                                    bool with_columns = true);

// Shared with every server that prints Tables (kube/printing.hpp).
using kube::human_duration;
using kube::wants_table;

}  // namespace kedge::apiserver
