// Placeholder: helper M owns this file and replaces it with `keadm debug check`.
#include <iostream>

#include "keadm/keadm.hpp"

namespace kedge::keadm {

int run_debug_check(const DebugCheckOptions&) {
    std::cerr << "keadm debug check: not implemented yet\n";
    return 1;
}

}  // namespace kedge::keadm
