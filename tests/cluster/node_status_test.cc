// The gossiped node status (cluster/node_status.h): round trips of random
// statuses, and clean refusal of truncated, extended, corrupted or random
// input.
#include "cluster/node_status.h"

#include <gtest/gtest.h>

#include "common/big_endian.h"
#include "seeded_rng.h"

namespace fjord::cluster::testing {
namespace {

using fjord::testing::SeededRng;

std::string random_text(SeededRng& rng, size_t max) {
    std::string s(rng.range(0, max), '\0');
    for (char& c : s) c = static_cast<char>(rng.range(' ', '~'));
    return s;
}

// Signed fields take negative values too: -1 is a common "none" index.
int64_t random_i64(SeededRng& rng) {
    return rng.chance(50) ? static_cast<int64_t>(rng.next()) : static_cast<int64_t>(rng.range(0, 1000)) - 1;
}

LeaderReport random_leader_report(SeededRng& rng) {
    LeaderReport report{rng.next(), rng.range(0, 100), random_i64(rng), random_i64(rng), {}};
    for (uint64_t n = rng.range(0, 6); n > 0; --n) {
        report.followers.push_back(
            FollowerReport{rng.range(1, 100), random_i64(rng), rng.chance(50), rng.chance(50)});
    }
    return report;
}

NodeStatus random_status(SeededRng& rng) {
    NodeStatus s;
    s.node = rng.range(1, 100);
    s.rpc_addr = random_text(rng, 30);
    s.kafka_addr = random_text(rng, 30);
    s.redis_addr = random_text(rng, 30);
    s.admin_addr = random_text(rng, 30);
    s.controller_leader = rng.range(0, 100);
    s.not_serving_reason = rng.chance(30) ? random_text(rng, 60) : "";
    for (uint64_t n = rng.range(0, 5); n > 0; --n) s.leading.push_back(random_leader_report(rng));
    return s;
}

NodeStatus sample_status() {
    return NodeStatus{2,
                      "10.0.0.2:7000",
                      "10.0.0.2:9092",
                      "10.0.0.2:6379",
                      "10.0.0.2:8080",
                      1,
                      "",
                      {LeaderReport{5, 3, 100, 120, {{1, 100, true, true}, {3, 80, true, false}}},
                       LeaderReport{6, 1, -1, 0, {}}}};
}

std::string decode_error(std::string_view bytes) {
    auto d = decode_node_status(bytes);
    return d ? "(decoded)" : d.error();
}

// Offsets in format 1 for sample_status(): format, node, four addresses of 13
// characters, controller leader, an empty reason; then the leader reports.
constexpr size_t kLeaderCountAt = 1 + 8 + 4 * (4 + 13) + 8 + 4;
constexpr size_t kFirstLeaderAt = kLeaderCountAt + 4;
constexpr size_t kFirstFollowerAt = kFirstLeaderAt + 8 + 8 + 8 + 8 + 4;
constexpr size_t kFollowerSize = 8 + 8 + 1 + 1;

TEST(NodeStatusTest, DefaultStatusRoundTrips) {
    auto d = decode_node_status(encode_node_status(NodeStatus{}));
    ASSERT_TRUE(d) << d.error();
    EXPECT_EQ(*d, NodeStatus{});
}

TEST(NodeStatusTest, SampleStatusRoundTrips) {
    auto d = decode_node_status(encode_node_status(sample_status()));
    ASSERT_TRUE(d) << d.error();
    EXPECT_EQ(*d, sample_status());
}

TEST(NodeStatusTest, RandomStatusesRoundTrip) {
    SeededRng rng(31);
    for (int i = 0; i < 1000; ++i) {
        NodeStatus s = random_status(rng);
        auto d = decode_node_status(encode_node_status(s));
        ASSERT_TRUE(d) << d.error();
        ASSERT_EQ(*d, s) << "status " << i;
    }
}

TEST(NodeStatusTest, EveryTruncationFails) {
    SeededRng rng(32);
    std::vector<NodeStatus> statuses = {NodeStatus{}, sample_status()};
    for (int i = 0; i < 20; ++i) statuses.push_back(random_status(rng));
    for (const NodeStatus& s : statuses) {
        std::string bytes = encode_node_status(s);
        for (size_t n = 0; n < bytes.size(); ++n) {
            EXPECT_FALSE(decode_node_status(std::string_view(bytes).substr(0, n))) << "prefix of " << n;
        }
    }
}

TEST(NodeStatusTest, TrailingByteFails) {
    EXPECT_EQ(decode_error(encode_node_status(sample_status()) + "x"), "1 unexpected bytes after the end");
}

TEST(NodeStatusTest, UnknownFormatVersionFails) {
    std::string bytes = encode_node_status(sample_status());
    bytes[0] = 0;
    EXPECT_EQ(decode_error(bytes), "unknown format version 0");
}

TEST(NodeStatusTest, ErrorsNameTheNestedField) {
    std::string bytes = encode_node_status(sample_status());
    EXPECT_EQ(decode_error(bytes.substr(0, 12)), "rpc addr: needs 4 bytes, 3 left");

    std::string bad_bool = bytes;
    bad_bool[kFirstFollowerAt + kFollowerSize + 17] = 7;  // the second follower's in_sync
    EXPECT_EQ(decode_error(bad_bool), "leader report 0: follower 1: in sync: byte 7 is not a boolean");

    EXPECT_EQ(decode_error(bytes.substr(0, bytes.size() - 1)),
              "leader report 1: follower count: needs 4 bytes, 3 left");
}

TEST(NodeStatusTest, HugeCountsFailWithoutAllocating) {
    std::string bytes = encode_node_status(sample_status());
    std::string leaders = bytes;
    be::store32(leaders.data() + kLeaderCountAt, 0xFFFFFFFF);
    EXPECT_EQ(decode_error(leaders), "leader report count: 4294967295 elements cannot fit in the " +
                                         std::to_string(bytes.size() - kFirstLeaderAt) + " bytes left");

    std::string followers = bytes;
    be::store32(followers.data() + kFirstFollowerAt - 4, 0x10000000);
    EXPECT_EQ(decode_error(followers),
              "leader report 0: follower count: 268435456 elements cannot fit in the " +
                  std::to_string(bytes.size() - kFirstFollowerAt) + " bytes left");
}

TEST(NodeStatusTest, RandomGarbageNeverCrashes) {
    SeededRng rng(33);
    for (int i = 0; i < 10'000; ++i) {
        std::string garbage(rng.range(0, 200), '\0');
        for (char& c : garbage) c = static_cast<char>(rng.chance(50) ? 0 : rng.next());
        // Most inputs get past the version check, to reach the later fields.
        if (rng.chance(80) && !garbage.empty()) garbage[0] = static_cast<char>(kNodeStatusFormat);
        auto d = decode_node_status(garbage);
        if (d) {
            EXPECT_EQ(encode_node_status(*d), garbage);
        }
    }
}

TEST(NodeStatusTest, CorruptedStatusesNeverCrash) {
    SeededRng rng(34);
    std::string valid = encode_node_status(sample_status());
    for (int i = 0; i < 10'000; ++i) {
        std::string mutated = valid;
        for (uint64_t k = rng.range(1, 4); k > 0; --k) {
            mutated[rng.range(0, mutated.size() - 1)] = static_cast<char>(rng.next());
        }
        // A corruption that still decodes must decode to what encodes to it.
        auto d = decode_node_status(mutated);
        if (d) {
            EXPECT_EQ(encode_node_status(*d), mutated);
        }
    }
}

}  // namespace
}  // namespace fjord::cluster::testing
