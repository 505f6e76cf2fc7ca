#include "cluster/raft_log_store.h"

#include <algorithm>
#include <condition_variable>
#include <mutex>

#include "common/big_endian.h"
#include "storage/record_batch.h"

namespace fjord::cluster {

namespace {

using storage::StorageErrc;
using storage::StorageResult;

// Entries kept in memory after their append, per partition: enough for
// the entries between the log's end and its commit point under load.
constexpr size_t kRecentBytes = 4 << 20;
// Control record types of the core's own entries (Kafka's own are 0 and 1).
constexpr uint16_t kNoopControl = 100;
constexpr uint16_t kMembershipControl = 101;
constexpr int16_t kControlAttribute = 0x20;

// Raft index = the batch's last offset + 1: the log end offset once the batch
// is in. Index 0 is the empty log and offsets start at 0, as in Kafka.
int64_t base_offset_of(const raft::Entry& e) {
    return static_cast<int64_t>(e.index.value - e.span);
}

StorageResult<std::string> encode_entry(const raft::Entry& e) {
    if (e.type == raft::EntryType::normal) {
        std::string batch(e.data.view());
        auto h = storage::validate_batch(batch);
        // Control batches are the store's own (and Kafka's transaction markers):
        // application entries may not carry the attribute.
        if (!h || h->size != batch.size() || h->is_control() ||
            static_cast<uint32_t>(h->last_offset_delta) + 1 != e.span) {
            return storage::storage_error(StorageErrc::bad_request,
                                          "entry " + std::to_string(e.index.value) +
                                              " is not one (non-control) record batch of " +
                                              std::to_string(e.span) + " records");
        }
        storage::stamp_batch(batch, base_offset_of(e), static_cast<int32_t>(e.term.value));
        return batch;
    }
    std::string key;
    be::append(key, 0, 2);  // control record version
    be::append(key, e.type == raft::EntryType::noop ? kNoopControl : kMembershipControl, 2);
    return storage::encode_batch(base_offset_of(e), static_cast<int32_t>(e.term.value), 0,
                                 {{key, std::string(e.data.view()), 0}}, kControlAttribute);
}

// The entry a stored batch holds.
StorageResult<raft::Entry> decode_entry(std::string_view batch, const storage::BatchHeader& h) {
    raft::Entry e;
    e.index = raft::Index{static_cast<uint64_t>(h.last_offset() + 1)};
    e.term = raft::Term{static_cast<uint64_t>(h.leader_epoch)};
    e.span = static_cast<uint32_t>(h.last_offset_delta) + 1;
    if (!h.is_control()) {
        e.data = std::string(batch.substr(0, h.size));
        return e;
    }
    auto records = storage::decode_records(batch);
    if (!records || records->size() != 1 || (*records)[0].key.size() != 4) {
        return storage::storage_error(
            StorageErrc::corrupt,
            "control batch at offset " + std::to_string(h.base_offset) + " is malformed");
    }
    uint16_t type = be::load16((*records)[0].key.data() + 2);
    if (type != kNoopControl && type != kMembershipControl) {
        return storage::storage_error(StorageErrc::corrupt, "unknown control record type " +
                                                                std::to_string(type) + " at offset " +
                                                                std::to_string(h.base_offset));
    }
    e.type = type == kNoopControl ? raft::EntryType::noop : raft::EntryType::membership;
    e.data = std::move((*records)[0].value);
    return e;
}

}  // namespace

void stamp_batch_entry(std::string& batch, raft::Index index, uint32_t span, raft::Term term) {
    if (batch.size() >= storage::kBatchHeaderSize) {
        storage::stamp_batch(batch, static_cast<int64_t>(index.value - span),
                             static_cast<int32_t>(term.value));
    }
}

StorageResult<std::unique_ptr<RaftLogStore>> RaftLogStore::open(storage::FileSystem& fs,
                                                                const std::string& dir,
                                                                storage::LogConfig config,
                                                                storage::Flusher* flusher, int64_t now_ms) {
    std::unique_ptr<RaftLogStore> store(new RaftLogStore(fs, dir, flusher));
    auto log = storage::PartitionLog::open(fs, dir, std::move(config), flusher, now_ms);
    if (!log) return make_unexpected(log.error());
    store->_log = std::move(*log);
    auto hs = storage::load_hard_state(fs, dir);
    if (!hs) return make_unexpected(hs.error());
    if (*hs)
        store->_hard_state = {raft::Term{(*hs)->term}, raft::NodeId{(*hs)->vote}, raft::Index{(*hs)->commit}};
    auto snap = storage::load_snapshot(fs, dir);
    if (!snap) return make_unexpected(snap.error());
    auto s = std::make_shared<raft::Snapshot>();
    if (*snap) {
        s->meta.index = raft::Index{(*snap)->index};
        s->meta.term = raft::Term{(*snap)->term};
        if (!raft::Membership::decode((*snap)->metadata, s->meta.membership)) {
            return storage::storage_error(StorageErrc::corrupt,
                                          dir + ": snapshot membership does not decode");
        }
        s->data = std::move((*snap)->data);
        // The log must continue right after the snapshot; anything older goes
        // (a crash between writing a snapshot and trimming the log).
        auto start = static_cast<int64_t>(s->meta.index.value);
        if (store->_log->start_offset() < start) {
            // Keep what follows only if it continues the snapshot's history
            // (Raft §7): the batch ending at the snapshot point must carry the
            // snapshot's term. Otherwise (a crash while installing a snapshot
            // from a leader) the old log is of another history.
            bool continues = false;
            if (store->_log->next_offset() > start) {
                auto slice = store->_log->read(start - 1, 1);
                if (slice) {
                    auto h = storage::parse_batch_header(slice->bytes);
                    continues = h && h->last_offset() == start - 1 &&
                                static_cast<uint64_t>(h->leader_epoch) == s->meta.term.value;
                }
            }
            auto r = continues ? store->_log->truncate_prefix(start) : store->_log->reset(start);
            if (!r) return make_unexpected(r.error());
        }
    }
    store->_snapshot = std::move(s);
    auto epochs = storage::load_epochs(fs, dir);
    if (!epochs) return make_unexpected(epochs.error());
    store->_epochs = std::move(*epochs);
    if (auto r = store->load_entries(); !r) return make_unexpected(r.error());
    // A cut made by recovery must be durable before the epochs that would
    // expose the cut bytes go (a second crash would bring them back).
    if (auto r = store->_log->sync_now(); !r) return make_unexpected(r.error());
    if (auto r = store->drop_epochs_from(store->_log->next_offset()); !r) return make_unexpected(r.error());
    return store;
}

StorageResult<Ok> RaftLogStore::load_entries() {
    _stored.clear();
    int64_t offset = _log->start_offset();
    while (offset < _log->next_offset()) {
        auto slice = _log->read(offset, 1 << 20);
        if (!slice) return make_unexpected(slice.error());
        std::string_view rest = slice->bytes;
        bool first = true;
        while (!rest.empty()) {
            auto h = storage::parse_batch_header(rest);
            if (!h)
                return storage::storage_error(StorageErrc::corrupt,
                                              _dir + ": " + std::string(to_string(h.error())));
            if (first && h->base_offset != offset) {
                // A batch straddles the snapshot point: the log after it is
                // not the one the snapshot continues. Start over after it.
                if (auto r = _log->reset(_log->start_offset()); !r) return r;
                _stored.clear();
                return Ok{};
            }
            first = false;
            auto e = decode_entry(rest, *h);
            if (!e) return make_unexpected(e.error());
            auto epoch = std::upper_bound(
                _epochs.begin(), _epochs.end(), h->base_offset,
                [](int64_t o, const storage::EpochStart& es) { return o < es.start_offset; });
            if (epoch == _epochs.begin() || std::prev(epoch)->epoch != e->term.value) {
                // The epoch lies outside the batch CRC (Kafka's format), so a
                // torn write can garble it; such a batch was never synced,
                // hence never acknowledged: cut the log there.
                if (auto r = _log->truncate_suffix(h->base_offset); !r) return r;
                return Ok{};
            }
            push_stored(e->index, e->term, e->type, h->size);
            rest.remove_prefix(h->size);
        }
        offset = slice->next_offset;
    }
    return Ok{};
}

size_t RaftLogStore::upper_bound(raft::Index i) const {
    auto it = std::upper_bound(_stored.begin(), _stored.end(), i,
                               [](raft::Index v, const Stored& s) { return v < s.index; });
    return static_cast<size_t>(it - _stored.begin());
}

raft::Index RaftLogStore::last_index() const {
    return _stored.empty() ? _snapshot->meta.index : _stored.back().index;
}

std::optional<raft::Term> RaftLogStore::term_at(raft::Index i) const {
    if (i == _snapshot->meta.index) return _snapshot->meta.term;
    size_t pos = upper_bound(i);
    if (pos == 0 || _stored[pos - 1].index != i) return std::nullopt;
    return _stored[pos - 1].term;
}

std::optional<raft::EntryId> RaftLogStore::entry_at_or_before(raft::Index i) const {
    if (i < _snapshot->meta.index) return std::nullopt;
    size_t pos = upper_bound(i);
    if (pos == 0) return raft::EntryId{_snapshot->meta.index, _snapshot->meta.term};
    return raft::EntryId{_stored[pos - 1].index, _stored[pos - 1].term};
}

void RaftLogStore::push_stored(raft::Index index, raft::Term term, raft::EntryType type, size_t size) {
    uint64_t end = (_stored.empty() ? 0 : _stored.back().end) + size;
    _stored.push_back({index, term, type, static_cast<uint32_t>(size), end});
}

void RaftLogStore::remember(const raft::Entry& e) {
    _recent.push_back(e);
    _recent_bytes += e.byte_size();
    while (_recent.size() > 1 && _recent_bytes > kRecentBytes) {
        _recent_bytes -= _recent.front().byte_size();
        _recent.pop_front();
    }
}

void RaftLogStore::forget_recent_after(raft::Index i) {
    while (!_recent.empty() && _recent.back().index > i) {
        _recent_bytes -= _recent.back().byte_size();
        _recent.pop_back();
    }
}

void RaftLogStore::entries(raft::Index after, raft::Index upto, size_t max_bytes,
                           std::vector<raft::Entry>& out) const {
    // Nothing below the snapshot, though the recent entries may still hold
    // some: they are not dropped at compaction (freeing thousands of them
    // there took 2-4 ms of the loop), only pushed out by new ones.
    if (after < _snapshot->meta.index) return;
    // From memory when the first entry asked for is among the recent ones.
    auto cached = std::upper_bound(_recent.begin(), _recent.end(), after,
                                   [](raft::Index v, const raft::Entry& e) { return v < e.index; });
    if (cached != _recent.end() && cached->index.value - cached->span == after.value) {
        size_t bytes = 0;
        for (; cached != _recent.end() && cached->index <= upto; ++cached) {
            if (!out.empty() && bytes + cached->byte_size() > max_bytes) return;
            bytes += cached->byte_size();
            out.push_back(*cached);
        }
        return;
    }
    // Reads only the batches asked for: the log usually goes on past `upto`
    // (entries not yet committed), and max_bytes can be far larger.
    const size_t last = upper_bound(upto);
    size_t bytes = 0;
    auto offset = static_cast<int64_t>(after.value);  // the first offset after entry `after`
    while (offset < static_cast<int64_t>(upto.value)) {
        size_t first = upper_bound(raft::Index{static_cast<uint64_t>(offset)});
        if (first >= last) return;
        uint64_t span = _stored[last - 1].end - (_stored[first].end - _stored[first].size);
        auto slice =
            _log->read(offset, static_cast<size_t>(std::min<uint64_t>(span, std::max<size_t>(max_bytes, 1))));
        if (!slice || slice->length == 0) return;  // the core treats a short read as "not available"
        std::string_view rest = slice->bytes;
        while (!rest.empty()) {
            auto h = storage::parse_batch_header(rest);
            if (!h) return;
            auto e = decode_entry(rest, *h);
            if (!e || e->index > upto) return;
            if (!out.empty() && bytes + e->byte_size() > max_bytes) return;
            bytes += e->byte_size();
            out.push_back(std::move(*e));
            rest.remove_prefix(h->size);
        }
        offset = slice->next_offset;
    }
}

std::vector<raft::Entry> RaftLogStore::membership_entries() const {
    std::vector<raft::Entry> out;
    for (const Stored& s : _stored) {
        if (s.type != raft::EntryType::membership) continue;
        std::vector<raft::Entry> one;
        // The entry before it ends where this one starts.
        size_t pos = upper_bound(s.index) - 1;
        raft::Index before = pos == 0 ? _snapshot->meta.index : _stored[pos - 1].index;
        entries(before, s.index, 1, one);
        if (!one.empty()) out.push_back(std::move(one.front()));
    }
    return out;
}

StorageResult<Ok> RaftLogStore::drop_epochs_from(int64_t offset) {
    size_t keep = _epochs.size();
    while (keep > 0 && _epochs[keep - 1].start_offset >= offset) --keep;
    if (keep == _epochs.size()) return Ok{};
    _epochs.resize(keep);
    return storage::save_epochs(_fs, _dir, _epochs);
}

StorageResult<Ok> RaftLogStore::append(const std::vector<raft::Entry>& entries, int64_t now_ms) {
    if (entries.empty()) return Ok{};
    // Every entry is checked before anything changes: a refused append
    // leaves the log as it was.
    std::vector<std::string> batches;
    batches.reserve(entries.size());
    for (const raft::Entry& e : entries) {
        auto batch = encode_entry(e);
        if (!batch) return make_unexpected(batch.error());
        batches.push_back(std::move(*batch));
    }
    const raft::Entry& first = entries.front();
    auto first_offset = static_cast<int64_t>(first.index.value - first.span);
    if (first_offset < _log->next_offset()) {
        if (auto r = _log->truncate_suffix(first_offset); !r) return r;
        _stored.resize(upper_bound(raft::Index{static_cast<uint64_t>(first_offset)}));
        forget_recent_after(raft::Index{static_cast<uint64_t>(first_offset)});
        // Saved now: later batches of an older term must not meet a stale epoch.
        if (auto r = drop_epochs_from(first_offset); !r) return r;
    }
    for (size_t i = 0; i < entries.size(); ++i) {
        const raft::Entry& e = entries[i];
        if (_epochs.empty() || _epochs.back().epoch != e.term.value) {
            _epochs.push_back({e.term.value, base_offset_of(e)});
            if (auto r = storage::save_epochs(_fs, _dir, _epochs); !r) return r;
        }
        if (auto r = _log->append(batches[i], now_ms); !r) return make_unexpected(r.error());
        push_stored(e.index, e.term, e.type, batches[i].size());
        remember(e);
    }
    return Ok{};
}

StorageResult<Ok> RaftLogStore::set_hard_state(const raft::HardState& hs) {
    bool changed = hs.term != _hard_state.term || hs.vote != _hard_state.vote;
    if (changed) {
        storage::HardStateRecord rec{hs.term.value, hs.vote.value, hs.commit.value};
        if (auto r = storage::save_hard_state(_fs, _dir, rec); !r) return r;
    }
    _hard_state = hs;
    return Ok{};
}

StorageResult<Ok> RaftLogStore::refuse_while_staged(const char* what) const {
    if (!_staged) return Ok{};
    return storage::storage_error(StorageErrc::bad_request,
                                  _dir + ": cannot " + std::string(what) + " while the snapshot at index " +
                                      std::to_string(_staged->value) + " is staged");
}

// A snapshot's disk work (compact_to's, install_snapshot's) as the store sees
// it. A closing store drops work not yet begun (the disk then holds the
// previous snapshot and the whole log, as after a crash before it) and waits
// only for work under way, not for what the Flusher's thread runs for other
// logs before it.
struct RaftLogStore::DiskWork {
    enum class State : uint8_t { queued, running, over, dropped };
    std::mutex mutex;
    std::condition_variable changed;
    State state{State::queued};

