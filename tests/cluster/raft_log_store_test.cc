// RaftLogStore: the Raft log as Kafka record batches on a PartitionLog, with
// the hard-state, snapshot and epoch files beside it. Every test runs on
// SimFileSystem, so crashes (with or without torn writes) are deterministic.
#include <gtest/gtest.h>

#include "raft/node.h"
#include "raft_log_store_test_util.h"

namespace fjord::cluster::testing {
namespace {

using storage::EpochStart;
using storage::SimFileSystem;
using storage::StorageErrc;

std::vector<EpochStart> epochs_on_disk(storage::FileSystem& fs) {
    auto e = storage::load_epochs(fs, kDir);
    EXPECT_TRUE(e) << (e ? "" : e.error().detail);
    return e ? *e : std::vector<EpochStart>{};
}

// ---------------------------------------------------------------------------
// 1. The bootstrap entry and hard state survive a restart.

TEST(RaftLogStoreTest, BootstrapEntrySurvivesReopen) {
    SimFileSystem fs(1);
    raft::Membership founding = membership_of({1, 2, 3});
    raft::Bootstrap b = raft::bootstrap(founding);
    {
        auto store = open_store(fs);
        ASSERT_TRUE(store);
        EXPECT_EQ(store->last_index(), Index{0});
        ASSERT_TRUE(appended(*store, {b.entry}));
        ASSERT_TRUE(synced(*store));
        ASSERT_TRUE(store->set_hard_state(b.hard_state));
    }
    fs.crash();
    auto store = open_store(fs);
    ASSERT_TRUE(store);
    EXPECT_EQ(store->last_index(), Index{1});
    EXPECT_EQ(store->term_at(Index{1}), Term{1});
    EXPECT_EQ(store->term_at(Index{0}), Term{0});
    EXPECT_EQ(store->hard_state(), b.hard_state);
    std::vector<Entry> members = store->membership_entries();
    ASSERT_EQ(members.size(), 1u);
    EXPECT_EQ(members[0], b.entry);
    raft::Membership decoded;
    ASSERT_TRUE(raft::Membership::decode(members[0].data.view(), decoded));
    EXPECT_EQ(decoded, founding);
    EXPECT_TRUE(holds_exactly(*store, {b.entry}));
}

// ---------------------------------------------------------------------------
// 2. Normal entries with spans: index = last offset + 1, lookups, reads.

std::vector<Entry> span_entries() {
    // Spans 1, 3, 5: offsets [0], [1..3], [4..8] -> indices 1, 4, 9; then a
    // no-op and a membership entry of the next term, and one more batch.
    return {normal_entry(1, 1, 1),
            normal_entry(4, 3, 1),
            normal_entry(9, 5, 1),
            noop_entry(10, 2),
            membership_entry(11, 2, membership_of({1, 2}, {3})),
            normal_entry(14, 3, 2)};
}

void check_span_lookups(const RaftLogStore& store, const std::vector<Entry>& log) {
    EXPECT_TRUE(holds_exactly(store, log));
    EXPECT_EQ(store.term_at(Index{1}), Term{1});
    EXPECT_EQ(store.term_at(Index{4}), Term{1});
    EXPECT_EQ(store.term_at(Index{9}), Term{1});
    EXPECT_EQ(store.term_at(Index{14}), Term{2});
    for (uint64_t inside : {2, 3, 5, 6, 7, 8, 12, 13}) {
        EXPECT_EQ(store.term_at(Index{inside}), std::nullopt) << "index " << inside;
    }
    EXPECT_EQ(store.entry_at_or_before(Index{3}), (EntryId{Index{1}, Term{1}}));
    EXPECT_EQ(store.entry_at_or_before(Index{8}), (EntryId{Index{4}, Term{1}}));
    EXPECT_EQ(store.entry_at_or_before(Index{9}), (EntryId{Index{9}, Term{1}}));
    EXPECT_EQ(store.entry_at_or_before(Index{0}), (EntryId{Index{0}, Term{0}}));
    EXPECT_EQ(store.entry_at_or_before(Index{100}), (EntryId{Index{14}, Term{2}}));

    // Ranges: whole entries with after < index <= upto.
    std::vector<Entry> out;
    store.entries(Index{1}, Index{9}, 1 << 20, out);
    ASSERT_EQ(out.size(), 2u);
    EXPECT_EQ(out[0], log[1]);
    EXPECT_EQ(out[1], log[2]);
    // `after` inside a span starts at the entry covering it.
    out.clear();
    store.entries(Index{6}, Index{10}, 1 << 20, out);
    ASSERT_EQ(out.size(), 2u);
    EXPECT_EQ(out[0], log[2]);
    EXPECT_EQ(out[1], log[3]);
    // `upto` inside a span stops before the entry covering it.
    out.clear();
    store.entries(Index{0}, Index{8}, 1 << 20, out);
    ASSERT_EQ(out.size(), 2u);
    EXPECT_EQ(out[1], log[1]);

    // max_bytes: always at least one entry, never more than fits.
    out.clear();
    store.entries(Index{0}, Index{14}, 1, out);
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0], log[0]);
    size_t two = log[0].byte_size() + log[1].byte_size();
    out.clear();
    store.entries(Index{0}, Index{14}, two, out);
    ASSERT_EQ(out.size(), 2u);
    EXPECT_EQ(out[1], log[1]);
    out.clear();
    store.entries(Index{0}, Index{14}, two - 1, out);
    EXPECT_EQ(out.size(), 1u);
    // A limit that cuts inside a later entry: a prefix, whole entries only.
    size_t budget = log[2].byte_size() + log[3].byte_size() + log[4].byte_size() + 3;
    out.clear();
    store.entries(Index{4}, Index{14}, budget, out);
    ASSERT_EQ(out.size(), 3u);
    EXPECT_EQ(out[2], log[4]);

    std::vector<Entry> members = store.membership_entries();
    ASSERT_EQ(members.size(), 1u);
    EXPECT_EQ(members[0], log[4]);
}

