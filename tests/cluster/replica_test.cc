// A replica driven by a fake host on a simulated disk: proposals commit, a
// full disk answers them with the storage error and stores nothing, and
// writing resumes by itself once space returns.
#include "cluster/replica.h"

#include <gtest/gtest.h>

#include <deque>
#include <map>
#include <utility>

#include "fake_replica_host.h"
#include "storage/record_batch.h"

namespace fjord::cluster {
namespace {

using FakeHost = testing::FakeReplicaHost;

// Node 1's replica of group 7, founded with `voters`.
ReplicaOptions options_of_node_1(std::vector<uint64_t> voters, bool campaign_if_new) {
    ReplicaOptions options;
    options.group = 7;
    options.name = "t-0";
    options.dir = "/data/t-0";
    options.founding_voters = std::move(voters);
    options.raft.id = raft::NodeId{1};
    options.campaign_if_new = campaign_if_new;
    return options;
}

std::unique_ptr<Replica> open_single_voter(FakeHost& host) {
    auto opened = Replica::open(host, options_of_node_1({1}, true), nullptr);
    EXPECT_TRUE(opened.has_value()) << (opened ? "" : opened.error());
    return opened ? std::move(*opened) : nullptr;
}

struct Outcome {
    bool done{false};
    Result<Appended, ProposeError> result{make_unexpected(ProposeError{ProposeErrc::busy, 0, "not yet"})};
};

void propose(Replica& r, const std::string& value, Outcome& out) {
    r.propose(storage::encode_batch(0, 0, 0, {storage::Record{"", value, 0}}), 1,
              [&out](Result<Appended, ProposeError> result) {
                  out.done = true;
                  out.result = std::move(result);
              });
}

TEST(ReplicaTest, ALoneVoterLeadsAndCommits) {
    FakeHost host;
    auto replica = open_single_voter(host);
    ASSERT_TRUE(replica);
    host.advance(*replica, 100);
    ASSERT_TRUE(replica->is_leader());
    Outcome out;
    propose(*replica, "hello", out);
    host.advance(*replica, 20);
    ASSERT_TRUE(out.done);
    ASSERT_TRUE(out.result.has_value()) << out.result.error().detail;
    EXPECT_EQ(replica->high_watermark(), out.result->last_offset + 1);
}

// A pause (every node opening its partitions at once, say) moves the lease
// clock on but starts no election by itself: a follower whose peers are
// silent does not campaign on the first tick after 1 s.
TEST(ReplicaTest, APauseAloneStartsNoElection) {
    FakeHost host;
    auto opened = Replica::open(host, options_of_node_1({1, 2, 3}, false), nullptr);
    ASSERT_TRUE(opened.has_value()) << opened.error();
    Replica& replica = **opened;
    host.run();
    host.pause(1000);
    replica.tick();
    host.run();
    EXPECT_EQ(host.messages_sent, 0) << "one tick after a pause is not an election timeout";
    host.advance(replica, 1000);
    EXPECT_GT(host.messages_sent, 0) << "ticks given one by one do run out the election timeout";
}

// Makes node 1 (of voters 1, 2, 3) the leader, with node 2, played by the
// test, granting its votes and acknowledging its no-op (echoing the lease
// tick, as a follower does). Returns the no-op's index, committed.
raft::Index lead_with_node_2(FakeHost& host, Replica& replica) {
    for (int i = 0; i < 100 && !replica.is_leader(); ++i) {
        host.advance(replica, 10);
        for (const raft::Message& m : std::exchange(host.sent, {})) {
            if (m.to.value != 2 ||
                (m.type != raft::MessageType::vote && m.type != raft::MessageType::pre_vote))
                continue;
            raft::Message grant;
            grant.type = m.type == raft::MessageType::vote ? raft::MessageType::vote_resp
                                                           : raft::MessageType::pre_vote_resp;
            grant.from = raft::NodeId{2};
            grant.to = raft::NodeId{1};
            grant.term = m.term;
            replica.step(grant);
        }
    }
    EXPECT_TRUE(replica.is_leader());
    host.run();
    raft::Message ack;
    ack.type = raft::MessageType::append_resp;
    ack.from = raft::NodeId{2};
    ack.to = raft::NodeId{1};
    ack.term = raft::Term{replica.term()};
    ack.log_index = raft::Index{static_cast<uint64_t>(replica.last_index())};
    for (const raft::Message& m : host.sent) {
        if (m.to.value == 2 && m.type == raft::MessageType::append) ack.lease_tick = m.lease_tick;
    }
    replica.step(ack);
    host.run();
    EXPECT_EQ(replica.commit_index(), ack.log_index.value);
    return ack.log_index;
}

// The leader's lease read point is kept between reads, but only while the
// lease holds: a pause longer than the lease (the process stopped, say)
// ends it, though no tick ran and nothing else changed.
TEST(ReplicaTest, ALeaseReadPointLastsOnlyAsLongAsTheLease) {
    FakeHost host;
    auto opened = Replica::open(host, options_of_node_1({1, 2, 3}, true), nullptr);
    ASSERT_TRUE(opened.has_value()) << opened.error();
    Replica& replica = **opened;
    const raft::Index noop = lead_with_node_2(host, replica);
    EXPECT_EQ(replica.lease_read_point(), noop.value);
    EXPECT_EQ(replica.lease_read_point(), noop.value) << "asked again in the same state";
    host.pause(1000);
    EXPECT_EQ(replica.lease_read_point(), 0u) << "the lease ran out during the pause";
}

// Node 1 of three leads (nodes 2 and 3 are played by the test) and has a
// proposal in flight; node 2 then leads a newer term whose log holds only
// one entry past node 1's committed ones. Once that entry commits, the
// proposal is answered lost, although the log has not grown to its index.
TEST(ReplicaTest, AProposalIsLostOnceANewerTermCommitsBelowIt) {
    FakeHost host;
    auto opened = Replica::open(host, options_of_node_1({1, 2, 3}, true), nullptr);
    ASSERT_TRUE(opened.has_value()) << opened.error();
    Replica& replica = **opened;
    const raft::Index noop = lead_with_node_2(host, replica);
    ASSERT_TRUE(replica.is_leader());
    const raft::Term term{replica.term()};

    Outcome pending;
    replica.propose(
        storage::encode_batch(0, 0, 0, std::vector<storage::Record>(5, storage::Record{"", "v", 0})), 5,
        [&pending](Result<Appended, ProposeError> r) {
            pending.done = true;
            pending.result = std::move(r);
        });
    host.run();
    ASSERT_EQ(static_cast<uint64_t>(replica.last_index()), noop.value + 5);
    ASSERT_FALSE(pending.done);

    // Node 2 leads term + 1 with its own no-op right after node 1's, and commits it.
    raft::Message append;
    append.type = raft::MessageType::append;
    append.from = raft::NodeId{2};
    append.to = raft::NodeId{1};
    append.term = raft::Term{term.value + 1};
    append.log_index = noop;
    append.log_term = term;
    append.entries.push_back(
        raft::Entry{raft::Index{noop.value + 1}, append.term, 1, raft::EntryType::noop, {}});
    append.commit = raft::Index{noop.value + 1};
    replica.step(append);
    host.advance(replica, 20);
    EXPECT_FALSE(replica.is_leader());
    EXPECT_EQ(replica.commit_index(), noop.value + 1);
    ASSERT_TRUE(pending.done) << "the proposal's index (" << noop.value + 5
                              << ") is above all the new log holds";
    ASSERT_FALSE(pending.result.has_value());
    EXPECT_EQ(pending.result.error().code, ProposeErrc::lost);
}

TEST(ReplicaTest, AFullDiskAnswersWithTheStorageErrorAndResumesWhenSpaceReturns) {
    FakeHost host;
    auto replica = open_single_voter(host);
    ASSERT_TRUE(replica);
    host.advance(*replica, 100);
    ASSERT_TRUE(replica->is_leader());
    // The disk fills up: appends still go into the space the segment
    // reserved ahead (preallocation), until one needs more.
    host.fs.set_capacity(host.fs.used());
    int64_t hw = replica->high_watermark();
    Outcome refused;
    std::string marker;
    for (int i = 0; i < 1000 && (!refused.done || refused.result.has_value()); ++i) {
        hw = replica->high_watermark();
        refused = Outcome{};
        marker = "<attempt " + std::to_string(i) + ">";
        propose(*replica, std::string(64 << 10, 'x') + marker, refused);
        host.advance(*replica, 20);
    }
    ASSERT_TRUE(refused.done);
    ASSERT_FALSE(refused.result.has_value());
    EXPECT_EQ(refused.result.error().code, ProposeErrc::storage_full);
    EXPECT_NE(replica->stall_reason().find("disk full"), std::string::npos);
    EXPECT_TRUE(replica->failure().empty()) << "a full disk is not a failure";
    host.advance(*replica, 3000);  // retries keep finding the disk full
    EXPECT_EQ(replica->high_watermark(), hw) << "nothing was stored, so nothing committed";
    // Had it been stored, the refused entry would be the log's last batch.
    auto read = replica->log().read(std::max(replica->log().start_offset(), replica->log().next_offset() - 1),
                                    1 << 20);
    ASSERT_TRUE(read.has_value());
    EXPECT_EQ(read->bytes.find(marker), std::string::npos);

    host.fs.set_capacity(UINT64_MAX);
    host.advance(*replica, 1100);  // the next retry writes
    EXPECT_TRUE(replica->stall_reason().empty());
    EXPECT_GT(replica->high_watermark(), hw) << "the stalled entry commits once written";
    Outcome later;
    propose(*replica, "after", later);
    host.advance(*replica, 20);
    ASSERT_TRUE(later.done);
    EXPECT_TRUE(later.result.has_value());
}

// A lone voter, leading, whose log follows `policy`.
std::unique_ptr<Replica> leader_with_flush_policy(FakeHost& host, storage::FlushPolicy policy,
                                                  int64_t interval_ms = 1000) {
    ReplicaOptions options = options_of_node_1({1}, true);
    options.log.flush = policy;
    options.log.flush_interval_ms = interval_ms;
    auto opened = Replica::open(host, options, nullptr);
    EXPECT_TRUE(opened.has_value()) << (opened ? "" : opened.error());
    if (!opened) return nullptr;
    host.advance(**opened, 100);
    EXPECT_TRUE((*opened)->is_leader());
    return std::move(*opened);
}

// Proposes `value` and lets `ms` pass; fails the test unless it committed.
void commit(FakeHost& host, Replica& replica, const std::string& value, int64_t ms) {
    Outcome out;
    propose(replica, value, out);
    host.advance(replica, ms);
    ASSERT_TRUE(out.done);
    ASSERT_TRUE(out.result.has_value()) << out.result.error().detail;
}

// flush.policy `never`: entries commit once written, with no fsync (the page
// cache and the other replicas keep them, as in Kafka); a power loss takes
// what was not synced.
TEST(ReplicaTest, UnderFlushPolicyNeverEntriesCommitWithoutAnFsync) {
    FakeHost host;
    auto replica = leader_with_flush_policy(host, storage::FlushPolicy::never);
    ASSERT_TRUE(replica && replica->is_leader());
    const int fsyncs_before = host.fsyncs;
    for (int i = 0; i < 5; ++i)
        ASSERT_NO_FATAL_FAILURE(commit(host, *replica, "value " + std::to_string(i), 20));
    host.advance(*replica, 5000);
    EXPECT_EQ(host.fsyncs, fsyncs_before);
    EXPECT_LT(replica->log().durable_offset(), replica->log().next_offset());
}

// flush.policy `interval`: entries commit once written, and the log is synced
// every flush.ms, not after each append.
TEST(ReplicaTest, UnderFlushPolicyIntervalTheLogIsSyncedEveryFlushMs) {
    FakeHost host;
    auto replica = leader_with_flush_policy(host, storage::FlushPolicy::interval, 500);
    ASSERT_TRUE(replica && replica->is_leader());
    host.advance(*replica, 600);  // the election's entry gets its sync
    ASSERT_EQ(replica->log().durable_offset(), replica->log().next_offset());
    const int fsyncs_before = host.fsyncs;
    // 40 proposals over 2 s: a sync each 500 ms, not one per proposal.
    for (int i = 0; i < 40; ++i)
        ASSERT_NO_FATAL_FAILURE(commit(host, *replica, "value " + std::to_string(i), 50));
    const int syncs = host.fsyncs - fsyncs_before;
    EXPECT_GE(syncs, 3);
    EXPECT_LE(syncs, 5);
    host.advance(*replica, 600);
    EXPECT_EQ(replica->log().durable_offset(), replica->log().next_offset());
}

}  // namespace
}  // namespace fjord::cluster
