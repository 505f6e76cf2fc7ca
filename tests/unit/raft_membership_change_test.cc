// Membership changes one node at a time, and leadership transfer.
#include <gtest/gtest.h>

#include "raft_test_cluster.h"

namespace fjord::raft::test {
namespace {

MembershipChange change(MembershipChangeKind kind, uint64_t id) {
    return MembershipChange{kind, nid(id)};
}

Membership make_membership(std::initializer_list<uint64_t> voters, std::initializer_list<uint64_t> learners) {
    Membership m = voters_of(voters);
    for (uint64_t id : learners) m.learners.push_back(nid(id));
    return m;
}

TEST(MembershipChangeTest, AddLearnerPromoteRemoveVoter) {
    Cluster c(3, 1);  // node 4 starts outside the group
    ASSERT_TRUE(c.elect(1));
    for (int i = 0; i < 5; ++i) ASSERT_TRUE(c.propose(1, "before-" + std::to_string(i), 2));
    c.deliver_all();
    // Node 4, not a member, never campaigns.
    c.tick_all(30);
    EXPECT_EQ(c.node(4).role(), Role::follower);
    EXPECT_EQ(c.node(4).term(), trm(0));

    auto add = c.node(1).propose_membership(change(MembershipChangeKind::add_learner, 4));
    ASSERT_TRUE(add);
    EXPECT_EQ(c.node(1).membership(), make_membership({1, 2, 3}, {4}));  // in force once appended
    c.deliver_all();
    EXPECT_GE(c.node(1).commit_index(), *add);
    // The learner catches up from the start of the log.
    EXPECT_EQ(c.storage(4).all_entries(), c.storage(1).all_entries());
    EXPECT_EQ(c.peer(4).applied, c.peer(1).applied);
    EXPECT_EQ(c.node(4).membership(), make_membership({1, 2, 3}, {4}));

    // A learner does not count towards commits.
    c.isolate(2);
    c.isolate(3);
    auto p = c.propose(1, "needs-a-voter", 1);
    ASSERT_TRUE(p);
    c.deliver_all();
    EXPECT_EQ(c.node(4).last_index(), *p);
    EXPECT_LT(c.node(1).commit_index(), *p);
    c.heal();
    c.tick_all(2);
    EXPECT_EQ(c.node(1).commit_index(), *p);
    // Nor does it vote or campaign.
    c.tick_all(30);
    EXPECT_EQ(c.leader(), 1u);
    EXPECT_EQ(c.node(4).role(), Role::follower);

    auto promote = c.node(1).propose_membership(change(MembershipChangeKind::add_voter, 4));
    ASSERT_TRUE(promote);
    c.deliver_all();
    EXPECT_GE(c.node(1).commit_index(), *promote);
    for (uint64_t id : c.ids()) EXPECT_EQ(c.node(id).membership(), voters_of({1, 2, 3, 4})) << id;

    // With four voters, a commit needs three of them.
    c.isolate(2);
    c.isolate(3);
    auto q = c.propose(1, "needs-three", 1);
    ASSERT_TRUE(q);
    c.deliver_all();
    EXPECT_LT(c.node(1).commit_index(), *q);
    c.heal();
    c.tick_all(2);
    EXPECT_EQ(c.node(1).commit_index(), *q);

    auto remove = c.node(1).propose_membership(change(MembershipChangeKind::remove, 3));
    ASSERT_TRUE(remove);
    c.deliver_all();
    EXPECT_GE(c.node(1).commit_index(), *remove);
    EXPECT_EQ(c.node(1).membership(), voters_of({1, 2, 4}));
    c.crash(3);
    // {1, 2, 4} commits without 3.
    auto r = c.propose(1, "without-3", 2);
    ASSERT_TRUE(r);
    c.deliver_all();
    EXPECT_EQ(c.node(1).commit_index(), *r);
    EXPECT_EQ(c.peer(4).applied.back().data, "without-3");
    for (const FollowerStatus& f : c.node(1).followers()) EXPECT_NE(f.id, nid(3));
}

TEST(MembershipChangeTest, RemovingTheLeaderMakesItStepDownAfterCommit) {
    Cluster c(3);
    ASSERT_TRUE(c.elect(1));
    ASSERT_TRUE(c.propose(1, "a", 2));
    c.deliver_all();
    // Hold the change uncommitted: the leader leads until it commits.
    c.cut(2, 1);
    c.cut(3, 1);
    auto remove = c.node(1).propose_membership(change(MembershipChangeKind::remove, 1));
    ASSERT_TRUE(remove);
    c.deliver_all();
    EXPECT_EQ(c.node(1).role(), Role::leader);
    EXPECT_LT(c.node(1).commit_index(), *remove);
    c.heal();
    c.tick_all(1);
    EXPECT_EQ(c.node(1).role(), Role::follower);
    EXPECT_GE(c.node(1).commit_index(), *remove);
    // The remaining voters elect a leader among themselves; 1 never campaigns.
    uint64_t leader = 0;
    for (int i = 0; i < 60 && leader == 0; ++i) {
        c.tick_all();
        leader = c.leader();
    }
    ASSERT_NE(leader, 0u);
    EXPECT_NE(leader, 1u);
    EXPECT_EQ(c.node(leader).membership(), voters_of({2, 3}));
    c.tick_all(40);
    EXPECT_EQ(c.node(1).role(), Role::follower);
    EXPECT_EQ(c.leader_count(), 1u);
    ASSERT_TRUE(c.propose(c.leader(), "after", 1));
    c.deliver_all();
    EXPECT_EQ(c.peer(2).applied.back().data, "after");
    EXPECT_EQ(c.peer(3).applied.back().data, "after");
}

TEST(MembershipChangeTest, SecondChangeWhileOneUncommittedIsRefused) {
    Cluster c(3, 2);
    ASSERT_TRUE(c.elect(1));
    c.cut(2, 1);
    c.cut(3, 1);
    ASSERT_TRUE(c.node(1).propose_membership(change(MembershipChangeKind::add_learner, 4)));
    c.deliver_all();
    Index last = c.node(1).last_index();
    auto second = c.node(1).propose_membership(change(MembershipChangeKind::add_learner, 5));
    ASSERT_FALSE(second);
    EXPECT_EQ(second.error(), Error::membership_change_pending);
    EXPECT_EQ(c.node(1).last_index(), last);
    EXPECT_EQ(c.node(1).membership(), make_membership({1, 2, 3}, {4}));
    c.heal();
    c.tick_all(1);
    EXPECT_TRUE(c.node(1).propose_membership(change(MembershipChangeKind::add_learner, 5)));
}

TEST(MembershipChangeTest, ChangeBeforeNoopCommitsIsRefused) {
    Cluster c(3, 1);
    c.filter = [](const Message& m) { return m.from == nid(1) && m.type == MessageType::append; };
    ASSERT_TRUE(c.elect(1));
    auto early = c.node(1).propose_membership(change(MembershipChangeKind::add_learner, 4));
    ASSERT_FALSE(early);
    EXPECT_EQ(early.error(), Error::leader_not_ready);
    EXPECT_EQ(c.node(1).membership(), voters_of({1, 2, 3}));
    c.filter = nullptr;
    c.tick_all(1);
    EXPECT_TRUE(c.node(1).propose_membership(change(MembershipChangeKind::add_learner, 4)));
}

TEST(MembershipChangeTest, InvalidChangesAreRefused) {
    Cluster c(3);
    ASSERT_TRUE(c.elect(1));
    auto follower = c.node(2).propose_membership(change(MembershipChangeKind::add_learner, 4));
    ASSERT_FALSE(follower);
    EXPECT_EQ(follower.error(), Error::not_leader);
    struct Case {
        MembershipChangeKind kind;
        uint64_t id;
    };
    for (Case k : {Case{MembershipChangeKind::add_voter, 2}, Case{MembershipChangeKind::add_learner, 3},
                   Case{MembershipChangeKind::remove, 9}, Case{MembershipChangeKind::add_voter, 0}}) {
        auto r = c.node(1).propose_membership(change(k.kind, k.id));
        ASSERT_FALSE(r) << k.id;
        EXPECT_EQ(r.error(), Error::invalid_membership_change) << k.id;
    }
    Cluster solo(1);
    solo.tick_all(25);
    ASSERT_EQ(solo.leader(), 1u);
    auto last_voter = solo.node(1).propose_membership(change(MembershipChangeKind::remove, 1));
    ASSERT_FALSE(last_voter);
    EXPECT_EQ(last_voter.error(), Error::invalid_membership_change);
}

TEST(LeadershipTransferTest, UpToDateFollowerTakesOver) {
    Cluster c(3);
    ASSERT_TRUE(c.elect(1));
    ASSERT_TRUE(c.propose(1, "a", 2));
    c.deliver_all();
    c.tick_all(2);
    Term term = c.node(1).term();
    ASSERT_TRUE(c.node(1).transfer_leadership(nid(2)));
    c.deliver_all();
    EXPECT_EQ(c.leader(), 2u);
    EXPECT_EQ(c.node(1).role(), Role::follower);
    EXPECT_EQ(c.node(2).term(), Term{term.value + 1});
    EXPECT_EQ(c.count_delivered(MessageType::timeout_now, 1, 2), 1u);
    EXPECT_GE(c.node(2).commit_index(), idx(4));  // its no-op of the new term
}

TEST(LeadershipTransferTest, LaggingTargetCatchesUpFirst) {
    Cluster c(3);
    ASSERT_TRUE(c.elect(1));
    c.isolate(3);
    for (int i = 0; i < 5; ++i) ASSERT_TRUE(c.propose(1, "x", 3));
    c.deliver_all();
    c.heal();
    ASSERT_LT(c.node(3).last_index(), c.node(1).last_index());
    ASSERT_TRUE(c.node(1).transfer_leadership(nid(3)));
    c.deliver_all();
    EXPECT_EQ(c.leader(), 3u);
    EXPECT_EQ(c.storage(3).all_entries(), c.storage(1).all_entries());
}

TEST(LeadershipTransferTest, ProposalsDuringTransferAreRefused) {
    Cluster c(3);
    ASSERT_TRUE(c.elect(1));
    c.tick_all(1);
    c.filter = [](const Message& m) { return m.type == MessageType::timeout_now; };
    ASSERT_TRUE(c.node(1).transfer_leadership(nid(2)));
    c.deliver_all();
    EXPECT_EQ(c.node(1).transfer_target(), nid(2));
    EXPECT_FALSE(c.node(1).lease_valid()) << "the lease ends once a timeout-now went out";
    Index last = c.node(1).last_index();
    auto p = c.propose(1, "during", 1);
    ASSERT_FALSE(p);
    EXPECT_EQ(p.error(), Error::transfer_in_progress);
    auto m = c.node(1).propose_membership(change(MembershipChangeKind::remove, 3));
    ASSERT_FALSE(m);
    EXPECT_EQ(m.error(), Error::transfer_in_progress);
    EXPECT_EQ(c.node(1).last_index(), last);
    // The target never took over: the transfer lapses after an election timeout.
    c.tick_all(10);
    EXPECT_EQ(c.leader(), 1u);
    EXPECT_EQ(c.node(1).transfer_target(), no_node);
    EXPECT_TRUE(c.propose(1, "after", 1));
}

TEST(LeadershipTransferTest, InvalidTargets) {
    Cluster c(3);
    ASSERT_TRUE(c.elect(1));
    auto outsider = c.node(1).transfer_leadership(nid(9));
    ASSERT_FALSE(outsider);
    EXPECT_EQ(outsider.error(), Error::invalid_transfer_target);
    auto follower = c.node(2).transfer_leadership(nid(3));
    ASSERT_FALSE(follower);
    EXPECT_EQ(follower.error(), Error::not_leader);
    EXPECT_TRUE(c.node(1).transfer_leadership(nid(1)));  // already there
    EXPECT_EQ(c.node(1).transfer_target(), no_node);
}

}  // namespace
}  // namespace fjord::raft::test