TEST(RaftLogStoreTest, SpansLookupsAndReads) {
    SimFileSystem fs(2);
    std::vector<Entry> log = span_entries();
    auto store = open_store(fs);
    ASSERT_TRUE(store);
    ASSERT_TRUE(appended(*store, {log[0], log[1]}));
    ASSERT_TRUE(appended(*store, {log[2], log[3], log[4], log[5]}));
    // Index 0 is the empty log and the first batch sits at offset 0.
    EXPECT_EQ(store->log().start_offset(), 0);
    EXPECT_EQ(store->log().next_offset(), 14);
    check_span_lookups(*store, log);

    // Stored as Kafka batches: offsets [index - span, index), epoch = term.
    std::vector<Entry> raw = read_all(*store);
    auto slice = store->log().read(4, 1 << 20);
    ASSERT_TRUE(slice);
    const std::string* bytes = &slice->bytes;
    auto h = storage::parse_batch_header(*bytes);
    ASSERT_TRUE(h);
    EXPECT_EQ(h->base_offset, 4);
    EXPECT_EQ(h->last_offset(), 8);
    EXPECT_EQ(h->leader_epoch, 1);
    EXPECT_EQ(bytes->substr(0, h->size), log[2].data.view());

    ASSERT_TRUE(synced(*store));
    store.reset();
    fs.crash();
    store = open_store(fs);
    ASSERT_TRUE(store);
    check_span_lookups(*store, log);
}

TEST(RaftLogStoreTest, SpansSurviveTornCrashesAcrossSegments) {
    // Small segments: the entries spread over several files.
    for (uint64_t seed = 1; seed <= 20; ++seed) {
        SCOPED_TRACE("seed " + std::to_string(seed));
        SimFileSystem fs(seed);
        std::vector<Entry> log = span_entries();
        {
            auto store = open_store(fs, quiet_config(200));
            ASSERT_TRUE(store);
            ASSERT_TRUE(appended(*store, log));
            ASSERT_TRUE(synced(*store));
            EXPECT_GT(store->log().segment_count(), 1u);
            // More, never synced: may or may not survive, whole or not at all.
            ASSERT_TRUE(appended(*store, {normal_entry(19, 5, 3), normal_entry(20, 1, 3)}));
        }
        fs.crash(true);
        auto store = open_store(fs, quiet_config(200));
        ASSERT_TRUE(store);
        std::vector<Entry> got = read_all(*store);
        ASSERT_GE(got.size(), log.size());
        std::vector<Entry> prefix(got.begin(), got.begin() + static_cast<std::ptrdiff_t>(log.size()));
        EXPECT_EQ(prefix, log);
        if (got.size() > log.size()) {
            EXPECT_EQ(got[log.size()], normal_entry(19, 5, 3));
        }
        if (got.size() > log.size() + 1) {
            EXPECT_EQ(got[log.size() + 1], normal_entry(20, 1, 3));
        }
        EXPECT_TRUE(holds_exactly(*store, got));
        if (got.size() == log.size()) check_span_lookups(*store, log);
    }
}

// ---------------------------------------------------------------------------
// 3. Entries that are not one batch of `span` records are refused.

TEST(RaftLogStoreTest, RefusesEntriesThatAreNotABatchOfSpanRecords) {
    SimFileSystem fs(3);
    auto store = open_store(fs);
    ASSERT_TRUE(store);
    std::vector<Entry> log = {normal_entry(2, 2, 1)};
    ASSERT_TRUE(appended(*store, log));
    ASSERT_TRUE(synced(*store));
    std::vector<EpochStart> epochs_before = epochs_on_disk(fs);

    std::vector<std::pair<std::string, Entry>> bad;
    {
        Entry e = normal_entry(5, 3, 2);
        e.data = std::string("not a record batch");
        bad.emplace_back("garbage", e);
    }
    {
        Entry e = normal_entry(5, 3, 2);
        e.data = Payload();
        bad.emplace_back("empty data", e);
    }
    {
        Entry e = normal_entry(5, 3, 2);
        e.span = 2;  // the batch holds 3 records
        e.index = Index{4};
        bad.emplace_back("fewer offsets than records", e);
    }
    {
        Entry e = normal_entry(6, 4, 2);
        std::string batch = make_records_batch(3, 9);
        stamp_batch_entry(batch, Index{6}, 4, Term{2});
        e.data = batch;
        bad.emplace_back("more offsets than records", e);
    }
    {
        Entry e = normal_entry(5, 3, 2);
        e.data = std::string(e.data.view()) + "trailing";
        bad.emplace_back("bytes after the batch", e);
    }
    {
        Entry e = normal_entry(5, 3, 2);
        std::string two = std::string(e.data.view()) + std::string(e.data.view());
        e.data = two;
        bad.emplace_back("two batches", e);
    }
    {
        Entry e = normal_entry(5, 3, 2);
        std::string batch(e.data.view());
        batch[batch.size() - 1] = static_cast<char>(batch[batch.size() - 1] ^ 1);  // breaks the CRC
        e.data = batch;
        bad.emplace_back("bad CRC", e);
    }
    {
        Entry e = normal_entry(5, 3, 2);
        std::string batch(e.data.view());
        batch.resize(batch.size() - 5);
        e.data = batch;
        bad.emplace_back("truncated", e);
    }
    for (const auto& [what, e] : bad) {
        SCOPED_TRACE(what);
        auto r = store->append({e}, 0);
        ASSERT_FALSE(r);
        EXPECT_EQ(r.error().code, StorageErrc::bad_request) << r.error().detail;
        EXPECT_TRUE(holds_exactly(*store, log));
        EXPECT_EQ(store->log().next_offset(), 2);
        EXPECT_EQ(epochs_on_disk(fs), epochs_before);
    }
    // The log still takes a valid entry at the same place, and stored nothing
    // of the refused ones across a restart.
    Entry good = normal_entry(5, 3, 2);
    ASSERT_TRUE(appended(*store, {good}));
    log.push_back(good);
    ASSERT_TRUE(synced(*store));
    store.reset();
    fs.crash();
    store = open_store(fs);
    ASSERT_TRUE(store);
    EXPECT_TRUE(holds_exactly(*store, log));
}

