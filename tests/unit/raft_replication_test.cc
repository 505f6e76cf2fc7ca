// Log replication: spans, conflicts, backtracking, the commit rule, batching,
// and robustness against stale or impossible messages.
#include <gtest/gtest.h>

#include <algorithm>

#include "raft_test_cluster.h"

namespace fjord::raft::test {
namespace {

Index match_of(Node& leader, uint64_t follower) {
    for (const FollowerStatus& f : leader.followers()) {
        if (f.id == nid(follower)) return f.match;
    }
    return Index{UINT64_MAX};
}

void expect_same_logs(Cluster& c) {
    const std::vector<Entry>& reference = c.storage(c.ids().front()).all_entries();
    for (uint64_t id : c.ids()) EXPECT_EQ(c.storage(id).all_entries(), reference) << "node " << id;
}

TEST(ReplicationTest, ProposalsWithSpansCommitOnAllNodes) {
    Cluster c(3);
    ASSERT_TRUE(c.elect(1));
    Index last = c.node(1).last_index();
    EXPECT_EQ(last, idx(1));  // the no-op
    auto a = c.propose(1, "a", 3);
    auto b = c.propose(1, "bb", 1);
    auto d = c.propose(1, "ccc", 5);
    ASSERT_TRUE(a && b && d);
    EXPECT_EQ(*a, idx(4));
    EXPECT_EQ(*b, idx(5));
    EXPECT_EQ(*d, idx(10));
    EXPECT_EQ(c.node(1).last_index(), idx(10));
    c.deliver_all();
    for (uint64_t id : c.ids()) {
        SCOPED_TRACE(id);
        EXPECT_EQ(c.node(id).commit_index(), idx(10));
        const std::vector<Entry>& applied = c.peer(id).applied;
        ASSERT_EQ(applied.size(), 4u);
        EXPECT_EQ(applied[0].type, EntryType::noop);
        EXPECT_EQ(applied[1], make_entry(4, c.node(1).term().value, 3, "a"));
        EXPECT_EQ(applied[2], make_entry(5, c.node(1).term().value, 1, "bb"));
        EXPECT_EQ(applied[3], make_entry(10, c.node(1).term().value, 5, "ccc"));
    }
    expect_same_logs(c);
}

TEST(ReplicationTest, ProposeValidatesAndRequiresLeadership) {
    Cluster c(3);
    ASSERT_TRUE(c.elect(1));
    auto zero = c.propose(1, "x", 0);
    ASSERT_FALSE(zero);
    EXPECT_EQ(zero.error(), Error::invalid_entry);
    auto follower = c.propose(2, "x", 1);
    ASSERT_FALSE(follower);
    EXPECT_EQ(follower.error(), Error::not_leader);
    EXPECT_EQ(c.node(1).last_index(), idx(1));
}

TEST(ReplicationTest, DivergentUncommittedTailIsTruncated) {
    Cluster c(3);
    ASSERT_TRUE(c.elect(1));
    ASSERT_TRUE(c.propose(1, "committed", 2));
    c.deliver_all();
    Index committed = c.node(1).commit_index();
    EXPECT_EQ(committed, idx(3));
    // The old leader keeps appending on its own.
    c.isolate(1);
    ASSERT_TRUE(c.propose(1, "lost-1", 2));
    ASSERT_TRUE(c.propose(1, "lost-2", 3));
    ASSERT_TRUE(c.propose(1, "lost-3", 1));
    c.deliver_all();
    EXPECT_EQ(c.storage(1).last_index(), idx(9));
    // The others move on in a new term.
    ASSERT_TRUE(c.elect(2));
    ASSERT_TRUE(c.propose(2, "kept-1", 4));
    ASSERT_TRUE(c.propose(2, "kept-2", 1));
    c.deliver_all();
    EXPECT_EQ(c.node(2).commit_index(), idx(9));
    c.heal();
    c.tick_all(5);
    EXPECT_EQ(c.leader(), 2u);
    EXPECT_EQ(c.node(1).role(), Role::follower);
    EXPECT_EQ(c.node(1).term(), c.node(2).term());
    expect_same_logs(c);
    for (uint64_t id : c.ids()) {
        EXPECT_EQ(c.node(id).commit_index(), idx(9)) << id;
        for (const Entry& e : c.peer(id).applied)
            EXPECT_EQ(e.data.view().rfind("lost", 0), std::string::npos) << id;
        EXPECT_EQ(c.peer(id).applied.back().data, "kept-2");
    }
}

// A follower that holds shorter entries of another term where the leader has
// one wider entry (spans) must lose all of them, not only those at or above
// the wider entry's index.
TEST(ReplicationTest, ShorterConflictingEntriesUnderAWiderEntryAreReplaced) {
    Cluster c(3);
    ASSERT_TRUE(c.elect(1));  // term 1, no-op at 1 committed everywhere
    // 1 appends a wide entry (offsets 2..4) that nobody else gets.
    c.isolate(1);
    ASSERT_TRUE(c.propose(1, "wide", 3));
    c.deliver_all();
    // 2 leads term 2 with 3's vote; its no-op (2) and "bad" (3) stay local.
    c.heal();
    c.isolate(1);
    c.filter = [](const Message& m) { return m.from == nid(2) && m.type == MessageType::append; };
    ASSERT_TRUE(c.elect(2));
    ASSERT_TRUE(c.propose(2, "bad", 1));
    c.deliver_all();
    ASSERT_EQ(c.storage(2).last_index(), idx(3));
    ASSERT_EQ(c.storage(3).last_index(), idx(1));
    // 1 comes back and wins term 3 with 3's vote (its last entry, 4@1, beats 3's 1@1).
    c.heal();
    c.isolate(2);
    ASSERT_TRUE(c.elect(1));
    ASSERT_GE(c.node(1).commit_index(), idx(5));
    // 2 rejoins: its 2@2 and 3@2 conflict with the leader's 4@1 (offsets 2..4).
    c.heal();
    c.tick_all(5);
    EXPECT_EQ(c.leader(), 1u);
    expect_same_logs(c);
    for (uint64_t id : c.ids()) {
        for (const Entry& e : c.peer(id).applied) EXPECT_NE(e.data, "bad") << "node " << id << " applied it";
    }
}

TEST(ReplicationTest, FastBacktrackingNeedsFewRoundTrips) {
    Cluster c(3);
    ASSERT_TRUE(c.elect(1));
    ASSERT_TRUE(c.propose(1, "base", 2));
    c.deliver_all();
    // 1, cut off, piles up a long divergent tail of its term.
    c.isolate(1);
    for (int i = 0; i < 40; ++i) ASSERT_TRUE(c.propose(1, "old", static_cast<uint32_t>(i % 3 + 1)));
    c.deliver_all();
    // 2 and 3 write a long log in term 2; then 3 takes over (term 3), so its
    // first probe to 1 starts far beyond the point where they agree.
    ASSERT_TRUE(c.elect(2));
    for (int i = 0; i < 40; ++i) ASSERT_TRUE(c.propose(2, "new", static_cast<uint32_t>(i % 4 + 1)));
    c.deliver_all();
    ASSERT_TRUE(c.elect(3));
    c.heal();
    c.tick_all(5);
    size_t rejects = c.count_delivered(MessageType::append_resp, 1, 3, true);
    EXPECT_GE(rejects, 1u);
    EXPECT_LE(rejects, 2u) << "backtracking took " << rejects << " round trips";
    EXPECT_EQ(c.leader(), 3u);
    expect_same_logs(c);
}

TEST(ReplicationTest, Figure8EarlierTermEntryNotCommittedByCounting) {
    for (Mutation mutation : {Mutation::none, Mutation::commit_previous_term_by_count}) {
        SCOPED_TRACE(static_cast<int>(mutation));
        Cluster c(3, 0, [mutation](Config& cfg) {
            cfg.mutation = mutation;
            cfg.max_append_bytes = 1;  // one entry per append
        });
        ASSERT_TRUE(c.elect(1));  // term 1, no-op 1
        // 1 appends X (offsets 2..4) in term 1, reaching nobody.
        c.isolate(1);
        ASSERT_TRUE(c.propose(1, "XX", 3));  // 2 bytes: alone in an append
        c.deliver_all();
        // 2 wins term 2 with 3's vote, but its no-op reaches nobody.
        c.heal();
        c.isolate(1);
        c.filter = [](const Message& m) { return m.from == nid(2) && m.type == MessageType::append; };
        ASSERT_TRUE(c.elect(2));
        // 1 comes back and wins term 3 with 3's vote.
        c.heal();
        c.isolate(2);
        Term t3{c.node(1).term().value + 2};
        // Entries of the new term do not reach 3 once it holds X (the probe
        // that carries the no-op before that is refused anyway, and its
        // refusal is what walks the leader back to X).
        c.filter = [&c, t3](const Message& m) {
            return m.type == MessageType::append && m.to == nid(3) && c.storage(3).last_index() >= idx(4) &&
                   std::any_of(m.entries.begin(), m.entries.end(),
                               [&](const Entry& e) { return e.term == t3; });
        };
        ASSERT_TRUE(c.elect(1));
        ASSERT_EQ(c.node(1).term(), t3);
        c.tick_all(2);
        // X (term 1) now sits on a majority (1 and 3), the no-op of term 3 only on 1.
        ASSERT_EQ(match_of(c.node(1), 3), idx(4));
        ASSERT_EQ(c.storage(3).last_index(), idx(4));
        if (mutation == Mutation::none) {
            EXPECT_EQ(c.node(1).commit_index(), idx(1)) << "committed an earlier term's entry by counting";
        } else {
            EXPECT_EQ(c.node(1).commit_index(), idx(4)) << "the mutation should commit X by counting";
        }
        // Once the term-3 no-op reaches 3, both commit.
        c.filter = nullptr;
        c.tick_all(2);
        EXPECT_EQ(c.node(1).commit_index(), idx(5));
        EXPECT_EQ(c.node(3).commit_index(), idx(5));
        ASSERT_EQ(c.peer(3).applied.size(), 3u);
        EXPECT_EQ(c.peer(3).applied[1].data, "XX");
    }
}

TEST(ReplicationTest, ProposalsBetweenReadiesGoOutAsOneAppendPerFollower) {
    Cluster c(3);
    ASSERT_TRUE(c.elect(1));
    for (int i = 0; i < 10; ++i) ASSERT_TRUE(c.propose(1, "p" + std::to_string(i), 2));
    size_t before = c.emitted.size();
    ASSERT_TRUE(c.process_readies());
    for (uint64_t to : {2, 3}) {
        SCOPED_TRACE(to);
        std::vector<Message> appends;
        for (size_t i = before; i < c.emitted.size(); ++i) {
            const Message& m = c.emitted[i];
            if (m.type == MessageType::append && m.to == nid(to)) appends.push_back(m);
        }
        ASSERT_EQ(appends.size(), 1u);
        EXPECT_EQ(appends[0].entries.size(), 10u);
        EXPECT_EQ(appends[0].log_index, idx(1));
        EXPECT_EQ(appends[0].entries.back().index, idx(21));
    }
    c.deliver_all();
    EXPECT_EQ(c.node(2).commit_index(), idx(21));
}

TEST(ReplicationTest, StaleAppendResponsesAreIgnored) {
    Cluster c(3);
    ASSERT_TRUE(c.elect(1));
    ASSERT_TRUE(c.propose(1, "a", 2));
    c.deliver_all();
    auto it = std::find_if(c.delivered.rbegin(), c.delivered.rend(), [](const Message& m) {
        return m.type == MessageType::append_resp && m.from == nid(2) && !m.reject;
    });
    ASSERT_NE(it, c.delivered.rend());
    Message stale_ack = *it;
    ASSERT_EQ(stale_ack.log_index, idx(3));
    ASSERT_TRUE(c.propose(1, "b", 3));
    ASSERT_TRUE(c.propose(1, "c", 1));
    c.deliver_all();
    ASSERT_EQ(match_of(c.node(1), 2), idx(7));
    size_t before = c.emitted.size();
    // An old acknowledgement, and an old rejection of an index below the match.
    c.node(1).step(stale_ack);
    Message stale_reject = stale_ack;
    stale_reject.reject = true;
    stale_reject.log_index = idx(3);
    stale_reject.hint_index = idx(1);
    stale_reject.hint_term = c.node(1).term();
    c.node(1).step(stale_reject);
    c.deliver_all();
    EXPECT_EQ(match_of(c.node(1), 2), idx(7));
    EXPECT_EQ(c.emitted.size(), before) << "stale responses caused traffic";
    for (const FollowerStatus& f : c.node(1).followers()) EXPECT_EQ(f.state, ProgressState::replicate);
    EXPECT_EQ(c.node(1).commit_index(), idx(7));
}

TEST(ReplicationTest, AppendResponseWithImpossibleIndexChangesNothing) {
    Cluster c(3);
    ASSERT_TRUE(c.elect(1));
    // 3 is cut off so that the commit index depends on 2 alone.
    c.isolate(3);
    ASSERT_TRUE(c.propose(1, "a", 2));
    c.cut(2, 1);
    c.deliver_all();
    Index commit = c.node(1).commit_index();
    Index match2 = match_of(c.node(1), 2);
    ASSERT_EQ(commit, idx(1));
    Message bogus;
    bogus.type = MessageType::append_resp;
    bogus.from = nid(2);
    bogus.to = nid(1);
    bogus.term = c.node(1).term();
    bogus.log_index = idx(c.node(1).last_index().value + 100);
    c.node(1).step(bogus);
    bogus.reject = true;
    c.node(1).step(bogus);
    size_t before = c.emitted.size();
    c.process_readies();
    EXPECT_EQ(c.emitted.size(), before);
    EXPECT_EQ(c.node(1).commit_index(), commit);
    EXPECT_EQ(match_of(c.node(1), 2), match2);
    EXPECT_EQ(c.node(1).role(), Role::leader);
}

TEST(ReplicationTest, MessageWithLowerTermHasNoEffect) {
    Cluster c(3);
    ASSERT_TRUE(c.elect(1));
    ASSERT_TRUE(c.propose(1, "a", 2));
    c.deliver_all();
    // An append of term 1 carrying an entry, captured before leadership moves.
    auto it = std::find_if(c.delivered.begin(), c.delivered.end(), [](const Message& m) {
        return m.type == MessageType::append && m.to == nid(3) && !m.entries.empty();
    });
    ASSERT_NE(it, c.delivered.end());
    Message old = *it;
    old.entries = {make_entry(old.log_index.value + 7, old.term.value, 7, "forged")};
    old.commit = idx(100);
    ASSERT_TRUE(c.elect(2));
    Term term = c.node(3).term();
    ASSERT_GT(term, old.term);
    std::vector<Entry> log_before = c.storage(3).all_entries();
    Index commit_before = c.node(3).commit_index();
    size_t before = c.emitted.size();
    c.node(3).step(old);
    c.process_readies();
    EXPECT_EQ(c.node(3).term(), term);
    EXPECT_EQ(c.node(3).leader(), nid(2));
    EXPECT_EQ(c.node(3).commit_index(), commit_before);
    EXPECT_EQ(c.storage(3).all_entries(), log_before);
    // The only answer tells the stale sender the newer term.
    ASSERT_EQ(c.emitted.size(), before + 1);
    EXPECT_EQ(c.emitted.back().type, MessageType::append_resp);
    EXPECT_EQ(c.emitted.back().to, nid(1));
    EXPECT_EQ(c.emitted.back().term, term);
}

TEST(ReplicationTest, DuplicatedAppendDoesNotTruncate) {
    Cluster c(3);
    ASSERT_TRUE(c.elect(1));
    ASSERT_TRUE(c.propose(1, "a", 2));
    c.deliver_all();
    auto it = std::find_if(c.delivered.begin(), c.delivered.end(), [](const Message& m) {
        return m.type == MessageType::append && m.to == nid(2) && !m.entries.empty() &&
               m.entries.back().data == "a";
    });
    ASSERT_NE(it, c.delivered.end());
    Message dup = *it;
    // Hold back commits to 2 so that the duplicate lands on uncommitted entries.
    c.cut(1, 2);
    c.cut(2, 1);
    ASSERT_TRUE(c.propose(1, "b", 3));
    ASSERT_TRUE(c.propose(1, "c", 1));
    c.deliver_all();
    c.heal();
    c.filter = [](const Message& m) { return m.to == nid(2) && m.type == MessageType::heartbeat; };
    // 2 receives b and c (uncommitted on it: its commit index is 3 at most).
    Message fresh = dup;
    fresh.log_index = idx(3);
    fresh.log_term = dup.entries.back().term;
    fresh.entries = {make_entry(6, dup.term.value, 3, "b"), make_entry(7, dup.term.value, 1, "c")};
    fresh.commit = idx(3);
    c.node(2).step(fresh);
    c.process_readies();
    ASSERT_EQ(c.storage(2).last_index(), idx(7));
    ASSERT_LE(c.node(2).commit_index(), idx(3));
    std::vector<Entry> log_before = c.storage(2).all_entries();
    size_t before = c.emitted.size();
    c.node(2).step(dup);
    c.process_readies();
    EXPECT_EQ(c.node(2).last_index(), idx(7));
    EXPECT_EQ(c.storage(2).all_entries(), log_before);
    ASSERT_GT(c.emitted.size(), before);
    EXPECT_EQ(c.emitted.back().type, MessageType::append_resp);
    EXPECT_FALSE(c.emitted.back().reject);
    c.filter = nullptr;
    c.tick_all(2);
    expect_same_logs(c);
}

TEST(ReplicationTest, LaggingFollowerCatchesUpAfterRestart) {
    Cluster c(3, 0, [](Config& cfg) { cfg.max_append_bytes = 8; });
    ASSERT_TRUE(c.elect(1));
    c.crash(3);
    for (int i = 0; i < 20; ++i)
        ASSERT_TRUE(c.propose(1, "entry-" + std::to_string(i), static_cast<uint32_t>(i % 5 + 1)));
    c.deliver_all();
    c.restart(3);
    c.tick_all(10);
    expect_same_logs(c);
    EXPECT_EQ(c.node(3).commit_index(), c.node(1).commit_index());
    EXPECT_EQ(c.peer(3).applied.back().data, "entry-19");
}

}  // namespace
}  // namespace fjord::raft::test

namespace fjord::raft::test {
namespace {

TEST(ReplicationTest, UncommittedBytesAreBounded) {
    Cluster c(3, 0, [](Config& cfg) { cfg.max_uncommitted_bytes = 10; });
    ASSERT_TRUE(c.elect(1));
    c.isolate(2);
    c.isolate(3);
    ASSERT_TRUE(c.propose(1, std::string(8, 'a'), 2));
    auto refused = c.propose(1, std::string(3, 'b'), 1);
    ASSERT_FALSE(refused);
    EXPECT_EQ(refused.error(), Error::too_much_uncommitted);
    // A single proposal larger than the limit is accepted when nothing is pending.
    c.heal();
    c.tick_all(2);
    ASSERT_EQ(c.node(1).commit_index(), idx(3));
    EXPECT_TRUE(c.propose(1, std::string(30, 'c'), 1));
}

}  // namespace
}  // namespace fjord::raft::test
