#include "apiserver/storage/watch_cache.hpp"

#include <algorithm>
#include <boost/json.hpp>

#include "base/log.hpp"

namespace kedge::apiserver::storage {

namespace {

bool has_prefix(std::string_view key, std::string_view prefix) {
    return key.substr(0, prefix.size()) == prefix;
}

bool passes(const ObjectFilter& filter, const ObjectPtr& obj) {
    return obj && (!filter || filter(*obj));
}

std::string too_old(std::uint64_t rev, std::uint64_t oldest) {
    return "too old resource version: " + std::to_string(rev) + " (" + std::to_string(oldest) + ")";
}

}  // namespace

ObjectAttrs default_attrs(std::string_view, std::string_view value) {
    ObjectAttrs attrs;
    boost::system::error_code ec;
    auto v = boost::json::parse(value, ec);
    if (ec || !v.is_object()) return attrs;
    auto* meta = v.as_object().if_contains("metadata");
    if (!meta || !meta->is_object()) return attrs;
    const auto& m = meta->as_object();
    auto str = [&](const char* name) -> std::string {
        auto* f = m.if_contains(name);
        return f && f->is_string() ? std::string(f->as_string()) : std::string();
    };
    attrs.fields.emplace("metadata.name", str("name"));
    attrs.fields.emplace("metadata.namespace", str("namespace"));
    if (auto* labels = m.if_contains("labels"); labels && labels->is_object()) {
        for (const auto& [k, lv] : labels->as_object()) {
            if (lv.is_string()) attrs.labels.emplace(std::string(k), std::string(lv.as_string()));
        }
    }
    return attrs;
}

// ---------------------------------------------------------------------------------------------
// Watcher

Watcher::Watcher(std::shared_ptr<detail::WatchRegistry> registry, std::uint64_t id,
                 WatchOptions options, std::uint64_t from_rev)
    : registry_(std::move(registry)), id_(id), options_(std::move(options)), from_rev_(from_rev) {}

Watcher::~Watcher() { unregister(); }

void Watcher::unregister() {
    std::lock_guard lk(registry_->mu);
    registry_->watchers.erase(id_);
}

// Kubernetes' cacheWatcher conversion: with a filter, an update that moves an object into the
// selection is an ADDED, out of it a DELETED carrying the previous state at the event revision.
WatchEventPtr Watcher::convert(const WatchEventPtr& ev) const {
    if (!has_prefix(ev->object->key, options_.key_prefix)) return nullptr;
    if (!options_.filter) return ev;
    bool cur = passes(options_.filter, ev->object);
    if (ev->type != EventType::kModified) return cur ? ev : nullptr;
    bool prev = passes(options_.filter, ev->prev_object);
    if (cur && prev) return ev;
    if (cur)
        return std::make_shared<WatchEvent>(
            WatchEvent{EventType::kAdded, ev->object, nullptr, ev->revision});
    if (!prev) return nullptr;
    auto gone = std::make_shared<Object>(*ev->prev_object);
    gone->mod_rev = ev->revision;
    if (auto v = set_resource_version(gone->value, ev->revision)) gone->value = std::move(*v);
    return std::make_shared<WatchEvent>(
        WatchEvent{EventType::kDeleted, std::move(gone), ev->prev_object, ev->revision});
}

bool Watcher::offer(const WatchEventPtr& ev) {
    if (ev->revision <= from_rev_) return true;
    auto mine = convert(ev);
    if (!mine) return true;
    bool notify = false;
    bool overflow = false;
    {
        std::lock_guard lk(mu_);
        if (closed_) return true;
        if (queue_.size() >= options_.queue_capacity) {
            overflow = notify = closed_ = true;
            error_ = Error(errc::queue_full, "watcher fell more than " +
                                                 std::to_string(options_.queue_capacity) +
                                                 " events behind and was terminated");
        } else {
            notify = queue_.empty() && initial_.empty();
            queue_.push_back(std::move(mine));
        }
    }
    cv_.notify_all();
    if (notify && options_.on_ready) options_.on_ready();
    return !overflow;
}

void Watcher::queue_initial(const WatchEventPtr& ev) {
    std::lock_guard lk(mu_);
    initial_.push_back(ev);
}

void Watcher::close(std::optional<Error> reason) {
    {
        std::lock_guard lk(mu_);
        if (closed_) return;
        closed_ = true;
        error_ = std::move(reason);
    }
    cv_.notify_all();
    if (options_.on_ready) options_.on_ready();
}

std::vector<WatchEventPtr> Watcher::take(std::size_t max) {
    std::lock_guard lk(mu_);
    std::vector<WatchEventPtr> out;
    out.reserve(std::min(max, initial_.size() + queue_.size()));
    while (out.size() < max && !initial_.empty()) {
        out.push_back(std::move(initial_.front()));
        initial_.pop_front();
    }
    while (out.size() < max && !queue_.empty()) {
        out.push_back(std::move(queue_.front()));
        queue_.pop_front();
    }
    return out;
}

bool Watcher::wait_for(std::chrono::milliseconds timeout) {
    std::unique_lock lk(mu_);
    return cv_.wait_for(lk, timeout,
                        [&] { return closed_ || !initial_.empty() || !queue_.empty(); });
}

bool Watcher::closed() const {
    std::lock_guard lk(mu_);
    return closed_;
}

std::optional<Error> Watcher::error() const {
    std::lock_guard lk(mu_);
    return error_;
}

std::optional<std::uint64_t> Watcher::bookmark_revision() const {
    // The cache lock orders us against dispatch: an empty queue under it means every event up to
    // the cache revision has been handed out.
    std::lock_guard clk(registry_->mu);
    std::lock_guard lk(mu_);
    if (closed_ || !initial_.empty() || !queue_.empty()) return std::nullopt;
    if (registry_->revision < from_rev_) return std::nullopt;
    return registry_->revision;
}

void Watcher::stop() {
    {
        std::lock_guard lk(mu_);
        closed_ = true;
    }
    cv_.notify_all();
    unregister();
}

// ---------------------------------------------------------------------------------------------
// WatchCache

WatchCache::WatchCache(Storage& storage, WatchCacheOptions options)
    : storage_(storage), options_(std::move(options)) {
    if (!options_.attrs) options_.attrs = default_attrs;
    if (options_.capacity == 0) options_.capacity = 1;
}

WatchCache::~WatchCache() { stop(); }

const Clock& WatchCache::clock() const {
    return options_.clock ? *options_.clock : SystemClock::instance();
}

Result<std::shared_ptr<WatchCache>> WatchCache::start(Storage& storage, WatchCacheOptions options) {
    std::shared_ptr<WatchCache> cache(new WatchCache(storage, std::move(options)));
    if (auto r = cache->load(); !r) return r.error();
    return cache;
}

Result<void> WatchCache::load() {
    Error last;
    for (int attempt = 0; attempt < 5; ++attempt) {
        std::uint64_t current = storage_.current_revision();
        std::uint64_t from =
            std::max(storage_.compacted_revision(),
                     current > options_.capacity ? current - options_.capacity : 0);
        std::map<std::string, ObjectPtr, std::less<>> objects;
        ListOptions lo{1'000, {}, from};
        bool expired = false;
        for (;;) {
            auto page = storage_.list(options_.prefix, lo);
            if (!page) {
                if (!page.error().is(errc::expired)) return page.error();
                expired = true;  // compacted under us: start again from a newer revision
                break;
            }
            for (auto& kv : page->items) {
                auto obj = make_object(kv.key, std::move(kv.value), kv.mod_rev, kv.create_rev);
                objects.emplace(kv.key, std::move(obj));
            }
            if (!page->more) break;
            lo.continue_key = page->next_key;
            lo.at_revision = page->revision;
        }
        if (expired) continue;
        {
            std::lock_guard lk(mu_);
            objects_ = std::move(objects);
            buffer_.clear();
            revision_ = window_start_ = from;
        }
        auto sub =
            storage_.watch_from(options_.prefix, from,
                                [this](const std::vector<Event>& events, std::uint64_t progress) {
                                    on_feed(events, progress);
                                });
        if (sub) {
            subscription_ = std::move(*sub);
            log::get("apiserver.storage")
                ->debug("watch cache {} started at revision {} with {} objects", options_.prefix,
                        from, object_count());
            return {};
        }
        if (!sub.error().is(errc::expired)) return sub.error();
        last = sub.error();
    }
    return Error(errc::unavailable, "watch cache " + options_.prefix +
                                        " could not catch up with compaction: " + last.message());
}

ObjectPtr WatchCache::make_object(std::string key, std::string value, std::uint64_t mod_rev,
                                  std::uint64_t create_rev) const {
    auto obj = std::make_shared<Object>();
    obj->attrs = options_.attrs(key, value);
    obj->key = std::move(key);
    obj->value = std::move(value);
    obj->mod_rev = mod_rev;
    obj->create_rev = create_rev;
    return obj;
}

void WatchCache::on_feed(const std::vector<Event>& events, std::uint64_t progress) {
    std::vector<std::uint64_t> dropped;
    std::lock_guard lk(mu_);
    if (stopped_) return;
    auto now = clock().steady_now();
    for (const auto& e : events) {
        if (e.mod_rev <= revision_) continue;  // already seen (replay overlap)
        auto it = objects_.find(e.key);
        ObjectPtr prev = it != objects_.end() ? it->second : nullptr;
        ObjectPtr obj;
        if (e.type == EventType::kDeleted) {
            auto gone = std::make_shared<Object>();
            gone->key = e.key;
            auto stamped = set_resource_version(e.prev_value, e.mod_rev);
            gone->value = stamped ? std::move(*stamped) : e.prev_value;
            gone->mod_rev = e.mod_rev;
            gone->create_rev = e.create_rev;
            gone->attrs = prev ? prev->attrs : options_.attrs(e.key, e.prev_value);
            obj = std::move(gone);
            if (it != objects_.end()) objects_.erase(it);
        } else {
            obj = make_object(e.key, e.value, e.mod_rev, e.create_rev);
            objects_.insert_or_assign(e.key, obj);
        }
        auto ev = std::make_shared<const WatchEvent>(
            WatchEvent{e.type, std::move(obj), std::move(prev), e.mod_rev});
        revision_ = e.mod_rev;
        buffer_.push_back({ev, now});
        for (auto& [id, w] : watchers_) {
            if (!w->offer(ev)) dropped.push_back(id);
        }
    }
    revision_ = std::max(revision_, progress);
    while (!buffer_.empty() &&
           (buffer_.size() > options_.capacity ||
            (options_.max_age.count() > 0 && now - buffer_.front().at > options_.max_age))) {
        window_start_ = buffer_.front().event->revision;
        buffer_.pop_front();
    }
    for (auto id : dropped) {
        if (watchers_.erase(id)) {
            log::get("apiserver.storage")
                ->info("watch cache {}: terminated a slow watcher", options_.prefix);
        }
    }
    fresh_cv_.notify_all();
}

void WatchCache::stop() {
    std::unique_ptr<Subscription> sub;
    {
        // Watchers unregister under this lock when destroyed, so the raw pointers are valid.
        std::lock_guard lk(mu_);
        if (stopped_) return;
        stopped_ = true;
        sub = std::move(subscription_);
        for (auto& [id, w] : watchers_) w->close(Error(errc::closed, "watch cache stopped"));
        watchers_.clear();
    }
    // Outside mu_: the feed callback takes the feed lock before mu_. After this, none runs.
    sub.reset();
    fresh_cv_.notify_all();
}

std::uint64_t WatchCache::revision() const {
    std::lock_guard lk(mu_);
    return revision_;
}

std::uint64_t WatchCache::oldest_revision() const {
    std::lock_guard lk(mu_);
    return window_start_;
}

std::size_t WatchCache::object_count() const {
    std::lock_guard lk(mu_);
    return objects_.size();
}

std::size_t WatchCache::watcher_count() const {
    std::lock_guard lk(mu_);
    return watchers_.size();
}

Result<std::string> WatchCache::scope(const std::string& key_prefix) const {
    if (key_prefix.empty()) return options_.prefix;
    if (!has_prefix(key_prefix, options_.prefix)) {
        return Error(errc::invalid_argument,
                     "key prefix " + key_prefix + " is outside " + options_.prefix);
    }
    return key_prefix;
}

Result<std::shared_ptr<Watcher>> WatchCache::watch(WatchOptions options) {
    auto sc = scope(options.key_prefix);
    if (!sc) return sc.error();
    options.key_prefix = *sc;
    if (options.queue_capacity == 0) options.queue_capacity = 1;
    std::shared_ptr<Watcher> w;
    {
        std::lock_guard lk(mu_);
        if (stopped_) return Error(errc::closed, "watch cache " + options_.prefix + " is stopped");
        std::uint64_t from = options.from_revision;
        if (from != 0 && from < window_start_) {
            return Error(errc::expired, too_old(from, window_start_));
        }
        std::uint64_t start_rev = from == 0 ? revision_ : from;
        w = std::shared_ptr<Watcher>(
            new Watcher(registry_, next_watcher_id_++, std::move(options), start_rev));
        const auto& opts = w->options_;
        if (from == 0) {
            for (auto it = objects_.lower_bound(opts.key_prefix);
                 it != objects_.end() && has_prefix(it->first, opts.key_prefix); ++it) {
                if (!passes(opts.filter, it->second)) continue;
                w->queue_initial(std::make_shared<const WatchEvent>(
                    WatchEvent{EventType::kAdded, it->second, nullptr, it->second->mod_rev}));
            }
        } else {
            auto it = std::upper_bound(
                buffer_.begin(), buffer_.end(), from,
                [](std::uint64_t rev, const Buffered& b) { return rev < b.event->revision; });
            for (; it != buffer_.end(); ++it) {
                if (auto ev = w->convert(it->event)) w->queue_initial(ev);
            }
        }
        watchers_.emplace(w->id_, w.get());
    }
    bool ready = false;
    {
        std::lock_guard lk(w->mu_);
        ready = !w->initial_.empty();
    }
    if (ready && w->options_.on_ready) w->options_.on_ready();
    return w;
}

Result<CacheListResult> WatchCache::list(const CacheListOptions& options) {
    auto sc = scope(options.key_prefix);
    if (!sc) return sc.error();
    const std::string& prefix = *sc;
    std::string start = prefix;

    if (!options.continue_key.empty()) {
        // A continue token pins the snapshot of its first page: only storage has it.
        if (!has_prefix(options.continue_key, prefix) || options.continue_rev == 0) {
            return Error(errc::invalid_argument, "continue token does not match this list");
        }
        return list_from_storage(options, options.continue_rev, prefix);
    }
    if (options.match == RvMatch::kExact) {
        if (!options.resource_version || *options.resource_version == 0) {
            return Error(errc::invalid_argument,
                         "resourceVersionMatch=Exact needs a resourceVersion other than 0");
        }
        std::unique_lock lk(mu_);
        if (revision_ != *options.resource_version) {
            lk.unlock();
            return list_from_storage(options, *options.resource_version, prefix);
        }
    }

    // Most recent: the storage revision now; NotOlderThan: the requested one; 0: anything.
    std::uint64_t want =
        options.resource_version ? *options.resource_version : storage_.current_revision();
    std::unique_lock lk(mu_);
    if (stopped_) return Error(errc::closed, "watch cache " + options_.prefix + " is stopped");
    if (!fresh_cv_.wait_for(lk, options_.fresh_timeout,
                            [&] { return stopped_ || revision_ >= want; }) ||
        stopped_) {
        if (!options.resource_version) {
            lk.unlock();
            return list_from_storage(options, 0, prefix);
        }
        return Error(errc::timeout, "too large resource version: " + std::to_string(want) +
                                        ", current: " + std::to_string(revision_));
    }
    CacheListResult out;
    out.revision = revision_;
    std::size_t want_items = options.limit ? options.limit + 1 : SIZE_MAX;
    for (auto it = objects_.lower_bound(start);
         it != objects_.end() && has_prefix(it->first, prefix) && out.items.size() < want_items;
         ++it) {
        if (passes(options.filter, it->second)) out.items.push_back(it->second);
    }
    lk.unlock();
    if (options.limit && out.items.size() > options.limit) {
        out.items.resize(options.limit);
        out.more = true;
        out.next_key = out.items.back()->key + '\0';
    }
    return out;
}

// Pages through storage at one revision until limit matching objects (plus one to know whether
// there are more) are found.
Result<CacheListResult> WatchCache::list_from_storage(const CacheListOptions& options,
                                                      std::uint64_t rev,
                                                      const std::string& prefix) {
    CacheListResult out;
    out.from_storage = true;
    std::size_t want_items = options.limit ? options.limit + 1 : SIZE_MAX;
    ListOptions lo{options.limit ? std::max<std::size_t>(options.limit + 1, 100) : 0,
                   options.continue_key, rev};
    for (;;) {
        auto page = storage_.list(prefix, lo);
        if (!page) {
            if (page.error().is(errc::expired) && !options.continue_key.empty()) {
                return Error(errc::expired,
                             "the provided continue parameter is too old to display a "
                             "consistent list result: " +
                                 page.error().detail);
            }
            return page.error();
        }
        out.revision = page->revision;
        for (auto& kv : page->items) {
            if (out.items.size() >= want_items) break;
            auto obj = make_object(kv.key, std::move(kv.value), kv.mod_rev, kv.create_rev);
            if (passes(options.filter, obj)) out.items.push_back(std::move(obj));
        }
        if (out.items.size() >= want_items || !page->more) break;
        lo.continue_key = page->next_key;
        lo.at_revision = page->revision;
    }
    if (options.limit && out.items.size() > options.limit) {
        out.items.resize(options.limit);
        out.more = true;
        out.next_key = out.items.back()->key + '\0';
    }
    return out;
}

}  // namespace kedge::apiserver::storage
