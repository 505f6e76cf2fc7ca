// The read side of a node's durable Raft state, as the core sees it.
//
// The core never writes storage: it hands entries, hard state and snapshots
// out in a Ready and the driver persists them (see node.h for the contract).
// It reads what is already durable through this interface, synchronously;
// implementations answer from memory or the page cache.
#pragma once

#include <optional>
#include <vector>

#include "raft/types.h"

namespace fjord::raft {

struct EntryId {
    Index index;
    Term term;
    bool operator==(const EntryId&) const = default;
};

class LogStorage {
  public:
    virtual ~LogStorage() = default;

    virtual HardState hard_state() const = 0;
    // The latest snapshot's metadata; index 0 when there is none. Entries at or
    // below its index are compacted away.
    virtual SnapshotMeta snapshot_meta() const = 0;
    // The latest snapshot whole, for sending to a lagging follower.
    virtual std::shared_ptr<const Snapshot> snapshot() const = 0;
    // Index of the last durable entry (the snapshot's index when there is none).
    virtual Index last_index() const = 0;
    // The term of the entry whose index is exactly `i`; the snapshot's term for
    // the snapshot index; nullopt when there is no such entry or it is compacted.
    virtual std::optional<Term> term_at(Index i) const = 0;
    // The last entry with index <= i, or the snapshot point when there is none
    // above it; nullopt when i is below the snapshot point.
    virtual std::optional<EntryId> entry_at_or_before(Index i) const = 0;
    // Appends to `out` the entries with after < index <= upto, oldest first,
    // stopping before `max_bytes` of Entry::byte_size() is exceeded (always at least one).
    virtual void entries(Index after, Index upto, size_t max_bytes, std::vector<Entry>& out) const = 0;
    // Every membership entry above the snapshot, oldest first (read at start-up).
    virtual std::vector<Entry> membership_entries() const = 0;
};

}  // namespace fjord::raft
