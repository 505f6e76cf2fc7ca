// Segments, the offset index, truncation and retention of PartitionLog.
#include "storage/partition_log.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "common/big_endian.h"
#include "log_fixture.h"

namespace fjord::storage::testing {
namespace {

class PartitionLogTest : public LogTest {
  protected:
    // A config of 400-byte segments, and a log opened with it holding 40
    // synced batches: at least 5 segments, whose base offsets go to `bases`.
    void open_segmented(LogConfig& c, std::unique_ptr<PartitionLog>& log, std::vector<int64_t>& bases) {
        c = config();
        c.segment_bytes = 400;
        log = open(c);
        ASSERT_TRUE(log);
        ASSERT_NO_FATAL_FAILURE(append_many(*log, 40, 2, 30));
        ASSERT_TRUE(sync_inline(*log));
        bases = segment_bases();
        ASSERT_GE(bases.size(), 5u);
    }
};

// Retention by size and time as an owner applies it: the log cut at its
// retention point; how many segments went.
StorageResult<size_t> enforce_retention(PartitionLog& log, int64_t now_ms) {
    size_t before = log.segment_count();
    if (auto r = log.truncate_prefix(log.retention_point(now_ms)); !r) return make_unexpected(r.error());
    return before - log.segment_count();
}

TEST_F(PartitionLogTest, OpensEmptyAndRejectsBadAppends) {
    auto log = open(config());
    ASSERT_TRUE(log);
    EXPECT_EQ(log->start_offset(), 0);
    EXPECT_EQ(log->next_offset(), 0);
    EXPECT_EQ(log->segment_count(), 1u);
    EXPECT_EQ(list_dir(fs, dir),
              (std::vector<std::string>{"00000000000000000000.index", "00000000000000000000.log"}));
    auto empty = log->read(0, 100);
    ASSERT_TRUE(empty);
    EXPECT_EQ(empty->length, 0u);
    EXPECT_EQ(empty->next_offset, 0);

    auto gap = log->append(make_batch(1), 0);
    ASSERT_FALSE(gap);
    EXPECT_EQ(gap.error().code, StorageErrc::bad_request);

    std::string bad_crc = make_batch(0);
    bad_crc.back() = static_cast<char>(bad_crc.back() ^ 1);
    auto corrupt = log->append(bad_crc, 0);
    ASSERT_FALSE(corrupt);
    EXPECT_EQ(corrupt.error().code, StorageErrc::corrupt);

    auto trailing = log->append(make_batch(0) + "x", 0);
    ASSERT_FALSE(trailing);
    EXPECT_EQ(trailing.error().code, StorageErrc::bad_request);

    EXPECT_EQ(log->next_offset(), 0);
    EXPECT_EQ(log->size_bytes(), 0u);
    ASSERT_NO_FATAL_FAILURE(append(*log, make_batch(0, 3)));
    EXPECT_EQ(log->next_offset(), 3);
    EXPECT_FALSE(log->read(4, 100));
    EXPECT_EQ(log->read(4, 100).error().code, StorageErrc::out_of_range);
    EXPECT_EQ(log->read(-1, 100).error().code, StorageErrc::out_of_range);
    expect_matches_model(*log);
}

TEST_F(PartitionLogTest, RollsBySize) {
    LogConfig c = config();
    c.segment_bytes = 1000;
    auto log = open(c);
    ASSERT_TRUE(log);
    // Expected bases: a new segment when the active one is non-empty and the
    // batch would take it past segment_bytes.
    std::vector<int64_t> want_bases{0};
    std::map<int64_t, uint64_t> want_sizes{{0, 0}};
    for (int i = 0; i < 25; ++i) {
        std::string b = make_batch(log->next_offset(), 1 + i % 3, 60 + static_cast<size_t>(i % 5) * 20);
        uint64_t& active = want_sizes[want_bases.back()];
        if (active > 0 && active + b.size() > c.segment_bytes) {
            want_bases.push_back(log->next_offset());
            want_sizes[want_bases.back()] = 0;
        }
        want_sizes[want_bases.back()] += b.size();
        ASSERT_NO_FATAL_FAILURE(append(*log, b));
    }
    ASSERT_GE(want_bases.size(), 5u);
    EXPECT_EQ(log->segment_count(), want_bases.size());

    std::vector<std::string> want_names;
    for (int64_t base : want_bases) {
        want_names.push_back(segment_file_name(base, ".index"));
        want_names.push_back(segment_file_name(base, ".log"));
    }
    std::sort(want_names.begin(), want_names.end());
    EXPECT_EQ(list_dir(fs, dir), want_names);
    for (int64_t base : want_bases) {
        EXPECT_EQ(file_size(fs, log_path(base)), want_sizes[base]) << base;
        EXPECT_LE(file_size(fs, log_path(base)), c.segment_bytes);
    }
    // 20-digit, zero-padded names.
    EXPECT_EQ(segment_file_name(want_bases[1], ".log").size(), 24u);
    EXPECT_EQ(segment_file_name(12345678901234, ".log"), "00000012345678901234.log");
    expect_matches_model(*log);

    // The same layout after a reopen.
    log.reset();
    log = open(c);
    ASSERT_TRUE(log);
    EXPECT_EQ(log->segment_count(), want_bases.size());
    EXPECT_EQ(segment_bases(), want_bases);
    expect_matches_model(*log);
}

TEST_F(PartitionLogTest, ABatchLargerThanASegmentGetsOneToItself) {
    LogConfig c = config();
    c.segment_bytes = 100;
    auto log = open(c);
    ASSERT_TRUE(log);
    ASSERT_NO_FATAL_FAILURE(append_many(*log, 4, 2, 200));
    EXPECT_EQ(segment_bases(), (std::vector<int64_t>{0, 2, 4, 6}));
    expect_matches_model(*log);
}

TEST_F(PartitionLogTest, RollsByAge) {
    LogConfig c = config();
    c.segment_ms = 100;
    auto log = open(c, /*now_ms=*/0);
    ASSERT_TRUE(log);
    int64_t times[] = {0, 50, 99, 100, 150, 199, 200, 250, 1000};
    for (int64_t now : times) {
        ASSERT_NO_FATAL_FAILURE(append(*log, make_batch(log->next_offset(), 1, 8, now), now));
    }
    // Rolled at 100 (segment from 0), at 200 (from 100), at 1000 (from 200).
    EXPECT_EQ(segment_bases(), (std::vector<int64_t>{0, 3, 6, 8}));
    EXPECT_EQ(log->segment_count(), 4u);
    expect_matches_model(*log);
}

TEST_F(PartitionLogTest, AnEmptySegmentDoesNotRollByAge) {
    LogConfig c = config();
    c.segment_ms = 100;
    auto log = open(c, 0);
    ASSERT_TRUE(log);
    ASSERT_NO_FATAL_FAILURE(append(*log, make_batch(0), 5000));
    EXPECT_EQ(segment_bases(), (std::vector<int64_t>{0}));
}

// ---------------------------------------------------------------------------
// The offset index.

class IndexTest : public LogTest {
  protected:
    void SetUp() override {
        c = config();
        c.index_interval_bytes = 100;
        c.segment_bytes = 3000;
        log = open(c);
        ASSERT_TRUE(log);
        for (int i = 0; i < 120; ++i) {
            ASSERT_NO_FATAL_FAILURE(
                append(*log, make_batch(log->next_offset(), 1 + i % 4, 10 + static_cast<size_t>(i % 7) * 6)));
        }
        bases = segment_bases();
        ASSERT_GE(bases.size(), 3u);
        // Index entries reach the file in groups: a sealed segment's index is
        // whole from its sealing on (the tests below compare it with a
        // rebuild), the active one's from the rebuild of a reopen.
        for (size_t i = 0; i + 1 < bases.size(); ++i)
            index_bytes[bases[i]] = file_bytes(fs, index_path(bases[i]));
        ASSERT_NO_FATAL_FAILURE(reopen());
        index_bytes[bases.back()] = file_bytes(fs, index_path(bases.back()));
    }