// A refused append must have no effect at all, even when the bad entry is not
// the first one of the call.
TEST(RaftLogStoreTest, RefusedAppendOfSeveralEntriesStoresNothing) {
    SimFileSystem fs(3);
    auto store = open_store(fs);
    ASSERT_TRUE(store);
    std::vector<Entry> log = {normal_entry(2, 2, 1)};
    ASSERT_TRUE(appended(*store, log));
    Entry bad = normal_entry(9, 3, 2);
    bad.data = std::string("not a batch");
    auto r = store->append({normal_entry(5, 3, 2), bad}, 0);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, StorageErrc::bad_request);
    EXPECT_TRUE(holds_exactly(*store, log));
    EXPECT_EQ(epochs_on_disk(fs), (std::vector<EpochStart>{{1, 0}}));
}

// ... and a refused replacement must not have dropped the suffix it would
// have replaced.
TEST(RaftLogStoreTest, RefusedReplacementKeepsTheSuffix) {
    SimFileSystem fs(3);
    auto store = open_store(fs);
    ASSERT_TRUE(store);
    std::vector<Entry> log = {normal_entry(2, 2, 1), normal_entry(5, 3, 1), normal_entry(6, 1, 1)};
    ASSERT_TRUE(appended(*store, log));
    ASSERT_TRUE(synced(*store));
    Entry bad = normal_entry(4, 2, 2);
    bad.data = std::string("not a batch");
    auto r = store->append({bad}, 0);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, StorageErrc::bad_request);
    EXPECT_TRUE(holds_exactly(*store, log));
    EXPECT_EQ(epochs_on_disk(fs), (std::vector<EpochStart>{{1, 0}}));
}

// An application batch that carries Kafka's control attribute (a transaction
// marker, or a producer imitating the store's own control records) is a batch
// of `span` records like any other: it must either be refused or come back
// as the normal entry it was, never as unreadable or as a membership change.
TEST(RaftLogStoreTest, NormalEntryWithControlAttributeIsRefusedOrReadBackAsIs) {
    struct Case {
        const char* what;
        uint16_t control_type;
        std::string value;
    };
    std::vector<Case> cases = {{"Kafka COMMIT marker", 1, std::string(6, '\0')},
                               {"imitated membership record", 101, membership_of({7}).encode()}};
    for (const Case& c : cases) {
        SCOPED_TRACE(c.what);
        SimFileSystem fs(11);
        auto store = open_store(fs);
        ASSERT_TRUE(store);
        std::vector<Entry> log = {normal_entry(2, 2, 1)};
        ASSERT_TRUE(appended(*store, log));
        std::string key("\0\0\0\0", 4);
        key[3] = static_cast<char>(c.control_type & 0xFF);
        key[2] = static_cast<char>(c.control_type >> 8);
        std::string batch = storage::encode_batch(0, 0, 1000, {{key, c.value, 0}}, 0x20);
        stamp_batch_entry(batch, Index{3}, 1, Term{1});
        Entry e;
        e.index = Index{3};
        e.term = Term{1};
        e.span = 1;
        e.type = EntryType::normal;
        e.data = batch;
        auto r = store->append({e}, 0);
        if (!r) {
            EXPECT_EQ(r.error().code, StorageErrc::bad_request);
            EXPECT_TRUE(holds_exactly(*store, log));
            continue;
        }
        log.push_back(e);
        EXPECT_TRUE(holds_exactly(*store, log));
        EXPECT_TRUE(store->membership_entries().empty());
        ASSERT_TRUE(synced(*store));
        store.reset();
        auto reopened = RaftLogStore::open(fs, kDir, quiet_config(), nullptr, 0);
        if (!reopened) {
            ADD_FAILURE() << "an accepted entry makes the log unrecoverable: " << reopened.error().detail;
            continue;
        }
        EXPECT_TRUE(holds_exactly(**reopened, log));
        EXPECT_TRUE((*reopened)->membership_entries().empty());
    }
}

// ---------------------------------------------------------------------------
// 4. Suffix replacement by a later term.

TEST(RaftLogStoreTest, SuffixReplacementByHigherTerm) {
    SimFileSystem fs(4);
    auto store = open_store(fs);
    ASSERT_TRUE(store);
    std::vector<Entry> old_log = {normal_entry(2, 2, 1), normal_entry(3, 1, 2),  normal_entry(6, 3, 2),
                                  noop_entry(7, 2),      normal_entry(11, 4, 2), normal_entry(12, 1, 2)};
    ASSERT_TRUE(appended(*store, old_log));
    ASSERT_TRUE(synced(*store));
    EXPECT_EQ(epochs_on_disk(fs), (std::vector<EpochStart>{{1, 0}, {2, 2}}));

    // Term 3 replaces everything after index 6: its first entry starts at offset 6.
    std::vector<Entry> repl = {normal_entry(8, 2, 3, 7), membership_entry(9, 3, membership_of({1, 2, 3})),
                               normal_entry(14, 5, 3, 7)};
    ASSERT_EQ(repl[0].index.value - repl[0].span, 6u);
    ASSERT_TRUE(appended(*store, repl));
    std::vector<Entry> expected = {old_log[0], old_log[1], old_log[2], repl[0], repl[1], repl[2]};
    EXPECT_TRUE(holds_exactly(*store, expected));
    EXPECT_EQ(store->term_at(Index{7}), std::nullopt);  // the old no-op is gone
    EXPECT_EQ(store->term_at(Index{11}), std::nullopt);
    EXPECT_EQ(store->membership_entries(), (std::vector<Entry>{repl[1]}));
    EXPECT_EQ(epochs_on_disk(fs), (std::vector<EpochStart>{{1, 0}, {2, 2}, {3, 6}}));

    ASSERT_TRUE(synced(*store));
    store.reset();
    fs.crash();
    store = open_store(fs);
    ASSERT_TRUE(store);
    EXPECT_TRUE(holds_exactly(*store, expected));
    EXPECT_EQ(epochs_on_disk(fs), (std::vector<EpochStart>{{1, 0}, {2, 2}, {3, 6}}));

    // Term 4 replaces everything of term 2 and 3 (from offset 2): the epoch
    // checkpoint loses both.
    std::vector<Entry> repl2 = {noop_entry(3, 4), normal_entry(5, 2, 4, 9)};
    ASSERT_TRUE(appended(*store, repl2));
    std::vector<Entry> expected2 = {old_log[0], repl2[0], repl2[1]};
    EXPECT_TRUE(holds_exactly(*store, expected2));
    EXPECT_EQ(epochs_on_disk(fs), (std::vector<EpochStart>{{1, 0}, {4, 2}}));
    EXPECT_TRUE(store->membership_entries().empty());
    ASSERT_TRUE(synced(*store));
    store.reset();
    fs.crash();
    store = open_store(fs);
    ASSERT_TRUE(store);
    EXPECT_TRUE(holds_exactly(*store, expected2));
    EXPECT_EQ(epochs_on_disk(fs), (std::vector<EpochStart>{{1, 0}, {4, 2}}));
}

