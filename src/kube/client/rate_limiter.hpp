#pragma once
// Client-side request rate limiting (client-go's QPS/Burst). Internal to kube_client.

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <mutex>

namespace kedge::kube::client {

// A token bucket that hands out reservations: each request takes one token now, possibly
// driving the balance negative, and is told how long to wait for its token to exist. Waiters
// are thus served in arrival order without a queue. Pure (the caller supplies the time).
class TokenBucket {
public:
    using TimePoint = std::chrono::steady_clock::time_point;
    // qps <= 0 disables limiting; burst < 1 counts as 1.
    TokenBucket(double qps, int burst, TimePoint now);
    // How long the caller must wait before sending (zero when a token is available).
    std::chrono::nanoseconds reserve(TimePoint now);
    bool enabled() const { return qps_ > 0; }

private:
    double qps_;
    double burst_;
    double tokens_;
    TimePoint last_;
};

// TokenBucket plus the waiting, on a timer of the client's executor. Never fails.
class RateLimiter {
public:
    RateLimiter(boost::asio::any_io_executor ex, double qps, int burst);
    boost::asio::awaitable<void> acquire();

private:
    boost::asio::any_io_executor ex_;
    std::mutex mu_;  // the bucket only; never held across a wait
    TokenBucket bucket_;
};

}  // namespace kedge::kube::client
