// The CloudHub: a WsServer whose authorizer binds each connection to its node and whose handler
// runs one NodeSession per node (a newer connection replaces the older one, taking over its
// unacked messages).
#include "cloud/hub/cloud_hub.hpp"

#include <boost/asio/co_spawn.hpp>

#include "base/log.hpp"
#include "bus/constants.hpp"
#include "cloud/hub/hub_session.hpp"

namespace kedge::cloud {
namespace detail {
namespace {

// RFC 6455 §7.4.1: the server cannot take the connection now; the client may retry.
constexpr std::uint16_t kWsCloseTryAgainLater = 1013;

constexpr std::string_view kKnownOperations[] = {
    bus::kOpInsert,       bus::kOpUpdate,    bus::kOpDelete,
    bus::kOpQuery,        bus::kOpPatch,     bus::kOpUpload,
    bus::kOpResponse,     bus::kOpError,     bus::kOpKeepalive,
    bus::kOpConnect,      bus::kOpSubscribe, bus::kOpUnsubscribe,
    bus::kOpMessage,      bus::kOpPublish,   bus::kOpGetResult,
    bus::kOpStart,        bus::kOpStop,      bus::kOpList,
    bus::kOpDetail,       bus::kOpDelta,     bus::kOpDocument,
    bus::kOpUpdated,      bus::kOpDeleted,   bus::kOpConnected,
    bus::kOpDisconnected, bus::kOpConfig,    bus::kOpPing,
    bus::kOpPong,         "resync"};  // kedge's inventory (hub/inventory.hpp)
constexpr std::size_t kKnownCount = std::size(kKnownOperations);

class NullObserver final : public HubObserver {
public:
    void node_connected(const std::string&) override {}
    void node_disconnected(const std::string&) override {}
    void upstream(const std::string&, bus::Message) override {}
};

}  // namespace

void OperationCounters::add(std::string_view operation) {
    static_assert(kKnownCount < kSlots);
    std::size_t i = 0;
    while (i < kKnownCount && kKnownOperations[i] != operation) ++i;
    counts_[i].fetch_add(1, std::memory_order_relaxed);
}

std::map<std::string, std::uint64_t> OperationCounters::snapshot() const {
    std::map<std::string, std::uint64_t> out;
    for (std::size_t i = 0; i <= kKnownCount; ++i) {
        auto n = counts_[i].load(std::memory_order_relaxed);
        if (n > 0) out[i < kKnownCount ? std::string(kKnownOperations[i]) : "other"] = n;
    }
    return out;
}

HubCore::HubCore(CloudHubOptions opts, std::shared_ptr<HubObserver> obs, const Clock& clk)
    : options(std::move(opts)),
      observer(obs ? std::move(obs) : std::make_shared<NullObserver>()),
      clock(clk),
      log(log::get("cloudhub")) {}

bool HubCore::warning_allowed() {
    auto now = std::chrono::duration_cast<std::chrono::seconds>(
                   std::chrono::steady_clock::now().time_since_epoch())
                   .count();
    if (warn_window.exchange(now) != now) warn_count = 0;
    return ++warn_count <= 20;
}

void HubCore::count_refusal(const std::string& reason) {
    std::lock_guard lock(failures_mu);
    ++handshake_failures[reason];
}

std::shared_ptr<NodeSession> HubCore::find(const std::string& node) const {
    std::lock_guard lock(mu);
    auto it = sessions.find(node);
    return it == sessions.end() ? nullptr : it->second;
}

Result<void> HubCore::authorize(const net::WsUpgradeRequest& request) {
    auto admission = authorize_hub_upgrade(request, options.allow_legacy_node_certificates);
    if (!admission.ok()) {
        count_refusal(admission.reason);
        if (warning_allowed())
            log->warn("refused hub connection from {} (CN \"{}\"): {}: {}", request.remote_address,
                      request.peer.common_name.substr(0, 128), admission.reason,
                      admission.error.detail);
        return admission.error;
    }
    if (admission.legacy_certificate)
        log->warn(
            "node {} from {} connects with a legacy CN=kubeedge.io certificate that does "
            "not name the node: its identity rests on the node_id header alone "
            "(allow_legacy_node_certificates is on)",
            admission.node, request.remote_address);
    std::lock_guard lock(mu);
    if (stopped) return Error(errc::unavailable, "the hub is shutting down");
    if (!sessions.contains(admission.node) && sessions.size() >= options.node_limit) {
        {
            std::lock_guard failures(failures_mu);
            ++handshake_failures["node_limit"];
        }
        if (warning_allowed())
            log->warn("refused node {} from {}: node limit {} reached", admission.node,
                      request.remote_address, options.node_limit);
        return Error(errc::unavailable,
                     "node limit (" + std::to_string(options.node_limit) + ") reached");
    }
    return {};
}

boost::asio::awaitable<void> HubCore::serve(std::shared_ptr<net::WsConnection> conn) {
    auto self = shared_from_this();
    // The authorizer validated node_id; it is re-read here because the WsServer keeps no
    // per-connection state between the two.
    auto session = std::make_shared<NodeSession>(self, conn->request_header("node_id"), conn);
    const std::string& node = session->node();
    std::shared_ptr<NodeSession> old;
    {
        std::lock_guard order(observer_order);
        {
            std::lock_guard lock(mu);
            auto it = sessions.find(node);
            if (stopped || (it == sessions.end() && sessions.size() >= options.node_limit)) {
                // Lost a race with other connections after the authorizer said yes.
                if (!stopped) count_refusal("node_limit");
                conn->close(kWsCloseTryAgainLater,
                            stopped ? "shutting down" : "node limit reached");
                co_return;
            }
            if (it != sessions.end()) {
                old = std::move(it->second);
                it->second = session;
            } else {
                sessions.emplace(node, session);
            }
        }
        ++sessions_opened;
        if (old) {
            // The old connection's unacked messages go first on the new one, with their msg_ids.
            auto unacked = old->retire();
            ++sessions_replaced;
            log->info("{}: replaces {} from {}; {} unacked messages move over", session->prefix(),
                      old->prefix(), old->connection().remote_address(), unacked.size());
            old->connection().close(net::kWsClosePolicy, "replaced by a newer connection");
            session->adopt(std::move(unacked));
        } else {
            log->info("{}: connected from {}", session->prefix(), conn->remote_address());
        }
        observer->node_connected(node);
    }

    Error why = co_await session->run();

    std::size_t dropped_no_ack = 0;
    auto unacked = session->retire(&dropped_no_ack);
    ++sessions_closed;
    std::lock_guard order(observer_order);
    bool last = false;
    {
        std::lock_guard lock(mu);
        auto it = sessions.find(node);
        if (it != sessions.end() && it->second == session) {
            sessions.erase(it);
            last = true;
        }
    }
    if (!last) co_return;  // replaced: the new session has the node now
    log->info("{}: disconnected: {}{}", session->prefix(), why.detail,
              unacked.empty() && dropped_no_ack == 0
                  ? std::string()
                  : " (" + std::to_string(unacked.size() + dropped_no_ack) +
                        " undelivered messages dropped; the node resyncs on reconnect)");
    observer->node_disconnected(node);
}

Result<void> HubCore::send(const std::string& node, bus::Message msg) {
    // Twice: a session that is being replaced refuses, and the registry then names its successor.
    for (int attempt = 0; attempt < 2; ++attempt) {
        auto session = find(node);
        if (!session) break;
        auto outcome = session->push(msg);
        if (outcome) return {};
        if (outcome.error().is(errc::queue_full)) {
            ++send_queue_full;
            return outcome.error();
        }
    }
    ++send_unavailable;
    return Error(errc::unavailable, "node " + node + " has no session");
}

}  // namespace detail

namespace {

class CloudHubImpl final : public CloudHub {
public:
    CloudHubImpl(std::shared_ptr<detail::HubCore> core, std::shared_ptr<net::WsServer> server)
        : core_(std::move(core)), server_(std::move(server)) {}
    ~CloudHubImpl() override { stop(); }

