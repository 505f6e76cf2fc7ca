// LogStorage kept in memory: the durable state of a simulated node, and the
// storage of tests and benchmarks. "Durable" here means "survives the
// simulator's crash", which discards only what the driver has not persisted.
#pragma once

#include "raft/storage.h"

namespace fjord::raft {

class MemoryStorage final : public LogStorage {
  public:
    MemoryStorage();

    HardState hard_state() const override { return _hard_state; }
    SnapshotMeta snapshot_meta() const override { return _snapshot->meta; }
    std::shared_ptr<const Snapshot> snapshot() const override { return _snapshot; }
    Index last_index() const override;
    std::optional<Term> term_at(Index i) const override;
    std::optional<EntryId> entry_at_or_before(Index i) const override;
    void entries(Index after, Index upto, size_t max_bytes, std::vector<Entry>& out) const override;
    std::vector<Entry> membership_entries() const override;

    // The driver's write side.
    void set_hard_state(const HardState& hs) { _hard_state = hs; }
    // Drops every entry ending at or after the first new entry's first offset, then appends.
    void append(const std::vector<Entry>& entries);
    // Replaces the whole log with the snapshot.
    void install_snapshot(Snapshot snapshot);
    // Records a snapshot the application took at `meta.index` (which must be
    // a stored entry) and discards the entries it covers.
    void compact(Snapshot snapshot);

    const std::vector<Entry>& all_entries() const { return _entries; }

  private:
    // First position in _entries whose index is > i.
    size_t upper_bound(Index i) const;

    HardState _hard_state;
    std::shared_ptr<const Snapshot> _snapshot;
    std::vector<Entry> _entries;  // strictly increasing indices, all above the snapshot
};

}  // namespace fjord::raft
