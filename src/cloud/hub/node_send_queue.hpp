#pragma once
// The outbound queue of one edge node's session (PROTOCOL.md §3). Pure logic with an injected
// clock: the session's writer asks pop() what to write now and next_deadline() when to ask
// again; the session's reader hands every upstream `response` to ack().

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "base/clock.hpp"
#include "base/error.hpp"
#include "bus/message.hpp"
#include "cloud/hub/ack_policy.hpp"

namespace kedge::cloud {

// Bounds and timing of a NodeSendQueue; the defaults are upstream cloudcore's.
struct SendQueueOptions {
    // Messages waiting to be written (ACK and NO-ACK, backing-off included; the one in flight
    // is not counted). A push that would grow the queue past this fails with queue_full.
    std::size_t capacity = 1024;
    // An unacknowledged message is written again this long after its previous write...
    std::chrono::milliseconds resend_interval{5000};
    // ...up to this many writes in all; one more interval later it is given up for now and
    // requeued with back-off.
    int max_writes = 5;
    // Back-off of a given-up message: initial, doubling per give-up of the same object, capped.
    std::chrono::milliseconds requeue_backoff_initial{5000};
    std::chrono::milliseconds requeue_backoff_max{std::chrono::minutes(5)};
};

// What push() did with a message.
enum class PushOutcome {
    kQueued,    // added at the back
    kReplaced,  // a queued or in-flight message for the same object was superseded by it
    kStale,     // not queued: an equal or newer version of the object (or its delete) is
                // already queued or in flight
};

// One write the session must perform now.
struct Outgoing {
    bus::Message message;
    AckMode mode = AckMode::kNoAck;
    int write = 1;  // 1 for the first write, 2.. for resends (same msg_id)
};

// Counters and gauges for metrics and tests.
struct SendQueueStats {
    std::size_t depth = 0;         // waiting messages, as bounded by capacity
    std::size_t no_ack_depth = 0;  // of which NO-ACK
    std::size_t ack_depth = 0;     // of which ACK, ready to go
    std::size_t backing_off = 0;   // of which ACK, given up for now and waiting out back-off
    std::size_t in_flight = 0;     // 0 or 1: the ACK message written and awaiting its ack
    std::size_t pending_acks = 0;  // messages written at least once and not yet acked
    std::uint64_t pushed = 0;      // push() calls that did not fail
    std::uint64_t replaced = 0;
    std::uint64_t stale = 0;
    std::uint64_t rejected_full = 0;
    std::uint64_t writes = 0;  // every message pop() returned, resends included
    std::uint64_t resends = 0;
    std::uint64_t acked = 0;
    std::uint64_t unknown_acks = 0;  // responses matching nothing awaiting an ack
    std::uint64_t requeued = 0;      // give-ups after max_writes
};

// Per-node send queue. ACK-mode messages that carry an object are keyed by its UID: a newer
// version replaces the queued (or in-flight) one in place, an equal or older version is
// reported stale, and once a delete is queued nothing but the delete goes; messages without a
// UID (and every `response`) are never coalesced. One ACK message is in flight at a time;
// NO-ACK messages are written once, in push order relative to ACK messages that are free to go.
// Not thread-safe: owned by the node session's executor.
class NodeSendQueue {
public:
    NodeSendQueue(std::string node, const Clock& clock, SendQueueOptions options = {});

    // Adds a downstream message, classified by ack_mode(). queue_full (with the node, the
    // capacity and the message's resource in the detail) when the queue is at capacity and
    // the message supersedes nothing; the caller decides what to do, nothing is dropped here.
    Result<PushOutcome> push(bus::Message msg);
    // The same with the mode decided by the caller.
    Result<PushOutcome> push(bus::Message msg, AckMode mode);

    // The next message to write now, if any: a due resend first, then the oldest of the NO-ACK
    // front and (when nothing is in flight) the ACK front.
    std::optional<Outgoing> pop();
    // True when pop() would return a message now.
    bool ready() const;
    // When pop() will next have something without a push() or ack(): a resend, a give-up or a
    // back-off expiry. nullopt when only a push() can wake it; now or earlier when ready().
    std::optional<std::chrono::steady_clock::time_point> next_deadline() const;

    // Completes the message whose msg_id is parent_msg_id (the edge's `response`); returns it
    // so the caller can record the acked resourceVersion. nullopt (counted as unknown) when
    // nothing written is awaiting that ack.
    std::optional<bus::Message> ack(std::string_view parent_msg_id);
    // ack() for any upstream message: only `response` operations with a parent count.
    std::optional<bus::Message> on_upstream(const bus::Message& msg);

    // Every ACK message not yet acked (in flight first, then queued, then backing off), and
    // empties the queue, e.g. to hand them to the node's next session. NO-ACK messages are
    // dropped (the edge asks again), and their count returned in dropped_no_ack.
    std::vector<bus::Message> take_unacked(std::size_t* dropped_no_ack = nullptr);

    SendQueueStats stats() const;
    const std::string& node() const { return node_; }

private:
    using TimePoint = std::chrono::steady_clock::time_point;
    enum class State { kQueued, kInFlight, kBackoff };
    struct AckEntry {
        bus::Message msg;
        ObjectFacts facts;
        State state = State::kQueued;
        std::uint64_t seq = 0;  // position among queued messages (kept when replaced)
        int writes = 0;         // writes of the current message
        int give_ups = 0;       // for the back-off
        TimePoint due{};        // next resend / give-up (in flight) or back-off expiry
        bool written = false;   // msg_id is in awaiting_ack_
    };
    struct NoAckEntry {
        std::uint64_t seq;
        bus::Message msg;
    };
    struct QueuedKey {
        std::uint64_t seq;
        std::string key;
    };

    Result<PushOutcome> push_ack(bus::Message msg);
    bool supersedes(const ObjectFacts& incoming, const ObjectFacts& current) const;
    std::size_t depth() const;
    Error full_error(const bus::Message& msg) const;
    // Moves a timed-out in-flight message and expired back-offs along.
    void advance_timers(TimePoint now);
    // Drops skipped keys from the front of ack_ready_.
    void trim_ready_front();
    void give_up_in_flight(TimePoint now);
    void forget_written(AckEntry& e);
    Outgoing write_in_flight(TimePoint now);

    std::string node_;
    const Clock& clock_;
    SendQueueOptions options_;
    std::uint64_t next_seq_ = 0;
    std::uint64_t next_private_key_ = 0;

    std::deque<NoAckEntry> no_ack_;
    // ACK entries by key (object UID, or a private key for messages that never coalesce).
    std::unordered_map<std::string, AckEntry> entries_;
    // Keys in state kQueued, in order. Entries acked or moved while queued are skipped lazily
    // (their state or seq no longer matches), so the real count is queued_count_.
    std::deque<QueuedKey> ack_ready_;
    std::size_t queued_count_ = 0;
    std::multimap<TimePoint, std::string> backoff_;
    std::optional<std::string> in_flight_;
    std::unordered_map<std::string, std::string> awaiting_ack_;  // msg_id -> key
    SendQueueStats counters_;
};

}  // namespace kedge::cloud
