#pragma once
// Server-side printing for `kubectl get`: the meta.k8s.io/v1 Table it asks for (Accept
// "application/json;as=Table;v=v1;g=meta.k8s.io"), with kube's columns for pods and nodes and
// Name/Age for everything else. Rows carry the object's metadata (PartialObjectMetadata), which
// kubectl needs for the NAMESPACE column and -w.

#include <boost/json/object.hpp>

#include <chrono>
#include <string>
#include <string_view>

#include "base/clock.hpp"
#include "kube/printing.hpp"
#include "edge/metaserver/resources.hpp"

namespace kedge::edge::metaserver {

// A Table of the items of a <Kind>List body, keeping its list metadata.
boost::json::object table_of_list(const ApiResource& resource, const boost::json::object& list,
                                  Clock::time_point now);
// A Table with one row; with_columns=false leaves columnDefinitions empty (watch events after
// the first, as kube-apiserver sends them).
boost::json::object table_of_object(const ApiResource& resource, const boost::json::object& obj,
                                    Clock::time_point now, bool with_columns = true);

// Shared with every server that prints Tables (kube/printing.hpp).
using kube::human_duration;
using kube::wants_table;

}  // namespace kedge::edge::metaserver