    // read(offset, 1) for every offset returns exactly the batch holding it.
    void expect_every_offset_readable(const std::string& context) {
        std::vector<int64_t> failed;
        std::string first_failure;
        for (int64_t offset = log->start_offset(); offset < log->next_offset(); ++offset) {
            std::vector<StoredBatch> got;
            auto r = read_checked(*log, offset, 1, got);
            const std::string* want = model_batch_at(offset);
            if (!r || got.size() != 1 || want == nullptr || got[0].bytes != *want) {
                if (failed.empty()) first_failure = r ? "wrong batch" : r.message();
                failed.push_back(offset);
            }
        }
        EXPECT_TRUE(failed.empty()) << context << ": " << failed.size() << " offsets unreadable, from "
                                    << failed.front() << "; first: " << first_failure << "\nlog lines:\n"
                                    << lines.dump();
    }

    void reopen() {
        log.reset();
        log = open(c);
        ASSERT_TRUE(log);
    }

    LogConfig c;
    std::unique_ptr<PartitionLog> log;
    std::vector<int64_t> bases;
    std::map<int64_t, std::string> index_bytes;
};

TEST_F(IndexTest, EveryOffsetFindsItsBatch) {
    for (size_t i = 0; i + 1 < bases.size(); ++i) {
        // One entry every ~100 bytes: several per sealed segment, 8 bytes each.
        EXPECT_GE(index_bytes[bases[i]].size(), 8u * 5) << bases[i];
        EXPECT_EQ(index_bytes[bases[i]].size() % 8, 0u);
    }
    ASSERT_NO_FATAL_FAILURE(expect_every_offset_readable("fresh"));
    // Reads of several batches are contiguous and bounded.
    for (size_t max : {size_t{1}, size_t{150}, size_t{1000}, size_t{1} << 20})
        expect_matches_model(*log, max);
}

TEST_F(IndexTest, IndexEntriesPointAtBatchStarts) {
    for (int64_t base : bases) {
        std::string log_bytes = file_bytes(fs, log_path(base));
        const std::string& idx = index_bytes[base];
        for (size_t at = 0; at < idx.size(); at += 8) {
            uint32_t rel = be::load32(idx.data() + at);
            uint32_t pos = be::load32(idx.data() + at + 4);
            ASSERT_LT(pos, log_bytes.size());
            auto h = parse_batch_header(std::string_view(log_bytes).substr(pos));
            ASSERT_TRUE(h);
            EXPECT_EQ(h->base_offset, base + rel);
        }
    }
}

TEST_F(IndexTest, RebuiltWhenDeleted) {
    for (int64_t base : bases) ASSERT_TRUE(fs.remove(index_path(base)));
    ASSERT_NO_FATAL_FAILURE(reopen());
    ASSERT_NO_FATAL_FAILURE(expect_every_offset_readable("index files deleted"));
    // Rebuilt as the appends built it.
    for (int64_t base : bases) EXPECT_EQ(file_bytes(fs, index_path(base)), index_bytes[base]) << base;
}

TEST_F(IndexTest, RebuiltWhenGarbage) {
    for (int64_t base : bases) {
        ASSERT_NO_FATAL_FAILURE(overwrite_file(fs, index_path(base), "this is not an index"));
    }
    ASSERT_NO_FATAL_FAILURE(reopen());
    ASSERT_NO_FATAL_FAILURE(expect_every_offset_readable("index files garbage"));
    // The sealed segments' damage is reported (the active one's index is always rebuilt).
    EXPECT_TRUE(lines.any_contains({log_path(bases[0]), "damaged offset index"})) << lines.dump();
    for (size_t i = 0; i + 1 < bases.size(); ++i) {
        EXPECT_EQ(file_bytes(fs, index_path(bases[i])), index_bytes[bases[i]]) << bases[i];
    }
}

TEST_F(IndexTest, RebuiltWhenEntriesPointIntoTheMiddleOfBatches) {
    // Well-formed entries (increasing, inside the file) that point at no batch
    // start: docs/storage.md promises the sealed index is validated and rebuilt.
    std::string bogus;
    be::append(bogus, 1, 4);
    be::append(bogus, 3, 4);
    be::append(bogus, 2, 4);
    be::append(bogus, 40, 4);
    ASSERT_NO_FATAL_FAILURE(overwrite_file(fs, index_path(bases[0]), bogus));
    ASSERT_NO_FATAL_FAILURE(reopen());
    ASSERT_NO_FATAL_FAILURE(expect_every_offset_readable("sealed index with bogus positions"));
}

TEST_F(IndexTest, RebuiltAfterAnySingleByteFlip) {
    // Bit rot in any byte of a sealed segment's index must not make data unreadable.
    int64_t base = bases[0];
    const std::string original = index_bytes[base];
    std::vector<size_t> bad_bytes;
    for (size_t at = 0; at < original.size(); ++at) {
        ASSERT_NO_FATAL_FAILURE(overwrite_file(fs, index_path(base), original));
        fs.corrupt(index_path(base), at);
        log.reset();
        log = open(c);
        ASSERT_TRUE(log);
        bool ok = true;
        for (int64_t offset = 0; offset < log->next_offset() && ok; ++offset) {
            std::vector<StoredBatch> got;
            const std::string* want = model_batch_at(offset);
            ok = read_checked(*log, offset, 1, got) && got.size() == 1 && want && got[0].bytes == *want;
        }
        ok = ok && log->next_offset() == last_offset_of(model.rbegin()->second) + 1;
        if (!ok) bad_bytes.push_back(at);
    }
    std::string list;
    for (size_t at : bad_bytes) list += std::to_string(at) + " ";
    EXPECT_TRUE(bad_bytes.empty()) << bad_bytes.size() << " of " << original.size()
                                   << " single-byte flips of " << index_path(base)
                                   << " left offsets unreadable after reopen; flipped bytes: " << list;
}

// ---------------------------------------------------------------------------
// truncate_suffix

TEST_F(PartitionLogTest, TruncateSuffixAtABatchBoundary) {
    auto log = open(config());
    ASSERT_TRUE(log);
    ASSERT_NO_FATAL_FAILURE(append_many(*log, 10, 3));
    ASSERT_TRUE(sync_inline(*log));
    EXPECT_EQ(log->durable_offset(), 30);
    ASSERT_TRUE(log->truncate_suffix(15));
    model_truncate_suffix(15);
    EXPECT_EQ(log->next_offset(), 15);
    EXPECT_LE(log->durable_offset(), 15);
    auto at_end = log->read(15, 100);
    ASSERT_TRUE(at_end);
    EXPECT_EQ(at_end->length, 0u);
    EXPECT_EQ(log->read(16, 100).error().code, StorageErrc::out_of_range);
    expect_matches_model(*log);
    // Appends continue at the truncation point, with different bytes.
    ASSERT_NO_FATAL_FAILURE(append(*log, make_batch(15, 2, 16, 1000, /*salt=*/9)));
    EXPECT_EQ(log->next_offset(), 17);
    expect_matches_model(*log);
    ASSERT_TRUE(sync_inline(*log));
    EXPECT_EQ(log->durable_offset(), 17);
    // Truncating at or past the end is a no-op.
    ASSERT_TRUE(log->truncate_suffix(17));
    ASSERT_TRUE(log->truncate_suffix(100));
    EXPECT_EQ(log->next_offset(), 17);
    // To the very start.
    ASSERT_TRUE(log->truncate_suffix(0));
    model.clear();
    EXPECT_EQ(log->next_offset(), 0);
    ASSERT_NO_FATAL_FAILURE(append(*log, make_batch(0, 1, 8, 1000, 3)));
    log.reset();
    log = open(config());
    ASSERT_TRUE(log);
    expect_matches_model(*log);
}

TEST_F(PartitionLogTest, TruncateSuffixInsideABatchIsABadRequest) {
    auto log = open(config());
    ASSERT_TRUE(log);
    ASSERT_NO_FATAL_FAILURE(append_many(*log, 5, 4));  // batches at 0, 4, 8, 12, 16
    auto r = log->truncate_suffix(9);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, StorageErrc::bad_request);
    EXPECT_EQ(log->next_offset(), 20);
    expect_matches_model(*log);
}

TEST_F(PartitionLogTest, TruncateSuffixBelowTheStartIsOutOfRange) {
    auto log = open(config());
    ASSERT_TRUE(log);
    ASSERT_NO_FATAL_FAILURE(append_many(*log, 5, 4));
    ASSERT_TRUE(log->truncate_prefix(8));
    auto r = log->truncate_suffix(4);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, StorageErrc::out_of_range);
    EXPECT_EQ(log->next_offset(), 20);
}

