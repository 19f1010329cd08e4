// The change feed of the etcd backend. One shared etcd watcher (EtcdFeed) serves every live
// subscription of a client and fans its events out locally; a subscription that starts at an
// older revision first reads the history on a catch-up stream of its own and joins the shared
// feed once it has caught up with it. Every stream reconnects from the last revision it handed
// on when it breaks (etcd restarted).
#include <optional>

#include "apiserver/storage/etcd_impl.hpp"
#include "base/log.hpp"

namespace kedge::apiserver::storage {

namespace {

std::shared_ptr<spdlog::logger> logger() { return log::get("apiserver.storage"); }

std::uint64_t u64(std::int64_t v) { return v > 0 ? static_cast<std::uint64_t>(v) : 0; }

// Receives the converted events of one etcd response (every event of the namespace, in
// revision order) and the revision they bring the reader up to. Returns false to end the stream.
using StreamSink = std::function<bool(const std::vector<Event>& events, std::uint64_t progress)>;

// One etcd Watch stream read by its own thread: the whole keyspace (or the namespace with
// feed_namespace_only) from a revision, with prev_kv, reconnected with backoff when it breaks.
class WatchStream {
public:
    WatchStream(EtcdStorage::Impl& impl, std::uint64_t from_rev, std::string what, StreamSink sink)
        : impl_(impl), what_(std::move(what)), last_rev_(from_rev), sink_(std::move(sink)) {}
    ~WatchStream() { stop(); }

    // Starts the reader and waits until etcd confirmed the watch (or the request timeout).
    // errc::expired when etcd says the start revision was compacted.
    Result<void> start() {
        thread_ = std::thread([this] { run(); });
        std::unique_lock lk(mu_);
        bool done = cv_.wait_for(lk, impl_.options.request_timeout,
                                 [this] { return started_ || start_error_; });
        if (!done) {
            return Error(errc::unavailable, "etcd did not confirm the watch of " + what_ +
                                                " within the request timeout");
        }
        if (start_error_) return *start_error_;
        return {};
    }

    // Ends the stream and joins the reader. Not from inside the sink.
    void stop() {
        {
            std::lock_guard lk(mu_);
            stopped_ = true;
            if (ctx_) ctx_->TryCancel();
        }
        cv_.notify_all();
        if (thread_.joinable()) thread_.join();
    }

private:
    bool stopped() {
        std::lock_guard lk(mu_);
        return stopped_;
    }

