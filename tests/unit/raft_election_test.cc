// Elections: timeouts, pre-vote, check-quorum, votes and their durability.
#include <gtest/gtest.h>

#include <algorithm>

#include "raft_test_cluster.h"

namespace fjord::raft::test {
namespace {

Message vote_request(uint64_t from, uint64_t to, uint64_t term, uint64_t last_index, uint64_t last_term,
                     MessageType type = MessageType::vote) {
    Message m;
    m.type = type;
    m.from = nid(from);
    m.to = nid(to);
    m.term = trm(term);
    m.log_index = idx(last_index);
    m.log_term = trm(last_term);
    return m;
}

const Message* find(const std::vector<Message>& ms, MessageType type, uint64_t to) {
    auto it = std::find_if(ms.begin(), ms.end(),
                           [&](const Message& m) { return m.type == type && m.to == nid(to); });
    return it == ms.end() ? nullptr : &*it;
}

// Ticks every node until a leader emerges; returns the number of rounds.
int tick_until_leader(Cluster& c, int max_rounds) {
    for (int r = 1; r <= max_rounds; ++r) {
        c.tick_all();
        if (c.leader() != 0) return r;
    }
    return -1;
}

TEST(ElectionTest, ThreeNodesElectExactlyOneLeader) {
    for (uint64_t seed = 1; seed <= 5; ++seed) {
        SCOPED_TRACE(seed);
        Cluster c(3, 0, [seed](Config& cfg) { cfg.random_seed = seed; });
        int rounds = tick_until_leader(c, 100);
        ASSERT_GT(rounds, 0) << "no leader elected";
        // Nobody campaigns before the election timeout.
        EXPECT_GE(rounds, 10);
        EXPECT_EQ(c.leader_count(), 1u);
        uint64_t leader = c.leader();
        Term term = c.node(leader).term();
        for (uint64_t id : c.ids()) {
            EXPECT_EQ(c.node(id).leader(), nid(leader)) << id;
            EXPECT_EQ(c.node(id).term(), term) << id;
        }
        // Stable afterwards: heartbeats keep everyone following.
        c.tick_all(60);
        EXPECT_EQ(c.leader(), leader);
        EXPECT_EQ(c.leader_count(), 1u);
        EXPECT_EQ(c.node(leader).term(), term);
    }
}

TEST(ElectionTest, LeaderFirstEntryOfItsTermIsNoop) {
    Cluster c(3);
    ASSERT_TRUE(c.elect(1));
    ASSERT_TRUE(c.propose(1, "a", 3));
    c.deliver_all();
    ASSERT_TRUE(c.elect(2));
    Term t2 = c.node(2).term();
    const std::vector<Entry>& log = c.storage(2).all_entries();
    auto first = std::find_if(log.begin(), log.end(), [&](const Entry& e) { return e.term == t2; });
    ASSERT_NE(first, log.end());
    EXPECT_EQ(first->type, EntryType::noop);
    EXPECT_EQ(first->span, 1u);
    EXPECT_EQ(first->index, idx(5));  // right after 1 (noop of term 1) and 4 (span 3)
    // It commits, and with it everything before it.
    EXPECT_EQ(c.node(2).commit_index(), idx(5));
    EXPECT_EQ(c.storage(1).all_entries().front().type, EntryType::noop);
}

TEST(ElectionTest, PreVoteKeepsPartitionedNodeFromBumpingTerm) {
    for (bool pre_vote : {true, false}) {
        SCOPED_TRACE(pre_vote ? "pre_vote" : "no pre_vote");
        Cluster c(3, 0, [pre_vote](Config& cfg) { cfg.pre_vote = pre_vote; });
        ASSERT_TRUE(c.elect(1));
        Term term = c.node(1).term();
        c.isolate(3);
        c.tick_all(100);
        c.heal();
        c.tick_all(30);
        if (pre_vote) {
            EXPECT_EQ(c.node(3).term(), term);
            EXPECT_EQ(c.leader(), 1u);
            EXPECT_EQ(c.node(1).term(), term);
            EXPECT_EQ(c.node(3).leader(), nid(1));
        } else {
            // Without pre-vote the rejoining node's inflated term deposes the leader:
            // this is what the pre_vote case proves does not happen.
            EXPECT_GT(c.node(3).term(), term);
            EXPECT_GT(c.node(c.leader() == 0 ? 1 : c.leader()).term(), term);
        }
    }
}

TEST(ElectionTest, CheckQuorumLeaderCutOffStepsDown) {
    for (bool check_quorum : {true, false}) {
        SCOPED_TRACE(check_quorum ? "check_quorum" : "no check_quorum");
        Cluster c(3, 0, [check_quorum](Config& cfg) { cfg.check_quorum = check_quorum; });
        ASSERT_TRUE(c.elect(1));
        c.tick_all(3);
        c.isolate(1);
        int stepped_down_after = -1;
        for (int t = 1; t <= 60; ++t) {
            c.tick_all();
            if (c.node(1).role() != Role::leader) {
                stepped_down_after = t;
                break;
            }
        }
        if (check_quorum) {
            ASSERT_GT(stepped_down_after, 0) << "isolated leader never stepped down";
            EXPECT_GE(stepped_down_after, 10);  // not before one election timeout
            EXPECT_LE(stepped_down_after, 20);  // within two
            // The majority side elected its own leader meanwhile or soon after.
            c.tick_all(40);
            uint64_t l = c.leader();
            EXPECT_TRUE(l == 2 || l == 3) << l;
        } else {
            EXPECT_EQ(stepped_down_after, -1);
        }
    }
}

TEST(ElectionTest, VotesGoOutAsPersistedMessages) {
    // Voter side.
    SoloNode n(2, voters_of({1, 2, 3}), [](Config& cfg) { cfg.check_quorum = false; });
    n.node->step(vote_request(1, 2, 1, 0, 0));
    ASSERT_TRUE(n.node->has_ready());
    Ready rd = n.ready();
    EXPECT_EQ(find(rd.messages, MessageType::vote_resp, 1), nullptr) << "a vote must wait for persistence";
    const Message* resp = find(rd.persisted_messages, MessageType::vote_resp, 1);
    ASSERT_NE(resp, nullptr);
    EXPECT_FALSE(resp->reject);
    EXPECT_EQ(resp->term, trm(1));
    ASSERT_TRUE(rd.hard_state.has_value());
    EXPECT_EQ(rd.hard_state->vote, nid(1));
    EXPECT_EQ(rd.hard_state->term, trm(1));

    // Candidate side: its own vote is durable state too.
    SoloNode cand(1, voters_of({1, 2, 3}), [](Config& cfg) { cfg.pre_vote = false; });
    for (int i = 0; i < 30 && cand.node->role() == Role::follower; ++i) cand.node->tick();
    ASSERT_EQ(cand.node->role(), Role::candidate);
    Ready crd = cand.ready();
    EXPECT_TRUE(crd.messages.empty());
    EXPECT_NE(find(crd.persisted_messages, MessageType::vote, 2), nullptr);
    EXPECT_NE(find(crd.persisted_messages, MessageType::vote, 3), nullptr);
    ASSERT_TRUE(crd.hard_state.has_value());
    EXPECT_EQ(crd.hard_state->vote, nid(1));

    // The mutation that acknowledges before persisting puts the vote in `messages`.
    SoloNode bad(2, voters_of({1, 2, 3}), [](Config& cfg) {
        cfg.check_quorum = false;
        cfg.mutation = Mutation::ack_before_persist;
    });
    bad.node->step(vote_request(1, 2, 1, 0, 0));
    Ready brd = bad.ready();
    EXPECT_NE(find(brd.messages, MessageType::vote_resp, 1), nullptr);
}

TEST(ElectionTest, PreVoteDoesNotChangeTermOrVote) {
    SoloNode n(2, voters_of({1, 2, 3}), [](Config& cfg) { cfg.check_quorum = false; });
    n.node->step(vote_request(1, 2, 1, 0, 0, MessageType::pre_vote));
    Ready rd = n.ready();
    EXPECT_EQ(n.node->term(), trm(0));
    EXPECT_EQ(n.node->vote(), no_node);
    EXPECT_FALSE(rd.hard_state.has_value());
    const Message* resp = find(rd.persisted_messages, MessageType::pre_vote_resp, 1);
    ASSERT_NE(resp, nullptr);
    EXPECT_FALSE(resp->reject);
    EXPECT_EQ(resp->term, trm(1));
}

TEST(ElectionTest, RefusesSecondVoteInSameTerm) {
    for (Mutation mutation : {Mutation::none, Mutation::vote_twice_in_term}) {
        SCOPED_TRACE(static_cast<int>(mutation));
        SoloNode n(3, voters_of({1, 2, 3}), [mutation](Config& cfg) {
            cfg.check_quorum = false;
            cfg.mutation = mutation;
        });
        n.node->step(vote_request(1, 3, 5, 0, 0));
        Ready first = n.ready();
        const Message* r1 = find(first.persisted_messages, MessageType::vote_resp, 1);
        ASSERT_NE(r1, nullptr);
        EXPECT_FALSE(r1->reject);

        n.node->step(vote_request(2, 3, 5, 0, 0));
        Ready second = n.ready();
        const Message* r2 = find(second.persisted_messages, MessageType::vote_resp, 2);
        ASSERT_NE(r2, nullptr);
        if (mutation == Mutation::none) {
            EXPECT_TRUE(r2->reject);
            EXPECT_EQ(n.node->vote(), nid(1));
            EXPECT_EQ(n.storage->hard_state().vote, nid(1));
        } else {
            EXPECT_FALSE(r2->reject) << "the mutation should have granted a second vote";
        }
        // Asking again (a retransmission) gets the same answer.
        n.node->step(vote_request(1, 3, 5, 0, 0));
        Ready again = n.ready();
        const Message* r3 = find(again.persisted_messages, MessageType::vote_resp, 1);
        ASSERT_NE(r3, nullptr);
        EXPECT_FALSE(r3->reject);
    }
}

TEST(ElectionTest, RejectsCandidateWithStaleLog) {
    MemoryStorage storage;
    storage.install_snapshot(Snapshot{SnapshotMeta{idx(0), trm(0), voters_of({1, 2, 3})}, ""});
    storage.append({make_entry(1, 1, 1, "", EntryType::noop), make_entry(4, 2, 3, "x")});
    storage.set_hard_state(HardState{trm(2), no_node, idx(1)});
    Config cfg;
    cfg.id = nid(3);
    cfg.check_quorum = false;
    Node n(cfg, storage);
    n.step(vote_request(1, 3, 3, 1, 1));  // shorter log, older last term
    Ready rd = n.ready();
    const Message* r = find(rd.persisted_messages, MessageType::vote_resp, 1);
    ASSERT_NE(r, nullptr);
    EXPECT_TRUE(r->reject);
    n.advance(rd);
    n.step(vote_request(2, 3, 3, 4, 2));  // as up to date
    rd = n.ready();
    r = find(rd.persisted_messages, MessageType::vote_resp, 2);
    ASSERT_NE(r, nullptr);
    EXPECT_FALSE(r->reject);
}

// While it follows a leader, a voter ignores vote requests from nodes outside
// its membership (say, one removed while cut off), even forced ones that
// bypass the leader lease. (Without a known leader it answers anyone: its own
// configuration may be the stale one, and candidates count only their voters.)
TEST(ElectionTest, IgnoresVoteRequestsFromOutsideTheMembership) {
    Cluster c(3, 1);
    ASSERT_TRUE(c.elect(1));
    c.tick_all(2);
    Term term = c.node(2).term();
    for (MessageType type : {MessageType::vote, MessageType::pre_vote}) {
        Message m = vote_request(4, 2, term.value + 1, 100, term.value, type);
        m.force = true;
        c.node(2).step(m);
    }
    EXPECT_EQ(c.node(2).term(), term);
    EXPECT_EQ(c.node(2).vote(), c.storage(2).hard_state().vote);
    EXPECT_EQ(c.node(2).leader(), nid(1));
    EXPECT_FALSE(c.node(2).has_ready());
    // The same forced request from a voter does take effect.
    Message from_voter = vote_request(3, 2, term.value + 1, 100, term.value);
    from_voter.force = true;
    c.node(2).step(from_voter);
    EXPECT_EQ(c.node(2).term(), Term{term.value + 1});
    EXPECT_EQ(c.node(2).vote(), nid(3));
}

TEST(ElectionTest, LeaderStickinessIgnoresVotesWithinLease) {
    Cluster c(3);
    ASSERT_TRUE(c.elect(1));
    c.tick_all(2);
    Term term = c.node(1).term();
    // Node 3 asks for votes at a higher term without the transfer flag: ignored.
    c.node(2).step(vote_request(3, 2, term.value + 1, 100, term.value));
    c.node(1).step(vote_request(3, 1, term.value + 1, 100, term.value));
    c.deliver_all();
    EXPECT_EQ(c.node(2).term(), term);
    EXPECT_EQ(c.node(1).term(), term);
    EXPECT_EQ(c.leader(), 1u);
}

TEST(ElectionTest, SingleVoterElectsItself) {
    Cluster c(1);
    c.tick_all(25);
    EXPECT_EQ(c.leader(), 1u);
    ASSERT_TRUE(c.propose(1, "solo", 4));
    c.deliver_all();
    EXPECT_EQ(c.node(1).commit_index(), idx(5));
    ASSERT_EQ(c.peer(1).applied.size(), 2u);
    EXPECT_EQ(c.peer(1).applied[1].data, "solo");
}

}  // namespace
}  // namespace fjord::raft::test