TEST_F(PartitionLogTest, TruncateSuffixAcrossSegmentsRemovesTheLaterOnes) {
    LogConfig c = config();
    c.segment_bytes = 500;
    auto log = open(c);
    ASSERT_TRUE(log);
    ASSERT_NO_FATAL_FAILURE(append_many(*log, 30, 2, 40));
    std::vector<int64_t> bases = segment_bases();
    ASSERT_GE(bases.size(), 4u);
    // A boundary inside the second segment, not its first batch.
    int64_t cut = bases[1] + 2;
    ASSERT_TRUE(model.count(cut));
    ASSERT_LT(cut, bases[2]);
    ASSERT_TRUE(log->truncate_suffix(cut));
    model_truncate_suffix(cut);
    EXPECT_EQ(log->next_offset(), cut);
    EXPECT_EQ(segment_bases(), (std::vector<int64_t>{bases[0], bases[1]}));
    EXPECT_EQ(log->segment_count(), 2u);
    for (size_t i = 2; i < bases.size(); ++i) {
        EXPECT_FALSE(fs.exists(log_path(bases[i])));
        EXPECT_FALSE(fs.exists(index_path(bases[i])));
    }
    expect_matches_model(*log);
    // Appends continue, rolling as before, and all survives a reopen.
    ASSERT_NO_FATAL_FAILURE(append_many(*log, 10, 2, 40));
    expect_matches_model(*log);
    log.reset();
    log = open(c);
    ASSERT_TRUE(log);
    expect_matches_model(*log);
    // Truncating exactly at a segment's base removes that segment.
    bases = segment_bases();
    ASSERT_GE(bases.size(), 3u);
    ASSERT_TRUE(log->truncate_suffix(bases[2]));
    model_truncate_suffix(bases[2]);
    EXPECT_EQ(segment_bases(), (std::vector<int64_t>{bases[0], bases[1]}));
    expect_matches_model(*log);
}

