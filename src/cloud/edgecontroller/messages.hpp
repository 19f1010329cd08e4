#pragma once
// The messages the edge controller puts on the wire, shaped exactly like upstream's
// (PROTOCOL.md §12): route {edgecontroller, resource, <op>, "<ns|null>/<type>/<name>"}, header
// resourceversion, content the full object with kind and apiVersion; and the ObjectResp
// {"Object": ..., "Err": ...} bodies of upstream's patch/lease replies.

#include <boost/json/object.hpp>

#include <memory>
#include <string>
#include <string_view>

#include "base/clock.hpp"
#include "base/error.hpp"
#include "bus/message.hpp"

namespace kedge::cloud::edgecontroller {

using ObjectPtr = std::shared_ptr<const boost::json::object>;

// The Kubernetes types the edge controller sends downstream, by wire type.
inline constexpr std::string_view kDownstreamTypes[] = {"pod",  "configmap", "secret",
                                                        "node", "service",   "endpoints"};
bool is_downstream_type(std::string_view type);
bool is_cluster_scoped_type(std::string_view type);  // "node"
// "Pod", "ConfigMap", ... for the downstream types; "" otherwise.
std::string_view kind_of_type(std::string_view type);

// "<ns>/<type>/<name>", "null/node/<name>" from an informer cache key.
std::string resource_for_key(std::string_view type, std::string_view key);

// An insert/update/delete of obj; content is `content` when it is not null (share one encoded
// Content between nodes), otherwise obj serialized.
bus::Message object_message(std::string_view operation, std::string_view type,
                            const boost::json::object& obj, bus::Content content = {},
                            const Clock& clock = SystemClock::instance());
// A delete for an object the controller no longer has (resync): content is a minimal object
// {apiVersion, kind, metadata {name, namespace}} so that the edge can still decode it.
bus::Message delete_by_key(std::string_view type, std::string_view key,
                           const Clock& clock = SystemClock::instance());

// upstream's ObjectResp: {"Object": obj or null, "Err": null or {"ErrStatus": <Status>}}.
bus::Content object_resp(const boost::json::object* obj, const Error* err = nullptr,
                         std::string_view resource = {}, std::string_view name = {});

// Turns a request into the response the edge expects: parent = request msg_id, source
// edgecontroller, same group and resource, operation response (or error).
bus::Message reply(const bus::Message& request, bus::Content content, bool error = false,
                   const Clock& clock = SystemClock::instance());

}  // namespace kedge::cloud::edgecontroller
