// The Raft consensus core of one node of one group: a deterministic state
// machine with no I/O, clock, threads or randomness of its own (see
// ARCHITECTURE.md, "raft/"). The driver calls tick() at a fixed interval,
// step() for every message received, and propose()/read_index()/... for its
// clients; then it takes a Ready, carries it out, and calls advance().
//
// The persistence contract (what must be durable before what):
//
//   1. `Ready::messages` may be sent at once, before anything in the Ready is
//      persisted. They come only from a leader (appends, heartbeats, snapshot
//      chunks, timeout-now, read-index answers) and carry a term that is
//      already durable: a node counts its own vote only once the Ready holding
//      it has been advanced, so it never leads a term it has not persisted. A leader thereby writes its own
//      log in parallel with its followers (thesis §10.2.1); it counts itself towards a commit only after
//      advance() reports its entries durable.
//   2. Before any of `Ready::persisted_messages` is sent, the driver must make
//      durable, in this order: `snapshot` (replacing the log), `entries`
//      (dropping every stored entry whose index is at or above the first
//      offset of the first new one, then appending), and `hard_state`. These messages include every vote
//      (granted votes must survive a crash, or a node could vote twice in a
//      term) and every append acknowledgement (an acknowledged entry counts
//      towards a commit and must never be lost).
//   3. `committed` entries are already durable locally; the driver applies
//      them in order (it need not wait for this Ready's own entries). A
//      `snapshot` replaces the state machine before any later committed
//      entry is applied.
//   4. advance() is called once all of the above is done, and before the
//      next ready() is taken. One exception: a leader that stays leader in
//      the same term, with no snapshot pending, may take further Readys
//      before advancing the earlier ones, provided it persists, sends and
//      advances them strictly in the order taken. The log hands out each
//      entry once and only counts entries stable when advance() says so.
//
// The simulator enforces this contract by crashing nodes between taking a
// Ready and persisting it, and between persisting and sending.
#pragma once

#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <vector>

#include "common/result.h"
#include "raft/config.h"
#include "raft/log.h"
#include "raft/progress.h"

namespace fjord::raft {

struct Ready {
    std::optional<HardState> hard_state;
    std::shared_ptr<const Snapshot> snapshot;
    std::vector<Entry> entries;
    std::vector<Message> messages;
    std::vector<Message> persisted_messages;
    std::vector<Entry> committed;
    std::vector<ReadState> read_states;

    bool empty() const {
        return !hard_state && !snapshot && entries.empty() && messages.empty() &&
               persisted_messages.empty() && committed.empty() && read_states.empty();
    }
};

enum class MembershipChangeKind : uint8_t { add_voter, add_learner, remove };

struct MembershipChange {
    MembershipChangeKind kind;
    NodeId node;
};

// A follower's replication state as the leader sees it (for status and lag).
struct FollowerStatus {
    NodeId id;
    Index match;
    ProgressState state;
    bool learner;
    bool recent_active;
};

// A new group starts from one committed entry holding its founding
// membership. Every founding member persists `entry` and `hard_state` before
// creating its Node; nodes that join later learn the membership from the log
// like any other entry, so no node ever has to be told it out of band.
struct Bootstrap {
    Entry entry;
    HardState hard_state;
};
Bootstrap bootstrap(const Membership& founding);

class Node {
  public:
    Node(const Config& config, const LogStorage& storage);

    void tick();
    // The driver missed `ticks` ticks (its process was paused or starved).
    // Leases, which must follow real time, count them; elections and
    // heartbeats do not, so a stall alone starts no election.
    void skip_ticks(uint64_t ticks) { _now += ticks; }
    void step(Message m);
    // Proposes application data covering `span` offsets; returns its index.
    Result<Index, Error> propose(std::string data, uint32_t span = 1);
    Result<Index, Error> propose_membership(MembershipChange change);
    Result<Ok, Error> transfer_leadership(NodeId to);
    // Campaigns now instead of after an election timeout (with pre-vote, so a
    // node that hears from a leader is refused as usual). fjord calls it on a
    // new group's preferred replica, so that leaders start where placement
    // put them. No effect on a leader or a node that cannot vote.
    void campaign_now();
    // Requests a linearizable read point; it arrives as a ReadState carrying
    // `context` in a later Ready (or never, if leadership is lost meanwhile:
    // callers time out and retry).
    Result<Ok, Error> read_index(uint64_t context, ReadMode mode = ReadMode::read_index);

    bool has_ready() const;
    Ready ready();
    void advance(const Ready& ready);