TEST_F(PartitionLogTest, RejectedTruncateSuffixInAnEarlierSegmentChangesNothing) {
    // A bad_request must not destroy data: the later segments must stay.
    LogConfig c = config();
    c.segment_bytes = 500;
    auto log = open(c);
    ASSERT_TRUE(log);
    ASSERT_NO_FATAL_FAILURE(append_many(*log, 30, 3, 40));  // batches at multiples of 3
    std::vector<int64_t> bases = segment_bases();
    ASSERT_GE(bases.size(), 3u);
    int64_t inside = bases[0] + 4;  // inside the batch at bases[0] + 3
    int64_t next = log->next_offset();
    auto r = log->truncate_suffix(inside);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, StorageErrc::bad_request);
    EXPECT_EQ(log->next_offset(), next);
    EXPECT_EQ(segment_bases(), bases);
    expect_matches_model(*log);
}

// ---------------------------------------------------------------------------
// truncate_prefix

TEST_F(PartitionLogTest, TruncatePrefixMovesTheStartAndDeletesWholeSegments) {
    LogConfig c;
    std::unique_ptr<PartitionLog> log;
    std::vector<int64_t> bases;
    ASSERT_NO_FATAL_FAILURE(open_segmented(c, log, bases));
    int64_t start = bases[2] + 3;  // inside a batch of the third segment
    ASSERT_LT(start, bases[3]);
    ASSERT_TRUE(log->truncate_prefix(start));
    EXPECT_EQ(log->start_offset(), start);
    EXPECT_EQ(segment_bases(), std::vector<int64_t>(bases.begin() + 2, bases.end()));
    EXPECT_FALSE(fs.exists(log_path(bases[0])));
    EXPECT_FALSE(fs.exists(index_path(bases[1])));
    EXPECT_TRUE(fs.exists(path("log-start-offset")));
    auto below = log->read(start - 1, 100);
    ASSERT_FALSE(below);
    EXPECT_EQ(below.error().code, StorageErrc::out_of_range);
    EXPECT_EQ(log->read(0, 100).error().code, StorageErrc::out_of_range);
    // The batch holding the start is still served whole.
    std::vector<StoredBatch> got;
    ASSERT_TRUE(read_checked(*log, start, 1, got));
    EXPECT_EQ(got.at(0).bytes, *model_batch_at(start));
    EXPECT_EQ(got.at(0).base, start - 1);
    expect_matches_model(*log);
    // Moving backwards is a no-op.
    ASSERT_TRUE(log->truncate_prefix(1));
    EXPECT_EQ(log->start_offset(), start);

    // Survives a reopen and a crash (the start-offset file is written atomically).
    log.reset();
    fs.crash();
    log = open(c);
    ASSERT_TRUE(log);
    EXPECT_EQ(log->start_offset(), start);
    EXPECT_EQ(log->read(start - 1, 100).error().code, StorageErrc::out_of_range);
    EXPECT_EQ(segment_bases(), std::vector<int64_t>(bases.begin() + 2, bases.end()));
    expect_matches_model(*log);
}

