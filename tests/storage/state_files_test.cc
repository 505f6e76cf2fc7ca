#include "storage/state_files.h"

#include <gtest/gtest.h>

#include "storage/sim_file_system.h"

namespace fjord::storage {
namespace {

class StateFilesTest : public ::testing::Test {
  protected:
    void SetUp() override { ASSERT_TRUE(fs.create_dirs(dir)); }
    SimFileSystem fs{7};
    std::string dir = "/data/topic-0";
};

TEST_F(StateFilesTest, HardStateRoundTripsAndSurvivesCrash) {
    auto missing = load_hard_state(fs, dir);
    ASSERT_TRUE(missing);
    EXPECT_FALSE(missing->has_value());

    ASSERT_TRUE(save_hard_state(fs, dir, {5, 2, 40}));
    ASSERT_TRUE(save_hard_state(fs, dir, {6, 3, 41}));
    fs.crash();
    auto loaded = load_hard_state(fs, dir);
    ASSERT_TRUE(loaded);
    ASSERT_TRUE(loaded->has_value());
    EXPECT_EQ(**loaded, (HardStateRecord{6, 3, 41}));
}

TEST_F(StateFilesTest, InterruptedReplacementLeavesTheOldVersion) {
    ASSERT_TRUE(save_hard_state(fs, dir, {1, 1, 1}));
    // A replacement that died before its rename: only the temp file exists.
    auto tmp = fs.open(dir + "/raft-hard-state.tmp", true);
    ASSERT_TRUE(tmp);
    ASSERT_TRUE((*tmp)->append("half a file"));
    fs.crash();
    auto loaded = load_hard_state(fs, dir);
    ASSERT_TRUE(loaded);
    ASSERT_TRUE(loaded->has_value());
    EXPECT_EQ(**loaded, (HardStateRecord{1, 1, 1}));
    // The next save replaces the stale temp file.
    ASSERT_TRUE(save_hard_state(fs, dir, {2, 2, 2}));
    EXPECT_EQ(**load_hard_state(fs, dir), (HardStateRecord{2, 2, 2}));
}

TEST_F(StateFilesTest, DamageIsReportedNotRead) {
    ASSERT_TRUE(save_hard_state(fs, dir, {9, 1, 100}));
    for (uint64_t at = 0; at < 36; ++at) {
        fs.corrupt(dir + "/raft-hard-state", at);
        auto loaded = load_hard_state(fs, dir);
        ASSERT_FALSE(loaded) << "byte " << at;
        EXPECT_EQ(loaded.error().code, StorageErrc::corrupt);
        EXPECT_NE(loaded.error().detail.find("raft-hard-state"), std::string::npos);
        fs.corrupt(dir + "/raft-hard-state", at);  // flips the byte back
    }
    EXPECT_EQ(**load_hard_state(fs, dir), (HardStateRecord{9, 1, 100}));
}

TEST_F(StateFilesTest, SnapshotRoundTripsWithBinaryData) {
    SnapshotRecord snap{1234, 7, std::string("\0\1meta", 6), std::string(100000, '\xff')};
    ASSERT_TRUE(save_snapshot(fs, dir, snap));
    fs.crash();
    auto loaded = load_snapshot(fs, dir);
    ASSERT_TRUE(loaded);
    ASSERT_TRUE(loaded->has_value());
    EXPECT_EQ((*loaded)->index, 1234u);
    EXPECT_EQ((*loaded)->term, 7u);
    EXPECT_EQ((*loaded)->metadata, snap.metadata);
    EXPECT_EQ((*loaded)->data, snap.data);
}

TEST_F(StateFilesTest, TruncatedSnapshotIsCorrupt) {
    ASSERT_TRUE(save_snapshot(fs, dir, {1, 1, "m", "data"}));
    auto f = fs.open(dir + "/raft-snapshot", false);
    ASSERT_TRUE(f);
    ASSERT_TRUE((*f)->truncate((*f)->size() - 3));
    auto loaded = load_snapshot(fs, dir);
    ASSERT_FALSE(loaded);
    EXPECT_EQ(loaded.error().code, StorageErrc::corrupt);
}

// A snapshot in steps (its fsync off the loop): a crash before the commit,
// synced or not, leaves the snapshot that was there; after it, the new one.
TEST_F(StateFilesTest, AStagedSnapshotReplacesTheOldOneOnlyOnceCommitted) {
    ASSERT_TRUE(save_snapshot(fs, dir, {10, 1, "m", "old"}));
    for (bool synced : {false, true}) {
        auto staged = stage_snapshot(fs, dir, 20, 2, "m", "new");
        ASSERT_TRUE(staged);
        if (synced) {
            ASSERT_TRUE((*staged)->sync());
        }
        EXPECT_EQ((*load_snapshot(fs, dir))->index, 10u) << "a staged snapshot is not the snapshot yet";
        fs.crash();
        auto loaded = load_snapshot(fs, dir);
        ASSERT_TRUE(loaded && loaded->has_value());
        EXPECT_EQ((*loaded)->data, "old") << (synced ? "synced" : "unsynced") << " staged snapshot, crash";
    }
    auto staged = stage_snapshot(fs, dir, 20, 2, "m", "new");
    ASSERT_TRUE(staged);
    ASSERT_TRUE((*staged)->sync());
    ASSERT_TRUE(commit_snapshot(fs, dir));
    fs.crash();
    auto loaded = load_snapshot(fs, dir);
    ASSERT_TRUE(loaded && loaded->has_value());
    EXPECT_EQ((*loaded)->index, 20u);
    EXPECT_EQ((*loaded)->term, 2u);
    EXPECT_EQ((*loaded)->metadata, "m");
    EXPECT_EQ((*loaded)->data, "new");
}

}  // namespace
}  // namespace fjord::storage
