#include "base/shutdown.hpp"

#include "base/log.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <atomic>
#include <csignal>
#include <exception>
#include <mutex>

namespace kedge {

namespace asio = boost::asio;
using Strand = asio::strand<asio::io_context::executor_type>;

namespace {

struct HookEntry {
    std::string name;
    ShutdownController::Hook sync;
    ShutdownController::AsyncHook async;
};

const char* phase_name(ShutdownPhase p) {
    return p == ShutdownPhase::kStopAccepting ? "1/2 stop accepting" : "2/2 drain and close";
}

std::string signal_name(int signo) {
    switch (signo) {
        case SIGINT: return "SIGINT";
        case SIGTERM: return "SIGTERM";
        default: return "signal " + std::to_string(signo);
    }
}

long long millis(std::chrono::steady_clock::duration d) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
}

}  // namespace

struct ShutdownController::Impl : std::enable_shared_from_this<Impl> {
    Impl(asio::io_context& io, Options opts)
        : ioc(io), options(opts), strand(asio::make_strand(io)), log(log::get("shutdown")) {}

    asio::io_context& ioc;
    Options options;
    Strand strand;
    std::shared_ptr<spdlog::logger> log;
    std::unique_ptr<asio::signal_set> signals;

    mutable std::mutex mutex;
    std::vector<std::shared_ptr<HookEntry>> hooks[2];
    int started_phases = 0;  // phases whose hook list has been taken
    std::vector<std::string> overran;

    std::atomic<bool> requested{false};  // set at once by request_stop() and signals
    std::atomic<bool> started{false};    // the phase sequence has been spawned
    std::atomic<bool> done{false};
    std::atomic<bool> was_forced{false};

    void wait_for_signal() {
        signals->async_wait(asio::bind_executor(
            strand, [weak = weak_from_this()](boost::system::error_code ec, int signo) {
                auto self = weak.lock();
                if (ec || !self) return;
                if (self->requested.load()) {
                    self->force("second " + signal_name(signo));
                } else {
                    self->start("received " + signal_name(signo));
                }
                if (self->signals) self->wait_for_signal();
            }));
    }

    // Runs on the strand.
    void start(std::string reason) {
        requested = true;
        if (started.exchange(true)) {
            log->info("shutdown already in progress; ignoring request ({})", reason);
            return;
        }
        asio::co_spawn(strand, run_phases(shared_from_this(), std::move(reason)),
                       [logger = log](std::exception_ptr e) {
                           if (!e) return;
                           try {
                               std::rethrow_exception(e);
                           } catch (const std::exception& ex) {
                               logger->error("shutdown sequence failed: {}", ex.what());
                           }
                       });
    }

    void force(const std::string& reason) {
        was_forced = true;
        requested = true;
        log->warn("{}: stopping now without finishing the shutdown", reason);
        if (options.stop_io_context) ioc.stop();
    }

    std::vector<std::shared_ptr<HookEntry>> take_hooks(ShutdownPhase phase) {
        std::lock_guard lock(mutex);
        started_phases = static_cast<int>(phase) + 1;
        return hooks[static_cast<int>(phase)];
    }

    static asio::awaitable<void> run_phases(std::shared_ptr<Impl> self, std::string reason) {
        auto begin = std::chrono::steady_clock::now();
        self->log->info("shutting down: {}", reason);
        co_await run_phase(self, ShutdownPhase::kStopAccepting,
                           self->options.stop_accepting_deadline);
        co_await run_phase(self, ShutdownPhase::kDrain, self->options.drain_deadline);
        self->done = true;
        self->log->info("shutdown finished in {} ms",
                        millis(std::chrono::steady_clock::now() - begin));
        if (self->options.stop_io_context) self->ioc.stop();
    }

    // Shared between a phase and the completion handlers of its coroutine hooks (on the strand).
    struct PhaseState {
        explicit PhaseState(Strand s, std::size_t n) : timer(s), finished(n, false), signals(n) {}
        asio::steady_timer timer;
        std::size_t running = 0;
        std::vector<bool> finished;
        std::vector<asio::cancellation_signal> signals;
    };

