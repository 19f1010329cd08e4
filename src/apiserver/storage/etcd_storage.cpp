#include "apiserver/storage/etcd_storage.hpp"

#include <boost/json.hpp>

#include "apiserver/storage/etcd_impl.hpp"
#include "base/log.hpp"

namespace kedge::apiserver::storage {

namespace {

using etcdserverpb::Compare;

std::shared_ptr<spdlog::logger> logger() { return log::get("apiserver.storage"); }

std::uint64_t u64(std::int64_t v) { return v > 0 ? static_cast<std::uint64_t>(v) : 0; }
std::int64_t i64(std::uint64_t v) { return static_cast<std::int64_t>(v); }

// "http://host:port" -> "host:port"; https is refused until TLS client settings exist.
Result<std::string> host_port(const std::string& url) {
    std::string_view s = url;
    if (s.starts_with("https://")) {
        return Error(errc::invalid_argument, "etcd endpoint " + url + ": TLS is not supported");
    }
    if (s.starts_with("http://")) s.remove_prefix(7);
    while (s.ends_with('/')) s.remove_suffix(1);
    if (s.empty() || s.find('/') != std::string_view::npos ||
        s.find(':') == std::string_view::npos) {
        return Error(errc::invalid_argument,
                     "etcd endpoint " + url + " is not of the form http://host:port");
    }
    return std::string(s);
}

Result<std::string> channel_target(const std::vector<std::string>& endpoints) {
    if (endpoints.empty()) return Error(errc::invalid_argument, "no etcd endpoints given");
    std::string target;
    for (const auto& e : endpoints) {
        auto hp = host_port(e);
        if (!hp) return hp.error();
        target += (target.empty() ? "" : ",") + *hp;
    }
    // Several addresses need the ipv4: resolver (one channel, pick_first fails over).
    return endpoints.size() == 1 ? target : "ipv4:" + target;
}

// compare target(key) <result> value.
void add_compare(etcdserverpb::TxnRequest& txn, const std::string& key, Compare::CompareTarget t,
                 Compare::CompareResult r, std::int64_t value) {
    auto* c = txn.add_compare();
    c->set_key(key);
    c->set_target(t);
    c->set_result(r);
    if (t == Compare::CREATE) {
        c->set_create_revision(value);
    } else {
        c->set_mod_revision(value);
    }
}

// The guard of update/remove: the key exists, with mod_revision == expected when one is given.
void add_mod_guard(etcdserverpb::TxnRequest& txn, const std::string& key, std::uint64_t expected) {
    if (expected == 0) {
        add_compare(txn, key, Compare::MOD, Compare::GREATER, 0);
    } else {
        add_compare(txn, key, Compare::MOD, Compare::EQUAL, i64(expected));
    }
}

// On a failed guard, read the key back to tell not_found from conflict.
void add_failure_read(etcdserverpb::TxnRequest& txn, const std::string& key) {
    auto* r = txn.add_failure()->mutable_request_range();
    r->set_key(key);
    r->set_keys_only(true);
}

Error refused(const etcdserverpb::TxnResponse& resp, std::string_view key, std::uint64_t expected) {
    const etcdserverpb::RangeResponse* current = nullptr;
    if (resp.responses_size() > 0 && resp.responses(0).has_response_range()) {
        current = &resp.responses(0).response_range();
    }
    if (!current || current->kvs_size() == 0) {
        return Error(errc::not_found, std::string(key) + " not found");
    }
    return Error(errc::conflict, std::string(key) + " has revision " +
                                     std::to_string(current->kvs(0).mod_revision()) +
                                     ", expected " + std::to_string(expected));
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Helpers

Error etcd_error(const grpc::Status& status, std::string_view what) {
    std::string detail = "etcd " + std::string(what) + ": " + status.error_message() +
                         " (grpc status " + std::to_string(static_cast<int>(status.error_code())) +
                         ")";
    const auto& msg = status.error_message();
    if (msg.find("required revision has been compacted") != std::string::npos) {
        return Error(errc::expired, std::move(detail));
    }
    if (msg.find("required revision is a future revision") != std::string::npos) {
        return Error(errc::timeout, "too large resource version: " + detail);
    }
    if (msg.find("request is too large") != std::string::npos) {
        return Error(errc::too_large, std::move(detail));
    }
    // Transient cluster states: the caller may retry.
    for (const char* transient : {"leader changed", "no leader", "too many requests",
                                  "request timed out", "server is not ready"}) {
        if (msg.find(transient) != std::string::npos) {
            return Error(errc::unavailable, std::move(detail));
        }
    }
    switch (status.error_code()) {
        case grpc::StatusCode::DEADLINE_EXCEEDED:
            return Error(errc::timeout, std::move(detail));
        case grpc::StatusCode::UNAVAILABLE:
        case grpc::StatusCode::CANCELLED:
            return Error(errc::unavailable, std::move(detail));
        case grpc::StatusCode::INVALID_ARGUMENT:
            return Error(errc::invalid_argument, std::move(detail));
        case grpc::StatusCode::RESOURCE_EXHAUSTED:
            return Error(errc::too_large, std::move(detail));
        default:
            return Error(errc::io_error, std::move(detail));
    }
}

std::string with_real_resource_version(std::string value, std::uint64_t mod_rev) {
    // Fast paths without parsing: no resourceVersion at all, or already the right one (no other
    // object can legitimately carry this write's unique revision).
    if (value.find("\"resourceVersion\"") == std::string::npos) return value;
    if (value.find("\"resourceVersion\":\"" + std::to_string(mod_rev) + "\"") !=
        std::string::npos) {
        return value;
    }
    boost::system::error_code ec;
    auto doc = boost::json::parse(value, ec);
    if (ec) return value;
    auto* obj = doc.if_object();
    if (!obj) return value;
    auto* meta = obj->if_contains("metadata");
    if (!meta || !meta->is_object() || !meta->as_object().contains("resourceVersion")) {
        return value;
    }
    meta->as_object()["resourceVersion"] = std::to_string(mod_rev);
    return boost::json::serialize(doc);
}

void EtcdStorage::Impl::saw(std::uint64_t rev) noexcept {
    auto cur = seen_rev.load(std::memory_order_relaxed);
    while (rev > cur && !seen_rev.compare_exchange_weak(cur, rev, std::memory_order_relaxed)) {
    }
}

std::unique_ptr<grpc::ClientContext> EtcdStorage::Impl::context() const {
    auto ctx = std::make_unique<grpc::ClientContext>();
    ctx->set_deadline(std::chrono::system_clock::now() + options.request_timeout);
    // Ride out a reconnect (etcd restarting) within the deadline instead of failing at once.
    ctx->set_wait_for_ready(true);
    return ctx;
}

Result<void> EtcdStorage::Impl::check_key(std::string_view key) const {
    if (!ns.empty() && !key.empty() && key.front() != '/') {
        return Error(errc::invalid_argument,
                     "key " + std::string(key) + " must start with '/' under an etcd key prefix");
    }
    return {};
}

std::pair<std::string, std::string> EtcdStorage::Impl::range_of(std::string_view prefix) const {
    std::string start = ns + std::string(prefix);
    if (!ns.empty() && prefix.empty()) start = ns + "/";
    // "\0" as range_end means "every key >= key" (etcd's WithFromKey / all keys).
    if (start.empty()) return {std::string(1, '\0'), std::string(1, '\0')};
    auto end = prefix_end(start);
    if (end.empty()) end.assign(1, '\0');
    return {start, end};
}

KeyValue EtcdStorage::Impl::to_kv(const mvccpb::KeyValue& kv) const {
    return KeyValue{from_etcd(kv.key()),
                    with_real_resource_version(kv.value(), u64(kv.mod_revision())),
                    u64(kv.mod_revision()), u64(kv.create_revision())};
}

Result<std::uint64_t> EtcdStorage::Impl::probe(std::uint64_t rev, bool serializable) {
    etcdserverpb::RangeRequest req;
    req.set_key(ns + "/");
    req.set_revision(i64(rev));
    req.set_keys_only(true);
    req.set_serializable(serializable);
    etcdserverpb::RangeResponse resp;
    auto st = read_call([&](grpc::ClientContext* ctx) { return kv_stub->Range(ctx, req, &resp); });
    if (!st.ok()) return etcd_error(st, "range");
    saw(u64(resp.header().revision()));
    return u64(resp.header().revision());
}

Result<std::uint64_t> EtcdStorage::Impl::refresh_compacted() {
    auto current = probe(0, false);
    if (!current) return current.error();
    // Range at revision r fails exactly when r < the compaction revision: bisect for the
    // oldest readable revision (about 20 local reads for a million revisions).
    std::uint64_t lo = 1, hi = *current;
    if (hi <= 1) return compacted.load();
    if (auto r = probe(lo, true); r) {
        hi = lo;
    } else if (!r.error().is(errc::expired)) {
        return r.error();
    }
    while (lo < hi) {
        auto mid = lo + (hi - lo) / 2;
        auto r = probe(mid, true);
        if (r) {
            hi = mid;
        } else if (r.error().is(errc::expired)) {
            lo = mid + 1;
        } else {
            return r.error();
        }
    }
    std::uint64_t found = hi > 1 ? hi : 0;
    auto cur = compacted.load();
    while (found > cur && !compacted.compare_exchange_weak(cur, found)) {
    }
    return compacted.load();
}

Result<void> EtcdStorage::Impl::compact(std::uint64_t rev) {
    if (rev <= compacted.load()) return {};
    etcdserverpb::CompactionRequest req;
    req.set_revision(i64(rev));
    etcdserverpb::CompactionResponse resp;
    auto st =
        read_call([&](grpc::ClientContext* ctx) { return kv_stub->Compact(ctx, req, &resp); });
    if (!st.ok()) {
        auto err = etcd_error(st, "compact");
        if (err.is(errc::expired)) return {};  // someone compacted further already
        if (err.is(errc::timeout) && st.error_message().find("future") != std::string::npos) {
            return Error(errc::invalid_argument,
                         "cannot compact at future revision " + std::to_string(rev));
        }
        return err;
    }
    saw(u64(resp.header().revision()));
    auto cur = compacted.load();
    while (rev > cur && !compacted.compare_exchange_weak(cur, rev)) {
    }
    return {};
}

void EtcdStorage::Impl::compaction_loop() {
    std::unique_lock lk(mu);
    while (!stopping) {
        if (cv.wait_for(lk, options.compaction_interval, [this] { return stopping; })) break;
        lk.unlock();
        auto current = probe(0, false);
        if (current && *current > options.compaction_retain + 1) {
            auto target = *current - options.compaction_retain;
            if (auto r = compact(target); !r) {
                logger()->warn("etcd compaction at {} failed: {}", target, r.error().message());
            } else {
                logger()->debug("etcd compacted at revision {}", target);
            }
        }
        lk.lock();
    }
}

// ---------------------------------------------------------------------------------------------
// EtcdStorage

EtcdStorage::EtcdStorage(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}

EtcdStorage::~EtcdStorage() {
    impl_->stop_feed();
    {
        std::lock_guard lk(impl_->mu);
        impl_->stopping = true;
    }
    impl_->cv.notify_all();
    if (impl_->compactor.joinable()) impl_->compactor.join();
}

Result<std::unique_ptr<EtcdStorage>> EtcdStorage::open(EtcdOptions options) {
    auto impl = std::make_shared<Impl>();
    impl->ns = options.key_prefix;
    while (impl->ns.ends_with('/')) impl->ns.pop_back();
    if (!impl->ns.empty() && impl->ns.front() != '/') {
        return Error(errc::invalid_argument,
                     "etcd key prefix " + options.key_prefix + " must start with '/'");
    }
    auto target = channel_target(options.endpoints);
    if (!target) return target.error();
    impl->options = std::move(options);

    grpc::ChannelArguments args;
    args.SetMaxReceiveMessageSize(-1);  // a list of 10,000 objects is far above the 4 MiB default
    // Find a restarted etcd within a second, not after gRPC's default backoff of up to 2 minutes.
    args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
    args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 100);
    args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1'000);
    impl->channel = grpc::CreateCustomChannel(*target, grpc::InsecureChannelCredentials(), args);
    if (!impl->channel->WaitForConnected(std::chrono::system_clock::now() +
                                         impl->options.dial_timeout)) {
        return Error(errc::unavailable, "etcd at " + *target + " did not answer within " +
                                            std::to_string(impl->options.dial_timeout.count()) +
                                            " ms");
    }
    impl->kv_stub = etcdserverpb::KV::NewStub(impl->channel);
    impl->watch_stub = etcdserverpb::Watch::NewStub(impl->channel);
    if (auto r = impl->refresh_compacted(); !r) return r.error();
    if (impl->options.compaction_interval.count() > 0) {
        impl->compactor = std::thread([raw = impl.get()] { raw->compaction_loop(); });
    }
    logger()->info("etcd storage at {} (key prefix '{}'), revision {}, compacted {}", *target,
                   impl->ns, impl->seen_rev.load(), impl->compacted.load());
    return std::unique_ptr<EtcdStorage>(new EtcdStorage(std::move(impl)));
}

Result<std::uint64_t> EtcdStorage::create(std::string_view key, const ValueFn& make_value) {
    if (auto r = impl_->check_key(key); !r) return r.error();
    auto serial = impl_->write_lock();
    auto value = make_value(impl_->seen_rev.load() + 1);
    if (!value) return value.error();
    auto ekey = impl_->to_etcd(key);
    etcdserverpb::TxnRequest txn;
    add_compare(txn, ekey, Compare::CREATE, Compare::EQUAL, 0);
    auto* put = txn.add_success()->mutable_request_put();
    put->set_key(ekey);
    put->set_value(std::move(*value));
    etcdserverpb::TxnResponse resp;
    auto ctx = impl_->context();
    auto st = impl_->kv_stub->Txn(ctx.get(), txn, &resp);
    if (!st.ok()) return etcd_error(st, "create " + std::string(key));
    auto rev = u64(resp.header().revision());
    impl_->saw(rev);
    if (!resp.succeeded()) return Error(errc::already_exists, std::string(key) + " already exists");
    return rev;
}

Result<KeyValue> EtcdStorage::get(std::string_view key) {
    if (auto r = impl_->check_key(key); !r) return r.error();
    etcdserverpb::RangeRequest req;
    req.set_key(impl_->to_etcd(key));
    etcdserverpb::RangeResponse resp;
    auto st = impl_->read_call(
        [&](grpc::ClientContext* ctx) { return impl_->kv_stub->Range(ctx, req, &resp); });
    if (!st.ok()) return etcd_error(st, "get " + std::string(key));
    impl_->saw(u64(resp.header().revision()));
    if (resp.kvs_size() == 0) return Error(errc::not_found, std::string(key) + " not found");
    return impl_->to_kv(resp.kvs(0));
}

Result<ListResult> EtcdStorage::list(std::string_view prefix, const ListOptions& options) {
    if (auto r = impl_->check_key(prefix); !r) return r.error();
    auto [start, end] = impl_->range_of(prefix);
    etcdserverpb::RangeRequest req;
    std::string from = options.continue_key.empty() ? start : impl_->to_etcd(options.continue_key);
    from = std::max(from, start);
    if (end != std::string(1, '\0') && from >= end) {
        // A continue key past the range: nothing left (etcd would refuse the inverted range).
        ListResult out;
        out.revision = options.at_revision ? options.at_revision : current_revision();
        return out;
    }
    req.set_key(from);
    req.set_range_end(end);
    req.set_limit(i64(options.limit));
    req.set_revision(i64(options.at_revision));
    etcdserverpb::RangeResponse resp;
    auto st = impl_->read_call(
        [&](grpc::ClientContext* ctx) { return impl_->kv_stub->Range(ctx, req, &resp); });
    if (!st.ok()) {
        auto err = etcd_error(st, "list " + std::string(prefix));
        if (err.is(errc::expired)) {
            (void)impl_->refresh_compacted();
            return Error(errc::expired, "revision " + std::to_string(options.at_revision) + " of " +
                                            std::string(prefix) + " has been compacted (oldest " +
                                            std::to_string(impl_->compacted.load()) + ")");
        }
        return err;
    }
    auto header_rev = u64(resp.header().revision());
    impl_->saw(header_rev);
    ListResult out;
    out.revision = options.at_revision ? options.at_revision : header_rev;
    out.items.reserve(static_cast<std::size_t>(resp.kvs_size()));
    for (const auto& kv : resp.kvs()) out.items.push_back(impl_->to_kv(kv));
    out.more = resp.more();
    if (out.more && !out.items.empty()) out.next_key = out.items.back().key + '\0';
    return out;
}

Result<std::uint64_t> EtcdStorage::update(std::string_view key, const ValueFn& make_value,
                                          std::uint64_t expected_mod_rev) {
    if (auto r = impl_->check_key(key); !r) return r.error();
    auto serial = impl_->write_lock();
    auto value = make_value(impl_->seen_rev.load() + 1);
    if (!value) return value.error();
    auto ekey = impl_->to_etcd(key);
    etcdserverpb::TxnRequest txn;
    add_mod_guard(txn, ekey, expected_mod_rev);
    auto* put = txn.add_success()->mutable_request_put();
    put->set_key(ekey);
    put->set_value(std::move(*value));
    add_failure_read(txn, ekey);
    etcdserverpb::TxnResponse resp;
    auto ctx = impl_->context();
    auto st = impl_->kv_stub->Txn(ctx.get(), txn, &resp);
    if (!st.ok()) return etcd_error(st, "update " + std::string(key));
    auto rev = u64(resp.header().revision());
    impl_->saw(rev);
    if (!resp.succeeded()) return refused(resp, key, expected_mod_rev);
    return rev;
}

Result<DeleteResult> EtcdStorage::remove(std::string_view key, std::uint64_t expected_mod_rev) {
    if (auto r = impl_->check_key(key); !r) return r.error();
    auto serial = impl_->write_lock();
    auto ekey = impl_->to_etcd(key);
    etcdserverpb::TxnRequest txn;
    add_mod_guard(txn, ekey, expected_mod_rev);
    auto* del = txn.add_success()->mutable_request_delete_range();
    del->set_key(ekey);
    del->set_prev_kv(true);
    add_failure_read(txn, ekey);
    etcdserverpb::TxnResponse resp;
    auto ctx = impl_->context();
    auto st = impl_->kv_stub->Txn(ctx.get(), txn, &resp);
    if (!st.ok()) return etcd_error(st, "delete " + std::string(key));
    auto rev = u64(resp.header().revision());
    impl_->saw(rev);
    if (!resp.succeeded()) return refused(resp, key, expected_mod_rev);
    DeleteResult out;
    out.rev = rev;
    if (resp.responses_size() > 0 && resp.responses(0).has_response_delete_range() &&
        resp.responses(0).response_delete_range().prev_kvs_size() > 0) {
        out.prev = impl_->to_kv(resp.responses(0).response_delete_range().prev_kvs(0));
    } else {
        out.prev.key = std::string(key);
    }
    return out;
}

std::uint64_t EtcdStorage::current_revision() {
    auto r = impl_->probe(0, false);
    if (!r) {
        logger()->warn("etcd current revision: {}", r.error().message());
        return impl_->seen_rev.load();
    }
    return *r;
}

std::uint64_t EtcdStorage::compacted_revision() { return impl_->compacted.load(); }

Result<void> EtcdStorage::compact(std::uint64_t rev) { return impl_->compact(rev); }

}  // namespace kedge::apiserver::storage
