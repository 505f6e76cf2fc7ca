// Crash recovery, corruption, a full disk and failed fsyncs, on SimFileSystem.
#include <gtest/gtest.h>

#include "common/big_endian.h"
#include "log_fixture.h"

namespace fjord::storage::testing {
namespace {

class RecoveryTest : public LogTest {
  protected:
    // Appends batches (2 records, 40-byte values) until the next one needs a roll.
    void fill_to_a_roll(PartitionLog& log, const LogConfig& c) {
        for (int i = 0; i < 2 || segment_bases().size() < 2; ++i) {
            ASSERT_NO_FATAL_FAILURE(append(log, make_batch(log.next_offset(), 2, 40)));
        }
        while (file_size(fs, log_path(segment_bases().back())) +
                   make_batch(log.next_offset(), 2, 40).size() <=
               c.segment_bytes) {
            ASSERT_NO_FATAL_FAILURE(append(log, make_batch(log.next_offset(), 2, 40)));
        }
    }
};

// ---------------------------------------------------------------------------
// Crash after a sync

TEST(CrashRecovery, SyncedBatchesSurviveAndTheTailIsCutAtABatchBoundary) {
    int truncations_reported = 0;
    int tails_lost = 0;
    for (uint64_t seed = 1; seed <= 200; ++seed) {
        SCOPED_TRACE("seed " + std::to_string(seed));
        SimFileSystem fs(seed);
        Rng rng(seed * 7919);
        LogLines lines;
        LogConfig c;
        c.log = lines.logger();
        c.segment_bytes = 3000;
        const std::string dir = "/d/t-0";
        std::map<int64_t, std::string> appended;
        auto log = PartitionLog::open(fs, dir, c, nullptr, 0);
        ASSERT_TRUE(log);
        auto add = [&](PartitionLog& l) {
            std::string b = random_batch(rng, l.next_offset(), 1000, 5, 120);
            auto r = l.append(b, 0);
            ASSERT_TRUE(r) << r.error().detail;
            appended[l.next_offset() - (last_offset_of(b) - parse_batch_header(b)->base_offset + 1)] = b;
        };
        for (int i = 0; i < 12; ++i) ASSERT_NO_FATAL_FAILURE(add(**log));
        auto synced = sync_inline(**log);
        ASSERT_TRUE(synced);
        const int64_t durable = *synced;
        EXPECT_EQ(durable, (*log)->next_offset());
        EXPECT_EQ((*log)->durable_offset(), durable);
        for (int i = 0; i < 6; ++i) ASSERT_NO_FATAL_FAILURE(add(**log));
        const int64_t end_before_crash = (*log)->next_offset();
        EXPECT_EQ((*log)->durable_offset(), durable);  // appends alone are not durable
        log->reset();

        fs.crash(/*tear=*/true);
        auto reopened = PartitionLog::open(fs, dir, c, nullptr, 0);
        ASSERT_TRUE(reopened);
        PartitionLog& l = **reopened;
        EXPECT_GE(l.next_offset(), durable);
        EXPECT_LE(l.next_offset(), end_before_crash);
        if (l.next_offset() < end_before_crash) ++tails_lost;
        std::vector<StoredBatch> got;
        ASSERT_TRUE(read_all(l, got));  // also: next_offset() ends the last batch
        for (const StoredBatch& b : got) {
            ASSERT_TRUE(appended.count(b.base)) << "a batch at " << b.base << " that was never appended";
            EXPECT_TRUE(appended[b.base] == b.bytes) << "batch at " << b.base << " differs";
        }
        ASSERT_FALSE(got.empty());
        EXPECT_EQ(got.back().next, l.next_offset());
        // A cut tail is reported with the file, the byte and the first lost offset.
        for (const std::string& line : lines.lines()) {
            if (line.find("truncating the log from byte") == std::string::npos) continue;
            ++truncations_reported;
            EXPECT_NE(line.find(dir + "/"), std::string::npos) << line;
            EXPECT_NE(line.find(".log"), std::string::npos) << line;
            EXPECT_NE(line.find("offsets from " + std::to_string(l.next_offset()) + " on"), std::string::npos)
                << line;
        }
        // Recovery is stable: a second open finds the same log and cuts nothing.
        std::vector<StoredBatch> first(got);
        reopened->reset();
        lines.clear();
        auto again = PartitionLog::open(fs, dir, c, nullptr, 0);
        ASSERT_TRUE(again);
        got.clear();
        ASSERT_TRUE(read_all(**again, got));
        ASSERT_EQ(got.size(), first.size());
        for (size_t i = 0; i < got.size(); ++i) EXPECT_TRUE(got[i].bytes == first[i].bytes);
        EXPECT_TRUE(lines.lines().empty()) << lines.dump();
        // And it takes appends again.
        std::string b = random_batch(rng, (*again)->next_offset(), 1000, 3, 50);
        EXPECT_TRUE((*again)->append(b, 0));
        EXPECT_TRUE(sync_inline(**again));
    }
    // Over 200 seeds the simulated disk kept and tore some tails.
    EXPECT_GT(truncations_reported, 0);
    EXPECT_GT(tails_lost, 0);
}

class TornTailTest : public RecoveryTest {
  protected:
    // A log of 8 synced batches in one segment; returns the size of its file.
    uint64_t write_log() {
        auto log = open(config());
        EXPECT_TRUE(log);
        for (int i = 0; i < 8; ++i) append(*log, make_batch(log->next_offset(), 2, 30));
        EXPECT_TRUE(sync_inline(*log));
        return file_size(fs, log_path(0));
    }
    // Appends `bytes` to the segment file and makes them durable, as if a write tore.
    void damage_tail(std::string_view bytes) {
        auto f = fs.open(log_path(0), false);
        ASSERT_TRUE(f);
        ASSERT_TRUE((*f)->append(bytes));
        ASSERT_TRUE((*f)->sync());
    }
    void expect_cut(uint64_t good_size, const std::string& problem) {
        fs.crash();
        auto log = open(config());
        ASSERT_TRUE(log);
        EXPECT_EQ(log->next_offset(), 16);
        EXPECT_EQ(file_size(fs, log_path(0)), good_size);
        EXPECT_TRUE(lines.any_contains({log_path(0), problem,
                                        "truncating the log from byte " + std::to_string(good_size),
                                        "offsets from 16 on"}))
            << lines.dump();
        expect_matches_model(*log);
        // The cut is durable: another crash does not bring the garbage back.
        log.reset();
        lines.clear();
        fs.crash();
        log = open(config());
        ASSERT_TRUE(log);
        EXPECT_EQ(file_size(fs, log_path(0)), good_size);
        EXPECT_TRUE(lines.lines().empty()) << lines.dump();
        ASSERT_NO_FATAL_FAILURE(append(*log, make_batch(16, 1, 5)));
        expect_matches_model(*log);
    }
};

TEST_F(TornTailTest, HalfABatch) {
    uint64_t size = write_log();
    ASSERT_NO_FATAL_FAILURE(damage_tail(make_batch(16, 3, 50).substr(0, 100)));
    expect_cut(size, "torn batch at byte " + std::to_string(size));
}

TEST_F(TornTailTest, HalfAHeader) {
    uint64_t size = write_log();
    ASSERT_NO_FATAL_FAILURE(damage_tail(make_batch(16, 3, 50).substr(0, 30)));
    expect_cut(size, "torn batch header at byte " + std::to_string(size));
}

TEST_F(TornTailTest, GarbageInTheLastBatch) {
    uint64_t size = write_log();
    std::string b = make_batch(16, 3, 50);
    b[b.size() - 10] = static_cast<char>(b[b.size() - 10] ^ 0x40);
    ASSERT_NO_FATAL_FAILURE(damage_tail(b));
    expect_cut(size, "CRC mismatch in the batch at byte " + std::to_string(size) + " (offset 16)");
}

TEST_F(TornTailTest, AZeroFilledTailIsCutWithoutComplaint) {
    // Zeros are space reserved for appends (preallocated, or extended but
    // never written): nothing was lost there, so recovery cuts them quietly.
    uint64_t size = write_log();
    ASSERT_NO_FATAL_FAILURE(damage_tail(std::string(4096, '\0')));
    fs.crash();
    auto log = open(config());
    ASSERT_TRUE(log);
    EXPECT_EQ(log->next_offset(), 16);
    EXPECT_EQ(file_size(fs, log_path(0)), size);
    EXPECT_TRUE(lines.lines().empty()) << lines.dump();
    expect_matches_model(*log);
}

TEST_F(TornTailTest, ABatchTornInsideZerosIsReported) {
    // Half a batch written into preallocated space: the tail is not all zeros.
    uint64_t size = write_log();
    std::string b = make_batch(16, 1, 40);
    ASSERT_NO_FATAL_FAILURE(damage_tail(b.substr(0, b.size() / 2) + std::string(4096, '\0')));
    expect_cut(size, "CRC mismatch in the batch at byte " + std::to_string(size));
}

TEST_F(TornTailTest, ABatchAtTheWrongOffset) {
    uint64_t size = write_log();
    ASSERT_NO_FATAL_FAILURE(damage_tail(make_batch(40, 1, 10)));
    expect_cut(size, "has base offset 40, expected 16");
}

// ---------------------------------------------------------------------------
// Corruption in a sealed segment

class SealedCorruptionTest : public RecoveryTest {
  protected:
    void SetUp() override {
        c = config();
        c.segment_bytes = 600;
        auto log = open(c);
        ASSERT_TRUE(log);
        ASSERT_NO_FATAL_FAILURE(append_many(*log, 30, 2, 40));
        ASSERT_TRUE(sync_inline(*log));
        bases = segment_bases();
        ASSERT_GE(bases.size(), 5u);
        // The second batch of the second segment.
        bad_segment = bases[1];
        auto it = model.find(bad_segment);
        ASSERT_NE(it, model.end());
        bad_position = it->second.size();
        ++it;
        ASSERT_LT(it->first, bases[2]);
        bad_offset = it->first;
        bad_size = it->second.size();
    }

