// Linearizable reads: ReadIndex and lease reads.
#include <gtest/gtest.h>

#include <algorithm>

#include "raft_test_cluster.h"

namespace fjord::raft::test {
namespace {

const ReadState* find_read(const TestNode& tn, uint64_t context) {
    auto it = std::find_if(tn.read_states.begin(), tn.read_states.end(),
                           [&](const ReadState& r) { return r.context == context; });
    return it == tn.read_states.end() ? nullptr : &*it;
}

size_t count_emitted(const Cluster& c, size_t from_pos, MessageType type) {
    return static_cast<size_t>(std::count_if(c.emitted.begin() + static_cast<std::ptrdiff_t>(from_pos),
                                             c.emitted.end(),
                                             [&](const Message& m) { return m.type == type; }));
}

TEST(ReadTest, NewLeaderAnswersReadOnlyAfterItsNoopCommits) {
    for (Mutation mutation : {Mutation::none, Mutation::read_before_noop_commit}) {
        for (ReadMode mode : {ReadMode::read_index, ReadMode::lease}) {
            SCOPED_TRACE(testing::Message()
                         << "mutation " << static_cast<int>(mutation) << " mode " << static_cast<int>(mode));
            Cluster c(3, 0, [mutation](Config& cfg) { cfg.mutation = mutation; });
            ASSERT_TRUE(c.elect(1));
            ASSERT_TRUE(c.propose(1, "a", 2));
            c.deliver_all();
            ASSERT_EQ(c.node(2).commit_index(), idx(3));
            // 2 takes over, but its no-op does not get out yet.
            c.filter = [](const Message& m) { return m.from == nid(2) && m.type == MessageType::append; };
            ASSERT_TRUE(c.elect(2));
            c.tick_all(2);
            Index noop = c.node(2).last_index();
            ASSERT_EQ(noop, idx(4));
            ASSERT_EQ(c.node(2).commit_index(), idx(3));
            ASSERT_TRUE(c.node(2).read_index(42, mode));
            c.tick_all(3);  // heartbeats flow; appends do not
            const ReadState* early = find_read(c.peer(2), 42);
            if (mutation == Mutation::none) {
                EXPECT_EQ(early, nullptr) << "read answered before the leader's no-op committed";
            } else {
                ASSERT_NE(early, nullptr) << "the mutation should answer the read early";
                EXPECT_LT(early->index, noop);
                continue;
            }
            c.filter = nullptr;
            c.tick_all(1);
            EXPECT_EQ(c.node(2).commit_index(), noop);
            const ReadState* late = find_read(c.peer(2), 42);
            ASSERT_NE(late, nullptr);
            EXPECT_GE(late->index, noop);
        }
    }
}

TEST(ReadTest, LeaderReadIndexNeedsAHeartbeatRound) {
    Cluster c(3);
    ASSERT_TRUE(c.elect(1));
    ASSERT_TRUE(c.propose(1, "a", 5));
    c.deliver_all();
    ASSERT_TRUE(c.node(1).read_index(5));
    ASSERT_TRUE(c.node(1).read_index(6));
    size_t before = c.emitted.size();
    c.process_readies();
    EXPECT_EQ(find_read(c.peer(1), 5), nullptr);
    // Both reads share one round: one heartbeat per follower.
    EXPECT_EQ(count_emitted(c, before, MessageType::heartbeat), 2u);
    c.deliver_all();
    const ReadState* r5 = find_read(c.peer(1), 5);
    const ReadState* r6 = find_read(c.peer(1), 6);
    ASSERT_NE(r5, nullptr);
    ASSERT_NE(r6, nullptr);
    EXPECT_EQ(r5->index, idx(6));
    EXPECT_EQ(r6->index, idx(6));
    // Cut off from the quorum, a leader cannot confirm a read.
    c.isolate(1);
    ASSERT_TRUE(c.node(1).read_index(7));
    c.tick(1, 3);
    EXPECT_EQ(find_read(c.peer(1), 7), nullptr);
}

TEST(ReadTest, FollowerReadIndexIsAnsweredViaTheLeader) {
    Cluster c(3);
    auto none = c.node(2).read_index(1);
    ASSERT_FALSE(none);
    EXPECT_EQ(none.error(), Error::no_leader);
    ASSERT_TRUE(c.elect(1));
    ASSERT_TRUE(c.propose(1, "a", 3));
    c.deliver_all();
    ASSERT_TRUE(c.node(2).read_index(7));
    c.deliver_all();
    const ReadState* r = find_read(c.peer(2), 7);
    ASSERT_NE(r, nullptr);
    EXPECT_EQ(r->index, c.node(1).commit_index());
    EXPECT_EQ(r->index, idx(4));
    EXPECT_EQ(c.count_delivered(MessageType::read_index, 2, 1), 1u);
    EXPECT_EQ(c.count_delivered(MessageType::read_index_resp, 1, 2), 1u);
    EXPECT_EQ(find_read(c.peer(1), 7), nullptr) << "the answer belongs to the follower";
    // With the leader unreachable the request goes unanswered (the caller retries).
    c.cut(2, 1);
    ASSERT_TRUE(c.node(2).read_index(8));
    c.deliver_all();
    EXPECT_EQ(find_read(c.peer(2), 8), nullptr);
}

TEST(ReadTest, LeaseReadIsImmediateOnlyWhileLeaseValid) {
    Cluster c(3);
    ASSERT_TRUE(c.elect(1));
    c.tick_all(1);  // acknowledgements of a stamped heartbeat start the lease
    ASSERT_TRUE(c.node(1).lease_valid());
    EXPECT_FALSE(c.node(2).lease_valid());
    ASSERT_TRUE(c.node(1).read_index(9, ReadMode::lease));
    size_t before = c.emitted.size();
    c.process_readies();  // nothing delivered: no round trip
    const ReadState* r = find_read(c.peer(1), 9);
    ASSERT_NE(r, nullptr);
    EXPECT_EQ(r->index, c.node(1).commit_index());
    EXPECT_EQ(count_emitted(c, before, MessageType::heartbeat), 0u);

    // A follower's lease read is answered by the leader from its lease.
    ASSERT_TRUE(c.node(2).read_index(11, ReadMode::lease));
    c.deliver_all();
    EXPECT_NE(find_read(c.peer(2), 11), nullptr);

    // Cut off for an election timeout, the lease runs out (the leader has not yet
    // noticed it lost the quorum).
    c.isolate(1);
    c.tick(1, 10);
    ASSERT_EQ(c.node(1).role(), Role::leader);
    EXPECT_FALSE(c.node(1).lease_valid());
    ASSERT_TRUE(c.node(1).read_index(10, ReadMode::lease));
    c.deliver_all();
    EXPECT_EQ(find_read(c.peer(1), 10), nullptr) << "lease read answered without a valid lease";
    // Back in touch: the read is confirmed by a heartbeat round instead.
    c.heal();
    c.tick_all(1);
    EXPECT_NE(find_read(c.peer(1), 10), nullptr);
    EXPECT_TRUE(c.node(1).lease_valid());
}

TEST(ReadTest, SkippedTicksRunOutTheLeaseButStartNoElection) {
    Cluster c(3);
    ASSERT_TRUE(c.elect(1));
    c.tick_all(1);
    ASSERT_TRUE(c.node(1).lease_valid());
    uint64_t term = c.node(1).term().value;
    // The leader's process was paused for longer than an election timeout.
    c.node(1).skip_ticks(100);
    EXPECT_FALSE(c.node(1).lease_valid()) << "a lease outlived the time that passed";
    ASSERT_TRUE(c.node(1).read_index(12, ReadMode::lease));
    c.process_readies();
    EXPECT_EQ(find_read(c.peer(1), 12), nullptr) << "lease read answered from an expired lease";
    // A follower paused as long does not campaign for it either.
    c.node(2).skip_ticks(100);
    c.deliver_all();
    EXPECT_EQ(c.node(2).role(), Role::follower);
    EXPECT_EQ(c.node(1).term().value, term);
    // The next heartbeat round confirms the read and renews the lease.
    c.tick_all(1);
    EXPECT_NE(find_read(c.peer(1), 12), nullptr);
    EXPECT_TRUE(c.node(1).lease_valid());
}

TEST(ReadTest, LeaseNeedsCheckQuorum) {
    Cluster c(3, 0, [](Config& cfg) { cfg.check_quorum = false; });
    ASSERT_TRUE(c.elect(1));
    c.tick_all(1);
    EXPECT_FALSE(c.node(1).lease_valid());
    ASSERT_TRUE(c.node(1).read_index(3, ReadMode::lease));
    c.process_readies();
    EXPECT_EQ(find_read(c.peer(1), 3), nullptr);
    c.deliver_all();
    EXPECT_NE(find_read(c.peer(1), 3), nullptr);
}

}  // namespace
}  // namespace fjord::raft::test