TEST(RaftLogStoreTest, UnsyncedReplacementLosesNothingSyncedBelowIt) {
    for (uint64_t seed = 1; seed <= 30; ++seed) {
        SCOPED_TRACE("seed " + std::to_string(seed));
        SimFileSystem fs(seed);
        std::vector<Entry> old_log = {normal_entry(2, 2, 2), normal_entry(5, 3, 2), normal_entry(9, 4, 2)};
        std::vector<Entry> repl = {normal_entry(7, 2, 3, 1), normal_entry(8, 1, 3, 1)};
        {
            auto store = open_store(fs, quiet_config(150));
            ASSERT_TRUE(store);
            ASSERT_TRUE(appended(*store, old_log));
            ASSERT_TRUE(synced(*store));
            ASSERT_TRUE(appended(*store, repl));
        }
        fs.crash(true);
        auto store = open_store(fs, quiet_config(150));
        ASSERT_TRUE(store);
        std::vector<Entry> got = read_all(*store);
        ASSERT_GE(got.size(), 2u);
        EXPECT_EQ(got[0], old_log[0]);
        EXPECT_EQ(got[1], old_log[1]);
        // After index 5: either the old entry of term 2 or the new ones of
        // term 3 (or nothing), never a mix in the wrong order.
        for (size_t i = 2; i < got.size(); ++i) {
            bool is_old = got[i] == old_log[2] && i == 2;
            bool is_new = (i == 2 && got[i] == repl[0]) || (i == 3 && got[i] == repl[1] && got[2] == repl[0]);
            EXPECT_TRUE(is_old || is_new) << "entry #" << i << " " << ::testing::PrintToString(got[i]);
        }
        EXPECT_TRUE(holds_exactly(*store, got));
    }
}

// ---------------------------------------------------------------------------
// 5. A torn write that garbles partitionLeaderEpoch (outside the CRC).

struct TornEpochCase {
    uint64_t old_term;
    uint64_t new_term;  // the term of the unsynced batches
};

// Synced entries of terms 1..old_term, then unsynced ones of new_term; the
// first unsynced batch gets one epoch byte flipped (SimFileSystem::corrupt
// XORs 0x5A) in the page cache.
void write_torn_epoch_log(SimFileSystem& fs, const TornEpochCase& c, std::vector<Entry>& synced_log,
                          std::vector<Entry>& unsynced, size_t garbled, uint64_t epoch_byte) {
    auto store = open_store(fs);
    ASSERT_TRUE(store);
    uint64_t index = 0;
    for (uint64_t t = 1; t <= c.old_term; ++t) {
        for (uint32_t span : {2u, 1u}) {
            index += span;
            synced_log.push_back(normal_entry(index, span, t));
        }
    }
    ASSERT_TRUE(appended(*store, synced_log));
    ASSERT_TRUE(synced(*store));
    for (uint32_t span : {3u, 1u, 2u}) {
        index += span;
        unsynced.push_back(normal_entry(index, span, c.new_term));
    }
    ASSERT_TRUE(appended(*store, unsynced));
    const Entry& victim = unsynced[garbled];
    auto loc = locate_batch(fs, static_cast<int64_t>(victim.index.value - victim.span));
    ASSERT_TRUE(loc);
    fs.corrupt(loc->path, loc->position + 12 + epoch_byte);
}

// What the store may hold after the torn epoch: everything synced, then a
// prefix of the unsynced entries that stops before the garbled one.
void expect_no_garbled_term(const RaftLogStore& store, const std::vector<Entry>& synced_log,
                            const std::vector<Entry>& unsynced, size_t garbled) {
    std::vector<Entry> got = read_all(store);
    ASSERT_GE(got.size(), synced_log.size());
    for (size_t i = 0; i < synced_log.size(); ++i) {
        EXPECT_EQ(got[i], synced_log[i]) << "synced entry #" << i;
    }
    ASSERT_LE(got.size(), synced_log.size() + garbled) << "the entry with the garbled epoch was served";
    for (size_t i = synced_log.size(); i < got.size(); ++i) {
        EXPECT_EQ(got[i], unsynced[i - synced_log.size()]);
    }
    EXPECT_TRUE(holds_exactly(store, got));
}

TEST(RaftLogStoreTest, TornEpochIsCutAtRestart) {
    // Every byte of the epoch field, the first or a later unsynced batch.
    for (uint64_t epoch_byte = 0; epoch_byte < 4; ++epoch_byte) {
        for (size_t garbled : {size_t{0}, size_t{1}}) {
            SCOPED_TRACE("epoch byte " + std::to_string(epoch_byte) + ", unsynced batch #" +
                         std::to_string(garbled));
            SimFileSystem fs(5);
            TornEpochCase c{3, 4};
            std::vector<Entry> synced_log, unsynced;
            write_torn_epoch_log(fs, c, synced_log, unsynced, garbled, epoch_byte);
            if (HasFatalFailure()) return;
            // A process restart: the page cache (with the garbled batch) survives.
            auto store = open_store(fs);
            ASSERT_TRUE(store);
            expect_no_garbled_term(*store, synced_log, unsynced, garbled);
            // Everything before the garbled batch survived the restart.
            EXPECT_EQ(read_all(*store).size(), synced_log.size() + garbled);
            EXPECT_EQ(store->last_index().value, unsynced[garbled].index.value - unsynced[garbled].span);
        }
    }
}

