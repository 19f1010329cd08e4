#pragma once
// Reads the server's discovery documents (GET /api/v1, /apis, /apis/<group>/<version>) through
// the client, so the garbage collector and the namespace controller follow every type the
// server serves, custom resources included.

#include <boost/asio/awaitable.hpp>

#include <memory>
#include <string>
#include <vector>

#include "base/error.hpp"
#include "controllers/gc/gc_logic.hpp"
#include "kube/client/client.hpp"

namespace kedge::controllers::gc {

// What the server serves now. A group version that could not be read is listed in failed;
// the rest is still usable.
struct Discovery {
    std::vector<DiscoveredResource> resources;
    std::vector<std::string> failed;
};

// An error only when /api/v1 or /apis itself cannot be read.
boost::asio::awaitable<Result<Discovery>> discover(std::shared_ptr<kube::client::Client> client);

}  // namespace kedge::controllers::gc
