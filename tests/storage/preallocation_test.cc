// Preallocated segment files (LogConfig::preallocate_bytes): the active
// segment's file is reserved ahead of its data, sealing and reopening cut the
// reserve off quietly, and crashes keep what was synced. On the simulated
// disk and on real files.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include "log_fixture.h"
#include "storage/posix_file_system.h"
#include "temp_dir.h"

namespace fjord::storage::testing {
namespace {

class PreallocationTest : public LogTest {
  protected:
    LogConfig preallocating(uint64_t chunk, uint64_t segment_bytes = 1 << 20) {
        LogConfig c = config();
        c.preallocate_bytes = chunk;
        c.segment_bytes = segment_bytes;
        return c;
    }
};

TEST_F(PreallocationTest, TheActiveSegmentIsReservedAheadAndSealingCutsIt) {
    LogConfig c = preallocating(4096, 3000);  // reserves min(chunk, segment) = 3000 bytes
    auto log = open(c);
    ASSERT_TRUE(log);
    ASSERT_NO_FATAL_FAILURE(append(*log, make_batch(0, 1, 40)));
    EXPECT_EQ(file_size(fs, log_path(0)), 3000u);  // a fresh handle sees the file as the OS has it
    EXPECT_LT(log->size_bytes(), 3000u);
    while (segment_bases().size() < 3)
        ASSERT_NO_FATAL_FAILURE(append(*log, make_batch(log->next_offset(), 1, 40)));
    std::vector<int64_t> bases = segment_bases();
    uint64_t sealed = file_size(fs, log_path(bases[0])) + file_size(fs, log_path(bases[1]));
    EXPECT_LE(file_size(fs, log_path(bases[0])), 3000u);
    EXPECT_EQ(file_size(fs, log_path(bases[2])), 3000u);
    ASSERT_TRUE(sync_inline(*log));
    // The sealed files hold exactly their batches.
    std::vector<StoredBatch> all;
    ASSERT_TRUE(read_all(*log, all, 1 << 20));
    uint64_t in_sealed = 0;
    for (const StoredBatch& b : all) {
        if (b.base < bases[2]) in_sealed += b.bytes.size();
    }
    EXPECT_EQ(sealed, in_sealed);
    expect_matches_model(*log);
}

TEST_F(PreallocationTest, ReopeningCutsTheReserveWithoutComplaint) {
    LogConfig c = preallocating(8192);
    auto log = open(c);
    ASSERT_TRUE(log);
    ASSERT_NO_FATAL_FAILURE(append_many(*log, 5, 2, 30));
    ASSERT_TRUE(sync_inline(*log));
    uint64_t data = log->size_bytes();
    EXPECT_EQ(file_size(fs, log_path(0)), 8192u);
    log.reset();  // a clean stop: the reserve is still on disk
    log = open(c);
    ASSERT_TRUE(log);
    EXPECT_TRUE(lines.lines().empty()) << lines.dump();
    EXPECT_EQ(log->size_bytes(), data);
    expect_matches_model(*log);
    // It appends where the data ended, reserving again.
    ASSERT_NO_FATAL_FAILURE(append(*log, make_batch(log->next_offset(), 1, 20)));
    EXPECT_EQ(file_size(fs, log_path(0)), data + 8192u);
    ASSERT_TRUE(sync_inline(*log));
    log.reset();
    fs.crash();
    log = open(c);
    ASSERT_TRUE(log);
    EXPECT_TRUE(lines.lines().empty()) << lines.dump();
    expect_matches_model(*log);
}

TEST_F(PreallocationTest, ACrashKeepsWhatWasSynced) {
    LogConfig c = preallocating(4096);
    int kept_more = 0;
    for (uint64_t seed = 1; seed <= 100; ++seed) {
        SimFileSystem disk(seed);
        auto opened = PartitionLog::open(disk, dir, c, nullptr, 0);
        ASSERT_TRUE(opened);
        PartitionLog& log = **opened;
        std::vector<std::string> batches;
        for (int i = 0; i < 6; ++i) {
            batches.push_back(make_batch(log.next_offset(), 2, 50, 1000, seed));
            ASSERT_TRUE(log.append(batches.back(), 0));
        }
        ASSERT_TRUE(sync_inline(log));
        int64_t synced = log.next_offset();
        for (int i = 0; i < 6; ++i) {
            batches.push_back(make_batch(log.next_offset(), 2, 50, 1000, seed));
            ASSERT_TRUE(log.append(batches.back(), 0));
        }
        opened->reset();
        disk.crash(/*tear=*/true);
        auto again = PartitionLog::open(disk, dir, c, nullptr, 0);
        ASSERT_TRUE(again) << again.error().detail;
        ASSERT_GE((*again)->next_offset(), synced) << "seed " << seed;
        kept_more += (*again)->next_offset() > synced;
        std::vector<StoredBatch> got;
        ASSERT_TRUE(read_all(**again, got, 1 << 20));
        ASSERT_LE(got.size(), batches.size());
        for (size_t i = 0; i < got.size(); ++i) EXPECT_EQ(got[i].bytes, batches[i]) << "seed " << seed;
    }
    EXPECT_GT(kept_more, 0);  // some crashes kept unsynced appends written into the reserve
}

uint64_t size_on_disk(const std::string& path) {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0 ? static_cast<uint64_t>(st.st_size) : 0;
}

TEST(PosixPreallocation, RealFilesAreReservedAheadAndCutOnReopen) {
    TempDir tmp;
    ASSERT_FALSE(tmp.path().empty());
    PosixFileSystem fs;
    LogLines lines;
    LogConfig c;
    c.log = lines.logger();
    c.preallocate_bytes = 1 << 20;
    const std::string dir = tmp.path() + "/orders-0";
    const std::string file = join_path(dir, segment_file_name(0, ".log"));
    std::vector<std::string> batches;
    uint64_t data = 0;
    {
        auto log = PartitionLog::open(fs, dir, c, nullptr, 0);
        ASSERT_TRUE(log) << log.error().detail;
        for (int i = 0; i < 10; ++i) {
            batches.push_back(make_batch((*log)->next_offset(), 3, 100));
            ASSERT_TRUE((*log)->append(batches.back(), 0));
        }
        ASSERT_TRUE(sync_inline(**log));
        data = (*log)->size_bytes();
        EXPECT_EQ(size_on_disk(file), 1u << 20);
    }
    auto log = PartitionLog::open(fs, dir, c, nullptr, 0);
    ASSERT_TRUE(log) << log.error().detail;
    EXPECT_TRUE(lines.lines().empty()) << lines.dump();
    EXPECT_EQ(size_on_disk(file), data);
    std::vector<StoredBatch> got;
    ASSERT_TRUE(read_all(**log, got, 1 << 20));
    ASSERT_EQ(got.size(), batches.size());
    for (size_t i = 0; i < got.size(); ++i) EXPECT_EQ(got[i].bytes, batches[i]);
}

}  // namespace
}  // namespace fjord::storage::testing