TEST(RaftLogStoreTest, TornEpochIsCutAfterPowerLoss) {
    for (uint64_t seed = 1; seed <= 40; ++seed) {
        SCOPED_TRACE("seed " + std::to_string(seed));
        SimFileSystem fs(seed);
        TornEpochCase c{2, 3};
        std::vector<Entry> synced_log, unsynced;
        write_torn_epoch_log(fs, c, synced_log, unsynced, seed % 2, 3);
        if (HasFatalFailure()) return;
        fs.crash(false);
        auto store = open_store(fs);
        ASSERT_TRUE(store);
        expect_no_garbled_term(*store, synced_log, unsynced, seed % 2);
    }
}

// The cut of the garbled batch must itself survive a crash: after the first
// restart the garbled batch is durable (PartitionLog::open syncs what it
// recovered), the store cuts it (without a sync) and drops its epoch from
// raft-epochs (synced). A crash before the next sync brings the batch back;
// when its garbled epoch happens to equal the epoch now in force there (here
// 91 ^ 0x5A == 1), it is served as an entry of the wrong term.
TEST(RaftLogStoreTest, TornEpochCutSurvivesASecondCrash) {
    for (TornEpochCase c : {TornEpochCase{1, 2}, TornEpochCase{1, 1 ^ 0x5A}}) {
        SCOPED_TRACE("old term " + std::to_string(c.old_term) + ", new term " + std::to_string(c.new_term));
        SimFileSystem fs(7);
        std::vector<Entry> synced_log, unsynced;
        write_torn_epoch_log(fs, c, synced_log, unsynced, 0, 3);
        if (HasFatalFailure()) return;
        std::vector<Entry> after_first;
        {
            auto store = open_store(fs);  // process restart
            ASSERT_TRUE(store);
            expect_no_garbled_term(*store, synced_log, unsynced, 0);
            after_first = read_all(*store);
        }
        fs.crash(false);  // power loss before anything else is written
        auto store = open_store(fs);
        ASSERT_TRUE(store);
        expect_no_garbled_term(*store, synced_log, unsynced, 0);
        EXPECT_EQ(read_all(*store), after_first) << "a restart with no writes changed the log";
    }
}

// ---------------------------------------------------------------------------
// 6. Compaction below a snapshot taken locally.

TEST(RaftLogStoreTest, CompactDropsEntriesAtOrBelowTheSnapshot) {
    for (bool crash : {false, true}) {
        SCOPED_TRACE(crash ? "crash" : "restart");
        SimFileSystem fs(6);
        // Small segments, so that compaction deletes whole files.
        auto store = open_store(fs, quiet_config(300));
        ASSERT_TRUE(store);
        std::vector<Entry> log;
        uint64_t index = 0;
        for (int i = 0; i < 12; ++i) {
            uint32_t span = 1 + static_cast<uint32_t>(i % 3);
            index += span;
            if (i == 4) {
                index -= span - 1;
                log.push_back(
                    membership_entry(index, 1 + static_cast<uint64_t>(i / 4), membership_of({1, 2})));
            } else {
                log.push_back(normal_entry(index, span, 1 + static_cast<uint64_t>(i / 4)));
            }
        }
        log.push_back(membership_entry(index + 1, 4, membership_of({1, 2, 3})));
        ASSERT_TRUE(appended(*store, log));
        ASSERT_TRUE(synced(*store));
        size_t segments_before = store->log().segment_count();
        ASSERT_GT(segments_before, 2u);

        const Entry& at = log[7];  // applied up to here
        raft::Snapshot snap{raft::SnapshotMeta{at.index, at.term, membership_of({1, 2})},
                            "state machine image"};
        ASSERT_TRUE(compacted(*store, snap));
        std::vector<Entry> rest(log.begin() + 8, log.end());

        auto check = [&](const RaftLogStore& s) {
            EXPECT_EQ(s.snapshot_meta(), snap.meta);
            ASSERT_TRUE(s.snapshot());
            EXPECT_EQ(s.snapshot()->meta, snap.meta);
            EXPECT_EQ(s.snapshot()->data, snap.data);
            EXPECT_TRUE(holds_exactly(s, rest));
            EXPECT_EQ(s.term_at(at.index), at.term);
            for (uint64_t i = 0; i < at.index.value; ++i) {
                EXPECT_EQ(s.term_at(Index{i}), std::nullopt) << "index " << i;
                EXPECT_EQ(s.entry_at_or_before(Index{i}), std::nullopt) << "index " << i;
            }
            EXPECT_EQ(s.entry_at_or_before(at.index), (EntryId{at.index, at.term}));
            // Only the membership entry above the snapshot remains.
            EXPECT_EQ(s.membership_entries(), (std::vector<Entry>{log.back()}));
            std::vector<Entry> out;
            s.entries(at.index, s.last_index(), 1, out);
            ASSERT_EQ(out.size(), 1u);
            EXPECT_EQ(out[0], rest[0]);
        };
        check(*store);
        EXPECT_LT(store->log().segment_count(), segments_before);

        store.reset();
        if (crash) fs.crash(true);
        store = open_store(fs, quiet_config(300));
        ASSERT_TRUE(store);
        check(*store);

        // The log continues after a restart.
        Entry next = normal_entry(log.back().index.value + 2, 2, 4);
        ASSERT_TRUE(appended(*store, {next}));
        rest.push_back(next);
        EXPECT_TRUE(holds_exactly(*store, rest));
    }
}