    // Reads every offset in order: those below the bad batch are served intact,
    // those at or after it (in any later segment too) are refused as corrupt.
    void expect_served_up_to_the_bad_batch(PartitionLog& log) {
        for (int64_t offset = 0; offset < log.next_offset(); ++offset) {
            auto slice = log.read(offset, 1 << 20);
            if (offset < bad_offset) {
                std::vector<StoredBatch> got;
                ASSERT_TRUE(read_checked(log, offset, 1 << 20, got));
                for (const StoredBatch& b : got) {
                    EXPECT_LT(b.base, bad_offset);
                    EXPECT_TRUE(b.bytes == model[b.base]) << b.base;
                }
            } else {
                ASSERT_FALSE(slice) << "offset " << offset << " served past the corrupt batch at "
                                    << bad_offset;
                EXPECT_EQ(slice.error().code, StorageErrc::corrupt) << offset;
            }
        }
        EXPECT_TRUE(lines.any_contains({log_path(bad_segment), "offset " + std::to_string(bad_offset)}) ||
                    lines.any_contains({log_path(bad_segment), "offsets from " + std::to_string(bad_offset)}))
            << lines.dump();
    }

    LogConfig c;
    std::vector<int64_t> bases;
    int64_t bad_segment = 0;
    uint64_t bad_position = 0;
    int64_t bad_offset = 0;
    uint64_t bad_size = 0;
};

TEST_F(SealedCorruptionTest, ARecordByteIsCaughtByTheCrc) {
    fs.corrupt(log_path(bad_segment), bad_position + 70);
    auto log = open(c);
    ASSERT_TRUE(log);
    EXPECT_EQ(log->next_offset(), 60);  // a sealed segment is trusted for its length
    ASSERT_NO_FATAL_FAILURE(expect_served_up_to_the_bad_batch(*log));
    EXPECT_TRUE(
        lines.any_contains({log_path(bad_segment), "CRC mismatch", "byte " + std::to_string(bad_position)}))
        << lines.dump();
}

TEST_F(SealedCorruptionTest, EveryByteOfTheBatchIsCaught) {
    // Any byte of the batch except baseOffset/partitionLeaderEpoch, which the
    // CRC leaves out by design (and the offset is checked by the framing).
    for (uint64_t at = 0; at < bad_size; ++at) {
        if (at >= 12 && at < 16) continue;  // the leader epoch
        SCOPED_TRACE("byte " + std::to_string(at) + " of the batch");
        lines.clear();
        fs.corrupt(log_path(bad_segment), bad_position + at);
        auto log = open(c);
        ASSERT_TRUE(log);
        for (int64_t offset = 0; offset < log->next_offset(); ++offset) {
            auto slice = log->read(offset, 1 << 20);
            if (offset < bad_offset) {
                std::vector<StoredBatch> got;
                ASSERT_TRUE(read_checked(*log, offset, 1 << 20, got)) << offset;
            } else if (slice) {
                // Whatever is served must be intact.
                std::vector<StoredBatch> got;
                ASSERT_TRUE(read_checked(*log, offset, 1 << 20, got)) << offset;
                for (const StoredBatch& b : got) ASSERT_TRUE(b.bytes == model[b.base]) << "offset " << b.base;
            } else {
                EXPECT_EQ(slice.error().code, StorageErrc::corrupt) << offset;
            }
        }
        log.reset();
        fs.corrupt(log_path(bad_segment), bad_position + at);  // restore
    }
}

TEST_F(SealedCorruptionTest, BadMagicIsFoundWhenOpening) {
    fs.corrupt(log_path(bad_segment), bad_position + 16);
    auto log = open(c);
    ASSERT_TRUE(log);
    EXPECT_TRUE(lines.any_contains({log_path(bad_segment), "in a sealed segment",
                                    "offsets from " + std::to_string(bad_offset) + " on will not be served"}))
        << lines.dump();
    ASSERT_NO_FATAL_FAILURE(expect_served_up_to_the_bad_batch(*log));
}

// ---------------------------------------------------------------------------
// A full disk

TEST_F(RecoveryTest, DiskFullFailsTheAppendAndStoresNothing) {
    LogConfig c = config();
    auto log = open(c);
    ASSERT_TRUE(log);
    ASSERT_NO_FATAL_FAILURE(append_many(*log, 10, 2, 50));
    ASSERT_TRUE(sync_inline(*log));
    std::string next_batch = make_batch(20, 2, 50);
    fs.set_capacity(fs.used() + next_batch.size() - 1);
    const uint64_t size_before = file_size(fs, log_path(0));
    auto r = log->append(next_batch, 0);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, StorageErrc::no_space);
    EXPECT_EQ(log->next_offset(), 20);
    EXPECT_EQ(file_size(fs, log_path(0)), size_before);
    EXPECT_FALSE(log->stopped());
    // Reads continue meanwhile, and a sync has nothing new to do.
    expect_matches_model(*log);
    auto s = sync_inline(*log);
    ASSERT_TRUE(s);
    EXPECT_EQ(*s, 20);
    // Still full: the same append fails again, a smaller one fits.
    EXPECT_EQ(log->append(next_batch, 0).error().code, StorageErrc::no_space);
    // A reopen shows the same log.
    log.reset();
    log = open(c);
    ASSERT_TRUE(log);
    EXPECT_EQ(log->next_offset(), 20);
    EXPECT_EQ(file_size(fs, log_path(0)), size_before);
    expect_matches_model(*log);
    // Space returns: appends succeed again.
    fs.set_capacity(UINT64_MAX);
    ASSERT_NO_FATAL_FAILURE(append(*log, next_batch));
    ASSERT_NO_FATAL_FAILURE(append_many(*log, 3, 2, 50));
    ASSERT_TRUE(sync_inline(*log));
    expect_matches_model(*log);
    log.reset();
    fs.crash();
    log = open(c);
    ASSERT_TRUE(log);
    expect_matches_model(*log);
}

TEST_F(RecoveryTest, DiskFullRightAfterARoll) {
    LogConfig c = config();
    c.segment_bytes = 500;
    auto log = open(c);
    ASSERT_TRUE(log);
    ASSERT_NO_FATAL_FAILURE(fill_to_a_roll(*log, c));
    // The next batch rolls a new segment and then finds no space.
    std::string b = make_batch(log->next_offset(), 2, 40);
    const int64_t next = log->next_offset();
    fs.set_capacity(fs.used() + 10);
    auto r = log->append(b, 0);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, StorageErrc::no_space);
    EXPECT_EQ(log->next_offset(), next);
    expect_matches_model(*log);
    log.reset();
    log = open(c);
    ASSERT_TRUE(log);
    EXPECT_EQ(log->next_offset(), next);
    expect_matches_model(*log);
    fs.set_capacity(UINT64_MAX);
    ASSERT_NO_FATAL_FAILURE(append(*log, b));
    ASSERT_NO_FATAL_FAILURE(append_many(*log, 4, 2, 40));
    ASSERT_TRUE(sync_inline(*log));
    log.reset();
    fs.crash();
    log = open(c);
    ASSERT_TRUE(log);
    expect_matches_model(*log);
}

