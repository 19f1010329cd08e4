#include "edge/metamanager/meta_manager.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>

#include <array>
#include <mutex>
#include <optional>

#include "base/log.hpp"
#include "base/uuid.hpp"
#include "bus/codec.hpp"
#include "bus/constants.hpp"
#include "bus/context.hpp"
#include "bus/resource.hpp"
#include "edge/edgehub/edge_hub.hpp"
#include "edge/metamanager/remote_write.hpp"
#include "edge/metamanager/replies.hpp"
#include "hub/inventory.hpp"
#include "net/run_blocking.hpp"

namespace kedge::edge {

namespace asio = boost::asio;
namespace json = boost::json;

namespace {

// Sources that mean "this came from the cloud" (upstream's cloud module names).
bool is_cloud_source(std::string_view source) {
    static constexpr std::array kCloud = {
        bus::kModuleEdgeController, bus::kModuleDeviceController, bus::kModuleSyncController,
        bus::kModuleDynamicController, bus::kModuleCloudHub,       bus::kModuleRouter,
        bus::kModulePolicyController, bus::kModuleTaskManager,     bus::kModuleCloudStream};
    for (auto c : kCloud)
        if (source == c) return true;
    return false;
}

bool is_object_op(std::string_view op) {
    return op == bus::kOpInsert || op == bus::kOpUpdate || op == bus::kOpDelete;
}

bool is_device_type(std::string_view type) {
    return type == "device" || type == "devicemodel" || type == "membership" ||
           type == "membership/detail" || type.starts_with("twin/");
}

// The outbox coalescing key: one pending message per operation and object.
std::string outbox_key(const bus::Message& m) { return m.operation() + ":" + m.resource(); }

}  // namespace

struct MetaManager::Impl : std::enable_shared_from_this<MetaManager::Impl> {
    MetaManagerOptions options;
    std::shared_ptr<MetaStore> store;
    bus::Context* ctx = nullptr;
    // Every coroutine and timer of the module runs here, so its state needs no lock.
    std::optional<asio::strand<asio::any_io_executor>> strand;
    std::shared_ptr<spdlog::logger> log = kedge::log::get("metamanager");
    std::atomic<bool> connected{false};
    std::atomic<bool> stopped{false};
    bool flushing = false;       // executor-owned
    std::size_t outbox_size = 0; // executor-owned: entries not delivered yet
    std::optional<asio::steady_timer> flush_timer;
    // SQLite commits (fsync: synchronous=FULL) run here, not on the I/O thread that also serves
    // the hub session and the meta server.
    asio::thread_pool store_pool{1};

    mutable std::mutex stats_mu;
    MetaManagerStats stats;

    template <class F>
    void count(F&& f) {
        std::lock_guard lock(stats_mu);
        f(stats);
    }

    Impl(MetaManagerOptions o, std::shared_ptr<MetaStore> s)
        : options(std::move(o)), store(std::move(s)) {}

    void spawn(asio::awaitable<void> task, const char* what) {
        asio::co_spawn(*strand, std::move(task),
                       log::log_exceptions(log, what));
    }

    // ---- the receive loop ----

    asio::awaitable<void> run() {
        auto self = shared_from_this();
        if (auto n = store->outbox_list(); n) outbox_size = n->size();
        for (;;) {
            auto next = co_await ctx->receive(std::string(bus::kModuleMetaManager));
            if (!next) {
                if (!next.error().is(errc::closed)) log->warn("receive: {}", next.error().message());
                co_return;
            }
            co_await dispatch(std::move(*next));
        }
    }

    bool is_downstream_object(const bus::Message& m) const {
        return is_cloud_source(m.source()) && is_object_op(m.operation()) && !m.is_response();
    }

