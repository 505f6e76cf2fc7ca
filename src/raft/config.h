// Settings of one Raft core. Time is counted in ticks: the driver calls
// Node::tick() at a fixed interval (fjord uses 10 ms per tick by default).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>

#include "raft/types.h"

namespace fjord::raft {

enum class ReadMode : uint8_t {
    // ReadIndex (Raft thesis §6.4): confirms leadership with a heartbeat round.
    read_index,
    // Lease read (thesis §6.4.1): answers from the leader's lease without a
    // round trip. Safe only while clocks drift by less than `lease_margin_ticks`
    // per election timeout and no node pauses longer than that; a paused leader
    // may serve stale reads. Requires check_quorum.
    lease,
};

// Deliberately broken behaviours, used only by tests to prove that the
// simulator's checkers catch real bugs. Production code never sets these.
enum class Mutation : uint8_t {
    none,
    commit_previous_term_by_count,  // ignores the Figure 8 rule
    vote_twice_in_term,             // grants a vote despite having voted for another
    ack_before_persist,             // sends append/vote responses before entries are durable
    read_before_noop_commit,        // serves ReadIndex before the leader's no-op commits
};

struct Config {
    NodeId id;
    int election_tick = 10;  // followers campaign after [election_tick, 2*election_tick) silent ticks
    int heartbeat_tick = 1;
    bool pre_vote = true;        // thesis §9.6
    bool check_quorum = true;    // a leader not hearing from a quorum for election_tick steps down
    int lease_margin_ticks = 1;  // subtracted from the lease for clock drift
    size_t max_inflight_msgs = 256;
    size_t max_inflight_bytes = 64 << 20;
    size_t max_append_bytes = 1 << 20;         // Entry::byte_size() per AppendEntries
    size_t max_uncommitted_bytes = 256 << 20;  // proposals beyond this are refused
    size_t snapshot_chunk_bytes = 1 << 20;
    uint64_t random_seed = 0;  // the core's only source of randomness (election timeouts)
    // Called by the leader on each proposal once its index is assigned, before
    // the entry is logged or sent: fjord stamps the record batch's base offset
    // and leader epoch here. Must be pure.
    std::function<void(std::string& data, Index index, uint32_t span, Term term)> stamp_entry;
    Mutation mutation = Mutation::none;
};

}  // namespace fjord::raft