    static asio::awaitable<void> run_phase(std::shared_ptr<Impl> self, ShutdownPhase phase,
                                           std::chrono::milliseconds limit) {
        auto hooks = self->take_hooks(phase);
        auto& log = *self->log;
        auto begin = std::chrono::steady_clock::now();
        auto deadline = begin + limit;
        log.info("phase {}: {} hook(s), deadline {} ms", phase_name(phase), hooks.size(),
                 limit.count());
        auto state = std::make_shared<PhaseState>(self->strand, hooks.size());
        for (std::size_t i = 0; i < hooks.size(); ++i) {
            const auto& hook = *hooks[i];
            if (hook.sync) {
                run_sync(self, hook, begin, limit);
                state->finished[i] = true;
                continue;
            }
            ++state->running;
            asio::co_spawn(
                self->ioc, hook.async,
                asio::bind_cancellation_slot(
                    state->signals[i].slot(),
                    asio::bind_executor(self->strand, [state, i, name = hook.name,
                                                       log = self->log](std::exception_ptr e) {
                        if (e) {
                            try {
                                std::rethrow_exception(e);
                            } catch (const std::exception& ex) {
                                log->error("stop hook '{}' failed: {}", name, ex.what());
                            } catch (...) {
                                log->error("stop hook '{}' failed", name);
                            }
                        }
                        state->finished[i] = true;
                        if (--state->running == 0) state->timer.cancel();
                    })));
        }
        if (state->running > 0) {
            state->timer.expires_at(deadline);
            co_await state->timer.async_wait(asio::as_tuple(asio::use_awaitable));
        }
        bool cancelled = false;
        for (std::size_t i = 0; i < hooks.size(); ++i) {
            if (state->finished[i]) continue;
            log.warn("stop hook '{}' overran the {} ms deadline of phase {}; cancelling it",
                     hooks[i]->name, limit.count(), phase_name(phase));
            {
                std::lock_guard lock(self->mutex);
                self->overran.push_back(hooks[i]->name);
            }
            state->signals[i].emit(asio::cancellation_type::terminal);
            cancelled = true;
        }
        // Let the cancelled hooks unwind (log, release resources) before the next phase starts.
        if (cancelled) co_await asio::post(self->strand, asio::use_awaitable);
        log.info("phase {} done in {} ms", phase_name(phase),
                 millis(std::chrono::steady_clock::now() - begin));
    }

    static void run_sync(const std::shared_ptr<Impl>& self, const HookEntry& hook,
                         std::chrono::steady_clock::time_point phase_begin,
                         std::chrono::milliseconds limit) {
        try {
            hook.sync();
        } catch (const std::exception& e) {
            self->log->error("stop hook '{}' failed: {}", hook.name, e.what());
        } catch (...) {
            self->log->error("stop hook '{}' failed", hook.name);
        }
        if (std::chrono::steady_clock::now() - phase_begin > limit) {
            self->log->warn("stop hook '{}' overran its phase's {} ms deadline (it blocked)",
                            hook.name, limit.count());
            std::lock_guard lock(self->mutex);
            self->overran.push_back(hook.name);
        }
    }
};

ShutdownController::ShutdownController(asio::io_context& ioc)
    : ShutdownController(ioc, Options{}) {}

ShutdownController::ShutdownController(asio::io_context& ioc, Options options)
    : impl_(std::make_shared<Impl>(ioc, options)) {
    if (options.handle_signals) {
        impl_->signals = std::make_unique<asio::signal_set>(ioc, SIGINT, SIGTERM);
        impl_->wait_for_signal();
    }
}

ShutdownController::~ShutdownController() {
    // Pending handlers hold only weak references, and the phase coroutines keep Impl alive on
    // their own; closing the signal_set restores the default signal dispositions.
    if (impl_->signals) {
        boost::system::error_code ignored;
        impl_->signals->cancel(ignored);
        impl_->signals.reset();
    }
}

void ShutdownController::add_hook(ShutdownPhase phase, std::string name, Hook hook) {
    auto entry = std::make_shared<HookEntry>(HookEntry{std::move(name), std::move(hook), {}});
    std::lock_guard lock(impl_->mutex);
    if (impl_->started_phases > static_cast<int>(phase)) {
        impl_->log->warn("stop hook '{}' added after its phase started; it will not run",
                         entry->name);
    }
    impl_->hooks[static_cast<int>(phase)].push_back(std::move(entry));
}

void ShutdownController::add_async_hook(ShutdownPhase phase, std::string name, AsyncHook hook) {
    auto entry = std::make_shared<HookEntry>(HookEntry{std::move(name), {}, std::move(hook)});
    std::lock_guard lock(impl_->mutex);
    if (impl_->started_phases > static_cast<int>(phase)) {
        impl_->log->warn("stop hook '{}' added after its phase started; it will not run",
                         entry->name);
    }
    impl_->hooks[static_cast<int>(phase)].push_back(std::move(entry));
}

void ShutdownController::request_stop(std::string reason) {
    impl_->requested = true;
    asio::post(impl_->strand, [weak = std::weak_ptr<Impl>(impl_), reason = std::move(reason)] {
        if (auto self = weak.lock()) self->start(reason);
    });
}

void ShutdownController::force_stop(std::string reason) {
    asio::post(impl_->strand, [weak = std::weak_ptr<Impl>(impl_), reason = std::move(reason)] {
        if (auto self = weak.lock()) self->force(reason);
    });
}

bool ShutdownController::stop_requested() const noexcept { return impl_->requested.load(); }
bool ShutdownController::finished() const noexcept { return impl_->done.load(); }
bool ShutdownController::forced() const noexcept { return impl_->was_forced.load(); }

std::vector<std::string> ShutdownController::overran_hooks() const {
    std::lock_guard lock(impl_->mutex);
    return impl_->overran;
}

}  // namespace kedge
