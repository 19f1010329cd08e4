#include "base/clock.hpp"

namespace kedge {

const SystemClock& SystemClock::instance() {
    static const SystemClock clock;
    return clock;
}

}  // namespace kedge
