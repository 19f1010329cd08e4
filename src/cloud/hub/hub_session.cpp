// One node's session: the writer that drains its NodeSendQueue into the WebSocket (with the
// queue's resend timer) and the reader that consumes keepalives, control messages and acks and
// hands everything else to the observer.
#include "cloud/hub/hub_session.hpp"

#include <boost/asio/post.hpp>

#include <strings.h>

#include "base/log.hpp"
#include "bus/codec.hpp"
#include "bus/constants.hpp"
#include "hub/message_stream.hpp"

namespace kedge::cloud::detail {
namespace {

namespace asio = boost::asio;

// Frames handed to the connection but not yet written. The rest waits in the NodeSendQueue,
// where a newer version of an object can still replace an older one.
constexpr std::size_t kMaxConnectionBacklog = 32;
// How often the writer looks again while the connection's backlog is full.
constexpr std::chrono::milliseconds kBacklogPoll{20};

bool is_cloud_module(std::string_view source) {
    static constexpr std::string_view kModules[] = {
        bus::kModuleCloudHub, bus::kModuleEdgeController, bus::kModuleDeviceController,
        bus::kModuleSyncController, bus::kModuleCloudStream};
    for (auto m : kModules)
        if (m.size() == source.size() && strncasecmp(m.data(), source.data(), m.size()) == 0)
            return true;
    return false;
}

}  // namespace

NodeSession::NodeSession(std::shared_ptr<HubCore> core, std::string node,
                         std::shared_ptr<net::WsConnection> conn)
    : core_(std::move(core)),
      node_(std::move(node)),
      conn_(std::move(conn)),
      timer_(conn_->get_executor()),
      queue_(node_, core_->clock, core_->options.queue) {}

std::string NodeSession::prefix() const {
    return "node " + node_ + " ws#" + std::to_string(conn_->id());
}

void NodeSession::update_gauges() {
    auto st = queue_.stats();
    core_->queue_depth +=
        static_cast<std::int64_t>(st.depth) - static_cast<std::int64_t>(gauge_depth_);
    core_->pending_acks +=
        static_cast<std::int64_t>(st.pending_acks) - static_cast<std::int64_t>(gauge_pending_);
    gauge_depth_ = st.depth;
    gauge_pending_ = st.pending_acks;
}

Result<PushOutcome> NodeSession::push(bus::Message& msg) {
    bool post = false;
    Result<PushOutcome> outcome = PushOutcome::kQueued;
    {
        std::lock_guard lock(mu_);
        if (retired_) return Error(errc::unavailable, prefix() + ": session is closing");
        outcome = queue_.push(std::move(msg));
        update_gauges();
        if (outcome && queue_.ready() && !pump_posted_) post = pump_posted_ = true;
    }
    if (post) asio::post(conn_->get_executor(), [self = shared_from_this()] { self->pump(); });
    return outcome;
}

std::vector<bus::Message> NodeSession::retire(std::size_t* dropped_no_ack) {
    std::vector<bus::Message> unacked;
    {
        std::lock_guard lock(mu_);
        if (retired_) return unacked;
        retired_ = true;
        unacked = queue_.take_unacked(dropped_no_ack);
        update_gauges();
    }
    asio::post(conn_->get_executor(), [self = shared_from_this()] {
        self->timer_.cancel();
        self->armed_at_.reset();
    });
    return unacked;
}

void NodeSession::adopt(std::vector<bus::Message> messages) {
    std::size_t refused = 0;
    {
        std::lock_guard lock(mu_);
        if (retired_) return;
        for (auto& m : messages)
            if (!queue_.push(std::move(m), AckMode::kAck)) ++refused;
        update_gauges();
    }
    if (refused > 0)
        core_->log->error(
            "{}: {} unacked messages from the previous session did not fit the "
            "queue; the node's resync must bring them",
            prefix(), refused);
    wake();
}

void NodeSession::wake() {
    {
        std::lock_guard lock(mu_);
        if (retired_ || pump_posted_) return;
        pump_posted_ = true;
    }
    asio::post(conn_->get_executor(), [self = shared_from_this()] { self->pump(); });
}

void NodeSession::pump() {
    std::vector<Outgoing> batch;
    std::optional<TimePoint> deadline;
    {
        std::lock_guard lock(mu_);
        pump_posted_ = false;
        if (retired_) return;
        std::size_t backlog = conn_->queued();
        while (backlog + batch.size() < kMaxConnectionBacklog) {
            auto o = queue_.pop();
            if (!o) break;
            batch.push_back(std::move(*o));
        }
        if (queue_.ready())
            deadline = core_->clock.steady_now() + kBacklogPoll;
        else
            deadline = queue_.next_deadline();
        update_gauges();
    }
    for (auto& o : batch) {
        auto frame = std::make_shared<const std::string>(bus::encode(o.message));
        auto size = frame->size();
        if (auto sent = conn_->send(std::move(frame)); !sent) {
            // The connection is ending (the reader sees it) or, unexpectedly, full: ACK messages
            // stay in flight and are resent; NO-ACK ones are the edge's to ask for again.
            core_->log->debug("{}: write of {} not queued: {}", prefix(), o.message.route.resource,
                              sent.error().message());
            break;
        }
        core_->bytes_out += size;
        core_->messages_out.add(o.message.route.operation);
    }
    arm(deadline);
}

void NodeSession::arm(std::optional<TimePoint> deadline) {
    if (!deadline) {
        if (armed_at_) timer_.cancel();
        armed_at_.reset();
        return;
    }
    if (armed_at_ == deadline) return;
    auto wait = *deadline - core_->clock.steady_now();
    if (wait < std::chrono::steady_clock::duration::zero()) wait = {};
    timer_.expires_after(wait);  // cancels a previous wait
    armed_at_ = deadline;
    timer_.async_wait([weak = weak_from_this()](boost::system::error_code ec) {
        if (ec) return;
        auto self = weak.lock();
        if (!self) return;
        self->armed_at_.reset();
        self->pump();
    });
}

void NodeSession::reply(const bus::Message& msg) {
    auto answer = bus::make_response(msg, bus::Content::from_string("ack"), core_->clock);
    auto frame = std::make_shared<const std::string>(bus::encode(answer));
    auto size = frame->size();
    if (conn_->send(std::move(frame))) {
        core_->bytes_out += size;
        core_->messages_out.add(answer.route.operation);
    }
}

void NodeSession::dispatch(bus::Message msg) {
    const auto& op = msg.route.operation;
    core_->messages_in.add(op);
    if (op == bus::kOpKeepalive) return;  // its arrival already reset the idle timer
    if (op == bus::kOpConfig || op == bus::kOpPing || op == bus::kOpPong) {
        reply(msg);
        return;
    }
    // An ack copies the source of the cloud message it answers, so it is looked at before
    // the source check below.
    if (op == bus::kOpResponse && !msg.header.parent_msg_id.empty()) {
        std::optional<bus::Message> done;
        {
            std::lock_guard lock(mu_);
            if (!retired_) {
                done = queue_.ack(msg.header.parent_msg_id);
                update_gauges();
            }
        }
        if (done) {
            core_->observer->acked(node_, *done);
            pump();  // the next ACK message may go now
            return;
        }
        // Edges ack every stored message, also the NO-ACK ones and resends already acked:
        // nothing is waiting for it, and it is not a forgery.
        if (is_cloud_module(msg.route.source)) {
            core_->log->debug("{}: ack for {} matches nothing pending", node_,
                              msg.header.parent_msg_id);
            return;
        }
    }
    if (is_cloud_module(msg.route.source)) {
        if (core_->warning_allowed())
            core_->log->warn(
                "{}: dropped an upstream message claiming cloud module source \"{}\" "
                "(operation {}, resource {})",
                prefix(), msg.route.source.substr(0, 64), op.substr(0, 64),
                msg.route.resource.substr(0, 128));
        return;
    }
    core_->observer->upstream(node_, std::move(msg));
}

boost::asio::awaitable<Error> NodeSession::run() {
    pump();
    bus::DecodeOptions decode_options;
    decode_options.max_size = core_->options.max_message_bytes;
    for (;;) {
        auto frame = co_await conn_->read();
        if (!frame) co_return frame.error();
        core_->bytes_in += frame->size();
        auto bytes = std::make_shared<const std::string>(std::move(*frame));
        auto msg = bus::decode(bytes, decode_options);
        if (!msg) {
            ++core_->malformed_frames;
            std::string why = "malformed message: " + msg.error().message();
            if (core_->warning_allowed()) core_->log->warn("{}: closing: {}", prefix(), why);
            conn_->close(hub::kWsCloseInvalidPayload, "malformed message");
            co_return Error(errc::parse_error, why);
        }
        dispatch(std::move(*msg));
    }
}

}  // namespace kedge::cloud::detail
