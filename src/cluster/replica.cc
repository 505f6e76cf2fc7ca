#include "cluster/replica.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cassert>
#include <chrono>
#include <utility>

#include "cluster/raft_log_store.h"

namespace fjord::cluster {

namespace {

constexpr int64_t kInitialCampaignMs = 1000;
constexpr int kCampaignEveryTicks = 3;
constexpr int kStallRetryMs = 1000;
// The leader defers a snapshot while an active follower still needs the log
// below it, unless the log grew this many times past the snapshot interval.
constexpr uint64_t kSnapshotDeferFactor = 4;
// Readys a leader may have syncing at once (see may_overlap()).
constexpr size_t kMaxReadysInFlight = 4;

// Latencies for the metrics, finer than the host's millisecond clock.
double seconds_since(std::chrono::steady_clock::time_point start) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

Replica::Replica(ReplicaHost& host, ReplicaOptions options, StateMachine* state_machine)
    : _host(host),
      _options(std::move(options)),
      _state_machine(state_machine),
      _self(std::make_shared<Replica*>(this)) {}

Replica::~Replica() {
    *_self = nullptr;
}

Result<std::unique_ptr<Replica>, std::string> Replica::open(ReplicaHost& host, ReplicaOptions options,
                                                            StateMachine* state_machine) {
    std::unique_ptr<Replica> replica(new Replica(host, std::move(options), state_machine));
    auto started = replica->start();
    if (!started) return make_unexpected(started.error());
    return replica;
}

Result<Ok, std::string> Replica::start() {
    const std::string& name = _options.name;
    _options.log.log = [name](const std::string& line) { spdlog::warn("{}: {}", name, line); };
    auto store =
        RaftLogStore::open(_host.file_system(), _options.dir, _options.log, _host.flusher(), _host.now_ms());
    if (!store) return make_unexpected("cannot open the log of " + name + ": " + store.error().detail);
    _store = std::move(*store);
    bool bootstrapped = false;
    if (_store->hard_state().term == raft::Term{0} && _store->last_index() == raft::Index{0}) {
        bootstrapped = true;
        // A new replica: every founding member writes the same first entry.
        raft::Membership founding;
        for (uint64_t id : _options.founding_voters) founding.voters.push_back(raft::NodeId{id});
        std::sort(founding.voters.begin(), founding.voters.end());
        raft::Bootstrap b = raft::bootstrap(founding);
        auto appended = _store->append({b.entry}, _host.now_ms());
        auto synced = appended ? _store->log().sync_now() : storage::StorageResult<Ok>(Ok{});
        auto saved =
            (appended && synced) ? _store->set_hard_state(b.hard_state) : storage::StorageResult<Ok>(Ok{});
        for (const auto* r : {&appended, &synced, &saved}) {
            if (!*r) return make_unexpected("cannot bootstrap " + name + ": " + r->error().detail);
        }
    }
    _options.raft.stamp_entry = stamp_batch_entry;
    if (auto snap = _store->snapshot();
        snap && snap->meta.index.value > 0 && _state_machine && _state_machine->has_image()) {
        if (!_state_machine->restore(snap->data))
            return make_unexpected("cannot restore " + name + " from its snapshot at index " +
                                   std::to_string(snap->meta.index.value) + ": the image is malformed");
        _applied = snap->meta.index.value;
        _applied_term = snap->meta.term.value;
    }
    _node = std::make_unique<raft::Node>(_options.raft, *_store);
    // Its peers may open the group a little later (they learn of it from the
    // controller's next heartbeat), so it keeps trying for a short while.
    if (bootstrapped && _options.campaign_if_new) _campaign_until_ms = _host.now_ms() + kInitialCampaignMs;
    schedule();
    return Ok{};
}

void Replica::tick() {
    if (!_failure.empty()) return;
    if (_campaign_until_ms > 0) {
        if (_node->leader() != raft::no_node || _host.now_ms() > _campaign_until_ms) {
            _campaign_until_ms = 0;
        } else if (++_campaign_ticks % kCampaignEveryTicks == 0) {
            _node->campaign_now();
        }
    }
    _node->tick();
    ++_ticks_counted;
    catch_up_lease_clock();
    if (_node->role() == raft::Role::leader) track_in_sync();
    expire_reads(false);
    flush_by_policy();
    schedule();
}

// Under flush.policy `interval`, what was written reaches the disk every
// flush.ms (`never` leaves it to the page cache).
void Replica::flush_by_policy() {
    storage::PartitionLog& log = _store->log();
    if (log.config().flush == storage::FlushPolicy::every_append) return;
    auto started = std::chrono::steady_clock::now();
    log.sync_if_due(_host.now_ms(), [self = _self, started](storage::StorageResult<int64_t> synced) {
        Replica* r = *self;
        if (!r) return;
        if (!synced) return r->fail("syncing", synced.error().detail);
        r->_host.observe_fsync(seconds_since(started));
    });
}

// The core counts time in ticks. After the process was paused (a stop
// signal, a long stall), the loop's timer fires once, not once per tick
// missed, so the core's lease clock is moved on by every tick the clock says
// has passed: a paused leader's lease then expires as it should, before it
// serves a lease read, rather than lasting as many ticks as it did not see.
// Elections still count only the ticks given, so a stall alone (say, every
// node opening its partitions at once) starts none.
void Replica::catch_up_lease_clock() {
    int64_t now = _host.now_ms();
    if (_clock_start_ms == 0) _clock_start_ms = now - static_cast<int64_t>(_ticks_counted) * _options.tick_ms;
    auto by_clock = static_cast<uint64_t>((now - _clock_start_ms) / _options.tick_ms);
    if (by_clock <= _ticks_counted) return;
    _node->skip_ticks(by_clock - _ticks_counted);
    _ticks_counted = by_clock;
}

void Replica::step(raft::Message m) {
    if (!_failure.empty()) return;
    _node->step(std::move(m));
    schedule();
}

uint64_t Replica::propose(std::string batch, uint32_t records, ProposeDone done, bool local_only) {
    if (!_failure.empty()) {
        done(make_unexpected(ProposeError{ProposeErrc::failed, 0, _failure}));
        return 0;
    }
    if (_node->role() != raft::Role::leader) {
        done(make_unexpected(
            ProposeError{ProposeErrc::not_leader, _node->leader().value, name() + ": not the leader"}));
        return 0;
    }
    auto index = _node->propose(std::move(batch), records);
    if (!index) {
        raft::Error e = index.error();
        ProposeErrc code = e == raft::Error::invalid_entry ? ProposeErrc::invalid
                           : e == raft::Error::not_leader  ? ProposeErrc::not_leader
                                                           : ProposeErrc::busy;
        done(make_unexpected(
            ProposeError{code, _node->leader().value, name() + ": " + std::string(raft::to_string(e))}));
        return 0;
    }
    _pending.emplace(index->value, Pending{_node->term().value, records, std::move(done), local_only});
    schedule();
    return index->value;
}

void Replica::read(raft::ReadMode mode, int64_t timeout_ms, ReadDone done) {
    if (leader() == 0) {
        done(make_unexpected(ProposeError{ProposeErrc::not_leader, 0, name() + ": no leader known"}));
        return;
    }
    catch_up_lease_clock();  // a lease must be judged by the time that has really passed
    uint64_t context = ++_read_context;
    if (auto started = _node->read_index(context, mode); !started) {
        done(make_unexpected(ProposeError{ProposeErrc::busy, leader(),
                                          name() + ": " + std::string(raft::to_string(started.error()))}));
        return;
    }
    _reads.emplace(context, Read{_host.now_ms() + timeout_ms, std::move(done)});
    schedule();
}

// Asked for every lease read, so a positive answer is kept while nothing it
// rests on changes: a lease ends only as ticks pass, with a new term or role,
// a membership change (an appended entry), or during a leadership transfer
// (never cached); a commit or an apply moves the read point.
uint64_t Replica::lease_read_point() {
    if (!is_leader()) return 0;
    catch_up_lease_clock();
    LeaseKey key{_ticks_counted, term(), commit_index(), _node->last_index().value, _applied};
    if (_lease_key && *_lease_key == key && _node->transfer_target() == raft::no_node) return key.commit;
    _lease_key.reset();
    if (!_node->lease_valid() || _applied < key.commit) return 0;
    if (_node->transfer_target() == raft::no_node) _lease_key = key;
    return key.commit;
}

void Replica::await_applied(uint64_t index, ReadDone done) {
    _read_ready.emplace(index, std::move(done));
    release_reads();
}

void Replica::take_read_states(std::vector<raft::ReadState>& states) {
    for (const raft::ReadState& rs : states) {
        auto it = _reads.find(rs.context);
        if (it == _reads.end()) continue;  // timed out already
        _read_ready.emplace(rs.index.value, std::move(it->second.done));
        _reads.erase(it);
    }
    states.clear();
    release_reads();
}

void Replica::release_reads() {
    while (!_read_ready.empty() && _read_ready.begin()->first <= _applied) {
        auto node = _read_ready.extract(_read_ready.begin());
        node.mapped()(node.key());
    }
}

// The core forgets reads when leadership moves: they end here, as retryable.
void Replica::expire_reads(bool all) {
    int64_t now = _host.now_ms();
    for (auto it = _reads.begin(); it != _reads.end();) {
        if (!all && it->second.deadline > now) {
            ++it;
            continue;
        }
        ReadDone done = std::move(it->second.done);
        it = _reads.erase(it);
        done(make_unexpected(ProposeError{ProposeErrc::busy, leader(), name() + ": no read point in time"}));
    }
}

Result<Ok, raft::Error> Replica::transfer_leadership(uint64_t to) {
    auto r = _node->transfer_leadership(raft::NodeId{to});
    schedule();
    return r;
}

// Retention drops whole segments as a snapshot does, with no image: staged,
// synced and compacted to off the loop (stage()).
void Replica::enforce_retention() {
    // A snapshot in progress uses the snapshot file, and one from the leader
    // (pending, or being installed) replaces the log; retention is judged
    // again on its next tick.
    if (!_failure.empty() || _imaging || _staged || _node->log().has_pending_snapshot() ||
        _store->disk_work_under_way())
        return;
    int64_t point = std::min(_store->log().retention_point(_host.now_ms()), static_cast<int64_t>(_applied));
    // The entry ending just below the point has Raft index `point`.
    if (point <= _store->log().start_offset()) return;
    auto term = _store->term_at(raft::Index{static_cast<uint64_t>(point)});
    if (!term) return;  // not an entry boundary: wait for the next segment
    auto snap = std::make_shared<raft::Snapshot>();
    snap->meta = {raft::Index{static_cast<uint64_t>(point)}, *term,
                  _node->membership_at(raft::Index{static_cast<uint64_t>(point)})};
    _snapshot_started = std::chrono::steady_clock::now();
    _snapshot_loop_ms = 0;
    _snapshot_steps = 0;
    _staged_by_retention = true;
    stage(std::move(snap));
}

storage::PartitionLog& Replica::log() {
    return _store->log();
}

std::pair<int32_t, int64_t> Replica::end_of_epoch(int32_t epoch) const {
    const auto& epochs = _store->epochs();
    auto after = std::upper_bound(epochs.begin(), epochs.end(), static_cast<uint64_t>(std::max(epoch, 0)),
                                  [](uint64_t e, const storage::EpochStart& s) { return e < s.epoch; });
    if (epoch < 0 || after == epochs.begin()) return {-1, -1};
    int64_t end = after == epochs.end() ? _store->log().next_offset() : after->start_offset;
    return {static_cast<int32_t>(std::prev(after)->epoch), end};
}

LeaderReport Replica::report() const {
    LeaderReport r;
    r.group = group();
    r.term = term();
    r.commit = high_watermark();
    r.last = last_index();
    int64_t now = _host.now_ms();
    for (const raft::FollowerStatus& f : _node->followers()) {
        if (f.id == _options.raft.id) continue;
        FollowerReport fr;
        fr.node = f.id.value;
        fr.match = static_cast<int64_t>(f.match.value);
        fr.active = f.recent_active;
        auto it = _catchup.find(f.id.value);
        fr.in_sync =
            !f.learner && it != _catchup.end() && now - it->second.caught_up_at <= _options.replica_lag_ms;
        r.followers.push_back(fr);
    }
    return r;
}

void Replica::track_in_sync() {
    int64_t now = _host.now_ms();
    uint64_t last = _node->last_index().value;
    for (const raft::FollowerStatus& f : _node->followers()) {
        if (f.id == _options.raft.id) continue;
        auto [it, inserted] = _catchup.try_emplace(f.id.value);
        Catchup& c = it->second;
        if (inserted) c = Catchup{last, now, now};  // a new leader gives everyone a lag period
        // Only a follower that is heard from counts as caught up: a silent one
        // leaves the ISR after the lag time even when nothing is written.
        if (f.recent_active && f.match.value >= c.mark_index) {
            c.caught_up_at = c.mark_time;
            c.mark_index = last;
            c.mark_time = now;
        }
    }
}

void Replica::schedule() {
    if (_scheduled || !_failure.empty()) return;
    _scheduled = true;
    _host.post([self = _self] {
        if (Replica* r = *self) {
            r->_scheduled = false;
            r->process_ready();
        }
    });
}

// A leader in a steady term takes the next Ready while earlier ones are
// still syncing: its new entries go out to the followers and into the page
// cache at once, and the Flusher's group commit syncs them with, or right
// after, the ones before. Readys still finish strictly in order. Anything
// else (a follower, which may truncate its tail or install a snapshot; a new
// term; a full disk) waits for the Ready in flight.
bool Replica::may_overlap() const {
    if (_persisting.empty()) return true;
    if (!_stall.empty() || _compaction_due || _persisting.size() >= kMaxReadysInFlight) return false;
    if (_node->role() != raft::Role::leader || _node->log().has_pending_snapshot()) return false;
    for (const InFlight& f : _persisting) {
        if (!f.by_leader || f.term != _node->term().value || f.ready.snapshot) return false;
    }
    return true;
}

void Replica::process_ready() {
    if (!_failure.empty() || !_node->has_ready() || !may_overlap()) return;
    if (_node->log().has_pending_snapshot()) {
        // A snapshot from the leader waits for a staged one (they share the
        // snapshot file); an image still being built is of a state it
        // replaces, so that build is dropped.
        if (_staged) return;
        abandon_image();
    }
    bool by_leader = _node->role() == raft::Role::leader;
    raft::Ready rd = _node->ready();
    for (const raft::Message& m : rd.messages) _host.send_raft(group(), m);
    rd.messages.clear();
    take_read_states(rd.read_states);
    if (rd.snapshot) return install(std::move(rd), by_leader);
    // Committed entries are durable here already (raft/node.h): they are
    // applied now, in parallel with persisting this Ready's new entries.
    if (!rd.committed.empty()) {
        apply(rd.committed);
        rd.committed.clear();
        release_reads();
        _host.on_applied(group());
    }
    _persisting.push_back(InFlight{std::move(rd), ++_ready_seq, term(), by_leader, false, {}});
    persist_entries(_persisting.back());
}

// A snapshot from the leader replaces the log and the state machine. The
// store's disk work runs off the loop (writing a large image, deleting every
// segment); the rest of the Ready (restoring the state machine, persisting
// the entries after the snapshot) waits for it. Meanwhile no other Ready is
// taken: this one is in flight, and a follower overlaps none. (A Ready with a
// snapshot carries no committed entries: the core hands those out only once
// the snapshot is persisted.)
void Replica::install(raft::Ready rd, bool by_leader) {
    std::shared_ptr<const raft::Snapshot> snap = rd.snapshot;
    _persisting.push_back(InFlight{std::move(rd), ++_ready_seq, term(), by_leader, false, {}});
    auto started = std::chrono::steady_clock::now();
    _store->install_snapshot(
        std::move(snap), _host.now_ms(), [self = _self, started](storage::StorageResult<Ok> installed) {
            Replica* r = *self;
            if (!r || !r->_failure.empty()) return;
            if (!installed) return r->fail("installing a snapshot", installed.error().detail);
            assert(r->_persisting.size() == 1);
            InFlight& in_flight = r->_persisting.front();
            spdlog::info(
                "{}: the leader's snapshot at index {} ({} bytes) is on disk, in {:.1f} ms off the loop",
                r->name(), in_flight.ready.snapshot->meta.index.value, in_flight.ready.snapshot->data.size(),
                seconds_since(started) * 1000);
            r->restore_image(*in_flight.ready.snapshot);
            if (!r->_failure.empty()) return;
            r->release_reads();  // reads waiting for an index the snapshot covers
            r->_host.on_applied(r->group());
            r->persist_entries(in_flight);
        });
}

// Writes the entries of the Ready being persisted, then syncs. A full disk
// stores nothing: the proposals in it are answered with the storage error
// (so nothing is acknowledged that was not stored), and the write is retried
// until space returns; meanwhile this replica takes no new Ready, so it sends
// no heartbeats and acknowledges nothing, and a leader with space takes over.
void Replica::persist_entries(InFlight& in_flight) {
    const raft::Ready& rd = in_flight.ready;
    int64_t now = _host.now_ms();
    auto started = std::chrono::steady_clock::now();
    if (!rd.entries.empty()) {
        size_t bytes = 0;
        for (const raft::Entry& e : rd.entries) bytes += e.data.size();
        auto appended = _store->append(rd.entries, now);
        if (!appended && appended.error().code == storage::StorageErrc::no_space)
            return stall(appended.error().detail);
        if (!appended) return fail("appending", appended.error().detail);
        if (!_stall.empty()) spdlog::info("{}: space is back, writing again", name());
        _stall.clear();
        _host.observe_append(bytes, seconds_since(started));
        settle_local(rd.entries.back().index.value);
    }
    // Without the every_append policy, written entries count as persisted.
    bool by_policy = _store->log().config().flush == storage::FlushPolicy::every_append;
    bool must_sync = rd.snapshot || (!rd.entries.empty() && by_policy);
    if (!must_sync) {
        in_flight.synced = true;
        return finish_synced();
    }
    in_flight.sync_started = std::chrono::steady_clock::now();
    _store->sync([self = _self, seq = in_flight.seq](storage::StorageResult<int64_t> synced) {
        Replica* r = *self;
        if (!r) return;
        if (!synced) return r->fail("syncing", synced.error().detail);
        for (InFlight& f : r->_persisting) {
            if (f.seq != seq) continue;
            f.synced = true;
            r->_host.observe_fsync(seconds_since(f.sync_started));
        }
        r->finish_synced();
    });
}

// Finishes the synced Readys at the front, in the order they were taken.
void Replica::finish_synced() {
    while (!_persisting.empty() && _persisting.front().synced && _failure.empty()) {
        raft::Ready rd = std::move(_persisting.front().ready);
        _persisting.pop_front();
        finish_ready(rd);
    }
    if (_persisting.empty() && _failure.empty()) {
        if (_compaction_due) maybe_snapshot();
    }
    schedule();
}

// The log is compacted only with no Ready in flight. A busy leader, which
// keeps Readys overlapping, would never get there: a due compaction stops the
// overlap so that the Readys in flight drain, and runs once they have.
bool Replica::defer_compaction() {
    _compaction_due = !_persisting.empty();
    return _compaction_due;
}

void Replica::finish_ready(const raft::Ready& rd) {
    if (rd.hard_state) {
        auto saved = _store->set_hard_state(*rd.hard_state);
        if (!saved) return fail("saving the hard state", saved.error().detail);
    }
    for (const raft::Message& m : rd.persisted_messages) _host.send_raft(group(), m);
    _node->advance(rd);
    maybe_snapshot();
    raft::Role role = _node->role();
    if (role == raft::Role::leader && _last_role != raft::Role::leader) {
        spdlog::info("{}: leader in term {}", name(), term());
        _catchup.clear();
        _host.observe_election_won();
    }
    if (role != raft::Role::leader && _last_role == raft::Role::leader) expire_reads(true);
    _last_role = role;
    schedule();
}

void Replica::restore_image(const raft::Snapshot& snap) {
    _applied = snap.meta.index.value;
    _applied_term = snap.meta.term.value;
    if (!_state_machine || !_state_machine->has_image()) return;
    auto started = std::chrono::steady_clock::now();
    if (!_state_machine->restore(snap.data))
        return fail("restoring a snapshot",
                    "the image at index " + std::to_string(_applied) + " is malformed");
    spdlog::info("{}: restored from a snapshot at index {} ({:.1f} ms on the loop)", name(), _applied,
                 seconds_since(started) * 1000);
}

// Compacts the log below an image of the state machine, after every
// `snapshot_every` applied entries. A leader waits while an active follower
// still replicates below that point, so that a follower that is merely slow
// is not sent the whole state.
//
// Nothing long runs on the event loop: a state machine that can builds its
// image a step at a time between other work (continue_image); the image is
// written to a temporary file, fsynced on the Flusher, and the log is
// compacted below it once it is durable and no Ready is in flight.
void Replica::maybe_snapshot() {
    _compaction_due = false;  // decided again below
    if (!_failure.empty()) return;
    if (_staged) {
        if (_staged_durable) compact_to_staged();
        return;
    }
    // The store's disk work here is an install of the leader's snapshot.
    if (_imaging || _node->log().has_pending_snapshot() || _store->disk_work_under_way()) return;
    if (_options.snapshot_every == 0 || !_state_machine || !_state_machine->has_image()) return;
    uint64_t since = _store->snapshot_meta().index.value;
    if (_applied < since + _options.snapshot_every) return;
    if (is_leader() && _applied < since + kSnapshotDeferFactor * _options.snapshot_every) {
        for (const raft::FollowerStatus& f : _node->followers()) {
            if (f.id != _options.raft.id && f.recent_active && f.match.value < _applied) return;
        }
    }
    auto term = _store->term_at(raft::Index{_applied});
    if (!term) return;
    auto started = std::chrono::steady_clock::now();
    auto snap = std::make_shared<raft::Snapshot>();
    snap->meta = {raft::Index{_applied}, *term, _node->membership_at(raft::Index{_applied})};
    _snapshot_started = started;
    _staged_by_retention = false;
    _snapshot_loop_ms = 0;
    _snapshot_steps = 0;
    if (_state_machine->begin_image()) {
        _imaging = std::move(snap);
        _snapshot_loop_ms = seconds_since(started) * 1000;
        next_image_step();
        return;
    }
    snap->data = _state_machine->image();
    _snapshot_loop_ms = seconds_since(started) * 1000;
    _snapshot_steps = 1;
    stage(std::move(snap));
}

// The next step runs once the loop has polled its sockets and run what was
// queued meanwhile (a timer due at once, not a post, which would run first).
void Replica::next_image_step() {
    _host.post_after(0, [self = _self] {
        if (Replica* r = *self) r->continue_image();
    });
}

// One step of an image being built.
void Replica::continue_image() {
    if (!_imaging) return;
    if (!_failure.empty()) return abandon_image();
    auto started = std::chrono::steady_clock::now();
    std::optional<std::string> image = _state_machine->image_step();
    _snapshot_loop_ms += seconds_since(started) * 1000;
    ++_snapshot_steps;
    if (!image) return next_image_step();
    std::shared_ptr<raft::Snapshot> snap = std::exchange(_imaging, nullptr);
    snap->data = std::move(*image);
    stage(std::move(snap));
}

void Replica::abandon_image() {
    if (!_imaging) return;
    _imaging.reset();
    _state_machine->abandon_image();
}

// Writes the image to its temporary file and has the Flusher sync it.
void Replica::stage(std::shared_ptr<raft::Snapshot> snap) {
    auto started = std::chrono::steady_clock::now();
    auto file = _store->stage_snapshot(*snap);
    if (!file) return fail("writing a snapshot", file.error().detail);
    _staged = std::move(snap);
    _staged_durable = false;
    _snapshot_loop_ms += seconds_since(started) * 1000;
    _store->sync_file(std::move(*file), [self = _self](storage::IoResult<Ok> synced) {
        Replica* r = *self;
        if (!r || !r->_failure.empty()) return;
        if (!synced) return r->fail("syncing a snapshot", synced.error().message());
        r->_staged_durable = true;
        r->maybe_snapshot();
        r->schedule();  // a snapshot from the leader may have waited for this one
    });
}

// The log is compacted in memory now, and on the disk off the loop; the
// snapshot stays staged (holding off another, retention and the leader's)
// until the disk has it.
void Replica::compact_to_staged() {
    if (_store->disk_work_under_way() || defer_compaction()) return;
    _compact_loop_ms = -1;
    auto started = std::chrono::steady_clock::now();
    _store->compact_to(_staged, [self = _self, started](storage::StorageResult<Ok> compacted) {
        Replica* r = *self;
        if (!r) return;
        std::shared_ptr<const raft::Snapshot> snap = std::exchange(r->_staged, nullptr);
        if (!r->_failure.empty()) return;  // failed meanwhile: nothing more is written
        if (!compacted) return r->fail("compacting below a snapshot", compacted.error().detail);
        double compact_ms = seconds_since(started) * 1000;
        double loop_ms =
            r->_compact_loop_ms < 0 ? compact_ms : r->_compact_loop_ms;  // at once: all on the loop
        double all_ms = seconds_since(r->_snapshot_started) * 1000;
        if (std::exchange(r->_staged_by_retention, false)) {
            spdlog::info(
                "{}: retention: the log now starts at offset {} ({:.1f} ms on the loop; {:.1f} ms in all)",
                r->name(), r->_store->log().start_offset(), r->_snapshot_loop_ms + loop_ms, all_ms);
        } else {
            spdlog::info(
                "{}: snapshot at index {} ({} bytes; on the loop {:.1f} ms in {} steps to take and write it, "
                "{:.1f} ms to compact; {:.1f} ms in all, {:.1f} of them off the loop); the log now "
                "starts there",
                r->name(), snap->meta.index.value, snap->data.size(), r->_snapshot_loop_ms,
                r->_snapshot_steps, loop_ms, all_ms, all_ms - r->_snapshot_loop_ms - loop_ms);
        }
        r->maybe_snapshot();  // one may have come due meanwhile
        r->schedule();        // a snapshot from the leader may have waited for this one
    });
    if (_store->disk_work_under_way()) _compact_loop_ms = seconds_since(started) * 1000;  // not done at once
}

void Replica::apply(const std::vector<raft::Entry>& committed) {
    for (const raft::Entry& e : committed) {
        if (e.type == raft::EntryType::normal && _state_machine) _state_machine->apply(e);
        if (e.term.value > _applied_term) settle_older_terms(e.term.value);
        _applied = e.index.value;
        _applied_term = e.term.value;
        // Proposals at or below a committed index are settled: theirs if the
        // committed entry is the one they proposed, lost otherwise.
        while (!_pending.empty() && _pending.begin()->first <= e.index.value) {
            auto node = _pending.extract(_pending.begin());
            Pending& p = node.mapped();
            if (node.key() == e.index.value && p.term == e.term.value) {
                p.done(Appended{static_cast<int64_t>(node.key() - p.records),
                                static_cast<int64_t>(node.key() - 1), p.term});
            } else {
                p.done(make_unexpected(ProposeError{ProposeErrc::lost, _node->leader().value,
                                                    name() + ": overwritten by another leader's entry"}));
            }
        }
    }
}

// Once an entry of term T commits, no entry of an older term can commit at
// a later index (a log's terms never decrease), so proposals of older terms
// not yet settled are lost whatever their index. Left to the index rule in
// apply(), they would wait until the log grew past them, which a shard
// nobody writes to may take long to do.
void Replica::settle_older_terms(uint64_t term) {
    for (auto it = _pending.begin(); it != _pending.end();) {
        if (it->second.term >= term) {
            ++it;
            continue;
        }
        Pending p = std::move(it->second);
        it = _pending.erase(it);
        p.done(make_unexpected(ProposeError{ProposeErrc::lost, _node->leader().value,
                                            name() + ": a later term's entry committed first"}));
    }
}

// Answers the acks=1 proposals the leader has now written.
void Replica::settle_local(uint64_t appended_upto) {
    for (auto it = _pending.begin(); it != _pending.end() && it->first <= appended_upto;) {
        if (!it->second.local_only) {
            ++it;
            continue;
        }
        Pending p = std::move(it->second);
        uint64_t index = it->first;
        it = _pending.erase(it);
        p.done(Appended{static_cast<int64_t>(index - p.records), static_cast<int64_t>(index - 1), p.term});
    }
}

void Replica::stall(const std::string& detail) {
    if (_stall.empty())
        spdlog::error("{}: disk full, retrying every {} ms: {}", name(), kStallRetryMs, detail);
    _stall = name() + ": disk full: " + detail;
    uint64_t upto = _persisting.back().ready.entries.back().index.value;
    for (auto it = _pending.begin(); it != _pending.end() && it->first <= upto;) {
        Pending p = std::move(it->second);
        it = _pending.erase(it);
        p.done(make_unexpected(ProposeError{ProposeErrc::storage_full, 0, _stall}));
    }
    _host.post_after(kStallRetryMs, [self = _self] {
        if (Replica* r = *self; r && !r->_persisting.empty() && r->_failure.empty())
            r->persist_entries(r->_persisting.back());
    });
}

void Replica::fail(const std::string& what, const std::string& detail) {
    _failure = name() + ": stopped after a storage error while " + what + ": " + detail;
    spdlog::error("{}", _failure);
    _persisting.clear();
    auto pending = std::move(_pending);
    for (auto& [index, p] : pending) p.done(make_unexpected(ProposeError{ProposeErrc::failed, 0, _failure}));
    expire_reads(true);
    auto ready = std::move(_read_ready);
    for (auto& [index, done] : ready) done(make_unexpected(ProposeError{ProposeErrc::failed, 0, _failure}));
}

}  // namespace fjord::cluster