    asio::awaitable<void> dispatch(bus::Message m) {
        if (m.resource() == kConnectionResource) {
            on_connection(m);
            co_return;
        }
        if (hub::is_resync_response(m)) {
            on_resync(m);
            co_return;
        }
        if (is_downstream_object(m)) {
            std::vector<bus::Message> batch;
            batch.push_back(std::move(m));
            std::optional<bus::Message> after;
            while (batch.size() < options.max_batch) {
                auto more = ctx->try_receive(bus::kModuleMetaManager);
                if (!more) break;
                if (!is_downstream_object(*more)) {
                    after = std::move(*more);
                    break;
                }
                batch.push_back(std::move(*more));
            }
            co_await store_and_ack(std::move(batch));
            if (after) co_await dispatch(std::move(*after));
            co_return;
        }
        if (is_cloud_source(m.source())) {
            // Not an object for the store: membership and twin messages belong to the twin.
            forward_after_store(m);
            co_return;
        }
        if (m.operation() == bus::kOpQuery) {
            spawn(query(std::move(m)), "query");
            co_return;
        }
        if (m.operation() == bus::kOpResponse || m.operation() == bus::kOpError) {
            log->debug("dropping unmatched {} for {} (parent {})", m.operation(), m.resource(),
                       m.parent_id());
            co_return;
        }
        spawn(upstream(std::move(m)), "upstream update");
    }

    // ---- downstream ----

    // Commits the batch in one transaction, then acks and forwards each message. A message
    // that cannot be stored is logged and not acked (the cloud resends it; the rest goes on).
    asio::awaitable<void> store_and_ack(std::vector<bus::Message> batch) {
        auto self = shared_from_this();
        std::vector<MetaWrite> writes;
        std::vector<const bus::Message*> accepted;
        writes.reserve(batch.size());
        for (const auto& m : batch) {
            auto w = to_write(m);
            if (!w) {
                log->warn("not storing {} {} from {} (msg {}): {}", m.operation(), m.resource(),
                          m.source(), m.id(), w.error().message());
                continue;
            }
            writes.push_back(std::move(*w));
            accepted.push_back(&m);
        }
        if (writes.empty()) co_return;
        auto applied =
            co_await net::run_blocking(store_pool, [this, &writes] { return store->apply(writes); });
        if (!applied) {
            log->error("storing {} object(s) failed, not acking them (the cloud will resend): {}",
                       writes.size(), applied.error().message());
            count([](auto& s) { ++s.store_failures; });
            co_return;
        }
        count([&](auto& s) { s.stored += writes.size(); });
        std::uint64_t acked = 0;
        for (const auto* m : accepted) {
            auto ack = bus::make_response(*m, bus::Content::from_string("OK"));
            if (auto sent = ctx->send(bus::kModuleEdgeHub, std::move(ack)); sent) ++acked;
            else log->debug("ack for {} not sent: {}", m->id(), sent.error().message());
            forward_after_store(*m);
        }
        count([&](auto& s) { s.acked += acked; });
    }

    Result<MetaWrite> to_write(const bus::Message& m) const {
        auto ref = bus::parse_resource(m.resource());
        if (!ref) return ref.error();
        if (ref->name.empty())
            return Error(errc::invalid_argument, "resource names no object: " + m.resource());
        MetaWrite w;
        w.key = MetaKey{ref->ns.empty() ? "null" : ref->ns, ref->type, ref->name};
        if (m.operation() == bus::kOpDelete) {
            // The deleted object (when the cloud sends it) carries the delete's
            // resourceVersion, which keeps the store's high-water mark moving for watches.
            w.op = MetaWrite::Op::remove;
            if (auto v = m.content.value(); v && (*v)->is_object() && !(*v)->as_object().empty())
                w.json = m.content.has_raw() ? std::string(m.content.raw()) : m.content.to_json();
            return w;
        }
        auto v = m.content.value();
        if (!v) return v.error();
        if (!(*v)->is_object())
            return Error(errc::invalid_argument, "content is not an object");
        w.op = MetaWrite::Op::put;
        w.json = m.content.has_raw() ? std::string(m.content.raw()) : m.content.to_json();
        return w;
    }

