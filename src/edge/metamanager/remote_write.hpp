#pragma once
// How a meta server write travels to the cloud and how the cloud's answer becomes an HTTP
// response (pure; no Asio). Pod and node status go as upstream's podpatch / nodepatch (a
// strategic-merge patch on the status subresource, the patch as a JSON string), everything else
// as insert / update / patch / delete of "<ns>/<type>/<name>"; the cloud authorizes it for this
// node as it does any upstream message.

#include <string>

#include "base/error.hpp"
#include "bus/message.hpp"
#include "edge/metaserver/meta_server.hpp"

namespace kedge::edge {

// invalid_argument when the body is not what the verb needs (e.g. create without a name).
Result<bus::Message> remote_write_message(const RemoteWrite& write, const std::string& node);

// A `response` with an object (or ObjectResp {"Object","Err"}) -> 200/201 and the object, or
// the Err's Status and code; "OK" -> 200 with the written object; an `error` -> a Status
// (403 for a denial, 404/409/400... from the cloud's error class, else 500).
RemoteResult remote_result(const RemoteWrite& write, const bus::Message& reply);

}  // namespace kedge::edge
