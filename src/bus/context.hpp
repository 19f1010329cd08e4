#pragma once
// The in-process message bus (upstream beehive's context): a registry of modules, one bounded
// queue per enabled module, group fan-out, and request/response matched by parent_msg_id with
// a timeout. Every member function is thread-safe; waiting happens only in coroutines, and no
// lock is held across a suspension. Completions resume on the awaiting coroutine's executor.

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/error.hpp"
#include "bus/message.hpp"
#include "bus/module.hpp"

namespace kedge::bus {

// Bounds and defaults of a Context.
struct ContextOptions {
    // Messages a module's queue holds before send() fails with errc::queue_full.
    std::size_t queue_capacity = 1024;
    // Default timeout of request() (upstream's 30 s).
    std::chrono::milliseconds request_timeout{30'000};
};

// Outcome of send_to_group(): which modules got the message and which refused it, and why.
struct GroupSendReport {
    std::vector<std::string> delivered;
    std::vector<std::pair<std::string, Error>> failed;

    bool all_delivered() const { return failed.empty(); }
};

// One per process, bound to the executor that runs the request timers.
class Context {
  public:
    explicit Context(boost::asio::any_io_executor executor, ContextOptions options = {});
    // Calls shutdown().
    ~Context();
    Context(const Context&) = delete;
    Context& operator=(const Context&) = delete;

    // Registers a module (normally from config, at start-up). A disabled module is remembered
    // but gets no queue: sends to it fail with errc::not_found and it is never started.
    // already_exists when the name is taken, invalid_argument for an empty name.
    Result<void> add_module(std::shared_ptr<Module> module, bool enabled = true);
    // Calls start(*this) on every enabled module not started yet, in registration order.
    void start_modules();

    bool is_registered(std::string_view module) const;
    bool is_enabled(std::string_view module) const;
    // Names of the enabled modules, in registration order.
    std::vector<std::string> enabled_modules() const;

    // Queues msg for module. not_found (unknown or disabled module), queue_full (bounded queue
    // at capacity; the caller decides: retry, coalesce, or report), closed (after shutdown).
    // Never blocks and never drops silently.
    Result<void> send(std::string_view module, Message msg);
    // send() to every enabled module of group. not_found when the group has no enabled module;
    // otherwise the report lists per-module failures.
    Result<GroupSendReport> send_to_group(std::string_view group, const Message& msg);

    // The next message of module's queue, waiting when it is empty. closed after shutdown,
    // not_found for an unknown or disabled module, operation_aborted when the awaiting
    // operation is cancelled (e.g. by an awaitable operator ||).
    boost::asio::awaitable<Result<Message>> receive(std::string module);
    // The next message if one is queued (no waiting).
    std::optional<Message> try_receive(std::string_view module);

    // Sends msg (marked sync, given a msg_id when it has none) to module and waits for the
    // message passed to send_response() whose parent_msg_id is msg's msg_id. timeout when none
    // comes within timeout (zero means ContextOptions::request_timeout); the pending entry is
    // removed then, so a late response is dropped. Send errors are returned as they are.
    boost::asio::awaitable<Result<Message>> request(std::string module, Message msg,
                                                    std::chrono::milliseconds timeout = {});
    // Completes the pending request whose msg_id is response.parent_msg_id. False when there
    // is none (already timed out, or not a response to a request): the message is dropped
    // with a debug log, and the caller may route it elsewhere.
    bool send_response(Message response);

    // Closes every queue (queued messages are discarded), wakes receivers with closed, fails
    // pending requests with closed, then calls stop() on started modules in reverse order.
    // Idempotent.
    void shutdown();
    bool is_shut_down() const;

    // Introspection for metrics and tests.
    std::size_t queue_size(std::string_view module) const;
    std::size_t pending_requests() const;
    const ContextOptions& options() const;
    boost::asio::any_io_executor get_executor() const;

    struct Impl;

  private:
    std::shared_ptr<Impl> impl_;
};

}  // namespace kedge::bus