    // Hands a stored (or store-less) cloud message to the module that acts on it.
    void forward_after_store(const bus::Message& m) {
        std::string_view module;
        auto ref = bus::parse_resource(m.resource());
        std::string type = ref ? ref->type : std::string(m.resource());
        if (is_device_type(type) || m.group() == bus::kGroupTwin) module = bus::kModuleTwin;
        else if (type == bus::kResPod || type == bus::kResConfigMap || type == bus::kResSecret ||
                 type == bus::kResNode || type == bus::kResServiceAccountToken)
            module = bus::kModuleEdged;
        if (module.empty() || !ctx->is_enabled(module)) return;
        if (auto sent = ctx->send(module, m); !sent)
            log->warn("{} {} not handed to {}: {}", m.operation(), m.resource(), module,
                      sent.error().message());
    }

    void on_connection(const bus::Message& m) {
        if (m.content.string_equals(kCloudConnected)) {
            connected = true;
            log->info("cloud connected ({} update(s) waiting in the outbox)", outbox_size);
            start_flush();
            arm_flush_timer();
        } else if (m.content.string_equals(kCloudDisconnected)) {
            connected = false;
            log->info("cloud disconnected: serving from the local store, updates go to the outbox");
        }
    }

    void on_resync(const bus::Message& m) {
        count([](auto& s) { ++s.resyncs; });
        auto summary = hub::parse_resync_response(m);
        if (!summary) {
            log->warn("unreadable resync response: {}", summary.error().message());
            return;
        }
        log->info("level with the cloud: {} inserted, {} updated, {} deleted, {} unchanged",
                  summary->inserted, summary->updated, summary->deleted, summary->unchanged);
    }

    // ---- upstream ----

    // The message as it goes to the cloud: group resource, a fresh id, same source/op/resource.
    static bus::Message for_cloud(const bus::Message& m) {
        bus::Message out = m;
        out.header.msg_id = new_uuid();
        out.header.parent_msg_id.clear();
        out.header.sync = false;
        out.route.group = std::string(bus::kGroupResource);
        out.route.destination.clear();
        return out;
    }

    // Sends to the cloud and waits for its answer. unavailable when the hub could not deliver it
    // (not connected), timeout when the cloud did not answer; otherwise the cloud's answer
    // (a `response`, or an `error` with the cloud's reason).
    asio::awaitable<Result<bus::Message>> send_to_cloud(bus::Message m,
                                                        std::chrono::milliseconds timeout) {
        if (!connected) co_return Error(errc::unavailable, std::string(kCloudNotConnected));
        auto reply = co_await ctx->request(std::string(bus::kModuleEdgeHub), std::move(m), timeout);
        if (!reply) co_return reply.error();
        if (reply->operation() == bus::kOpError &&
            reply->content.string_equals(kCloudNotConnected))
            co_return Error(errc::unavailable, std::string(kCloudNotConnected));
        co_return reply;
    }

    asio::awaitable<void> upstream(bus::Message m) {
        auto self = shared_from_this();
        auto out = for_cloud(m);
        if (connected && outbox_size == 0) {
            auto reply = co_await send_to_cloud(out, options.upstream_timeout);
            if (reply) {
                count([](auto& s) { ++s.sent_upstream; });
                after_cloud_reply(*reply);
                if (m.header.sync) {
                    bus::Message r = *reply;
                    r.header.parent_msg_id = m.id();
                    ctx->send_response(std::move(r));
                }
                co_return;
            }
            log->info("{} {} not delivered ({}); keeping it for later", out.operation(),
                      out.resource(), reply.error().message());
        }
        auto key = outbox_key(out);
        auto encoded = bus::encode(out);
        auto put = co_await net::run_blocking(store_pool, [this, &key, &encoded] {
            auto r = store->outbox_put(key, encoded);
            return r ? store->outbox_list() : Result<std::vector<OutboxEntry>>(r.error());
        });
        if (!put) {
            log->error("cannot keep {} {} for later: {}", out.operation(), out.resource(),
                       put.error().message());
        } else {
            count([](auto& s) { ++s.queued_offline; });
            outbox_size = put->size();
        }
        if (m.header.sync) {
            ctx->send_response(
                bus::make_error_response(m, bus::Content::from_string(kQueuedForDelivery)));
        }
        if (connected) start_flush();
    }