TEST_F(PartitionLogTest, TruncatePrefixBeyondTheEndEmptiesTheLog) {
    LogConfig c = config();
    c.segment_bytes = 400;
    auto log = open(c);
    ASSERT_TRUE(log);
    ASSERT_NO_FATAL_FAILURE(append_many(*log, 20, 2, 30));
    ASSERT_GE(segment_bases().size(), 2u);
    ASSERT_TRUE(log->truncate_prefix(1000));
    model.clear();
    EXPECT_EQ(log->start_offset(), 1000);
    EXPECT_EQ(log->next_offset(), 1000);
    EXPECT_EQ(log->durable_offset(), 1000);
    EXPECT_EQ(log->segment_count(), 1u);
    EXPECT_EQ(segment_bases(), (std::vector<int64_t>{1000}));
    EXPECT_EQ(log->size_bytes(), 0u);
    auto empty = log->read(1000, 100);
    ASSERT_TRUE(empty);
    EXPECT_EQ(empty->length, 0u);
    EXPECT_EQ(log->read(999, 100).error().code, StorageErrc::out_of_range);
    EXPECT_EQ(log->append(make_batch(0), 0).error().code, StorageErrc::bad_request);
    ASSERT_NO_FATAL_FAILURE(append(*log, make_batch(1000, 3)));
    ASSERT_TRUE(sync_inline(*log));
    log.reset();
    fs.crash();
    log = open(c);
    ASSERT_TRUE(log);
    EXPECT_EQ(log->start_offset(), 1000);
    EXPECT_EQ(log->next_offset(), 1003);
    expect_matches_model(*log);
}

