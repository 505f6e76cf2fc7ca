// The simulation loop, node lifecycle, simulated disk and checks.
#include "sim/simulation.h"

#include <fmt/format.h>

#include <cstdio>

namespace fjord::sim {

Simulation::Simulation(const Options& options)
    : _options(options), _rng(options.seed * 0x2545F4914F6CDD1Dull + 7), _network(_rng), _trace(400) {
    _trace.set_echo(options.echo_trace);
    _crash_permille = _rng.between(0, 3);
    // Killing leaders right after their election leaves logs partly
    // replicated across terms: the ground where Figure 8's bug lives.
    _leader_kill_permille = _rng.chance(500) ? _rng.between(300, 900) : 0;
    _strand_permille = _rng.chance(500) ? _rng.between(20, 200) : 0;
    _partition_permille = _rng.between(0, 3);
    _membership_permille = _rng.between(0, 2);
    _snapshot_permille = _rng.between(0, 8);
    _transfer_permille = _rng.between(0, 2);
    _inject_permille = _rng.between(0, 10);
    _propose_permille = _rng.between(50, 400);
    _read_permille = _rng.between(10, 100);
    _fault_network.min_delay_ms = 1;
    _fault_network.max_delay_ms = _rng.between(2, 60);
    _fault_network.drop_permille = _rng.between(0, 150);
    _fault_network.duplicate_permille = _rng.between(0, 80);
    if (options.gentle) {
        // A run that reads as a story: one fault at a time, now and then.
        _crash_permille = 1;
        _leader_kill_permille = 0;
        _strand_permille = 0;
        _partition_permille = 1;
        _membership_permille = 1;
        _transfer_permille = 1;
        _inject_permille = 0;
        _fault_network = NetworkFaults{1, 10, 10, 10};
    }
    _network.set_faults(_fault_network);

    _raft_config.election_tick = 10;
    _raft_config.heartbeat_tick = 1;
    _raft_config.lease_margin_ticks = 2;
    _raft_config.max_inflight_msgs = _rng.between(1, 32);
    _raft_config.max_append_bytes = _rng.between(400, 16384);  // from about 3 entries (batches) per append
    _raft_config.snapshot_chunk_bytes = _rng.between(8, 64);   // several chunks per snapshot
    _raft_config.mutation = options.mutation;

    raft::Membership founding;
    for (int i = 1; i <= options.nodes; ++i)
        founding.voters.push_back(raft::NodeId{static_cast<uint64_t>(i)});
    for (int i = 1; i <= options.nodes; ++i) {
        SimNode& n = add_node(raft::NodeId{static_cast<uint64_t>(i)});
        raft::Bootstrap b = raft::bootstrap(founding);
        if (!open_store(n) || !ok(n, n.store->append({b.entry}, 0), "bootstrap append")) break;
        n.store->sync([&](storage::StorageResult<int64_t> r) {
            if (!r) _checker.fail(fmt::format("node {}: bootstrap sync: {}", n.id.value, r.error().detail));
        });
        if (!ok(n, n.store->set_hard_state(b.hard_state), "bootstrap hard state")) break;
        _checker.on_persist(n.id, raft::EntryId{}, {b.entry});
        start(n);
    }
    _next_node_id = static_cast<uint64_t>(options.nodes) + 1;
}

Simulation::~Simulation() = default;

Simulation::SimNode& Simulation::add_node(raft::NodeId id) {
    auto n = std::make_unique<SimNode>(_rng.next());
    n->id = id;
    n->tick_phase = _rng.between(0, 9);
    SimNode& ref = *n;
    _nodes[id.value] = std::move(n);
    return ref;
}

bool Simulation::ok(SimNode& n, const storage::StorageResult<Ok>& r, const char* what) {
    if (!r) _checker.fail(fmt::format("node {}: {}: {}", n.id.value, what, r.error().detail));
    return r.has_value();
}

bool Simulation::open_store(SimNode& n) {
    n.store.reset();
    storage::LogConfig config;
    config.segment_bytes = 2048;  // many segments: rolls and whole-segment deletion get exercised
    config.index_interval_bytes = 256;
    config.log = [](const std::string&) {};  // torn tails after crashes are expected here
    auto store =
        cluster::RaftLogStore::open(n.disk, "/data/partition-0", config, nullptr, static_cast<int64_t>(_now));
    if (!store) {
        _checker.fail(fmt::format("node {}: recovery failed: {}", n.id.value, store.error().detail));
        return false;
    }
    n.store = std::move(*store);
    return true;
}

void Simulation::start(SimNode& n) {
    raft::Config cfg = _raft_config;
    cfg.id = n.id;
    cfg.random_seed = _rng.next();
    cfg.stamp_entry = cluster::stamp_batch_entry;
    ++n.life;
    if (!n.store && !open_store(n)) return;
    std::shared_ptr<const raft::Snapshot> snap = n.store->snapshot();
    n.sm = StateMachine{};
    if (snap->data.empty()) {
        n.sm.applied = snap->meta.index;
        n.sm.membership = snap->meta.membership;
    } else if (!StateMachine::decode(snap->data, n.sm)) {
        _checker.fail(fmt::format("node {}: stored snapshot does not decode", n.id.value));
    }
    // Replaying the log from here passes through memberships older than this
    // node: it counts as removed only if it leaves a membership it was in.
    n.was_member = n.sm.membership.contains(n.id);
    n.core = std::make_unique<raft::Node>(cfg, *n.store);
    n.last_commit = n.core->commit_index();
    n.last_role = raft::Role::follower;
    n.last_term = n.core->term();
    n.persisting.clear();
}

void Simulation::crash(SimNode& n, const char* why) {
    for (const SimNode::InFlight& f : n.persisting) {
        // The entries were written but the fsync never came: the disk keeps
        // what it keeps of them (see SimFileSystem::crash). Readys are
        // written in order, so a later one only if the earlier ones were.
        if (f.ready.snapshot || f.ready.entries.empty() || !_rng.chance(500)) break;
        const std::vector<raft::Entry>& entries = f.ready.entries;
        auto prev =
            n.store->entry_at_or_before(raft::Index{entries.front().index.value - entries.front().span});
        if (!ok(n, n.store->append(entries, static_cast<int64_t>(_now)), "append before a crash")) break;
        _checker.on_persist(n.id, *prev, entries);
    }
    n.core.reset();
    n.store.reset();
    n.disk.crash();
    n.persisting.clear();
    n.kill_at = 0;
    n.restart_at = _now + _rng.between(20, 600);
    ++_stats.crashes;
    record({.time = _now, .kind = EventKind::crash, .node = n.id.value, .text = why});
}

Event Simulation::message_event(EventKind kind, const raft::Message& m) const {
    return {.time = _now,
            .kind = kind,
            .node = m.from.value,
            .peer = m.to.value,
            .term = m.term.value,
            .index = m.log_index.value,
            .a = m.commit.value,
            .b = m.entries.size(),
            .msg = m.type,
            .flag = m.reject};
}

void Simulation::send(const raft::Message& m) {
    ++_stats.messages;
    if (m.type == raft::MessageType::append || m.type == raft::MessageType::heartbeat ||
        m.type == raft::MessageType::snapshot) {
        _checker.on_leader_message(m.from, m.term);
    }
    if (!_network.send(_now, m)) record(message_event(EventKind::drop, m));
}

// As the node's driver (cluster/replica.cc) does: a leader in a steady term
// takes further Readys while earlier ones are syncing; anyone else waits.
bool Simulation::may_take_ready(const SimNode& n) const {
    if (n.persisting.empty()) return true;
    const raft::Node& core = *n.core;
    if (n.persisting.size() >= 4 || core.role() != raft::Role::leader || core.log().has_pending_snapshot())
        return false;
    for (const SimNode::InFlight& f : n.persisting) {
        if (!f.by_leader || f.term != core.term() || f.ready.snapshot) return false;
    }
    return true;
}

void Simulation::process(SimNode& n) {
    while (!n.persisting.empty() && _now >= n.persisting.front().persist_at) {
        bool crash_after_persist = _faults_on && !_options.gentle && _rng.chance(_crash_permille * 5);
        finish_persist(n, crash_after_persist);
        if (!n.up()) return;
    }
    if (!n.core->has_ready() || !may_take_ready(n)) return;
    bool by_leader = n.core->role() == raft::Role::leader;
    raft::Term term = n.core->term();
    raft::Ready rd = n.core->ready();
    for (const raft::Message& m : rd.messages) {
        // The persistence contract, rule 1: what goes out before the Ready is
        // persisted comes from a leader, in a term already durable.
        bool leader_type = m.type == raft::MessageType::append || m.type == raft::MessageType::heartbeat ||
                           m.type == raft::MessageType::snapshot ||
                           m.type == raft::MessageType::timeout_now ||
                           m.type == raft::MessageType::read_index_resp;
        if (!leader_type || m.term > n.store->hard_state().term) {
            _checker.fail(fmt::format(
                "persistence contract: node {} sends {} in term {} before persisting (durable "
                "term {})",
                n.id.value, raft::to_string(m.type), m.term.value, n.store->hard_state().term.value));
        }
        send(m);
    }
    rd.messages.clear();
    // Simulated fsync latency; crashes in between lose the Ready.
    uint64_t at = _now + _rng.between(0, 4);
    if (!n.persisting.empty()) {
        at = std::max(at, n.persisting.back().persist_at);
        ++_stats.overlapped_readys;
    }
    n.persisting.push_back(SimNode::InFlight{std::move(rd), at, term, by_leader});
    if (at == _now && n.persisting.size() == 1) finish_persist(n, false);
}

void Simulation::finish_persist(SimNode& n, bool crash_before_send) {
    raft::Ready rd = std::move(n.persisting.front().ready);
    n.persisting.pop_front();
    if (rd.snapshot) {
        // With no Flusher, the store's disk work runs at once.
        storage::StorageResult<Ok> installed =
            storage::storage_error(storage::StorageErrc::bad_request, "not finished");
        n.store->install_snapshot(rd.snapshot, static_cast<int64_t>(_now),
                                  [&](storage::StorageResult<Ok> r) { installed = std::move(r); });
        if (!ok(n, installed, "install snapshot")) return;
        StateMachine restored;
        if (!StateMachine::decode(rd.snapshot->data, restored)) {
            _checker.fail(fmt::format("node {}: received snapshot does not decode", n.id.value));
            return;
        }
        n.sm = restored;
        _checker.on_snapshot(n.id, rd.snapshot->meta, n.sm);
        ++_stats.snapshots_installed;
        record({.time = _now,
                .kind = EventKind::snapshot,
                .node = n.id.value,
                .index = n.sm.applied.value,
                .text = "installs"});
    }
    if (!rd.entries.empty()) {
        const raft::Entry& first = rd.entries.front();
        auto prev = n.store->entry_at_or_before(raft::Index{first.index.value - first.span});
        if (!ok(n, n.store->append(rd.entries, static_cast<int64_t>(_now)), "append")) return;
        _checker.on_persist(n.id, *prev, rd.entries);
    }
    bool synced = false;
    n.store->sync([&](storage::StorageResult<int64_t> r) {
        synced = r.has_value();
        if (!r) _checker.fail(fmt::format("node {}: sync: {}", n.id.value, r.error().detail));
    });
    if (!synced) return;
    if (rd.hard_state && !ok(n, n.store->set_hard_state(*rd.hard_state), "hard state")) return;
    if (crash_before_send) {
        crash(n, "after persisting, before sending");
        return;
    }
    for (const raft::Message& m : rd.persisted_messages) send(m);
    apply(n, rd);
    if (!n.up()) return;
    n.core->advance(rd);
}

void Simulation::apply(SimNode& n, const raft::Ready& rd) {
    for (const raft::Entry& e : rd.committed) {
        if (e.index <= n.sm.applied) {
            _checker.fail(fmt::format("node {} applied index {} after {}", n.id.value, e.index.value,
                                      n.sm.applied.value));
            return;
        }
        raft::Index before = n.sm.applied;
        n.sm.apply(e);
        _checker.on_apply(n.id, e, before, n.sm.chain);
        if (n.sm.membership.contains(n.id)) n.was_member = true;
        auto it = std::find_if(_pending.begin(), _pending.end(),
                               [&](const Proposal& p) { return p.index == e.index && p.node == n.id.value; });
        if (it != _pending.end()) {
            if (it->term == e.term && it->life == n.life) {
                ++_stats.acked;
                if (!_faults_on) ++_acked_after_heal;
                if (e.index > _max_acked) _max_acked = e.index;
                record({.time = _now,
                        .kind = EventKind::acked,
                        .node = n.id.value,
                        .term = e.term.value,
                        .index = e.index.value});
            }
            _pending.erase(it);
        }
    }
    for (const raft::ReadState& rs : rd.read_states) {
        auto it = _reads.find(rs.context);
        if (it == _reads.end() || it->second.node != n.id.value || it->second.life != n.life) continue;
        record({.time = _now,
                .kind = EventKind::read_done,
                .node = n.id.value,
                .index = rs.index.value,
                .a = rs.context});
        _checker.on_read(n.id, rs.context, it->second.required, rs.index);
        _reads.erase(it);
    }
    if (n.was_member && !n.sm.membership.contains(n.id)) {
        n.core.reset();
        n.persisting.clear();
        n.removed = true;
        record({.time = _now, .kind = EventKind::remove, .node = n.id.value});
    }
}

void Simulation::observe(SimNode& n) {
    raft::Node& core = *n.core;
    if (core.role() != n.last_role || core.term() != n.last_term) {
        if (core.role() == raft::Role::leader && _faults_on && _rng.chance(_leader_kill_permille)) {
            // Killed or cut off before its first appends are through: what it
            // sent is lost with it (a partition also drops messages in flight).
            (_rng.chance(500) ? n.kill_at : n.isolate_at) = _now + _rng.between(1, 40);
        }
        if (core.role() != n.last_role) {
            record({.time = _now,
                    .kind = EventKind::role,
                    .node = n.id.value,
                    .term = core.term().value,
                    .index = core.last_index().value,
                    .a = core.commit_index().value,
                    .text = raft::to_string(core.role()).data()});
        }
        n.last_role = core.role();
        n.last_term = core.term();
    }
    if (core.role() == raft::Role::leader) _checker.on_leader(n.id, core.term(), core.log());
    raft::Index commit = core.commit_index();
    if (commit < n.last_commit) {
        _checker.fail(fmt::format("node {}: commit index moved back from {} to {}", n.id.value,
                                  n.last_commit.value, commit.value));
    } else if (commit > n.last_commit) {
        n.last_commit = commit;
        if (std::optional<raft::Term> t = core.log().term_at(commit))
            _checker.on_commit(n.id, core.term(), commit, *t);
    }
    if (commit > core.last_index()) {
        _checker.fail(fmt::format("node {}: commit index {} beyond its last index {}", n.id.value,
                                  commit.value, core.last_index().value));
    }
}

void Simulation::step() {
    if (_faults_on) {
        inject_faults();
        if (_network.partitioned() && _now >= _heal_at) {
            _network.heal();
            record({.time = _now, .kind = EventKind::heal});
        }
    }
    client_requests();
    for (auto& [id, n] : _nodes) {
        if (n->up() && n->kill_at != 0 && _now >= n->kill_at) crash(*n, "killed soon after its election");
        if (n->isolate_at != 0 && _now >= n->isolate_at) {
            n->isolate_at = 0;
            if (!_network.partitioned()) {
                ++_stats.partitions;
                _heal_at = _now + _rng.between(50, 800);
                isolate(n->id, "new leader isolated soon after its election");
            }
        }
        if (!n->up() && !n->removed && _now >= n->restart_at) {
            start(*n);
            record({.time = _now, .kind = EventKind::restart, .node = id});
        }
    }
    for (raft::Message& m : _network.due(_now)) {
        auto it = _nodes.find(m.to.value);
        if (it == _nodes.end() || !it->second->up()) continue;
        SimNode& n = *it->second;
        record(message_event(EventKind::deliver, m));
        // A voter following a leader must shrug off vote requests from outsiders.
        bool outsider = _nodes.count(m.from.value) == 0 && n.core->leader() != raft::no_node &&
                        n.core->membership().is_voter(n.id);
        raft::Term before = n.core->term();
        n.core->step(std::move(m));
        if (outsider && n.core->term() != before) {
            _checker.fail(fmt::format("node {} changed its term on a message from a node outside the cluster",
                                      n.id.value));
        }
    }
    for (auto& [id, n] : _nodes) {
        if (n->up() && (_now + n->tick_phase) % 10 == 0) n->core->tick();
    }
    for (auto& [id, n] : _nodes) {
        if (n->up()) process(*n);
    }
    for (auto& [id, n] : _nodes) {
        if (n->up()) observe(*n);
    }
}

Simulation::SimNode* Simulation::leader() {
    SimNode* best = nullptr;
    for (auto& [id, n] : _nodes) {
        if (!n->up() || n->core->role() != raft::Role::leader) continue;
        if (best == nullptr || n->core->term() > best->core->term()) best = n.get();
    }
    return best;
}

std::vector<Simulation::SimNode*> Simulation::up_nodes() {
    std::vector<SimNode*> out;
    for (auto& [id, n] : _nodes) {
        if (n->up()) out.push_back(n.get());
    }
    return out;
}

bool Simulation::converged(std::string& why) {
    SimNode* l = leader();
    if (l == nullptr) {
        why = "no leader";
        return false;
    }
    if (_acked_after_heal == 0) {
        why = fmt::format("no proposal committed since the faults stopped (leader {})", l->id.value);
        return false;
    }
    raft::Index commit = l->core->commit_index();
    if (commit != l->core->last_index() || commit < _max_acked) {
        why = fmt::format("leader {} has commit {} of last index {} (highest acknowledged {})", l->id.value,
                          commit.value, l->core->last_index().value, _max_acked.value);
        return false;
    }
    for (raft::NodeId id : l->core->membership().all()) {
        auto it = _nodes.find(id.value);
        if (it == _nodes.end() || !it->second->up()) {
            why = fmt::format("member {} is not running", id.value);
            return false;
        }
        if (it->second->sm.applied != commit) {
            why = fmt::format("member {} applied {} of the leader's commit {}", id.value,
                              it->second->sm.applied.value, commit.value);
            return false;
        }
    }
    return true;
}

void Simulation::record(Event e) {
    _trace.record(e);
    if (!_options.narrate) return;
    switch (e.kind) {
        case EventKind::role:
            if (std::string_view(e.text) != "leader") return;
            break;
        case EventKind::crash:
        case EventKind::restart:
        case EventKind::remove:
        case EventKind::partition:
        case EventKind::heal:
        case EventKind::membership:
        case EventKind::transfer:
        case EventKind::phase:
        case EventKind::snapshot:
            break;
        default:
            return;
    }
    narrate(Trace::format(e));
}

void Simulation::narrate(const std::string& line) {
    std::printf("%s\n", line.c_str());
}

Outcome Simulation::run() {
    Outcome out;
    record({.time = 0, .kind = EventKind::phase, .text = "fault phase"});
    uint64_t deadline = _options.steps + _options.liveness_steps;
    std::string why = "did not run";
    for (_now = 1; _now <= deadline && !_checker.failed(); ++_now) {
        if (_faults_on && _now >= _options.steps) {
            _faults_on = false;
            _network.heal();
            _network.set_faults(NetworkFaults{1, 10, 0, 0});
            for (auto& [id, n] : _nodes) {
                n->restart_at = std::min(n->restart_at, _now);
                n->kill_at = 0;
                n->isolate_at = 0;
            }
            record({.time = _now, .kind = EventKind::phase, .text = "faults stop: liveness phase"});
        }
        step();
        if (_options.narrate && _now % 500 == 0) {
            SimNode* l = leader();
            std::string who = l == nullptr
                                  ? std::string("no leader")
                                  : fmt::format("leader {} in term {}, commit index {}", l->id.value,
                                                l->core->term().value, l->core->commit_index().value);
            narrate(
                fmt::format("t={:>6} status: {}; {} proposals acknowledged so far", _now, who, _stats.acked));
        }
        if (!_faults_on && converged(why)) break;
    }
    if (!_checker.failed() && _now > deadline) {
        _checker.fail(fmt::format("liveness: not converged {} ms after the faults stopped: {}",
                                  _options.liveness_steps, why));
    }
    _stats.leaders = _checker.leaders_elected();
    out.stats = _stats;
    if (_checker.failed()) {
        out.ok = false;
        out.failure = _checker.failure();
        out.trace = _trace.dump();
    }
    return out;
}

}  // namespace fjord::sim
