// One key-value shard driven through a real single-voter Replica on a
// simulated disk: the leader's overlay lets pipelined writes see each other
// before they commit, a FLUSHDB hides the applied state until it applies,
// batches commit at one Raft index, and the state machine survives images
// and garbage entries.
#include "kv/shard.h"

#include <gtest/gtest.h>

#include <deque>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "fake_replica_host.h"
#include "storage/record_batch.h"

namespace fjord::kv {
namespace {

using cluster::ProposeErrc;
using cluster::ProposeError;

using FakeHost = testing::FakeReplicaHost;

// The outcomes a WriteDone reported, in the order they came.
struct Outcomes {
    std::vector<Result<uint64_t, ProposeError>> results;
    WriteDone callback() {
        return [this](Result<uint64_t, ProposeError> r) { results.push_back(std::move(r)); };
    }
};

constexpr int64_t kNow = 1'700'000'000'000;  // the leader's wall clock, as the shard's writes see it

class ShardTest : public ::testing::Test {
  protected:
    void SetUp() override {
        cluster::ReplicaOptions options;
        options.group = 7;
        options.name = "kv-0";
        options.dir = "/data/kv-0";
        options.founding_voters = {1};
        options.raft.id = raft::NodeId{1};
        options.campaign_if_new = true;
        auto opened = cluster::Replica::open(host, options, &shard);
        ASSERT_TRUE(opened.has_value()) << opened.error();
        replica = std::move(*opened);
    }

    // Ticks until the lone voter leads and has applied an entry of its term.
    void become_leader() {
        for (int i = 0; i < 100 && !replica->applied_own_term(); ++i) host.advance(*replica, 10);
        ASSERT_TRUE(replica->is_leader());
        ASSERT_TRUE(replica->applied_own_term());
    }

    Reply write(const Command& c, Outcomes& out, bool local_only = false, int64_t now = kNow) {
        return shard.write(*replica, c, now, Limits{}, local_only, out.callback());
    }
    Reply write(const Command& c, int64_t now = kNow) {
        return shard.write(*replica, c, now, Limits{}, false, [](Result<uint64_t, ProposeError>) {});
    }
    // Proposes the open batch and runs the replica until it has committed and applied.
    void commit() {
        shard.flush(*replica);
        host.advance(*replica, 30);
    }

    std::string get(std::string_view key, int64_t now = kNow) {
        const Value* v = shard.store().find(key, now);
        return v ? v->data : "<none>";
    }