TEST_F(RecoveryTest, TruncatePrefixToTheEndWhileTheActiveSegmentIsEmpty) {
    // A failed append right after a roll leaves an empty active segment whose
    // base is next_offset(); a snapshot installed at exactly that offset then
    // calls truncate_prefix(next_offset()).
    LogConfig c = config();
    c.segment_bytes = 500;
    auto log = open(c);
    ASSERT_TRUE(log);
    ASSERT_NO_FATAL_FAILURE(fill_to_a_roll(*log, c));
    const int64_t next = log->next_offset();
    fs.set_capacity(fs.used() + 10);
    ASSERT_FALSE(log->append(make_batch(next, 2, 40), 0));
    fs.set_capacity(UINT64_MAX);
    ASSERT_EQ(segment_bases().back(), next);  // the empty active segment

    ASSERT_TRUE(log->truncate_prefix(next));
    model.clear();
    EXPECT_EQ(log->start_offset(), next);
    EXPECT_EQ(log->next_offset(), next);
    ASSERT_NO_FATAL_FAILURE(append(*log, make_batch(next, 3, 20)));
    ASSERT_TRUE(sync_inline(*log));
    EXPECT_EQ(segment_bases(), (std::vector<int64_t>{next}));
    log.reset();
    log = open(c);
    ASSERT_TRUE(log);
    EXPECT_EQ(log->start_offset(), next);
    EXPECT_EQ(log->next_offset(), next + 3);
    expect_matches_model(*log);
}

