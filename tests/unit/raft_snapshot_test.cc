// InstallSnapshot in chunks to a follower that needs compacted entries.
#include <gtest/gtest.h>

#include <algorithm>

#include "raft_test_cluster.h"

namespace fjord::raft::test {
namespace {

// Node 1 leads; node 3 misses an entry, then node 1 compacts its log into a
// snapshot holding `image`, so node 3 (restarted) can only catch up from it.
// Returns the snapshot's index (0 on failure).
Index leave_follower_3_behind_a_snapshot(Cluster& c, const std::string& image) {
    if (!c.elect(1)) return Index{};
    c.crash(3);
    if (!c.propose(1, "x", 2)) return Index{};
    c.deliver_all();
    Index at = c.node(1).commit_index();
    c.storage(1).compact(
        Snapshot{SnapshotMeta{at, *c.node(1).log().term_at(at), c.node(1).membership()}, image});
    c.restart(3);
    return at;
}

TEST(SnapshotTest, LaggingFollowerGetsChunkedSnapshotThenLaterEntries) {
    const std::string image = "0123456789abcdefghijklmnopq";  // 27 bytes: 7 chunks of 4
    Cluster c(3, 0, [](Config& cfg) { cfg.snapshot_chunk_bytes = 4; });
    ASSERT_TRUE(c.elect(1));
    ASSERT_TRUE(c.propose(1, "early", 2));
    c.deliver_all();
    Index follower_had = c.storage(3).last_index();
    ASSERT_EQ(follower_had, idx(3));
    c.crash(3);
    for (int i = 0; i < 6; ++i)
        ASSERT_TRUE(c.propose(1, "mid-" + std::to_string(i), static_cast<uint32_t>(i + 1)));
    c.deliver_all();
    // The application snapshots at its applied index; the leader compacts its log.
    Index at = c.peer(1).applied_index;
    ASSERT_EQ(at, c.node(1).commit_index());
    ASSERT_GT(at, follower_had);
    Term at_term = *c.node(1).log().term_at(at);
    c.storage(1).compact(Snapshot{SnapshotMeta{at, at_term, c.node(1).membership()}, image});
    // More entries after the snapshot point.
    ASSERT_TRUE(c.propose(1, "late-1", 3));
    ASSERT_TRUE(c.propose(1, "late-2", 1));
    c.deliver_all();
    Index last = c.node(1).last_index();

    c.restart(3);
    c.tick_all(5);

    size_t chunks = c.count_delivered(MessageType::snapshot, 1, 3);
    EXPECT_EQ(chunks, 7u);
    std::vector<uint64_t> offsets;
    for (const Message& m : c.delivered) {
        if (m.type == MessageType::snapshot && m.to == nid(3)) offsets.push_back(m.chunk_offset);
    }
    EXPECT_EQ(offsets, (std::vector<uint64_t>{0, 4, 8, 12, 16, 20, 24}));

    // The follower's storage: the snapshot, then the same tail as the leader.
    EXPECT_EQ(c.storage(3).snapshot_meta(), c.storage(1).snapshot_meta());
    ASSERT_NE(c.storage(3).snapshot(), nullptr);
    EXPECT_EQ(c.storage(3).snapshot()->data, image);
    EXPECT_EQ(c.storage(3).all_entries(), c.storage(1).all_entries());
    ASSERT_FALSE(c.storage(3).all_entries().empty());
    EXPECT_GT(c.storage(3).all_entries().front().index, at);
    EXPECT_EQ(c.node(3).last_index(), last);
    EXPECT_EQ(c.node(3).commit_index(), last);
    // Its state machine: the image, then the entries after it.
    ASSERT_NE(c.peer(3).applied_snapshot, nullptr);
    EXPECT_EQ(c.peer(3).applied_snapshot->data, image);
    EXPECT_EQ(c.peer(3).applied_index, last);
    std::vector<Entry> after = c.applied_after(3, at);
    ASSERT_EQ(after.size(), 2u);
    EXPECT_EQ(after[0].data, "late-1");
    EXPECT_EQ(after[1].data, "late-2");
    EXPECT_EQ(c.node(3).applied_index(), last);
    for (const FollowerStatus& f : c.node(1).followers()) {
        EXPECT_EQ(f.match, last) << f.id.value;
        EXPECT_EQ(f.state, ProgressState::replicate) << f.id.value;
    }
    // Replication continues normally afterwards.
    ASSERT_TRUE(c.propose(1, "after", 2));
    c.deliver_all();
    EXPECT_EQ(c.peer(3).applied.back().data, "after");
}

TEST(SnapshotTest, LostChunkIsResentAfterHeartbeat) {
    const std::string image = "abcdefghijkl";  // 3 chunks of 4
    Cluster c(3, 0, [](Config& cfg) { cfg.snapshot_chunk_bytes = 4; });
    Index at = leave_follower_3_behind_a_snapshot(c, image);
    ASSERT_NE(at, Index{});
    // Drop the second chunk once.
    bool dropped = false;
    c.filter = [&dropped](const Message& m) {
        if (m.type == MessageType::snapshot && m.chunk_offset == 4 && !dropped) {
            dropped = true;
            return true;
        }
        return false;
    };
    // A chunk is resent once it has been outstanding for half an election timeout.
    c.tick_all(10);
    EXPECT_TRUE(dropped);
    EXPECT_EQ(c.storage(3).snapshot_meta().index, at);
    ASSERT_NE(c.storage(3).snapshot(), nullptr);
    EXPECT_EQ(c.storage(3).snapshot()->data, image);
    EXPECT_EQ(c.node(3).commit_index(), at);
    c.filter = nullptr;
}

TEST(SnapshotTest, SnapshotChunkAtOrBelowCommitIsAcknowledgedWithoutRestore) {
    SoloNode n(2, voters_of({1, 2, 3}));
    Message m;
    m.type = MessageType::snapshot;
    m.from = nid(1);
    m.to = nid(2);
    m.term = trm(1);
    m.log_index = idx(0);
    m.log_term = trm(0);
    m.chunk = "zz";
    m.chunk_last = true;
    n.node->step(m);
    Ready rd = n.ready();
    EXPECT_EQ(rd.snapshot, nullptr);
    ASSERT_EQ(rd.persisted_messages.size(), 1u);
    EXPECT_EQ(rd.persisted_messages[0].type, MessageType::append_resp);
    EXPECT_EQ(rd.persisted_messages[0].log_index, idx(0));
}

// A follower that already holds the snapshot's entry (same index and term)
// keeps its log: installing the snapshot would discard entries after it that
// it may have acknowledged.
TEST(SnapshotTest, ChunkForAnEntryWeHoldDoesNotDiscardLaterEntries) {
    SoloNode n(2, voters_of({1, 2, 3}));
    Message app;
    app.type = MessageType::append;
    app.from = nid(1);
    app.to = nid(2);
    app.term = trm(1);
    app.log_index = idx(0);
    app.log_term = trm(0);
    app.entries = {make_entry(1, 1, 1, "", EntryType::noop), make_entry(4, 1, 3, "a"),
                   make_entry(6, 1, 2, "b")};
    app.commit = idx(1);
    n.node->step(app);
    n.ready();
    ASSERT_EQ(n.node->last_index(), idx(6));
    ASSERT_EQ(n.node->commit_index(), idx(1));
    Message snap;
    snap.type = MessageType::snapshot;
    snap.from = nid(1);
    snap.to = nid(2);
    snap.term = trm(1);
    snap.log_index = idx(4);
    snap.log_term = trm(1);
    snap.snapshot_membership = voters_of({1, 2, 3});
    snap.chunk = "image";
    snap.chunk_last = true;
    n.node->step(snap);
    Ready rd = n.ready();
    EXPECT_EQ(rd.snapshot, nullptr);
    EXPECT_EQ(n.node->last_index(), idx(6)) << "entry 6, already acknowledged, was dropped";
    EXPECT_EQ(n.storage->all_entries().size(), 3u);
    EXPECT_EQ(n.node->commit_index(), idx(4));
    ASSERT_EQ(rd.persisted_messages.size(), 1u);
    EXPECT_EQ(rd.persisted_messages[0].type, MessageType::append_resp);
    EXPECT_FALSE(rd.persisted_messages[0].reject);
    EXPECT_EQ(rd.persisted_messages[0].log_index, idx(4));
}

// The follower's divergent tail reaches past the leader's snapshot point, with
// an entry of an older term exactly there: backtracking must end in a
// snapshot, not probe the snapshot point forever.
TEST(SnapshotTest, DivergentFollowerBeyondLeaderSnapshotGetsSnapshot) {
    Cluster c(3);
    ASSERT_TRUE(c.elect(1));
    ASSERT_TRUE(c.propose(1, "base", 1));
    c.deliver_all();
    c.isolate(1);
    for (int i = 0; i < 40; ++i) ASSERT_TRUE(c.propose(1, "old", 1));  // 3..42 in term 1
    c.deliver_all();
    ASSERT_TRUE(c.elect(2));                                           // no-op at 3 in term 2
    for (int i = 0; i < 30; ++i) ASSERT_TRUE(c.propose(2, "new", 1));  // 4..33
    c.deliver_all();
    ASSERT_TRUE(c.elect(3));  // its probes to 1 start at 33
    Index at = idx(30);
    ASSERT_GE(c.peer(3).applied_index, at);
    c.storage(3).compact(
        Snapshot{SnapshotMeta{at, *c.node(3).log().term_at(at), c.node(3).membership()}, "img"});
    c.heal();
    c.tick_all(5);
    EXPECT_EQ(c.leader(), 3u);
    EXPECT_GE(c.count_delivered(MessageType::snapshot, 3, 1), 1u);
    EXPECT_LE(c.count_delivered(MessageType::append_resp, 1, 3, true), 3u);
    EXPECT_EQ(c.storage(1).snapshot_meta().index, at);
    EXPECT_EQ(c.storage(1).all_entries(), c.storage(3).all_entries());
    EXPECT_EQ(c.node(1).commit_index(), c.node(3).commit_index());
}

// Stop-and-wait: a snapshot of many chunks costs about one message per chunk.
// Every message here takes a tick to arrive, so heartbeat answers keep coming
// while a chunk is in flight; resending on each of them would start a new
// chain of chunks every tick and the traffic would grow quadratically.
TEST(SnapshotTest, ChunkCountStaysLinear) {
    const std::string image(400, 'i');  // 100 chunks of 4
    Cluster c(3, 0, [](Config& cfg) { cfg.snapshot_chunk_bytes = 4; });
    Index at = leave_follower_3_behind_a_snapshot(c, image);
    ASSERT_NE(at, Index{});
    c.delivered.clear();
    auto installed = [&] { return c.storage(3).snapshot()->data == image; };
    for (int round = 0; round < 1000 && !installed(); ++round) {
        for (uint64_t id : c.ids()) c.node(id).tick();
        c.process_readies();
        c.deliver_queued();
    }
    ASSERT_TRUE(installed());
    EXPECT_LE(c.count_delivered(MessageType::snapshot, 1, 3), 130u);
}

}  // namespace
}  // namespace fjord::raft::test
