#pragma once
// The edge-driven resync (hub/inventory.hpp): what a node should have (ExpectedSet, built from
// the informer stores) against what it says it has (hub::Inventory) gives exactly the inserts,
// updates and deletes that bring it level. Pure: no client, no executor.

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "cloud/edgecontroller/messages.hpp"
#include "hub/inventory.hpp"

namespace kedge::cloud::edgecontroller {

// wire type -> cache key -> object: everything one node should store.
using ExpectedSet =
    std::map<std::string, std::map<std::string, ObjectPtr, std::less<>>, std::less<>>;

struct DeltaObject {
    std::string type;
    ObjectPtr object;
};
struct DeltaDelete {
    std::string type;
    std::string key;
};

// The messages a resync sends, before the closing response.
struct ResyncDelta {
    std::vector<DeltaObject> inserts;  // expected, absent from the inventory
    std::vector<DeltaObject> updates;  // present with another resourceVersion
    std::vector<DeltaDelete> deletes;  // in the inventory, no longer expected
    std::uint64_t unchanged = 0;

    hub::ResyncSummary summary() const {
        return {inserts.size(), updates.size(), deletes.size(), unchanged};
    }
};

// Types in the inventory that the edge controller does not send (devices, ...) belong to other
// controllers and are left alone: only kDownstreamTypes are compared.
ResyncDelta compute_delta(const hub::Inventory& inventory, const ExpectedSet& expected);

// Everything in `expected` as inserts (a node that sent no inventory).
ResyncDelta full_delta(const ExpectedSet& expected);

std::size_t expected_size(const ExpectedSet& expected);

}  // namespace kedge::cloud::edgecontroller
