#include "raft_test_cluster.h"

#include <gtest/gtest.h>

#include <algorithm>

namespace fjord::raft {

void PrintTo(const Entry& e, std::ostream* os) {
    *os << "{index " << e.index.value << ", term " << e.term.value << ", span " << e.span << ", type "
        << static_cast<int>(e.type) << ", data \"" << e.data.view() << "\"}";
}

void PrintTo(const EntryId& e, std::ostream* os) {
    *os << "(" << e.index.value << ", " << e.term.value << ")";
}

void PrintTo(const Membership& m, std::ostream* os) {
    *os << "{voters";
    for (NodeId id : m.voters) *os << " " << id.value;
    *os << "; learners";
    for (NodeId id : m.learners) *os << " " << id.value;
    *os << "}";
}

}  // namespace fjord::raft

namespace fjord::raft::test {

Membership voters_of(std::initializer_list<uint64_t> ids) {
    Membership m;
    for (uint64_t id : ids) m.voters.push_back(NodeId{id});
    std::sort(m.voters.begin(), m.voters.end());
    return m;
}

Entry make_entry(uint64_t index, uint64_t term, uint32_t span, std::string data, EntryType type) {
    Entry e;
    e.index = Index{index};
    e.term = Term{term};
    e.span = span;
    e.type = type;
    e.data = std::move(data);
    return e;
}

Cluster::Cluster(size_t voters, size_t extra, const Tweak& tweak) {
    Membership founding;
    for (uint64_t id = 1; id <= voters; ++id) founding.voters.push_back(NodeId{id});
    for (uint64_t id = 1; id <= voters + extra; ++id) {
        TestNode& tn = _nodes[id];
        tn.config.id = NodeId{id};
        tn.config.random_seed = 7;
        if (tweak) tweak(tn.config);
        tn.storage = std::make_unique<MemoryStorage>();
        if (id <= voters)
            tn.storage->install_snapshot(Snapshot{SnapshotMeta{Index{0}, Term{0}, founding}, ""});
        tn.node = std::make_unique<Node>(tn.config, *tn.storage);
        tn.applied_snapshot = tn.storage->snapshot();
    }
}

std::vector<uint64_t> Cluster::ids() const {
    std::vector<uint64_t> out;
    for (const auto& [id, tn] : _nodes) out.push_back(id);
    return out;
}

void Cluster::tick_all(int rounds) {
    for (int r = 0; r < rounds; ++r) {
        for (auto& [id, tn] : _nodes) {
            if (tn.up) tn.node->tick();
        }
        deliver_all();
    }
}

void Cluster::tick(uint64_t id, int rounds) {
    for (int r = 0; r < rounds; ++r) {
        node(id).tick();
        deliver_all();
    }
}

void Cluster::process(TestNode& tn) {
    Ready rd = tn.node->ready();
    // Persist: snapshot, entries, hard state; then send.
    if (rd.snapshot) tn.storage->install_snapshot(*rd.snapshot);
    if (!rd.entries.empty()) tn.storage->append(rd.entries);
    if (rd.hard_state) tn.storage->set_hard_state(*rd.hard_state);
    for (Message& m : rd.messages) {
        emitted.push_back(m);
        _queue.push_back(m);
    }
    for (Message& m : rd.persisted_messages) {
        emitted.push_back(m);
        _queue.push_back(m);
    }
    // Apply.
    if (rd.snapshot) {
        tn.applied.clear();
        tn.applied_snapshot = rd.snapshot;
        tn.applied_index = rd.snapshot->meta.index;
    }
    for (const Entry& e : rd.committed) {
        // Offsets are applied contiguously: each entry starts right after the last.
        if (e.index.value < e.span || e.index.value - e.span != tn.applied_index.value) {
            ADD_FAILURE() << "node " << tn.config.id.value << " applied entry " << e.index.value << " (span "
                          << e.span << ") right after offset " << tn.applied_index.value;
        }
        auto [it, fresh] = _applied_by_index.try_emplace(e.index.value, e);
        if (!fresh && !(it->second == e)) {
            ADD_FAILURE() << "node " << tn.config.id.value << " applied a different entry at index "
                          << e.index.value << " (term " << e.term.value << " vs " << it->second.term.value
                          << ")";
        }
        tn.applied.push_back(e);
        tn.applied_index = e.index;
    }
    tn.read_states.insert(tn.read_states.end(), rd.read_states.begin(), rd.read_states.end());
    tn.node->advance(rd);
}

bool Cluster::process_readies() {
    bool any = false;
    for (auto& [id, tn] : _nodes) {
        if (tn.up && tn.node->has_ready()) {
            process(tn);
            any = true;
        }
    }
    return any;
}

bool Cluster::dropped(const Message& m) const {
    if (_isolated.count(m.from.value) || _isolated.count(m.to.value)) return true;
    if (_cut.count({m.from.value, m.to.value})) return true;
    return filter && filter(m);
}

void Cluster::deliver_queued() {
    size_t n = _queue.size();
    for (size_t i = 0; i < n; ++i) {
        Message m = std::move(_queue.front());
        _queue.pop_front();
        auto it = _nodes.find(m.to.value);
        if (it == _nodes.end() || !it->second.up || dropped(m)) continue;
        delivered.push_back(m);
        it->second.node->step(std::move(m));
    }
}

void Cluster::deliver_all() {
    for (int guard = 0; guard < 100000; ++guard) {
        bool moved = process_readies();
        if (!_queue.empty()) {
            moved = true;
            deliver_queued();
        }
        if (!moved) return;
    }
    ADD_FAILURE() << "deliver_all did not quiesce";
}

bool Cluster::elect(uint64_t id) {
    // A leader of an older term (say, one that was cut off) is not what we want.
    auto stale = [&] {
        for (const auto& [i, tn] : _nodes) {
            if (tn.up && tn.node->term() > node(id).term()) return true;
        }
        return false;
    };
    for (int attempt = 0; attempt < 6; ++attempt) {
        if (node(id).role() == Role::leader) {
            if (!stale()) break;
            // It learns of the newer term from the answers to its heartbeats.
            tick(id);
            continue;
        }
        uint64_t other = id + 1000;
        for (const auto& [i, tn] : _nodes) {
            if (i != id) {
                other = i;
                break;
            }
        }
        Message m;
        m.type = MessageType::timeout_now;
        m.from = NodeId{other};
        m.to = NodeId{id};
        m.term = node(id).term();
        node(id).step(std::move(m));
        deliver_all();
    }
    deliver_all();
    return node(id).role() == Role::leader && !stale();
}

uint64_t Cluster::leader() const {
    uint64_t best = 0;
    Term best_term{0};
    for (const auto& [id, tn] : _nodes) {
        if (tn.up && tn.node->role() == Role::leader && (best == 0 || tn.node->term() > best_term)) {
            best = id;
            best_term = tn.node->term();
        }
    }
    return best;
}

size_t Cluster::leader_count() const {
    size_t n = 0;
    for (const auto& [id, tn] : _nodes) {
        if (tn.up && tn.node->role() == Role::leader) ++n;
    }
    return n;
}

void Cluster::crash(uint64_t id) {
    peer(id).up = false;
}

void Cluster::restart(uint64_t id) {
    TestNode& tn = peer(id);
    tn.node = std::make_unique<Node>(tn.config, *tn.storage);
    tn.up = true;
    tn.applied.clear();
    tn.applied_snapshot = tn.storage->snapshot();
    tn.applied_index = tn.storage->snapshot_meta().index;
    tn.read_states.clear();
}

size_t Cluster::count_delivered(MessageType type, uint64_t from, uint64_t to, bool reject_only) const {
    return static_cast<size_t>(std::count_if(delivered.begin(), delivered.end(), [&](const Message& m) {
        return m.type == type && m.from.value == from && m.to.value == to && (!reject_only || m.reject);
    }));
}

std::vector<Entry> Cluster::applied_after(uint64_t id, Index after) const {
    std::vector<Entry> out;
    for (const Entry& e : _nodes.at(id).applied) {
        if (e.index > after) out.push_back(e);
    }
    return out;
}

SoloNode::SoloNode(uint64_t id, const Membership& m, const Cluster::Tweak& tweak) {
    config.id = NodeId{id};
    config.random_seed = 7;
    if (tweak) tweak(config);
    storage = std::make_unique<MemoryStorage>();
    storage->install_snapshot(Snapshot{SnapshotMeta{Index{0}, Term{0}, m}, ""});
    node = std::make_unique<Node>(config, *storage);
}

Ready SoloNode::ready() {
    Ready rd = node->ready();
    if (rd.snapshot) storage->install_snapshot(*rd.snapshot);
    if (!rd.entries.empty()) storage->append(rd.entries);
    if (rd.hard_state) storage->set_hard_state(*rd.hard_state);
    node->advance(rd);
    return rd;
}

}  // namespace fjord::raft::test