TEST(TruncatePrefixAndCrash, AnEmptySegmentLeftByACrashAfterARoll) {
    // The same, reached by power loss: a roll creates the next segment (its
    // name is made durable at once) and the crash loses the batch written
    // into it. A snapshot at next_offset() then empties the log.
    int hit = 0;
    for (uint64_t seed = 1; seed <= 40; ++seed) {
        SCOPED_TRACE("seed " + std::to_string(seed));
        SimFileSystem fs(seed);
        LogConfig c;
        LogLines lines;
        c.log = lines.logger();
        c.segment_bytes = 500;
        const std::string dir = "/d/t-0";
        auto log = PartitionLog::open(fs, dir, c, nullptr, 0);
        ASSERT_TRUE(log);
        while ((*log)->segment_count() < 2)
            ASSERT_TRUE((*log)->append(make_batch((*log)->next_offset(), 2, 40), 0));
        const int64_t rolled_at = (*log)->next_offset() - 2;
        ASSERT_TRUE(sync_inline(**log));
        ASSERT_TRUE((*log)->append(make_batch(rolled_at + 2, 2, 40), 0));
        while ((*log)->segment_count() < 3)
            ASSERT_TRUE((*log)->append(make_batch((*log)->next_offset(), 2, 40), 0));
        const int64_t base = (*log)->next_offset() - 2;  // the third segment's only batch is not synced
        log->reset();
        fs.crash();
        auto reopened = PartitionLog::open(fs, dir, c, nullptr, 0);
        ASSERT_TRUE(reopened);
        PartitionLog& l = **reopened;
        if (l.next_offset() != base) continue;  // the crash kept part of the tail
        ++hit;
        ASSERT_TRUE(l.truncate_prefix(base));
        ASSERT_TRUE(l.append(make_batch(base, 3, 20), 0));
        ASSERT_TRUE(sync_inline(l));  // reported durable
        reopened->reset();
        auto again = PartitionLog::open(fs, dir, c, nullptr, 0);
        ASSERT_TRUE(again);
        EXPECT_EQ((*again)->start_offset(), base);
        EXPECT_EQ((*again)->next_offset(), base + 3) << "a synced batch is gone";
        std::vector<StoredBatch> got;
        EXPECT_TRUE(read_all(**again, got));
        if (::testing::Test::HasFailure()) break;  // one reproduction is enough
    }
    EXPECT_GT(hit, 0);
}

