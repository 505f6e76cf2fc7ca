#include "kafka/api.h"

#include <gtest/gtest.h>

#include "kafka/wire.h"

namespace fjord::kafka {
namespace {

TEST(KafkaApi, AdvertisedRangesAreWhatTheClientsNeed) {
    // librdkafka's MsgVer2 feature needs Produce 3 and Fetch 4 inside the ranges.
    EXPECT_TRUE(supported(0, 3));
    EXPECT_TRUE(supported(0, 7));
    EXPECT_FALSE(supported(0, 2));  // legacy message sets: not advertised, not parsed
    EXPECT_TRUE(supported(1, 4));
    EXPECT_TRUE(supported(1, 11));
    EXPECT_FALSE(supported(1, 12));  // flexible
    EXPECT_TRUE(supported(18, 0));
    EXPECT_FALSE(supported(18, 3));  // flexible: answered with UNSUPPORTED_VERSION
    EXPECT_FALSE(supported(99, 0));
}

TEST(KafkaWire, ReaderFailsCleanlyOnTruncation) {
    std::string bytes;
    Writer w(bytes);
    w.i16(5);
    w.string("topic");
    w.array(1000);
    Reader r(bytes);
    EXPECT_EQ(r.i16("a"), 5);
    EXPECT_EQ(r.string("name"), "topic");
    EXPECT_EQ(r.array("partitions", 4), 0);
    EXPECT_FALSE(r.ok());
    EXPECT_NE(r.error().find("partitions"), std::string::npos);
    EXPECT_EQ(r.i64("after"), 0);
}

TEST(KafkaWire, NullsRoundTrip) {
    std::string bytes;
    Writer w(bytes);
    w.nullable_string(std::nullopt);
    w.null_bytes();
    w.null_array();
    Reader r(bytes);
    EXPECT_FALSE(r.nullable_string("s").has_value());
    EXPECT_FALSE(r.nullable_bytes("b").has_value());
    EXPECT_EQ(r.array("a", 1), -1);
    EXPECT_TRUE(r.ok());
    EXPECT_EQ(r.remaining(), 0u);
}

}  // namespace
}  // namespace fjord::kafka
