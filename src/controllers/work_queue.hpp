#pragma once
// The work queue of a controller, as client-go's: keys (usually "<ns>/<name>") rather than
// events, so a burst of changes to one object is handled once; a key being processed is not
// handed to a second worker, and a key added meanwhile is processed again afterwards; failed
// keys come back with per-key exponential back-off. Single-threaded: use from one executor.

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <cstddef>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>

#include "base/error.hpp"

namespace kedge::controllers {

struct WorkQueueOptions {
    std::chrono::milliseconds base_delay{5};    // first retry of a failing key
    std::chrono::milliseconds max_delay{30'000};  // back-off cap
};

class WorkQueue : public std::enable_shared_from_this<WorkQueue> {
  public:
    static std::shared_ptr<WorkQueue> make(boost::asio::any_io_executor ex, std::string name,
                                           WorkQueueOptions options = {});
    ~WorkQueue();

    void add(std::string key);
    void add_after(std::string key, std::chrono::milliseconds delay);
    // add_after with this key's back-off (doubling from base_delay up to max_delay).
    void add_rate_limited(std::string key);
    // Resets the key's back-off (after a successful sync).
    void forget(std::string_view key);
    // Next key to process; nullopt once shut down. Call done(key) when finished with it.
    boost::asio::awaitable<std::optional<std::string>> get();
    void done(std::string_view key);
    // Wakes every waiting get() with nullopt; later adds are ignored.
    void shutdown();

    std::size_t length() const { return queue_.size(); }
    const std::string& name() const { return name_; }

    WorkQueue(boost::asio::any_io_executor ex, std::string name, WorkQueueOptions options);

  private:
    struct Impl;
    boost::asio::any_io_executor ex_;
    std::string name_;
    WorkQueueOptions options_;
    std::deque<std::string> queue_;
    std::set<std::string, std::less<>> queued_, processing_, dirty_;
    std::map<std::string, int, std::less<>> failures_;
    std::shared_ptr<Impl> impl_;  // waiters and timers
    bool shut_down_ = false;
};

// Runs `workers` coroutines on ex that take keys from q and call sync(key). A sync that returns
// an error is logged (component log) and its key re-added with back-off; success forgets the
// key's back-off. They end when the queue shuts down.
using SyncFunc = std::function<boost::asio::awaitable<Result<void>>(std::string key)>;
void run_workers(boost::asio::any_io_executor ex, std::shared_ptr<WorkQueue> q, SyncFunc sync,
                 int workers, std::string log_component);

}  // namespace kedge::controllers