TEST_F(PartitionLogTest, TruncatePrefixToExactlyTheEnd) {
    LogConfig c = config();
    auto log = open(c);
    ASSERT_TRUE(log);
    ASSERT_NO_FATAL_FAILURE(append_many(*log, 5, 2));
    ASSERT_TRUE(log->truncate_prefix(10));
    model.clear();
    EXPECT_EQ(log->start_offset(), 10);
    EXPECT_EQ(log->next_offset(), 10);
    ASSERT_NO_FATAL_FAILURE(append(*log, make_batch(10, 2)));
    log.reset();
    log = open(c);
    ASSERT_TRUE(log);
    EXPECT_EQ(log->start_offset(), 10);
    EXPECT_EQ(log->next_offset(), 12);
    expect_matches_model(*log);
}

// truncate_prefix's halves apart, as a compaction off the loop runs them:
// the cut is in memory only until remove_cut, so a crash between the two
// finds the log as it was; once removed, the cut holds across a crash. A
// cut may end exactly at the log's end (a snapshot of all that was
// applied), keeping the active segment, and appends go on after it.
TEST_F(PartitionLogTest, ACutPrefixReachesTheDiskOnlyWithRemoveCut) {
    LogConfig c;
    std::unique_ptr<PartitionLog> log;
    std::vector<int64_t> bases;
    ASSERT_NO_FATAL_FAILURE(open_segmented(c, log, bases));
    int64_t end = log->next_offset();
    EXPECT_EQ(log->cut_prefix(end + 1).error().code, StorageErrc::bad_request);

    auto cut = log->cut_prefix(end);
    ASSERT_TRUE(cut) << cut.error().detail;
    EXPECT_EQ(log->start_offset(), end);
    EXPECT_EQ(log->segment_count(), 1u) << "the active segment is kept";
    EXPECT_EQ(cut->files.size(), 2 * (bases.size() - 1));
    EXPECT_EQ(log->read(end - 1, 100).error().code, StorageErrc::out_of_range);
    EXPECT_TRUE(fs.exists(log_path(bases[0]))) << "the cut reached the disk before remove_cut";
    log.reset();
    fs.crash();
    log = open(c);
    ASSERT_TRUE(log);
    EXPECT_EQ(log->start_offset(), 0) << "a crash before remove_cut must find the log as it was";
    EXPECT_EQ(segment_bases(), bases);
    expect_matches_model(*log);

    cut = log->cut_prefix(end);
    ASSERT_TRUE(cut);
    ASSERT_TRUE(PartitionLog::remove_cut(fs, *cut));
    for (size_t i = 0; i + 1 < bases.size(); ++i) EXPECT_FALSE(fs.exists(log_path(bases[i]))) << bases[i];
    model.clear();
    ASSERT_NO_FATAL_FAILURE(append(*log, make_batch(end, 2)));
    ASSERT_TRUE(sync_inline(*log));
    log.reset();
    fs.crash();
    log = open(c);
    ASSERT_TRUE(log);
    EXPECT_EQ(log->start_offset(), end);
    EXPECT_EQ(log->next_offset(), end + 2);
    expect_matches_model(*log);
}

