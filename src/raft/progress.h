// What a leader knows about each follower: how far its log matches, what has
// been sent, and how much may still be in flight (etcd's tracker design).
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>

#include "raft/types.h"

namespace fjord::raft {

// A window of unacknowledged appends, bounded in count and bytes.
class Inflights {
  public:
    Inflights(size_t max_count, size_t max_bytes) : _max_count(max_count), _max_bytes(max_bytes) {}

    bool full() const { return _sent.size() >= _max_count || _bytes >= _max_bytes; }
    size_t count() const { return _sent.size(); }
    void add(Index last, size_t bytes);
    // Frees every append whose last index is <= acked.
    void free_up_to(Index acked);
    void free_first();
    void reset();

  private:
    struct Sent {
        Index last;
        size_t bytes;
    };
    size_t _max_count;
    size_t _max_bytes;
    size_t _bytes{0};
    std::deque<Sent> _sent;
};

enum class ProgressState : uint8_t {
    probe,      // searching for the match point: one append per heartbeat
    replicate,  // pipelining appends optimistically, bounded by the inflight window
    snapshot,   // sending a snapshot; appends wait until it lands
};

struct Progress {
    Progress(size_t max_inflight_msgs, size_t max_inflight_bytes)
        : inflights(max_inflight_msgs, max_inflight_bytes) {}

    // Highest index known to be in the follower's log, matching ours.
    Index match;
    // The index after which the next append starts (its prev index). Always an
    // index present in the leader's log or its snapshot point when it is used.
    Index sent;
    ProgressState state{ProgressState::probe};
    bool probe_sent{false};     // probe: an append is outstanding until the next heartbeat reply
    bool recent_active{false};  // heard from since the last check-quorum round
    Inflights inflights;
    // snapshot state: the snapshot being sent and the next byte to send.
    std::shared_ptr<const Snapshot> snapshot;
    uint64_t snapshot_offset{0};     // the chunk in flight starts here
    uint64_t snapshot_sent_tick{0};  // when it was sent, to resend a lost one
    uint64_t lease_ack_tick{0};      // newest leader tick the follower echoed in this term
    uint64_t read_ack_seq{0};        // newest ReadIndex round the follower acknowledged

    void become_probe();
    void become_replicate();
    void become_snapshot(std::shared_ptr<const Snapshot> snap);
    // Records an acknowledged match; returns false if it was not news.
    bool update_match(Index acked);
    // Whether an append may be sent now.
    bool paused() const;
};

std::string_view to_string(ProgressState s);

}  // namespace fjord::raft
