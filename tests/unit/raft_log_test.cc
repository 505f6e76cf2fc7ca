// RaftLog: the durable log read through LogStorage plus the unstable tail.
#include <gtest/gtest.h>

#include "raft/log.h"
#include "raft/memory_storage.h"
#include "raft_test_cluster.h"

namespace fjord::raft::test {
namespace {

class RaftLogTest : public ::testing::Test {
  protected:
    RaftLogTest() {
        storage.install_snapshot(Snapshot{SnapshotMeta{Index{0}, Term{0}, voters_of({1, 2, 3})}, ""});
        log = std::make_unique<RaftLog>(storage);
    }

    // What the driver does with a Ready's entries, then advance().
    void persist() {
        std::vector<Entry> es = log->take_unpersisted();
        storage.append(es);
        log->persisted(es);
    }

    MemoryStorage storage;
    std::unique_ptr<RaftLog> log;
};

TEST_F(RaftLogTest, AppendAndTermAtWithNonContiguousIndices) {
    // Spans 3, 1, 5: indices 3, 4, 9.
    log->append({make_entry(3, 1, 3, "a"), make_entry(4, 1, 1, "b"), make_entry(9, 2, 5, "c")});
    for (int round = 0; round < 2; ++round) {
        SCOPED_TRACE(round == 0 ? "unstable" : "persisted");
        EXPECT_EQ(log->last_index(), idx(9));
        EXPECT_EQ(log->last_term(), trm(2));
        EXPECT_EQ(log->term_at(idx(0)), trm(0));
        EXPECT_EQ(log->term_at(idx(3)), trm(1));
        EXPECT_EQ(log->term_at(idx(4)), trm(1));
        EXPECT_EQ(log->term_at(idx(9)), trm(2));
        // Offsets inside an entry's span are not entries.
        for (uint64_t i : {1, 2, 5, 6, 7, 8, 10}) EXPECT_FALSE(log->term_at(idx(i)).has_value()) << i;
        EXPECT_EQ(log->entry_at_or_before(idx(2)), (EntryId{idx(0), trm(0)}));
        EXPECT_EQ(log->entry_at_or_before(idx(8)), (EntryId{idx(4), trm(1)}));
        EXPECT_EQ(log->entry_at_or_before(idx(100)), (EntryId{idx(9), trm(2)}));
        EXPECT_TRUE(log->matches(idx(4), trm(1)));
        EXPECT_FALSE(log->matches(idx(4), trm(2)));

        std::vector<Entry> all = log->entries(idx(0), idx(9), 1 << 20);
        ASSERT_EQ(all.size(), 3u);
        EXPECT_EQ(all[0].span, 3u);
        EXPECT_EQ(all[2].span, 5u);
        std::vector<Entry> tail = log->entries(idx(3), idx(9), 1 << 20);
        ASSERT_EQ(tail.size(), 2u);
        EXPECT_EQ(tail[0].index, idx(4));
        // The byte limit stops early but always yields at least one entry.
        std::vector<Entry> one = log->entries(idx(0), idx(9), 1);
        ASSERT_EQ(one.size(), 1u);
        EXPECT_EQ(one[0].index, idx(3));
        std::vector<Entry> upto = log->entries(idx(0), idx(4), 1 << 20);
        EXPECT_EQ(upto.size(), 2u);
        if (round == 0) {
            EXPECT_TRUE(log->has_unpersisted());
            persist();
            EXPECT_FALSE(log->has_unpersisted());
            EXPECT_EQ(log->stable_last(), idx(9));
        }
    }
    // Entries split between storage and the unstable tail read as one log.
    log->append({make_entry(11, 3, 2, "d")});
    std::vector<Entry> mixed = log->entries(idx(4), idx(11), 1 << 20);
    ASSERT_EQ(mixed.size(), 2u);
    EXPECT_EQ(mixed[0].index, idx(9));
    EXPECT_EQ(mixed[1].index, idx(11));
    EXPECT_TRUE(log->is_up_to_date(idx(11), trm(3)));
    EXPECT_TRUE(log->is_up_to_date(idx(1), trm(4)));
    EXPECT_FALSE(log->is_up_to_date(idx(10), trm(3)));
    EXPECT_FALSE(log->is_up_to_date(idx(50), trm(2)));
}

TEST_F(RaftLogTest, MaybeAppendWithMatchingPrev) {
    log->append({make_entry(3, 1, 3)});
    persist();
    std::optional<Index> last = log->maybe_append({idx(3), trm(1)}, {make_entry(4, 1), make_entry(9, 2, 5)});
    ASSERT_TRUE(last.has_value());
    EXPECT_EQ(*last, idx(9));
    EXPECT_EQ(log->last_index(), idx(9));
    EXPECT_EQ(log->term_at(idx(9)), trm(2));
    // A heartbeat-like empty append at a matching point reports that point.
    EXPECT_EQ(log->maybe_append({idx(4), trm(1)}, {}), idx(4));
    EXPECT_EQ(log->last_index(), idx(9));
}

TEST_F(RaftLogTest, MaybeAppendWithMismatchingPrevChangesNothing) {
    log->append({make_entry(3, 1, 3), make_entry(4, 2)});
    // Wrong term at an existing index, an offset inside a span, and beyond the end.
    EXPECT_FALSE(log->maybe_append({idx(4), trm(1)}, {make_entry(5, 2)}).has_value());
    EXPECT_FALSE(log->maybe_append({idx(2), trm(1)}, {make_entry(5, 2, 3)}).has_value());
    EXPECT_FALSE(log->maybe_append({idx(7), trm(2)}, {make_entry(8, 2)}).has_value());
    EXPECT_EQ(log->last_index(), idx(4));
    EXPECT_EQ(log->term_at(idx(4)), trm(2));
}

TEST_F(RaftLogTest, MaybeAppendTruncatesConflictingSuffix) {
    log->append({make_entry(3, 1, 3, "a"), make_entry(4, 1, 1, "b"), make_entry(9, 1, 5, "c")});
    persist();
    std::optional<Index> last =
        log->maybe_append({idx(3), trm(1)}, {make_entry(4, 2, 1, "B"), make_entry(6, 2, 2, "C")});
    ASSERT_TRUE(last.has_value());
    EXPECT_EQ(*last, idx(6));
    EXPECT_EQ(log->last_index(), idx(6));
    EXPECT_EQ(log->term_at(idx(4)), trm(2));
    EXPECT_FALSE(log->term_at(idx(9)).has_value());
    EXPECT_EQ(log->stable_last(), idx(3));
    // The driver's persist replaces the stale suffix in storage.
    persist();
    ASSERT_EQ(storage.all_entries().size(), 3u);
    EXPECT_EQ(storage.all_entries()[1], make_entry(4, 2, 1, "B"));
    EXPECT_EQ(storage.all_entries()[2], make_entry(6, 2, 2, "C"));
    EXPECT_EQ(log->stable_last(), idx(6));
}

// Entries with spans: a conflicting entry may end above several of our
// entries that it overlaps. Everything after the matching prev must go, not
// only what sits at or above the new entry's index.
TEST_F(RaftLogTest, MaybeAppendTruncatesShorterEntriesOverlappedByAWiderConflictingEntry) {
    log->append({make_entry(1, 1, 1, "old-a"), make_entry(2, 1, 1, "old-b")});
    // The leader's log has, after (0, 0), one entry of term 2 covering offsets 1..3.
    std::optional<Index> last = log->maybe_append({idx(0), trm(0)}, {make_entry(3, 2, 3, "new")});
    ASSERT_TRUE(last.has_value());
    EXPECT_EQ(*last, idx(3));
    EXPECT_EQ(log->last_index(), idx(3));
    EXPECT_FALSE(log->term_at(idx(1)).has_value()) << "stale entry 1 (term 1) survived";
    EXPECT_FALSE(log->term_at(idx(2)).has_value()) << "stale entry 2 (term 1) survived";
    EXPECT_EQ(log->entry_at_or_before(idx(2)), (EntryId{idx(0), trm(0)}));
    std::vector<Entry> es = log->entries(idx(0), idx(3), 1 << 20);
    ASSERT_EQ(es.size(), 1u);
    EXPECT_EQ(es[0], make_entry(3, 2, 3, "new"));
}

// The same with the stale entries already durable: the driver's persist must
// remove them from storage too (node.h rule 2 / MemoryStorage::append).
TEST_F(RaftLogTest, PersistedShorterEntriesOverlappedByAWiderConflictingEntryAreRemoved) {
    log->append({make_entry(1, 1, 1, "old-a"), make_entry(2, 1, 1, "old-b")});
    persist();
    log->maybe_append({idx(0), trm(0)}, {make_entry(3, 2, 3, "new")});
    persist();
    EXPECT_EQ(log->last_index(), idx(3));
    EXPECT_FALSE(log->term_at(idx(1)).has_value());
    EXPECT_FALSE(log->term_at(idx(2)).has_value());
    ASSERT_EQ(storage.all_entries().size(), 1u);
    EXPECT_EQ(storage.all_entries()[0], make_entry(3, 2, 3, "new"));
}

TEST(MemoryStorageTest, AppendReplacesEveryEntryOverlappingTheNewOffsets) {
    MemoryStorage s;
    s.append({make_entry(1, 1), make_entry(2, 1), make_entry(4, 1, 2)});
    // New entry covering offsets 2..3 (prev = 1): entries 2 and 4 are replaced.
    s.append({make_entry(3, 2, 2)});
    ASSERT_EQ(s.all_entries().size(), 2u);
    EXPECT_EQ(s.all_entries()[0].index, idx(1));
    EXPECT_EQ(s.all_entries()[1], make_entry(3, 2, 2));
    EXPECT_EQ(s.last_index(), idx(3));
    EXPECT_FALSE(s.term_at(idx(2)).has_value());
}

TEST(MemoryStorageTest, CompactKeepsTailAndAnswersSnapshotPoint) {
    MemoryStorage s;
    s.append({make_entry(3, 1, 3), make_entry(4, 1), make_entry(9, 2, 5)});
    s.compact(Snapshot{SnapshotMeta{idx(4), trm(1), voters_of({1})}, "img"});
    EXPECT_EQ(s.snapshot_meta().index, idx(4));
    EXPECT_EQ(s.term_at(idx(4)), trm(1));
    EXPECT_FALSE(s.term_at(idx(3)).has_value());
    EXPECT_FALSE(s.entry_at_or_before(idx(3)).has_value());
    EXPECT_EQ(s.entry_at_or_before(idx(8)), (EntryId{idx(4), trm(1)}));
    ASSERT_EQ(s.all_entries().size(), 1u);
    EXPECT_EQ(s.all_entries()[0].index, idx(9));
    EXPECT_EQ(s.last_index(), idx(9));
}

TEST_F(RaftLogTest, StaleOrDuplicateMessageNeverTruncates) {
    log->append({make_entry(3, 1, 3), make_entry(4, 1), make_entry(9, 2, 5)});
    persist();
    // A duplicate of an earlier append: a prefix of what we hold.
    EXPECT_EQ(log->maybe_append({idx(3), trm(1)}, {make_entry(4, 1)}), idx(4));
    EXPECT_EQ(log->maybe_append({idx(0), trm(0)}, {make_entry(3, 1, 3)}), idx(3));
    EXPECT_EQ(
        log->maybe_append({idx(0), trm(0)}, {make_entry(3, 1, 3), make_entry(4, 1), make_entry(9, 2, 5)}),
        idx(9));
    EXPECT_EQ(log->last_index(), idx(9));
    EXPECT_EQ(log->term_at(idx(9)), trm(2));
    EXPECT_FALSE(log->has_unpersisted());
    EXPECT_EQ(log->stable_last(), idx(9));
}

TEST_F(RaftLogTest, ConflictHint) {
    log->append({make_entry(3, 1, 3), make_entry(4, 1), make_entry(9, 2, 5), make_entry(12, 3, 3)});
    EXPECT_EQ(log->conflict_hint(idx(12), trm(3)), (EntryId{idx(12), trm(3)}));
    EXPECT_EQ(log->conflict_hint(idx(12), trm(2)), (EntryId{idx(9), trm(2)}));
    EXPECT_EQ(log->conflict_hint(idx(12), trm(1)), (EntryId{idx(4), trm(1)}));
    EXPECT_EQ(log->conflict_hint(idx(8), trm(2)), (EntryId{idx(4), trm(1)}));
    // Beyond our end: starts from our last entry.
    EXPECT_EQ(log->conflict_hint(idx(100), trm(5)), (EntryId{idx(12), trm(3)}));
    EXPECT_EQ(log->conflict_hint(idx(100), trm(2)), (EntryId{idx(9), trm(2)}));
    EXPECT_EQ(log->conflict_hint(idx(12), trm(0)), (EntryId{idx(0), trm(0)}));
}

TEST_F(RaftLogTest, TakeUnpersistedAndPersistedWithTruncationInBetween) {
    log->append({make_entry(1, 1), make_entry(3, 1, 2, "x")});
    std::vector<Entry> handed = log->take_unpersisted();
    ASSERT_EQ(handed.size(), 2u);
    EXPECT_FALSE(log->has_unpersisted());
    EXPECT_TRUE(log->take_unpersisted().empty());
    // While the driver persists, a new leader overwrites entry 3.
    EXPECT_EQ(log->maybe_append({idx(1), trm(1)}, {make_entry(3, 2, 2, "y"), make_entry(4, 2)}), idx(4));
    // The driver finishes persisting what it was handed...
    storage.append(handed);
    log->persisted(handed);
    // ...only entry 1 is still ours: 3@1 was replaced.
    EXPECT_EQ(log->stable_last(), idx(1));
    EXPECT_EQ(log->term_at(idx(3)), trm(2));
    ASSERT_TRUE(log->has_unpersisted());
    std::vector<Entry> next = log->take_unpersisted();
    ASSERT_EQ(next.size(), 2u);
    EXPECT_EQ(next[0], make_entry(3, 2, 2, "y"));
    storage.append(next);
    log->persisted(next);
    EXPECT_EQ(log->stable_last(), idx(4));
    EXPECT_FALSE(log->has_unpersisted());
    ASSERT_EQ(storage.all_entries().size(), 3u);
    EXPECT_EQ(storage.all_entries()[1].term, trm(2));
    EXPECT_EQ(log->term_at(idx(3)), trm(2));
}

TEST_F(RaftLogTest, CommitToAndApply) {
    log->append({make_entry(3, 1, 3, "a"), make_entry(5, 1, 2, "b")});
    log->commit_to(idx(3));
    EXPECT_EQ(log->committed(), idx(3));
    log->commit_to(idx(2));  // never goes back
    EXPECT_EQ(log->committed(), idx(3));
    // Committed but not durable locally: nothing to apply yet.
    EXPECT_FALSE(log->has_committed_to_apply());
    persist();
    ASSERT_TRUE(log->has_committed_to_apply());
    std::vector<Entry> c = log->take_committed(1 << 20);
    ASSERT_EQ(c.size(), 1u);
    EXPECT_EQ(c[0].index, idx(3));
    EXPECT_EQ(log->applied(), idx(3));
    EXPECT_FALSE(log->has_committed_to_apply());
    log->commit_to(idx(5));
    c = log->take_committed(1 << 20);
    ASSERT_EQ(c.size(), 1u);
    EXPECT_EQ(c[0].index, idx(5));
    EXPECT_EQ(log->applied(), idx(5));
}

TEST_F(RaftLogTest, RestoreFromSnapshot) {
    log->append({make_entry(1, 1), make_entry(2, 1), make_entry(3, 1)});
    persist();
    log->commit_to(idx(1));
    auto snap =
        std::make_shared<Snapshot>(Snapshot{SnapshotMeta{idx(10), trm(3), voters_of({1, 2, 4})}, "image"});
    log->restore(snap);
    EXPECT_EQ(log->last_index(), idx(10));
    EXPECT_EQ(log->last_term(), trm(3));
    EXPECT_EQ(log->committed(), idx(10));
    EXPECT_EQ(log->snapshot_index(), idx(10));
    EXPECT_EQ(log->term_at(idx(10)), trm(3));
    EXPECT_FALSE(log->term_at(idx(2)).has_value());
    EXPECT_EQ(log->membership(), voters_of({1, 2, 4}));
    EXPECT_EQ(log->membership_index(), idx(10));
    EXPECT_FALSE(log->has_committed_to_apply());
    EXPECT_TRUE(log->has_unpersisted());
    EXPECT_EQ(log->latest_snapshot(), snap);
    // Entries after the snapshot may arrive before it is persisted.
    EXPECT_EQ(log->maybe_append({idx(10), trm(3)}, {make_entry(13, 3, 3)}), idx(13));
    std::shared_ptr<const Snapshot> taken = log->take_snapshot();
    ASSERT_EQ(taken, snap);
    EXPECT_EQ(log->take_snapshot(), nullptr);
    std::vector<Entry> es = log->take_unpersisted();
    storage.install_snapshot(*taken);
    storage.append(es);
    log->snapshot_persisted(idx(10));
    log->persisted(es);
    EXPECT_EQ(log->applied(), idx(10));
    EXPECT_FALSE(log->has_unpersisted());
    EXPECT_EQ(log->stable_last(), idx(13));
    EXPECT_EQ(log->term_at(idx(13)), trm(3));
    EXPECT_EQ(storage.snapshot_meta().index, idx(10));
}

TEST_F(RaftLogTest, MembershipTrackingRollsBackWhenEntryTruncated) {
    Membership four = voters_of({1, 2, 3, 4});
    log->append({make_entry(1, 1, 1, "", EntryType::noop),
                 make_entry(2, 1, 1, four.encode(), EntryType::membership)});
    EXPECT_EQ(log->membership(), four);
    EXPECT_EQ(log->membership_index(), idx(2));
    persist();
    // A restarted node finds the membership entry in storage.
    {
        RaftLog reopened(storage);
        EXPECT_EQ(reopened.membership(), four);
        EXPECT_EQ(reopened.membership_index(), idx(2));
    }
    // A leader of term 2 never had it: the truncation rolls the membership back.
    EXPECT_EQ(log->maybe_append({idx(1), trm(1)}, {make_entry(2, 2, 1, "data")}), idx(2));
    EXPECT_EQ(log->membership(), voters_of({1, 2, 3}));
    EXPECT_EQ(log->membership_index(), idx(0));
}

// A snapshot records the membership in force at its own index, not a later
// change still uncommitted, which a new leader may yet truncate away.
TEST_F(RaftLogTest, MembershipAtAnIndexIsTheNewestChangeAtOrBelowIt) {
    Membership four = voters_of({1, 2, 3, 4});
    Membership five = voters_of({1, 2, 3, 4, 5});
    log->append({make_entry(1, 1, 1, "", EntryType::noop), make_entry(2, 1, 1, "data"),
                 make_entry(3, 1, 1, four.encode(), EntryType::membership), make_entry(4, 1, 1, "data"),
                 make_entry(5, 1, 1, five.encode(), EntryType::membership)});
    EXPECT_EQ(log->membership(), five);
    EXPECT_EQ(log->membership_at(idx(2)), voters_of({1, 2, 3})) << "before any change: the snapshot's";
    EXPECT_EQ(log->membership_at(idx(3)), four);
    EXPECT_EQ(log->membership_at(idx(4)), four) << "the change at 5 is not yet in force at 4";
    EXPECT_EQ(log->membership_at(idx(5)), five);
    EXPECT_EQ(log->membership_at(idx(9)), five);
}

TEST(RaftLogStartup, CommitPersistedBeyondTheLogIsClamped) {
    MemoryStorage s;
    s.install_snapshot(Snapshot{SnapshotMeta{idx(0), trm(0), voters_of({1})}, ""});
    s.append({make_entry(2, 1, 2), make_entry(5, 1, 3)});
    s.set_hard_state(HardState{trm(1), nid(1), idx(9)});
    RaftLog log(s);
    EXPECT_EQ(log.committed(), idx(5));
    EXPECT_EQ(log.last_index(), idx(5));
}

}  // namespace
}  // namespace fjord::raft::test
