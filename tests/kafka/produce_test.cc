// Produce v3-7 both ways. The request body is one layout in all of them; the
// response grows log_start_offset at v5.
#include <gtest/gtest.h>

#include "codec_checks.h"
#include "kafka/produce_messages.h"

namespace fjord::kafka::testing {
namespace {

ProduceRequest sample_request() {
    ProduceRequest r;
    r.acks = -1;
    r.timeout_ms = 30000;
    r.topics = {{"t", {{0, std::string_view("REC")}}}};
    return r;
}

ProduceResponse sample_response() {
    return {{{"t", {{0, 0, 5, -1, 2}}}}, 7};
}

ProduceResponse expected_at(ProduceResponse r, int16_t version) {
    for (ProduceTopicResponse& t : r.responses) {
        for (ProducePartitionResponse& p : t.partitions) {
            if (version < 5) p.log_start_offset = -1;
        }
    }
    return r;
}

TEST(ProduceTest, RequestBytesAreExactAndTheSameInEveryVersion) {
    // transactional_id null, acks -1, timeout 30000, one topic "t" with
    // partition 0 and the 3 record bytes "REC".
    const std::string expected =
        unhex("ffff ffff 00007530 00000001 0001 74 00000001 00000000 00000003 524543");
    for (int16_t v = 3; v <= 7; ++v) {
        std::string out;
        encode_produce_request(out, sample_request(), v);
        EXPECT_EQ(out, expected) << "v" << v;
    }
}

TEST(ProduceTest, RequestRoundTripsWithoutCopyingRecords) {
    for (int16_t v = 3; v <= 7; ++v) {
        ProduceRequest req = sample_request();
        req.transactional_id = "txn";
        req.topics.push_back({"u", {{1, std::nullopt}, {2, std::string_view()}}});
        std::string out;
        encode_produce_request(out, req, v);
        auto decoded = decode_produce_request(out, v);
        ASSERT_TRUE(decoded) << decoded.error();
        EXPECT_EQ(*decoded, req);
        // The records view the request buffer itself.
        const std::string_view records = *decoded->topics[0].partitions[0].records;
        EXPECT_GE(records.data(), out.data());
        EXPECT_LE(records.data() + records.size(), out.data() + out.size());
    }
}

TEST(ProduceTest, RequestDecodingIsStrict) {
    for (int16_t v = 3; v <= 7; ++v) {
        std::string out;
        encode_produce_request(out, sample_request(), v);
        expect_strict_decoding(out, 0x960 + static_cast<uint64_t>(v),
                               [v](std::string_view b) { return decode_produce_request(b, v); });
    }
    // Records longer than what is left name the field.
    auto r = decode_produce_request(
        unhex("ffff ffff 00007530 00000001 0001 74 00000001 00000000 00000009 5245"), 7);
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().find("records"), std::string::npos) << r.error();
}

TEST(ProduceTest, ResponseSizesFollowTheSchema) {
    // responses 4 + ("t" 3 + count 4 + partition 4+2+8+8), throttle 4; v5
    // adds log_start_offset (8).
    std::string v3;
    encode_produce_response(v3, sample_response(), 3);
    EXPECT_EQ(v3, unhex("00000001 000174 00000001 00000000 0000 0000000000000005 ffffffffffffffff 00000007"));
    for (int16_t v = 3; v <= 7; ++v) {
        std::string out;
        encode_produce_response(out, sample_response(), v);
        EXPECT_EQ(out.size(), v < 5 ? 37u : 45u) << "v" << v;
    }
}

TEST(ProduceTest, ResponseRoundTripsAtEveryVersion) {
    for (int16_t v = 3; v <= 7; ++v) {
        std::string out;
        encode_produce_response(out, sample_response(), v);
        auto decoded = decode_produce_response(out, v);
        ASSERT_TRUE(decoded) << decoded.error();
        EXPECT_EQ(*decoded, expected_at(sample_response(), v)) << "v" << v;
    }
}

TEST(ProduceTest, ResponseDecodingIsStrict) {
    for (int16_t v = 3; v <= 7; ++v) {
        std::string out;
        encode_produce_response(out, sample_response(), v);
        expect_strict_decoding(out, 0x961 + static_cast<uint64_t>(v),
                               [v](std::string_view b) { return decode_produce_response(b, v); });
    }
}

TEST(ProduceTest, LegacyAndFlexibleVersionsAreRefused) {
    EXPECT_EQ(decode_produce_request("", 2).error(), "Produce v2 is not supported");
    EXPECT_FALSE(decode_produce_request("", 8));
    EXPECT_FALSE(decode_produce_response("", 0));
}

}  // namespace
}  // namespace fjord::kafka::testing
