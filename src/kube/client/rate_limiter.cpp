#include "kube/client/rate_limiter.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <cmath>

namespace kedge::kube::client {

TokenBucket::TokenBucket(double qps, int burst, TimePoint now)
    : qps_(qps), burst_(std::max(1, burst)), tokens_(burst_), last_(now) {}

std::chrono::nanoseconds TokenBucket::reserve(TimePoint now) {
    if (qps_ <= 0) return std::chrono::nanoseconds(0);
    if (now > last_) {
        double elapsed = std::chrono::duration<double>(now - last_).count();
        tokens_ = std::min(burst_, tokens_ + elapsed * qps_);
        last_ = now;
    }
    tokens_ -= 1;
    if (tokens_ >= 0) return std::chrono::nanoseconds(0);
    return std::chrono::nanoseconds(std::llround(-tokens_ / qps_ * 1e9));
}

RateLimiter::RateLimiter(boost::asio::any_io_executor ex, double qps, int burst)
    : ex_(std::move(ex)), bucket_(qps, burst, std::chrono::steady_clock::now()) {}

boost::asio::awaitable<void> RateLimiter::acquire() {
    std::chrono::nanoseconds wait;
    {
        std::lock_guard lock(mu_);
        wait = bucket_.reserve(std::chrono::steady_clock::now());
    }
    if (wait.count() <= 0) co_return;
    boost::asio::steady_timer timer(ex_, wait);
    // A cancelled wait (executor shutting down) just lets the request through.
    co_await timer.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
}

}  // namespace kedge::kube::client
