#include "kube/client/informer.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/serialize.hpp>

#include <atomic>
#include <mutex>
#include <random>
#include <unordered_set>

#include "base/log.hpp"
#include "kube/object.hpp"
#include "net/backoff.hpp"

namespace kedge::kube::client {

namespace asio = boost::asio;
namespace json = boost::json;
using asio::awaitable;
using asio::use_awaitable;

namespace {

using Clock = std::chrono::steady_clock;

// A watch that ends normally sooner than this without delivering anything is treated like a
// failure for pacing, so a server that closes watches at once is not hammered.
constexpr auto kShortWatch = std::chrono::seconds(1);

class InformerImpl final : public Informer {
public:
    InformerImpl(asio::any_io_executor ex, std::shared_ptr<Client> client, InformerOptions o)
        : ex_(std::move(ex)),
          client_(std::move(client)),
          options_(std::move(o)),
          sleep_timer_(ex_),
          resync_timer_(ex_),
          log_(log::get("kube.informer")),
          name_(options_.resource.resource +
                (options_.resource.group.empty() ? "" : "." + options_.resource.group)) {}

    void add_index(std::string name, IndexFunc f) override {
        store_.add_index(std::move(name), std::move(f));
    }

    void add_handlers(EventHandlers handlers) override {
        auto h = std::make_shared<const EventHandlers>(std::move(handlers));
        if (!started_.load()) {
            handlers_.push_back(std::move(h));
            return;
        }
        asio::dispatch(ex_, [self = self_ptr(), h] {
            self->handlers_.push_back(h);
            // Late joiners see the current state as adds, as client-go does.
            if (self->synced_.load() && h->on_add && !self->stopped_.load())
                for (const auto& obj : self->store_.list())
                    self->call(*h, [&](auto& x) { x.on_add(obj); });
        });
    }

    void start() override {
        if (started_.exchange(true)) return;
        auto self = self_ptr();
        auto log = log_;
        auto name = name_;
        asio::co_spawn(ex_, run(self), [log, name](std::exception_ptr e) {
            if (!e) return;
            try {
                std::rethrow_exception(e);
            } catch (const std::exception& ex) {
                log->error("informer {}: stopped by an exception: {}", name, ex.what());
            }
        });
        if (options_.resync_period.count() > 0)
            asio::co_spawn(ex_, resync_loop(self), [log, name](std::exception_ptr e) {
                if (!e) return;
                try {
                    std::rethrow_exception(e);
                } catch (const std::exception& ex) {
                    log->error("informer {}: resync stopped by an exception: {}", name, ex.what());
                }
            });
    }

    void stop() override {
        if (stopped_.exchange(true)) return;
        asio::dispatch(ex_, [self = self_ptr()] {
            if (auto w = self->current_watch_.lock()) w->close();
            self->sleep_timer_.cancel();
            self->resync_timer_.cancel();
        });
    }

    bool has_synced() const override { return synced_.load(); }

    awaitable<bool> wait_synced(std::chrono::milliseconds timeout) override {
        // Polls atomics so it may be awaited from any executor.
        auto self = self_ptr();
        auto deadline = Clock::now() + timeout;
        asio::steady_timer timer(co_await asio::this_coro::executor);
        auto step = std::chrono::milliseconds(2);
        while (!self->synced_.load() && !self->stopped_.load() && Clock::now() < deadline) {
            timer.expires_after(std::min<Clock::duration>(step, deadline - Clock::now()));
            co_await timer.async_wait(asio::as_tuple(use_awaitable));
            step = std::min(step * 2, std::chrono::milliseconds(50));
        }
        co_return self->synced_.load();
    }

    const Store& store() const override { return store_; }

    std::string last_resource_version() const override {
        std::lock_guard lock(rv_mu_);
        return last_rv_;
    }

    InformerStats stats() const override {
        InformerStats s;
        s.lists = lists_.load();
        s.watches = watches_.load();
        s.events = events_.load();
        s.bookmarks = bookmarks_.load();
        s.errors = errors_.load();
        return s;
    }