    // Stores what a cloud answer carries (ObjectResp {"Object": ...}) so that local reads see
    // the object as the cloud has it now.
    void after_cloud_reply(const bus::Message& reply) {
        if (reply.operation() != bus::kOpResponse) {
            auto text = reply.content.as_string();
            log->warn("the cloud refused {} {}: {}", reply.operation(), reply.resource(),
                      text ? *text : reply.content.to_json());
            return;
        }
    }

    void start_flush() {
        if (flushing || outbox_size == 0 || !connected) return;
        flushing = true;
        spawn(flush(), "outbox flush");
    }

    asio::awaitable<void> flush() {
        auto self = shared_from_this();
        auto entries = co_await net::run_blocking(store_pool, [this] { return store->outbox_list(); });
        if (!entries) {
            log->error("reading the outbox: {}", entries.error().message());
            flushing = false;
            co_return;
        }
        std::size_t delivered = 0;
        for (const auto& e : *entries) {
            if (!connected || stopped) break;
            auto decoded = bus::decode(std::string_view(e.message));
            if (!decoded) {
                log->error("dropping unreadable outbox entry {}: {}", e.key,
                           decoded.error().message());
                (void)co_await net::run_blocking(
                    store_pool, [this, &e] { return store->outbox_remove(e.key, e.seq); });
                continue;
            }
            auto out = for_cloud(*decoded);
            auto reply = co_await send_to_cloud(out, options.upstream_timeout);
            if (!reply) {
                log->info("outbox flush paused at {}: {}", e.key, reply.error().message());
                break;
            }
            after_cloud_reply(*reply);
            if (auto r = co_await net::run_blocking(
                    store_pool, [this, &e] { return store->outbox_remove(e.key, e.seq); });
                !r)
                log->warn("outbox remove {}: {}", e.key, r.error().message());
            ++delivered;
        }
        if (auto n = co_await net::run_blocking(store_pool, [this] { return store->outbox_list(); });
            n)
            outbox_size = n->size();
        if (delivered) {
            count([&](auto& s) { s.flushed += delivered; });
            log->info("delivered {} update(s) kept while offline ({} left)", delivered,
                      outbox_size);
        }
        flushing = false;
    }

    // While connected, retry what is left in the outbox now and then (a timeout while online).
    void arm_flush_timer() {
        if (!flush_timer) flush_timer.emplace(*strand);
        flush_timer->expires_after(std::chrono::seconds(10));
        flush_timer->async_wait([w = weak_from_this()](boost::system::error_code ec) {
            auto self = w.lock();
            if (ec || !self || self->stopped) return;
            if (self->connected) {
                self->start_flush();
                self->arm_flush_timer();
            }
        });
    }

    // ---- queries ----

    bool remote_queryable(std::string_view type) const {
        return type == bus::kResConfigMap || type == bus::kResSecret ||
               type == bus::kResServiceAccountToken || type == bus::kResNode ||
               type == bus::kResLease || type == bus::kResPod;
    }

    asio::awaitable<void> query(bus::Message m) {
        auto self = shared_from_this();
        auto ref = bus::parse_resource(m.resource());
        if (!ref) {
            reply_error(m, "bad resource: " + ref.error().message());
            co_return;
        }
        if (connected && remote_queryable(ref->type)) {
            count([](auto& s) { ++s.remote_queries; });
            auto reply = co_await send_to_cloud(for_cloud(m), options.remote_query_timeout);
            if (reply && reply->operation() == bus::kOpResponse) {
                co_await store_queried(*ref, *reply);
                bus::Message r = *reply;
                r.header.parent_msg_id = m.id();
                if (m.header.sync) ctx->send_response(std::move(r));
                co_return;
            }
            log->info("remote query {} failed ({}), answering from the local store",
                      m.resource(),
                      reply ? reply->content.to_json() : reply.error().message());
            count([](auto& s) { ++s.local_fallbacks; });
        }
        local_query(m, *ref);
    }

