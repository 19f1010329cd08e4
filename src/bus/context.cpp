#include "bus/context.hpp"

#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <deque>
#include <map>
#include <mutex>
#include <unordered_map>

#include "base/log.hpp"
#include "base/uuid.hpp"

namespace kedge::bus {

namespace asio = boost::asio;

namespace {

// A suspended receive() or request(), type-erased so the queues can hold any handler.
class Waiter {
  public:
    virtual ~Waiter() = default;
    // Posts the completion to the handler's executor; called at most once, without a lock.
    virtual void complete(Result<Message> result) = 0;
};

template <class Handler>
class HandlerWaiter final : public Waiter {
  public:
    explicit HandlerWaiter(Handler h)
        : handler_(std::move(h)),
          work_(asio::make_work_guard(asio::get_associated_executor(handler_))) {}

    void complete(Result<Message> result) override {
        auto ex = asio::get_associated_executor(handler_);
        asio::post(ex, [h = std::move(handler_), r = std::move(result),
                        work = std::move(work_)]() mutable {
            // The slot is only touched on the handler's executor; after this the cancellation
            // handler we installed can no longer run.
            asio::get_associated_cancellation_slot(h).clear();
            std::move(h)(std::move(r));
        });
    }

  private:
    Handler handler_;
    asio::executor_work_guard<asio::associated_executor_t<Handler>> work_;
};

template <class Handler>
std::unique_ptr<Waiter> make_waiter(Handler&& h) {
    return std::make_unique<HandlerWaiter<std::decay_t<Handler>>>(std::forward<Handler>(h));
}

Error closed_error() { return Error(errc::closed, "the message bus is shut down"); }
Error aborted_error(std::string_view what) {
    return Error(asio::error::operation_aborted, std::string(what) + " cancelled");
}

struct Queue {
    std::string group;
    std::size_t capacity = 0;
    std::deque<Message> items;
    std::deque<std::pair<std::uint64_t, std::unique_ptr<Waiter>>> waiters;
};

struct Registered {
    std::shared_ptr<Module> module;
    std::string name;
    std::string group;
    bool enabled = false;
    bool started = false;
};

struct Pending {
    std::unique_ptr<Waiter> waiter;
    std::uint64_t serial = 0;
    std::shared_ptr<asio::steady_timer> timer;
};

}  // namespace

struct Context::Impl : std::enable_shared_from_this<Context::Impl> {
    Impl(asio::any_io_executor ex, ContextOptions opts)
        : executor(std::move(ex)),
          timer_strand(executor),
          options(opts),
          log(kedge::log::get("bus")) {}

    asio::any_io_executor executor;
    // Every timer operation runs here, so timers never need their own lock.
    asio::strand<asio::any_io_executor> timer_strand;
    ContextOptions options;
    std::shared_ptr<spdlog::logger> log;

    mutable std::mutex mu;
    bool closed = false;
    bool modules_stopped = false;
    std::uint64_t next_serial = 1;
    std::map<std::string, Queue, std::less<>> queues;
    std::vector<Registered> modules;
    std::unordered_map<std::string, Pending> pending;

    // Needs mu. Null with err set when module has no queue.
    Queue* find_queue(std::string_view module, Error& err) {
        auto it = queues.find(module);
        if (it != queues.end()) return &it->second;
        bool disabled = false;
        for (const auto& r : modules)
            if (r.name == module) disabled = true;
        err = Error(errc::not_found, disabled ? "module \"" + std::string(module) + "\" is disabled"
                                              : "no module named \"" + std::string(module) + "\"");
        return nullptr;
    }

    Result<void> send(std::string_view module, Message msg) {
        std::unique_ptr<Waiter> waiter;
        {
            std::lock_guard lock(mu);
            if (closed) return closed_error();
            Error err;
            Queue* q = find_queue(module, err);
            if (!q) return err;
            if (!q->waiters.empty()) {
                waiter = std::move(q->waiters.front().second);
                q->waiters.pop_front();
            } else if (q->items.size() >= q->capacity) {
                return Error(errc::queue_full, "queue of module \"" + std::string(module) +
                                                   "\" is full (" + std::to_string(q->capacity) +
                                                   " messages)");
            } else {
                q->items.push_back(std::move(msg));
                return {};
            }
        }
        waiter->complete(std::move(msg));
        return {};
    }

