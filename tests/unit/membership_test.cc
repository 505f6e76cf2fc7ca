// Membership: queries and the encoding carried by membership entries.
#include <gtest/gtest.h>

#include "raft_test_cluster.h"

namespace fjord::raft::test {
namespace {

Membership sample() {
    Membership m;
    m.voters = {nid(1), nid(2), nid(5)};
    m.learners = {nid(7), nid(9)};
    return m;
}

std::string encode_raw(const std::vector<uint64_t>& voters, const std::vector<uint64_t>& learners) {
    Membership m;
    for (uint64_t v : voters) m.voters.push_back(NodeId{v});
    for (uint64_t v : learners) m.learners.push_back(NodeId{v});
    return m.encode();  // encode() writes whatever it is given, sorted or not
}

TEST(MembershipTest, Queries) {
    Membership m = sample();
    EXPECT_TRUE(m.is_voter(nid(5)));
    EXPECT_FALSE(m.is_voter(nid(7)));
    EXPECT_TRUE(m.is_learner(nid(7)));
    EXPECT_TRUE(m.contains(nid(9)));
    EXPECT_FALSE(m.contains(nid(3)));
    std::vector<NodeId> all = m.all();
    EXPECT_EQ(all, (std::vector<NodeId>{nid(1), nid(2), nid(5), nid(7), nid(9)}));
}

TEST(MembershipTest, EncodeDecodeRoundTrip) {
    for (const Membership& m : {sample(), Membership{}, voters_of({3})}) {
        Membership out;
        out.voters = {nid(42)};  // must be overwritten
        ASSERT_TRUE(Membership::decode(m.encode(), out));
        EXPECT_EQ(out, m);
    }
}

TEST(MembershipTest, DecodeRejectsTruncatedAndTrailingBytes) {
    std::string bytes = sample().encode();
    for (size_t n = 0; n < bytes.size(); ++n) {
        Membership out = voters_of({42});
        EXPECT_FALSE(Membership::decode(std::string_view(bytes).substr(0, n), out)) << "prefix of " << n;
        EXPECT_EQ(out, voters_of({42})) << "a failed decode must leave the output alone";
    }
    Membership out;
    EXPECT_FALSE(Membership::decode(bytes + "x", out));
}

TEST(MembershipTest, DecodeRejectsInvalidIdLists) {
    Membership out;
    EXPECT_FALSE(Membership::decode(encode_raw({3, 1, 2}, {}), out)) << "unsorted voters";
    EXPECT_FALSE(Membership::decode(encode_raw({1, 2}, {9, 7}), out)) << "unsorted learners";
    EXPECT_FALSE(Membership::decode(encode_raw({1, 1, 2}, {}), out)) << "duplicate voter";
    EXPECT_FALSE(Membership::decode(encode_raw({0, 1}, {}), out)) << "node id 0";
    EXPECT_FALSE(Membership::decode(encode_raw({1, 2}, {2}), out)) << "learner also voter";
    // A count far larger than the bytes that follow.
    std::string huge(8, '\xff');
    EXPECT_FALSE(Membership::decode(huge, out));
    EXPECT_TRUE(Membership::decode(encode_raw({1, 2}, {3}), out));
}

}  // namespace
}  // namespace fjord::raft::test
