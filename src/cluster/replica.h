// One node's replica of one partition: a Raft core over its log on disk,
// driven on the node's event loop. It carries out each Ready as the
// persistence contract in raft/node.h demands: leader messages go out at
// once, committed entries are applied to the state machine (if any), the
// entries are written and group-committed by the Flusher's fsync, then the
// hard state is saved and the acknowledgements go out. A steady leader keeps
// several Readys syncing at once. Under a topic's flush.policy `interval` or
// `never` the entries count as persisted once written (replication is their
// durability, as in Kafka) and are synced every flush.ms, or never.
// Proposals are answered when their entry commits; reads when the state
// machine has reached a read index.
//
// A state machine with an image is snapshotted every so many entries and the
// log compacted below; a snapshot from the leader replaces it.
//
// A full disk stalls the replica (writes are refused and retried until space
// returns); any other storage failure stops it: it stops ticking and
// answering, so the other replicas elect a leader without it, and the node
// reports why on /health. A restart recovers from what the disk holds.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cluster/node_status.h"
#include "common/result.h"
#include "raft/node.h"
#include "storage/partition_log.h"

namespace fjord::storage {
class FileSystem;
class Flusher;
}  // namespace fjord::storage

namespace fjord::cluster {

class RaftLogStore;

// What a replica needs from the node that hosts it.
class ReplicaHost {
  public:
    virtual ~ReplicaHost() = default;
    virtual storage::FileSystem& file_system() = 0;
    // Null: syncs run inline (tests).
    virtual storage::Flusher* flusher() = 0;
    // Runs `fn` on the event loop after the current event, or after `ms`.
    virtual void post(std::function<void()> fn) = 0;
    virtual void post_after(int ms, std::function<void()> fn) = 0;
    virtual void send_raft(uint64_t group, const raft::Message& m) = 0;
    virtual int64_t now_ms() const = 0;
    // Observations for the metrics.
    virtual void observe_append(size_t bytes, double seconds) = 0;
    virtual void observe_fsync(double seconds) = 0;
    virtual void observe_election_won() = 0;
    // The replica applied entries up to a new high watermark.
    virtual void on_applied(uint64_t group) = 0;
};

// The state machine a replica feeds with committed application entries (the
// core's no-ops and membership entries are not passed on).
class StateMachine {
  public:
    virtual ~StateMachine() = default;
    virtual void apply(const raft::Entry& entry) = 0;
    // Whether the state can be written as an image, so that the replica may
    // compact its log below it (ReplicaOptions::snapshot_every).
    virtual bool has_image() const { return false; }
    // The state after the last applied entry.
    virtual std::string image() const { return {}; }
    // An image built a piece at a time between applies, for a state too
    // large to write in one go on the event loop: begin_image() starts one of
    // the state as it is now and returns false if the state machine cannot;
    // image_step() adds a piece and returns the whole image once done.
    // abandon_image() drops a build in progress.
    virtual bool begin_image() { return false; }
    virtual std::optional<std::string> image_step() { return std::nullopt; }
    virtual void abandon_image() {}
    // Replaces the state with an image (a snapshot from the leader, or the
    // local one at start-up); false if `image` is not one.
    virtual bool restore(std::string_view image) {
        (void)image;
        return false;
    }
};

struct ReplicaOptions {
    uint64_t group{0};
    std::string name;  // for logs and errors, e.g. "orders-0"
    std::string dir;
    std::vector<uint64_t> founding_voters;  // used only when `dir` holds no log yet
    raft::Config raft;
    storage::LogConfig log;
    int64_t replica_lag_ms{10000};  // a follower not caught up for this long leaves the ISR
    bool campaign_if_new{false};    // a new group's preferred replica stands for election at once
    // With a state machine that has an image: compact the log below an image
    // once this many entries were applied after the last one (0: never).
    uint64_t snapshot_every{0};
    int tick_ms{10};  // how often the host calls tick()
};

// Where a committed proposal landed, in Kafka offsets.
struct Appended {
    int64_t base_offset{0};
    int64_t last_offset{0};
    uint64_t term{0};
};

enum class ProposeErrc : uint8_t {
    not_leader,    // nothing was appended; `leader` says where to go
    busy,          // backpressure or a leadership transfer; nothing was appended, retry
    lost,          // the entry was overwritten by another leader's: it did not commit
    failed,        // the replica stopped on a storage error; the outcome is unknown
    invalid,       // the batch itself was refused
    storage_full,  // the disk is full: not stored here (it may still commit through other replicas)
};
struct ProposeError {
    ProposeErrc code;
    uint64_t leader{0};
    std::string detail;
};
using ProposeDone = std::function<void(Result<Appended, ProposeError>)>;
// A read point: the Raft index the state machine has applied when it runs.
using ReadDone = std::function<void(Result<uint64_t, ProposeError>)>;

class Replica {
  public:
    static Result<std::unique_ptr<Replica>, std::string> open(ReplicaHost& host, ReplicaOptions options,
                                                              StateMachine* state_machine);
    ~Replica();
    Replica(const Replica&) = delete;
    Replica& operator=(const Replica&) = delete;

