// A partition's Raft log on disk: raft::LogStorage over a storage::PartitionLog
// (the entries, as Kafka record batches) plus the hard-state and snapshot files
// beside it. This is where Raft's vocabulary meets the disk's:
//
//   - an entry is a batch; its index is the batch's last offset, its term the
//     batch's partitionLeaderEpoch, its span the batch's record count;
//   - application entries are the batches as produced (stamped by the leader
//     through raft::Config::stamp_entry, see stamp_batch_entry());
//   - the core's own entries (no-ops, membership) are control batches, which
//     Kafka consumers skip: one record, key = (version 0, type), value = data;
//   - where each term starts is kept in `raft-epochs` (Kafka's
//     leader-epoch-checkpoint), written before the first batch of a term, and
//     recovery cuts the log at the first batch whose epoch disagrees with it.
//
// Only the owner's thread uses it (the disk work of compact_to and
// install_snapshot aside, which runs on the Flusher and touches only the file
// system, the log's logger and, for an install, the new log it opens). Writes follow the
// persistence contract of raft/node.h: append() then sync() then
// set_hard_state().
#pragma once

#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "raft/storage.h"
#include "storage/partition_log.h"
#include "storage/state_files.h"

namespace fjord::cluster {

// The raft::Config::stamp_entry of partitions whose entries are batches.
void stamp_batch_entry(std::string& batch, raft::Index index, uint32_t span, raft::Term term);

class RaftLogStore final : public raft::LogStorage {
  public:
    // Opens (or creates) the log in `dir` and recovers it.
    static storage::StorageResult<std::unique_ptr<RaftLogStore>> open(storage::FileSystem& fs,
                                                                      const std::string& dir,
                                                                      storage::LogConfig config,
                                                                      storage::Flusher* flusher,
                                                                      int64_t now_ms);

    raft::HardState hard_state() const override { return _hard_state; }
    raft::SnapshotMeta snapshot_meta() const override { return _snapshot->meta; }
    std::shared_ptr<const raft::Snapshot> snapshot() const override { return _snapshot; }
    raft::Index last_index() const override;
    std::optional<raft::Term> term_at(raft::Index i) const override;
    std::optional<raft::EntryId> entry_at_or_before(raft::Index i) const override;
    void entries(raft::Index after, raft::Index upto, size_t max_bytes,
                 std::vector<raft::Entry>& out) const override;
    std::vector<raft::Entry> membership_entries() const override;

    // Drops every stored entry ending at or after the first new entry's first
    // offset, then appends (buffered: durable after sync()).
    storage::StorageResult<Ok> append(const std::vector<raft::Entry>& entries, int64_t now_ms);
    void sync(storage::PartitionLog::SyncDone done) { _log->sync(std::move(done)); }
    // Term and vote are written (atomically) when they change; the commit
    // index rides along, since Raft only needs it as a hint.
    storage::StorageResult<Ok> set_hard_state(const raft::HardState& hs);
    // What runs on the owner's thread once a snapshot's disk work is over.
    using DiskDone = std::function<void(storage::StorageResult<Ok>)>;
    // Replaces the whole log with a snapshot received from the leader. The
    // disk's part (the snapshot made durable and put in place, then every
    // segment deleted and an empty log begun after it) runs on the Flusher's
    // thread for work apart; the store then takes the new log, in memory, and
    // `done` runs on the owner's thread (at once without a Flusher; never if
    // the store closed before the work began). Until then the caller appends
    // nothing, and staging, compacting or installing another is refused.
    void install_snapshot(std::shared_ptr<const raft::Snapshot> snap, int64_t now_ms, DiskDone done);
    // A snapshot at a stored index (an image of the state machine, or
    // retention's, with none) replaces the log below it in steps, so that
    // the disk's waits run off the loop: stage_snapshot writes it to a
    // temporary file and returns that file; sync_file syncs it on the
    // Flusher; compact_to then makes it the snapshot and drops the log below
    // it, at once in memory and, on the Flusher's thread for work apart, on
    // the disk (renaming it into place, deleting the segments below it,
    // recording the log's new start). `done` runs on the owner's thread once
    // the disk has it all (at once without a Flusher; never if the store
    // closed before the work began). From the first step until then,
    // install_snapshot and another stage are refused: they would write the
    // same files.
    storage::StorageResult<std::shared_ptr<storage::File>> stage_snapshot(const raft::Snapshot& snap);
    void sync_file(std::shared_ptr<storage::File> file, storage::Flusher::Done done) {
        _log->sync_file(std::move(file), std::move(done));
    }
    void compact_to(std::shared_ptr<const raft::Snapshot> snap, DiskDone done);
    // Whether the disk work of compact_to or install_snapshot is under way
    // (until its `done` runs).
    bool disk_work_under_way() const { return _disk_work != nullptr; }
    // Waits for a snapshot's disk work under way, and drops it if not yet
    // begun: the directory may be deleted next (a deleted topic), and nothing
    // may write there after that.
    ~RaftLogStore() override;

