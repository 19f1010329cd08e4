#include "net/backoff.hpp"

#include <algorithm>

namespace kedge::net {
namespace {

// Options come from config; keep the arithmetic sane whatever they say.
BackoffOptions sanitize(BackoffOptions o) {
    if (o.initial.count() < 0) o.initial = std::chrono::milliseconds(0);
    if (o.max < o.initial) o.max = o.initial;
    if (!(o.multiplier >= 1.0)) o.multiplier = 1.0;  // also catches NaN
    return o;
}

}  // namespace

Backoff::Backoff(BackoffOptions options, std::uint64_t seed)
    : options_(sanitize(options)), rng_(seed) {
    reset();
}

void Backoff::reset() {
    attempts_ = 0;
    ceiling_ms_ = static_cast<double>(options_.initial.count());
    previous_ms_ = ceiling_ms_;
}

std::chrono::milliseconds Backoff::next() {
    const double max_ms = static_cast<double>(options_.max.count());
    const double initial_ms = static_cast<double>(options_.initial.count());
    double delay = 0;
    switch (options_.jitter) {
        case Jitter::none:
            delay = ceiling_ms_;
            break;
        case Jitter::full:
            delay = std::uniform_real_distribution<double>(0.0, ceiling_ms_)(rng_);
            break;
        case Jitter::decorrelated: {
            double hi = std::min(max_ms, std::max(initial_ms, previous_ms_ * options_.multiplier));
            delay = hi > initial_ms ? std::uniform_real_distribution<double>(initial_ms, hi)(rng_)
                                    : initial_ms;
            previous_ms_ = delay;
            break;
        }
    }
    ceiling_ms_ = std::min(max_ms, ceiling_ms_ * options_.multiplier);
    ++attempts_;
    delay = std::clamp(delay, 0.0, max_ms);
    return std::chrono::milliseconds(static_cast<std::int64_t>(delay));
}

}  // namespace kedge::net