    void tick();
    void step(raft::Message m);
    // Proposes one record batch of `records` records; `done` runs once it
    // commits (or, with `local_only`, once the leader has written it, as
    // Kafka's acks=1), or definitely failed. Returns the entry's Raft index,
    // or 0 when it was refused (`done` has then run already).
    uint64_t propose(std::string batch, uint32_t records, ProposeDone done, bool local_only = false);
    // Runs `done` once the state machine reflects every write committed before
    // the call, confirmed by a heartbeat round (ReadIndex) or by the leader's
    // lease; on a follower the leader is asked for that read point. not_leader
    // when no leader is known, busy after `timeout_ms` (e.g. when leadership
    // moves meanwhile).
    void read(raft::ReadMode mode, int64_t timeout_ms, ReadDone done);
    // A leader's lease read without waiting: the read point (the commit
    // index) when the leader holds a valid lease now and has applied it, so
    // that the state machine may be read at once; 0 otherwise (take read()).
    uint64_t lease_read_point();
    // Runs `done` once the state machine has applied `index` (at once if it has).
    void await_applied(uint64_t index, ReadDone done);
    Result<Ok, raft::Error> transfer_leadership(uint64_t to);
    // Applies the log's retention (by size and time, whole segments): the log
    // below the retention point becomes an empty snapshot, so followers that
    // need it get the snapshot instead and start their logs there too. Only
    // applied entries are ever dropped. For partitions whose state is the log
    // itself (Kafka topics), not for state machines that need their history.
    void enforce_retention();

    uint64_t group() const { return _options.group; }
    const std::string& name() const { return _options.name; }
    uint64_t id() const { return _options.raft.id.value; }
    bool is_leader() const { return _failure.empty() && _node->role() == raft::Role::leader; }
    uint64_t leader() const { return _failure.empty() ? _node->leader().value : 0; }
    uint64_t term() const { return _node->term().value; }
    // Offsets below this are committed and applied here (Kafka's high watermark).
    int64_t high_watermark() const { return static_cast<int64_t>(_applied); }
    uint64_t applied_index() const { return _applied; }
    // A leader may evaluate writes against its applied state once it has
    // applied an entry of its own term: everything earlier is then applied too.
    bool applied_own_term() const { return is_leader() && _applied_term == term(); }
    uint64_t commit_index() const { return _node->commit_index().value; }
    int64_t last_index() const { return static_cast<int64_t>(_node->last_index().value); }
    // A leader's view of replication, for status and the ISR.
    LeaderReport report() const;
    // Why the replica stopped; empty while it runs.
    const std::string& failure() const { return _failure; }
    // Why it cannot write now (a full disk); empty while it can.
    const std::string& stall_reason() const { return _stall; }
    storage::PartitionLog& log();
    // Whether a snapshot of the state machine is being built, synced or
    // compacted to (its disk work included).
    bool snapshot_under_way() const { return _imaging || _staged; }
    // Kafka's OffsetForLeaderEpoch: the largest epoch at most `epoch` and
    // the offset where it ends (the start of the next, or the log end);
    // (-1, -1) when the log holds no such epoch.
    std::pair<int32_t, int64_t> end_of_epoch(int32_t epoch) const;