// open_empty_at replaces the files of a log that another object still holds
// open: the old one keeps serving what it read before (its files are gone
// from the directory, not from it), the new one starts empty at the offset,
// and that is what a crash finds.
TEST_F(PartitionLogTest, OpenEmptyAtReplacesTheFilesOfALogStillOpen) {
    LogConfig c;
    std::unique_ptr<PartitionLog> old_log;
    std::vector<int64_t> bases;
    ASSERT_NO_FATAL_FAILURE(open_segmented(c, old_log, bases));
    int64_t offset = old_log->next_offset() + 7;  // a snapshot beyond the log
    auto fresh = PartitionLog::open_empty_at(fs, dir, c, nullptr, offset, 0);
    ASSERT_TRUE(fresh) << fresh.error().detail;
    EXPECT_EQ((*fresh)->start_offset(), offset);
    EXPECT_EQ((*fresh)->next_offset(), offset);
    EXPECT_EQ(segment_bases(), std::vector<int64_t>{offset});
    expect_matches_model(*old_log);  // still read through its open files

    model.clear();
    ASSERT_NO_FATAL_FAILURE(append(**fresh, make_batch(offset, 3)));
    ASSERT_TRUE(sync_inline(**fresh));
    old_log.reset();
    fresh->reset();
    fs.crash();
    auto reopened = open(c);
    ASSERT_TRUE(reopened);
    EXPECT_EQ(reopened->start_offset(), offset);
    EXPECT_EQ(reopened->next_offset(), offset + 3);
    EXPECT_EQ(segment_bases(), std::vector<int64_t>{offset});
    expect_matches_model(*reopened);
}

// ---------------------------------------------------------------------------
// Retention

TEST_F(PartitionLogTest, RetentionBySize) {
    LogConfig c = config();
    c.segment_bytes = 500;
    c.retention_ms = -1;
    c.retention_bytes = 1200;
    auto log = open(c);
    ASSERT_TRUE(log);
    ASSERT_NO_FATAL_FAILURE(append_many(*log, 40, 2, 40));
    std::vector<int64_t> bases = segment_bases();
    ASSERT_GE(bases.size(), 6u);
    std::vector<uint64_t> sizes;
    for (int64_t base : bases) sizes.push_back(file_size(fs, log_path(base)));
    // Drop the oldest segment while the rest still holds retention_bytes.
    uint64_t total = log->size_bytes();
    size_t want_removed = 0;
    while (want_removed + 1 < bases.size() &&
           total - sizes[want_removed] >= static_cast<uint64_t>(c.retention_bytes)) {
        total -= sizes[want_removed++];
    }
    ASSERT_GT(want_removed, 0u);
    auto removed = enforce_retention(*log, 0);
    ASSERT_TRUE(removed);
    EXPECT_EQ(*removed, want_removed);
    EXPECT_EQ(log->start_offset(), bases[want_removed]);
    EXPECT_EQ(segment_bases(),
              std::vector<int64_t>(bases.begin() + static_cast<long>(want_removed), bases.end()));
    EXPECT_GE(log->size_bytes(), static_cast<uint64_t>(c.retention_bytes));
    EXPECT_LT(log->size_bytes() - sizes[want_removed], static_cast<uint64_t>(c.retention_bytes));
    expect_matches_model(*log);
    // Idempotent.
    EXPECT_EQ(*enforce_retention(*log, 0), 0u);
    log.reset();
    log = open(c);
    ASSERT_TRUE(log);
    EXPECT_EQ(log->start_offset(), bases[want_removed]);
    expect_matches_model(*log);
}

TEST_F(PartitionLogTest, RetentionBySizeNeverDeletesTheActiveSegment) {
    LogConfig c = config();
    c.segment_bytes = 500;
    c.retention_ms = -1;
    c.retention_bytes = 0;
    auto log = open(c);
    ASSERT_TRUE(log);
    ASSERT_NO_FATAL_FAILURE(append_many(*log, 30, 2, 40));
    std::vector<int64_t> bases = segment_bases();
    ASSERT_GE(bases.size(), 3u);
    int64_t next = log->next_offset();
    auto removed = enforce_retention(*log, 0);
    ASSERT_TRUE(removed);
    EXPECT_EQ(*removed, bases.size() - 1);
    EXPECT_EQ(segment_bases(), (std::vector<int64_t>{bases.back()}));
    EXPECT_EQ(log->start_offset(), bases.back());
    EXPECT_EQ(log->next_offset(), next);
    expect_matches_model(*log);
    ASSERT_NO_FATAL_FAILURE(append(*log, make_batch(next)));
}