    NodeId id() const { return _config.id; }
    Role role() const { return _role; }
    Term term() const { return _term; }
    NodeId leader() const { return _leader; }
    NodeId vote() const { return _vote; }
    Index commit_index() const { return _log.committed(); }
    Index last_index() const { return _log.last_index(); }
    Index applied_index() const { return _log.applied(); }
    const Membership& membership() const { return _log.membership(); }
    // The membership a snapshot at `index` records (RaftLog::membership_at).
    const Membership& membership_at(Index index) const { return _log.membership_at(index); }
    const RaftLog& log() const { return _log; }
    NodeId transfer_target() const { return _transfer_target; }
    // Whether a leader holds a valid lease now (see ReadMode::lease).
    bool lease_valid() const;
    std::vector<FollowerStatus> followers() const;

  private:
    // election.cc
    void tick_election();
    void tick_heartbeat();
    void campaign(bool pre_vote, bool force);
    void handle_vote_request(const Message& m);
    void handle_vote_response(const Message& m);
    bool in_lease() const;
    void become_follower(Term term, NodeId leader);
    void become_pre_candidate();
    void become_candidate();
    void become_leader();
    void reset(Term term);
    bool promotable() const;
    void reset_randomized_timeout();

    // replication.cc
    void handle_append(const Message& m);
    void handle_append_response(const Message& m);
    void handle_heartbeat(const Message& m);
    void handle_heartbeat_response(const Message& m);
    bool send_append(NodeId to, Progress& pr, bool send_if_empty);
    void broadcast_append();
    void broadcast_heartbeat();
    bool maybe_commit();
    void on_committed();
    Index quorum_index(const std::vector<std::pair<NodeId, Index>>& values) const;
    bool valid_entries(const Message& m) const;

    // snapshot_transfer.cc
    void send_snapshot_chunk(NodeId to, Progress& pr);
    void handle_snapshot_chunk(const Message& m);
    void handle_snapshot_response(const Message& m);

    // read_index.cc
    void handle_read_index_request(const Message& m);
    void handle_read_index_response(const Message& m);
    void start_read(uint64_t context, NodeId requester, ReadMode mode);
    void release_confirmed_reads();
    void release_waiting_reads();
    void answer_read(uint64_t context, NodeId requester, Index index);

    // membership_change.cc
    void on_membership_changed();
    void maybe_send_timeout_now(NodeId to, const Progress& pr);

    void send(Message m);
    bool is_leader_message(MessageType t) const;
    Progress* progress(NodeId id);
    HardState hard_state() const { return {_term, _vote, _log.committed()}; }
    bool committed_in_current_term() const;
    uint64_t next_random();

    Config _config;
    RaftLog _log;
    Role _role{Role::follower};
    Term _term;
    NodeId _vote;
    NodeId _leader;

    int _election_elapsed{0};
    uint64_t _lease_until{0};  // we promised a leader not to vote before this tick
    int _heartbeat_elapsed{0};
    int _randomized_election_timeout{0};
    uint64_t _now{0};  // ticks since start; stamps leases
    uint64_t _rng_state;

    // Candidate: responses received this term (true = granted).
    std::map<NodeId, bool> _votes;

    // Leader state.
    std::map<NodeId, Progress> _progress;
    NodeId _transfer_target;
    int _transfer_elapsed{0};
    bool _lease_revoked{false};   // a timeout-now went out this term
    bool _append_pending{false};  // proposals wait for the next ready() to go out together
    // Proposals not yet committed, for backpressure: (index, payload bytes).
    std::deque<std::pair<Index, size_t>> _uncommitted;
    size_t _uncommitted_bytes{0};

    // ReadIndex: a round is confirmed once a quorum acknowledges a heartbeat
    // carrying its sequence number (sequence numbers rise within a term).
    struct PendingRead {
        uint64_t seq;
        uint64_t context;
        NodeId requester;
        Index index;
        ReadMode mode;
    };
    uint64_t _read_seq{0};
    bool _read_round_pending{false};  // reads wait for the next ready() to share one heartbeat round
    std::deque<PendingRead> _pending_reads;
    // Reads that arrived before the leader committed an entry of its term.
    std::vector<PendingRead> _reads_awaiting_commit;

    // Follower: the snapshot being received in chunks.
    struct IncomingSnapshot {
        SnapshotMeta meta;
        std::string data;
    };
    std::optional<IncomingSnapshot> _incoming_snapshot;

    // Output accumulated until the next ready().
    std::vector<Message> _msgs;
    std::vector<Message> _persisted_msgs;
    std::vector<ReadState> _read_states;
    HardState _last_hard_state;
};

}  // namespace fjord::raft