  private:
    Replica(ReplicaHost& host, ReplicaOptions options, StateMachine* state_machine);
    Result<Ok, std::string> start();
    void schedule();
    struct InFlight {
        raft::Ready ready;
        uint64_t seq;
        uint64_t term;
        bool by_leader;
        bool synced;
        std::chrono::steady_clock::time_point sync_started;
    };
    bool defer_compaction();
    bool may_overlap() const;
    void process_ready();
    void install(raft::Ready rd, bool by_leader);
    void persist_entries(InFlight& in_flight);
    void flush_by_policy();
    void finish_synced();
    void finish_ready(const raft::Ready& rd);
    void stall(const std::string& detail);
    void apply(const std::vector<raft::Entry>& committed);
    void restore_image(const raft::Snapshot& snap);
    void maybe_snapshot();
    void next_image_step();
    void continue_image();
    void abandon_image();
    void stage(std::shared_ptr<raft::Snapshot> snap);
    void compact_to_staged();
    void take_read_states(std::vector<raft::ReadState>& states);
    void release_reads();
    void expire_reads(bool all);
    void track_in_sync();
    void catch_up_lease_clock();
    void fail(const std::string& what, const std::string& detail);

    struct Pending {
        uint64_t term;
        uint32_t records;
        ProposeDone done;
        bool local_only;
    };
    void settle_local(uint64_t appended_upto);
    void settle_older_terms(uint64_t term);
    // Progress of a follower toward the ISR: it is in sync if it reached the
    // leader's last index as of `mark_time` within the lag time.
    struct Catchup {
        uint64_t mark_index{0};
        int64_t mark_time{0};
        int64_t caught_up_at{0};
    };

    ReplicaHost& _host;
    ReplicaOptions _options;
    StateMachine* _state_machine;
    std::unique_ptr<RaftLogStore> _store;
    std::unique_ptr<raft::Node> _node;
    std::deque<InFlight> _persisting;  // Readys taken and not yet finished, in order
    uint64_t _ready_seq{0};
    int64_t _clock_start_ms{0};  // when tick 0 was, by the host's clock
    uint64_t _ticks_counted{0};  // ticks given to the core or skipped (catch_up_lease_clock)
    struct LeaseKey {
        uint64_t ticks, term, commit, last, applied;
        bool operator==(const LeaseKey&) const = default;
    };
    std::optional<LeaseKey> _lease_key;  // the state in which the lease last held
    bool _compaction_due{false};         // waiting for the Readys in flight to finish
    // A snapshot whose image the state machine is building (maybe_snapshot).
    std::shared_ptr<raft::Snapshot> _imaging;
    // A snapshot written to its temporary file, whose fsync runs on the
    // Flusher; the log is compacted below it once durable.
    std::shared_ptr<const raft::Snapshot> _staged;
    bool _staged_durable{false};
    bool _staged_by_retention{false};  // _staged has no image: retention's (for the log line)
    double _compact_loop_ms{0};
    std::chrono::steady_clock::time_point _snapshot_started;  // for the log line
    double _snapshot_loop_ms{0};
    int _snapshot_steps{0};
    bool _scheduled{false};
    uint64_t _applied{0};
    uint64_t _applied_term{0};
    struct Read {
        int64_t deadline;
        ReadDone done;
    };
    uint64_t _read_context{0};
    std::map<uint64_t, Read> _reads;                // by context, waiting for a read index
    std::multimap<uint64_t, ReadDone> _read_ready;  // by read index, waiting for it to apply
    raft::Role _last_role{raft::Role::follower};
    std::map<uint64_t, Pending> _pending;  // by Raft index
    std::map<uint64_t, Catchup> _catchup;  // by follower id
    std::string _failure;
    std::string _stall;
    int64_t _campaign_until_ms{0};  // a new group's preferred replica campaigns until then
    int _campaign_ticks{0};
    // Guards callbacks that may outlive the replica (posted work, fsyncs).
    std::shared_ptr<Replica*> _self;
};

}  // namespace fjord::cluster
