// Placeholder: helper M owns this file and replaces it with `keadm join`.
#include <iostream>

#include "keadm/keadm.hpp"

namespace kedge::keadm {

int run_join(const JoinOptions&) {
    std::cerr << "keadm join: not implemented yet\n";
    return 1;
}

}  // namespace kedge::keadm
