// A node's Raft log as the core sees it: the durable part, read through
// LogStorage, followed by an unstable tail that the driver has not yet
// persisted. Also tracks the commit and apply points and the membership in
// force, which is the newest membership entry in the log (thesis §4.1: a
// configuration takes effect as soon as it is appended, and is rolled back if
// the entry is truncated).
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <vector>

#include "raft/storage.h"

namespace fjord::raft {

class RaftLog {
  public:
    explicit RaftLog(const LogStorage& storage);

    Index last_index() const;
    Term last_term() const;
    Index committed() const { return _committed; }
    Index applied() const { return _applied; }
    // Entries at or below this index are only available as a snapshot.
    Index snapshot_index() const;
    std::optional<Term> term_at(Index i) const;
    std::optional<EntryId> entry_at_or_before(Index i) const;
    bool matches(Index i, Term t) const { return term_at(i) == t; }
    bool is_up_to_date(Index last, Term term) const;
    // Entries with after < index <= upto, at most max_bytes of Entry::byte_size() (at least one).
    std::vector<Entry> entries(Index after, Index upto, size_t max_bytes) const;

    // Leader: appends entries that extend the log.
    void append(std::vector<Entry> entries);
    // Follower: appends `entries` after `prev` if prev matches; truncates a
    // conflicting suffix. Returns the index of the last entry of the message,
    // or nullopt when prev does not match. Entries already present are kept:
    // a stale or duplicated message never truncates.
    std::optional<Index> maybe_append(EntryId prev, const std::vector<Entry>& entries);
    // Fast backtracking: the last entry with index <= i whose term <= t, or
    // the snapshot point when no entry above it qualifies (its term may be > t).
    EntryId conflict_hint(Index i, Term t) const;

    void commit_to(Index i);
    // Replaces the log by a snapshot received from the leader.
    void restore(std::shared_ptr<const Snapshot> snapshot);

    // Handing out to the driver, and its acknowledgements.
    bool has_unpersisted() const { return _handed < _unstable.size() || (_snapshot && !_snapshot_handed); }
    // A snapshot received from the leader that the driver has not yet been handed.
    bool has_pending_snapshot() const { return _snapshot && !_snapshot_handed; }
    std::vector<Entry> take_unpersisted();
    std::shared_ptr<const Snapshot> take_snapshot();
    // The newest snapshot, to send to a follower that needs compacted entries.
    std::shared_ptr<const Snapshot> latest_snapshot() const {
        return _snapshot ? _snapshot : _storage.snapshot();
    }
    void persisted(const std::vector<Entry>& entries);
    void snapshot_persisted(Index snapshot_index);
    // Last index of the durable prefix of this log.
    Index stable_last() const { return _stable_last; }

    bool has_committed_to_apply() const;
    std::vector<Entry> take_committed(size_t max_bytes);

    const Membership& membership() const;
    // Index of the entry holding the membership in force; the snapshot index
    // when it comes from a snapshot.
    Index membership_index() const;
    // The membership in force before the newest membership entry.
    const Membership& previous_membership() const;
    // The membership in force at `index`, at or above snapshot_index() (the
    // log knows nothing below): the newest membership entry at or below it,
    // else the snapshot's. What a snapshot taken at `index` records
    // (membership() may already hold a later change, not yet committed).
    const Membership& membership_at(Index index) const;

  private:
    void truncate_from(Index first_removed);
    void track_memberships(const std::vector<Entry>& entries);

    const LogStorage& _storage;
    // Storage entries with index <= _stable_last belong to this log; storage may
    // still hold a stale suffix above it that the next persist truncates.
    Index _stable_last;
    std::vector<Entry> _unstable;               // indices all above _stable_last, increasing
    size_t _handed{0};                          // _unstable[0, _handed) are being persisted
    std::shared_ptr<const Snapshot> _snapshot;  // received, not yet persisted
    bool _snapshot_handed{false};
    Index _committed;
    Index _applied;
    Membership _base_membership;  // from the newest snapshot
    Index _base_membership_index;
    std::map<Index, Membership> _memberships;  // membership entries above the snapshot
};

}  // namespace fjord::raft