namespace fjord::raft::test {
namespace {

// Two voters; the leader removes itself but the change reaches nobody before
// it restarts. The remaining voter cannot win without it (its log is behind),
// so the old leader must still be able to campaign and finish the change.
TEST(MembershipChangeTest, SelfRemovalFinishesAfterLeaderRestartsInTwoNodeCluster) {
    Cluster c(2);
    ASSERT_TRUE(c.elect(1));
    c.cut(1, 2);
    auto remove = c.node(1).propose_membership(change(MembershipChangeKind::remove, 1));
    ASSERT_TRUE(remove);
    c.deliver_all();
    ASSERT_EQ(c.storage(1).last_index(), *remove);
    c.crash(1);
    c.restart(1);
    c.heal();
    uint64_t leader = 0;
    for (int i = 0; i < 200 && leader != 2; ++i) {
        c.tick_all();
        leader = c.leader();
    }
    EXPECT_EQ(leader, 2u);
    EXPECT_EQ(c.node(2).membership(), voters_of({2}));
    EXPECT_GE(c.node(2).commit_index(), *remove);
    c.tick_all(40);
    EXPECT_EQ(c.node(1).role(), Role::follower);
    EXPECT_EQ(c.leader(), 2u);
}

}  // namespace
}  // namespace fjord::raft::test
