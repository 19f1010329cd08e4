// Placeholder: helper M owns this file and replaces it with the preflight checks.
#include "keadm/preflight.hpp"