// A crash between writing the snapshot file and trimming the log: the
// snapshot covers stored entries of the same history, so the log after it stays.
// A snapshot staged (its fsync off the loop) holds the temporary file until
// it is compacted to: installing, compacting or staging another is refused,
// as is compacting to a snapshot that is not the one staged.
TEST(RaftLogStoreTest, AStagedSnapshotIsTheOnlyOneUntilCompactedTo) {
    SimFileSystem fs(8);
    auto store = open_store(fs, quiet_config(300));
    ASSERT_TRUE(store);
    std::vector<Entry> log;
    for (uint64_t i = 1; i <= 6; ++i) log.push_back(normal_entry(i, 1, 1));
    ASSERT_TRUE(appended(*store, log));
    ASSERT_TRUE(synced(*store));
    auto snap = std::make_shared<const raft::Snapshot>(
        raft::Snapshot{raft::SnapshotMeta{Index{4}, raft::Term{1}, membership_of({1})}, "image at 4"});
    auto file = store->stage_snapshot(*snap);
    ASSERT_TRUE(file);
    ASSERT_TRUE((*file)->sync());

    raft::Snapshot other{raft::SnapshotMeta{Index{5}, raft::Term{1}, membership_of({1})}, "image at 5"};
    auto refused = installed(*store, other);
    ASSERT_FALSE(refused);
    EXPECT_EQ(refused.error().code, StorageErrc::bad_request);
    EXPECT_NE(refused.error().detail.find("index 4 is staged"), std::string::npos) << refused.error().detail;
    EXPECT_FALSE(store->stage_snapshot(other)) << "staged over a staged one";
    EXPECT_FALSE(compacted_to(*store, std::make_shared<const raft::Snapshot>(other)));
    EXPECT_EQ(store->snapshot_meta().index, Index{0}) << "a refused step changed the snapshot";

    ASSERT_TRUE(compacted_to(*store, snap));
    EXPECT_EQ(store->snapshot_meta(), snap->meta);
    EXPECT_EQ(store->log().start_offset(), 4);
    EXPECT_TRUE(compacted(*store, other)) << "nothing is staged any more";
    fs.crash();
    auto reopened = open_store(fs, quiet_config(300));
    ASSERT_TRUE(reopened);
    EXPECT_EQ(reopened->snapshot_meta(), other.meta);
}

TEST(RaftLogStoreTest, CrashDuringCompactKeepsTheEntriesAfterTheSnapshot) {
    SimFileSystem fs(6);
    std::vector<Entry> log = {normal_entry(2, 2, 1), normal_entry(3, 1, 1), normal_entry(6, 3, 2),
                              normal_entry(7, 1, 2)};
    {
        auto store = open_store(fs);
        ASSERT_TRUE(store);
        ASSERT_TRUE(appended(*store, log));
        ASSERT_TRUE(synced(*store));
    }
    ASSERT_TRUE(storage::save_snapshot(fs, kDir, {3, 1, membership_of({1}).encode(), "image"}));
    fs.crash();
    auto store = open_store(fs);
    ASSERT_TRUE(store);
    EXPECT_EQ(store->snapshot_meta().index, Index{3});
    EXPECT_EQ(store->snapshot_meta().term, Term{1});
    EXPECT_TRUE(holds_exactly(*store, {log[2], log[3]}));
    EXPECT_EQ(store->term_at(Index{2}), std::nullopt);
}

// ---------------------------------------------------------------------------
// 7. Installing a snapshot received from the leader.

TEST(RaftLogStoreTest, InstallSnapshotBeyondTheLog) {
    SimFileSystem fs(7);
    auto store = open_store(fs, quiet_config(200));
    ASSERT_TRUE(store);
    std::vector<Entry> old_log = {normal_entry(3, 3, 1), membership_entry(4, 1, membership_of({1})),
                                  normal_entry(9, 5, 2), normal_entry(10, 1, 2)};
    ASSERT_TRUE(appended(*store, old_log));
    ASSERT_TRUE(synced(*store));

    raft::Snapshot snap{raft::SnapshotMeta{Index{50}, Term{3}, membership_of({1, 2, 3})}, "leader's image"};
    ASSERT_TRUE(installed(*store, snap));
    auto check_snapshot_only = [&](const RaftLogStore& s) {
        EXPECT_EQ(s.last_index(), Index{50});
        EXPECT_EQ(s.snapshot_meta(), snap.meta);
        EXPECT_EQ(s.snapshot()->data, snap.data);
        EXPECT_EQ(s.term_at(Index{50}), Term{3});
        for (const Entry& e : old_log) {
            EXPECT_EQ(s.term_at(e.index), std::nullopt);
        }
        EXPECT_EQ(s.entry_at_or_before(Index{10}), std::nullopt);
        EXPECT_EQ(s.entry_at_or_before(Index{60}), (EntryId{Index{50}, Term{3}}));
        EXPECT_TRUE(s.membership_entries().empty());
        EXPECT_TRUE(holds_exactly(s, {}));
    };
    check_snapshot_only(*store);
    EXPECT_EQ(epochs_on_disk(fs), std::vector<EpochStart>{});

    // Later entries continue at index + span: the first batch at offset 50.
    std::vector<Entry> next = {normal_entry(53, 3, 3), noop_entry(54, 4), normal_entry(56, 2, 4)};
    ASSERT_TRUE(appended(*store, next));
    EXPECT_EQ(store->log().start_offset(), 50);
    EXPECT_EQ(store->log().next_offset(), 56);
    EXPECT_TRUE(holds_exactly(*store, next));
    EXPECT_EQ(epochs_on_disk(fs), (std::vector<EpochStart>{{3, 50}, {4, 53}}));
    ASSERT_TRUE(synced(*store));
    store.reset();
    fs.crash();
    store = open_store(fs, quiet_config(200));
    ASSERT_TRUE(store);
    EXPECT_EQ(store->snapshot_meta(), snap.meta);
    EXPECT_TRUE(holds_exactly(*store, next));
}

// A crash after the snapshot file is written but before the log is reset.
TEST(RaftLogStoreTest, CrashBetweenSnapshotFileAndLogReset) {
    for (bool crash : {false, true}) {
        SCOPED_TRACE(crash ? "crash" : "restart");
        SimFileSystem fs(8);
        std::vector<Entry> old_log = {normal_entry(3, 3, 1), membership_entry(4, 1, membership_of({1})),
                                      normal_entry(9, 5, 2), normal_entry(10, 1, 2)};
        {
            auto store = open_store(fs, quiet_config(200));
            ASSERT_TRUE(store);
            ASSERT_TRUE(appended(*store, old_log));
            ASSERT_TRUE(synced(*store));
        }
        raft::SnapshotMeta meta{Index{50}, Term{3}, membership_of({1, 2, 3})};
        ASSERT_TRUE(storage::save_snapshot(fs, kDir, {50, 3, meta.membership.encode(), "image"}));
        if (crash) fs.crash(true);
        auto store = open_store(fs, quiet_config(200));
        ASSERT_TRUE(store);
        EXPECT_EQ(store->snapshot_meta(), meta);
        EXPECT_EQ(store->last_index(), Index{50});
        EXPECT_EQ(store->log().start_offset(), 50);
        EXPECT_EQ(store->log().next_offset(), 50);
        EXPECT_TRUE(holds_exactly(*store, {}));
        for (uint64_t i = 0; i < 50; ++i) {
            EXPECT_EQ(store->term_at(Index{i}), std::nullopt) << "index " << i;
        }
        EXPECT_TRUE(store->membership_entries().empty());
        std::vector<Entry> out;
        store->entries(Index{0}, Index{60}, 1 << 20, out);
        EXPECT_TRUE(out.empty());

        Entry next = normal_entry(52, 2, 3);
        ASSERT_TRUE(appended(*store, {next}));
        ASSERT_TRUE(synced(*store));
        store.reset();
        fs.crash();
        store = open_store(fs, quiet_config(200));
        ASSERT_TRUE(store);
        EXPECT_TRUE(holds_exactly(*store, {next}));
    }
}

