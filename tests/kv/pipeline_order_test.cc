// The order rules of a connection's pipeline on one shard (kv/pipeline_order.h).
#include "kv/pipeline_order.h"

#include <gtest/gtest.h>

#include <deque>

namespace fjord::kv {
namespace {

std::deque<PipelineSlot> pipeline(const std::string& kinds) {
    std::deque<PipelineSlot> q;
    for (char c : kinds) {
        PipelineSlot s;
        s.id = q.size() + 1;
        s.write = c == 'w';
        q.push_back(s);
    }
    return q;
}

std::vector<uint64_t> ids(const std::deque<PipelineSlot>& q, const std::vector<size_t>& positions) {
    std::vector<uint64_t> out;
    for (size_t p : positions) out.push_back(q[p].id);
    return out;
}

TEST(PipelineOrderTest, ConsecutiveWritesRunTogetherAndAReadWaitsForThem) {
    auto q = pipeline("wwrw");
    EXPECT_EQ(ids(q, take_runnable(q)), (std::vector<uint64_t>{1, 2}));
    EXPECT_TRUE(take_runnable(q).empty()) << "started slots are not handed out twice";
    q.pop_front();
    EXPECT_TRUE(take_runnable(q).empty()) << "the read waits for write 2";
    q.pop_front();
    EXPECT_EQ(ids(q, take_runnable(q)), (std::vector<uint64_t>{3}));
    EXPECT_TRUE(take_runnable(q).empty()) << "the write waits for the read";
}

TEST(PipelineOrderTest, RetriedCommandsWaitForTheTimerThenRunOneByOne) {
    auto q = pipeline("www");
    take_runnable(q);
    q[0].started = false;
    q[0].retrying = q[0].retried = true;  // write 1 found no leader
    q[1].started = false;
    q[1].retrying = q[1].retried = true;  // so did write 2
    EXPECT_TRUE(take_runnable(q).empty()) << "nothing runs before the retry timer";
    q[0].retrying = q[1].retrying = false;  // the timer fires
    EXPECT_EQ(ids(q, take_runnable(q)), (std::vector<uint64_t>{1})) << "write 2 waits for write 1's answer";
    q.pop_front();
    EXPECT_EQ(ids(q, take_runnable(q)), (std::vector<uint64_t>{2}));
}

// Writes 1 and 2 went to a leader that was deposed in between: 2 was refused
// at once, 1 is still pending there and may yet be lost and retried. Write 2
// must not run again before 1 has its answer, or it could land first.
TEST(PipelineOrderTest, ARetriedWriteWaitsForEarlierWritesStillInFlight) {
    auto q = pipeline("www");
    EXPECT_EQ(ids(q, take_runnable(q)), (std::vector<uint64_t>{1, 2, 3}));
    q[1].started = false;
    q[1].retrying = q[1].retried = true;
    q[1].retrying = false;  // its retry timer fires while write 1 is still in flight
    EXPECT_TRUE(take_runnable(q).empty());
    q.pop_front();  // write 1 answered
    EXPECT_EQ(ids(q, take_runnable(q)), (std::vector<uint64_t>{2}));
}

}  // namespace
}  // namespace fjord::kv