TEST_F(PartitionLogTest, RetentionByTime) {
    LogConfig c = config();
    c.segment_bytes = 400;
    c.retention_ms = 1000;
    auto log = open(c);
    ASSERT_TRUE(log);
    // Timestamps 0, 100, 200, ...: each segment's max timestamp is its last batch's.
    for (int i = 0; i < 30; ++i) {
        int64_t ts = i * 100;
        ASSERT_NO_FATAL_FAILURE(append(*log, make_batch(log->next_offset(), 1, 60, ts), ts));
    }
    std::vector<int64_t> bases = segment_bases();
    ASSERT_GE(bases.size(), 4u);
    auto max_ts = [&](size_t i) {
        int64_t end = i + 1 < bases.size() ? bases[i + 1] : log->next_offset();
        return (end - 1) * 100;  // one record per batch, offset i has timestamp i*100
    };
    // Nothing is older than 1000 ms at the time of the last append.
    EXPECT_EQ(*enforce_retention(*log, max_ts(0) + 1000), 0u);
    // Now the first two segments are.
    int64_t now = max_ts(1) + 1001;
    size_t want = 0;
    while (want + 1 < bases.size() && max_ts(want) < now - 1000) ++want;
    ASSERT_GE(want, 2u);
    auto removed = enforce_retention(*log, now);
    ASSERT_TRUE(removed);
    EXPECT_EQ(*removed, want);
    EXPECT_EQ(log->start_offset(), bases[want]);
    expect_matches_model(*log);
    // Far in the future everything is old, but the active segment stays.
    removed = enforce_retention(*log, 1'000'000'000);
    ASSERT_TRUE(removed);
    EXPECT_EQ(segment_bases(), (std::vector<int64_t>{bases.back()}));
    EXPECT_EQ(log->start_offset(), bases.back());
    expect_matches_model(*log);
}

TEST_F(PartitionLogTest, NoRetentionLimits) {
    LogConfig c = config();
    c.segment_bytes = 400;
    c.retention_ms = -1;
    c.retention_bytes = -1;
    auto log = open(c);
    ASSERT_TRUE(log);
    ASSERT_NO_FATAL_FAILURE(append_many(*log, 20, 1, 60, 0));
    EXPECT_EQ(*enforce_retention(*log, INT64_MAX / 2), 0u);
    EXPECT_EQ(log->start_offset(), 0);
}

// ---------------------------------------------------------------------------
// Reads

TEST_F(PartitionLogTest, ReadWithUnboundedMaxBytesAfterReopen) {
    // max_bytes = SIZE_MAX means "as much as there is"; after a reopen the sealed
    // segments are verified lazily, so part of the range is unverified.
    LogConfig c = config();
    uint64_t first_ten = 0;
    c.segment_bytes = 0;  // 20 batches in a sealed segment, then one more
    for (int64_t i = 0; i < 20; ++i) {
        c.segment_bytes += make_batch(i, 1, 30).size();
        if (i == 9) first_ten = c.segment_bytes;
    }
    auto log = open(c);
    ASSERT_TRUE(log);
    ASSERT_NO_FATAL_FAILURE(append_many(*log, 21, 1, 30));
    ASSERT_EQ(segment_bases(), (std::vector<int64_t>{0, 20}));
    log.reset();
    log = open(c);
    ASSERT_TRUE(log);
    // Verify the first half by reading it.
    std::vector<StoredBatch> first;
    ASSERT_TRUE(read_checked(*log, 0, first_ten, first));
    ASSERT_EQ(first.size(), 10u);
    // Then everything from offset 5 on in one slice.
    std::vector<StoredBatch> got;
    ASSERT_TRUE(read_checked(*log, 5, SIZE_MAX, got));
    ASSERT_EQ(got.size(), 15u);
    for (const StoredBatch& b : got) EXPECT_EQ(b.bytes, model[b.base]) << b.base;
}

}  // namespace
}  // namespace fjord::storage::testing
