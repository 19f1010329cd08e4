#include "cloud/hub/node_send_queue.hpp"

#include <algorithm>
#include <utility>

#include "base/log.hpp"
#include "bus/constants.hpp"

namespace kedge::cloud {
namespace {

// Keys of messages that never coalesce start with a control character, which no UID has.
constexpr char kPrivateKeyMark = '\x01';

}  // namespace

NodeSendQueue::NodeSendQueue(std::string node, const Clock& clock, SendQueueOptions options)
    : node_(std::move(node)), clock_(clock), options_(options) {
    // Zero intervals would let a writer spin on a message nobody acks.
    using std::chrono::milliseconds;
    options_.resend_interval = std::max(options_.resend_interval, milliseconds(1));
    options_.requeue_backoff_initial = std::max(options_.requeue_backoff_initial, milliseconds(1));
    options_.requeue_backoff_max =
        std::max(options_.requeue_backoff_max, options_.requeue_backoff_initial);
    options_.max_writes = std::max(options_.max_writes, 1);
}

Result<PushOutcome> NodeSendQueue::push(bus::Message msg) {
    AckMode mode = ack_mode(msg);
    return push(std::move(msg), mode);
}

Result<PushOutcome> NodeSendQueue::push(bus::Message msg, AckMode mode) {
    if (mode == AckMode::kAck) return push_ack(std::move(msg));
    if (depth() >= options_.capacity) {
        ++counters_.rejected_full;
        return full_error(msg);
    }
    no_ack_.push_back({next_seq_++, std::move(msg)});
    ++counters_.pushed;
    return PushOutcome::kQueued;
}

bool NodeSendQueue::supersedes(const ObjectFacts& incoming, const ObjectFacts& current) const {
    // Once a delete is on its way, any other version of the object is history.
    if (current.is_delete) return false;
    if (incoming.is_delete) return true;
    if (incoming.resource_version && current.resource_version)
        return *incoming.resource_version > *current.resource_version;
    // Versions that cannot be compared: the latest event wins.
    return true;
}

Result<PushOutcome> NodeSendQueue::push_ack(bus::Message msg) {
    ObjectFacts facts = object_facts(msg);
    // Responses answer one request each and always pass.
    const bool coalesce = !facts.uid.empty() && msg.operation() != bus::kOpResponse;
    if (coalesce) {
        if (auto it = entries_.find(facts.uid); it != entries_.end()) {
            AckEntry& e = it->second;
            if (!supersedes(facts, e.facts)) {
                ++counters_.stale;
                return PushOutcome::kStale;
            }
            forget_written(e);
            e.msg = std::move(msg);
            e.facts = std::move(facts);
            e.writes = 0;
            switch (e.state) {
                case State::kQueued:
                    break;  // keeps its place in line
                case State::kInFlight:
                    // The version on the wire is obsolete: stop resending it and send the new
                    // one next, in the slot the old one held.
                    in_flight_.reset();
                    e.state = State::kQueued;
                    ++queued_count_;
                    ack_ready_.push_front({e.seq, it->first});
                    break;
                case State::kBackoff: {
                    auto [lo, hi] = backoff_.equal_range(e.due);
                    for (auto b = lo; b != hi; ++b) {
                        if (b->second == it->first) {
                            backoff_.erase(b);
                            break;
                        }
                    }
                    e.state = State::kQueued;
                    e.seq = next_seq_++;
                    ++queued_count_;
                    ack_ready_.push_back({e.seq, it->first});
                    break;
                }
            }
            ++counters_.pushed;
            ++counters_.replaced;
            return PushOutcome::kReplaced;
        }
    }
    if (depth() >= options_.capacity) {
        ++counters_.rejected_full;
        return full_error(msg);
    }
    std::string key = coalesce ? facts.uid : kPrivateKeyMark + std::to_string(next_private_key_++);
    AckEntry e{std::move(msg), std::move(facts)};
    e.seq = next_seq_++;
    ack_ready_.push_back({e.seq, key});
    ++queued_count_;
    entries_.emplace(std::move(key), std::move(e));
    ++counters_.pushed;
    return PushOutcome::kQueued;
}

std::size_t NodeSendQueue::depth() const {
    return no_ack_.size() + entries_.size() - (in_flight_ ? 1 : 0);
}

Error NodeSendQueue::full_error(const bus::Message& msg) const {
    return Error(errc::queue_full, "send queue of node " + node_ + " is full (" +
                                       std::to_string(depth()) + " messages waiting, capacity " +
                                       std::to_string(options_.capacity) + "); refused " +
                                       msg.operation() + " " + msg.resource());
}

void NodeSendQueue::forget_written(AckEntry& e) {
    if (e.written) awaiting_ack_.erase(e.msg.id());
    e.written = false;
}

void NodeSendQueue::trim_ready_front() {
    while (!ack_ready_.empty()) {
        const QueuedKey& q = ack_ready_.front();
        auto it = entries_.find(q.key);
        if (it != entries_.end() && it->second.state == State::kQueued && it->second.seq == q.seq)
            return;
        ack_ready_.pop_front();
    }
}

void NodeSendQueue::give_up_in_flight(TimePoint now) {
    const std::string key = *in_flight_;
    AckEntry& e = entries_.at(key);
    in_flight_.reset();
    ++e.give_ups;
    auto delay = options_.requeue_backoff_initial;
    for (int i = 1; i < e.give_ups && delay < options_.requeue_backoff_max; ++i) delay *= 2;
    delay = std::min(delay, options_.requeue_backoff_max);
    e.state = State::kBackoff;
    e.due = now + delay;
    backoff_.emplace(e.due, key);
    ++counters_.requeued;
    // The msg_id stays awaited: a late ack still completes it.
    log::get("cloudhub")
        ->info("node {}: no ack for {} {} (msg {}) after {} writes; retrying in {} ms", node_,
               e.msg.operation(), e.msg.resource(), e.msg.id(), e.writes, delay.count());
}

void NodeSendQueue::advance_timers(TimePoint now) {
    if (in_flight_) {
        const AckEntry& e = entries_.at(*in_flight_);
        if (e.writes >= options_.max_writes && now >= e.due) give_up_in_flight(now);
    }
    while (!backoff_.empty() && backoff_.begin()->first <= now) {
        std::string key = std::move(backoff_.begin()->second);
        backoff_.erase(backoff_.begin());
        AckEntry& e = entries_.at(key);
        e.state = State::kQueued;
        e.seq = next_seq_++;
        e.writes = 0;
        ++queued_count_;
        ack_ready_.push_back({e.seq, std::move(key)});
    }
}

Outgoing NodeSendQueue::write_in_flight(TimePoint now) {
    AckEntry& e = entries_.at(*in_flight_);
    ++e.writes;
    e.due = now + options_.resend_interval;
    if (!e.written) {
        awaiting_ack_[e.msg.id()] = *in_flight_;
        e.written = true;
    }
    ++counters_.writes;
    if (e.writes > 1) ++counters_.resends;
    return Outgoing{e.msg, AckMode::kAck, e.writes};
}

std::optional<Outgoing> NodeSendQueue::pop() {
    const TimePoint now = clock_.steady_now();
    advance_timers(now);
    if (in_flight_ && now >= entries_.at(*in_flight_).due) return write_in_flight(now);

    trim_ready_front();
    const bool ack_ok = !in_flight_ && !ack_ready_.empty();
    const bool no_ack_ok = !no_ack_.empty();
    if (no_ack_ok && (!ack_ok || no_ack_.front().seq < ack_ready_.front().seq)) {
        Outgoing out{std::move(no_ack_.front().msg), AckMode::kNoAck, 1};
        no_ack_.pop_front();
        ++counters_.writes;
        return out;
    }
    if (!ack_ok) return std::nullopt;
    std::string key = std::move(ack_ready_.front().key);
    ack_ready_.pop_front();
    AckEntry& e = entries_.at(key);
    e.state = State::kInFlight;
    e.writes = 0;
    --queued_count_;
    in_flight_ = std::move(key);
    return write_in_flight(now);
}

bool NodeSendQueue::ready() const {
    if (!no_ack_.empty()) return true;
    const TimePoint now = clock_.steady_now();
    if (in_flight_) {
        const AckEntry& e = entries_.at(*in_flight_);
        if (now < e.due) return false;
        if (e.writes < options_.max_writes) return true;  // a resend is due
        // Otherwise it is about to be given up, which frees the slot.
    }
    return queued_count_ > 0 || (!backoff_.empty() && backoff_.begin()->first <= now);
}

std::optional<std::chrono::steady_clock::time_point> NodeSendQueue::next_deadline() const {
    if (ready()) return clock_.steady_now();
    if (in_flight_) return entries_.at(*in_flight_).due;
    if (!backoff_.empty()) return backoff_.begin()->first;
    return std::nullopt;
}

std::optional<bus::Message> NodeSendQueue::ack(std::string_view parent_msg_id) {
    auto it = awaiting_ack_.find(std::string(parent_msg_id));
    if (it == awaiting_ack_.end()) {
        ++counters_.unknown_acks;
        return std::nullopt;
    }
    const std::string key = std::move(it->second);
    awaiting_ack_.erase(it);
    auto e_it = entries_.find(key);
    AckEntry& e = e_it->second;
    switch (e.state) {
        case State::kInFlight:
            in_flight_.reset();
            break;
        case State::kQueued:
            --queued_count_;  // its ack_ready_ slot is skipped lazily
            break;
        case State::kBackoff: {
            auto [lo, hi] = backoff_.equal_range(e.due);
            for (auto b = lo; b != hi; ++b) {
                if (b->second == key) {
                    backoff_.erase(b);
                    break;
                }
            }
            break;
        }
    }
    bus::Message done = std::move(e.msg);
    entries_.erase(e_it);
    ++counters_.acked;
    return done;
}

std::optional<bus::Message> NodeSendQueue::on_upstream(const bus::Message& msg) {
    if (msg.operation() != bus::kOpResponse || msg.parent_id().empty()) return std::nullopt;
    return ack(msg.parent_id());
}

std::vector<bus::Message> NodeSendQueue::take_unacked(std::size_t* dropped_no_ack) {
    std::vector<bus::Message> out;
    out.reserve(entries_.size());
    if (in_flight_) out.push_back(std::move(entries_.at(*in_flight_).msg));
    for (const QueuedKey& q : ack_ready_) {
        auto it = entries_.find(q.key);
        if (it != entries_.end() && it->second.state == State::kQueued && it->second.seq == q.seq)
            out.push_back(std::move(it->second.msg));
    }
    for (const auto& [due, key] : backoff_) out.push_back(std::move(entries_.at(key).msg));
    if (dropped_no_ack) *dropped_no_ack = no_ack_.size();
    no_ack_.clear();
    entries_.clear();
    ack_ready_.clear();
    backoff_.clear();
    awaiting_ack_.clear();
    in_flight_.reset();
    queued_count_ = 0;
    return out;
}

SendQueueStats NodeSendQueue::stats() const {
    SendQueueStats s = counters_;
    s.depth = depth();
    s.no_ack_depth = no_ack_.size();
    s.ack_depth = queued_count_;
    s.backing_off = backoff_.size();
    s.in_flight = in_flight_ ? 1 : 0;
    s.pending_acks = awaiting_ack_.size();
    return s;
}

}  // namespace kedge::cloud