    void run() {
        auto backoff = std::chrono::milliseconds(100);
        while (!stopped()) {
            auto ctx = std::make_shared<grpc::ClientContext>();
            ctx->set_wait_for_ready(true);
            {
                std::lock_guard lk(mu_);
                if (stopped_) break;
                ctx_ = ctx;
            }
            auto stream = impl_.watch_stub->Watch(ctx.get());
            etcdserverpb::WatchRequest req;
            auto* create = req.mutable_create_request();
            auto [key, end] = impl_.options.feed_namespace_only
                                  ? impl_.range_of("")
                                  : std::pair<std::string, std::string>(std::string(1, '\0'),
                                                                        std::string(1, '\0'));
            create->set_key(key);
            create->set_range_end(end);
            create->set_start_revision(static_cast<std::int64_t>(last_rev_ + 1));
            create->set_prev_kv(true);
            bool compacted = false;
            bool done = false;  // the sink ended the stream
            bool open = stream->Write(req);
            etcdserverpb::WatchResponse resp;
            while (open && (open = stream->Read(&resp))) {
                impl_.saw(u64(resp.header().revision()));
                if (resp.created()) {
                    backoff = std::chrono::milliseconds(100);
                    set_started();
                }
                if (resp.canceled()) {
                    compacted = on_canceled(resp);
                    break;
                }
                if (!deliver(resp)) {
                    done = true;
                    break;
                }
            }
            // Still open only when we leave a stream ourselves; otherwise Finish says why it
            // ended.
            if (open) ctx->TryCancel();
            auto status = stream->Finish();
            {
                std::lock_guard lk(mu_);
                ctx_.reset();
                if (done) stopped_ = true;
            }
            if (stopped()) break;
            if (!compacted) {
                logger()->warn("etcd watch of {} broke ({}); resuming after revision {}", what_,
                               status.error_message(), last_rev_);
            }
            std::unique_lock lk(mu_);
            cv_.wait_for(lk, backoff, [this] { return stopped_; });
            backoff = std::min(backoff * 2, std::chrono::milliseconds(2'000));
        }
    }

    void set_started() {
        {
            std::lock_guard lk(mu_);
            started_ = true;
        }
        cv_.notify_all();
    }

    // etcd ends a watch whose start revision was compacted away. Before start() returned, that
    // is the caller's errc::expired; later (a resume after a long outage) the events in between
    // are gone: log it and go on from the compaction revision.
    bool on_canceled(const etcdserverpb::WatchResponse& resp) {
        auto compact_rev = u64(resp.compact_revision());
        if (compact_rev == 0) {
            logger()->warn("etcd canceled the watch of {}: {}", what_, resp.cancel_reason());
            return false;
        }
        auto cur = impl_.compacted.load();
        while (compact_rev > cur && !impl_.compacted.compare_exchange_weak(cur, compact_rev)) {
        }
        {
            std::lock_guard lk(mu_);
            if (!started_) {
                start_error_ =
                    Error(errc::expired, "too old resource version: " + std::to_string(last_rev_) +
                                             " (" + std::to_string(compact_rev) + ")");
                stopped_ = true;
                cv_.notify_all();
                return true;
            }
        }
        logger()->error(
            "etcd watch of {} lost the events after revision {}: compacted at {} while "
            "reconnecting",
            what_, last_rev_, compact_rev);
        last_rev_ = compact_rev - 1;
        return true;
    }

    // Converts the namespace's events once for every subscriber; false when the sink is done.
    bool deliver(const etcdserverpb::WatchResponse& resp) {
        if (resp.events_size() == 0) return true;
        std::vector<Event> out;
        std::uint64_t progress = last_rev_;
        for (const auto& ev : resp.events()) {
            const auto& kv = ev.kv();
            auto rev = u64(kv.mod_revision());
            if (rev <= last_rev_) continue;  // already handed on before a reconnect
            progress = std::max(progress, rev);
            if (!impl_.in_namespace(kv.key())) continue;
            Event e;
            e.key = impl_.from_etcd(kv.key());
            e.mod_rev = rev;
            const bool has_prev = ev.has_prev_kv();
            if (ev.type() == mvccpb::Event::DELETE) {
                e.type = EventType::kDeleted;
                if (has_prev) e.create_rev = u64(ev.prev_kv().create_revision());
            } else {
                e.type = kv.create_revision() == kv.mod_revision() ? EventType::kAdded
                                                                   : EventType::kModified;
                e.value = with_real_resource_version(kv.value(), rev);
                e.create_rev = u64(kv.create_revision());
            }
            if (has_prev && e.type != EventType::kAdded) {
                e.prev_mod_rev = u64(ev.prev_kv().mod_revision());
                e.prev_value = with_real_resource_version(ev.prev_kv().value(), e.prev_mod_rev);
            }
            out.push_back(std::move(e));
        }
        if (progress <= last_rev_) return true;
        last_rev_ = progress;
        return sink_(out, progress);
    }

    EtcdStorage::Impl& impl_;
    std::string what_;
    std::uint64_t last_rev_;  // reader thread only
    StreamSink sink_;

    std::mutex mu_;
    std::condition_variable cv_;
    std::shared_ptr<grpc::ClientContext> ctx_;
    bool stopped_ = false;
    bool started_ = false;
    std::optional<Error> start_error_;
    std::thread thread_;
};

// One subscriber: shared by the feed (or its catch-up stream) and its Subscription handle.
struct Subscriber {
    std::string prefix;
    WatchCallback callback;
    std::mutex mu;  // held while the callback runs: cancel()'s barrier
    bool cancelled = false;
    std::uint64_t last_rev = 0;  // every event up to it has been handed on

    // Hands on the events it has not seen yet that match its prefix.
    void offer(const std::vector<Event>& events, std::uint64_t progress) {
        std::lock_guard lk(mu);
        if (cancelled || progress <= last_rev) return;
        std::vector<Event> mine;
        for (const auto& e : events) {
            if (e.mod_rev > last_rev && e.key.starts_with(prefix)) mine.push_back(e);
        }
        last_rev = progress;
        callback(mine, progress);
    }
};

}  // namespace

// The shared feed. Lock order: mu, then a Subscriber's mu.
struct EtcdFeed {
    std::mutex mu;  // guards subscribers and last_rev; held while fanning out
    std::vector<std::shared_ptr<Subscriber>> subscribers;
    std::uint64_t last_rev = 0;  // the revision every attached subscriber is up to date with
    std::unique_ptr<WatchStream> stream;

    bool fan_out(const std::vector<Event>& events, std::uint64_t progress) {
        std::lock_guard lk(mu);
        last_rev = std::max(last_rev, progress);
        for (auto& s : subscribers) s->offer(events, progress);
        return true;
    }

