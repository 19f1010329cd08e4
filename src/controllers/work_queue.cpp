#include "controllers/work_queue.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <exception>
#include <list>

#include "base/log.hpp"

namespace kedge::controllers {

namespace asio = boost::asio;

// Waiting get() calls park on a timer that never expires by itself; add() cancels one to wake
// it. Delayed adds are timers too, kept so shutdown() can cancel them.
struct WorkQueue::Impl {
    std::list<std::shared_ptr<asio::steady_timer>> waiters;
    std::list<std::shared_ptr<asio::steady_timer>> delayed;
};

std::shared_ptr<WorkQueue> WorkQueue::make(asio::any_io_executor ex, std::string name,
                                           WorkQueueOptions options) {
    return std::make_shared<WorkQueue>(std::move(ex), std::move(name), options);
}

WorkQueue::WorkQueue(asio::any_io_executor ex, std::string name, WorkQueueOptions options)
    : ex_(std::move(ex)), name_(std::move(name)), options_(options),
      impl_(std::make_shared<Impl>()) {}

WorkQueue::~WorkQueue() = default;

void WorkQueue::add(std::string key) {
    if (shut_down_ || queued_.contains(key)) return;
    if (processing_.contains(key)) {
        // Handed out right now: run it again once the current sync is done.
        dirty_.insert(std::move(key));
        return;
    }
    queued_.insert(key);
    queue_.push_back(std::move(key));
    while (!impl_->waiters.empty()) {
        auto t = impl_->waiters.front();
        impl_->waiters.pop_front();
        t->cancel();
        break;
    }
}

void WorkQueue::add_after(std::string key, std::chrono::milliseconds delay) {
    if (shut_down_) return;
    if (delay.count() <= 0) {
        add(std::move(key));
        return;
    }
    auto timer = std::make_shared<asio::steady_timer>(ex_, delay);
    impl_->delayed.push_back(timer);
    auto it = std::prev(impl_->delayed.end());
    std::weak_ptr<WorkQueue> weak = weak_from_this();
    timer->async_wait([weak, it, key = std::move(key)](boost::system::error_code ec) mutable {
        auto self = weak.lock();
        if (!self) return;
        self->impl_->delayed.erase(it);
        if (!ec) self->add(std::move(key));
    });
}

void WorkQueue::add_rate_limited(std::string key) {
    int& failures = failures_[key];
    auto delay = options_.base_delay;
    for (int i = 0; i < failures && delay < options_.max_delay; ++i) delay *= 2;
    if (delay > options_.max_delay) delay = options_.max_delay;
    ++failures;
    add_after(std::move(key), delay);
}

void WorkQueue::forget(std::string_view key) {
    if (auto it = failures_.find(key); it != failures_.end()) failures_.erase(it);
}

asio::awaitable<std::optional<std::string>> WorkQueue::get() {
    auto self = shared_from_this();
    for (;;) {
        if (shut_down_) co_return std::nullopt;
        if (!queue_.empty()) {
            std::string key = std::move(queue_.front());
            queue_.pop_front();
            queued_.erase(key);
            processing_.insert(key);
            co_return key;
        }
        auto timer = std::make_shared<asio::steady_timer>(ex_, asio::steady_timer::time_point::max());
        impl_->waiters.push_back(timer);
        co_await timer->async_wait(asio::as_tuple(asio::use_awaitable));
        impl_->waiters.remove(timer);
    }
}

void WorkQueue::done(std::string_view key) {
    auto it = processing_.find(key);
    if (it == processing_.end()) return;
    std::string k = *it;
    processing_.erase(it);
    if (auto d = dirty_.find(k); d != dirty_.end()) {
        dirty_.erase(d);
        add(std::move(k));
    }
}

void WorkQueue::shutdown() {
    shut_down_ = true;
    for (auto& t : impl_->waiters) t->cancel();
    impl_->waiters.clear();
    for (auto& t : impl_->delayed) t->cancel();
}

void run_workers(asio::any_io_executor ex, std::shared_ptr<WorkQueue> q, SyncFunc sync,
                 int workers, std::string log_component) {
    auto shared_sync = std::make_shared<SyncFunc>(std::move(sync));
    for (int i = 0; i < std::max(workers, 1); ++i) {
        asio::co_spawn(
            ex,
            [q, shared_sync, log_component]() -> asio::awaitable<void> {
                auto log = log::get(log_component);
                while (auto key = co_await q->get()) {
                    Result<void> r;
                    try {
                        r = co_await (*shared_sync)(*key);
                    } catch (const std::exception& e) {
                        r = Error(errc::internal, std::string("sync threw: ") + e.what());
                    }
                    if (r) {
                        q->forget(*key);
                    } else {
                        // Conflicts are the normal price of optimistic concurrency.
                        if (r.error().is(errc::conflict) || r.error().is(errc::not_found))
                            log->debug("{} {}: {} (retrying)", q->name(), *key,
                                       r.error().message());
                        else
                            log->warn("{} {}: {} (retrying)", q->name(), *key,
                                      r.error().message());
                        q->add_rate_limited(*key);
                    }
                    q->done(*key);
                }
            },
            asio::detached);
    }
}

}  // namespace kedge::controllers
