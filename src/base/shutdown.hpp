#pragma once
// Graceful shutdown in two phases, started by SIGINT/SIGTERM or request_stop(): phase 1 "stop
// accepting" (listeners close, modules stop taking work), phase 2 "drain and close" (cancel,
// flush, close connections). Each phase has a deadline; hooks still running when it passes are
// logged, sent a terminal cancellation and left behind. After the last phase the io_context is
// stopped. A second signal stops the io_context at once.

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace boost::asio {
class io_context;
}

namespace kedge {

enum class ShutdownPhase {
    kStopAccepting,  // phase 1
    kDrain,          // phase 2
};

// Owns the signal handlers and the stop hooks of one io_context. Create it before run(), keep it
// alive until run() has returned, and destroy it before the io_context. Hooks run on the
// io_context; a plain hook must not block (it cannot be interrupted), a coroutine hook should
// honour cancellation.
class ShutdownController {
public:
    using Hook = std::function<void()>;
    using AsyncHook = std::function<boost::asio::awaitable<void>()>;

    struct Options {
        std::chrono::milliseconds stop_accepting_deadline{std::chrono::seconds(5)};
        std::chrono::milliseconds drain_deadline{std::chrono::seconds(15)};
        bool handle_signals = true;   // install SIGINT and SIGTERM handlers
        bool stop_io_context = true;  // call io_context::stop() when done or forced
    };

    explicit ShutdownController(boost::asio::io_context& ioc);
    ShutdownController(boost::asio::io_context& ioc, Options options);
    ~ShutdownController();
    ShutdownController(const ShutdownController&) = delete;
    ShutdownController& operator=(const ShutdownController&) = delete;

    // Hooks of one phase run in registration order: plain hooks inline, coroutine hooks
    // concurrently, all under the phase's deadline. name appears in the logs. Thread-safe; a hook
    // added after its phase has started is not run.
    void add_hook(ShutdownPhase phase, std::string name, Hook hook);
    void add_async_hook(ShutdownPhase phase, std::string name, AsyncHook hook);

    // Starts the shutdown (once; later calls only log). Thread-safe.
    void request_stop(std::string reason);
    // Stops the io_context now, skipping whatever is left of the phases. Thread-safe.
    void force_stop(std::string reason);

    bool stop_requested() const noexcept;
    // Every phase has ended (hooks finished or their deadline passed).
    bool finished() const noexcept;
    // force_stop() or a second signal cut the shutdown short.
    bool forced() const noexcept;
    // Names of hooks that were still running when their phase's deadline passed.
    std::vector<std::string> overran_hooks() const;

    struct Impl;

private:
    std::shared_ptr<Impl> impl_;
};

}  // namespace kedge