TEST(TruncatePrefixAndCrash, StartNeverPassesTheEnd) {
    // truncate_prefix() above the durable offset, then power loss: the start
    // offset file is durable at once, the data below it may not be. The log
    // must come back consistent: start_offset() <= next_offset(), readable at
    // its start, appendable at its end.
    int lost = 0;
    for (uint64_t seed = 1; seed <= 40; ++seed) {
        SCOPED_TRACE("seed " + std::to_string(seed));
        SimFileSystem fs(seed);
        LogConfig c;
        LogLines lines;
        c.log = lines.logger();
        const std::string dir = "/d/t-0";
        auto log = PartitionLog::open(fs, dir, c, nullptr, 0);
        ASSERT_TRUE(log);
        for (int i = 0; i < 5; ++i) ASSERT_TRUE((*log)->append(make_batch(i * 2, 2, 30), 0));
        ASSERT_TRUE(sync_inline(**log));  // [0, 10) durable
        for (int i = 5; i < 10; ++i) ASSERT_TRUE((*log)->append(make_batch(i * 2, 2, 30), 0));
        ASSERT_TRUE((*log)->truncate_prefix(16));  // a snapshot up to 15, say
        log->reset();
        fs.crash();
        auto reopened = PartitionLog::open(fs, dir, c, nullptr, 0);
        ASSERT_TRUE(reopened);
        PartitionLog& l = **reopened;
        if (l.next_offset() <= 16) ++lost;  // the batches at and above 16 did not survive
        EXPECT_LE(l.start_offset(), l.next_offset())
            << "start " << l.start_offset() << " is past the end " << l.next_offset();
        EXPECT_GE(l.start_offset(), 16);  // the start never moves back
        std::vector<StoredBatch> got;
        EXPECT_TRUE(read_all(l, got));
        auto next = l.next_offset();
        auto r = l.append(make_batch(next, 1, 5), 0);
        EXPECT_TRUE(r);
        if (r) {
            EXPECT_TRUE(l.read(std::max(next, l.start_offset()), 100));
        }
        if (::testing::Test::HasFailure()) break;  // one reproduction is enough
    }
    EXPECT_GT(lost, 0);
}