    Result<void> send(const std::string& node, bus::Message msg) override {
        return core_->send(node, std::move(msg));
    }
    bool is_connected(const std::string& node) const override {
        return core_->find(node) != nullptr;
    }
    Result<void> start() override { return server_->start(); }
    void stop() override {
        {
            std::lock_guard lock(core_->mu);
            core_->stopped = true;
        }
        server_->stop();
    }
    unsigned short port() const override { return server_->port(); }
    void set_tls_context(std::shared_ptr<net::TlsContext> tls) override {
        server_->set_tls_context(std::move(tls));
    }
    std::vector<std::string> connected_nodes() const override {
        std::lock_guard lock(core_->mu);
        std::vector<std::string> out;
        out.reserve(core_->sessions.size());
        for (const auto& [node, session] : core_->sessions) out.push_back(node);
        return out;
    }
    HubStats stats() const override;

private:
    std::shared_ptr<detail::HubCore> core_;
    std::shared_ptr<net::WsServer> server_;
};

HubStats CloudHubImpl::stats() const {
    const auto& c = *core_;
    HubStats s;
    {
        std::lock_guard lock(c.mu);
        s.connected_nodes = c.sessions.size();
    }
    {
        std::lock_guard lock(c.failures_mu);
        s.handshake_failures = c.handshake_failures;
    }
    s.sessions_opened = c.sessions_opened;
    s.sessions_closed = c.sessions_closed;
    s.sessions_replaced = c.sessions_replaced;
    s.messages_in = c.messages_in.snapshot();
    s.messages_out = c.messages_out.snapshot();
    s.bytes_in = c.bytes_in;
    s.bytes_out = c.bytes_out;
    s.malformed_frames = c.malformed_frames;
    s.queue_depth = static_cast<std::size_t>(std::max<std::int64_t>(0, c.queue_depth));
    s.pending_acks = static_cast<std::size_t>(std::max<std::int64_t>(0, c.pending_acks));
    s.send_unavailable = c.send_unavailable;
    s.send_queue_full = c.send_queue_full;
    return s;
}

}  // namespace

Result<std::shared_ptr<CloudHub>> CloudHub::make(boost::asio::any_io_executor ex,
                                                 CloudHubOptions options,
                                                 std::shared_ptr<HubObserver> observer,
                                                 const Clock& clock) {
    if (!options.tls || !options.tls->is_server())
        return Error(errc::invalid_argument,
                     "CloudHub needs a server TLS context that requires client certificates");
    if (options.node_limit == 0)
        return Error(errc::invalid_argument, "CloudHub: node_limit must be at least 1");
    if (options.keepalive_interval.count() <= 0 || options.max_message_bytes == 0)
        return Error(errc::invalid_argument,
                     "CloudHub: keepalive_interval and max_message_bytes must be positive");
    net::WsServerOptions ws;
    ws.host = options.address;
    ws.port = options.port;
    ws.tls = options.tls;
    ws.log_name = "hub";
    ws.ws.max_message_bytes = options.max_message_bytes;
    ws.ws.handshake_timeout = options.handshake_timeout;
    // Beast's idle timer is the keepalive check: any frame from the edge resets it.
    ws.ws.idle_timeout = options.keepalive_interval;
    // Replacements overlap briefly; node_limit itself is enforced by the authorizer.
    ws.max_connections = std::max<std::size_t>(options.node_limit * 2, options.node_limit + 64);
    auto server = net::WsServer::create(ex, std::move(ws));
    if (!server) return server.error();
    auto core = std::make_shared<detail::HubCore>(std::move(options), std::move(observer), clock);
    std::weak_ptr<detail::HubCore> weak = core;
    (*server)->set_authorizer([weak](const net::WsUpgradeRequest& request) -> Result<void> {
        auto core = weak.lock();
        if (!core) return Error(errc::unavailable, "the hub is gone");
        return core->authorize(request);
    });
    (*server)->set_handler(
        [weak](std::shared_ptr<net::WsConnection> conn) -> boost::asio::awaitable<void> {
            auto core = weak.lock();
            if (!core) co_return;
            co_await core->serve(std::move(conn));
        });
    return std::shared_ptr<CloudHub>(
        std::make_shared<CloudHubImpl>(std::move(core), std::move(*server)));
}

}  // namespace kedge::cloud