    bool begin() {
        std::lock_guard lock(mutex);
        if (state == State::dropped) return false;
        state = State::running;
        return true;
    }
    void finish() {
        {
            std::lock_guard lock(mutex);
            state = State::over;
        }
        changed.notify_all();
    }
    void drop_or_wait() {
        std::unique_lock lock(mutex);
        if (state == State::queued) state = State::dropped;
        changed.wait(lock, [this] { return state == State::over || state == State::dropped; });
    }
};

void RaftLogStore::install_snapshot(std::shared_ptr<const raft::Snapshot> snap, int64_t now_ms,
                                    DiskDone done) {
    if (auto r = refuse_while_staged("install a snapshot"); !r) return done(r);
    _staged = snap->meta.index;
    auto work = std::make_shared<DiskWork>();
    _disk_work = work;
    // The disk's order: the snapshot in place, then the log replaced, then
    // the terms' starts dropped; a crash anywhere in it leaves the snapshot
    // and, at worst, log entries that recovery keeps only above it.
    run_apart([fs = &_fs, dir = _dir, config = _log->config(), flusher = _flusher, snap, now_ms,
               had_epochs = !_epochs.empty(), work, self = _self,
               done = std::move(done)]() mutable -> std::function<void()> {
        if (!work->begin()) return [done = std::move(done)] {};  // the store closed first; let go on the loop
        // Held by a shared_ptr: a posted completion must be copyable.
        auto opened = std::make_shared<std::unique_ptr<storage::PartitionLog>>();
        StorageResult<Ok> result =
            storage::save_snapshot(*fs, dir, snap->meta.index.value, snap->meta.term.value,
                                   snap->meta.membership.encode(), snap->data);
        if (result) {
            auto log = storage::PartitionLog::open_empty_at(
                *fs, dir, std::move(config), flusher, static_cast<int64_t>(snap->meta.index.value), now_ms);
            if (log) {
                *opened = std::move(*log);
            } else {
                result = make_unexpected(log.error());
            }
        }
        if (result && had_epochs) result = storage::save_epochs(*fs, dir, {});
        work->finish();
        return [self, snap = std::move(snap), opened, done = std::move(done),
                result = std::move(result)]() mutable {
            if (RaftLogStore* store = *self) {
                store->_staged.reset();
                store->_disk_work.reset();
                if (result) store->take_installed(std::move(snap), std::move(*opened));
            }
            done(std::move(result));
        };
    });
}

void RaftLogStore::take_installed(std::shared_ptr<const raft::Snapshot> snap,
                                  std::unique_ptr<storage::PartitionLog> log) {
    log->reconfigure(_log->config());  // a topic's configs may have changed meanwhile
    _log = std::move(log);
    _stored.clear();
    _recent.clear();
    _recent_bytes = 0;
    _epochs.clear();
    _snapshot = std::move(snap);
}

StorageResult<std::shared_ptr<storage::File>> RaftLogStore::stage_snapshot(const raft::Snapshot& snap) {
    if (auto r = refuse_while_staged("stage a snapshot"); !r) return make_unexpected(r.error());
    auto file = storage::stage_snapshot(_fs, _dir, snap.meta.index.value, snap.meta.term.value,
                                        snap.meta.membership.encode(), snap.data);
    if (file) _staged = snap.meta.index;
    return file;
}

void RaftLogStore::compact_to(std::shared_ptr<const raft::Snapshot> snap, DiskDone done) {
    uint64_t index = snap->meta.index.value;
    if (_staged != snap->meta.index || _disk_work) {
        return done(storage::storage_error(
            StorageErrc::bad_request,
            _dir + ": the snapshot at index " + std::to_string(index) +
                (_disk_work ? " is being written to disk already" : " is not the one staged")));
    }
    auto cut = _log->cut_prefix(static_cast<int64_t>(index));
    if (!cut) {
        _staged.reset();
        return done(make_unexpected(cut.error()));
    }
    forget_below(std::move(snap));
    // The disk's order: the image in place, then the log cut below it; a
    // crash anywhere in it leaves a snapshot and the entries after it.
    auto work = std::make_shared<DiskWork>();
    _disk_work = work;
    run_apart([fs = &_fs, dir = _dir, cut = std::move(*cut), work, self = _self,
               done = std::move(done)]() mutable -> std::function<void()> {
        if (!work->begin()) return [done = std::move(done)] {};  // the store closed first; let go on the loop
        StorageResult<Ok> result = storage::commit_snapshot(*fs, dir);
        if (result) result = storage::PartitionLog::remove_cut(*fs, cut);
        work->finish();
        return [self, done = std::move(done), result = std::move(result)]() mutable {
            if (RaftLogStore* store = *self) {
                store->_staged.reset();
                store->_disk_work.reset();
            }
            done(std::move(result));
        };
    });
}

void RaftLogStore::run_apart(storage::Flusher::Apart work) {
    if (_flusher == nullptr) return work()();
    _flusher->run_apart(std::move(work));
}

RaftLogStore::~RaftLogStore() {
    if (_disk_work) _disk_work->drop_or_wait();
    *_self = nullptr;
}

void RaftLogStore::forget_below(std::shared_ptr<const raft::Snapshot> snap) {
    _stored.erase(_stored.begin(),
                  _stored.begin() + static_cast<std::ptrdiff_t>(upper_bound(snap->meta.index)));
    _snapshot = std::move(snap);
}

}  // namespace fjord::cluster
