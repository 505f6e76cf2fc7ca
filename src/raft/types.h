// The vocabulary of the Raft core: identifiers, log entries, messages, and the
// durable state. Plain data only; the behaviour lives in node.h.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/payload.h"
#include "common/tagged.h"

namespace fjord::raft {

struct NodeIdTag {};
struct TermTag {};
struct IndexTag {};

// A node's identity; 0 means "none". Ids are never reused after removal.
using NodeId = Tagged<NodeIdTag>;
using Term = Tagged<TermTag>;
// The position of an entry. In fjord an entry is a Kafka record batch and its
// index is the batch's last offset, so consecutive entries may differ by more
// than one: nothing may assume that the next index is index + 1.
using Index = Tagged<IndexTag>;

inline constexpr NodeId no_node{0};

enum class EntryType : uint8_t {
    normal,      // application data
    noop,        // appended by every new leader (Raft thesis §6.4)
    membership,  // data is an encoded Membership; takes effect when appended
};

struct Entry {
    Index index;       // last offset covered by the entry
    Term term;         // term of the leader that created it
    uint32_t span{1};  // offsets covered: the entry covers [index - span + 1, index]
    EntryType type{EntryType::normal};
    Payload data;

    // Size for flow control: the payload plus what index, term, span and type
    // take on the wire, so that even empty entries count against the limits.
    size_t byte_size() const { return data.size() + 24; }
    bool operator==(const Entry&) const = default;
};

// The voting configuration. Changes happen one node at a time (Raft thesis
// §4.1), so any two consecutive configurations have overlapping majorities.
struct Membership {
    std::vector<NodeId> voters;    // sorted, unique
    std::vector<NodeId> learners;  // sorted, unique, disjoint from voters

    bool is_voter(NodeId id) const;
    bool is_learner(NodeId id) const;
    bool contains(NodeId id) const { return is_voter(id) || is_learner(id); }
    std::vector<NodeId> all() const;
    bool operator==(const Membership&) const = default;

    std::string encode() const;
    // Returns false when `bytes` is not a valid encoding.
    static bool decode(std::string_view bytes, Membership& out);
};

// What must survive a crash besides the log (Raft paper Figure 2).
struct HardState {
    Term term;
    NodeId vote;
    Index commit;
    bool operator==(const HardState&) const = default;
};

struct SnapshotMeta {
    Index index;  // last index covered by the snapshot
    Term term;    // term of that entry
    Membership membership;
    bool operator==(const SnapshotMeta&) const = default;
};

struct Snapshot {
    SnapshotMeta meta;
    std::string data;  // the state machine's image, opaque to the core
};

enum class MessageType : uint8_t {
    pre_vote,
    pre_vote_resp,
    vote,
    vote_resp,
    append,
    append_resp,
    heartbeat,
    heartbeat_resp,
    snapshot,       // one chunk of an InstallSnapshot
    snapshot_resp,  // acknowledges a chunk
    timeout_now,    // leadership transfer: campaign at once
    read_index,     // follower asks the leader for a read index
    read_index_resp,
};

std::string_view to_string(MessageType t);

// One struct for every message type, as in etcd: fields unused by a type stay
// at their defaults. Field meanings per type are given beside each field.
struct Message {
    MessageType type{MessageType::heartbeat};
    NodeId from;
    NodeId to;
    Term term;
    // append: index/term of the entry preceding `entries`.
    // vote, pre_vote: the candidate's last index/term.
    // append_resp: accepted -> last index known to match; rejected -> the prev index refused.
    // snapshot, snapshot_resp: the snapshot's index/term.
    // read_index_resp: the read index.
    Index log_index;
    Term log_term;
    Index commit;  // append, heartbeat: the leader's commit index for this follower
    std::vector<Entry> entries;
    bool reject{false};
    // append_resp when rejected: the follower's last entry at or below the
    // refused index whose term is at most the leader's prev term (fast backtracking).
    Index hint_index;
    Term hint_term;
    uint64_t read_seq{0};    // heartbeat(_resp): ReadIndex round, echoed back
    uint64_t lease_tick{0};  // heartbeat/append(_resp): leader's tick at send, echoed back
    uint64_t context{0};     // read_index(_resp): the caller's request id
    bool force{false};       // vote: leadership transfer, bypasses leases
    bool lease_read{false};  // read_index: the follower asks for a lease read
    // snapshot chunks: byte offset of this chunk, its bytes, and whether it is the last.
    // snapshot_resp: `chunk_offset` is the next offset the follower expects.
    uint64_t chunk_offset{0};
    std::string chunk;
    bool chunk_last{false};
    Membership snapshot_membership;  // snapshot: the membership the snapshot covers
};

// A linearizable read point: once the state machine has applied `index`, a
// read issued with `context` may be served.
struct ReadState {
    uint64_t context{0};
    Index index;
};

enum class Role : uint8_t { follower, pre_candidate, candidate, leader };
std::string_view to_string(Role r);

// Why a request to the core was refused. Every one of these means the request
// definitely had no effect.
enum class Error : uint8_t {
    not_leader,
    no_leader,                  // read_index on a follower that knows no leader
    transfer_in_progress,       // proposals pause while leadership moves
    membership_change_pending,  // one membership change at a time
    leader_not_ready,           // the leader has not yet committed an entry of its term
    too_much_uncommitted,       // backpressure: uncommitted bytes above the limit
    invalid_membership_change,
    invalid_transfer_target,
    invalid_entry,  // span of zero
};
std::string_view to_string(Error e);

}  // namespace fjord::raft
