#pragma once
// `keadm reset edge`: stops edgecore and removes what `keadm join` created under the root dir.
// The contract between run_reset (reset.cpp) and the edge half (reset_edge.cpp).

#include "keadm/keadm.hpp"

namespace kedge::keadm {

// Returns the command's exit code (0 ok, 1 failure).
int reset_edge(const ResetOptions& options);

}  // namespace kedge::keadm
