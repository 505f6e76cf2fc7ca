// The client workload and the fault schedule of a simulation.
#include <fmt/format.h>

#include "sim/simulation.h"

namespace fjord::sim {

void Simulation::client_requests() {
    // Once something committed after the faults stopped, the cluster is left
    // to settle so that convergence can be observed.
    if (!_faults_on && _acked_after_heal > 0) return;
    std::vector<SimNode*> up = up_nodes();
    if (up.empty()) return;
    if (_rng.chance(_propose_permille)) {
        SimNode& n = *up[_rng.between(0, up.size() - 1)];
        auto span = static_cast<uint32_t>(_rng.between(1, 5));
        // A record batch of `span` records, as a producer would send it.
        std::vector<storage::Record> records(span);
        records[0].value = fmt::format("v{}", _stats.proposals);
        std::string batch = storage::encode_batch(0, 0, static_cast<int64_t>(_now), records);
        if (auto r = n.core->propose(std::move(batch), span)) {
            ++_stats.proposals;
            _pending.push_back({n.id.value, n.life, *r, n.core->term()});
            record({.time = _now,
                    .kind = EventKind::propose,
                    .node = n.id.value,
                    .term = n.core->term().value,
                    .index = r->value,
                    .a = span});
            if (_faults_on && !_network.partitioned() && _rng.chance(_strand_permille)) {
                // Cut off before the entry leaves: a branch of the log that
                // only this leader holds, as in the Raft paper's Figure 8.
                ++_stats.partitions;
                _heal_at = _now + _rng.between(30, 400);
                isolate(n.id, "leader cut off right after a proposal");
            }
        }
    }
    if (_rng.chance(_read_permille)) {
        SimNode& n = *up[_rng.between(0, up.size() - 1)];
        uint64_t ctx = _next_read++;
        bool lease = _rng.chance(300);
        if (n.core->read_index(ctx, lease ? raft::ReadMode::lease : raft::ReadMode::read_index)) {
            ++_stats.reads;
            _reads[ctx] = {n.id.value, n.life, _checker.max_commit()};
            record({.time = _now,
                    .kind = EventKind::read_issued,
                    .node = n.id.value,
                    .index = _checker.max_commit().value,
                    .a = ctx,
                    .text = lease ? "lease" : "read-index"});
        }
    }
}

void Simulation::inject_faults() {
    std::vector<SimNode*> up = up_nodes();
    if (!up.empty() && _rng.chance(_crash_permille)) crash(*up[_rng.between(0, up.size() - 1)], "killed");
    if (!_network.partitioned() && _rng.chance(_partition_permille)) partition();
    SimNode* l = leader();
    if (l != nullptr && _rng.chance(_membership_permille)) change_membership(*l);
    if (l != nullptr && l->up() && _rng.chance(_transfer_permille)) {
        const auto& voters = l->core->membership().voters;
        raft::NodeId to = voters[_rng.between(0, voters.size() - 1)];
        if (to != l->id && l->core->transfer_leadership(to)) {
            ++_stats.transfers;
            record({.time = _now, .kind = EventKind::transfer, .node = l->id.value, .peer = to.value});
        }
    }
    for (SimNode* n : up) {
        if (n->up() && _rng.chance(_snapshot_permille)) take_snapshot(*n);
    }
    if (_rng.chance(_inject_permille)) inject_bad_input();
}

void Simulation::change_membership(SimNode& l) {
    const raft::Membership& m = l.core->membership();
    raft::MembershipChange change{raft::MembershipChangeKind::add_learner, raft::no_node};
    uint64_t roll = _rng.between(0, 99);
    bool can_grow = _nodes.size() < static_cast<size_t>(_options.nodes) + 4;
    if (roll < 30 && can_grow) {
        change = {raft::MembershipChangeKind::add_learner, raft::NodeId{_next_node_id}};
    } else if (roll < 55 && !m.learners.empty() && m.voters.size() < 7) {
        change = {raft::MembershipChangeKind::add_voter, m.learners[_rng.between(0, m.learners.size() - 1)]};
    } else if (roll < 65 && can_grow && m.voters.size() < 7) {
        change = {raft::MembershipChangeKind::add_voter, raft::NodeId{_next_node_id}};
    } else if (m.voters.size() > 1) {
        std::vector<raft::NodeId> all = m.all();
        change = {raft::MembershipChangeKind::remove, all[_rng.between(0, all.size() - 1)]};
    } else {
        return;
    }
    auto r = l.core->propose_membership(change);
    if (!r) return;
    ++_stats.membership_changes;
    const char* what = change.kind == raft::MembershipChangeKind::add_learner ? "add learner"
                       : change.kind == raft::MembershipChangeKind::add_voter ? "add voter"
                                                                              : "removal";
    record({.time = _now,
            .kind = EventKind::membership,
            .node = l.id.value,
            .peer = change.node.value,
            .index = r->value,
            .text = what});
    if (change.node.value == _next_node_id) {
        // A brand-new node starts empty and learns everything from the leader.
        ++_next_node_id;
        start(add_node(change.node));
    }
}

void Simulation::partition() {
    std::vector<raft::NodeId> ids;
    for (auto& [id, n] : _nodes) ids.push_back(raft::NodeId{id});
    ++_stats.partitions;
    _heal_at = _now + _rng.between(50, 1500);
    uint64_t kind = _rng.between(0, 3);
    SimNode* l = leader();
    if (kind == 0) {
        std::vector<bool> side(ids.size());
        for (size_t i = 0; i < ids.size(); ++i) side[i] = _rng.chance(500);
        for (size_t i = 0; i < ids.size(); ++i) {
            for (size_t j = 0; j < ids.size(); ++j) {
                if (side[i] != side[j]) _network.block(ids[i], ids[j]);
            }
        }
        record({.time = _now, .kind = EventKind::partition, .text = "symmetric split"});
    } else if (kind == 1) {
        for (raft::NodeId a : ids) {
            for (raft::NodeId b : ids) {
                if (a != b && _rng.chance(300)) _network.block(a, b);
            }
        }
        record({.time = _now, .kind = EventKind::partition, .text = "asymmetric links cut"});
    } else if (kind == 2 && l != nullptr && ids.size() > 2) {
        // The leader keeps one follower and loses the rest: it is still
        // reachable by some nodes, but cut off from a quorum.
        raft::NodeId keep = l->id;
        while (keep == l->id) keep = ids[_rng.between(0, ids.size() - 1)];
        for (raft::NodeId b : ids) {
            if (b == l->id || b == keep) continue;
            _network.block(l->id, b);
            _network.block(b, l->id);
        }
        record({.time = _now,
                .kind = EventKind::partition,
                .node = l->id.value,
                .text = "leader cut off from a quorum, one follower still reachable"});
    } else {
        isolate(ids[_rng.between(0, ids.size() - 1)], "node isolated");
    }
}

void Simulation::isolate(raft::NodeId alone, const char* why) {
    for (auto& [id, n] : _nodes) {
        if (id == alone.value) continue;
        _network.block(alone, raft::NodeId{id});
        _network.block(raft::NodeId{id}, alone);
    }
    record({.time = _now, .kind = EventKind::partition, .node = alone.value, .text = why});
}

void Simulation::inject_bad_input() {
    std::vector<SimNode*> up = up_nodes();
    if (up.empty()) return;
    SimNode& target = *up[_rng.between(0, up.size() - 1)];
    raft::Message m;
    uint64_t kind = _rng.between(0, 2);
    if (kind == 0) {
        // Stale traffic: an old message delivered again, long after it was sent.
        const raft::Message* old = _network.old_message();
        if (old == nullptr) return;
        m = *old;
    } else if (kind == 1) {
        // A vote request from a node that is not part of the cluster.
        m.type = _rng.chance(500) ? raft::MessageType::vote : raft::MessageType::pre_vote;
        m.from = raft::NodeId{1000 + _rng.between(0, 9)};
        m.to = target.id;
        m.term = raft::Term{target.core->term().value + _rng.between(1, 100)};
        m.log_index = raft::Index{target.core->last_index().value + 1000};
        m.log_term = m.term;
    } else {
        // An acknowledgement of an index the leader never had.
        SimNode* l = leader();
        if (l == nullptr) return;
        std::vector<raft::NodeId> peers = l->core->membership().all();
        m.type = raft::MessageType::append_resp;
        m.from = peers[_rng.between(0, peers.size() - 1)];
        if (m.from == l->id) return;
        m.to = l->id;
        m.term = l->core->term();
        // Far beyond anything the leader could append before it arrives.
        m.log_index = raft::Index{l->core->last_index().value + 1'000'000 + _rng.between(0, 1000)};
    }
    ++_stats.injected;
    record({.time = _now,
            .kind = EventKind::inject,
            .node = m.from.value,
            .peer = m.to.value,
            .term = m.term.value,
            .index = m.log_index.value,
            .msg = m.type});
    _network.inject(_now + _rng.between(0, 5), std::move(m));
}

void Simulation::take_snapshot(SimNode& n) {
    raft::Index at = n.sm.applied;
    if (at.value < n.store->snapshot_meta().index.value + 20) return;
    std::optional<raft::Term> term = n.store->term_at(at);
    if (!term) return;
    // The core's view of the membership at the snapshot's index must be the
    // one the state machine applied (a replica's snapshot records the former),
    // wherever the core still knows it: not below a snapshot it has received
    // and not yet installed (a replica takes no snapshot then).
    if (n.core && at >= n.core->log().snapshot_index() && n.core->membership_at(at) != n.sm.membership) {
        _checker.fail(fmt::format("node {}: the membership in force at index {} is not the applied one",
                                  n.id.value, at.value));
        return;
    }
    raft::Snapshot snap{raft::SnapshotMeta{at, *term, n.sm.membership}, n.sm.encode()};
    // As a replica does it, with no Flusher: staged, synced, compacted to (at once).
    auto staged = n.store->stage_snapshot(snap);
    if (!ok(n, staged ? storage::StorageResult<Ok>(Ok{}) : make_unexpected(staged.error()),
            "stage a snapshot"))
        return;
    if (auto synced = (*staged)->sync(); !synced) {
        ok(n, storage::io(synced.error()), "sync a snapshot");
        return;
    }
    storage::StorageResult<Ok> compacted =
        storage::storage_error(storage::StorageErrc::bad_request, "not finished");
    n.store->compact_to(std::make_shared<const raft::Snapshot>(snap),
                        [&](storage::StorageResult<Ok> r) { compacted = std::move(r); });
    if (!ok(n, compacted, "compact")) return;
    _checker.on_snapshot(n.id, n.store->snapshot_meta(), n.sm);
    ++_stats.snapshots_taken;
    record(
        {.time = _now, .kind = EventKind::snapshot, .node = n.id.value, .index = at.value, .text = "takes"});
}

}  // namespace fjord::sim