    // A queued message, or an error that makes waiting pointless; nullopt means wait.
    std::optional<Result<Message>> try_pop(std::string_view module) {
        std::lock_guard lock(mu);
        if (closed) return Result<Message>(closed_error());
        Error err;
        Queue* q = find_queue(module, err);
        if (!q) return Result<Message>(err);
        if (q->items.empty()) return std::nullopt;
        Message m = std::move(q->items.front());
        q->items.pop_front();
        return Result<Message>(std::move(m));
    }

    template <class Handler>
    void start_receive(Handler&& handler, std::string module) {
        std::uint64_t serial = 0;
        {
            std::lock_guard lock(mu);
            serial = next_serial++;
        }
        // Installed before the waiter becomes visible to other threads (see HandlerWaiter).
        auto slot = asio::get_associated_cancellation_slot(handler);
        if (slot.is_connected()) {
            slot.assign([weak = weak_from_this(), module, serial](asio::cancellation_type_t) {
                if (auto self = weak.lock()) self->cancel_receive(module, serial);
            });
        }
        auto waiter = make_waiter(std::forward<Handler>(handler));
        std::optional<Result<Message>> now;
        {
            std::lock_guard lock(mu);
            Error err;
            Queue* q = closed ? nullptr : find_queue(module, err);
            if (closed) {
                now = Result<Message>(closed_error());
            } else if (!q) {
                now = Result<Message>(err);
            } else if (!q->items.empty()) {
                now = Result<Message>(std::move(q->items.front()));
                q->items.pop_front();
            } else {
                q->waiters.emplace_back(serial, std::move(waiter));
            }
        }
        if (now) waiter->complete(std::move(*now));
    }

    void cancel_receive(const std::string& module, std::uint64_t serial) {
        std::unique_ptr<Waiter> waiter;
        {
            std::lock_guard lock(mu);
            auto it = queues.find(module);
            if (it == queues.end()) return;
            auto& ws = it->second.waiters;
            for (auto w = ws.begin(); w != ws.end(); ++w) {
                if (w->first == serial) {
                    waiter = std::move(w->second);
                    ws.erase(w);
                    break;
                }
            }
        }
        if (waiter) waiter->complete(aborted_error("receive"));
    }

    template <class Handler>
    void start_request(Handler&& handler, std::string module, Message msg,
                       std::chrono::milliseconds timeout) {
        std::string id = msg.header.msg_id;
        std::uint64_t serial = 0;
        {
            std::lock_guard lock(mu);
            serial = next_serial++;
        }
        auto slot = asio::get_associated_cancellation_slot(handler);
        if (slot.is_connected()) {
            slot.assign([weak = weak_from_this(), id, serial](asio::cancellation_type_t) {
                if (auto self = weak.lock())
                    self->finish_request(id, serial, aborted_error("request"));
            });
        }
        auto waiter = make_waiter(std::forward<Handler>(handler));
        std::optional<Error> err;
        {
            std::lock_guard lock(mu);
            if (closed) {
                err = closed_error();
            } else if (pending.count(id)) {
                err = Error(errc::already_exists, "a request with msg_id " + id + " is pending");
            } else {
                // Registered before the send: the responder may answer on another thread at
                // once.
                pending.emplace(id, Pending{std::move(waiter), serial, nullptr});
            }
        }
        if (err) {
            waiter->complete(std::move(*err));
            return;
        }
        if (auto sent = send(module, std::move(msg)); !sent) {
            finish_request(id, serial, sent.error());
            return;
        }
        asio::post(timer_strand, [self = shared_from_this(), id, serial, timeout] {
            std::shared_ptr<asio::steady_timer> timer;
            {
                std::lock_guard lock(self->mu);
                auto it = self->pending.find(id);
                if (it == self->pending.end() || it->second.serial != serial) return;
                timer = std::make_shared<asio::steady_timer>(self->timer_strand, timeout);
                it->second.timer = timer;
            }
            timer->async_wait([self, id, serial, timeout](boost::system::error_code ec) {
                if (ec) return;  // cancelled: the request finished another way
                self->finish_request(
                    id, serial,
                    Error(errc::timeout, "no response to request " + id + " within " +
                                             std::to_string(timeout.count()) + " ms"));
            });
        });
    }

