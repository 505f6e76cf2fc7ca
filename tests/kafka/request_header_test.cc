// The request header: classic (v1) for every supported API, and header v2 for
// the ApiVersions v3 request librdkafka opens each connection with.
#include "kafka/request_header.h"

#include <gtest/gtest.h>

#include "codec_checks.h"

namespace fjord::kafka::testing {
namespace {

Result<RequestHeader, std::string> decode(std::string_view bytes) {
    Reader r(bytes);
    return decode_request_header(r);
}

TEST(RequestHeaderTest, ClassicHeaderBytesAreExact) {
    std::string out;
    encode_request_header(out, {3, 0, 7, "ab"});
    EXPECT_EQ(out, unhex("0003 0000 00000007 0002 6162"));

    Reader r(out);
    auto h = decode_request_header(r);
    ASSERT_TRUE(h) << h.error();
    EXPECT_EQ(*h, (RequestHeader{3, 0, 7, "ab"}));
    EXPECT_EQ(r.remaining(), 0u);
}

TEST(RequestHeaderTest, NullClientIdRoundTrips) {
    std::string out;
    encode_request_header(out, {1, 11, -5, std::nullopt});
    EXPECT_EQ(out, unhex("0001 000b fffffffb ffff"));
    auto h = decode(out);
    ASSERT_TRUE(h) << h.error();
    EXPECT_EQ(*h, (RequestHeader{1, 11, -5, std::nullopt}));
}

TEST(RequestHeaderTest, LeavesTheReaderAtTheBody) {
    std::string out;
    encode_request_header(out, {0, 7, 42, "producer"});
    out += "body";
    Reader r(out);
    ASSERT_TRUE(decode_request_header(r));
    EXPECT_EQ(r.remaining(), 4u);
}

TEST(RequestHeaderTest, ApiVersionsV3HeaderSkipsTaggedFields) {
    // As librdkafka sends it: header v2, an empty tagged section, then the
    // flexible body (compact strings), which the header decoder must not touch.
    std::string out;
    encode_request_header(out, {18, 3, 1, "rdkafka"});
    EXPECT_EQ(out, unhex("0012 0003 00000001 0007 72646b61666b61 00"));
    std::string body = unhex("0b 6c69627264 6b61666b61 06 322e302e32 00");
    out += body;

    Reader r(out);
    auto h = decode_request_header(r);
    ASSERT_TRUE(h) << h.error();
    EXPECT_EQ(h->correlation_id, 1);
    EXPECT_EQ(h->client_id, "rdkafka");
    EXPECT_EQ(r.remaining(), body.size());
}

TEST(RequestHeaderTest, ApiVersionsV3HeaderWithTaggedFieldsIsSkippedWhole) {
    // Two tagged fields: tag 0 with 3 bytes, tag 300 (a two-byte varint)
    // with a 130-byte value (a two-byte size).
    std::string bytes = unhex("0012 0004 00000009 ffff 02 00 03 78797a ac02 8201");
    bytes += std::string(130, 'v');
    bytes += "BODY";
    Reader r(bytes);
    auto h = decode_request_header(r);
    ASSERT_TRUE(h) << h.error();
    EXPECT_EQ(h->api_version, 4);
    EXPECT_EQ(h->correlation_id, 9);
    EXPECT_FALSE(h->client_id.has_value());
    EXPECT_EQ(r.remaining(), 4u);
}

TEST(RequestHeaderTest, UnsupportedRequestsStopAfterTheCorrelationId) {
    // Produce v2 (advertised but not parsed), Fetch v12 (flexible) and an
    // unknown key: the client id is not read, as the layout is unknown.
    for (auto [key, version] : {std::pair<int16_t, int16_t>{0, 2}, {1, 12}, {99, 0}}) {
        std::string out;
        Writer w(out);
        w.i16(key);
        w.i16(version);
        w.i32(77);
        w.raw("rest");
        Reader r(out);
        auto h = decode_request_header(r);
        ASSERT_TRUE(h) << h.error();
        EXPECT_EQ(*h, (RequestHeader{key, version, 77, std::nullopt}));
        EXPECT_EQ(r.remaining(), 4u);
    }
}

TEST(RequestHeaderTest, OverlongVarintIsRefused) {
    // A tagged-field count whose value needs more than 32 bits.
    auto h = decode(unhex("0012 0003 00000001 ffff ffffffff7f"));
    ASSERT_FALSE(h);
    EXPECT_NE(h.error().find("tagged field count"), std::string::npos) << h.error();
    // Six bytes with continuation bits.
    EXPECT_FALSE(decode(unhex("0012 0003 00000001 ffff 808080808000")));
}

TEST(RequestHeaderTest, TruncationFailsAtEveryByte) {
    std::string classic;
    encode_request_header(classic, {3, 5, 1234, "kafka-python"});
    std::string v2 = unhex("0012 0003 00000001 0001 78 01 05 02 6869");
    for (const std::string& valid : {classic, v2}) {
        ASSERT_TRUE(decode(valid));
        expect_truncations_fail(valid, decode);
    }
    auto h = decode(classic.substr(0, 11));
    ASSERT_FALSE(h);
    EXPECT_NE(h.error().find("client_id"), std::string::npos) << h.error();
}

TEST(RequestHeaderTest, GarbageNeverCrashes) {
    std::string valid = unhex("0012 0003 00000001 0001 78 01 05 02 6869");
    expect_garbage_is_harmless(valid, 0x4EAD, decode);
}

}  // namespace
}  // namespace fjord::kafka::testing