// ---------------------------------------------------------------------------
// A failed fsync

TEST_F(RecoveryTest, FailedFsyncStopsWritesButNotReads) {
    LogConfig c = config();
    auto log = open(c);
    ASSERT_TRUE(log);
    ASSERT_NO_FATAL_FAILURE(append_many(*log, 5, 2, 30));
    ASSERT_TRUE(sync_inline(*log));
    const int64_t durable = log->durable_offset();
    ASSERT_EQ(durable, 10);
    ASSERT_NO_FATAL_FAILURE(append_many(*log, 3, 2, 30));
    const auto unsynced_model = model;

    fs.fail_next_syncs(1);
    auto s = sync_inline(*log);
    ASSERT_FALSE(s);
    EXPECT_EQ(s.error().code, StorageErrc::fsync_failed);
    EXPECT_TRUE(log->stopped());
    EXPECT_EQ(log->durable_offset(), durable);
    EXPECT_FALSE(lines.lines().empty());

    auto a = log->append(make_batch(16), 0);
    ASSERT_FALSE(a);
    EXPECT_EQ(a.error().code, StorageErrc::stopped);
    EXPECT_EQ(log->next_offset(), 16);
    auto again = sync_inline(*log);
    ASSERT_FALSE(again);
    EXPECT_EQ(again.error().code, StorageErrc::stopped);
    EXPECT_FALSE(log->needs_sync(1'000'000));
    // Reads keep working, including what was appended but never made durable.
    expect_matches_model(*log);

    // After power loss the log recovers to a consistent prefix holding at
    // least what was durable; the failed fsync's bytes are gone.
    log.reset();
    fs.crash();
    log = open(c);
    ASSERT_TRUE(log);
    EXPECT_FALSE(log->stopped());
    EXPECT_GE(log->next_offset(), durable);
    std::vector<StoredBatch> got;
    ASSERT_TRUE(read_all(*log, got));
    for (const StoredBatch& b : got) EXPECT_TRUE(b.bytes == unsynced_model.at(b.base)) << b.base;
    EXPECT_EQ(log->next_offset(), durable);
    // And takes writes again.
    model_truncate_suffix(log->next_offset());
    ASSERT_NO_FATAL_FAILURE(append(*log, make_batch(log->next_offset(), 1, 7, 1000, 5)));
    ASSERT_TRUE(sync_inline(*log));
    expect_matches_model(*log);
}

