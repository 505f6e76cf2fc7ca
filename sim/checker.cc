#include "sim/checker.h"

#include <fmt/format.h>

namespace fjord::sim {

void Checker::fail(std::string why) {
    if (!_failure) _failure = std::move(why);
}

void Checker::on_leader(raft::NodeId id, raft::Term term, const raft::RaftLog& log) {
    auto [it, inserted] = _leaders.try_emplace(term.value, id.value);
    if (!inserted && it->second != id.value) {
        fail(fmt::format("election safety: nodes {} and {} are both leader of term {}", it->second, id.value,
                         term.value));
        return;
    }
    // Commits seen in earlier terms form one growing prefix; the newest is enough.
    std::optional<raft::EntryId> newest;
    for (auto c = _committed_in_term.begin(); c != _committed_in_term.end() && c->first < term.value; ++c) {
        if (!newest || c->second.index > newest->index) newest = c->second;
    }
    if (!newest || newest->index <= log.snapshot_index()) return;
    if (log.term_at(newest->index) != newest->term) {
        fail(fmt::format("leader completeness: node {} leads term {} without committed entry {} (term {})",
                         id.value, term.value, newest->index.value, newest->term.value));
    }
}

void Checker::on_commit(raft::NodeId id, raft::Term node_term, raft::Index commit, raft::Term entry_term) {
    if (commit > _max_commit) _max_commit = commit;
    raft::EntryId& best = _committed_in_term[node_term.value];
    if (commit > best.index) best = {commit, entry_term};
    (void)id;
}

void Checker::on_persist(raft::NodeId id, raft::EntryId prev, const std::vector<raft::Entry>& entries) {
    uint64_t chain = 0;
    if (prev.index.value != 0) {
        auto it = _log_chains.find({prev.index.value, prev.term.value});
        if (it == _log_chains.end()) {
            fail(fmt::format("log matching: node {} appended after entry {} (term {}) that no log holds",
                             id.value, prev.index.value, prev.term.value));
            return;
        }
        chain = it->second;
    }
    for (const raft::Entry& e : entries) {
        chain = chain_hash(chain, e);
        auto [it, inserted] = _log_chains.try_emplace({e.index.value, e.term.value}, chain);
        if (!inserted && it->second != chain) {
            fail(fmt::format(
                "log matching: node {} holds entry {} (term {}) with a prefix differing from another "
                "node's",
                id.value, e.index.value, e.term.value));
            return;
        }
    }
}

void Checker::on_leader_message(raft::NodeId id, raft::Term term) {
    auto [it, inserted] = _leaders.try_emplace(term.value, id.value);
    if (!inserted && it->second != id.value) {
        fail(fmt::format("election safety: nodes {} and {} both sent leader messages in term {}", it->second,
                         id.value, term.value));
    }
}

void Checker::on_apply(raft::NodeId id, const raft::Entry& e, raft::Index applied_before,
                       uint64_t chain_after) {
    auto next = _applied.upper_bound(applied_before.value);
    if (next != _applied.end() && next->first < e.index.value) {
        fail(fmt::format(
            "state machine safety: node {} applied index {} right after {}, but index {} was applied "
            "in between elsewhere",
            id.value, e.index.value, applied_before.value, next->first));
        return;
    }
    auto [it, inserted] =
        _applied.try_emplace(e.index.value, Applied{e.term.value, chain_after, applied_before.value});
    if (!inserted && (it->second.term != e.term.value || it->second.chain != chain_after)) {
        fail(fmt::format(
            "state machine safety: node {} applied entry {} (term {}) but another node applied term "
            "{} or a different prefix there",
            id.value, e.index.value, e.term.value, it->second.term));
        return;
    }
    if (inserted) {
        auto after = std::next(it);
        if (after != _applied.end() && after->second.before < e.index.value) {
            fail(
                fmt::format("state machine safety: node {} applied index {}, which another node jumped over "
                            "(from {} to {})",
                            id.value, e.index.value, after->second.before, after->first));
        }
    }
}

void Checker::on_snapshot(raft::NodeId id, const raft::SnapshotMeta& meta, const StateMachine& state) {
    if (meta.index.value == 0) return;
    if (state.applied != meta.index) {
        fail(fmt::format("snapshot: node {} has a snapshot at {} whose state is at {}", id.value,
                         meta.index.value, state.applied.value));
        return;
    }
    auto it = _applied.find(meta.index.value);
    if (it == _applied.end() || it->second.term != meta.term.value || it->second.chain != state.chain) {
        fail(fmt::format(
            "state machine safety: node {} holds a snapshot at {} (term {}) that matches no applied "
            "state",
            id.value, meta.index.value, meta.term.value));
        return;
    }
    _log_chains.try_emplace({meta.index.value, meta.term.value}, state.chain);
}

void Checker::on_read(raft::NodeId id, uint64_t context, raft::Index required, raft::Index got) {
    if (got < required) {
        fail(
            fmt::format("linearizable read: read {} at node {} got read index {}, but index {} was already "
                        "committed when it began",
                        context, id.value, got.value, required.value));
    }
}

}  // namespace fjord::sim