    FakeHost host;
    KvShard shard{7, 0};
    std::unique_ptr<cluster::Replica> replica;  // last: destroyed before the shard and host it uses
};

TEST_F(ShardTest, KnowsItsGroupAndPartition) {
    KvShard s(11, 3);
    EXPECT_EQ(s.group(), 11u);
    EXPECT_EQ(s.partition(), 3);
    EXPECT_TRUE(s.has_image());
    EXPECT_FALSE(s.has_open_batch());
}

TEST_F(ShardTest, PipelinedIncrsSeeEachOtherBeforeTheyCommit) {
    become_leader();
    Outcomes out;
    EXPECT_EQ(write({"INCR", "n"}, out), Reply::integer_of(1));
    EXPECT_EQ(write({"INCR", "n"}, out), Reply::integer_of(2));
    EXPECT_TRUE(shard.has_open_batch());
    EXPECT_EQ(get("n"), "<none>") << "nothing is applied before the batch commits";

    uint64_t before = replica->applied_index();
    shard.flush(*replica);
    EXPECT_FALSE(shard.has_open_batch());
    EXPECT_TRUE(out.results.empty()) << "no answer before the commit";
    EXPECT_EQ(get("n"), "<none>");

    host.advance(*replica, 30);
    EXPECT_EQ(get("n"), "2");
    ASSERT_EQ(out.results.size(), 2u);
    for (const auto& r : out.results) {
        ASSERT_TRUE(r.has_value()) << r.error().detail;
        EXPECT_EQ(r.value(), replica->applied_index()) << "both records are in the one batch just applied";
        EXPECT_GT(r.value(), before);
    }
    // The overlay is gone once applied: the next write sees the store.
    EXPECT_EQ(write({"INCR", "n"}), Reply::integer_of(3));
    commit();
    EXPECT_EQ(get("n"), "3");
}

TEST_F(ShardTest, TheOverlayCarriesWritesAcrossBatchesInFlight) {
    become_leader();
    Outcomes first, second;
    EXPECT_EQ(write({"INCR", "n"}, first), Reply::integer_of(1));
    shard.flush(*replica);
    EXPECT_EQ(write({"INCR", "n"}, second), Reply::integer_of(2)) << "sees the batch in flight";
    EXPECT_EQ(write({"APPEND", "n", "0"}, second), Reply::integer_of(2));
    EXPECT_EQ(write({"INCRBY", "n", "-5"}, second), Reply::integer_of(15));
    shard.flush(*replica);
    host.advance(*replica, 30);
    EXPECT_EQ(get("n"), "15");
    ASSERT_EQ(first.results.size(), 1u);
    ASSERT_EQ(second.results.size(), 3u);
    ASSERT_TRUE(first.results[0].has_value());
    for (const auto& r : second.results) {
        ASSERT_TRUE(r.has_value());
        EXPECT_EQ(r.value(), second.results[0].value()) << "one batch, one index";
    }
    EXPECT_LT(first.results[0].value(), second.results[0].value());
}

TEST_F(ShardTest, AWriteThatChangesNothingStillWaitsForTheBatch) {
    become_leader();
    write({"SET", "k", "v"});
    commit();
    Outcomes out;
    EXPECT_EQ(write({"SETNX", "k", "w"}, out), Reply::integer_of(0));
    EXPECT_EQ(write({"INCR", "k"}, out), Reply::error("ERR value is not an integer or out of range"));
    EXPECT_TRUE(shard.has_open_batch()) << "each answer rests on the writes before it";
    EXPECT_TRUE(out.results.empty());
    commit();
    ASSERT_EQ(out.results.size(), 2u);
    EXPECT_TRUE(out.results[0].has_value());
    EXPECT_TRUE(out.results[1].has_value());
    EXPECT_EQ(get("k"), "v");
}

TEST_F(ShardTest, DeletesAndExpiriesInTheOverlay) {
    become_leader();
    write({"MSET", "a", "1", "b", "2"});
    commit();
    EXPECT_EQ(write({"DEL", "a"}), Reply::integer_of(1));
    EXPECT_EQ(write({"DEL", "a"}), Reply::integer_of(0)) << "the uncommitted delete is seen";
    EXPECT_EQ(write({"SET", "a", "x", "XX"}), Reply::nil());
    EXPECT_EQ(write({"EXPIRE", "b", "10"}), Reply::integer_of(1));
    EXPECT_EQ(write({"GETSET", "b", "3"}), Reply::bulk("2"));
    EXPECT_EQ(write({"PEXPIRE", "b", "100"}), Reply::integer_of(1));
    EXPECT_EQ(write({"SET", "b", "4", "KEEPTTL", "GET"}), Reply::bulk("3"));
    // After its time (by the leader's clock), an overlay value is missing too.
    EXPECT_EQ(write({"SET", "b", "5", "NX"}, kNow + 100), Reply::ok());
    commit();
    EXPECT_EQ(get("a"), "<none>");
    EXPECT_EQ(get("b", kNow + 1'000'000), "5");
    EXPECT_EQ(shard.store().find("b", kNow)->expire_at_ms, 0);
}

TEST_F(ShardTest, FlushdbHidesTheStoreAndASetAfterItInTheSameBatchSurvives) {
    become_leader();
    write({"MSET", "a", "1", "b", "2", "c", "3"});
    commit();
    ASSERT_EQ(shard.store().size(), 3u);

    Outcomes out;
    EXPECT_EQ(write({"SET", "c", "overlay"}, out), Reply::ok());
    EXPECT_EQ(write({"FLUSHDB"}, out), Reply::ok());
    EXPECT_EQ(write({"GETSET", "b", "z"}, out), Reply::nil()) << "b is gone after the FLUSHDB";
    EXPECT_EQ(write({"SET", "c", "x", "XX", "GET"}, out), Reply::nil())
        << "so is c, though the overlay held it";
    EXPECT_EQ(write({"SET", "a", "5"}, out), Reply::ok());
    EXPECT_EQ(write({"INCR", "a"}, out), Reply::integer_of(6)) << "a write after the FLUSHDB is seen";
    EXPECT_EQ(write({"DEL", "a", "b", "c"}, out), Reply::integer_of(2));
    EXPECT_EQ(write({"SET", "a", "7"}, out), Reply::ok());
    EXPECT_EQ(get("c"), "3") << "the store is unchanged until the batch applies";
    commit();

    ASSERT_EQ(out.results.size(), 8u);
    for (const auto& r : out.results) EXPECT_TRUE(r.has_value());
    EXPECT_EQ(get("a"), "7");
    EXPECT_EQ(get("b"), "<none>");
    EXPECT_EQ(get("c"), "<none>");
    EXPECT_EQ(shard.store().size(), 1u);
}

TEST_F(ShardTest, AFlushdbInFlightHidesTheStoreFromLaterBatches) {
    become_leader();
    write({"MSET", "a", "1", "b", "2"});
    commit();
    EXPECT_EQ(write({"FLUSHDB"}), Reply::ok());
    shard.flush(*replica);
    EXPECT_EQ(write({"INCR", "a"}), Reply::integer_of(1)) << "a is gone once the FLUSHDB is proposed";
    EXPECT_EQ(write({"SETNX", "b", "new"}), Reply::integer_of(1));
    shard.flush(*replica);
    EXPECT_EQ(write({"GETSET", "b", "newer"}), Reply::bulk("new"));
    commit();
    EXPECT_EQ(get("a"), "1");
    EXPECT_EQ(get("b"), "newer");
    EXPECT_EQ(shard.store().size(), 2u);
    // Once applied, the FLUSHDB no longer hides anything.
    EXPECT_EQ(write({"INCR", "a"}), Reply::integer_of(2));
    commit();
    EXPECT_EQ(get("a"), "2");
}

TEST_F(ShardTest, ExpireKeysDeletesWhatThisLeadersClockSaysIsPast) {
    become_leader();
    write({"SET", "short", "v", "PX", "100"});
    write({"SET", "long", "v", "PX", "100000"});
    write({"SET", "rewritten", "v", "PX", "100"});
    commit();
    ASSERT_EQ(shard.store().size(), 3u);

    EXPECT_EQ(write({"SET", "rewritten", "again"}), Reply::ok());  // not yet committed
    shard.expire_keys(*replica, kNow + 100, 10);
    commit();
    EXPECT_EQ(shard.store().size(), 2u);
    EXPECT_EQ(get("short", kNow), "<none>") << "deleted, not just past its time";
    EXPECT_EQ(get("rewritten", kNow + 1'000'000), "again") << "a key written since is not deleted";
    EXPECT_EQ(get("long", kNow + 100), "v");

    // At most `max` at a time.
    write({"MSET", "x", "1", "y", "2", "z", "3"});
    write({"PEXPIRE", "x", "1"});
    write({"PEXPIRE", "y", "1"});
    write({"PEXPIRE", "z", "1"});
    commit();
    shard.expire_keys(*replica, kNow + 1, 2);
    commit();
    EXPECT_EQ(shard.store().size(), 3u);  // long, rewritten and one of x, y, z
    // Nothing to do leaves no batch.
    shard.expire_keys(*replica, kNow, 10);
    EXPECT_FALSE(shard.has_open_batch());
}

TEST_F(ShardTest, ALocalOnlyWriteGoesInABatchOfItsOwn) {
    become_leader();
    Outcomes local, acked;
    EXPECT_EQ(write({"INCR", "n"}, local, true), Reply::integer_of(1));
    EXPECT_EQ(write({"INCR", "n"}, acked, false), Reply::integer_of(2)) << "sees the local-only batch";
    commit();
    ASSERT_EQ(local.results.size(), 1u);
    ASSERT_EQ(acked.results.size(), 1u);
    ASSERT_TRUE(local.results[0].has_value());
    ASSERT_TRUE(acked.results[0].has_value());
    EXPECT_LT(local.results[0].value(), acked.results[0].value()) << "two batches";
    EXPECT_EQ(get("n"), "2");
}

TEST_F(ShardTest, ARefusedBatchIsUndoneFromTheOverlay) {
    // A replica that does not lead proposes nothing: the batch is refused at once.
    ASSERT_FALSE(replica->is_leader());
    Outcomes out;
    EXPECT_EQ(write({"INCR", "n"}, out), Reply::integer_of(1));
    EXPECT_EQ(write({"FLUSHDB"}, out), Reply::ok());
    shard.flush(*replica);
    ASSERT_EQ(out.results.size(), 2u);
    for (const auto& r : out.results) {
        ASSERT_FALSE(r.has_value());
        EXPECT_TRUE(r.error().code == ProposeErrc::not_leader || r.error().code == ProposeErrc::lost);
    }
    EXPECT_EQ(write({"INCR", "n"}), Reply::integer_of(1)) << "the refused INCR left nothing behind";
}

TEST_F(ShardTest, ImageAndRestore) {
    become_leader();
    write({"MSET", "a", "1", "b", "2"});
    write({"SET", "c", "3", "PX", "5000"});
    commit();
    std::string image = shard.image();
    EXPECT_EQ(image, shard.store().image());

    KvShard copy(7, 0);
    ASSERT_TRUE(copy.restore(image));
    EXPECT_EQ(copy.image(), image);
    EXPECT_EQ(copy.store().size(), 3u);
    ASSERT_NE(copy.store().find("c", kNow), nullptr);
    EXPECT_EQ(copy.store().find("c", kNow)->expire_at_ms, kNow + 5000);

    EXPECT_FALSE(copy.restore("not an image"));
    EXPECT_EQ(copy.store().size(), 0u);
    ASSERT_TRUE(copy.restore(image));
    EXPECT_EQ(copy.store().size(), 3u);
}

TEST_F(ShardTest, RestoreForgetsTheOverlay) {
    become_leader();
    write({"SET", "k", "committed"});
    commit();
    std::string image = shard.image();
    Outcomes out;
    EXPECT_EQ(write({"SET", "k", "pending"}, out), Reply::ok());
    EXPECT_EQ(write({"FLUSHDB"}, out), Reply::ok());
    ASSERT_TRUE(shard.restore(image));
    ASSERT_EQ(out.results.size(), 2u) << "the open batch's writers hear that it is lost";
    for (const auto& r : out.results) {
        ASSERT_FALSE(r.has_value());
        EXPECT_EQ(r.error().code, ProposeErrc::lost);
    }
    EXPECT_FALSE(shard.has_open_batch());
    EXPECT_EQ(write({"SET", "k", "new", "GET"}), Reply::bulk("committed"));
    commit();
    EXPECT_EQ(get("k"), "new");
}

raft::Entry entry(uint64_t index, std::string data) {
    raft::Entry e;
    e.index = raft::Index{index};
    e.term = raft::Term{1};
    e.data = std::move(data);
    return e;
}

std::string record_of(const std::vector<Effect>& effects) {
    std::string out;
    encode_effects(effects, out);
    return out;
}

TEST(KvShardApplyTest, AGarbageEntryIsSkipped) {
    KvShard shard(7, 0);
    shard.apply(entry(1, "not a record batch"));
    shard.apply(entry(2, ""));
    shard.apply(entry(3, std::string(200, '\xff')));
    EXPECT_EQ(shard.store().size(), 0u);
    // And the shard goes on applying valid batches.
    shard.apply(
        entry(4, storage::encode_batch(0, 0, 0, {{"", record_of({{Effect::Kind::put, "k", "v", 0}}), 0}})));
    ASSERT_NE(shard.store().find("k", kNow), nullptr);
    EXPECT_EQ(shard.store().find("k", kNow)->data, "v");
}

TEST(KvShardApplyTest, AGarbageRecordIsSkippedAndTheOthersApplied) {
    KvShard shard(7, 0);
    std::string bad_tail = record_of({{Effect::Kind::put, "half", "v", 0}}) + "\x09";  // then an unknown kind
    std::string batch = storage::encode_batch(
        0, 0, 0,
        {
            {"", record_of({{Effect::Kind::put, "a", "1", 0}}), 0},
            {"", "garbage", 0},
            {"", bad_tail, 0},
            {"", record_of({{Effect::Kind::put, "b", "2", 0}, {Effect::Kind::del, "a", {}, 0}}), 0},
        });
    shard.apply(entry(4, batch));
    EXPECT_EQ(shard.store().find("a", kNow), nullptr) << "the last record deleted it";
    ASSERT_NE(shard.store().find("b", kNow), nullptr);
    EXPECT_EQ(shard.store().find("b", kNow)->data, "2");
    EXPECT_EQ(shard.store().find("half", kNow), nullptr) << "a malformed record is skipped whole";
    EXPECT_EQ(shard.store().size(), 1u);
}

TEST(KvShardApplyTest, AnEmptyRecordChangesNothing) {
    KvShard shard(7, 0);
    shard.apply(entry(1, storage::encode_batch(0, 0, 0, {{"", "", 0}})));
    EXPECT_EQ(shard.store().size(), 0u);
}

}  // namespace
}  // namespace fjord::kv
