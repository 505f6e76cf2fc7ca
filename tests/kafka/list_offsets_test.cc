// ListOffsets v1-3 both ways.
#include <gtest/gtest.h>

#include "codec_checks.h"
#include "kafka/list_offsets_messages.h"

namespace fjord::kafka::testing {
namespace {

ListOffsetsRequest sample_request() {
    return {-1, 1, {{"t", {{0, -2}}}}};
}

ListOffsetsResponse sample_response() {
    return {9, {{"t", {{0, 0, -1, 7}}}}};
}

TEST(ListOffsetsTest, RequestBytesAreExact) {
    // replica_id -1, then (v2+) isolation_level 1, then one topic "t" with
    // partition 0 at timestamp -2.
    std::string v1;
    encode_list_offsets_request(v1, sample_request(), 1);
    EXPECT_EQ(v1, unhex("ffffffff 00000001 0001 74 00000001 00000000 fffffffffffffffe"));
    for (int16_t v = 2; v <= 3; ++v) {
        std::string out;
        encode_list_offsets_request(out, sample_request(), v);
        EXPECT_EQ(out, unhex("ffffffff 01 00000001 0001 74 00000001 00000000 fffffffffffffffe"));
    }
}

TEST(ListOffsetsTest, RequestRoundTripsAndDecodesStrictlyAtEveryVersion) {
    for (int16_t v = 1; v <= 3; ++v) {
        ListOffsetsRequest req = sample_request();
        req.topics.push_back({"u", {{1, -1}, {2, 1700000000000}}});
        std::string out;
        encode_list_offsets_request(out, req, v);
        auto decoded = decode_list_offsets_request(out, v);
        ASSERT_TRUE(decoded) << decoded.error();
        if (v < 2) req.isolation_level = 0;
        EXPECT_EQ(*decoded, req) << "v" << v;
        expect_strict_decoding(out, 0x1157 + static_cast<uint64_t>(v),
                               [v](std::string_view b) { return decode_list_offsets_request(b, v); });
    }
}

TEST(ListOffsetsTest, ResponseBytesAreExact) {
    // (v2+) throttle_time_ms 9, then one topic "t": partition 0, error 0,
    // timestamp -1, offset 7.
    const std::string topics =
        unhex("00000001 0001 74 00000001 00000000 0000 ffffffffffffffff 0000000000000007");
    std::string v1;
    encode_list_offsets_response(v1, sample_response(), 1);
    EXPECT_EQ(v1, topics);
    for (int16_t v = 2; v <= 3; ++v) {
        std::string out;
        encode_list_offsets_response(out, sample_response(), v);
        EXPECT_EQ(out, unhex("00000009") + topics);
    }
}

TEST(ListOffsetsTest, ResponseRoundTripsAndDecodesStrictlyAtEveryVersion) {
    for (int16_t v = 1; v <= 3; ++v) {
        std::string out;
        encode_list_offsets_response(out, sample_response(), v);
        auto decoded = decode_list_offsets_response(out, v);
        ASSERT_TRUE(decoded) << decoded.error();
        ListOffsetsResponse expected = sample_response();
        if (v < 2) expected.throttle_time_ms = 0;
        EXPECT_EQ(*decoded, expected) << "v" << v;
        expect_strict_decoding(out, 0x1158 + static_cast<uint64_t>(v),
                               [v](std::string_view b) { return decode_list_offsets_response(b, v); });
    }
    // A topic name longer than what is left names the field.
    auto r = decode_list_offsets_response(unhex("00000001 0009 74 00000000"), 1);
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().find("topics name"), std::string::npos) << r.error();
}

TEST(ListOffsetsTest, UnsupportedVersionsAreRefused) {
    EXPECT_EQ(decode_list_offsets_request("", 0).error(), "ListOffsets v0 is not supported");
    EXPECT_FALSE(decode_list_offsets_request("", 4));
    EXPECT_FALSE(decode_list_offsets_response("", 6));
}

}  // namespace
}  // namespace fjord::kafka::testing