    const InformerOptions& options() const override { return options_; }

private:
    using Self = std::shared_ptr<InformerImpl>;
    enum class WatchEnd { kEnded, kExpired, kError, kStopped };

    Self self_ptr() { return std::static_pointer_cast<InformerImpl>(shared_from_this()); }

    void set_rv(std::string_view rv) {
        if (rv.empty()) return;
        std::lock_guard lock(rv_mu_);
        last_rv_ = std::string(rv);
    }

    // Calls f on one handler; a throwing handler is logged and does not stop the informer.
    template <class F>
    void call(const EventHandlers& h, F&& f) {
        try {
            f(h);
        } catch (const std::exception& e) {
            log_->error("informer {}: a handler threw: {}", name_, e.what());
        }
    }

    void notify_add(const ObjectPtr& obj) {
        for (auto& h : snapshot())
            if (h->on_add && !stopped_.load()) call(*h, [&](auto& x) { x.on_add(obj); });
    }
    void notify_update(const ObjectPtr& old, const ObjectPtr& now) {
        for (auto& h : snapshot())
            if (h->on_update && !stopped_.load()) call(*h, [&](auto& x) { x.on_update(old, now); });
    }
    void notify_delete(const ObjectPtr& last) {
        for (auto& h : snapshot())
            if (h->on_delete && !stopped_.load()) call(*h, [&](auto& x) { x.on_delete(last); });
    }
    // Handlers added while an event is delivered get the replay instead of this event.
    std::vector<std::shared_ptr<const EventHandlers>> snapshot() const { return handlers_; }

    awaitable<void> sleep(std::chrono::milliseconds d) {
        sleep_timer_.expires_after(d);
        co_await sleep_timer_.async_wait(asio::as_tuple(use_awaitable));
    }

    static awaitable<void> run(Self self) {
        net::Backoff backoff({self->options_.min_backoff, self->options_.max_backoff, 2.0,
                              net::Jitter::decorrelated});
        bool need_list = true;
        while (!self->stopped_.load()) {
            if (need_list) {
                auto r = co_await self->list_and_replace();
                if (self->stopped_.load()) break;
                if (!r) {
                    ++self->errors_;
                    auto delay = backoff.next();
                    self->log_->warn("informer {}: list failed: {}; retrying in {} ms", self->name_,
                                     r.error().message(), delay.count());
                    co_await self->sleep(delay);
                    continue;
                }
                need_list = false;
                backoff.reset();
            }
            auto started = Clock::now();
            std::uint64_t events_before = self->events_.load() + self->bookmarks_.load();
            auto end = co_await self->watch_once();
            if (self->stopped_.load() || end == WatchEnd::kStopped) break;
            switch (end) {
                case WatchEnd::kExpired:
                    // The only reason to list again: the server no longer has our version.
                    self->log_->info("informer {}: resourceVersion {} is gone (410); relisting",
                                     self->name_, self->last_resource_version());
                    need_list = true;
                    break;
                case WatchEnd::kError: {
                    ++self->errors_;
                    co_await self->sleep(backoff.next());
                    break;
                }
                case WatchEnd::kEnded: {
                    bool idle = self->events_.load() + self->bookmarks_.load() == events_before;
                    if (idle && Clock::now() - started < kShortWatch)
                        co_await self->sleep(backoff.next());
                    else
                        backoff.reset();
                    break;
                }
                case WatchEnd::kStopped:
                    break;
            }
        }
    }

    awaitable<Result<void>> list_and_replace() {
        ListOptions lo;
        lo.label_selector = options_.label_selector;
        lo.field_selector = options_.field_selector;
        lo.limit = options_.page_size;
        auto r = co_await client_->list_all(options_.resource, options_.namespace_, lo);
        if (!r) co_return r.error();
        if (stopped_.load()) co_return Result<void>{};
        replace(std::move(r->items), r->resource_version);
        ++lists_;
        co_return Result<void>{};
    }