// The snapshot ends inside a stored batch: no stored entry ends there, so
// nothing after it can belong to the snapshot's history.
TEST(RaftLogStoreTest, CrashDuringInstallWithSnapshotInsideABatch) {
    SimFileSystem fs(9);
    std::vector<Entry> old_log = {normal_entry(3, 3, 1), normal_entry(8, 5, 1), normal_entry(10, 2, 1)};
    {
        auto store = open_store(fs);
        ASSERT_TRUE(store);
        ASSERT_TRUE(appended(*store, old_log));
        ASSERT_TRUE(synced(*store));
    }
    ASSERT_TRUE(storage::save_snapshot(fs, kDir, {5, 2, membership_of({1}).encode(), "image"}));
    fs.crash();
    auto store = open_store(fs);
    ASSERT_TRUE(store);
    EXPECT_EQ(store->last_index(), Index{5});
    EXPECT_EQ(store->term_at(Index{5}), Term{2});
    EXPECT_TRUE(holds_exactly(*store, {}));
    Entry next = normal_entry(6, 1, 2);
    ASSERT_TRUE(appended(*store, {next}));
    EXPECT_TRUE(holds_exactly(*store, {next}));
}

// The snapshot ends exactly at a stored entry of another term: the stored
// entries after it come from a history the leader's snapshot contradicts
// (Raft §7: retain the log after the snapshot only if the entry at its index
// has the snapshot's term). Keeping them makes terms decrease along the log.
TEST(RaftLogStoreTest, CrashDuringInstallDropsEntriesOfAnotherHistory) {
    SimFileSystem fs(10);
    std::vector<Entry> old_log = {normal_entry(3, 3, 1), normal_entry(6, 3, 1),
                                  membership_entry(7, 1, membership_of({9})), normal_entry(10, 3, 1)};
    {
        auto store = open_store(fs);
        ASSERT_TRUE(store);
        ASSERT_TRUE(appended(*store, old_log));
        ASSERT_TRUE(synced(*store));
    }
    // The leader's entry 6 has term 2; ours has term 1.
    ASSERT_TRUE(storage::save_snapshot(fs, kDir, {6, 2, membership_of({1, 2, 3}).encode(), "image"}));
    fs.crash();
    auto store = open_store(fs);
    ASSERT_TRUE(store);
    EXPECT_EQ(store->term_at(Index{6}), Term{2});
    Term prev = store->snapshot_meta().term;
    for (const Entry& e : read_all(*store)) {
        EXPECT_GE(e.term, prev) << "term decreases at index " << e.index.value;
        prev = e.term;
    }
    EXPECT_EQ(store->last_index(), Index{6});
    EXPECT_TRUE(store->membership_entries().empty())
        << "a membership of the contradicted history is in force";
}

// ---------------------------------------------------------------------------
// 8. Hard state: term and vote are durable at once; commit rides along.

TEST(RaftLogStoreTest, HardStateWrittenWhenTermOrVoteChange) {
    SimFileSystem fs(8);
    auto store = open_store(fs);
    ASSERT_TRUE(store);
    EXPECT_EQ(store->hard_state(), HardState{});

    // Commit alone on a fresh store: nothing to write.
    ASSERT_TRUE(store->set_hard_state({Term{0}, NodeId{0}, Index{3}}));
    EXPECT_EQ(store->hard_state(), (HardState{Term{0}, NodeId{0}, Index{3}}));
    store.reset();
    fs.crash();
    store = open_store(fs);
    ASSERT_TRUE(store);
    EXPECT_EQ(store->hard_state(), HardState{});
    EXPECT_FALSE(fs.exists(storage::join_path(kDir, "raft-hard-state")));

    // A new term: durable at once (no sync call involved).
    HardState term1{Term{1}, NodeId{0}, Index{1}};
    ASSERT_TRUE(store->set_hard_state(term1));
    // Only the commit index moves: kept in memory, not written.
    ASSERT_TRUE(store->set_hard_state({Term{1}, NodeId{0}, Index{7}}));
    EXPECT_EQ(store->hard_state(), (HardState{Term{1}, NodeId{0}, Index{7}}));
    store.reset();
    fs.crash();
    store = open_store(fs);
    ASSERT_TRUE(store);
    EXPECT_EQ(store->hard_state(), term1);

    // A vote in the same term: durable, with the commit index of the moment.
    HardState voted{Term{1}, NodeId{3}, Index{7}};
    ASSERT_TRUE(store->set_hard_state(voted));
    store.reset();
    fs.crash();
    store = open_store(fs);
    ASSERT_TRUE(store);
    EXPECT_EQ(store->hard_state(), voted);

    // A new term with no vote.
    HardState term5{Term{5}, NodeId{0}, Index{7}};
    ASSERT_TRUE(store->set_hard_state(term5));
    ASSERT_TRUE(store->set_hard_state({Term{5}, NodeId{0}, Index{9}}));
    store.reset();
    fs.crash(true);
    store = open_store(fs);
    ASSERT_TRUE(store);
    EXPECT_EQ(store->hard_state().term, Term{5});
    EXPECT_EQ(store->hard_state().vote, NodeId{0});
    EXPECT_EQ(store->hard_state().commit, Index{7});
    auto rec = storage::load_hard_state(fs, kDir);
    ASSERT_TRUE(rec);
    ASSERT_TRUE(rec->has_value());
    EXPECT_EQ(**rec, (storage::HardStateRecord{5, 0, 7}));
}