    // Removes the pending request (if it is still the one identified by serial) and completes
    // it with result. Returns whether it was pending.
    bool finish_request(const std::string& id, std::uint64_t serial, Result<Message> result) {
        Pending p;
        {
            std::lock_guard lock(mu);
            auto it = pending.find(id);
            if (it == pending.end() || (serial != 0 && it->second.serial != serial)) return false;
            p = std::move(it->second);
            pending.erase(it);
        }
        if (p.timer) asio::post(timer_strand, [t = p.timer] { t->cancel(); });
        p.waiter->complete(std::move(result));
        return true;
    }

    void shutdown() {
        std::vector<std::unique_ptr<Waiter>> waiters;
        std::vector<std::shared_ptr<asio::steady_timer>> timers;
        std::vector<std::shared_ptr<Module>> to_stop;
        std::size_t dropped = 0;
        {
            std::lock_guard lock(mu);
            if (!closed) {
                closed = true;
                for (auto& [name, q] : queues) {
                    dropped += q.items.size();
                    q.items.clear();
                    for (auto& w : q.waiters) waiters.push_back(std::move(w.second));
                    q.waiters.clear();
                }
                for (auto& [id, p] : pending) {
                    waiters.push_back(std::move(p.waiter));
                    if (p.timer) timers.push_back(std::move(p.timer));
                }
                pending.clear();
            }
            if (!modules_stopped) {
                modules_stopped = true;
                for (auto it = modules.rbegin(); it != modules.rend(); ++it)
                    if (it->started) to_stop.push_back(it->module);
            }
        }
        if (dropped) log->debug("shutdown discarded {} queued messages", dropped);
        for (auto& w : waiters) w->complete(closed_error());
        for (auto& t : timers) asio::post(timer_strand, [t] { t->cancel(); });
        for (auto& m : to_stop) m->stop();
    }
};

Context::Context(asio::any_io_executor executor, ContextOptions options)
    : impl_(std::make_shared<Impl>(std::move(executor), options)) {}

Context::~Context() { impl_->shutdown(); }

Result<void> Context::add_module(std::shared_ptr<Module> module, bool enabled) {
    if (!module) return Error(errc::invalid_argument, "add_module: null module");
    std::string name = module->name();
    std::string group = module->group();
    if (name.empty()) return Error(errc::invalid_argument, "add_module: module without a name");
    std::lock_guard lock(impl_->mu);
    if (impl_->closed) return closed_error();
    for (const auto& r : impl_->modules)
        if (r.name == name)
            return Error(errc::already_exists, "module \"" + name + "\" is already registered");
    if (enabled) {
        Queue q;
        q.group = group;
        q.capacity = impl_->options.queue_capacity;
        impl_->queues.emplace(name, std::move(q));
    }
    impl_->modules.push_back(Registered{std::move(module), name, group, enabled, false});
    impl_->log->debug("module {} (group {}) registered, {}", name, group,
                      enabled ? "enabled" : "disabled");
    return {};
}

void Context::start_modules() {
    std::vector<std::shared_ptr<Module>> to_start;
    {
        std::lock_guard lock(impl_->mu);
        if (impl_->closed) return;
        for (auto& r : impl_->modules) {
            if (r.enabled && !r.started) {
                r.started = true;
                to_start.push_back(r.module);
            }
        }
    }
    for (auto& m : to_start) {
        impl_->log->info("starting module {}", m->name());
        m->start(*this);
    }
}

bool Context::is_registered(std::string_view module) const {
    std::lock_guard lock(impl_->mu);
    for (const auto& r : impl_->modules)
        if (r.name == module) return true;
    return false;
}

bool Context::is_enabled(std::string_view module) const {
    std::lock_guard lock(impl_->mu);
    return impl_->queues.find(module) != impl_->queues.end();
}

std::vector<std::string> Context::enabled_modules() const {
    std::lock_guard lock(impl_->mu);
    std::vector<std::string> names;
    for (const auto& r : impl_->modules)
        if (r.enabled) names.push_back(r.name);
    return names;
}

Result<void> Context::send(std::string_view module, Message msg) {
    return impl_->send(module, std::move(msg));
}

Result<GroupSendReport> Context::send_to_group(std::string_view group, const Message& msg) {
    std::vector<std::string> members;
    {
        std::lock_guard lock(impl_->mu);
        if (impl_->closed) return closed_error();
        for (const auto& r : impl_->modules)
            if (r.enabled && r.group == group) members.push_back(r.name);
    }
    if (members.empty())
        return Error(errc::not_found, "no enabled module in group \"" + std::string(group) + "\"");
    GroupSendReport report;
    for (auto& name : members) {
        if (auto r = impl_->send(name, msg); r) {
            report.delivered.push_back(std::move(name));
        } else {
            report.failed.emplace_back(std::move(name), r.error());
        }
    }
    return report;
}

asio::awaitable<Result<Message>> Context::receive(std::string module) {
    auto impl = impl_;
    if (auto now = impl->try_pop(module)) co_return std::move(*now);
    co_return co_await asio::async_initiate<const asio::use_awaitable_t<>&, void(Result<Message>)>(
        [impl](auto handler, std::string name) {
            impl->start_receive(std::move(handler), std::move(name));
        },
        asio::use_awaitable, std::move(module));
}

std::optional<Message> Context::try_receive(std::string_view module) {
    auto r = impl_->try_pop(module);
    if (!r || !*r) return std::nullopt;
    return std::move(**r);
}

asio::awaitable<Result<Message>> Context::request(std::string module, Message msg,
                                                  std::chrono::milliseconds timeout) {
    auto impl = impl_;
    if (msg.header.msg_id.empty()) msg.header.msg_id = new_uuid();
    msg.header.sync = true;
    if (timeout.count() <= 0) timeout = impl->options.request_timeout;
    co_return co_await asio::async_initiate<const asio::use_awaitable_t<>&, void(Result<Message>)>(
        [impl](auto handler, std::string name, Message m, std::chrono::milliseconds t) {
            impl->start_request(std::move(handler), std::move(name), std::move(m), t);
        },
        asio::use_awaitable, std::move(module), std::move(msg), timeout);
}

bool Context::send_response(Message response) {
    std::string parent = response.header.parent_msg_id;
    if (parent.empty()) {
        impl_->log->debug("send_response: message {} has no parent_msg_id", response.header.msg_id);
        return false;
    }
    if (impl_->finish_request(parent, 0, std::move(response))) return true;
    impl_->log->debug(
        "response to {} matches no pending request (timed out or not a request); "
        "dropped",
        parent);
    return false;
}

void Context::shutdown() { impl_->shutdown(); }

bool Context::is_shut_down() const {
    std::lock_guard lock(impl_->mu);
    return impl_->closed;
}

std::size_t Context::queue_size(std::string_view module) const {
    std::lock_guard lock(impl_->mu);
    auto it = impl_->queues.find(module);
    return it == impl_->queues.end() ? 0 : it->second.items.size();
}

std::size_t Context::pending_requests() const {
    std::lock_guard lock(impl_->mu);
    return impl_->pending.size();
}

const ContextOptions& Context::options() const { return impl_->options; }

asio::any_io_executor Context::get_executor() const { return impl_->executor; }

}  // namespace kedge::bus
