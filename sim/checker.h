// Raft's safety properties, checked as the simulation runs (Raft paper §5.4,
// Figure 3). The first violation is kept with a readable explanation.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "raft/log.h"
#include "sim/state_machine.h"

namespace fjord::sim {

class Checker {
  public:
    // Election safety: at most one leader per term. Leader completeness: a
    // leader of term T holds every entry committed in a term before T.
    void on_leader(raft::NodeId id, raft::Term term, const raft::RaftLog& log);
    // A node saw its commit index reach `commit` (an entry of `entry_term`)
    // while in `node_term`.
    void on_commit(raft::NodeId id, raft::Term node_term, raft::Index commit, raft::Term entry_term);
    // Log matching: entries made durable after `prev` on a node. Two logs
    // holding an entry with the same index and term hold the same prefix.
    void on_persist(raft::NodeId id, raft::EntryId prev, const std::vector<raft::Entry>& entries);
    // Election safety again, from the wire: only a leader sends appends,
    // heartbeats and snapshots, so at most one node may send them per term.
    void on_leader_message(raft::NodeId id, raft::Term term);
    // State-machine safety: no two nodes apply different entries at an index,
    // and no node jumps over an index another node applied (with spans, two
    // diverging histories need not share an index at all).
    void on_apply(raft::NodeId id, const raft::Entry& e, raft::Index applied_before, uint64_t chain_after);
    // A snapshot installed or taken must agree with what was applied.
    void on_snapshot(raft::NodeId id, const raft::SnapshotMeta& meta, const StateMachine& state);
    // Linearizable reads: a read point must cover every commit known when the read began.
    void on_read(raft::NodeId id, uint64_t context, raft::Index required, raft::Index got);
    void fail(std::string why);

    bool failed() const { return _failure.has_value(); }
    const std::string& failure() const { return *_failure; }
    // Highest commit index any node has reported.
    raft::Index max_commit() const { return _max_commit; }
    size_t leaders_elected() const { return _leaders.size(); }

  private:
    struct EntryKey {
        uint64_t index;
        uint64_t term;
        bool operator==(const EntryKey&) const = default;
    };
    struct EntryKeyHash {
        size_t operator()(const EntryKey& k) const { return k.index * 0x9E3779B97F4A7C15ull ^ k.term; }
    };
    struct Applied {
        uint64_t term;
        uint64_t chain;
        uint64_t before;  // the index applied just before it
    };

    std::optional<std::string> _failure;
    std::map<uint64_t, uint64_t> _leaders;                 // term -> node
    std::map<uint64_t, raft::EntryId> _committed_in_term;  // node term -> highest commit seen in it
    std::unordered_map<EntryKey, uint64_t, EntryKeyHash> _log_chains;  // (index, term) -> prefix hash
    std::map<uint64_t, Applied> _applied;                              // index -> what was applied there
    raft::Index _max_commit;
};

}  // namespace fjord::sim