    // Makes the store equal to a fresh list and tells handlers what changed.
    void replace(std::vector<json::object> items, const std::string& rv) {
        std::unordered_set<std::string> seen;
        std::vector<std::pair<ObjectPtr, ObjectPtr>> changed;  // (old or nullptr, new)
        for (auto& item : items) {
            auto obj = std::make_shared<const json::object>(std::move(item));
            std::string key = kube::cache_key(*obj);
            seen.insert(key);
            auto old = store_.get(key);
            if (old && kube::resource_version(*old) == kube::resource_version(*obj)) continue;
            store_.put(obj);
            changed.emplace_back(std::move(old), std::move(obj));
        }
        std::vector<ObjectPtr> deleted;
        for (const auto& obj : store_.list()) {
            std::string key = kube::cache_key(*obj);
            if (!seen.count(key)) deleted.push_back(store_.erase(key));
        }
        set_rv(rv);
        for (auto& [old, now] : changed) {
            if (old)
                notify_update(old, now);
            else
                notify_add(now);
        }
        for (auto& last : deleted) notify_delete(last);
        if (!synced_.load()) {
            synced_ = true;
            log_->debug("informer {}: synced {} objects at resourceVersion {}", name_,
                        store_.size(), rv);
        }
    }

    awaitable<WatchEnd> watch_once() {
        ListOptions lo;
        lo.label_selector = options_.label_selector;
        lo.field_selector = options_.field_selector;
        lo.resource_version = last_resource_version();
        lo.allow_watch_bookmarks = true;
        lo.timeout_seconds = options_.watch_timeout_seconds;
        ++watches_;
        auto opened = co_await client_->watch(options_.resource, options_.namespace_, lo);
        if (stopped_.load()) co_return WatchEnd::kStopped;
        if (!opened) {
            if (opened.error().is(errc::expired)) co_return WatchEnd::kExpired;
            log_->warn("informer {}: watch from {} failed: {}", name_, lo.resource_version,
                       opened.error().message());
            co_return WatchEnd::kError;
        }
        std::shared_ptr<WatchStream> stream = std::move(*opened);
        current_watch_ = stream;
        // The server ends the watch after timeoutSeconds; if it goes silent (a half-open
        // connection) the guard closes the stream a while after that.
        asio::steady_timer guard(ex_);
        auto grace = std::max(std::chrono::seconds(30),
                              std::chrono::seconds(options_.watch_timeout_seconds / 4));
        guard.expires_after(std::chrono::seconds(options_.watch_timeout_seconds) + grace);
        guard.async_wait([weak = std::weak_ptr<WatchStream>(stream)](boost::system::error_code ec) {
            if (ec) return;
            if (auto s = weak.lock()) s->close();
        });
        auto end = co_await read_events(*stream);
        guard.cancel();
        current_watch_.reset();
        co_return end;
    }

    awaitable<WatchEnd> read_events(WatchStream& stream) {
        while (true) {
            auto ev = co_await stream.next();
            if (stopped_.load()) co_return WatchEnd::kStopped;
            if (!ev) {
                log_->info("informer {}: watch broke: {}; resuming from {}", name_,
                           ev.error().message(), last_resource_version());
                co_return WatchEnd::kError;
            }
            if (!*ev) co_return WatchEnd::kEnded;
            if (auto end = apply(std::move(**ev))) co_return *end;
        }
    }