    void detach(const std::shared_ptr<Subscriber>& s) {
        std::lock_guard lk(mu);
        std::erase(subscribers, s);
    }
};

Result<void> EtcdStorage::Impl::ensure_feed() {
    std::lock_guard lk(feed_init_mu);
    if (feed) return {};
    auto current = probe(0, false);
    if (!current) return current.error();
    auto f = std::make_shared<EtcdFeed>();
    f->last_rev = *current;
    f->stream = std::make_unique<WatchStream>(
        *this, *current, "the shared feed",
        [raw = f.get()](const std::vector<Event>& evs, std::uint64_t p) {
            return raw->fan_out(evs, p);
        });
    if (auto r = f->stream->start(); !r) return r.error();
    feed = std::move(f);
    return {};
}

void EtcdStorage::Impl::stop_feed() {
    std::shared_ptr<EtcdFeed> f;
    {
        std::lock_guard lk(feed_init_mu);
        f = feed;
    }
    if (f && f->stream) f->stream->stop();
}

namespace {

// A subscription: attached to the shared feed, or reading history on its catch-up stream until
// it is as far as the feed, then attached.
class EtcdSubscription final : public Subscription {
public:
    EtcdSubscription(std::shared_ptr<EtcdStorage::Impl> impl, std::shared_ptr<EtcdFeed> feed,
                     std::shared_ptr<Subscriber> subscriber)
        : impl_(std::move(impl)), feed_(std::move(feed)), subscriber_(std::move(subscriber)) {}
    ~EtcdSubscription() override { cancel(); }

    Result<void> start(std::uint64_t from_rev) {
        {
            std::lock_guard lk(feed_->mu);
            if (from_rev >= feed_->last_rev) {
                feed_->subscribers.push_back(subscriber_);
                return {};
            }
        }
        catch_up_ =
            std::make_unique<WatchStream>(*impl_, from_rev, subscriber_->prefix,
                                          [feed = feed_.get(), sub = subscriber_](
                                              const std::vector<Event>& evs, std::uint64_t p) {
                                              sub->offer(evs, p);
                                              // Join the feed once as far as it: it hands on
                                              // everything after its last_rev and the subscriber
                                              // skips what it already has.
                                              std::lock_guard lk(feed->mu);
                                              std::lock_guard slk(sub->mu);
                                              if (sub->cancelled) return false;
                                              if (sub->last_rev >= feed->last_rev) {
                                                  feed->subscribers.push_back(sub);
                                                  return false;
                                              }
                                              return true;
                                          });
        return catch_up_->start();
    }

    void cancel() override {
        {
            std::lock_guard lk(subscriber_->mu);  // waits for a running callback
            subscriber_->cancelled = true;
        }
        if (catch_up_) catch_up_->stop();
        feed_->detach(subscriber_);
    }

private:
    std::shared_ptr<EtcdStorage::Impl> impl_;
    std::shared_ptr<EtcdFeed> feed_;
    std::shared_ptr<Subscriber> subscriber_;
    std::unique_ptr<WatchStream> catch_up_;
};

}  // namespace

Result<std::unique_ptr<Subscription>> EtcdStorage::watch_from(std::string_view prefix,
                                                              std::uint64_t from_rev,
                                                              WatchCallback callback) {
    if (auto r = impl_->check_key(prefix); !r) return r.error();
    // etcd reports a compacted start revision only asynchronously on the stream, so check first:
    // a read at from_rev fails exactly when from_rev < the compaction revision.
    auto expired = [&] {
        return Error(errc::expired, "too old resource version: " + std::to_string(from_rev) + " (" +
                                        std::to_string(impl_->compacted.load()) + ")");
    };
    if (from_rev == 0) {
        if (impl_->compacted.load() > 0) return expired();
    } else {
        auto r = impl_->probe(from_rev, false);
        if (!r && r.error().is(errc::expired)) {
            (void)impl_->refresh_compacted();
            return expired();
        }
        // A future revision is fine: the events will come.
        if (!r && !r.error().detail.starts_with("too large")) return r.error();
    }
    if (auto r = impl_->ensure_feed(); !r) return r.error();
    auto subscriber = std::make_shared<Subscriber>();
    subscriber->prefix = std::string(prefix);
    subscriber->callback = std::move(callback);
    subscriber->last_rev = from_rev;
    auto sub = std::make_unique<EtcdSubscription>(impl_, impl_->feed, std::move(subscriber));
    if (auto r = sub->start(from_rev); !r) return r.error();
    return std::unique_ptr<Subscription>(std::move(sub));
}

}  // namespace kedge::apiserver::storage