namespace fjord::raft::test {
namespace {

TEST(ElectionTest, VoteSurvivesRestart) {
    MemoryStorage storage;
    storage.install_snapshot(Snapshot{SnapshotMeta{idx(0), trm(0), voters_of({1, 2, 3})}, ""});
    Config cfg;
    cfg.id = nid(3);
    cfg.check_quorum = false;
    {
        Node n(cfg, storage);
        n.step(vote_request(1, 3, 4, 0, 0));
        Ready rd = n.ready();
        ASSERT_TRUE(rd.hard_state.has_value());
        storage.set_hard_state(*rd.hard_state);
        n.advance(rd);
    }
    Node restarted(cfg, storage);
    EXPECT_EQ(restarted.term(), trm(4));
    EXPECT_EQ(restarted.vote(), nid(1));
    restarted.step(vote_request(2, 3, 4, 0, 0));
    Ready rd = restarted.ready();
    const Message* r = find(rd.persisted_messages, MessageType::vote_resp, 2);
    ASSERT_NE(r, nullptr);
    EXPECT_TRUE(r->reject);
}

}  // namespace
}  // namespace fjord::raft::test

namespace fjord::raft::test {
namespace {

// A lone voter's own vote is a majority, but like any vote it counts only once
// durable: it must not lead (and send appends in) a term it has not persisted.
TEST(ElectionTest, LoneVoterLeadsOnlyAfterItsVoteIsPersisted) {
    Membership m;
    m.voters = {NodeId{1}};
    m.learners = {NodeId{2}};
    SoloNode n(1, m);
    for (int i = 0; i < 40 && n.node->role() != Role::candidate; ++i) n.node->tick();
    ASSERT_EQ(n.node->role(), Role::candidate);
    ASSERT_TRUE(n.node->has_ready());
    Ready rd = n.node->ready();
    ASSERT_TRUE(rd.hard_state.has_value());
    EXPECT_EQ(rd.hard_state->vote, NodeId{1});
    EXPECT_TRUE(rd.messages.empty());
    EXPECT_NE(n.node->role(), Role::leader);  // not before advance()
    n.storage->set_hard_state(*rd.hard_state);
    n.node->advance(rd);
    EXPECT_EQ(n.node->role(), Role::leader);
    Ready next = n.node->ready();
    for (const Message& msg : next.messages) EXPECT_LE(msg.term, n.storage->hard_state().term);
}

}  // namespace
}  // namespace fjord::raft::test

namespace fjord::raft::test {
namespace {

TEST(ElectionTest, CampaignNowElectsWithoutWaitingForTheTimeout) {
    Cluster c(3);
    c.node(2).campaign_now();
    c.deliver_all();
    EXPECT_EQ(c.leader(), 2u);
    EXPECT_EQ(c.leader_count(), 1u);
}

TEST(ElectionTest, CampaignNowDoesNotDisturbALiveLeader) {
    Cluster c(3);
    ASSERT_TRUE(c.elect(1));
    Term term = c.node(1).term();
    c.node(3).campaign_now();  // pre-vote: node 2 still hears from node 1 and refuses
    c.deliver_all();
    EXPECT_EQ(c.leader(), 1u);
    EXPECT_EQ(c.node(1).term(), term);
    c.node(1).campaign_now();  // a leader ignores it
    c.deliver_all();
    EXPECT_EQ(c.node(1).term(), term);
}

}  // namespace
}  // namespace fjord::raft::test