TEST_F(RecoveryTest, FailedFsyncWhileSealingASegment) {
    LogConfig c = config();
    c.segment_bytes = 500;
    auto log = open(c);
    ASSERT_TRUE(log);
    ASSERT_NO_FATAL_FAILURE(append_many(*log, 2, 2, 40));
    ASSERT_TRUE(sync_inline(*log));
    const int64_t durable = log->next_offset();
    ASSERT_NO_FATAL_FAILURE(append_many(*log, 1, 2, 40));
    const auto all = model;
    fs.fail_next_syncs(1);
    std::string b = make_batch(log->next_offset(), 2, 40);
    auto r = log->append(b, 0);  // needs a roll, whose fsync fails
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, StorageErrc::fsync_failed);
    EXPECT_TRUE(log->stopped());
    EXPECT_EQ(log->append(b, 0).error().code, StorageErrc::stopped);
    EXPECT_EQ(sync_inline(*log).error().code, StorageErrc::stopped);
    expect_matches_model(*log);
    log.reset();
    fs.crash();
    log = open(c);
    ASSERT_TRUE(log);
    EXPECT_EQ(log->next_offset(), durable);
    std::vector<StoredBatch> got;
    ASSERT_TRUE(read_all(*log, got));
    for (const StoredBatch& s : got) EXPECT_TRUE(s.bytes == all.at(s.base)) << s.base;
}

}  // namespace
}  // namespace fjord::storage::testing
