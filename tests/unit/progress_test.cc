// Inflights and Progress: the leader's per-follower replication state.
#include "raft/progress.h"

#include <gtest/gtest.h>

#include "raft_test_cluster.h"

namespace fjord::raft::test {
namespace {

TEST(InflightsTest, FullByCount) {
    Inflights in(3, 1 << 20);
    in.add(idx(3), 10);
    in.add(idx(4), 10);
    EXPECT_FALSE(in.full());
    in.add(idx(9), 10);
    EXPECT_TRUE(in.full());
    EXPECT_EQ(in.count(), 3u);
    in.free_up_to(idx(3));
    EXPECT_FALSE(in.full());
    EXPECT_EQ(in.count(), 2u);
}

TEST(InflightsTest, FullByBytes) {
    Inflights in(100, 10);
    in.add(idx(2), 6);
    EXPECT_FALSE(in.full());
    in.add(idx(5), 4);
    EXPECT_TRUE(in.full());
    EXPECT_EQ(in.count(), 2u);
    in.free_first();
    EXPECT_FALSE(in.full());
    in.add(idx(7), 100);  // one oversized append alone fills the window
    EXPECT_TRUE(in.full());
    in.reset();
    EXPECT_EQ(in.count(), 0u);
    EXPECT_FALSE(in.full());
}

TEST(InflightsTest, FreeUpToWithNonContiguousIndices) {
    Inflights in(10, 1000);
    in.add(idx(3), 1);
    in.add(idx(8), 1);
    in.add(idx(12), 1);
    in.free_up_to(idx(2));
    EXPECT_EQ(in.count(), 3u);
    in.free_up_to(idx(10));  // frees 3 and 8, not 12
    EXPECT_EQ(in.count(), 1u);
    in.free_up_to(idx(11));
    EXPECT_EQ(in.count(), 1u);
    in.free_up_to(idx(12));
    EXPECT_EQ(in.count(), 0u);
    in.free_first();  // harmless when empty
    EXPECT_EQ(in.count(), 0u);
    // Bytes were released along with the entries.
    Inflights b(10, 5);
    b.add(idx(1), 5);
    EXPECT_TRUE(b.full());
    b.free_up_to(idx(1));
    EXPECT_FALSE(b.full());
}

TEST(ProgressTest, ProbePausesAfterOneAppend) {
    Progress pr(4, 1 << 20);
    EXPECT_EQ(pr.state, ProgressState::probe);
    EXPECT_FALSE(pr.paused());
    pr.probe_sent = true;
    EXPECT_TRUE(pr.paused());
    // An acknowledgement that is news unpauses and moves `sent` up.
    EXPECT_TRUE(pr.update_match(idx(5)));
    EXPECT_FALSE(pr.paused());
    EXPECT_EQ(pr.match, idx(5));
    EXPECT_EQ(pr.sent, idx(5));
    pr.probe_sent = true;
    EXPECT_FALSE(pr.update_match(idx(5)));
    EXPECT_FALSE(pr.update_match(idx(3)));
    EXPECT_EQ(pr.match, idx(5));
    EXPECT_TRUE(pr.paused());
}

TEST(ProgressTest, ReplicatePausesWhenWindowFull) {
    Progress pr(2, 1 << 20);
    pr.update_match(idx(4));
    pr.sent = idx(9);
    pr.become_replicate();
    EXPECT_EQ(pr.state, ProgressState::replicate);
    EXPECT_EQ(pr.sent, idx(4));  // resumes from the known match
    EXPECT_FALSE(pr.paused());
    pr.inflights.add(idx(6), 1);
    pr.inflights.add(idx(9), 1);
    EXPECT_TRUE(pr.paused());
    // update_match does not move `sent` backwards.
    pr.sent = idx(9);
    EXPECT_TRUE(pr.update_match(idx(6)));
    EXPECT_EQ(pr.sent, idx(9));
    pr.inflights.free_up_to(pr.match);
    EXPECT_FALSE(pr.paused());
}

TEST(ProgressTest, SnapshotStateAndBackToProbe) {
    Progress pr(4, 1 << 20);
    pr.update_match(idx(2));
    pr.inflights.add(idx(3), 1);
    auto snap = std::make_shared<Snapshot>(Snapshot{SnapshotMeta{idx(20), trm(2), voters_of({1})}, "x"});
    pr.become_snapshot(snap);
    EXPECT_EQ(pr.state, ProgressState::snapshot);
    EXPECT_TRUE(pr.paused());
    EXPECT_EQ(pr.inflights.count(), 0u);
    EXPECT_EQ(pr.snapshot_offset, 0u);
    EXPECT_EQ(pr.snapshot, snap);
    // Falling back to probe after a snapshot: the follower holds at least the snapshot point.
    pr.become_probe();
    EXPECT_EQ(pr.state, ProgressState::probe);
    EXPECT_EQ(pr.sent, idx(20));
    EXPECT_EQ(pr.snapshot, nullptr);
    EXPECT_FALSE(pr.paused());
    // Otherwise probing restarts at the match.
    pr.become_replicate();
    pr.sent = idx(30);
    pr.become_probe();
    EXPECT_EQ(pr.sent, idx(2));
}

}  // namespace
}  // namespace fjord::raft::test