    asio::awaitable<void> store_queried(const bus::ResourceRef& ref, const bus::Message& reply) {
        if (ref.name.empty() || ref.type == bus::kResServiceAccountToken) co_return;
        auto v = reply.content.value();
        if (!v || !(*v)->is_object()) co_return;
        const json::object* obj = &(*v)->as_object();
        if (auto it = obj->find("Object"); it != obj->end() && it->value().is_object())
            obj = &it->value().as_object();
        if (!obj->contains("metadata")) co_return;
        MetaWrite w{MetaWrite::Op::put, MetaKey{ref.ns.empty() ? "null" : ref.ns, ref.type, ref.name},
                    json::serialize(*obj)};
        if (auto r = co_await net::run_blocking(
                store_pool, [this, &w] { return store->apply(std::span<const MetaWrite>(&w, 1)); });
            !r)
            log->warn("storing queried {}: {}", w.key.str(), r.error().message());
    }

    void local_query(const bus::Message& m, const bus::ResourceRef& ref) {
        std::string ns = ref.ns.empty() ? "null" : ref.ns;
        if (ref.name.empty()) {
            auto items = store->list_type(ref.type, ref.ns.empty() ? "" : ns);
            if (!items) return reply_error(m, items.error().message());
            std::string out = "[";
            for (std::size_t i = 0; i < items->size(); ++i) {
                if (i) out += ',';
                out += (*items)[i].json;
            }
            out += ']';
            return reply_json(m, std::move(out));
        }
        auto obj = store->get(MetaKey{ns, ref.type, ref.name});
        if (!obj) return reply_error(m, obj.error().message());
        if (!*obj) return reply_error(m, "not found: " + m.resource());
        reply_json(m, std::move((*obj)->json));
    }

    void reply_json(const bus::Message& m, std::string text) {
        if (!m.header.sync) return;
        auto content = bus::Content::from_trusted_json(
            std::make_shared<const std::string>(std::move(text)));
        ctx->send_response(bus::make_response(m, std::move(content)));
    }
    void reply_error(const bus::Message& m, std::string why) {
        log->debug("query {}: {}", m.resource(), why);
        if (m.header.sync)
            ctx->send_response(bus::make_error_response(m, bus::Content::from_string(why)));
    }

    // ---- the meta server's writes ----

    asio::awaitable<Result<RemoteResult>> remote_write(RemoteWrite w) {
        auto self = shared_from_this();
        if (!connected) co_return Error(errc::unavailable, std::string(kCloudNotConnected));
        auto msg = remote_write_message(w, options.node);
        if (!msg) co_return msg.error();
        auto reply = co_await send_to_cloud(std::move(*msg), options.upstream_timeout);
        if (!reply) co_return reply.error();
        co_return remote_result(w, *reply);
    }
};

MetaManager::MetaManager(MetaManagerOptions options, std::shared_ptr<MetaStore> store)
    : impl_(std::make_shared<Impl>(std::move(options), std::move(store))) {}

MetaManager::~MetaManager() { stop(); }

std::string MetaManager::name() const { return std::string(bus::kModuleMetaManager); }
std::string MetaManager::group() const { return std::string(bus::kGroupMeta); }

void MetaManager::start(bus::Context& ctx) {
    impl_->ctx = &ctx;
    impl_->strand.emplace(asio::make_strand(ctx.get_executor()));
    impl_->spawn(impl_->run(), "meta manager loop");
}

void MetaManager::stop() {
    impl_->stopped = true;
    if (impl_->strand) {
        auto impl = impl_;
        asio::post(*impl_->strand, [impl] {
            if (impl->flush_timer) impl->flush_timer->cancel();
        });
    }
}

RemoteWriter MetaManager::remote_writer() {
    std::weak_ptr<Impl> w = impl_;
    return [w](RemoteWrite write) -> asio::awaitable<Result<RemoteResult>> {
        auto impl = w.lock();
        if (!impl || impl->stopped) co_return Error(errc::closed, "edgecore is stopping");
        co_return co_await impl->remote_write(std::move(write));
    };
}

bool MetaManager::cloud_connected() const { return impl_->connected; }

MetaManagerStats MetaManager::stats() const {
    std::lock_guard lock(impl_->stats_mu);
    return impl_->stats;
}

}  // namespace kedge::edge
