// Placeholder: helper M owns this file and replaces it with the edge half of `keadm reset`.
#include <iostream>

#include "keadm/reset_edge.hpp"

namespace kedge::keadm {

int reset_edge(const ResetOptions&) {
    std::cerr << "keadm reset edge: not implemented yet\n";
    return 1;
}

}  // namespace kedge::keadm