    // Applies one event; a value when the watch must end.
    std::optional<WatchEnd> apply(WatchEvent ev) {
        switch (ev.type) {
            case WatchEventType::kBookmark:
                ++bookmarks_;
                set_rv(kube::resource_version(ev.object));
                return std::nullopt;
            case WatchEventType::kError: {
                auto* code = ev.object.if_contains("code");
                if (code && code->is_int64() && code->as_int64() == 410) return WatchEnd::kExpired;
                auto* msg = ev.object.if_contains("message");
                log_->warn("informer {}: watch ERROR event: {}", name_,
                           msg && msg->is_string() ? std::string(msg->as_string())
                                                   : json::serialize(ev.object));
                return WatchEnd::kError;
            }
            case WatchEventType::kAdded:
            case WatchEventType::kModified: {
                ++events_;
                auto obj = std::make_shared<const json::object>(std::move(ev.object));
                set_rv(kube::resource_version(*obj));
                auto old = store_.put(obj);
                if (old)
                    notify_update(old, obj);
                else
                    notify_add(obj);
                return std::nullopt;
            }
            case WatchEventType::kDeleted: {
                ++events_;
                auto obj = std::make_shared<const json::object>(std::move(ev.object));
                set_rv(kube::resource_version(*obj));
                if (store_.erase(kube::cache_key(*obj))) notify_delete(obj);
                return std::nullopt;
            }
        }
        return std::nullopt;
    }

    static awaitable<void> resync_loop(Self self) {
        while (!self->stopped_.load()) {
            self->resync_timer_.expires_after(self->options_.resync_period);
            co_await self->resync_timer_.async_wait(asio::as_tuple(use_awaitable));
            if (self->stopped_.load()) break;
            if (!self->synced_.load()) continue;
            for (const auto& obj : self->store_.list()) self->notify_update(obj, obj);
        }
    }

    asio::any_io_executor ex_;
    std::shared_ptr<Client> client_;
    InformerOptions options_;
    Store store_;
    std::vector<std::shared_ptr<const EventHandlers>> handlers_;
    std::weak_ptr<WatchStream> current_watch_;
    asio::steady_timer sleep_timer_;
    asio::steady_timer resync_timer_;
    std::shared_ptr<spdlog::logger> log_;
    std::string name_;  // "pods", "deployments.apps" for logs

    std::atomic<bool> started_{false}, stopped_{false}, synced_{false};
    std::atomic<std::uint64_t> lists_{0}, watches_{0}, events_{0}, bookmarks_{0}, errors_{0};
    mutable std::mutex rv_mu_;
    std::string last_rv_;
};

}  // namespace

std::shared_ptr<Informer> Informer::make(asio::any_io_executor ex, std::shared_ptr<Client> client,
                                         InformerOptions options) {
    return std::make_shared<InformerImpl>(std::move(ex), std::move(client), std::move(options));
}

InformerFactory::InformerFactory(asio::any_io_executor ex, std::shared_ptr<Client> client)
    : ex_(std::move(ex)), client_(std::move(client)) {}

std::shared_ptr<Informer> InformerFactory::get(const ApiResource& r) {
    // "pods" for core resources, "<group>/<resource>" otherwise (also the metrics label).
    std::string key = r.group.empty() ? r.resource : r.group + "/" + r.resource;
    auto it = informers_.find(key);
    if (it != informers_.end()) return it->second;
    InformerOptions o;
    o.resource = r;
    auto inf = Informer::make(ex_, client_, std::move(o));
    informers_.emplace(std::move(key), inf);
    return inf;
}

void InformerFactory::start_all() {
    started_ = true;
    for (auto& [k, inf] : informers_) inf->start();
}

void InformerFactory::stop_all() {
    for (auto& [k, inf] : informers_) inf->stop();
}

awaitable<bool> InformerFactory::wait_synced(std::chrono::milliseconds timeout) {
    auto deadline = Clock::now() + timeout;
    // Copy: informers may be added while this waits.
    std::vector<std::shared_ptr<Informer>> all;
    for (auto& [k, inf] : informers_) all.push_back(inf);
    for (auto& inf : all) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
        if (left.count() < 0) left = std::chrono::milliseconds(0);
        if (!co_await inf->wait_synced(left)) co_return false;
    }
    co_return true;
}

}  // namespace kedge::kube::client