// ---------------------------------------------------------------------------
// 9. A range read takes only the bytes of the entries asked for.

// A FileSystem over SimFileSystem that counts the bytes its files read.
class ReadCountingFileSystem final : public storage::FileSystem {
  public:
    class CountingFile final : public storage::File {
      public:
        CountingFile(ReadCountingFileSystem& fs, std::shared_ptr<storage::File> inner)
            : _fs(fs), _inner(std::move(inner)) {}
        storage::IoResult<Ok> append(std::string_view bytes) override { return _inner->append(bytes); }
        storage::IoResult<Ok> read_at(uint64_t offset, size_t len, std::string& out) const override {
            auto r = _inner->read_at(offset, len, out);
            _fs.bytes_read += out.size();
            return r;
        }
        storage::IoResult<Ok> sync() override { return _inner->sync(); }
        storage::IoResult<Ok> truncate(uint64_t size) override { return _inner->truncate(size); }
        uint64_t size() const override { return _inner->size(); }
        void preallocate(uint64_t chunk) override { _inner->preallocate(chunk); }
        int native_handle() const override { return _inner->native_handle(); }

      private:
        ReadCountingFileSystem& _fs;
        std::shared_ptr<storage::File> _inner;
    };

    storage::IoResult<std::shared_ptr<storage::File>> open(const std::string& path, bool create) override {
        auto f = _sim.open(path, create);
        if (!f) return f;
        return std::shared_ptr<storage::File>(std::make_shared<CountingFile>(*this, *f));
    }
    bool exists(const std::string& path) const override { return _sim.exists(path); }
    storage::IoResult<std::vector<std::string>> list(const std::string& dir) const override {
        return _sim.list(dir);
    }
    storage::IoResult<Ok> create_dirs(const std::string& dir) override { return _sim.create_dirs(dir); }
    storage::IoResult<Ok> remove(const std::string& path) override { return _sim.remove(path); }
    storage::IoResult<Ok> rename(const std::string& from, const std::string& to) override {
        return _sim.rename(from, to);
    }
    storage::IoResult<Ok> sync_dir(const std::string& dir) override { return _sim.sync_dir(dir); }

    uint64_t bytes_read{0};

  private:
    SimFileSystem _sim{1};
};

// `n` synced entries of term 1, one record of 1000 bytes each.
std::vector<Entry> store_entries(RaftLogStore& store, uint64_t n) {
    std::vector<Entry> log;
    for (uint64_t i = 1; i <= n; ++i) log.push_back(normal_entry(i, 1, 1, 0, 1000));
    EXPECT_TRUE(appended(store, log));
    EXPECT_TRUE(synced(store));
    return log;
}

TEST(RaftLogStoreTest, ARangeReadTakesOnlyTheBatchesAskedFor) {
    // Applying committed entries asks for a few entries behind a long
    // uncommitted tail, with a budget far larger than the range.
    ReadCountingFileSystem fs;
    auto store = open_store(fs);
    ASSERT_TRUE(store);
    const std::vector<Entry> log = store_entries(*store, 200);
    store = open_store(fs);  // nothing in memory: every read goes to the disk
    ASSERT_TRUE(store);
    for (auto [after, upto] : {std::pair<uint64_t, uint64_t>{10, 12}, {0, 1}, {150, 200}, {199, 200}}) {
        SCOPED_TRACE("entries after " + std::to_string(after) + " up to " + std::to_string(upto));
        std::vector<Entry> out;
        fs.bytes_read = 0;
        store->entries(Index{after}, Index{upto}, 64 << 20, out);
        ASSERT_EQ(out.size(), upto - after);
        size_t wanted = 0;
        for (uint64_t i = after; i < upto; ++i) {
            EXPECT_EQ(out[i - after], log[i]);
            wanted += log[i].data.size();
        }
        // The batches themselves, plus less than one more batch's worth of
        // lookups (the rest of the log is ~200 KB).
        EXPECT_GE(fs.bytes_read, wanted);
        EXPECT_LT(fs.bytes_read, wanted + 1000);
    }
}

TEST(RaftLogStoreTest, RecentEntriesComeFromMemoryAndTruncationsForgetThem) {
    ReadCountingFileSystem fs;
    auto store = open_store(fs);
    ASSERT_TRUE(store);
    const std::vector<Entry> log = store_entries(*store, 20);
    fs.bytes_read = 0;
    std::vector<Entry> out;
    store->entries(Index{5}, Index{20}, 64 << 20, out);
    EXPECT_EQ(out, std::vector<Entry>(log.begin() + 5, log.end()));
    EXPECT_EQ(fs.bytes_read, 0u);

    // A new leader's entry replaces the tail from offset 15 on.
    Entry replacement = normal_entry(16, 1, 2, 7, 1000);
    ASSERT_TRUE(appended(*store, {replacement}));
    ASSERT_TRUE(synced(*store));
    const std::vector<Entry> expected{log[14], replacement};
    fs.bytes_read = 0;  // the truncation itself looks at the batch it cuts at
    out.clear();
    store->entries(Index{14}, Index{20}, 64 << 20, out);
    EXPECT_EQ(out, expected);
    EXPECT_EQ(fs.bytes_read, 0u);

    // Compaction forgets what it drops: no entry below the snapshot is
    // served, though the recent ones may still be held in memory.
    raft::Snapshot snap{raft::SnapshotMeta{Index{10}, Term{1}, membership_of({1})}, "image"};
    ASSERT_TRUE(compacted(*store, snap));
    out.clear();
    store->entries(Index{5}, Index{12}, 64 << 20, out);
    EXPECT_TRUE(out.empty()) << out.size() << " entries served from below the snapshot";
    out.clear();
    store->entries(Index{10}, Index{12}, 64 << 20, out);
    EXPECT_EQ(out, std::vector<Entry>(log.begin() + 10, log.begin() + 12));

    // The disk agrees.
    store = open_store(fs);
    ASSERT_TRUE(store);
    out.clear();
    store->entries(Index{14}, Index{20}, 64 << 20, out);
    EXPECT_EQ(out, expected);
    EXPECT_GT(fs.bytes_read, 0u);
}

}  // namespace
}  // namespace fjord::cluster::testing