    storage::PartitionLog& log() { return *_log; }
    // Where each term (Kafka leader epoch) starts, increasing.
    const std::vector<storage::EpochStart>& epochs() const { return _epochs; }

  private:
    struct Stored {
        raft::Index index;
        raft::Term term;
        raft::EntryType type;
        uint32_t size;  // of its batch
        uint64_t end;   // the sizes of the batches stored so far, this one's included
    };
    void push_stored(raft::Index index, raft::Term term, raft::EntryType type, size_t size);
    RaftLogStore(storage::FileSystem& fs, std::string dir, storage::Flusher* flusher)
        : _fs(fs), _dir(std::move(dir)), _flusher(flusher) {}
    storage::StorageResult<Ok> load_entries();
    // An error naming `what` while a snapshot is staged.
    storage::StorageResult<Ok> refuse_while_staged(const char* what) const;
    // Runs a snapshot's disk work on the Flusher's thread for work apart, and
    // its completion on the owner's thread; both at once without a Flusher.
    void run_apart(storage::Flusher::Apart work);
    // Takes the empty log opened after an installed snapshot.
    void take_installed(std::shared_ptr<const raft::Snapshot> snap,
                        std::unique_ptr<storage::PartitionLog> log);
    // Makes `snap` the snapshot and forgets the entries it covers, in memory
    // (the recent ones excepted: see entries()).
    void forget_below(std::shared_ptr<const raft::Snapshot> snap);
    // Position in _stored of the first entry with index > i.
    size_t upper_bound(raft::Index i) const;

    storage::FileSystem& _fs;
    std::string _dir;
    storage::Flusher* _flusher;  // null in the simulator and some tests: disk work then runs inline
    std::unique_ptr<storage::PartitionLog> _log;
    raft::HardState _hard_state;
    std::shared_ptr<const raft::Snapshot> _snapshot;
    // A snapshot staged, or being installed, and not yet in place on disk.
    std::optional<raft::Index> _staged;
    struct DiskWork;
    std::shared_ptr<DiskWork> _disk_work;  // compact_to's or install_snapshot's, until its completion ran
    // Guards those completions, which may outlive the store.
    std::shared_ptr<RaftLogStore*> _self{std::make_shared<RaftLogStore*>(this)};
    // (index, term, type) of every stored entry above the snapshot: term
    // lookups and backtracking must not read the disk.
    std::vector<Stored> _stored;
    // The entries appended last (their payloads are shared, not copied), so
    // that applying and replicating them need not read them back from disk.
    std::deque<raft::Entry> _recent;
    size_t _recent_bytes{0};
    void remember(const raft::Entry& e);
    void forget_recent_after(raft::Index i);
    // Where each term starts (the raft-epochs file): a batch whose epoch
    // disagrees was garbled by a torn write (the epoch lies outside the CRC).
    std::vector<storage::EpochStart> _epochs;
    storage::StorageResult<Ok> drop_epochs_from(int64_t offset);
};

}  // namespace fjord::cluster
