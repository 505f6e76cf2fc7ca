// A replica driven by a fake host on a simulated disk: proposals commit, a
// full disk answers them with the storage error and stores nothing, and
// writing resumes by itself once space returns.
#include "cluster/replica.h"

#include <gtest/gtest.h>

#include <deque>
#include <map>

#include "fake_replica_host.h"
#include "storage/record_batch.h"

namespace fjord::cluster {
namespace {

using FakeHost = testing::FakeReplicaHost;

std::unique_ptr<Replica> open_single_voter(FakeHost& host) {
    ReplicaOptions options;
    options.group = 7;
    options.name = "t-0";
    options.dir = "/data/t-0";
    options.founding_voters = {1};
    options.raft.id = raft::NodeId{1};
    options.campaign_if_new = true;
    auto opened = Replica::open(host, options, nullptr);
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
    ReplicaOptions options;
    options.group = 7;
    options.name = "t-0";
    options.dir = "/data/t-0";
    options.founding_voters = {1, 2, 3};
    options.raft.id = raft::NodeId{1};
    auto opened = Replica::open(host, options, nullptr);
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

}  // namespace
}  // namespace fjord::cluster
